"""Ingest settings, from the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from antoan_shared.settings import HttpServiceSettings, RedisSettings


class IngestSettings(HttpServiceSettings, RedisSettings):
    host: str = Field(default="127.0.0.1", validation_alias="INGEST_HOST")
    port: int = Field(default=8001, validation_alias="INGEST_PORT")
    # Worker processes on the one port, each with its own producer and venue directory; 0: one per core.
    workers: int = Field(default=0, ge=0, le=64, validation_alias="INGEST_WORKERS")
    pepper: SecretStr = Field(validation_alias="ANTOAN_PEPPER")
    qr_secret: SecretStr = Field(validation_alias="ANTOAN_QR_SECRET")
    qr_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,16}$", validation_alias="ANTOAN_QR_KEY_ID")
    # Earlier QR signing keys still accepted, as "kid:secret,kid:secret" (key rotation).
    qr_previous_keys: SecretStr = Field(default=SecretStr(""), validation_alias="ANTOAN_QR_PREVIOUS_KEYS")
    rotating_qr_ttl_s: int = Field(default=180, ge=30, le=3600, validation_alias="ANTOAN_ROTATING_QR_TTL_S")
    # The one address people reach Antoan on (the gateway): venue QR codes open `<public url>/c/<token>`.
    public_url: str = Field(default="http://127.0.0.1:8000", max_length=200, validation_alias="ANTOAN_PUBLIC_URL")
    vault_key: SecretStr | None = Field(default=None, validation_alias="ANTOAN_VAULT_KEY")
    max_clock_skew_s: int = Field(default=300, ge=0, validation_alias="ANTOAN_MAX_CLOCK_SKEW_S")
    idempotency_ttl_s: int = Field(default=48 * 3600, ge=24 * 3600, validation_alias="ANTOAN_IDEMPOTENCY_TTL_S")
    # A claim outlives the producer's delivery timeout (30 s); after a crash, the retry publishes after it.
    idempotency_pending_ttl_s: int = Field(default=60, ge=1, validation_alias="INGEST_IDEMPOTENCY_PENDING_TTL_S")
    redis_prefix: str = Field(default="antoan:ingest:", validation_alias="INGEST_REDIS_PREFIX")
    batch_max_items: int = Field(default=1000, ge=1, le=10_000, validation_alias="ANTOAN_BATCH_MAX_ITEMS")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, validation_alias="INGEST_MAX_BODY_BYTES")
    max_batch_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, validation_alias="INGEST_MAX_BATCH_BODY_BYTES")
    rate_limit_per_s: float = Field(default=200.0, ge=0, validation_alias="INGEST_RATE_LIMIT_PER_S")
    rate_limit_burst: float = Field(default=400.0, ge=1, validation_alias="INGEST_RATE_LIMIT_BURST")
    # Venue registrations one address may make (no account is needed): a burst, then this many an hour.
    venue_registration_burst: float = Field(default=20, ge=1, validation_alias="INGEST_VENUE_REGISTRATION_BURST")
    venue_registrations_per_hour: float = Field(
        default=20, ge=0, validation_alias="INGEST_VENUE_REGISTRATIONS_PER_HOUR"
    )

    @field_validator("public_url")
    @classmethod
    def _an_origin(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("ANTOAN_PUBLIC_URL must be an http(s) address such as https://antoan.example.vn")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secrets_are_real(self) -> IngestSettings:
        self._check_secret("ANTOAN_PEPPER", self.pepper)
        self._check_secret("ANTOAN_QR_SECRET", self.qr_secret)
        return self

    @property
    def qr_keys(self) -> dict[str, bytes]:
        keys = {}
        for entry in self.qr_previous_keys.get_secret_value().split(","):
            key_id, _, secret = entry.strip().partition(":")
            if key_id and secret:
                keys[key_id] = secret.encode()
        keys[self.qr_key_id] = self.qr_secret.get_secret_value().encode()
        return keys

    @property
    def idempotency_record_ttl_s(self) -> int:
        """Idempotency records outlive neither their TTL nor the retention period (SPEC §3.7)."""
        return max(1, min(self.idempotency_ttl_s, int(self.retention.total_seconds())))

    @property
    def max_clock_skew(self) -> timedelta:
        return timedelta(seconds=self.max_clock_skew_s)


@lru_cache
def get_settings() -> IngestSettings:
    return IngestSettings()  # required fields come from the environment
