"""Scaling out and crashing: two workers, and a worker killed mid-stream, give the results of one.

Expected results come from the domain functions (unit-tested rule by rule against the SPEC) applied to the
whole scenario at once; the streams must reach the same answer incrementally, whatever the partitioning
and however often they are interrupted.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from antoan_localstack.testing import (
    RunningServices,
    TopicReader,
    TracerWorker,
    kill_service,
    restart_services,
    wait_for,
)
from antoan_shared import events, topics
from antoan_shared.events import Direction
from antoan_tracer.domain.exposure import case_interval, trace_case
from antoan_tracer.domain.visits import Scan, build_visits, open_visit, present_at

pytestmark = pytest.mark.integration
DWELL = timedelta(minutes=60)


@dataclass
class Scenario:
    venues: dict[str, dict[str, str]]  # name -> registration answer
    items: list[dict[str, Any]]  # check-in bodies
    scans: dict[str, list[Scan]]  # person_key -> scans, filled from ingest's answers
    people: dict[str, str]  # person_id -> person_key


@pytest.fixture(scope="module")
def ingest(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=30) as client:
        yield client


def make_scenario(ingest: httpx.Client, seed: int, people: int, venues: int, now: datetime) -> Scenario:
    """People moving between venues over the last 50 minutes: ins, outs, moves, duplicates."""
    rng = random.Random(seed)
    registered = {}
    for n in range(venues):
        response = ingest.post("/v1/venues", json={"name": f"Địa điểm {seed}-{n}", "category": "shop", "capacity": 80})
        assert response.status_code == 201, response.text
        registered[f"v{n}"] = response.json()
    items = []
    for p in range(people):
        person_id = f"09{seed % 10}{p:07d}"
        at = now - timedelta(minutes=50) + timedelta(seconds=rng.randrange(0, 600))
        latest = now - timedelta(minutes=1)  # every scan in the past
        for _ in range(rng.randrange(1, 4)):
            if at > latest:
                break
            where = registered[f"v{rng.randrange(venues)}"]
            items.append(_item(where, person_id, "in", at))
            if rng.random() < 0.2:  # a duplicate scan on the way in
                items.append(_item(where, person_id, "in", min(latest, at + timedelta(seconds=rng.randrange(5, 60)))))
            at += timedelta(seconds=rng.randrange(120, 900))
            if rng.random() < 0.4 and at <= latest:
                items.append(_item(where, person_id, "out", at))
                at += timedelta(seconds=rng.randrange(60, 300))
    rng.shuffle(items)  # offline uploads arrive in any order
    return Scenario(registered, items, {}, {})


def _item(where: dict[str, str], person_id: str, direction: str, at: datetime) -> dict[str, Any]:
    return {
        "venue_qr": where["qr"],
        "person_id": person_id,
        "direction": direction,
        "scanned_at": at.isoformat(),
        "app": "pc-covid",
        "client_event_id": str(uuid.uuid4()),
    }


def upload(ingest: httpx.Client, scenario: Scenario, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        response = ingest.post("/v1/checkins/batch", json={"items": chunk})
        assert response.status_code == 202, response.text
        for item, result in zip(chunk, response.json()["results"], strict=True):
            accepted = result["result"]
            scenario.people[item["person_id"]] = accepted["person_key"]
            scenario.scans.setdefault(accepted["person_key"], []).append(
                Scan(
                    datetime.fromisoformat(item["scanned_at"]),
                    accepted["event_id"],
                    accepted["venue_id"],
                    Direction(item["direction"]),
                )
            )


def expected_occupancy(scenario: Scenario, now: datetime) -> dict[str, int]:
    counts = {where["venue_id"]: 0 for where in scenario.venues.values()}
    for scans in scenario.scans.values():
        visit = open_visit(build_visits(scans, lambda _: DWELL))
        if visit is not None and present_at(visit, now):
            counts[visit.venue_id] += 1
    return counts


LAST_LOOK: dict[str, Any] = {}


def occupancy_matches(running_services: RunningServices, scenario: Scenario) -> bool:
    # The truth moves with the clock (automatic check-outs), so it is taken at each look.
    LAST_LOOK["shown"] = shown_occupancy(running_services, scenario)
    LAST_LOOK["expected"] = expected_occupancy(scenario, events.utc_now())
    return bool(LAST_LOOK["shown"] == LAST_LOOK["expected"])


def wait_for_occupancy(running_services: RunningServices, scenario: Scenario) -> None:
    try:
        wait_for(lambda: occupancy_matches(running_services, scenario), timeout=180, what="occupancy")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: last shown {LAST_LOOK['shown']}, expected {LAST_LOOK['expected']}") from exc


def shown_occupancy(running_services: RunningServices, scenario: Scenario) -> dict[str, int | None]:
    shown = {}
    for where in scenario.venues.values():
        response = httpx.get(f"{running_services.safety_map}/v1/venues/{where['venue_id']}/occupancy", timeout=5)
        shown[where["venue_id"]] = response.json()["current"] if response.status_code == 200 else None
    return shown


def confirm_case(
    ingest: httpx.Client, running_services: RunningServices, scenario: Scenario
) -> tuple[str, dict[str, int]]:
    """A case for the person with the most scans; returns its id and the expected (person -> degree)."""
    person_id, person_key = max(scenario.people.items(), key=lambda kv: len(scenario.scans[kv[1]]))
    now = events.utc_now()
    response = ingest.post(
        "/v1/cases",
        json={"person_id": person_id, "tested_at": now.isoformat()},
        headers={"authorization": f"Bearer {running_services.ha_token}"},
    )
    assert response.status_code == 202, response.text
    interval = case_interval(now, None, None, now)  # confirmed now, give or take the time to answer
    visits = {key: build_visits(scans, lambda _: DWELL) for key, scans in scenario.scans.items()}
    expected = trace_case(person_key, interval, visits)
    return response.json()["case_id"], {key: exposure.degree for key, exposure in expected.items()}


def contacts(url: str, running_services: RunningServices, case_id: str) -> dict[str, int] | None:
    response = httpx.get(
        f"{url}/v1/cases/{case_id}/contacts",
        headers={"authorization": f"Bearer {running_services.ha_token}"},
        timeout=15,
    )
    if response.status_code == 404:
        return None  # the read model has not seen the case yet
    assert response.status_code == 200, response.text
    return {c["person_key"]: c["degree"] for c in response.json()["contacts"]}


def no_exposure_counted_twice(running_services: RunningServices, case_id: str, expected: dict[str, int]) -> None:
    """exposures.v2 as an agency reads it (read_committed): every decision once, none repeated by a replay,
    and reduced (the latest record per person) exactly the rules' contacts."""
    reader = TopicReader(running_services.settings(), topics.EXPOSURES_V2)
    try:
        seen = -1
        while seen != len(reader.read(timeout_ms=1000)):  # until a poll brings nothing new
            seen = len(reader.events)
        published = [e for e in reader.events if isinstance(e, events.ExposureChanged) and e.case_id == case_id]
    finally:
        reader.close()
    assert all(count == 1 for count in Counter(e.event_id for e in published).values())
    latest = {e.person_key: e for e in published}
    assert {person: e.degree for person, e in latest.items() if not e.withdrawn} == expected


