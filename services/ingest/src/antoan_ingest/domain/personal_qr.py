"""Personal QR codes in the Decision 1405/QĐ-BTTTT layout (SPEC §3.1).

`SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`: the document number is the person's identifier.
"""

from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("SoGiayTo", "HoTen", "NgaySinh", "LoaiDinhDanh", "QID", "EXT")


class InvalidPersonalQrError(ValueError):
    code = "invalid_person_qr"


@dataclass(frozen=True)
class PersonalQr:
    document_number: str
    full_name: str
    birth_date: str
    id_type: str
    qid: str
    ext: str


def parse_personal_qr(payload: str) -> PersonalQr:
    parts = [part.strip() for part in payload.strip().split("|")]
    if len(parts) != len(FIELDS):
        raise InvalidPersonalQrError(
            f"a personal QR code has {len(FIELDS)} fields separated by '|': {'|'.join(FIELDS)}"
        )
    if not parts[0]:
        raise InvalidPersonalQrError("the personal QR code has no document number (SoGiayTo)")
    return PersonalQr(*parts)
