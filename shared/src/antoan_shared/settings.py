"""Settings bases: every service has one pydantic-settings class built from these pieces.

Values come from the environment. Required secrets have no default; outside local and test use a
placeholder or short secret is refused, so a production deployment cannot start on a demo value.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from antoan_shared.topics import DEFAULT_RETENTION_DAYS, TopicSpec

PLACEHOLDERS = frozenset({"", "change-me", "changeme", "secret", "password", "placeholder", "dev", "test"})
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """What every service reads: environment, Kafka, topic namespace, logging, retention."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    environment: Environment = Field(default=Environment.LOCAL, validation_alias="ANTOAN_ENV")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP")
    topic_namespace: str = Field(default="", validation_alias="ANTOAN_TOPIC_NAMESPACE")
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=1, validation_alias="ANTOAN_RETENTION_DAYS")

    def topic(self, spec: TopicSpec) -> str:
        return spec.address(self.topic_namespace)

    def group_id(self, service: str, purpose: str = "main") -> str:
        prefix = f"{self.topic_namespace}." if self.topic_namespace else ""
        return f"{prefix}antoan.{service}.{purpose}"

    def _check_secret(self, name: str, value: SecretStr) -> None:
        if self.environment is Environment.PRODUCTION:
            raw = value.get_secret_value()
            if raw.lower() in PLACEHOLDERS or len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name} is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                    "set a real secret in production"
                )


class RedisSettings(BaseSettings):
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")


class HealthAuthorityTokenSettings(ServiceSettings):
    ha_token: SecretStr = Field(validation_alias="ANTOAN_HA_TOKEN")

    @model_validator(mode="after")
    def _ha_token_is_real(self) -> HealthAuthorityTokenSettings:
        self._check_secret("ANTOAN_HA_TOKEN", self.ha_token)
        return self
