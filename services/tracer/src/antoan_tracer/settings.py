"""Tracer settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from antoan_shared.settings import HealthAuthorityTokenSettings


class TracerSettings(HealthAuthorityTokenSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_HOST")
    port: int = Field(default=8002, validation_alias="TRACER_PORT")
    data_dir: Path = Field(default=Path(".run/tracer-data"), validation_alias="TRACER_DATA_DIR")
    store: str = Field(default="rocksdb://", validation_alias="TRACER_STORE")
    replication_factor: int = Field(default=1, ge=1, validation_alias="TRACER_REPLICATION_FACTOR")
    dwell_minutes: int = Field(default=60, ge=1, validation_alias="ANTOAN_DWELL_MINUTES")
    auto_checkout_interval_s: float = Field(default=15.0, gt=0, validation_alias="TRACER_AUTO_CHECKOUT_INTERVAL_S")

    @property
    def dwell(self) -> timedelta:
        return timedelta(minutes=self.dwell_minutes)

    @property
    def faust_broker(self) -> str:
        return "kafka://" + ";".join(self.kafka_bootstrap.split(","))


@lru_cache
def get_settings() -> TracerSettings:
    return TracerSettings()  # required fields come from the environment
