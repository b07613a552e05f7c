"""The example agency subscriber (`examples/agency_subscriber.py`) against a real broker."""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from antoan_localstack.testing import wait_for
from antoan_shared import events, topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

SUBSCRIBER = Path(__file__).resolve().parents[2] / "examples" / "agency_subscriber.py"
T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)


class Subscriber:
    """The example running as an agency would run it, its printed lines collected as they come."""

    def __init__(self, settings: ServiceSettings, group: str) -> None:
        command = [
            sys.executable,
            str(SUBSCRIBER),
            "--json",
            f"--bootstrap={settings.kafka_bootstrap}",
            f"--namespace={settings.topic_namespace}",
            f"--group={group}",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict[str, Any]] = []
        self.errors: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._threads = [
            threading.Thread(target=self._collect, args=(self.process.stdout, True), daemon=True),
            threading.Thread(target=self._collect, args=(self.process.stderr, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _collect(self, stream: IO[str], is_output: bool) -> None:
        for line in stream:
            if is_output:
                self.lines.append(json.loads(line))
            else:
                self.errors.append(line)

    def changes(self, venue_id: str) -> list[tuple[int | None, int]]:
        return [(line["previous_level"], line["level"]) for line in self.lines if line["venue_id"] == venue_id]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        for thread in self._threads:
            thread.join(timeout=5)
        return code


def risk(venue_id: str, level: int, minutes: int, *codes: str) -> events.VenueRiskChanged:
    colors = {1: "green", 2: "yellow", 3: "orange", 4: "red"}
    return events.VenueRiskChanged(
        producer="safety-map",
        venue_id=venue_id,
        level=level,
        color=colors[level],  # type: ignore[arg-type]
        reasons=tuple(events.Reason(code=code) for code in codes),
        as_of=T0 + timedelta(minutes=minutes),
    )


@pytest.fixture
def publisher(settings: ServiceSettings) -> Iterator[EventPublisher]:
    ensure_topics(settings, [topics.VENUE_RISK])
    publisher = EventPublisher(settings, "safety-map")
    yield publisher
    publisher.close()


def test_the_example_needs_only_kafka_python_and_the_standard_library() -> None:
    tree = ast.parse(SUBSCRIBER.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - sys.stdlib_module_names - {"__future__"} == {"kafka"}


def test_the_example_subscriber_follows_venue_risk_levels_and_resumes_with_its_group(
    settings: ServiceSettings, publisher: EventPublisher
) -> None:
    # Given risk levels already on venue-risk.v1: a venue going 1 → 3 → 3 (a repeat) → 4, with an older record
    # replayed after, and another venue at 2
    for event in (
        risk("v_hall", 1, 0),
        risk("v_hall", 3, 10, "case_present_14d"),
        risk("v_hall", 3, 20, "case_present_14d"),
        risk("v_hall", 4, 30, "case_present_72h", "over_capacity"),
        risk("v_hall", 1, 5),
        risk("v_market", 2, 0, "ward_level_3"),
    ):
        publisher.publish_sync(topics.VENUE_RISK, event)
    group = f"{settings.topic_namespace}.agency"
    # When the example subscribes from the beginning with a group of its own
    first = Subscriber(settings, group)
    try:
        wait_for(lambda: len(first.lines) >= 4, timeout=60, what="four changes printed")
    finally:
        code = first.stop()
    # Then it printed each change of level once, in order, with its reasons, and nothing for repeats or replays
    assert code == 0, first.errors
    assert first.changes("v_hall") == [(None, 1), (1, 3), (3, 4)]
    assert first.changes("v_market") == [(None, 2)]
    last = [line for line in first.lines if line["venue_id"] == "v_hall"][-1]
    assert last["reasons"] == ["case_present_72h", "over_capacity"]
    assert last["color"] == "red"
    assert datetime.fromisoformat(last["as_of"]) == T0 + timedelta(minutes=30)
    assert any("2 venues followed" in line for line in first.errors)

    # Given a new level published while it was stopped
    publisher.publish_sync(topics.VENUE_RISK, risk("v_market", 1, 40))
    # When it starts again in the same group, Then it resumes after its committed offsets: only the news
    second = Subscriber(settings, group)
    try:
        wait_for(lambda: second.lines, timeout=60, what="the new change printed")
    finally:
        assert second.stop() == 0, second.errors
    assert [(line["venue_id"], line["level"]) for line in second.lines] == [("v_market", 1)]
