"""A tracer worker is two processes: the supervisor (HTTP reads, read model, ticks) and its stream processing.

The stream process is started again when it stops, and readiness says when it is not running; it never
outlives its supervisor, so a SIGKILL of the worker still stops its stream processing mid-transaction.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from antoan_localstack import stack
from antoan_localstack.client import Antoan, new_person
from antoan_localstack.testing import RunningServices, restart_services, wait_for

pytestmark = pytest.mark.integration


def stream_children(pid: int) -> list[int]:
    """The supervisor's stream processes (its children running `antoan_tracer.stream`)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"antoan_tracer.stream" in command:
                found.append(int(child))
    return found


def supervisor_and_stream(services: RunningServices) -> tuple[int, int]:
    """The tracer worker's supervisor and its one stream process."""
    supervisor = stack.running(services.config)["tracer"]
    assert supervisor is not None
    (stream,) = stream_children(supervisor)
    return supervisor, stream


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def readiness(services: RunningServices) -> dict[str, Any]:
    answer = httpx.get(f"{services.tracer}/readyz", timeout=10)
    body: dict[str, Any] = answer.json()
    return body.get("checks") or body.get("error", {}).get("detail") or {}


@pytest.fixture(scope="module")
def services_env() -> dict[str, str]:
    # Far behind past 100 records here (50,000 by default), for the test that puts a worker there.
    return {"TRACER_MAX_READY_LAG": "100"}


def occupancy(antoan: Antoan, venue: dict[str, Any]) -> int | None:
    answer = antoan.get(f"/v1/venues/{venue['venue_id']}/occupancy")
    return answer.json()["current"] if answer.status_code == 200 else None


def test_a_stream_process_that_dies_is_started_again_and_readiness_says_so_meanwhile(
    running_services: RunningServices, antoan: Antoan
) -> None:
    supervisor, first = supervisor_and_stream(running_services)
    venue = antoan.register_venue(capacity=10)
    antoan.check_in(venue, new_person())
    wait_for(lambda: occupancy(antoan, venue) == 1, timeout=60, what="the first check-in counted")

    # When the stream process alone dies
    os.kill(first, signal.SIGKILL)
    # Then readiness says so while it is down, and the supervisor starts a new one
    wait_for(lambda: readiness(running_services).get("stream") is False, timeout=10, what="not ready: stream")
    wait_for(lambda: [p for p in stream_children(supervisor) if p != first], what="a new stream process")
    wait_for(lambda: readiness(running_services).get("stream") is True, timeout=60, what="ready again")
    # And it carries on from where the dead one committed, counting nothing twice
    antoan.check_in(venue, new_person())
    wait_for(lambda: occupancy(antoan, venue) == 2, timeout=90, what="the second check-in counted once")


def test_a_worker_far_behind_says_it_is_not_ready_until_it_has_caught_up(
    running_services: RunningServices, antoan: Antoan
) -> None:
    _, stream = supervisor_and_stream(running_services)
    venue = antoan.register_venue(capacity=500)
    # When the stream process is held (running, but reading nothing) while 150 check-ins arrive
    os.kill(stream, signal.SIGSTOP)
    try:
        items = [{"venue_qr": venue["qr"], "person_id": new_person(), "app": "pc-covid"} for _ in range(150)]
        answer = httpx.post(f"{running_services.ingest}/v1/checkins/batch", json={"items": items}, timeout=30)
        assert answer.status_code == 202, answer.text
        # Then the worker says it is not ready: its group is more than TRACER_MAX_READY_LAG records behind
        wait_for(lambda: readiness(running_services).get("caught_up") is False, what="not ready: behind")
        assert readiness(running_services).get("stream") is True
    finally:
        os.kill(stream, signal.SIGCONT)
    # And ready again once it has caught up, with every check-in counted
    wait_for(lambda: readiness(running_services).get("caught_up") is True, timeout=90, what="caught up")
    wait_for(lambda: occupancy(antoan, venue) == 150, timeout=60, what="150 inside")


def test_the_stream_process_dies_with_its_supervisor(running_services: RunningServices) -> None:
    supervisor, child = supervisor_and_stream(running_services)
    # When only the supervisor is killed (not its process group)
    os.kill(supervisor, signal.SIGKILL)
    # Then its stream process goes too: no worker processes a partition without its HTTP reads and readiness
    wait_for(lambda: not alive(child), timeout=15, what="the stream process to die with its supervisor")
    # (and the supervisor's port is let go, as the kernel closes what the killed process held)
    port = running_services.config.tracer_port
    wait_for(lambda: not stack.port_in_use(port), what=f"the tracer's port {port} to be free")
    restart_services(running_services)
