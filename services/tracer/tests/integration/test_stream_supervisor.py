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


def occupancy(antoan: Antoan, venue: dict[str, Any]) -> int | None:
    answer = antoan.get(f"/v1/venues/{venue['venue_id']}/occupancy")
    return answer.json()["current"] if answer.status_code == 200 else None


def test_a_stream_process_that_dies_is_started_again_and_readiness_says_so_meanwhile(
    running_services: RunningServices, antoan: Antoan
) -> None:
    supervisor = stack.running(running_services.config)["tracer"]
    assert supervisor is not None
    (first,) = stream_children(supervisor)
    venue = antoan.register_venue(capacity=10)
    antoan.check_in(venue, new_person())
    wait_for(lambda: occupancy(antoan, venue) == 1, timeout=60, what="the first check-in counted")

    # When the stream process alone dies
    os.kill(first, signal.SIGKILL)
    # Then readiness says so while it is down, and the supervisor starts a new one
    wait_for(lambda: readiness(running_services).get("stream") is False, timeout=10, what="not ready: stream")
    wait_for(lambda: [p for p in stream_children(supervisor) if p != first], timeout=30, what="a new stream process")
    wait_for(lambda: readiness(running_services).get("stream") is True, timeout=60, what="ready again")
    # And it carries on from where the dead one committed, counting nothing twice
    antoan.check_in(venue, new_person())
    wait_for(lambda: occupancy(antoan, venue) == 2, timeout=90, what="the second check-in counted once")


def test_the_stream_process_dies_with_its_supervisor(running_services: RunningServices) -> None:
    supervisor = stack.running(running_services.config)["tracer"]
    assert supervisor is not None
    (child,) = stream_children(supervisor)
    # When only the supervisor is killed (not its process group)
    os.kill(supervisor, signal.SIGKILL)
    # Then its stream process goes too: no worker processes a partition without its HTTP reads and readiness
    wait_for(lambda: not alive(child), timeout=15, what="the stream process to die with its supervisor")
    # (and the supervisor's port is let go, as the kernel closes what the killed process held)
    port = running_services.config.tracer_port
    wait_for(lambda: not stack.port_in_use(port), timeout=30, what=f"the tracer's port {port} to be free")
    restart_services(running_services)
