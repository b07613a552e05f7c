"""Ingest settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field, SecretStr, model_validator

from antoan_shared.settings import HealthAuthorityTokenSettings


class IngestSettings(HealthAuthorityTokenSettings):
    host: str = Field(default="127.0.0.1", validation_alias="INGEST_HOST")
    port: int = Field(default=8001, validation_alias="INGEST_PORT")
    pepper: SecretStr = Field(validation_alias="ANTOAN_PEPPER")
    qr_secret: SecretStr = Field(validation_alias="ANTOAN_QR_SECRET")
    qr_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,16}$", validation_alias="ANTOAN_QR_KEY_ID")
    max_clock_skew_s: int = Field(default=300, ge=0, validation_alias="ANTOAN_MAX_CLOCK_SKEW_S")

    @model_validator(mode="after")
    def _secrets_are_real(self) -> IngestSettings:
        self._check_secret("ANTOAN_PEPPER", self.pepper)
        self._check_secret("ANTOAN_QR_SECRET", self.qr_secret)
        return self

    @property
    def qr_keys(self) -> dict[str, bytes]:
        return {self.qr_key_id: self.qr_secret.get_secret_value().encode()}

    @property
    def max_clock_skew(self) -> timedelta:
        return timedelta(seconds=self.max_clock_skew_s)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)


@lru_cache
def get_settings() -> IngestSettings:
    return IngestSettings()  # required fields come from the environment