def test_a_worker_killed_mid_stream_recovers_its_state_and_counts_nothing_twice(
    ingest: httpx.Client, running_services: RunningServices
) -> None:
    # Given a stream of check-ins being processed
    now = events.utc_now()
    scenario = make_scenario(ingest, seed=7, people=150, venues=6, now=now)
    half = len(scenario.items) // 2
    upload(ingest, scenario, scenario.items[:half])
    wait_for(lambda: any(shown_occupancy(running_services, scenario).values()), timeout=60, what="processing")
    # When the tracer is killed with SIGKILL in the middle of it, more arrives, and it is started again
    killed = kill_service(running_services, "tracer")
    upload(ingest, scenario, scenario.items[half:])
    restart_services(running_services)
    # Then occupancy ends up exactly as the rules say for all of it: nothing lost, nothing counted twice
    expected = expected_occupancy(scenario, events.utc_now())
    assert sum(expected.values()) > 20
    wait_for_occupancy(running_services, scenario)
    # And the contacts of a case are exactly those of the rules
    case_id, expected_contacts = confirm_case(ingest, running_services, scenario)
    assert 1 in expected_contacts.values()
    wait_for(
        lambda: contacts(running_services.tracer, running_services, case_id) == expected_contacts,
        timeout=60,
        what="the case's contacts",
    )
    no_exposure_counted_twice(running_services, case_id, expected_contacts)
    print(f"killed tracer pid {killed}; {len(scenario.items)} scans; occupancy {expected}")


def test_two_workers_in_one_group_give_the_same_contacts_and_occupancy_as_one(
    ingest: httpx.Client, running_services: RunningServices
) -> None:
    # Given a second tracer worker joining the group
    second = TracerWorker(running_services, "tracer-2")
    try:
        second.wait_ready()
        # (ready answers before the group has rebalanced: wait until the newcomer holds partitions of its own,
        # whose state it keeps on disk, so that what follows is processed by both and not by the first alone)
        data = second.log_path.parent / "data"
        try:
            wait_for(
                lambda: any(p.is_dir() and p.name.isdigit() for p in data.rglob("*")),
                timeout=120,
                what="the second worker to be given partitions",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its log ends:\n{second.log_tail()}") from None
        # When a scenario is processed by both
        now = events.utc_now()
        scenario = make_scenario(ingest, seed=11, people=150, venues=6, now=now)
        upload(ingest, scenario, scenario.items)
        # Then occupancy is what the rules give for the whole scenario
        wait_for_occupancy(running_services, scenario)
        # And the contacts of a case are the rules' own, whichever worker is asked
        case_id, expected_contacts = confirm_case(ingest, running_services, scenario)
        wait_for(
            lambda: contacts(running_services.tracer, running_services, case_id) == expected_contacts,
            timeout=60,
            what="the case's contacts",
        )
        assert contacts(second.url, running_services, case_id) == expected_contacts
        no_exposure_counted_twice(running_services, case_id, expected_contacts)
    finally:
        second.stop()
