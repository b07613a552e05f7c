"""The person and venue stages wired in memory (`LocalPipeline`): corrections, withdrawals, occupancy, state size.

Each test feeds the inbox messages the tracer's input topics would give (check-ins and case confirmations),
runs the production stages until the stream is quiet and reads what they published, reduced as a subscriber
would: exposures.v2 latest per (case, person), occupancy.v1 latest per venue.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from antoan_shared import topics
from antoan_shared.events import (
    CaseConfirmed,
    CheckInApp,
    CheckInRecorded,
    Direction,
    ExposureChanged,
    OccupancyChanged,
    VisitClosed,
)
from antoan_tracer.domain.localrun import LocalPipeline
from antoan_tracer.domain.outputs import VisitRecord
from antoan_tracer.domain.person import PersonRules, PersonStage, case_message, scan_message
from antoan_tracer.domain.store import DictStore, DictStores
from antoan_tracer.domain.times import to_us, us_of
from antoan_tracer.domain.venue import VenueStage

DAY = datetime(2021, 9, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DWELL = HOUR  # every venue
BUFFER = HOUR  # the ±1 hour rule
BUCKET = HOUR


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> int:
        return to_us(self.now)


class Tracer:
    """The two stages on in-memory stores and queues, fed the way the input topics feed them."""

    def __init__(self, clock: Clock | None = None, *, partitions: int = 2, max_degree: int = 2) -> None:
        self.clock = clock or Clock(at(23))
        rules = PersonRules(dwell=lambda _: DWELL, buffer=BUFFER, retention=timedelta(days=21), max_degree=max_degree)
        self.run = LocalPipeline(
            PersonStage(rules, self.clock), VenueStage(us_of(BUCKET), self.clock), partitions=partitions
        )
        self._ids = itertools.count()

    def scan(self, person: str, venue: str, direction: str, when: datetime, event_id: str | None = None) -> str:
        event = CheckInRecorded(
            event_id=event_id or f"scan-{next(self._ids):06d}",
            producer="ingest",
            venue_id=venue,
            person_key=person,
            direction=Direction(direction),
            scanned_at=when,
            app=CheckInApp.PC_COVID,
        )
        self.run.to_person(person, scan_message(event))
        return event.event_id

    def visit(self, person: str, venue: str, came: datetime, left: datetime) -> None:
        """An in and an out scan."""
        self.scan(person, venue, "in", came)
        self.scan(person, venue, "out", left)

    def confirm(self, case_id: str, person: str, since: datetime, until: datetime) -> None:
        """A case infectious over [since, until]: tested 48 h after `since`, confirmed at `until`."""
        event = CaseConfirmed(
            producer="health",
            case_id=case_id,
            person_key=person,
            tested_at=since + timedelta(hours=48),
            confirmed_at=until,
        )
        self.run.to_person(person, case_message(event))

    def settle(self) -> None:
        self.run.run()

    def tick(self, now: datetime) -> None:
        self.clock.now = now
        self.run.tick(to_us(now))
        self.run.run()

    def exposures(self) -> dict[tuple[str, str], tuple[int | None, datetime | None]]:
        return {key: (e.degree, e.exposed_at) for key, e in self.run.exposures().items()}

    def exposure_records(self) -> list[ExposureChanged]:
        return [e for e in self.run.events(topics.EXPOSURES_V2) if isinstance(e, ExposureChanged)]

    def withdrawn(self) -> set[tuple[str, str]]:
        return {(e.case_id, e.person_key) for e in self.exposure_records() if e.withdrawn}

    def occupancy(self, venue: str) -> int:
        return self.run.occupancy().get(venue, 0)


# --- corrections and withdrawals -------------------------------------------------------------------


def test_a_late_out_that_shrinks_the_spreaders_visit_withdraws_a_contact() -> None:
    # Given a case who checked in at 10:00 with no out yet (open until 11:00: window 09:00–12:00)
    tracer = Tracer()
    tracer.scan("case", "cafe", "in", at(10))
    tracer.confirm("c1", "case", at(8), at(20))
    # and someone who came at 11:30, inside that window: an F1
    tracer.scan("p1", "cafe", "in", at(11, 30))
    tracer.settle()
    assert tracer.exposures() == {("c1", "p1"): (1, at(11, 30))}
    # When the case's out at 10:05 is uploaded late (the window shrinks to 09:00–11:05)
    tracer.scan("case", "cafe", "out", at(10, 5))
    tracer.settle()
    # Then the contact is withdrawn with an explicit record, and no longer reported
    assert tracer.withdrawn() == {("c1", "p1")}
    assert tracer.exposure_records()[-1].withdrawn
    assert tracer.exposures() == {}


def test_an_f2_found_through_an_f1_is_withdrawn_when_the_f1_is_withdrawn() -> None:
    # Given a case at the cafe from 10:00 (open), an F1 there at 11:30, who went to the bar at 14:00,
    # where someone was at 14:30: an F2 through the F1
    tracer = Tracer()
    tracer.scan("case", "cafe", "in", at(10))
    tracer.confirm("c1", "case", at(8), at(20))
    tracer.scan("f1", "cafe", "in", at(11, 30))
    tracer.scan("f1", "bar", "in", at(14))
    tracer.scan("f2", "bar", "in", at(14, 30))
    tracer.settle()
    assert tracer.exposures() == {("c1", "f1"): (1, at(11, 30)), ("c1", "f2"): (2, at(14, 30))}
    # When the case's late out at 10:05 shows the F1 was never a contact
    tracer.scan("case", "cafe", "out", at(10, 5))
    tracer.settle()
    # Then the F1 is withdrawn, and so in turn is the F2 found through them
    assert tracer.withdrawn() == {("c1", "f1"), ("c1", "f2")}
    assert tracer.exposures() == {}


def test_a_corrected_case_interval_corrects_an_exposure_time() -> None:
    # Given someone at the market all morning (06:00–12:00) and a case there 09:00–10:00
    tracer = Tracer()
    tracer.scan("p1", "market", "in", at(6))
    tracer.scan("p1", "market", "out", at(12))
    tracer.scan("case", "market", "in", at(9))
    tracer.scan("case", "market", "out", at(10))
    # and the case first confirmed as infectious from 08:30: the window opens at 08:30
    tracer.confirm("c1", "case", at(8, 30), at(20))
    tracer.settle()
    assert tracer.exposures() == {("c1", "p1"): (1, at(8, 30))}
    # When the case is confirmed again with an earlier onset (infectious from 07:00)
    tracer.confirm("c1", "case", at(7), at(20))
    tracer.settle()
    # Then the window opens an hour before the case's visit, and the exposure time follows
    assert tracer.exposures() == {("c1", "p1"): (1, at(8))}


def test_a_late_earlier_scan_moves_an_exposure_time_back() -> None:
    # Given a case at the cafe 10:00–11:00 (window 09:00–12:00) and someone whose scan at 10:30 arrived
    tracer = Tracer()
    tracer.scan("case", "cafe", "in", at(10))
    tracer.scan("case", "cafe", "out", at(11))
    tracer.confirm("c1", "case", at(8), at(20))
    tracer.scan("p1", "cafe", "in", at(10, 30))
    tracer.settle()
    assert tracer.exposures() == {("c1", "p1"): (1, at(10, 30))}
    # When their phone uploads an earlier scan in at 09:40 (the 10:30 one becomes a duplicate of it)
    tracer.scan("p1", "cafe", "in", at(9, 40))
    tracer.settle()
    # Then the exposure time moves back to 09:40
    assert tracer.exposures() == {("c1", "p1"): (1, at(9, 40))}


def test_the_case_is_never_its_own_contact() -> None:
    # Given a case who visited the cafe twice (their windows overlap their own visits) and an F1 whose
    # window at the cafe overlaps the case's second visit
    tracer = Tracer()
    tracer.visit("case", "cafe", at(10), at(10, 30))
    tracer.visit("case", "cafe", at(11), at(11, 20))
    tracer.visit("f1", "cafe", at(10, 45), at(11, 50))
    # When the case is confirmed
    tracer.confirm("c1", "case", at(8), at(20))
    tracer.settle()
    # Then only the F1 is reported: the case is neither an F1 of their own windows nor an F2 through the F1
    assert tracer.exposures() == {("c1", "f1"): (1, at(10, 45))}
    assert all(e.person_key != "case" for e in tracer.exposure_records())


def test_duplicates_change_nothing() -> None:
    # Given a history with a case and contacts, run until quiet
    tracer = Tracer(Clock(at(10, 15)))
    tracer.scan("case", "cafe", "in", at(10), event_id="e1")
    tracer.scan("case", "cafe", "out", at(10, 30), event_id="e2")
    tracer.scan("p1", "cafe", "in", at(10, 10), event_id="e3")
    tracer.scan("p2", "cafe", "in", at(9), event_id="e4")
    tracer.scan("p2", "cafe", "out", at(9, 30), event_id="e5")
    tracer.confirm("c1", "case", at(8), at(20))
    tracer.settle()
    published = len(tracer.run.published)
    before = (tracer.exposures(), tracer.run.occupancy())
    assert before == ({("c1", "p1"): (1, at(10, 10)), ("c1", "p2"): (1, at(9))}, {"cafe": 1})
    # When every scan is delivered again, a second in within dwell is scanned, and the case confirmed again
    tracer.scan("case", "cafe", "in", at(10), event_id="e1")
    tracer.scan("case", "cafe", "out", at(10, 30), event_id="e2")
    tracer.scan("p1", "cafe", "in", at(10, 10), event_id="e3")
    tracer.scan("p2", "cafe", "in", at(9), event_id="e4")
    tracer.scan("p2", "cafe", "out", at(9, 30), event_id="e5")
    tracer.scan("p1", "cafe", "in", at(10, 12), event_id="e6")
    tracer.confirm("c1", "case", at(8), at(20))
    tracer.settle()
    # Then nothing more is published and nothing changes
    assert len(tracer.run.published) == published
    assert (tracer.exposures(), tracer.run.occupancy()) == before


# --- occupancy -------------------------------------------------------------------------------------


def test_occupancy_counts_an_open_visit() -> None:
    # Given the clock at 10:20
    tracer = Tracer(Clock(at(10, 20)))
    # When two people check in at the cafe and one of them checks out
    tracer.scan("p1", "cafe", "in", at(10))
    tracer.scan("p2", "cafe", "in", at(10, 5))
    tracer.scan("p2", "cafe", "out", at(10, 15))
    tracer.settle()
    # Then one open visit counts
    assert tracer.occupancy("cafe") == 1


def test_an_open_visit_leaves_occupancy_at_its_automatic_check_out_on_a_tick_with_no_scan() -> None:
    # Given someone checked in at 10:00 and never out (automatic check-out at 11:00 with a 60 min dwell)
    tracer = Tracer(Clock(at(10, 20)))
    tracer.scan("p1", "cafe", "in", at(10))
    tracer.settle()
    assert tracer.occupancy("cafe") == 1
    # When the ticker ticks a minute before the check-out, there is nothing yet to change
    tracer.tick(at(10, 59))
    assert tracer.occupancy("cafe") == 1
    # When it ticks at the check-out, with no new scan
    tracer.tick(at(11))
    # Then the visit no longer counts, as of that tick
    assert tracer.occupancy("cafe") == 0
    last = tracer.run.events(topics.OCCUPANCY)[-1]
    assert isinstance(last, OccupancyChanged)
    assert last.as_of == at(11)


def test_a_scan_ahead_of_the_clock_counts_from_its_time_on_a_tick() -> None:
    # Given the clock at 10:00 and a phone whose clock runs 3 minutes ahead
    tracer = Tracer(Clock(at(10)))
    tracer.scan("p1", "cafe", "in", at(10, 3))
    tracer.settle()
    assert tracer.occupancy("cafe") == 0
    # When the ticker reaches the scan's time
    tracer.tick(at(10, 3))
    # Then the visit counts
    assert tracer.occupancy("cafe") == 1


# --- state that does not grow with a venue's traffic --------------------------------------------------


class RecordingStore(DictStore):
    """A DictStore that remembers every range it was asked to scan and how many entries it gave."""

    def __init__(self) -> None:
        super().__init__()
        self.scans: list[tuple[str, str, int]] = []

    def scan(self, start: str, stop: str) -> Iterator[tuple[str, Any]]:
        found = list(super().scan(start, stop))
        self.scans.append((start, stop, len(found)))
        return iter(found)


class RecordingStores(DictStores):
    def of(self, message_key: str) -> DictStore:
        store = self.by_key.get(message_key)
        if store is None:
            store = self.by_key[message_key] = RecordingStore()
        return store


def venue_with_visits(count: int) -> Tracer:
    """`count` people, one a minute from midnight, each staying 30 minutes at the market."""
    tracer = Tracer(Clock(DAY + count * MINUTE), max_degree=1)  # F1s only: the busy venue is what is measured
    tracer.run.venue_stores = [RecordingStores() for _ in tracer.run.venue_stores]
    for i in range(count):
        person = f"p{i:05d}"
        tracer.scan(person, "market", "in", DAY + i * MINUTE)
        tracer.scan(person, "market", "out", DAY + i * MINUTE + 30 * MINUTE)
    tracer.settle()
    return tracer


def largest_value(tracer: Tracer) -> int:
    """The size in bytes of the largest value any store holds, as JSON."""
    return max(
        len(json.dumps(value))
        for stores in (*tracer.run.person_stores, *tracer.run.venue_stores)
        for store in stores.by_key.values()
        for value in store.data.values()
    )


def market_store(tracer: Tracer) -> RecordingStore:
    (store,) = [stores.by_key["market"] for stores in tracer.run.venue_stores if "market" in stores.by_key]
    assert isinstance(store, RecordingStore)
    return store


def test_a_busy_venue_stores_no_value_that_grows_with_its_visits_and_a_window_reads_only_its_buckets() -> None:
    # Given a market with 5,000 visits over three and a half days, and a quiet one with 50
    busy, quiet = venue_with_visits(5000), venue_with_visits(50)
    # Then no stored value is larger at the busy market than at the quiet one, and every value is small (the
    # largest is a person's record: two scans and the visit builder's state after them)
    assert largest_value(busy) <= largest_value(quiet) < 256
    assert sum(1 for key in market_store(busy).data if key.startswith("x|")) == 5000
    # When a case who was at the busy market 20:00–21:00 on the second day is confirmed
    store = market_store(busy)
    store.scans.clear()
    day2 = DAY + timedelta(days=1)
    busy.scan("case", "market", "in", day2 + 20 * HOUR)
    busy.scan("case", "market", "out", day2 + 21 * HOUR)
    busy.confirm("c1", "case", day2, day2 + 23 * HOUR)
    busy.settle()
    # Then the window (19:00–22:00) reads the visits of the four hour buckets it overlaps and nothing else
    window_start, window_end = day2 + 19 * HOUR, day2 + 22 * HOUR
    buckets = range(to_us(window_start) // us_of(BUCKET), to_us(window_end) // us_of(BUCKET) + 1)
    window_reads = [(start, read) for start, _, read in store.scans if start.startswith("v|")]
    assert {start for start, _ in window_reads} >= {f"v|{bucket:09d}|" for bucket in buckets}
    assert all(int(start.split("|")[1]) in buckets for start, _ in window_reads)
    assert sum(read for _, read in window_reads) < 500  # of 5,000 visits
    # and finds exactly the people whose visit overlaps the window: arrived 18:30–22:00
    f1 = {person for (_, person), (degree, _) in busy.exposures().items() if degree == 1}
    arrived = range((day2 + 18 * HOUR + 30 * MINUTE - DAY) // MINUTE, (window_end - DAY) // MINUTE + 1)
    assert f1 == {f"p{i:05d}" for i in arrived}


def test_a_scan_after_all_of_a_persons_scans_costs_the_same_however_many_they_have() -> None:
    # Given a person who checked in at 1,500 venues, one a minute (each venue's stay is looked up once per build)
    looked_up: list[str] = []

    def dwell(venue: str) -> timedelta:
        looked_up.append(venue)
        return HOUR

    stage = PersonStage(PersonRules(dwell=dwell, buffer=BUFFER, retention=timedelta(days=21)), Clock(at(72)))
    stores = DictStores()

    def scan(number: int) -> list[Any]:
        message = {"k": "scan", "id": f"e{number:05d}", "v": f"v{number:05d}", "t": to_us(at(0, number)), "d": "in"}
        return stage.handle(stores, "p", message)

    for number in range(1500):
        scan(number)
    # When one more comes, after all of them
    looked_up.clear()
    published = scan(1500)
    # Then the stage went on from where the last scan left the person's visits: it looked up the stays of two
    # venues (the visit it closed and the one it opened), not of every venue the person was at
    assert sorted(set(looked_up)) == ["v01499", "v01500"]
    visits = {out.value.visit_id: out.value.closed_by for out in published if out.spec == topics.VISITS}
    assert visits == {"e01499": "moved", "e01500": "auto_checkout"}


def test_a_record_changed_by_a_tracer_from_before_the_saved_visit_state_is_built_from_its_scans() -> None:
    # Given a person's record as a tracer from before the saved builder state would leave it: it kept `b` as it
    # was while it took a late scan in (at another venue, within an open visit) and let the oldest scan go, so
    # the record still has as many scans as `b` says
    stage = PersonStage(PersonRules(dwell=lambda _: HOUR, buffer=BUFFER, retention=timedelta(days=21)), Clock(at(72)))
    stores = DictStores()

    def scan(event_id: str, venue: str, when: datetime) -> list[Any]:
        message = {"k": "scan", "id": event_id, "v": venue, "t": to_us(when), "d": "in"}
        return stage.handle(stores, "p", message)

    for number, hour in enumerate((1, 3, 5)):
        scan(f"e{number}", "home", at(hour))
    record = stores.of("p").get("p")
    record["s"] = sorted([*record["s"][1:], [to_us(at(5, 30)), "late", "shop", "in"]])
    stores.of("p").set("p", record)
    # When a scan comes after all of them
    published = scan("e3", "home", at(7))
    # Then what it published is the difference between the visits of the scans without it and with it
    visits = {
        out.value.visit_id: (out.value.closed_by, out.value.open) for out in published if out.spec == topics.VISITS
    }
    assert visits == {"late": ("auto_checkout", False), "e3": ("auto_checkout", True)}


def f1s_at_a_hall(f1_count: int, others: int) -> Tracer:
    """A case with `f1_count` F1 from a clinic (08:00–09:00), who all went on to a hall 12:00–13:00 where
    `others` people were too: every F1's window at the hall matches every one of them."""
    tracer = Tracer()
    tracer.run.venue_stores = [RecordingStores() for _ in tracer.run.venue_stores]
    tracer.visit("case", "clinic", at(8), at(9))
    for i in range(f1_count):
        tracer.visit(f"f{i:03d}", "clinic", at(8, 10), at(8, 50))
        tracer.visit(f"f{i:03d}", "hall", at(12), at(13))
    for i in range(others):
        tracer.visit(f"q{i:03d}", "hall", at(12, 30), at(13, 30))
    tracer.settle()
    return tracer


