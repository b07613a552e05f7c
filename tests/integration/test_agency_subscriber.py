"""The example agency subscriber (`examples/agency_subscriber.py`) against a real broker, on each public topic."""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from antoan_localstack import access, stack
from antoan_localstack.testing import free_port, new_namespace, private_stack, wait_for
from antoan_shared import events, topics
from antoan_shared.kafka import EventPublisher, ensure_topics
from antoan_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration

SUBSCRIBER = Path(__file__).resolve().parents[2] / "examples" / "agency_subscriber.py"
T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
COLORS = {1: "green", 2: "yellow", 3: "orange", 4: "red"}
PUBLIC = tuple(spec for spec in topics.ALL_TOPICS if spec.access is topics.Access.PUBLIC)

# Hà Nội: Phường Hàng Bài in Quận Hoàn Kiếm, and the venues the tests name.
WARD, DISTRICT, PROVINCE = ("00070", "Phường Hàng Bài"), ("002", "Quận Hoàn Kiếm"), ("01", "Thành phố Hà Nội")
HALL = "Nhà hàng Hương Sen (v_hall; 12 Lý Thường Kiệt, Phường Hàng Bài, Quận Hoàn Kiếm, Thành phố Hà Nội)"
MARKET = "Chợ Hôm (v_market; 79 Phố Huế)"  # its ward has no level published, so no name


