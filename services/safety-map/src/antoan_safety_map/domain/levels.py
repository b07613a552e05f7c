"""The four risk levels of Vietnam's 2021 scheme, their colours and the thresholds that set them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any, Literal

Color = Literal["green", "yellow", "orange", "red"]


class Level(IntEnum):
    LOW = 1  # green: low risk, "new normal"
    MEDIUM = 2  # yellow
    HIGH = 3  # orange
    VERY_HIGH = 4  # red

    @property
    def color(self) -> Color:
        return _COLORS[self]


_COLORS: dict[Level, Color] = {
    Level.LOW: "green",
    Level.MEDIUM: "yellow",
    Level.HIGH: "orange",
    Level.VERY_HIGH: "red",
}


@dataclass(frozen=True)
class Finding:
    """One machine-readable reason and the level it calls for on its own."""

    code: str
    level: Level
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RiskPolicy:
    """Every threshold of SPEC §3.6, with the defaults it names."""

    case_very_high_for: timedelta = timedelta(hours=72)
    case_high_for: timedelta = timedelta(days=14)
    near_capacity_ratio: float = 0.8
    min_self_assessment_score: int = 50
    # A venue in a ward or district at this level or above is at least MEDIUM.
    area_level_raising_venues: Level = Level.HIGH
    area_window: timedelta = timedelta(days=7)
    # New cases per 100,000 people in the window at which an area reaches MEDIUM, HIGH and VERY_HIGH.
    area_thresholds_per_100k: tuple[float, float, float] = (20.0, 50.0, 150.0)
    # When set, an area whose vaccination coverage is at least this share is one level lower (not below LOW).
    vaccination_step_down_coverage: float | None = None

    def __post_init__(self) -> None:
        low, mid, high = self.area_thresholds_per_100k
        if not 0 < low < mid < high:
            raise ValueError("area thresholds must be increasing and positive")
        if not 0 < self.near_capacity_ratio <= 1:
            raise ValueError("near_capacity_ratio must be in (0, 1]")
