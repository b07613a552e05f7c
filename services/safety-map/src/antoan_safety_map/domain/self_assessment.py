"""The venue safety self-assessment (antoancovid.vn style): a weighted checklist scored 0–100."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Language = Literal["vi", "en"]
CHECKLIST_VERSION = 1


@dataclass(frozen=True)
class Criterion:
    id: str
    weight: int
    vi: str
    en: str

    def text(self, language: Language) -> str:
        return self.vi if language == "vi" else self.en


CHECKLIST: tuple[Criterion, ...] = (
    Criterion(
        "masks",
        15,
        "Nhân viên và khách đeo khẩu trang đúng cách",
        "Staff and visitors wear face masks properly",
    ),
    Criterion(
        "distancing",
        15,
        "Giữ khoảng cách tối thiểu 2 mét giữa người với người",
        "People keep at least 2 metres apart",
    ),
    Criterion(
        "hand_hygiene",
        15,
        "Có nước sát khuẩn hoặc nơi rửa tay tại lối vào",
        "Hand sanitiser or a hand-washing station at the entrance",
    ),
    Criterion(
        "qr_checkin",
        15,
        "Niêm yết mã QR và yêu cầu quét mã khi vào, ra",
        "The venue QR code is on display and scanned on entry and exit",
    ),
    Criterion(
        "ventilation",
        10,
        "Thông gió tự nhiên, hạn chế dùng điều hòa trong phòng kín",
        "Natural ventilation; little air conditioning in closed rooms",
    ),
    Criterion(
        "staff_declarations",
        10,
        "Nhân viên khai báo y tế hằng ngày",
        "Staff make a health declaration every day",
    ),
    Criterion(
        "cleaning",
        10,
        "Vệ sinh, khử khuẩn bề mặt tiếp xúc thường xuyên",
        "Surfaces people touch are cleaned and disinfected regularly",
    ),
    Criterion(
        "capacity_limit",
        5,
        "Giới hạn số người có mặt cùng lúc",
        "The number of people present at once is limited",
    ),
    Criterion(
        "isolation_plan",
        5,
        "Có phương án và khu vực cách ly tạm thời người nghi nhiễm",
        "A plan and a space to isolate a suspected case",
    ),
)
CRITERIA = {criterion.id: criterion for criterion in CHECKLIST}
TOTAL_WEIGHT = sum(criterion.weight for criterion in CHECKLIST)


class UnknownCriterionError(ValueError):
    def __init__(self, unknown: list[str]) -> None:
        super().__init__(f"not on the checklist: {', '.join(unknown)}")
        self.unknown = unknown


def score(answers: Mapping[str, bool]) -> int:
    """0–100: the weight of the criteria met over the whole checklist's. Unanswered counts as not met."""
    unknown = sorted(set(answers) - set(CRITERIA))
    if unknown:
        raise UnknownCriterionError(unknown)
    met = sum(CRITERIA[key].weight for key, yes in answers.items() if yes)
    return round(100 * met / TOTAL_WEIGHT)
