"""Visits built from scans, and who is present now (SPEC §3.3), rule by rule with every boundary.

Expected values are worked out by hand from the SPEC sentences quoted in each test, never by re-running the
implementation's logic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from antoan_shared.events import Direction
from antoan_tracer.domain.visits import Scan, Visit, build_visit_rows, build_visits, open_visit, present_at

T0 = datetime(2021, 9, 1, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
DWELL = 60 * M  # "60 minutes for every category unless configured"
IN, OUT = Direction.IN, Direction.OUT


def default_dwell(venue_id: str) -> timedelta:
    return DWELL


def dwell_of(**per_venue: int) -> Callable[[str], timedelta]:
    """A per-venue dwell, in minutes by venue id."""

    def dwell(venue_id: str) -> timedelta:
        return per_venue[venue_id] * M

    return dwell


def scan(event_id: str, at: datetime, venue_id: str, direction: Direction) -> Scan:
    return Scan(scanned_at=at, event_id=event_id, venue_id=venue_id, direction=direction)


Span = tuple[str, datetime, datetime, bool]


def spans(visits: list[Visit]) -> list[Span]:
    """(venue, start, end, still open), in time order, so tests do not depend on the order of recording."""
    return sorted(((v.venue_id, v.start, v.end, v.open) for v in visits), key=lambda s: (s[1], s[2], s[0]))


# --- `in` at V while the open visit is at V -------------------------------------------------------------


@pytest.mark.parametrize("gap", [0 * S, 1 * S, 30 * M, DWELL - S], ids=["same-instant", "1s", "30min", "dwell-1s"])
def test_second_in_within_dwell_is_a_duplicate(gap: timedelta) -> None:
    # Given an open visit at V begun at T0
    # When the person scans in at V again less than dwell(V) later
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + gap, "V", IN)], default_dwell)
    # Then the scan changes nothing: one visit, begun at T0 by the first scan, auto check-out at T0 + dwell
    assert spans(visits) == [("V", T0, T0 + DWELL, True)]
    assert [v.visit_id for v in visits] == ["a"]


def test_second_in_exactly_dwell_later_is_a_new_visit() -> None:
    # Given an open visit at V begun at T0; When an `in` at V comes exactly dwell later (not "less than")
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + DWELL, "V", IN)], default_dwell)
    # Then the old visit closes at min(t, start + dwell) = T0 + dwell = t, and a new visit opens at t
    assert spans(visits) == [("V", T0, T0 + DWELL, False), ("V", T0 + DWELL, T0 + 2 * DWELL, True)]
    assert open_visit(visits) is not None
    assert open_visit(visits).visit_id == "b"  # type: ignore[union-attr]


def test_second_in_long_after_dwell_closes_the_old_visit_at_its_automatic_check_out() -> None:
    # Given an open visit at V begun at T0; When an `in` at V comes 3 h later
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + 3 * H, "V", IN)], default_dwell)
    # Then the old visit closes at min(T0 + 3 h, T0 + 60 min) = T0 + 60 min; a new one opens at T0 + 3 h
    assert spans(visits) == [("V", T0, T0 + DWELL, False), ("V", T0 + 3 * H, T0 + 4 * H, True)]


def test_a_duplicate_in_does_not_move_the_start_the_12_hours_are_counted_from() -> None:
    # Given in at V at T0 and a duplicate in at V at T0 + 59 min (it "changes nothing")
    t = T0 + 12 * H + 30 * M
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 59 * M, "V", IN), scan("c", t, "V", OUT)]
    # When an `out` at V comes 12 h 30 min after the first scan (11 h 31 min after the duplicate)
    visits = build_visits(scans, default_dwell)
    # Then the open visit began more than 12 h before: [t − dwell, t] is recorded and V is left open
    assert spans(visits) == [("V", T0, T0 + DWELL, True), ("V", t - DWELL, t, False)]


# --- `in` at W while the open visit is at V ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("moved_after", "v_closes_after"),
    [
        (20 * M, 20 * M),  # t < start + dwell: closes at t
        (DWELL - S, DWELL - S),  # just before the automatic check-out: still t
        (DWELL, DWELL),  # t exactly start + dwell: both branches agree
        (DWELL + S, DWELL),  # just after: start + dwell
        (5 * H, DWELL),  # long after: start + dwell
    ],
    ids=["before-dwell", "dwell-1s", "exactly-dwell", "dwell+1s", "long-after"],
)
def test_in_at_another_venue_closes_the_open_visit_at_the_earlier_of_t_and_its_auto_check_out(
    moved_after: timedelta, v_closes_after: timedelta
) -> None:
    # Given an open visit at V begun at T0
    t = T0 + moved_after
    # When the person scans in at W at t
    visits = build_visits([scan("a", T0, "V", IN), scan("b", t, "W", IN)], default_dwell)
    # Then V closes at min(t, T0 + dwell) and W opens at t
    assert spans(visits) == [("V", T0, T0 + v_closes_after, False), ("W", t, t + DWELL, True)]
    assert open_visit(visits).venue_id == "W"  # type: ignore[union-attr]


def test_in_at_another_venue_caps_the_open_visit_with_the_open_venues_dwell() -> None:
    # Given dwell(V) = 30 min and dwell(W) = 120 min, and an open visit at V begun at T0
    dwell = dwell_of(V=30, W=120)
    # When the person scans in at W at T0 + 45 min
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + 45 * M, "W", IN)], dwell)
    # Then V closes at min(T0 + 45, T0 + dwell(V) = T0 + 30) = T0 + 30; W opens at T0 + 45 for 120 min
    assert spans(visits) == [("V", T0, T0 + 30 * M, False), ("W", T0 + 45 * M, T0 + 165 * M, True)]


def test_in_at_another_venue_within_dwell_is_never_a_duplicate() -> None:
    # Given an open visit at V begun at T0; When an `in` at W comes one second later
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + S, "W", IN)], default_dwell)
    # Then it is a move, not a duplicate
    assert spans(visits) == [("V", T0, T0 + S, False), ("W", T0 + S, T0 + S + DWELL, True)]


# --- `out` ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stay", [0 * S, 1 * M, DWELL, 5 * H, 12 * H], ids=["0", "1min", "dwell", "5h", "exactly-12h"])
def test_out_at_the_open_venue_within_12_hours_closes_the_visit_at_t(stay: timedelta) -> None:
    # Given an open visit at V begun at T0
    # When the person scans out at V at most 12 h later (however much longer than dwell that is)
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + stay, "V", OUT)], default_dwell)
    # Then it closes at t, and nothing is left open
    assert spans(visits) == [("V", T0, T0 + stay, False)]
    assert [v.visit_id for v in visits] == ["a"]
    assert open_visit(visits) is None


def test_out_at_the_open_venue_more_than_12_hours_later_is_recorded_on_its_own() -> None:
    # Given an open visit at V begun at T0
    t = T0 + 12 * H + S
    # When the person scans out at V 12 h + 1 s later
    visits = build_visits([scan("a", T0, "V", IN), scan("b", t, "V", OUT)], default_dwell)
    # Then [t − dwell(V), t] is recorded and the open visit is left as it is (auto check-out at T0 + dwell)
    assert spans(visits) == [("V", T0, T0 + DWELL, True), ("V", t - DWELL, t, False)]


@pytest.mark.parametrize(("venue_dwell", "expected_length"), [(60, 60 * M), (30, 30 * M), (150, 150 * M)])
def test_out_with_no_open_visit_records_dwell_before_t(venue_dwell: int, expected_length: timedelta) -> None:
    # Given no open visit, and dwell(V) as configured
    t = T0 + 3 * H
    # When the person scans out at V at t
    visits = build_visits([scan("b", t, "V", OUT)], dwell_of(V=venue_dwell))
    # Then the visit [t − dwell(V), t] is recorded, closed
    assert spans(visits) == [("V", t - expected_length, t, False)]
    assert [v.visit_id for v in visits] == ["b"]
    assert open_visit(visits) is None


def test_out_after_the_visit_was_already_closed_records_a_visit_of_its_own() -> None:
    # Given a visit at V opened at T0 and closed by an `out` at T0 + 10 min
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 10 * M, "V", OUT), scan("c", T0 + 20 * M, "V", OUT)]
    # When another `out` at V comes at T0 + 20 min (there is no open visit any more)
    visits = build_visits(scans, default_dwell)
    # Then it records [T0 + 20 − 60, T0 + 20] besides the first visit
    assert spans(visits) == [("V", T0 - 40 * M, T0 + 20 * M, False), ("V", T0, T0 + 10 * M, False)]


def test_out_at_another_venue_is_recorded_with_that_venues_dwell_and_leaves_the_open_visit() -> None:
    # Given dwell(V) = 60 min, dwell(W) = 20 min and an open visit at V begun at T0
    dwell = dwell_of(V=60, W=20)
    t = T0 + 30 * M
    # When the person scans out at W at T0 + 30 min
    visits = build_visits([scan("a", T0, "V", IN), scan("b", t, "W", OUT)], dwell)
    # Then [t − dwell(W), t] is recorded at W and the visit at V is left open (auto check-out at T0 + 60)
    assert spans(visits) == [("V", T0, T0 + 60 * M, True), ("W", t - 20 * M, t, False)]
    assert open_visit(visits).venue_id == "V"  # type: ignore[union-attr]


def test_the_visit_left_open_by_an_out_elsewhere_can_still_be_closed_by_its_own_out() -> None:
    # Given an open visit at V begun at T0, and an `out` at W at T0 + 10 min that left it open
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 10 * M, "W", OUT), scan("c", T0 + 90 * M, "V", OUT)]
    # When the person scans out at V at T0 + 90 min (within 12 h of its start)
    visits = build_visits(scans, default_dwell)
    # Then V closes at T0 + 90 min; W's out-only visit is [T0 − 50 min, T0 + 10 min]
    assert spans(visits) == [("W", T0 - 50 * M, T0 + 10 * M, False), ("V", T0, T0 + 90 * M, False)]


# --- automatic check-out ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("venue", "minutes"), [("V", 60), ("W", 15), ("X", 240)])
def test_a_visit_still_open_after_the_last_scan_checks_out_automatically_after_its_venues_dwell(
    venue: str, minutes: int
) -> None:
    # Given per-venue dwells; When the person's last scan is an `in` at the venue
    visits = build_visits([scan("a", T0, venue, IN)], dwell_of(V=60, W=15, X=240))
    # Then the visit ends at start + dwell(venue) and is flagged open
    assert spans(visits) == [(venue, T0, T0 + minutes * M, True)]
    assert open_visit(visits) == visits[0]


def test_a_person_with_only_closed_visits_has_no_open_visit() -> None:
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + 5 * M, "V", OUT)], default_dwell)
    assert open_visit(visits) is None
    assert open_visit([]) is None


@pytest.mark.parametrize(("gap", "duplicate"), [(29 * M + 59 * S, True), (30 * M, False)])
def test_the_duplicate_window_uses_the_venues_own_dwell(gap: timedelta, duplicate: bool) -> None:
    # Given dwell(V) = 30 min and an open visit at V begun at T0
    # When a second `in` at V comes just under / exactly 30 min later
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + gap, "V", IN)], dwell_of(V=30))
    # Then it is a duplicate only when less than dwell(V) = 30 min later
    if duplicate:
        assert spans(visits) == [("V", T0, T0 + 30 * M, True)]
    else:
        assert spans(visits) == [("V", T0, T0 + 30 * M, False), ("V", T0 + 30 * M, T0 + 60 * M, True)]


def test_only_one_visit_is_ever_open() -> None:
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 5 * M, "W", IN), scan("c", T0 + 6 * M, "X", IN)]
    visits = build_visits(scans, default_dwell)
    assert [v.venue_id for v in visits if v.open] == ["X"]


# --- late scans, redelivery and ties ------------------------------------------------------------------------

DAY_SCANS = [
    scan("e1", T0, "V", IN),
    scan("e2", T0 + 10 * M, "V", IN),  # duplicate of e1
    scan("e3", T0 + 40 * M, "W", IN),  # V closes at T0 + 40
    scan("e4", T0 + 50 * M, "X", OUT),  # out-only at X [T0 − 10, T0 + 50]; W stays open
    scan("e5", T0 + 3 * H, "W", OUT),  # W closes at T0 + 3 h (within 12 h)
    scan("e6", T0 + 4 * H, "V", IN),  # opens, auto check-out at T0 + 5 h
]
DAY_VISITS = [
    ("X", T0 - 10 * M, T0 + 50 * M, False),
    ("V", T0, T0 + 40 * M, False),
    ("W", T0 + 40 * M, T0 + 3 * H, False),
    ("V", T0 + 4 * H, T0 + 5 * H, True),
]


def test_a_day_of_scans_gives_the_visits_worked_out_by_hand() -> None:
    assert spans(build_visits(DAY_SCANS, default_dwell)) == DAY_VISITS


def test_the_same_scans_in_any_arrival_order_give_the_same_visits() -> None:
    # Given the same multiset of scans; When they arrive in every possible order (late uploads)
    # Then the visits are always those of `scanned_at` order
    for order in itertools.permutations(DAY_SCANS):
        assert spans(build_visits(order, default_dwell)) == DAY_VISITS


def test_a_late_out_is_placed_at_its_scanned_at() -> None:
    # Given an `in` at V at T0 and an `in` at W at T0 + 2 h, uploaded first
    # When an `out` at V scanned at T0 + 30 min arrives last (an offline phone)
    scans = [scan("a", T0, "V", IN), scan("c", T0 + 2 * H, "W", IN), scan("b", T0 + 30 * M, "V", OUT)]
    visits = build_visits(scans, default_dwell)
    # Then V is [T0, T0 + 30 min] (not capped at its auto check-out by the move) and W opens at T0 + 2 h
    assert spans(visits) == [("V", T0, T0 + 30 * M, False), ("W", T0 + 2 * H, T0 + 3 * H, True)]


def test_an_out_only_event_delivered_twice_counts_once() -> None:
    # Given an `out` at V with no open visit; When the same event is delivered twice
    twice = [scan("b", T0, "V", OUT), scan("b", T0, "V", OUT)]
    # Then one visit [T0 − dwell, T0] is recorded, not two
    assert spans(build_visits(twice, default_dwell)) == [("V", T0 - DWELL, T0, False)]


def test_a_check_out_delivered_twice_does_not_also_record_an_out_only_visit() -> None:
    # Given in at V at T0 and out at V at T0 + 30 min; When the `out` event is delivered again
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 30 * M, "V", OUT), scan("b", T0 + 30 * M, "V", OUT)]
    # Then the redelivery is the same event: only [T0, T0 + 30 min]
    assert spans(build_visits(scans, default_dwell)) == [("V", T0, T0 + 30 * M, False)]


def test_an_in_redelivered_after_its_out_changes_nothing() -> None:
    # Given in at V at T0 and out at V at T0 + 90 min; When the `in` is delivered again after the `out`
    scans = [scan("a", T0, "V", IN), scan("b", T0 + 90 * M, "V", OUT), scan("a", T0, "V", IN)]
    # Then the visits are those of the two distinct events
    assert spans(build_visits(scans, default_dwell)) == [("V", T0, T0 + 90 * M, False)]


@pytest.mark.parametrize(
    "scans",
    [
        [scan("p", T0, "V", IN), scan("q", T0, "W", IN)],
        [scan("p", T0, "V", IN), scan("q", T0, "V", OUT)],
        [scan("p", T0, "V", OUT), scan("q", T0, "V", IN), scan("r", T0, "W", IN)],
    ],
    ids=["in-in", "in-out", "out-in-in"],
)
def test_scans_at_the_same_instant_are_ordered_deterministically(scans: list[Scan]) -> None:
    # Given scans sharing one `scanned_at`; When they arrive in every order
    results = {tuple(spans(build_visits(order, default_dwell))) for order in itertools.permutations(scans)}
    # Then the visits are always the same
    assert len(results) == 1


def test_two_ins_at_the_same_instant_leave_exactly_one_open_visit() -> None:
    # Given `in` at V and `in` at W both at T0; Whichever order they are taken in,
    visits = build_visits([scan("p", T0, "V", IN), scan("q", T0, "W", IN)], default_dwell)
    # Then the first closes at min(T0, T0 + dwell) = T0 and the second is open until T0 + dwell
    assert sorted((v.start, v.end, v.open) for v in visits) == [(T0, T0, False), (T0, T0 + DWELL, True)]


# --- occupancy predicate --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "present"),
    [
        (T0 - 2 * M, False),  # not begun yet
        (T0 - S, False),
        (T0, True),  # "began at or before now"
        (T0 + 30 * M, True),
        (T0 + DWELL - S, True),
        (T0 + DWELL, False),  # "less than dwell(V) ago": exactly dwell ago is gone
        (T0 + 3 * H, False),
    ],
    ids=["-2min", "-1s", "at-start", "30min", "dwell-1s", "exactly-dwell", "3h"],
)
def test_present_means_an_open_visit_begun_at_or_before_now_and_less_than_dwell_ago(
    now: datetime, present: bool
) -> None:
    # Given a person whose last scan is an `in` at V at T0
    (visit,) = build_visits([scan("a", T0, "V", IN)], default_dwell)
    # When asked whether they count at `now`; Then only within [T0, T0 + dwell)
    assert present_at(visit, now) is present


@pytest.mark.parametrize(("now", "present"), [(T0 + 14 * M + 59 * S, True), (T0 + 15 * M, False)])
def test_presence_lasts_the_venues_own_dwell(now: datetime, present: bool) -> None:
    (visit,) = build_visits([scan("a", T0, "V", IN)], dwell_of(V=15))
    assert present_at(visit, now) is present


def test_a_scan_two_minutes_in_the_future_is_not_present_yet() -> None:
    # Given an `in` scanned at now + 2 min (clock skew)
    now = T0
    (visit,) = build_visits([scan("a", now + 2 * M, "V", IN)], default_dwell)
    # Then the person does not count now, and does once that moment comes
    assert present_at(visit, now) is False
    assert present_at(visit, now + 2 * M) is True


def test_a_checked_out_person_is_not_present() -> None:
    # Given in at V at T0 and out at V at T0 + 10 min
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + 10 * M, "V", OUT)], default_dwell)
    # Then they have no open visit and do not count at T0 + 20 min
    assert open_visit(visits) is None
    assert not any(present_at(v, T0 + 20 * M) for v in visits)


def test_a_person_who_moved_counts_only_at_the_new_venue() -> None:
    # Given in at V at T0 and in at W at T0 + 10 min
    visits = build_visits([scan("a", T0, "V", IN), scan("b", T0 + 10 * M, "W", IN)], default_dwell)
    # Then at T0 + 20 min they count at W and not at V
    assert [v.venue_id for v in visits if present_at(v, T0 + 20 * M)] == ["W"]


def test_each_venues_stay_is_looked_up_once_per_build_however_many_scans() -> None:
    # Given a person's 400 check-ins, ten minutes apart, at three venues in turn (the person stage builds a
    # person's visits twice for every new scan, and a stay is looked up in the venue directory)
    asked: list[str] = []

    def dwell_us(venue: str) -> int:
        asked.append(venue)
        return 3_600_000_000

    scans = [(i * 600_000_000, f"e{i:03d}", f"v{i % 3}", "in") for i in range(400)]
    # When the visits are built
    visits = build_visit_rows(scans, dwell_us)
    # Then each venue's stay was asked once, and each check-in made a visit that the next one ended
    assert sorted(asked) == ["v0", "v1", "v2"]
    assert [v[4] for v in visits] == ["moved"] * 399 + ["auto_checkout"]
