"""Exposure tracing end to end, against a brute-force reference written from SPEC §3.3 and §3.4.

The reference below is independent of the tracer: it rebuilds every person's visits from their scans with
nested loops and then finds the F1 and F2 contacts of a case by comparing every visit with every window.
The services run as real processes on a real broker; the tests upload scans through ingest, confirm a case
and compare what the tracer publishes on `exposures.v2` (and serves to the health authority) with it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from antoan_localstack.testing import RunningServices, TopicReader, wait_for
from antoan_shared import events, topics

pytestmark = pytest.mark.integration

T = TypeVar("T")

# The synthetic outbreak: this seed gives 9 F1, 17 F2 (3 F1 also met an F1 before the case) and 13 people unexposed.
SEED = 29
GAP = (480, 1800)  # minutes between a person's episodes

# SPEC defaults: dwell 60 min for every category, the ±1 hour rule, an `out` closes an open visit of at most 12 h.
DWELL = timedelta(minutes=60)
BUFFER = timedelta(minutes=60)
OUT_CLOSES_WITHIN = timedelta(hours=12)
INFECTIOUS_BEFORE_ONSET = timedelta(hours=48)


# --- the brute-force reference (SPEC §3.3, §3.4) ---------------------------------------------------


@dataclass(frozen=True)
class Scan:
    person: str  # person_id
    venue: str  # a venue's name in the scenario
    direction: str  # "in" | "out"
    at: datetime


@dataclass(frozen=True)
class Visit:
    person: str
    venue: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Window:
    spreader: str
    venue: str
    start: datetime
    end: datetime


@dataclass
class Reference:
    visits: list[Visit]
    case_windows: list[Window]
    f1_windows: list[Window]
    # person -> (lowest degree, earliest exposure at that degree)
    contacts: dict[str, tuple[int, datetime]]
    # the window of each contact's earliest exposure at their lowest degree (to explain a difference)
    via: dict[str, Window] = field(default_factory=dict)
    # F1s that are also contacts of another F1, earlier than they met the case (they stay F1, at that time)
    f1_exposed_earlier_by_an_f1: set[str] = field(default_factory=set)

    def degree(self, n: int) -> set[str]:
        return {p for p, (d, _) in self.contacts.items() if d == n}


def build_visits(scans: list[Scan]) -> list[Visit]:
    """SPEC §3.3: per person, in scanned_at order, with at most one open visit."""
    visits: list[Visit] = []
    people = sorted({s.person for s in scans})
    for person in people:
        own = sorted((s for s in scans if s.person == person), key=lambda s: s.at)
        open_venue: str | None = None
        open_start: datetime | None = None
        for scan in own:
            if scan.direction == "in":
                if open_venue == scan.venue and open_start is not None and scan.at - open_start < DWELL:
                    continue  # a duplicate: changes nothing
                if open_venue is not None and open_start is not None:
                    visits.append(Visit(person, open_venue, open_start, min(scan.at, open_start + DWELL)))
                open_venue, open_start = scan.venue, scan.at
            elif open_venue == scan.venue and open_start is not None and scan.at - open_start <= OUT_CLOSES_WITHIN:
                visits.append(Visit(person, open_venue, open_start, scan.at))
                open_venue, open_start = None, None
            else:  # an out on its own; the open visit, if any, is left as it is
                visits.append(Visit(person, scan.venue, scan.at - DWELL, scan.at))
        if open_venue is not None and open_start is not None:  # automatic check-out
            visits.append(Visit(person, open_venue, open_start, open_start + DWELL))
    return visits


def spreading_windows(visits: list[Visit], spreader: str, since: datetime, until: datetime | None) -> list[Window]:
    """The windows of a spreader infectious over [since, until] (until None: no end)."""
    return [
        Window(spreader, v.venue, max(v.start - BUFFER, since), v.end + BUFFER)
        for v in visits
        if v.person == spreader and v.end >= since and (until is None or v.start <= until)
    ]


def contacts_in(visits: list[Visit], windows: list[Window]) -> dict[str, tuple[datetime, Window]]:
    """Every other person with a visit overlapping a window (bounds inclusive), at their earliest exposure."""
    found: dict[str, tuple[datetime, Window]] = {}
    for window in windows:
        for v in visits:
            if (
                v.person != window.spreader
                and v.venue == window.venue
                and v.start <= window.end
                and v.end >= window.start
            ):
                exposed = max(v.start, window.start)
                if v.person not in found or exposed < found[v.person][0]:
                    found[v.person] = (exposed, window)
    return found


def reference(
    scans: list[Scan],
    case_person: str,
    tested_at: datetime,
    onset_at: datetime | None,
    isolated_at: datetime | None,
    confirmed_at: datetime,
) -> Reference:
    """SPEC §3.4 with the default maximum degree 2."""
    visits = build_visits(scans)
    since = (onset_at or tested_at) - INFECTIOUS_BEFORE_ONSET
    until = isolated_at or confirmed_at
    case_windows = spreading_windows(visits, case_person, since, until)
    f1 = contacts_in(visits, case_windows)
    contacts = {person: (1, exposed) for person, (exposed, _) in f1.items()}
    via = {person: window for person, (_, window) in f1.items()}
    f1_windows: list[Window] = []
    also: set[str] = set()
    for spreader, (exposed_at, _) in f1.items():
        windows = spreading_windows(visits, spreader, exposed_at, None)
        f1_windows += windows
        for person, (exposed, window) in contacts_in(visits, windows).items():
            if person in f1:
                if exposed < f1[person][0]:
                    also.add(person)
                continue
            if person == case_person:
                continue
            if person not in contacts or exposed < contacts[person][1]:
                contacts[person] = (2, exposed)
                via[person] = window
    return Reference(visits, case_windows, f1_windows, contacts, via, also)


# --- a synthetic history ------------------------------------------------------------------------------


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 60))


def synthetic_history(
    seed: int, people: list[str], venues: list[str], begin: datetime, end: datetime, case_since: datetime
) -> list[Scan]:
    """Several visits per person: in+out pairs, in-only, out-only, duplicates, moves, long stays, late outs.

    Every scan falls on a whole second at least 2 s away from every other scan, so no two scans ever tie.
    The first person (the case) starts with a visit that straddles the start of their infectious interval.
    """
    rng = random.Random(seed)
    taken: set[int] = set()
    scans: list[Scan] = []

    def place(person: str, venue: str, direction: str, at: datetime) -> None:
        second = int(at.timestamp())
        while taken & {second - 1, second, second + 1}:
            second += 2
        taken.add(second)
        scans.append(Scan(person, venue, direction, datetime.fromtimestamp(second, UTC)))

    episodes = {
        "pair": (5, lambda r: [(timedelta(0), "in"), (_minutes(r, 15, 150), "out")]),
        "duplicate in, then out": (
            2,
            lambda r: [(timedelta(0), "in"), (_minutes(r, 2, 40), "in"), (_minutes(r, 45, 150), "out")],
        ),
        "in only": (3, lambda r: [(timedelta(0), "in")]),
        "duplicate in only": (1, lambda r: [(timedelta(0), "in"), (_minutes(r, 2, 55), "in")]),
        "in again after dwell": (1, lambda r: [(timedelta(0), "in"), (_minutes(r, 65, 110), "in")]),
        "out only": (2, lambda r: [(timedelta(0), "out")]),
        "long stay": (1, lambda r: [(timedelta(0), "in"), (_minutes(r, 180, 600), "out")]),
        "out after 12 h": (1, lambda r: [(timedelta(0), "in"), (_minutes(r, 750, 960), "out")]),
        "move": (2, lambda r: [(timedelta(0), "in"), (_minutes(r, 10, 50), "move-in")]),
        "move, then out": (
            1,
            lambda r: [(timedelta(0), "in"), (_minutes(r, 10, 50), "move-in"), (_minutes(r, 70, 140), "move-out")],
        ),
        "out elsewhere": (1, lambda r: [(timedelta(0), "in"), (_minutes(r, 10, 50), "move-out")]),
    }
    names = list(episodes)
    weights = [episodes[n][0] for n in names]
    for index, person in enumerate(people):
        t = begin + _minutes(rng, 0, 600)
        if index == 0:
            place(person, venues[0], "in", case_since - timedelta(minutes=30))
            place(person, venues[0], "out", case_since + timedelta(minutes=25))
            t = case_since + timedelta(hours=2)
        while True:
            plan = episodes[rng.choices(names, weights)[0]][1](rng)
            venue, other = rng.sample(venues, 2)
            if t + plan[-1][0] > end:
                break
            for offset, what in plan:
                direction = what.removeprefix("move-")
                place(person, other if what.startswith("move-") else venue, direction, t + offset)
            t += plan[-1][0] + _minutes(rng, GAP[0], GAP[1])
    return scans


# --- the services ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ingest(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.ingest, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def tracer(running_services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_services.tracer, timeout=30) as client:
        yield client


@pytest.fixture
def exposures(running_services: RunningServices) -> Iterator[TopicReader]:
    reader = TopicReader(running_services.settings(), topics.EXPOSURES_V2)
    yield reader
    reader.close()


def ha(running_services: RunningServices) -> dict[str, str]:
    return {"authorization": f"Bearer {running_services.ha_token}"}


def register_venues(ingest: httpx.Client, names: list[str]) -> dict[str, dict[str, str]]:
    venues = {}
    for name in names:
        response = ingest.post("/v1/venues", json={"name": f"Quán cà phê {name}", "category": "cafe", "capacity": 100})
        assert response.status_code == 201, response.text
        venues[name] = response.json()
    return venues


def upload(ingest: httpx.Client, venues: dict[str, dict[str, str]], scans: list[Scan]) -> dict[str, str]:
    """One offline upload per phone (batch endpoint); returns person_id -> person_key."""
    keys: dict[str, str] = {}
    by_person: dict[str, list[Scan]] = defaultdict(list)
    for scan in scans:
        by_person[scan.person].append(scan)
    for person, own in by_person.items():
        items = [
            {
                "venue_qr": venues[s.venue]["qr"],
                "person_id": person,
                "direction": s.direction,
                "scanned_at": s.at.isoformat(),
                "app": "pc-covid",
                "client_event_id": f"{person}-{s.at.timestamp():.0f}-{s.direction}",
            }
            for s in sorted(own, key=lambda s: s.at)
        ]
        for start in range(0, len(items), 1000):
            response = ingest.post("/v1/checkins/batch", json={"items": items[start : start + 1000]})
            assert response.status_code == 202, response.text
            for result in response.json()["results"]:
                assert result["status"] == 202, result
                keys[person] = result["result"]["person_key"]
    return keys


def confirm_case(
    ingest: httpx.Client, running_services: RunningServices, person: str, tested_at: datetime, onset_at: datetime
) -> tuple[str, datetime]:
    """Confirms a case; returns its id and its confirmation time as published on cases.v1."""
    case_id = "BN" + uuid.uuid4().hex[:8]
    body = {
        "person_id": person,
        "tested_at": tested_at.isoformat(),
        "onset_at": onset_at.isoformat(),
        "case_id": case_id,
    }
    response = ingest.post("/v1/cases", json=body, headers=ha(running_services))
    assert response.status_code == 202, response.text
    reader = TopicReader(running_services.settings(), topics.CASES)
    try:
        published = reader.wait_until(
            lambda batch: any(isinstance(e, events.CaseConfirmed) and e.case_id == case_id for e in batch),
            what="the case on cases.v1",
        )
    finally:
        reader.close()
    [case] = [e for e in published if isinstance(e, events.CaseConfirmed) and e.case_id == case_id]
    return case_id, case.confirmed_at


def current_degrees(reader: TopicReader, case_id: str) -> dict[str, int]:
    """person_key -> the degree exposures.v2 gives for the case now: its latest record per person, withdrawals
    removing the person (how an agency reduces the exact stream)."""
    latest: dict[str, events.ExposureChanged] = {}
    for e in reader.read():
        if isinstance(e, events.ExposureChanged) and e.case_id == case_id:
            latest[e.person_key] = e
    return {person: e.degree for person, e in latest.items() if not e.withdrawn and e.degree is not None}


def listed_contacts(tracer: httpx.Client, running_services: RunningServices, case_id: str) -> dict[str, Any]:
    response = tracer.get(f"/v1/cases/{case_id}/contacts", headers=ha(running_services))
    if response.status_code == 404:
        return {"contacts": []}
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def by_person(answer: dict[str, Any]) -> dict[str, tuple[int, datetime]]:
    return {c["person_key"]: (c["degree"], datetime.fromisoformat(c["exposed_at"])) for c in answer["contacts"]}


def settled(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 60.0, quiet: float = 2.0) -> T:
    """Polls until what `fetch` returns satisfies `done` and has not changed for `quiet` seconds (or time is up)."""
    deadline = time.monotonic() + timeout
    last = fetch()
    since = time.monotonic()
    while time.monotonic() < deadline:
        value = fetch()
        if value != last:
            last, since = value, time.monotonic()
        elif done(value) and time.monotonic() - since >= quiet:
            break
        time.sleep(0.2)
    return last


def expected_degrees(ref: Reference, keys: dict[str, str]) -> dict[str, int]:
    return {keys[p]: d for p, (d, _) in ref.contacts.items()}


def expected_listing(ref: Reference, keys: dict[str, str]) -> dict[str, tuple[int, datetime]]:
    return {keys[p]: c for p, c in ref.contacts.items()}


def explain(
    ref: Reference,
    keys: dict[str, str],
    expected: dict[str, Any],
    published: dict[str, Any],
    exposures: TopicReader,
    venues: dict[str, dict[str, str]],
) -> str:
    """Each difference, with the person's visits, the reference's reason and what exposures.v2 carries."""
    names = {k: p for p, k in keys.items()}
    venue_names = {v["venue_id"]: name for name, v in venues.items()}
    lines = []
    for key in sorted(set(expected) | set(published)):
        if expected.get(key) != published.get(key):
            person = names.get(key, key)
            own = [(v.venue, v.start.isoformat(), v.end.isoformat()) for v in ref.visits if v.person == person]
            lines.append(f"{person}: expected {expected.get(key)}, published {published.get(key)}; visits {own}")
            if person in ref.via:
                w = ref.via[person]
                lines.append(f"  reference: via {w.spreader} at {w.venue} [{w.start.isoformat()}, {w.end.isoformat()}]")
            for e in exposures.events:
                if isinstance(e, events.ExposureChanged) and e.person_key == key and e.withdrawn:
                    lines.append("  exposures.v2: withdrawn")
                elif isinstance(e, events.ExposureChanged) and e.person_key == key:
                    assert e.window_start and e.window_end and e.exposed_at
                    lines.append(
                        f"  exposures.v2: degree {e.degree} via {names.get(e.source_person_key or '')} at "
                        f"{venue_names.get(e.venue_id or '')} [{e.window_start.isoformat()}, "
                        f"{e.window_end.isoformat()}] exposed_at {e.exposed_at.isoformat()}"
                    )
    return "\n".join(lines)


def explain_visits(
    scans: list[Scan],
    keys: dict[str, str],
    venues: dict[str, dict[str, str]],
    missing: set[tuple[str, str, datetime, datetime]],
    published: set[tuple[str, str, datetime, datetime]],
) -> str:
    """For each person with a reference visit missing from visits.v1: their scans and both sets of visits."""
    names = {k: p for p, k in keys.items()}
    venue_names = {v["venue_id"]: name for name, v in venues.items()}
    lines = []
    for key in sorted({m[0] for m in missing}):
        person = names[key]
        lines.append(f"{person}:")
        for scan in sorted((s for s in scans if s.person == person), key=lambda s: s.at):
            lines.append(f"  scan {scan.direction:3} {scan.venue} {scan.at.isoformat()}")
        for kind, found in (("missing", missing), ("visits.v1", published)):
            for _, venue_id, start, end in sorted(v for v in found if v[0] == key):
                lines.append(f"  {kind} {venue_names.get(venue_id)} [{start.isoformat()}, {end.isoformat()}]")
    return "\n".join(lines)


# --- the tests ------------------------------------------------------------------------------------


def test_an_outbreak_s_published_contacts_equal_the_brute_force_reference(
    ingest: httpx.Client, tracer: httpx.Client, running_services: RunningServices, exposures: TopicReader
) -> None:
    # Given 40 people's last four days at 6 cafés, uploaded phone by phone
    now = datetime.now(UTC).replace(microsecond=0)
    tested_at, onset_at = now - timedelta(hours=24), now - timedelta(hours=47)
    since = onset_at - INFECTIOUS_BEFORE_ONSET
    people = [f"0913{i:06d}" for i in range(40)]
    names = [f"V{i}" for i in range(6)]
    scans = synthetic_history(
        SEED, people, names, begin=now - timedelta(hours=100), end=now - timedelta(hours=3), case_since=since
    )
    assert all(now - timedelta(days=20) < s.at < now - timedelta(minutes=10) for s in scans)
    venues = register_venues(ingest, names)
    keys = upload(ingest, venues, scans)
    case = people[0]
    # and the tracer has built their visits
    built = {(keys[v.person], venues[v.venue]["venue_id"], v.start, v.end) for v in build_visits(scans)}
    visits = TopicReader(running_services.settings(), topics.VISITS)
    try:

        def closed() -> set[tuple[str, str, datetime, datetime]]:
            return {
                (e.person_key, e.venue_id, e.visit_start, e.visit_end)
                for e in visits.read()
                if isinstance(e, events.VisitClosed)
            }

        published_visits = settled(closed, lambda found: built <= found)
    finally:
        visits.close()

    # When the health authority confirms the case of one of them
    confirming = time.monotonic()
    case_id, confirmed_at = confirm_case(ingest, running_services, case, tested_at, onset_at)
    ref = reference(scans, case, tested_at, onset_at, None, confirmed_at)
    f1, f2 = ref.degree(1), ref.degree(2)
    print(
        f"\n{len(scans)} scans, {len(ref.visits)} visits, {len(ref.case_windows)} case windows: "
        f"{len(f1)} F1, {len(f2)} F2, {len(ref.f1_exposed_earlier_by_an_f1)} F1 exposed by an F1 first, "
        f"{len(people) - 1 - len(ref.contacts)} not exposed"
    )
    assert len(f1) >= 3 and len(f2) >= 3 and ref.f1_exposed_earlier_by_an_f1, "the scenario must exercise F1 and F2"
    assert len(ref.contacts) < len(people) - 1, "the scenario must leave someone unexposed"
    expected = expected_degrees(ref, keys)
    f1_keys = {keys[p] for p in f1}
    f1_seen_at: dict[str, float] = {}

    def published() -> dict[str, int]:
        lowest = current_degrees(exposures, case_id)
        for key, degree in lowest.items():
            if degree == 1 and key in f1_keys:
                f1_seen_at.setdefault(key, time.monotonic())
        return lowest

    # Then exposures.v2 carries every contact at their lowest degree, and nobody else
    degrees = settled(published, lambda found: found == expected)
    missing = built - published_visits
    assert degrees == expected, (
        f"published contacts differ from the reference:\n{explain(ref, keys, expected, degrees, exposures, venues)}"
        + (f"\n(and {len(missing)} reference visits were never published on visits.v1)" if missing else "")
    )
    first_f1 = {}
    for e in exposures.events:
        if isinstance(e, events.ExposureChanged) and e.case_id == case_id and e.degree == 1:
            first_f1.setdefault(e.person_key, e.occurred_at)
    print(
        f"case confirmed -> last F1 on exposures.v2: {(max(first_f1.values()) - confirmed_at).total_seconds():.2f}s "
        f"(by the events' occurred_at; {max(f1_seen_at.values()) - confirming:.2f}s as seen by this test)"
    )
    # And venue-exposures.v1 has the case's windows, without any person data
    venue_names = {v["venue_id"]: name for name, v in venues.items()}
    case_windows = {(venues[w.venue]["venue_id"], w.start, w.end) for w in ref.case_windows}
    reader = TopicReader(running_services.settings(), topics.VENUE_EXPOSURES)
    try:

        def of_the_case() -> list[events.VenueExposureRecorded]:
            return [e for e in reader.read() if isinstance(e, events.VenueExposureRecorded) and e.case_id == case_id]

        recorded = settled(
            of_the_case,
            lambda found: case_windows <= {(e.venue_id, e.window_start, e.window_end) for e in found},
        )
        record_keys = list(reader.keys)
    finally:
        reader.close()
    by_the_case = {(e.venue_id, e.window_start, e.window_end) for e in recorded if e.spreader_degree == 0}
    assert by_the_case == case_windows, (
        f"missing {sorted(case_windows - by_the_case)}, extra {sorted(by_the_case - case_windows)}"
    )
    text = " ".join(e.model_dump_json() for e in recorded)
    assert "person_key" not in text
    assert not any(key in text for key in keys.values())
    assert {k.decode() for k in record_keys} <= set(venue_names)
    # And the health authority's list has each person once, at their lowest degree and earliest exposure
    listing_expected = expected_listing(ref, keys)
    answer = settled(
        lambda: listed_contacts(tracer, running_services, case_id),
        lambda a: by_person(a) == listing_expected,
    )
    listing = by_person(answer)
    assert len(answer["contacts"]) == len(listing), "a person is listed more than once"
    differences = explain(ref, keys, listing_expected, listing, exposures, venues)
    assert listing == listing_expected, f"listed contacts differ from the reference:\n{differences}"
    # And visits.v1 has every visit of the history (the automatic check-outs included)
    assert missing == set(), f"{len(missing)} reference visits never published on visits.v1:\n" + explain_visits(
        scans, keys, venues, missing, published_visits
    )


@dataclass
class Tracing:
    """A small scenario traced live: what has been uploaded so far, its case, and the checks against the reference."""

    ingest: httpx.Client
    tracer: httpx.Client
    services: RunningServices
    exposures: TopicReader
    venues: dict[str, dict[str, str]]
    scans: list[Scan] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    case: str = ""
    tested_at: datetime | None = None
    onset_at: datetime | None = None
    case_id: str = ""
    confirmed_at: datetime | None = None

    def upload(self, scans: list[Scan]) -> None:
        self.keys |= upload(self.ingest, self.venues, scans)
        self.scans += scans

    def confirm(self, person: str, tested_at: datetime, onset_at: datetime) -> None:
        self.case, self.tested_at, self.onset_at = person, tested_at, onset_at
        self.case_id, self.confirmed_at = confirm_case(self.ingest, self.services, person, tested_at, onset_at)

    def reference(self) -> Reference:
        assert self.tested_at is not None and self.confirmed_at is not None
        return reference(self.scans, self.case, self.tested_at, self.onset_at, None, self.confirmed_at)

    def published(self) -> dict[str, int]:
        return current_degrees(self.exposures, self.case_id)

    def check(self, what: str) -> float:
        """Waits until exposures.v2 and the contact list agree with the reference; returns the seconds it took
        exposures.v2 to get there."""
        started = time.monotonic()
        ref = self.reference()
        expected = expected_degrees(ref, self.keys)
        reached: list[float] = []

        def degrees_now() -> dict[str, int]:
            found = self.published()
            if found == expected and not reached:
                reached.append(time.monotonic() - started)
            return found

        degrees = settled(degrees_now, lambda found: found == expected)
        assert degrees == expected, (
            f"{what}:\n{explain(ref, self.keys, expected, degrees, self.exposures, self.venues)}"
        )
        listing_expected = expected_listing(ref, self.keys)
        listing = settled(
            lambda: by_person(listed_contacts(self.tracer, self.services, self.case_id)),
            lambda found: found == listing_expected,
        )
        differences = explain(ref, self.keys, listing_expected, listing, self.exposures, self.venues)
        assert listing == listing_expected, f"{what}:\n{differences}"
        return reached[0]


def test_a_late_upload_after_the_case_still_yields_its_exposure(
    ingest: httpx.Client, tracer: httpx.Client, running_services: RunningServices, exposures: TopicReader
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    def ago(hours: int, minutes: int = 0) -> datetime:
        return now - timedelta(hours=hours, minutes=minutes)

    case, seated, late, met_the_case, came_after = (f"0914{i:06d}" for i in range(5))
    tracing = Tracing(ingest, tracer, running_services, exposures, register_venues(ingest, ["A", "B"]))
    # Given the case's visit to A ~30 h ago, someone seated beside them, and two people at B later on
    tracing.upload(
        [
            Scan(case, "A", "in", ago(30)),
            Scan(case, "A", "out", ago(29)),
            Scan(seated, "A", "in", ago(29, 40)),
            Scan(seated, "A", "out", ago(28, 50)),
            Scan(met_the_case, "B", "in", ago(20)),
            Scan(met_the_case, "B", "out", ago(19)),
            Scan(came_after, "B", "in", ago(18, 20)),  # after the case's window at B, within met_the_case's
            Scan(came_after, "B", "out", ago(17, 50)),
        ]
    )
    # and the case confirmed, with the one contact it has so far
    tracing.confirm(case, tested_at=ago(24), onset_at=ago(48))
    assert expected_degrees(tracing.reference(), tracing.keys) == {tracing.keys[seated]: 1}
    tracing.check("the contacts before any late upload")

    # When a phone that was offline uploads now its scans at A from ~30 h ago
    tracing.upload([Scan(late, "A", "in", ago(30, -10)), Scan(late, "A", "out", ago(29, -20))])
    # Then its owner is an F1 within seconds
    took = tracing.check("after a contact's late upload")
    print(f"\nlate upload -> the new F1 on exposures.v2: {took:.2f}s")
    assert tracing.published()[tracing.keys[late]] == 1

    # When the case's own phone uploads a visit to B it had not uploaded before
    tracing.upload([Scan(case, "B", "in", ago(20, 10)), Scan(case, "B", "out", ago(19, 30))])
    # Then the people at B during the case's window become F1, and those who met them there afterwards F2:
    # the upload's `in` and `out` are processed one after the other, and a contact found through the window of
    # the moment in between (the visit still open, so an hour long) is corrected once the `out` shrinks it
    took = tracing.check("after the case's own late upload")
    print(f"the case's late upload -> the new F1 and F2 on exposures.v2: {took:.2f}s")
    assert {tracing.keys[p]: d for p, d in ((met_the_case, 1), (came_after, 2))}.items() <= tracing.published().items()


def test_a_late_upload_revealing_an_earlier_exposure_moves_the_exposure_time_back(
    ingest: httpx.Client, tracer: httpx.Client, running_services: RunningServices, exposures: TopicReader
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    def ago(hours: int, minutes: int = 0) -> datetime:
        return now - timedelta(hours=hours, minutes=minutes)

    case, contact, met_the_contact = (f"0915{i:06d}" for i in range(3))
    tracing = Tracing(ingest, tracer, running_services, exposures, register_venues(ingest, ["C1", "C2", "C3"]))
    # Given a case at C1 ~50 h ago and at C2 ~26 h ago, a contact seen at C2 only, and someone at C3 ~39 h ago
    tracing.upload(
        [
            Scan(case, "C1", "in", ago(50)),
            Scan(case, "C1", "out", ago(49)),
            Scan(case, "C2", "in", ago(26)),
            Scan(case, "C2", "out", ago(25)),
            Scan(contact, "C2", "in", ago(25, 40)),
            Scan(contact, "C2", "out", ago(25, 10)),
            Scan(met_the_contact, "C3", "in", ago(39, 30)),
            Scan(met_the_contact, "C3", "out", ago(38, 50)),
        ]
    )
    tracing.confirm(case, tested_at=ago(24), onset_at=ago(48))
    tracing.check("before the late upload")  # the contact is an F1 exposed ~25 h ago
    # When the contact's phone uploads late that they were at C1 with the case, and at C3 ~40 h ago
    tracing.upload(
        [
            Scan(contact, "C1", "in", ago(49, 30)),
            Scan(contact, "C1", "out", ago(48, 40)),
            Scan(contact, "C3", "in", ago(40)),
            Scan(contact, "C3", "out", ago(39)),
        ]
    )
    # Then the contact's exposure is the earlier one, and who they met at C3 since is an F2
    ref = tracing.reference()
    assert ref.contacts[contact] == (1, ago(49, 30)) and ref.contacts[met_the_contact] == (2, ago(39, 30))
    tracing.check("after the late upload")


def test_contacts_need_the_health_authority_token(
    ingest: httpx.Client, tracer: httpx.Client, running_services: RunningServices
) -> None:
    # Given a confirmed case
    now = datetime.now(UTC).replace(microsecond=0)
    case_id, _ = confirm_case(
        ingest, running_services, "0919000001", now - timedelta(hours=2), now - timedelta(hours=5)
    )
    path = f"/v1/cases/{case_id}/contacts"
    # When its contacts are asked for without a token, or with a wrong one
    without = tracer.get(path)
    wrong = tracer.get(path, headers={"authorization": "Bearer not-the-token"})
    # Then they are refused, each with a machine-readable code
    assert without.status_code == 401, without.text
    assert wrong.status_code == 403, wrong.text
    assert without.json()["error"]["code"] and wrong.json()["error"]["code"]
    # while the health authority's token reads them
    wait_for(lambda: tracer.get(path, headers=ha(running_services)).status_code == 200, what="the list")
