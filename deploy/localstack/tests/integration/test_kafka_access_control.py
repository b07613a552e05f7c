"""SPEC §7 on a broker of its own with SASL/SCRAM and ACLs: each service writes only its own topics, an
agency reads the public topics and is refused the restricted ones, and the services work end to end."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    NoError,
    TopicAuthorizationFailedError,
    for_code,
)

from antoan_localstack import access, stack
from antoan_localstack.testing import Servers, new_namespace, private_stack, start_running_services, wait_for
from antoan_shared import codec, topics
from antoan_shared.events import VenueRiskChanged, utc_now
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


class Broker:
    def __init__(self, cfg: stack.StackConfig, passwords: dict[str, str], namespace: str) -> None:
        self.cfg = cfg
        self.passwords = passwords
        self.namespace = namespace

    def login(self, user: str) -> dict[str, Any]:
        return access.sasl_client_config(self.cfg.kafka_bootstrap, user, access.users(self.passwords)[user])

    def settings(self, user: str) -> ServiceSettings:
        return ServiceSettings(
            kafka_bootstrap=self.cfg.kafka_bootstrap,
            topic_namespace=self.namespace,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username=user,
            kafka_sasl_password=access.users(self.passwords)[user],
        )

    def topic(self, spec: topics.TopicSpec) -> str:
        return spec.address(self.namespace)


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    passwords = {variable: secrets.token_urlsafe(24) for variable in access.PASSWORD_VARIABLES}
    with private_stack(passwords, kafka_sasl=True) as cfg:
        namespace = new_namespace()
        stack.apply_kafka_acls(cfg, passwords, namespace)
        ensure_topics(ServiceSettings(**_admin(cfg, passwords), topic_namespace=namespace), topics.ALL_TOPICS)
        yield Broker(cfg, passwords, namespace)


def _admin(cfg: stack.StackConfig, passwords: dict[str, str]) -> dict[str, Any]:
    return {
        "kafka_bootstrap": cfg.kafka_bootstrap,
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": access.ADMIN,
        "kafka_sasl_password": passwords[access.password_variable(access.ADMIN)],
    }


def _produce(broker: Broker, user: str, spec: topics.TopicSpec, value: bytes) -> None:
    producer = KafkaProducer(**broker.login(user), acks="all", max_block_ms=10_000)
    try:
        producer.send(broker.topic(spec), key=b"v1", value=value).get(timeout=15)
    finally:
        producer.close(timeout=5)


def _read_all(broker: Broker, user: str, spec: topics.TopicSpec, group: str | None) -> list[bytes]:
    consumer = KafkaConsumer(**broker.login(user), group_id=group, auto_offset_reset="earliest")
    try:
        topic = broker.topic(spec)
        if group is None:
            partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.subscribe([topic])
        seen: list[bytes] = []
        wait_for(
            lambda: seen.extend(r.value for rs in consumer.poll(timeout_ms=500).values() for r in rs) or seen,
            what=f"records on {topic} for {user}",
        )
        return seen
    finally:
        consumer.close()


def _agency_group(broker: Broker) -> str:
    return f"{access.agency_group_prefix(broker.namespace)}{uuid.uuid4().hex[:6]}"


def _risk_event() -> bytes:
    return codec.encode_event(
        VenueRiskChanged(producer="safety-map", venue_id="v1", level=1, color="green", as_of=utc_now())
    )


def test_the_safety_map_publishes_risk_and_an_agency_reads_it_in_an_agency_group(broker: Broker) -> None:
    # Given the safety map's principal publishing a risk level with the platform's publisher
    publisher = EventPublisher(broker.settings("safety-map"), "safety-map")
    try:
        publisher.publish_sync(topics.VENUE_RISK, codec.decode_event(_risk_event()))
    finally:
        publisher.close()
    # When an agency subscribes to the public topic in a group of its own prefix
    seen = _read_all(broker, access.AGENCY, topics.VENUE_RISK, _agency_group(broker))
    # Then it reads the level
    assert any(codec.decode_event(value).type == "venue_risk.changed" for value in seen)


def test_an_agency_is_refused_the_restricted_check_ins(broker: Broker) -> None:
    # Given check-ins written by ingest, the topic's writer
    _produce(broker, "ingest", topics.CHECKINS, b"{}")
    # When the agency asks for checkins.v1, Then the broker refuses: topic authorization failed
    assert _topic_error(broker, access.AGENCY, topics.CHECKINS) is TopicAuthorizationFailedError
    assert _topic_error(broker, access.AGENCY, topics.EXPOSURES) is TopicAuthorizationFailedError
    # while a public topic is open to it
    assert _topic_error(broker, access.AGENCY, topics.OCCUPANCY) is NoError
    # And a consumer of the agency's gets no record of it
    consumer = KafkaConsumer(**broker.login(access.AGENCY), group_id=_agency_group(broker))
    try:
        consumer.subscribe([broker.topic(topics.CHECKINS)])
        assert not any(consumer.poll(timeout_ms=1000) for _ in range(3))
        assert not consumer.assignment()
    finally:
        consumer.close()


def _topic_error(broker: Broker, user: str, spec: topics.TopicSpec) -> type[KafkaError]:
    """The broker's answer to `user` asking for a topic's metadata (what reading it starts with)."""
    admin = KafkaAdminClient(**broker.login(user))
    try:
        (described,) = admin.describe_topics([broker.topic(spec)])
    finally:
        admin.close()
    return for_code(described["error_code"])


def test_an_agency_is_refused_a_consumer_group_outside_its_prefix(broker: Broker) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        _read_all(broker, access.AGENCY, topics.VENUE_RISK, group=f"{broker.namespace}.antoan.tracer.main")


def test_ingest_writes_check_ins_and_is_refused_writing_risk_levels(broker: Broker) -> None:
    # Given ingest's principal, When it writes its own topic, Then the broker acknowledges
    _produce(broker, "ingest", topics.CHECKINS, b"{}")
    # When it writes the safety map's topic, Then the broker refuses
    with pytest.raises(TopicAuthorizationFailedError):
        _produce(broker, "ingest", topics.VENUE_RISK, _risk_event())
    # And an agency cannot write a public topic either (refused before any topic: it may write nothing)
    with pytest.raises(KafkaError, match="AuthorizationFailed"):
        _produce(broker, access.AGENCY, topics.VENUE_RISK, _risk_event())


def test_a_wrong_password_is_refused(broker: Broker) -> None:
    login = {**broker.login(access.AGENCY), "sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaError):
        KafkaConsumer(**login, request_timeout_ms=5000, api_version_auto_timeout_ms=5000).topics()


def test_the_three_services_work_end_to_end_with_their_own_principals(broker: Broker, tmp_path: Path) -> None:
    # Given the services started with SASL, each logged in as itself
    servers = Servers(broker.cfg.kafka_bootstrap, broker.cfg.redis_url, "local stack")
    with start_running_services(servers, tmp_path, broker.passwords, infra=broker.cfg) as services:
        # When a venue registers and someone checks in
        venue = httpx.post(
            f"{services.ingest}/v1/venues", json={"name": "Nhà thuốc", "category": "shop", "capacity": 10}, timeout=30
        )
        assert venue.status_code == 201, venue.text
        body = {
            "venue_qr": venue.json()["qr"],
            "person_id": "0912345678",
            "direction": "in",
            "scanned_at": utc_now().isoformat(),
            "app": "pc-covid",
        }
        assert httpx.post(f"{services.ingest}/v1/checkins", json=body, timeout=30).status_code == 202
        # Then the tracer (Faust, SCRAM) counts it and the safety map shows occupancy 1
        url = f"{services.safety_map}/v1/venues/{venue.json()['venue_id']}/occupancy"

        def occupancy() -> int | None:
            response = httpx.get(url, timeout=5)
            return response.json()["current"] if response.status_code == 200 else None

        wait_for(lambda: occupancy() == 1, timeout=90, what="occupancy 1 through SASL")
