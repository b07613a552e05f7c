"""No stream step can crash on a value: a poison record goes to the dead letters and the stream goes on.

Issue 12's finding: a case with `tested_at` 0001-01-01 (accepted by the API of the time) crashed the tracer's
step with an OverflowError, and the record was lost without a dead letter; under Quix Streams a crash on a
record would replay it after every restart. Here such records are written straight onto the inputs, as a
buggy or hostile writer with broker access could, between ordinary ones.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics
from antoan_shared.events import CaseConfirmed, CheckInRecorded, DeadLettered, Direction
from antoan_shared.kafka import EventPublisher
from antoan_tracer.pipeline.app import inbox_message

pytestmark = [pytest.mark.integration, pytest.mark.shared_services]

FAR_PAST = datetime(1, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)


def _case(person_key: str, tested_at: datetime, case_id: str) -> CaseConfirmed:
    return CaseConfirmed(
        producer="ingest", case_id=case_id, person_key=person_key, tested_at=tested_at, confirmed_at=datetime.now(UTC)
    )


def _scan(person_key: str, venue_id: str, at: datetime) -> CheckInRecorded:
    return CheckInRecorded(
        producer="ingest", venue_id=venue_id, person_key=person_key, direction=Direction.IN, scanned_at=at, app="staff"
    )


@pytest.mark.parametrize(
    "event",
    [
        _case("a" * 64, FAR_PAST, "BN-past"),
        _case("a" * 64, FAR_FUTURE, "BN-future"),
        _scan("a" * 64, "v1", FAR_PAST),
        _scan("a" * 64, "v1", FAR_FUTURE),
    ],
    ids=["case-year-1", "case-year-9999", "scan-year-1", "scan-year-9999"],
)
def test_an_instant_no_rule_can_compute_with_is_refused_by_the_step_not_raised_later(event: events.Event) -> None:
    with pytest.raises((ValueError, OverflowError)):
        inbox_message(event)


def test_instants_of_this_century_pass() -> None:
    assert inbox_message(_case("a" * 64, datetime(2000, 1, 1, tzinfo=UTC), "BN-2000")) is not None


def test_poison_cases_and_scans_go_to_the_dead_letters_and_the_tracer_carries_on(
    running_services: RunningServices,
) -> None:
    settings = running_services.settings()
    venue = httpx.post(
        f"{running_services.ingest}/v1/venues",
        json={"name": "Chợ Vườn Hoa", "category": "market", "province_code": "38", "capacity": 100},
        timeout=10,
    ).json()
    now = datetime.now(UTC)
    # A person of this test's own: the services may be shared with other modules, so only this person's dead
    # letters are this test's.
    person = secrets.token_hex(32)
    publisher = EventPublisher(settings, "ingest")
    try:
        # Given poison records on two inputs, each before an ordinary record of the same person
        publisher.publish_sync(topics.CASES, _case(person, FAR_PAST, "BN-poison"))
        publisher.publish_sync(topics.CHECKINS, _scan(person, venue["venue_id"], FAR_FUTURE))
        publisher.publish_sync(topics.CHECKINS, _scan(person, venue["venue_id"], now - timedelta(minutes=1)))
    finally:
        publisher.close()

    # Then both are kept as dead letters, with the reason
    def mine(found: list[events.Event]) -> list[DeadLettered]:
        return [letter for letter in found if isinstance(letter, DeadLettered) and person in letter.value]

    dead = TopicReader(settings, topics.DEAD_LETTERS["tracer"])
    try:
        letters = mine(dead.wait_until(lambda found: len(mine(found)) >= 2, what="two dead letters"))
    finally:
        dead.close()
    sources = sorted(letter.source_topic for letter in letters)
    assert sources == sorted([settings.topic(topics.CASES), settings.topic(topics.CHECKINS)])

    # And the tracer carried on: the ordinary scan after them counts in the venue's occupancy
    def occupied() -> bool:
        answer = httpx.get(f"{running_services.safety_map}/v1/venues/{venue['venue_id']}/occupancy", timeout=5)
        return answer.status_code == 200 and answer.json()["current"] == 1

    wait_for(occupied, timeout=60, what="the ordinary scan in the occupancy")
    tracer = httpx.get(f"{running_services.tracer}/readyz", timeout=5)
    assert tracer.status_code == 200, tracer.text
