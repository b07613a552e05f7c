"""Safety-map settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field

from antoan_safety_map.domain.levels import Level, RiskPolicy
from antoan_shared.settings import HttpServiceSettings, RedisSettings


class SafetyMapSettings(HttpServiceSettings, RedisSettings):
    host: str = Field(default="127.0.0.1", validation_alias="SAFETY_MAP_HOST")
    port: int = Field(default=8003, validation_alias="SAFETY_MAP_PORT")
    rate_limit_per_s: float = Field(default=200.0, ge=0, validation_alias="SAFETY_MAP_RATE_LIMIT_PER_S")
    rate_limit_burst: float = Field(default=400.0, ge=1, validation_alias="SAFETY_MAP_RATE_LIMIT_BURST")
    redis_prefix: str = Field(default="antoan:map:", validation_alias="SAFETY_MAP_REDIS_PREFIX")
    # Map tiles are optional: the map works with no tile server (venues over a plain background).
    tile_url: str = Field(default="", validation_alias="SAFETY_MAP_TILE_URL")
    tile_attribution: str = Field(default="", validation_alias="SAFETY_MAP_TILE_ATTRIBUTION")
    # One instance of a deployment runs the risk engine; others only serve HTTP from the shared Redis.
    engine: bool = Field(default=True, validation_alias="SAFETY_MAP_ENGINE")
    tick_s: float = Field(default=1.0, gt=0, validation_alias="SAFETY_MAP_TICK_S")
    # Live streams one process serves (they share one Redis subscription); beyond it a stream is a 503.
    max_streams: int = Field(default=10_000, ge=1, validation_alias="SAFETY_MAP_MAX_STREAMS")
    # SPEC §3.6 thresholds (the defaults are the national scheme's).
    case_very_high_hours: float = Field(default=72, gt=0, validation_alias="SAFETY_MAP_CASE_VERY_HIGH_HOURS")
    case_high_days: float = Field(default=14, gt=0, validation_alias="SAFETY_MAP_CASE_HIGH_DAYS")
    near_capacity_ratio: float = Field(default=0.8, gt=0, le=1, validation_alias="SAFETY_MAP_NEAR_CAPACITY_RATIO")
    min_self_assessment_score: int = Field(default=50, ge=0, le=100, validation_alias="SAFETY_MAP_MIN_SELF_ASSESSMENT")
    area_level_raising_venues: int = Field(default=3, ge=1, le=4, validation_alias="SAFETY_MAP_AREA_LEVEL_FOR_VENUES")
    area_window_days: float = Field(default=7, gt=0, validation_alias="SAFETY_MAP_AREA_WINDOW_DAYS")
    area_thresholds_per_100k: tuple[float, float, float] = Field(
        default=(20.0, 50.0, 150.0), validation_alias="SAFETY_MAP_AREA_THRESHOLDS"
    )
    vaccination_step_down_coverage: float | None = Field(
        default=None, ge=0, le=1, validation_alias="SAFETY_MAP_VACCINATION_STEP_DOWN"
    )

    def risk_policy(self) -> RiskPolicy:
        return RiskPolicy(
            case_very_high_for=timedelta(hours=self.case_very_high_hours),
            case_high_for=timedelta(days=self.case_high_days),
            near_capacity_ratio=self.near_capacity_ratio,
            min_self_assessment_score=self.min_self_assessment_score,
            area_level_raising_venues=Level(self.area_level_raising_venues),
            area_window=timedelta(days=self.area_window_days),
            area_thresholds_per_100k=self.area_thresholds_per_100k,
            vaccination_step_down_coverage=self.vaccination_step_down_coverage,
        )


@lru_cache
def get_settings() -> SafetyMapSettings:
    return SafetyMapSettings()  # required fields come from the environment
