"""Cases, exposure windows, contacts and degrees F1/F2 (SPEC §3.4), rule by rule with every boundary.

Expected values are worked out by hand from the SPEC sentences quoted in each test, never by re-running the
implementation's logic. Times are on a fixed day: `clock(10, 30)` is 10:30 UTC on T0's day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from antoan_tracer.domain.exposure import (
    CaseExposure,
    Interval,
    Window,
    case_interval,
    exposure_time,
    overlaps,
    spreader_windows,
    trace_case,
)
from antoan_tracer.domain.visits import Visit

T0 = datetime(2021, 9, 10, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
CASE = "case"
WIDE = Interval(T0 - 10 * D, T0 + 10 * D)  # a case interval that covers every visit of a test


def clock(hour: int, minute: int = 0, second: int = 0, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


_ids = iter(range(1_000_000))


def visit(venue_id: str, start: datetime, end: datetime) -> Visit:
    return Visit(f"v{next(_ids)}", venue_id, start, end, "checkout")


def window(start: datetime, end: datetime, venue_id: str = "V") -> Window:
    return Window("w", venue_id, start, end)


def degrees(found: dict[str, CaseExposure]) -> dict[str, int]:
    return {person: exposure.degree for person, exposure in found.items()}


# --- the case's infectious interval ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("onset", "isolated", "expected_from", "expected_until"),
    [
        (clock(9, day=-3), clock(15), clock(9, day=-5), clock(15)),  # onset − 48 h .. isolated
        (None, clock(15), clock(12, day=-2), clock(15)),  # tested − 48 h .. isolated
        (clock(9, day=-3), None, clock(9, day=-5), clock(18)),  # onset − 48 h .. confirmed
        (None, None, clock(12, day=-2), clock(18)),  # tested − 48 h .. confirmed
    ],
    ids=["onset+isolated", "tested+isolated", "onset+confirmed", "tested+confirmed"],
)
def test_case_interval_runs_from_onset_else_test_minus_48h_until_isolation_else_confirmation(
    onset: datetime | None, isolated: datetime | None, expected_from: datetime, expected_until: datetime
) -> None:
    # Given a case tested at 12:00 and confirmed at 18:00, with or without onset / isolation
    interval = case_interval(tested_at=clock(12), onset_at=onset, isolated_at=isolated, confirmed_at=clock(18))
    # Then it spreads from (onset, else tested) − 48 h until isolated, else confirmed
    assert (interval.start, interval.until) == (expected_from, expected_until)


# --- which visits of a spreader spread --------------------------------------------------------------------------

FROM, UNTIL = clock(8), clock(20)
INTERVAL = Interval(FROM, UNTIL)


@pytest.mark.parametrize(
    ("start", "end", "spreads"),
    [
        (clock(7), FROM, True),  # ends exactly at `from`
        (clock(7), FROM - S, False),  # ends one second before `from`
        (UNTIL, clock(21), True),  # starts exactly at `until`
        (UNTIL + S, clock(21), False),  # starts one second after `until`
        (clock(7), clock(21), True),  # spans the whole interval
        (clock(12), clock(13), True),  # inside
    ],
    ids=["ends-at-from", "ends-1s-before-from", "starts-at-until", "starts-1s-after-until", "spanning", "inside"],
)
def test_a_visit_spreads_when_it_ends_at_or_after_from_and_starts_at_or_before_until(
    start: datetime, end: datetime, spreads: bool
) -> None:
    windows = list(spreader_windows(CASE, [visit("V", start, end)], INTERVAL))
    assert len(windows) == (1 if spreads else 0)


def test_the_window_is_the_visit_widened_by_an_hour_each_side() -> None:
    # Given a visit [12:00, 12:30] well inside the interval
    (w,) = spreader_windows(CASE, [visit("V", clock(12), clock(12, 30))], INTERVAL)
    # Then the window is [11:00, 13:30] at the visit's venue
    assert (w.venue_id, w.start, w.end) == ("V", clock(11), clock(13, 30))


@pytest.mark.parametrize(
    ("visit_start", "expected_start"),
    [
        (clock(8, 30), FROM),  # 7:30 is before `from`: clipped to 8:00
        (clock(9), FROM),  # exactly `from`
        (clock(9, 0, 1), clock(8, 0, 1)),  # one second later: not clipped
        (clock(7), FROM),  # visit starting before `from` (ends after it)
    ],
    ids=["clipped", "exactly-from", "not-clipped", "started-before-from"],
)
def test_the_window_never_starts_before_the_spreaders_from(visit_start: datetime, expected_start: datetime) -> None:
    # Given a visit ending at 10:00; Then window = [max(start − 60 min, from), 11:00]
    (w,) = spreader_windows(CASE, [visit("V", visit_start, clock(10))], INTERVAL)
    assert (w.start, w.end) == (expected_start, clock(11))


def test_the_window_end_is_not_clipped_at_until() -> None:
    # Given a visit [19:30, 21:00] that starts before `until` (20:00)
    (w,) = spreader_windows(CASE, [visit("V", clock(19, 30), clock(21))], INTERVAL)
    # Then the window runs to visit end + 60 min = 22:00
    assert (w.start, w.end) == (clock(18, 30), clock(22))


@pytest.mark.parametrize("buffer", [0 * M, 15 * M, 2 * H])
def test_the_buffer_is_configurable(buffer: timedelta) -> None:
    (w,) = spreader_windows(CASE, [visit("V", clock(12), clock(12, 30))], INTERVAL, buffer)
    assert (w.start, w.end) == (clock(12) - buffer, clock(12, 30) + buffer)


def test_each_spreading_visit_gives_its_own_window_at_its_own_venue() -> None:
    visits = [visit("V", clock(9), clock(10)), visit("W", clock(6), clock(7)), visit("X", clock(14), clock(15))]
    windows = list(spreader_windows(CASE, visits, INTERVAL))
    assert sorted((w.venue_id, w.start, w.end) for w in windows) == [
        ("V", clock(8), clock(11)),
        ("X", clock(13), clock(16)),
    ]
    assert len({w.window_id for w in windows}) == 2


def test_an_interval_with_no_end_spreads_at_visits_days_later() -> None:
    (w,) = spreader_windows("f1", [visit("V", clock(9, day=5), clock(10, day=5))], Interval(FROM, None))
    assert (w.start, w.end) == (clock(8, day=5), clock(11, day=5))


# --- contacts: overlap and exposure time --------------------------------------------------------------------------

W_START, W_END = clock(11), clock(13, 30)


@pytest.mark.parametrize(
    ("start", "end", "contact"),
    [
        (clock(10), W_START, True),  # ends exactly at the window's start
        (clock(10), W_START - S, False),  # ends one second before it
        (W_END, clock(15), True),  # starts exactly at the window's end
        (W_END + S, clock(15), False),  # starts one second after it
        (clock(12), clock(12, 10), True),  # inside
        (clock(10), clock(15), True),  # encloses the window
        (W_START, W_START, True),  # a zero-length visit on the start bound
    ],
    ids=["ends-at-start", "ends-1s-before", "starts-at-end", "starts-1s-after", "inside", "enclosing", "instant"],
)
def test_contact_overlap_bounds_are_inclusive(start: datetime, end: datetime, contact: bool) -> None:
    assert overlaps(start, end, window(W_START, W_END)) is contact


@pytest.mark.parametrize(
    ("start", "expected"),
    [(clock(10), W_START), (W_START, W_START), (clock(12, 15), clock(12, 15))],
    ids=["before-window", "at-window-start", "inside-window"],
)
def test_exposure_time_is_the_later_of_visit_start_and_window_start(start: datetime, expected: datetime) -> None:
    assert exposure_time(start, window(W_START, W_END)) == expected


# --- CaseExposure.improves_on -----------------------------------------------------------------------------------


def exposure(degree: int, at: datetime) -> CaseExposure:
    return CaseExposure(degree, at, "V", at, at + H, CASE)


@pytest.mark.parametrize(
    ("candidate", "current", "improves"),
    [
        (exposure(1, clock(12)), None, True),  # anything beats nothing
        (exposure(1, clock(12)), exposure(1, clock(13)), True),  # same degree, earlier
        (exposure(1, clock(13)), exposure(1, clock(12)), False),  # same degree, later
        (exposure(1, clock(12)), exposure(1, clock(12)), False),  # equal: keep what is there
        (exposure(1, clock(20)), exposure(2, clock(8)), True),  # lower degree wins even if later
        (exposure(2, clock(8)), exposure(1, clock(20)), False),  # higher degree loses even if earlier
    ],
    ids=["vs-none", "earlier", "later", "equal", "lower-degree-later", "higher-degree-earlier"],
)
def test_an_exposure_improves_on_another_by_lower_degree_then_earlier_time(
    candidate: CaseExposure, current: CaseExposure | None, improves: bool
) -> None:
    assert candidate.improves_on(current) is improves


# --- F1 -----------------------------------------------------------------------------------------------------------


def test_f1_are_the_people_whose_visits_overlap_a_case_window_bounds_inclusive() -> None:
    # Given the case at V [10:00, 10:30] (window [9:00, 11:30])
    people = {
        CASE: [visit("V", clock(10), clock(10, 30))],
        "ends-at-start": [visit("V", clock(8), clock(9))],
        "ends-1s-early": [visit("V", clock(8), clock(8, 59, 59))],
        "starts-at-end": [visit("V", clock(11, 30), clock(12))],
        "starts-1s-late": [visit("V", clock(11, 30, 1), clock(12))],
        "together": [visit("V", clock(10, 5), clock(10, 20))],
    }
    # When the case is traced to F1 only (the late-comer would otherwise be F2 through "starts-at-end")
    found = trace_case(CASE, WIDE, people, max_degree=1)
    # Then exactly the overlapping people are F1, each exposed at max(visit start, window start)
    assert degrees(found) == {"ends-at-start": 1, "starts-at-end": 1, "together": 1}
    assert found["ends-at-start"].exposed_at == clock(9)
    assert found["starts-at-end"].exposed_at == clock(11, 30)
    assert found["together"].exposed_at == clock(10, 5)
    f1 = found["together"]
    assert (f1.venue_id, f1.window_start, f1.window_end, f1.source_person_key) == ("V", clock(9), clock(11, 30), CASE)


def test_f1_window_is_clipped_at_the_cases_from() -> None:
    # Given a case spreading from 9:30 and at V [10:00, 10:30] (window [max(9:00, 9:30), 11:30])
    people = {
        CASE: [visit("V", clock(10), clock(10, 30))],
        "at-clipped-start": [visit("V", clock(9), clock(9, 30))],
        "before-clipped-start": [visit("V", clock(9), clock(9, 29, 59))],
    }
    found = trace_case(CASE, Interval(clock(9, 30), clock(23)), people)
    # Then someone who left exactly at 9:30 is F1 exposed at 9:30; someone who left a second earlier is not
    assert degrees(found) == {"at-clipped-start": 1}
    assert found["at-clipped-start"].exposed_at == clock(9, 30)
    assert found["at-clipped-start"].window_start == clock(9, 30)


def test_case_interval_bounds_decide_which_case_visits_are_traced() -> None:
    # Given a case tested at 12:00 on day 0 (from = 12:00 on day −2), isolated at 14:00 on day 0
    interval = case_interval(clock(12), None, clock(14), confirmed_at=clock(18))
    people = {
        CASE: [
            visit("A", clock(11, day=-2), clock(12, day=-2)),  # ends exactly at from: spreads
            visit("B", clock(11, day=-2), clock(11, 59, 59, day=-2)),  # ends a second before: does not
            visit("C", clock(14), clock(15)),  # starts exactly at until: spreads
            visit("D", clock(14, 0, 1), clock(15)),  # starts a second after: does not
        ],
        "pa": [visit("A", clock(11, 30, day=-2), clock(12, 30, day=-2))],
        "pb": [visit("B", clock(11, 30, day=-2), clock(11, 45, day=-2))],
        "pc": [visit("C", clock(14, 30), clock(14, 45))],
        "pd": [visit("D", clock(14, 30), clock(14, 45))],
    }
    found = trace_case(CASE, interval, people)
    assert degrees(found) == {"pa": 1, "pc": 1}
    assert found["pa"].exposed_at == clock(12, day=-2)  # window [max(10:00, from = 12:00), 13:00]


def test_the_case_is_never_their_own_contact() -> None:
    # Given a case with two visits at V whose windows overlap each other
    people = {CASE: [visit("V", clock(10), clock(10, 30)), visit("V", clock(11), clock(11, 30))]}
    assert trace_case(CASE, WIDE, people) == {}


def test_different_venues_never_mix() -> None:
    # Given the case at V and another person at W at the same time
    people = {CASE: [visit("V", clock(10), clock(11))], "elsewhere": [visit("W", clock(10), clock(11))]}
    assert trace_case(CASE, WIDE, people) == {}


def test_a_person_in_several_windows_is_reported_once_with_the_earliest_exposure() -> None:
    # Given the case at V [10:00, 10:30] and [11:00, 11:30] (windows [9:00, 11:30] and [10:00, 12:30]),
    # and at W [7:00, 7:30] (window [6:00, 8:30])
    people = {
        CASE: [
            visit("V", clock(10), clock(10, 30)),
            visit("V", clock(11), clock(11, 30)),
            visit("W", clock(7), clock(7, 30)),
        ],
        # listed latest first, so the earliest does not win merely by coming first
        "p": [visit("V", clock(9, 30), clock(12)), visit("W", clock(8), clock(8, 15))],
    }
    found = trace_case(CASE, WIDE, people)
    # Then p is reported once, as F1, exposed at 8:00 at W (the earliest of 9:30, 10:00 and 8:00)
    assert list(found) == ["p"]
    p = found["p"]
    assert (p.degree, p.exposed_at, p.venue_id, p.window_start, p.window_end) == (
        1,
        clock(8),
        "W",
        clock(6),
        clock(8, 30),
    )


def test_within_one_venue_the_earliest_of_several_windows_counts() -> None:
    # Given the case at V [10:00, 10:30] and [11:00, 11:30]: windows [9:00, 11:30] and [10:00, 12:30]
    people = {
        CASE: [visit("V", clock(11), clock(11, 30)), visit("V", clock(10), clock(10, 30))],
        "p": [visit("V", clock(9, 30), clock(12))],
    }
    p = trace_case(CASE, WIDE, people)["p"]
    # Then p's exposure is max(9:30, 9:00) = 9:30, from the first window
    assert (p.exposed_at, p.window_start, p.window_end) == (clock(9, 30), clock(9), clock(11, 30))


@pytest.mark.parametrize(("buffer", "contact"), [(15 * M, False), (30 * M, True)])
def test_trace_uses_the_configured_buffer(buffer: timedelta, contact: bool) -> None:
    # Given the case at V [10:00, 10:30] and p at V from 11:00; a 30 min buffer reaches 11:00, 15 min does not
    people = {CASE: [visit("V", clock(10), clock(10, 30))], "p": [visit("V", clock(11), clock(12))]}
    assert ("p" in trace_case(CASE, WIDE, people, buffer=buffer)) is contact


# --- F2 and beyond ------------------------------------------------------------------------------------------------


def f1_scenario() -> dict[str, list[Visit]]:
    """The case at V [10:00, 10:30] (window [9:00, 11:30]); f1 at V [10:00, 11:00], exposed at 10:00."""
    return {
        CASE: [visit("V", clock(10), clock(10, 30))],
        "f1": [visit("V", clock(10), clock(11))],
    }


def test_f2_are_contacts_of_an_f1_days_later_with_no_end() -> None:
    # Given f1 (exposed 10:00 on day 0) at W [10:00, 11:00] three days later (window [9:00, 12:00] on day 3)
    people = f1_scenario()
    people["f1"].append(visit("W", clock(10, day=3), clock(11, day=3)))
    people["f2"] = [visit("W", clock(11, 30, day=3), clock(13, day=3))]
    found = trace_case(CASE, WIDE, people)
    # Then the person with f1 then is F2, exposed at 11:30 on day 3, through f1
    assert degrees(found) == {"f1": 1, "f2": 2}
    f2 = found["f2"]
    assert (f2.exposed_at, f2.venue_id, f2.source_person_key) == (clock(11, 30, day=3), "W", "f1")
    assert (f2.window_start, f2.window_end) == (clock(9, day=3), clock(12, day=3))


def test_f2_interval_is_not_bounded_by_the_cases_interval() -> None:
    # Given a case interval ending at 12:00 on day 0, and f1 at W on day 5
    people = f1_scenario()
    people["f1"].append(visit("W", clock(10, day=5), clock(11, day=5)))
    people["f2"] = [visit("W", clock(10, day=5), clock(10, 5, day=5))]
    found = trace_case(CASE, Interval(clock(0), clock(12)), people)
    assert degrees(found) == {"f1": 1, "f2": 2}


def test_an_f1_visit_that_ended_before_their_exposure_does_not_spread() -> None:
    # Given f1 exposed at 10:00, and earlier at X [7:00, 9:59:59] with someone else
    people = f1_scenario()
    people["f1"].append(visit("X", clock(7), clock(9, 59, 59)))
    people["earlier"] = [visit("X", clock(7), clock(9, 59, 59))]
    # Then that person is not exposed
    assert degrees(trace_case(CASE, WIDE, people)) == {"f1": 1}


def test_an_f1_visit_ending_exactly_at_their_exposure_spreads_from_that_time_on() -> None:
    # Given f1 exposed at 10:00, and at Y [9:00, 10:00] (window [max(8:00, 10:00), 11:00] = [10:00, 11:00])
    people = f1_scenario()
    people["f1"].append(visit("Y", clock(9), clock(10)))
    people["left-at-10"] = [visit("Y", clock(9, 30), clock(10))]
    people["left-before-10"] = [visit("Y", clock(9), clock(9, 59, 59))]
    found = trace_case(CASE, WIDE, people)
    # Then someone who left Y at 10:00 is F2 exposed at 10:00; someone who left a second earlier is not
    assert degrees(found) == {"f1": 1, "left-at-10": 2}
    assert found["left-at-10"].exposed_at == clock(10)
    assert found["left-at-10"].window_start == clock(10)


def test_f2_window_is_clipped_at_the_f1s_exposure_time() -> None:
    # Given the case at V [11:30, 11:45] (window [10:30, 12:45]) and f1 at V [10:00, 12:00]: exposed 10:30.
    # f1's own visit spreads with window [max(9:00, 10:30), 13:00]
    people = {
        CASE: [visit("V", clock(11, 30), clock(11, 45))],
        "f1": [visit("V", clock(10), clock(12))],
        "left-10:29:59": [visit("V", clock(9, 30), clock(10, 29, 59))],
        "came-12:50": [visit("V", clock(12, 50), clock(13, 10))],
    }
    found = trace_case(CASE, WIDE, people)
    # Then the one who left before 10:30 is nobody's contact; the one who came at 12:50 is F2 through f1
    assert degrees(found) == {"f1": 1, "came-12:50": 2}
    came = found["came-12:50"]
    assert (came.exposed_at, came.source_person_key) == (clock(12, 50), "f1")
    assert (came.window_start, came.window_end) == (clock(10, 30), clock(13))


def test_the_case_and_the_f1s_are_never_f2() -> None:
    # Given two F1s who, with the case, meet again at W two days later
    people = {
        CASE: [visit("V", clock(10), clock(10, 30)), visit("W", clock(10, day=2), clock(11, day=2))],
        "f1a": [visit("V", clock(10), clock(10, 30)), visit("W", clock(10, day=2), clock(11, day=2))],
        "f1b": [visit("V", clock(10, 10), clock(10, 20)), visit("W", clock(10, day=2), clock(11, day=2))],
    }
    # When traced with a case interval that ended before day 2
    found = trace_case(CASE, Interval(clock(0), clock(12)), people)
    # Then the F1s stay F1 with their day-0 exposures, and the case is not reported at all
    assert degrees(found) == {"f1a": 1, "f1b": 1}
    assert found["f1a"].exposed_at == clock(10)
    assert found["f1b"].exposed_at == clock(10, 10)
    assert found["f1a"].source_person_key == CASE


def test_lowest_degree_wins_over_an_earlier_exposure_at_a_higher_degree() -> None:
    # Given f1 exposed at V at 9:00 (case at V [10:00, 10:30]; f1 at V [8:00, 9:30]), and f1 at W [9:10, 9:20]
    # with p, who would be F2 at 9:15; p also meets the case at U at 15:00 (directly, later)
    people = {
        CASE: [visit("V", clock(10), clock(10, 30)), visit("U", clock(15), clock(15, 30))],
        "f1": [visit("V", clock(8), clock(9, 30)), visit("W", clock(9, 10), clock(9, 20))],
        "p": [visit("W", clock(9, 15), clock(9, 40)), visit("U", clock(15), clock(15, 10))],
    }
    found = trace_case(CASE, WIDE, people)
    # Then p is F1 (exposed at U at 15:00 through the case), not F2 at 9:15
    assert degrees(found) == {"f1": 1, "p": 1}
    p = found["p"]
    assert (p.exposed_at, p.venue_id, p.source_person_key) == (clock(15), "U", CASE)


def test_an_f2_reached_through_several_f1s_counts_the_earliest() -> None:
    # Given f1a and f1b both exposed at V on day 0; p meets f1a at W at 15:00 and f1b at X at 13:00
    people = {
        CASE: [visit("V", clock(10), clock(10, 30))],
        "f1a": [visit("V", clock(10), clock(10, 30)), visit("W", clock(15), clock(16))],
        "f1b": [visit("V", clock(10), clock(10, 30)), visit("X", clock(13), clock(14))],
        "p": [visit("W", clock(15), clock(15, 30)), visit("X", clock(13), clock(13, 30))],
    }
    p = trace_case(CASE, WIDE, people)["p"]
    assert (p.degree, p.exposed_at, p.venue_id, p.source_person_key) == (2, clock(13), "X", "f1b")


def chain() -> dict[str, list[Visit]]:
    """case → f1 at V on day 0 → f2 at W on day 1 → f3 at X on day 2 (the case and f1 are at X too)."""
    return {
        CASE: [visit("V", clock(10), clock(11)), visit("X", clock(10, day=2), clock(11, day=2))],
        "f1": [visit("V", clock(10), clock(11)), visit("W", clock(10, day=1), clock(11, day=1))],
        "f2": [visit("W", clock(10, day=1), clock(11, day=1)), visit("X", clock(10, day=2), clock(11, day=2))],
        "f3": [visit("X", clock(10, 30, day=2), clock(12, day=2))],
    }


def test_default_maximum_degree_is_two() -> None:
    found = trace_case(CASE, Interval(clock(0), clock(12)), chain())
    assert degrees(found) == {"f1": 1, "f2": 2}


def test_maximum_degree_one_gives_no_f2() -> None:
    found = trace_case(CASE, Interval(clock(0), clock(12)), chain(), max_degree=1)
    assert degrees(found) == {"f1": 1}


def test_maximum_degree_three_gives_f3_with_the_same_exclusions() -> None:
    # Given the chain, with the case and f1 also at X when f2 is there on day 2
    found = trace_case(CASE, Interval(clock(0), clock(12)), chain(), max_degree=3)
    # Then f3 is F3 through f2, exposed at 10:30 on day 2; the case and f1 keep out of / at their degree
    assert degrees(found) == {"f1": 1, "f2": 2, "f3": 3}
    f3 = found["f3"]
    assert (f3.exposed_at, f3.venue_id, f3.source_person_key) == (clock(10, 30, day=2), "X", "f2")
    assert found["f2"].exposed_at == clock(10, day=1)
    assert found["f1"].exposed_at == clock(10)


def test_a_case_with_no_visits_exposes_nobody() -> None:
    assert trace_case(CASE, WIDE, {"p": [visit("V", clock(10), clock(11))]}) == {}
