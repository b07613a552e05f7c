"""Settings bases: every service has one pydantic-settings class built from these pieces.

Values come from the environment. Required secrets have no default; outside local and test use a
placeholder or short secret is refused, so a production deployment cannot start on a demo value.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from antoan_shared.topics import DEFAULT_RETENTION_DAYS, TopicSpec

PLACEHOLDERS = frozenset({"", "change-me", "changeme", "secret", "password", "placeholder", "dev", "test"})
MIN_SECRET_LENGTH = 32


SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


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
    # A finer retention period for tests (and drills): when set, it overrides the days.
    retention_seconds: int | None = Field(default=None, ge=1, validation_alias="ANTOAN_RETENTION_SECONDS")
    # Kafka security (SPEC §7): PLAINTEXT by default; SASL_PLAINTEXT with SCRAM where ACLs apply.
    kafka_security_protocol: SecurityProtocol = Field(default="PLAINTEXT", validation_alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: SaslMechanism = Field(default="SCRAM-SHA-512", validation_alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(default=None, validation_alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(default=None, validation_alias="KAFKA_SASL_PASSWORD")

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> ServiceSettings:
        if self.uses_sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} "
                "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def retention(self) -> timedelta:
        """How long check-ins, visits, declarations and exposures are kept (SPEC §3.7)."""
        if self.retention_seconds is not None:
            return timedelta(seconds=self.retention_seconds)
        return timedelta(days=self.retention_days)

    @property
    def uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    def sasl_login(self) -> tuple[str, str] | None:
        """(username, password) when the broker is reached with SASL, else None."""
        if not self.uses_sasl or self.kafka_sasl_username is None or self.kafka_sasl_password is None:
            return None
        return self.kafka_sasl_username, self.kafka_sasl_password.get_secret_value()

    def kafka_client_config(self) -> dict[str, Any]:
        """Connection settings for kafka-python clients: the local stack's tools and the tests (the services' own
        clients are confluent-kafka's: `librdkafka_config`)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        login = self.sasl_login()
        if login is not None:
            config.update(
                sasl_mechanism=self.kafka_sasl_mechanism, sasl_plain_username=login[0], sasl_plain_password=login[1]
            )
        return config

    def librdkafka_config(self) -> dict[str, str]:
        """The same connection settings for confluent-kafka (librdkafka) clients: every client of the services."""
        config = {"bootstrap.servers": self.kafka_bootstrap, "security.protocol": self.kafka_security_protocol}
        login = self.sasl_login()
        if login is not None:
            config.update(
                {"sasl.mechanism": self.kafka_sasl_mechanism, "sasl.username": login[0], "sasl.password": login[1]}
            )
        return config

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


class HttpServiceSettings(HealthAuthorityTokenSettings):
    """What the three HTTP services read besides their own: the token, and who is trusted about addresses.

    `host`, `port` and the rate limit are each service's own (`INGEST_PORT`, `TRACER_RATE_LIMIT_PER_S`, ...):
    every service declares them again with its variables.
    """

    host: str
    port: int
    # Requests a second per client (an accepted credential, else the address); 0 turns the limit off.
    rate_limit_per_s: float
    rate_limit_burst: float

    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated; "*" for any):
    # none by default, so a client cannot pick the address its rate limit is counted on.
    trusted_proxies: str = Field(default="", validation_alias="ANTOAN_TRUSTED_PROXIES")
    # Refused credentials (401/403) an address may present: a burst, then this many a minute; 0 turns it off.
    auth_failure_burst: float = Field(default=20, ge=0, validation_alias="ANTOAN_AUTH_FAILURE_BURST")
    auth_failures_per_min: float = Field(default=10, ge=0, validation_alias="ANTOAN_AUTH_FAILURES_PER_MIN")
    # A log line per request from the service itself. Off by default: the gateway in front logs every request
    # already (deploy/gateway), and at a scan's cost (about 0.1 ms of 1.3 on the single-scan path) it is not free.
    access_log: bool = Field(default=False, validation_alias="ANTOAN_ACCESS_LOG")