class Subscriber:
    """The example running as an agency would run it, its printed lines collected as they come."""

    def __init__(self, settings: ServiceSettings, topic: topics.TopicSpec, *args: str, as_json: bool = True) -> None:
        command = [
            sys.executable,
            str(SUBSCRIBER),
            f"--topic={topic.name}",
            f"--bootstrap={settings.kafka_bootstrap}",
            f"--namespace={settings.topic_namespace}",
            *(["--json"] if as_json else []),
            *args,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.errors: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._threads = [
            threading.Thread(target=self._collect, args=(self.process.stdout, self.lines), daemon=True),
            threading.Thread(target=self._collect, args=(self.process.stderr, self.errors), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _collect(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def changes(self, venue_id: str) -> list[tuple[int | None, int]]:
        return [(line["previous_level"], line["level"]) for line in self.records if line["venue_id"] == venue_id]

    def wait_for_lines(self, count: int) -> None:
        wait_for(lambda: len(self.lines) >= count, timeout=60, what=f"{count} lines printed (errors: {self.errors})")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        for thread in self._threads:
            thread.join(timeout=5)
        return code


class Publishers:
    """The project's own publishers, one per writing service (each topic has one writer)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._publishers: dict[str, EventPublisher] = {}

    def __call__(self, spec: topics.TopicSpec, *published: events.Event) -> None:
        if spec.writer not in self._publishers:
            self._publishers[spec.writer] = EventPublisher(self.settings, spec.writer)
        for event in published:
            self._publishers[spec.writer].publish_sync(spec, event)

    def close(self) -> None:
        for publisher in self._publishers.values():
            publisher.close()


@pytest.fixture
def publish(settings: ServiceSettings) -> Iterator[Publishers]:
    ensure_topics(settings, PUBLIC)
    publishers = Publishers(settings)
    yield publishers
    publishers.close()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def venue(
    venue_id: str,
    name: str,
    address: str,
    ward: str = "",
    kind: type[events.VenueRegistered | events.VenueUpdated | events.VenueDeactivated] = events.VenueRegistered,
) -> events.VenueState:
    return kind(
        producer="ingest",
        venue_id=venue_id,
        name=name,
        category=events.VenueCategory.RESTAURANT,
        address=address,
        province_code=PROVINCE[0] if ward == WARD[0] else "",
        district_code=DISTRICT[0] if ward == WARD[0] else "",
        ward_code=ward,
        capacity=40,
        api_key_hash="0" * 64,
    )


def area(code_and_name: tuple[str, str], kind: str, level: int, minutes: int, cases: int) -> events.AreaRiskChanged:
    return events.AreaRiskChanged(
        producer="safety-map",
        area_code=code_and_name[0],
        area_kind=kind,
        name=code_and_name[1],
        level=level,
        color=COLORS[level],
        reasons=(events.Reason(code="cases_per_100k"),),
        cases_7d=cases,
        population=20_000,
        cases_per_100k=round(cases * 100_000 / 20_000, 1),
        as_of=at(minutes),
    )


def publish_area_names(publish: Publishers) -> None:
    """The names of the hall's ward, district and province, as area-risk.v1 carries them."""
    publish(
        topics.AREA_RISK,
        area(WARD, "ward", 1, 0, 0),
        area(DISTRICT, "district", 1, 0, 0),
        area(PROVINCE, "province", 1, 0, 0),
    )


def publish_places(publish: Publishers) -> None:
    """Two venues on venues.v1, and the names of the hall's areas on area-risk.v1."""
    publish(
        topics.VENUES,
        venue("v_hall", "Nhà hàng Hương Sen", "12 Lý Thường Kiệt", WARD[0]),
        venue("v_market", "Chợ Hôm", "79 Phố Huế", "00099"),
    )
    publish_area_names(publish)


def risk(venue_id: str, level: int, minutes: int, *codes: str) -> events.VenueRiskChanged:
    return events.VenueRiskChanged(
        producer="safety-map",
        venue_id=venue_id,
        level=level,
        color=COLORS[level],
        reasons=tuple(events.Reason(code=code) for code in codes),
        as_of=at(minutes),
    )


def run(settings: ServiceSettings, topic: topics.TopicSpec, lines: int, *args: str) -> tuple[Subscriber, Subscriber]:
    """The example in both output modes at once (each in a group of its own), until each printed `lines`."""
    group = f"{settings.topic_namespace}.agency.{topic.name}"
    text = Subscriber(settings, topic, f"--group={group}.text", *args, as_json=False)
    as_json = Subscriber(settings, topic, f"--group={group}.json", *args)
    try:
        text.wait_for_lines(lines)
        as_json.wait_for_lines(lines)
    finally:
        codes = text.stop(), as_json.stop()
    assert codes == (0, 0), (text.errors, as_json.errors)
    return text, as_json


# --- the code and its documentation ------------------------------------------------------------------


def test_the_example_needs_only_kafka_python_and_the_standard_library() -> None:
    tree = ast.parse(SUBSCRIBER.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - sys.stdlib_module_names - {"__future__"} == {"kafka"}


def test_the_docstring_and_help_name_the_same_options_environment_and_topics() -> None:
    docstring = ast.get_docstring(ast.parse(SUBSCRIBER.read_text(encoding="utf-8"))) or ""
    shown = subprocess.run(
        [sys.executable, str(SUBSCRIBER), "--help"], capture_output=True, text=True, check=True, timeout=30
    ).stdout

    def flags(text: str) -> set[str]:
        return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)) - {"--help"}

    def variables(text: str) -> set[str]:
        return set(re.findall(r"\b(?:KAFKA|ANTOAN|AGENCY)_[A-Z_]+\b", text))

    # Every option the docstring suggests exists, and every option there is, the docstring explains
    assert flags(docstring) == flags(shown)
    assert variables(docstring) == variables(shown)
    # And the topics it offers are exactly the public ones of the registry, each described in the docstring
    # (with its retention: compacted or not)
    offered = re.search(r"--topic \{([^}]*)\}", shown)
    assert offered is not None, shown
    assert set(offered.group(1).split(",")) == {spec.name for spec in PUBLIC}
    for spec in PUBLIC:
        described = re.search(rf"^\s+{re.escape(spec.name)}\s+(.*)$", docstring, re.MULTILINE)
        assert described is not None, spec.name
        assert ("compacted" in described.group(1)) == spec.compacted, spec.name


# --- failing fast ------------------------------------------------------------------------------------


def test_a_wrong_bootstrap_address_ends_it_in_seconds_with_one_line_saying_so() -> None:
    # Given an address where no broker listens
    wrong = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    # When the example starts with it (and its default connection timeout)
    done = subprocess.run(
        [sys.executable, str(SUBSCRIBER), f"--bootstrap={wrong}"], capture_output=True, text=True, timeout=60
    )
    # Then it ends within seconds, with a non-zero status and one line naming the address
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"could not connect to Kafka at {wrong}" in done.stderr


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[tuple[stack.StackConfig, str, str]]:
    """A broker of its own with SASL/SCRAM and the ACLs on: (config, namespace, the agency's password)."""
    passwords = {variable: secrets.token_urlsafe(24) for variable in access.PASSWORD_VARIABLES}
    with private_stack(passwords, kafka_sasl=True) as cfg:
        namespace = new_namespace()
        stack.apply_kafka_acls(cfg, passwords, namespace)
        admin = ServiceSettings(
            kafka_bootstrap=cfg.kafka_bootstrap,
            topic_namespace=namespace,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username=access.ADMIN,
            kafka_sasl_password=passwords[access.password_variable(access.ADMIN)],
        )
        ensure_topics(admin, PUBLIC)
        yield cfg, namespace, passwords[access.password_variable(access.AGENCY)]


def test_wrong_sasl_credentials_end_it_in_seconds_with_one_line_saying_so(
    sasl_broker: tuple[stack.StackConfig, str, str],
) -> None:
    cfg, namespace, password = sasl_broker

    def subscribe(password: str) -> tuple[subprocess.CompletedProcess[str], float]:
        command = [
            sys.executable,
            str(SUBSCRIBER),
            f"--bootstrap={cfg.kafka_bootstrap}",
            f"--namespace={namespace}",
            "--security-protocol=SASL_PLAINTEXT",
            f"--sasl-username={access.AGENCY}",
            "--exit-when-idle=1",
            # Long enough for a login's answer on a loaded machine (the suite shares two cores)
            "--connect-timeout=10",
        ]
        started = time.monotonic()
        env = {**os.environ, "KAFKA_SASL_PASSWORD": password}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        return done, time.monotonic() - started

    # Given the agency's login on a broker with SASL, When the example logs in with it, Then it follows the topic
    right, _ = subscribe(password)
    assert right.returncode == 0, right.stderr
    # When it logs in with a wrong password, Then it ends within seconds with one line saying the login failed
    wrong, took = subscribe("not-the-password")
    assert took < 20
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1, wrong.stderr
    assert f"could not connect to Kafka at {cfg.kafka_bootstrap} as agency" in wrong.stderr
    # (kafka-python 3.0.12 drops the broker's refusal when the closed connection arrives in the same read)
    assert "Authentication failed" in wrong.stderr or "as a broker does after refusing a login" in wrong.stderr


# --- each public topic --------------------------------------------------------------------------------


def test_venue_risk_levels_are_followed_by_venue_name_and_resumed_or_reread_with_its_group(
    settings: ServiceSettings, publish: Publishers
) -> None:
    # Given named venues, and their risk levels already on venue-risk.v1: the hall going 1 → 3 → 3 (a repeat)
    # → 4, with an older record replayed after, and the market at 2
    publish_places(publish)
    publish(
        topics.VENUE_RISK,
        risk("v_hall", 1, 0),
        risk("v_hall", 3, 10, "case_present_14d"),
        risk("v_hall", 3, 20, "case_present_14d"),
        risk("v_hall", 4, 30, "case_present_72h", "over_capacity"),
        risk("v_hall", 1, 5),
        risk("v_market", 2, 0, "ward_level_3"),
    )
    # When the example subscribes with a group of its own
    text, first = run(settings, topics.VENUE_RISK, 4)
    # Then it printed each change of level once, in order, with its reasons, and nothing for repeats or replays
    assert first.changes("v_hall") == [(None, 1), (1, 3), (3, 4)]
    assert first.changes("v_market") == [(None, 2)]
    last = [line for line in first.records if line["venue_id"] == "v_hall"][-1]
    assert last["reasons"] == ["case_present_72h", "over_capacity"]
    assert last["color"] == "red"
    assert datetime.fromisoformat(last["as_of"]) == at(30)
    # With the venue's name, address and areas from venues.v1 and area-risk.v1
    assert last["venue"]["name"] == "Nhà hàng Hương Sen"
    assert last["venue"]["address"] == "12 Lý Thường Kiệt"
    assert (last["venue"]["ward_code"], last["venue"]["ward_name"]) == WARD
    assert (last["venue"]["district_code"], last["venue"]["district_name"]) == DISTRICT
    assert any("2 venues followed" in line for line in first.errors)
    # And the same as sentences (in order per venue: the venues may be on different partitions)
    assert [line for line in text.lines if "v_hall" in line] == [
        f"{at(0).isoformat()} {HALL}: level 1 (green), first seen; no reasons given",
        f"{at(10).isoformat()} {HALL}: level 3 (orange), from level 1 (green); case_present_14d",
        f"{at(30).isoformat()} {HALL}: level 4 (red), from level 3 (orange); case_present_72h, over_capacity",
    ]
    assert [line for line in text.lines if "v_market" in line] == [
        f"{at(0).isoformat()} {MARKET}: level 2 (yellow), first seen; ward_level_3"
    ]

    # Given a new level published while it was stopped
    publish(topics.VENUE_RISK, risk("v_market", 1, 40))
    group = f"--group={settings.topic_namespace}.agency.{topics.VENUE_RISK.name}.json"
    # When it starts again in the same group, Then it resumes after its committed offsets: only the news
    second = Subscriber(settings, topics.VENUE_RISK, group)
    try:
        second.wait_for_lines(1)
    finally:
        assert second.stop() == 0, second.errors
    assert [(line["venue_id"], line["level"]) for line in second.records] == [("v_market", 1)]
    # When it starts again in the same group with --from-beginning, Then it reads every level again
    third = Subscriber(settings, topics.VENUE_RISK, group, "--from-beginning")
    try:
        third.wait_for_lines(5)
    finally:
        assert third.stop() == 0, third.errors
    assert third.changes("v_hall") == [(None, 1), (1, 3), (3, 4)]
    assert third.changes("v_market") == [(None, 2), (2, 1)]


def test_area_risk_levels_are_followed_by_area_name_with_their_case_counts(
    settings: ServiceSettings, publish: Publishers
) -> None:
    # Given the ward going 1 → 3 with its cases, a repeat, an older record replayed, and the district at 2
    publish(
        topics.AREA_RISK,
        area(WARD, "ward", 1, 0, 0),
        area(WARD, "ward", 3, 10, 12),
        area(WARD, "ward", 3, 20, 12),
        area(WARD, "ward", 2, 5, 4),
        area(DISTRICT, "district", 2, 0, 30),
    )
    # When the example follows area-risk.v1
    text, as_json = run(settings, topics.AREA_RISK, 3)
    # Then it printed each area's changes by name, with the level, the cases and the rate
    assert [line for line in text.lines if WARD[0] in line] == [
        f"{at(0).isoformat()} ward Phường Hàng Bài (00070): level 1 (green), first seen; 0 cases in 7 days "
        "(0 per 100,000); cases_per_100k",
        f"{at(10).isoformat()} ward Phường Hàng Bài (00070): level 3 (orange), from level 1 (green); "
        "12 cases in 7 days (60 per 100,000); cases_per_100k",
    ]
    assert [line for line in text.lines if DISTRICT[0] in line] == [
        f"{at(0).isoformat()} district Quận Hoàn Kiếm (002): level 2 (yellow), first seen; 30 cases in 7 days "
        "(150 per 100,000); cases_per_100k"
    ]
    ward = [line for line in as_json.records if line["area_code"] == WARD[0]]
    assert [(line["previous_level"], line["level"], line["cases_7d"]) for line in ward] == [(None, 1, 0), (1, 3, 12)]
    assert ward[-1]["name"] == "Phường Hàng Bài"
    assert ward[-1]["area_kind"] == "ward"
    assert ward[-1]["cases_per_100k"] == 60.0
    assert any("2 areas followed" in line for line in as_json.errors)


def test_occupancy_is_followed_by_venue_name_and_capacity_and_a_renamed_venue_shows_its_new_name(
    settings: ServiceSettings, publish: Publishers
) -> None:
    # Given named venues and the hall's occupancy 0 → 3 → 3 (a repeat) → 5, with an older count replayed
    publish_places(publish)

    def occupancy(venue_id: str, current: int, minutes: int) -> events.OccupancyChanged:
        return events.OccupancyChanged(producer="tracer", venue_id=venue_id, current=current, as_of=at(minutes))

    publish(
        topics.OCCUPANCY,
        occupancy("v_hall", 0, 0),
        occupancy("v_hall", 3, 1),
        occupancy("v_hall", 3, 2),
        occupancy("v_hall", 5, 3),
        occupancy("v_hall", 1, 2),
    )
    group = f"--group={settings.topic_namespace}.agency.occupancy"
    text = Subscriber(settings, topics.OCCUPANCY, group, as_json=False)
    as_json = Subscriber(settings, topics.OCCUPANCY, f"{group}.json")
    try:
        # When the example follows occupancy.v1
        text.wait_for_lines(3)
        as_json.wait_for_lines(3)
        # And, while it runs, the market is renamed and people come in
        publish(topics.VENUES, venue("v_market", "Chợ Hôm Đức Viên", "79 Phố Huế", kind=events.VenueUpdated))
        publish(topics.OCCUPANCY, occupancy("v_market", 7, 4))
        text.wait_for_lines(4)
        as_json.wait_for_lines(4)
    finally:
        codes = text.stop(), as_json.stop()
    assert codes == (0, 0), (text.errors, as_json.errors)
    # Then each change of the count was printed once with the venue's name and capacity
    assert text.lines == [
        f"{at(0).isoformat()} {HALL}: 0 inside of 40, first seen",
        f"{at(1).isoformat()} {HALL}: 3 inside of 40, was 0",
        f"{at(3).isoformat()} {HALL}: 5 inside of 40, was 3",
        # And the market by its new name
        f"{at(4).isoformat()} Chợ Hôm Đức Viên (v_market; 79 Phố Huế): 7 inside of 40, first seen",
    ]
    assert [(line["venue_id"], line["previous"], line["current"]) for line in as_json.records] == [
        ("v_hall", None, 0),
        ("v_hall", 0, 3),
        ("v_hall", 3, 5),
        ("v_market", None, 7),
    ]
    assert as_json.records[-1]["venue"]["name"] == "Chợ Hôm Đức Viên"
    assert as_json.records[0]["venue"]["capacity"] == 40


def test_venue_exposures_are_followed_by_venue_name_once_per_window(
    settings: ServiceSettings, publish: Publishers
) -> None:
    # Given named venues, a case present at the hall (the record replayed once), the same case's window there
    # extended later by a late check-out, and an F1 at the market
    publish_places(publish)

    def exposure(case_id: str, venue_id: str, start: int, end: int, degree: int = 0) -> events.VenueExposureRecorded:
        return events.VenueExposureRecorded(
            producer="tracer",
            case_id=case_id,
            venue_id=venue_id,
            spreader_degree=degree,
            window_start=at(start),
            window_end=at(end),
        )

    hall = exposure("case-1", "v_hall", 0, 45)
    publish(
        topics.VENUE_EXPOSURES,
        hall,
        hall,
        exposure("case-1", "v_hall", 0, 90),
        exposure("case-2", "v_hall", 30, 60),
        exposure("case-1", "v_market", 100, 130, degree=1),
    )
    # When the example follows venue-exposures.v1
    text, as_json = run(settings, topics.VENUE_EXPOSURES, 4)
    # Then each window was printed once, with the venue's name, the case and how many cases the venue has had
    assert [line for line in text.lines if "v_hall" in line] == [
        f"{at(0).isoformat()} to {at(45).isoformat()} {HALL}: case case-1 present (the case itself); "
        "1 case(s) at this venue",
        f"{at(0).isoformat()} to {at(90).isoformat()} {HALL}: case case-1 present (the case itself); "
        "1 case(s) at this venue",
        f"{at(30).isoformat()} to {at(60).isoformat()} {HALL}: case case-2 present (the case itself); "
        "2 case(s) at this venue",
    ]
    assert [line for line in text.lines if "v_market" in line] == [
        f"{at(100).isoformat()} to {at(130).isoformat()} {MARKET}: case case-1 present (a degree-1 contact); "
        "1 case(s) at this venue"
    ]
    market = [line for line in as_json.records if line["venue_id"] == "v_market"]
    assert market == [
        {
            "venue_id": "v_market",
            "venue": market[0]["venue"],
            "case_id": "case-1",
            "spreader_degree": 1,
            "window_start": at(100).isoformat(),
            "window_end": at(130).isoformat(),
            "cases_at_venue": 1,
        }
    ]
    assert market[0]["venue"]["name"] == "Chợ Hôm"
    assert any("2 venues followed" in line for line in as_json.errors)


def test_the_venue_registry_is_followed_by_name_with_registrations_changes_and_deactivations(
    settings: ServiceSettings, publish: Publishers
) -> None:
    # Given the market registered, renamed, re-published unchanged, then deactivated
    publish_area_names(publish)
    registered = venue("v_hall", "Nhà hàng Hương Sen", "12 Lý Thường Kiệt", WARD[0])
    publish(
        topics.VENUES,
        registered,
        venue("v_market", "Chợ Hôm", "79 Phố Huế"),
        venue("v_market", "Chợ Hôm Đức Viên", "79 Phố Huế", kind=events.VenueUpdated),
        venue("v_market", "Chợ Hôm Đức Viên", "79 Phố Huế", kind=events.VenueUpdated),
        venue("v_market", "Chợ Hôm Đức Viên", "79 Phố Huế", kind=events.VenueDeactivated),
    )
    # When the example follows venues.v1
    text, as_json = run(settings, topics.VENUES, 4)
    # Then each registration and change was printed once, by name, with the ward names from area-risk.v1
    when = registered.occurred_at.isoformat()
    assert [line for line in text.lines if "v_hall" in line] == [f"{when} {HALL}: registered, restaurant, capacity 40"]
    market = [line.split(" ", 1)[1] for line in text.lines if "v_market" in line]
    assert market == [
        "Chợ Hôm (v_market; 79 Phố Huế): registered, restaurant, capacity 40",
        "Chợ Hôm Đức Viên (v_market; 79 Phố Huế): updated, restaurant, capacity 40",
        "Chợ Hôm Đức Viên (v_market; 79 Phố Huế): deactivated, restaurant, capacity 40",
    ]
    changes = [(line["venue_id"], line["change"], line["venue"]["active"]) for line in as_json.records]
    assert sorted(changes) == [
        ("v_hall", "registered", True),
        ("v_market", "deactivated", False),
        ("v_market", "registered", True),
        ("v_market", "updated", True),
    ]
    assert any("2 venues followed" in line for line in as_json.errors)