def hall_store(tracer: Tracer) -> RecordingStore:
    (store,) = [stores.by_key["hall"] for stores in tracer.run.venue_stores if "hall" in stores.by_key]
    assert isinstance(store, RecordingStore)
    return store


def test_a_window_at_a_venue_where_a_case_has_many_f1_reads_none_of_their_matches() -> None:
    # Given 30 F1 of one case who were at a hall with 20 other people (every F1's window matches all of them)
    tracer = f1s_at_a_hall(30, 20)
    store = hall_store(tracer)
    store.scans.clear()
    # When the case is confirmed, and the F1s' 30 windows arrive at the hall one after another
    tracer.confirm("c1", "case", at(6), at(20))
    tracer.settle()
    # Then the 20 are F2 (exposed 12:30) and the F1 stay F1
    exposures = tracer.exposures()
    assert {p for (_, p), (degree, _) in exposures.items() if degree == 2} == {f"q{i:03d}" for i in range(20)}
    assert exposures[("c1", "q000")] == (2, at(12, 30))
    assert {p for (_, p), (degree, _) in exposures.items() if degree == 1} == {f"f{i:03d}" for i in range(30)}
    # And no window read the matches the earlier windows had made: a match that appears is compared with the
    # best kept for that person alone (before, each of the 30 windows read up to 30 matches per person)
    assert [(start, read) for start, _, read in store.scans if start.startswith("m|")] == []


