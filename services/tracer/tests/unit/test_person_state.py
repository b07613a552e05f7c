"""A person's state in the tracer: effects of each fact, replays, and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from antoan_shared.events import Direction
from antoan_tracer.domain.exposure import CaseExposure, Interval
from antoan_tracer.domain.person import PersonState, Rules, ScanFact
from antoan_tracer.domain.visits import Scan

T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
BUFFER = timedelta(minutes=60)
LONG_AGO = T0 - timedelta(days=30)


def dwell(_: str) -> timedelta:
    return HOUR


def test_a_scan_in_opens_a_visit_and_makes_the_person_present() -> None:
    state = PersonState("p")
    effects = state.apply_scan(Scan(T0, "e1", "v", Direction.IN), dwell, BUFFER, LONG_AGO)
    assert [v.visit_id for v in effects.changed_visits] == ["e1"]
    assert [v.open for v in effects.changed_visits] == [True]
    assert [(venue, visit.start if visit else None) for venue, visit in effects.presence] == [("v", T0)]


def test_a_replayed_scan_changes_nothing_but_sends_what_follows_again() -> None:
    # Given a person who moved from a to b
    state = PersonState("p")
    state.apply_scan(Scan(T0, "e1", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    scan = Scan(T0 + 10 * MINUTE, "e2", "b", Direction.IN)
    state.apply_scan(scan, dwell, BUFFER, LONG_AGO)
    revision, scans = state.revision, list(state.scans)
    # When the second scan is delivered again (a replay after a crash: its effects may have been lost)
    effects = state.apply_scan(scan, dwell, BUFFER, LONG_AGO)
    # Then the state is as it was, and what it implies goes out again for the receivers to dedupe
    assert (state.revision, state.scans) == (revision, scans)
    assert [(venue, visit is None) for venue, visit in effects.presence] == [("a", True), ("b", False)]
    assert [v.visit_id for v in effects.changed_visits] == ["e1", "e2"]


def test_moving_away_clears_the_first_venue_and_closes_its_visit() -> None:
    state = PersonState("p")
    state.apply_scan(Scan(T0, "e1", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    effects = state.apply_scan(Scan(T0 + timedelta(minutes=20), "e2", "b", Direction.IN), dwell, BUFFER, LONG_AGO)
    closed = [(v.venue_id, v.end) for v in effects.changed_visits if not v.open]
    assert closed == [("a", T0 + timedelta(minutes=20))]
    assert [(venue, visit is None) for venue, visit in effects.presence] == [("a", True), ("b", False)]


def test_a_case_turns_the_person_s_visits_into_windows_and_late_visits_add_windows() -> None:
    state = PersonState("p")
    state.apply_scan(Scan(T0, "e1", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    effects = state.apply_case("c1", Interval(T0 - 2 * HOUR, T0 + 5 * HOUR), dwell, BUFFER)
    assert [(w.window.venue_id, w.degree) for w in effects.windows] == [("a", 0)]
    late = state.apply_scan(Scan(T0 - HOUR, "e0", "z", Direction.OUT), dwell, BUFFER, LONG_AGO)
    assert [w.window.venue_id for w in late.windows] == ["z"]


def test_a_contact_is_reported_once_at_its_lowest_degree() -> None:
    state = PersonState("q")
    f2 = CaseExposure(2, T0 + HOUR, "b", T0, T0 + 2 * HOUR, "f1")
    f1 = CaseExposure(1, T0 + 3 * HOUR, "a", T0, T0 + 4 * HOUR, "case")
    assert state.apply_contact("c1", f2, 2, dwell, BUFFER).exposures == [("c1", f2)]
    assert state.apply_contact("c1", f2, 2, dwell, BUFFER).exposures == [("c1", f2)]  # a replay: the same report
    assert state.apply_contact("c1", f1, 2, dwell, BUFFER).exposures == [("c1", f1)]  # lower degree
    other_f2 = CaseExposure(2, T0, "b", T0, T0 + HOUR, "f1")
    assert state.apply_contact("c1", other_f2, 2, dwell, BUFFER).exposures == []  # F1 already: no report


def test_an_earlier_exposure_at_the_same_degree_is_reported_as_the_best_so_far() -> None:
    state = PersonState("q")
    later = CaseExposure(1, T0 + 3 * HOUR, "a", T0, T0 + 4 * HOUR, "case")
    earlier = CaseExposure(1, T0 + HOUR, "b", T0, T0 + 2 * HOUR, "case")
    state.apply_contact("c1", later, 2, dwell, BUFFER)
    assert state.apply_contact("c1", earlier, 2, dwell, BUFFER).exposures == [("c1", earlier)]
    assert state.exposures["c1"] == earlier


def test_facts_arriving_together_are_one_change() -> None:
    # An offline upload: in and out at the same venue, for a person who is a case
    state = PersonState("p")
    state.apply_case("c1", Interval(T0 - 5 * HOUR, T0 + 5 * HOUR), dwell, BUFFER)
    rules = Rules(dwell, BUFFER, LONG_AGO)
    effects = state.apply(
        [ScanFact(Scan(T0, "in", "b", Direction.IN)), ScanFact(Scan(T0 + 40 * MINUTE, "out", "b", Direction.OUT))],
        rules,
    )
    # Only the final visit and window go out: never the hour-long visit of the moment in between
    assert [(v.start, v.end) for v in effects.changed_visits] == [(T0, T0 + 40 * MINUTE)]
    assert [(w.window.start, w.window.end) for w in effects.windows] == [(T0 - HOUR, T0 + 100 * MINUTE)]


def test_the_case_is_never_its_own_contact() -> None:
    state = PersonState("p")
    state.apply_case("c1", Interval(T0, T0 + HOUR), dwell, BUFFER)
    assert state.apply_contact("c1", CaseExposure(1, T0, "a", T0, T0, "x"), 2, dwell, BUFFER).exposures == []


def test_scans_and_exposures_older_than_the_retention_period_are_forgotten() -> None:
    state = PersonState("p")
    state.apply_contact("c-old", CaseExposure(1, T0, "a", T0, T0, "x"), 1, dwell, BUFFER)
    state.apply_scan(Scan(T0, "old", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    effects = state.apply_scan(
        Scan(T0 + timedelta(days=22), "new", "a", Direction.IN), dwell, BUFFER, T0 + timedelta(days=1)
    )
    assert [scan.event_id for scan in state.scans] == ["new"]
    assert "c-old" not in state.exposures
    assert [v.visit_id for v in effects.removed_visits] == ["old"]


def test_the_state_round_trips_through_its_table_form() -> None:
    state = PersonState("p")
    state.apply_scan(Scan(T0, "e1", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    state.apply_case("c1", Interval(T0, None), dwell, BUFFER)
    state.apply_contact("c2", CaseExposure(1, T0, "a", T0, T0, "x"), 2, dwell, BUFFER)
    assert PersonState.from_json("p", state.to_json()) == state


def test_the_retention_sweep_drops_scans_older_than_the_cutoff_and_says_so() -> None:
    # Given a person with a scan a day before another
    state = PersonState("p")
    state.apply_scan(Scan(T0, "e1", "a", Direction.IN), dwell, BUFFER, LONG_AGO)
    state.apply_scan(Scan(T0 + timedelta(days=1), "e2", "b", Direction.IN), dwell, BUFFER, LONG_AGO)
    # When the sweep runs with a cutoff between them, the first scan goes and the sweep says it changed
    assert state.forget_before(T0 + HOUR) is True
    assert [scan.event_id for scan in state.scans] == ["e2"]
    # And a second sweep with the same cutoff finds nothing to drop
    assert state.forget_before(T0 + HOUR) is False
