"""SPEC §7 under a steady check-in load: an acknowledged check-in is never lost, and never counted twice,
when ingest restarts, a tracer worker is killed, the broker stops and restarts, or Redis is emptied.

Each test runs its own load (new venues, unique client ids) against the module's private stack, injects
one fault while the load runs, then checks: every check-in that got a 202 is on `checkins.v1` exactly once,
and the safety map's occupancy equals what the domain rules give for everything acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from antoan_localstack import stack
from antoan_localstack.testing import RunningServices, kill_service, restart_services, wait_for

from .load import CheckInLoad

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture
def load(fault_services: RunningServices) -> Iterator[CheckInLoad]:
    running = CheckInLoad(fault_services)
    running.start()
    yield running
    running.close()


def _some_acknowledged(load: CheckInLoad, more_than: int = 0) -> None:
    try:
        wait_for(lambda: load.acknowledged_more_than(more_than), timeout=60, what="check-ins acknowledged under load")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; answers so far {dict(load.figures.statuses)}") from exc


def test_an_ingest_restart_loses_no_accepted_check_in(load: CheckInLoad, fault_services: RunningServices) -> None:
    # Given check-ins flowing
    _some_acknowledged(load, 100)
    # When ingest is killed mid-stream and started again while the load goes on
    kill_service(fault_services, "ingest")
    restart_services(fault_services)
    _some_acknowledged(load, len(load.accepted) + 100)
    load.stop_and_settle()
    # Then nothing acknowledged is lost or doubled, and occupancy is the rules'
    figures = load.check_nothing_lost_nothing_doubled("ingest restarted")
    assert figures.acknowledged > 200


def test_a_tracer_killed_under_load_ends_with_the_occupancy_of_the_rules(
    load: CheckInLoad, fault_services: RunningServices
) -> None:
    # Given check-ins flowing and counted
    _some_acknowledged(load, 100)
    wait_for(lambda: any(load.shown_occupancy().values()), timeout=60, what="occupancy counted")
    # When the tracer worker is killed with SIGKILL while the load goes on, and started again
    kill_service(fault_services, "tracer")
    _some_acknowledged(load, len(load.accepted) + 100)
    restart_services(fault_services)
    load.stop_and_settle()
    # Then occupancy ends exactly as without the crash: nothing lost, nothing counted twice
    load.check_nothing_lost_nothing_doubled("tracer SIGKILL")


def test_the_broker_stopped_and_restarted_gives_503s_then_recovers_with_nothing_lost(
    load: CheckInLoad, fault_services: RunningServices, fault_stack: stack.StackConfig
) -> None:
    # Given check-ins flowing
    _some_acknowledged(load, 100)
    # When the broker stops
    stack.stop_components(fault_stack, [stack.KAFKA])
    try:
        # Then ingest answers 503 broker_unavailable (never another 5xx) while it cannot reach Kafka
        try:
            wait_for(lambda: load.answered("503 broker_unavailable") >= 2, timeout=60, what="503 with the broker down")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; answers so far {dict(load.figures.statuses)}") from exc
    finally:
        # When the broker is started again, Then check-ins are acknowledged again
        stack.start_infra(fault_stack)
        stack.wait_kafka_ready(fault_stack)
    _some_acknowledged(load, len(load.accepted) + 100)
    load.stop_and_settle()
    # And every acknowledged check-in is on the topic exactly once, and counted
    figures = load.check_nothing_lost_nothing_doubled("broker stopped and restarted")
    assert not [status for status in figures.statuses if status.startswith("5") and status != "503 broker_unavailable"]


def _risk_levels(load: CheckInLoad, safety_map: str) -> dict[str, int | None]:
    levels: dict[str, int | None] = {}
    for venue in load.venues:
        response = httpx.get(f"{safety_map}/v1/venues/{venue['venue_id']}/risk", timeout=5)
        levels[venue["venue_id"]] = response.json()["level"] if response.status_code == 200 else None
    return levels


def test_redis_emptied_the_safety_map_restores_levels_and_occupancy_from_the_topics(
    load: CheckInLoad, fault_services: RunningServices, fault_stack: stack.StackConfig
) -> None:
    # Given check-ins flowing, occupancy and every venue's risk level shown on the map
    _some_acknowledged(load, 100)
    wait_for(lambda: any(load.shown_occupancy().values()), timeout=60, what="occupancy shown")

    def every_level() -> dict[str, int | None] | None:
        shown = _risk_levels(load, fault_services.safety_map)
        return shown if None not in shown.values() else None

    levels = wait_for(every_level, timeout=60, what="every venue's risk level")
    # When Redis is emptied while the load goes on
    with redis.Redis.from_url(fault_stack.redis_url) as client:
        client.flushdb()
    _some_acknowledged(load, len(load.accepted) + 100)
    load.stop_and_settle()
    # Then the map shows every venue's occupancy again, as the rules say, and the same levels as before
    load.check_nothing_lost_nothing_doubled("Redis emptied")
    wait_for(lambda: _risk_levels(load, fault_services.safety_map) == levels, timeout=60, what="the levels back")