def test_when_the_match_that_was_a_contacts_best_goes_the_next_best_is_reported() -> None:
    # Given a case at a clinic from 08:00 with no out yet (open until 09:00: window 07:00–10:00), and two F1
    # there: f0 09:30–09:40 and f1 08:10–08:50
    tracer = Tracer()
    tracer.scan("case", "clinic", "in", at(8))
    for f1, came, left in (("f0", at(9, 30), at(9, 40)), ("f1", at(8, 10), at(8, 50))):
        tracer.visit(f1, "clinic", came, left)
    # who went on to a hall, f0 10:00–10:30 (window 09:00–11:30) and f1 12:00–12:30 (window 11:00–13:30),
    # where q was 10:45–12:15: both windows cover q, f0's from earlier
    tracer.visit("f0", "hall", at(10), at(10, 30))
    tracer.visit("f1", "hall", at(12), at(12, 30))
    tracer.visit("q", "hall", at(10, 45), at(12, 15))
    tracer.confirm("c1", "case", at(6), at(20))
    tracer.settle()
    # Then q is an F2 from 10:45, through f0
    assert tracer.exposures()[("c1", "q")] == (2, at(10, 45))
    assert [e for e in tracer.exposure_records() if e.person_key == "q"][-1].source_person_key == "f0"
    # When the case's out at 08:05 is uploaded late (window 07:00–09:05): f0 was never an F1
    tracer.scan("case", "clinic", "out", at(8, 5))
    tracer.settle()
    # Then f0 is no longer an F1 (only an F2, through f1 at the clinic, so f0's windows are gone), and q, whose
    # best match went with f0's window at the hall, is corrected to the next best: through f1, from 11:00
    assert tracer.exposures()[("c1", "f0")][0] == 2
    assert tracer.exposures()[("c1", "q")] == (2, at(11))
    assert [e for e in tracer.exposure_records() if e.person_key == "q"][-1].source_person_key == "f1"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    history=st.lists(
        st.tuples(st.integers(0, 48 * 60), st.sampled_from(["v0", "v1", "v2"]), st.sampled_from(["in", "out"])),
        max_size=40,
    ),
    new=st.tuples(st.integers(0, 48 * 60), st.sampled_from(["v0", "v1", "v2"]), st.sampled_from(["in", "out"])),
    max_scans=st.sampled_from([3, 10, 2000]),
    spreads=st.booleans(),
)
def test_a_new_scan_publishes_what_building_every_visit_again_would(
    history: list[tuple[int, str, str]], new: tuple[int, str, str], max_scans: int, spreads: bool
) -> None:
    """The person stage builds the visits before a new scan once and the rest twice (with and without it);
    what it publishes must be the difference between all the visits without the scan and all with it."""
    # Given a person's scans (kept at most `max_scans`), perhaps a case's own, and a new scan anywhere among them
    dwell = {"v0": HOUR, "v1": 30 * MINUTE, "v2": 90 * MINUTE}
    rules = PersonRules(dwell=dwell.__getitem__, buffer=BUFFER, retention=timedelta(days=21), max_scans=max_scans)
    stage = PersonStage(rules, Clock(at(72)))
    stores = DictStores()
    if spreads:
        stage.handle(stores, "p", {"k": "case", "c": "c1", "f": to_us(at(0)), "u": to_us(at(48))})
    for number, (minute, venue, direction) in enumerate(history):
        message = {"k": "scan", "id": f"e{number:02d}", "v": venue, "t": to_us(at(0, minute)), "d": direction}
        stage.handle(stores, "p", message)
    record = json.loads(json.dumps(stores.of("p").get("p") or {"s": [], "r": {}}))
    scans_before = [list(scan) for scan in record["s"]]
    # When the new scan comes
    minute, venue, direction = new
    message = {"k": "scan", "id": "new", "v": venue, "t": to_us(at(0, minute)), "d": direction}
    published = stage.handle(stores, "p", message)
    # Then it published the difference between every visit built without it and every visit built with it
    scans_after = stores.of("p").get("p")["s"]
    before, after = stage.visits(scans_before), stage.visits(scans_after)
    expected = stage._visits_changed(record["r"], "p", before, after)

    def said(outs: list[Any]) -> list[tuple[str, str, Any]]:
        return sorted(
            (
                out.spec.name,
                out.key,
                json.dumps(out.value, sort_keys=True) if isinstance(out.value, dict) else out.value.event_id,
            )
            for out in outs
        )

    assert said(published) == said(expected)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(4900, 1, 1), timezones=st.just(UTC)),
    minutes=st.integers(min_value=0, max_value=12 * 60),
    is_open=st.booleans(),
    withdrawn=st.booleans(),
    closed_by=st.sampled_from(["checkout", "auto_checkout", "moved", "out_only"]),
    names=st.text(min_size=1, max_size=8),
)
def test_a_visit_record_is_the_json_of_its_event(
    start: datetime, minutes: int, is_open: bool, withdrawn: bool, closed_by: str, names: str
) -> None:
    # Given a visit as the person stage keeps it (any instant, with or without microseconds; any text in its names)
    row = [f"venue-{names}", to_us(start), to_us(start + timedelta(minutes=minutes)), is_open, closed_by]
    # When the stage makes its visits.v1 record
    out = PersonStage._visit_event(f"person-{names}", f"visit-{names}", row, withdrawn=withdrawn)
    assert isinstance(out.value, VisitRecord)
    # Then its bytes are the JSON the contract's model gives for the same event, byte for byte
    event = out.value.event()
    assert isinstance(event, VisitClosed)
    assert out.value.encode() == event.model_dump_json().encode()
    end = start + timedelta(minutes=minutes)
    assert (event.visit_start, event.visit_end, event.closed_by) == (start, end, closed_by)
    assert (event.withdrawn, event.open, out.key) == (withdrawn, is_open and not withdrawn, row[0])
