"""Tracer settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from antoan_shared.events import VenueCategory
from antoan_shared.settings import HealthAuthorityTokenSettings


class TracerSettings(HealthAuthorityTokenSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_HOST")
    port: int = Field(default=8002, validation_alias="TRACER_PORT")
    data_dir: Path = Field(default=Path(".run/tracer-data"), validation_alias="TRACER_DATA_DIR")
    store: str = Field(default="rocksdb://", validation_alias="TRACER_STORE")
    replication_factor: int = Field(default=1, ge=1, validation_alias="TRACER_REPLICATION_FACTOR")
    ingest_url: str = Field(default="http://127.0.0.1:8001", validation_alias="INGEST_URL")
    # SPEC §3.3: 60 minutes for every category unless configured, e.g. "hotel=720,hospital=120".
    dwell_minutes: int = Field(default=60, ge=1, validation_alias="ANTOAN_DWELL_MINUTES")
    dwell_by_category: str = Field(default="", validation_alias="ANTOAN_DWELL_BY_CATEGORY")
    exposure_buffer_minutes: int = Field(default=60, ge=0, validation_alias="ANTOAN_EXPOSURE_BUFFER_MINUTES")
    max_degree: int = Field(default=2, ge=1, le=5, validation_alias="ANTOAN_MAX_DEGREE")
    # A worker that stops heartbeating (killed, cut off) loses its partitions after this long; until then
    # they stand still. Faust's default is 60 s; heartbeats come from the consumer's own thread every 3 s.
    session_timeout_s: float = Field(default=20.0, ge=6, le=90, validation_alias="TRACER_SESSION_TIMEOUT_S")
    auto_checkout_interval_s: float = Field(default=15.0, gt=0, validation_alias="TRACER_AUTO_CHECKOUT_INTERVAL_S")
    # How often the tables are searched for entries past the retention period (SPEC §3.7).
    retention_sweep_interval_s: float = Field(
        default=3600.0, gt=0, validation_alias="TRACER_RETENTION_SWEEP_INTERVAL_S"
    )
    fever_celsius: float = Field(default=37.5, validation_alias="ANTOAN_FEVER_CELSIUS")
    quarantine_days: int = Field(default=14, ge=1, validation_alias="ANTOAN_QUARANTINE_DAYS")
    quarantine_update_interval_s: int = Field(
        default=24 * 3600, ge=1, validation_alias="ANTOAN_QUARANTINE_UPDATE_INTERVAL_S"
    )
    quarantine_check_interval_s: float = Field(
        default=60.0, gt=0, validation_alias="TRACER_QUARANTINE_CHECK_INTERVAL_S"
    )

    @property
    def dwell(self) -> timedelta:
        return timedelta(minutes=self.dwell_minutes)

    def dwell_for(self, category: VenueCategory | None) -> timedelta:
        overrides = self.dwell_overrides
        return overrides.get(category, self.dwell) if category is not None else self.dwell

    @property
    def dwell_overrides(self) -> dict[VenueCategory, timedelta]:
        overrides = {}
        for entry in self.dwell_by_category.split(","):
            name, _, minutes = entry.strip().partition("=")
            if name:
                overrides[VenueCategory(name)] = timedelta(minutes=int(minutes))
        return overrides

    @property
    def longest_visit(self) -> timedelta:
        """No visit lasts longer: an `out` closes visits up to 12 h, anything else lasts a dwell time."""
        return max([timedelta(hours=12), self.dwell, *self.dwell_overrides.values()])

    @property
    def exposure_buffer(self) -> timedelta:
        return timedelta(minutes=self.exposure_buffer_minutes)

    @property
    def faust_broker(self) -> str:
        return "kafka://" + ";".join(self.kafka_bootstrap.split(","))


@lru_cache
def get_settings() -> TracerSettings:
    return TracerSettings()  # required fields come from the environment
