"""A venue's risk level (SPEC §3.6), rule by rule with every boundary.

"Venue: 4 if a case was present in the last 72 h; 3 if a case was present in the last 14 days or occupancy is
above capacity; 2 if occupancy is at or above 80 % of capacity, the venue's self-assessment scores below
50/100, or its ward or district is at level 3 or more; 1 otherwise. A health authority can clear a venue after
disinfection." Expected values are worked out from those sentences, not by re-running the implementation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from antoan_safety_map.domain.levels import Level, RiskPolicy
from antoan_safety_map.domain.venue_risk import CasePresence, VenueAssessment, VenueFacts, assess_venue

NOW = datetime(2021, 9, 10, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
POLICY = RiskPolicy()
# A venue with room to spare, no case, no self-assessment and no area level: nothing against it.
QUIET = VenueFacts(capacity=100, current=10)


def assess(facts: VenueFacts, now: datetime = NOW, policy: RiskPolicy = POLICY) -> VenueAssessment:
    return assess_venue(facts, now, policy)


def presence(until: datetime, recorded_at: datetime | None = None) -> tuple[CasePresence, ...]:
    """A case present until `until`, learnt of then unless told otherwise."""
    return (CasePresence(until=until, recorded_at=until if recorded_at is None else recorded_at),)


def codes(result: VenueAssessment) -> set[str]:
    return {finding.code for finding in result.findings}


# --- the levels themselves ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "value", "color"),
    [(Level.LOW, 1, "green"), (Level.MEDIUM, 2, "yellow"), (Level.HIGH, 3, "orange"), (Level.VERY_HIGH, 4, "red")],
)
def test_each_level_has_the_national_scheme_number_and_colour(level: Level, value: int, color: str) -> None:
    assert int(level) == value
    assert level.color == color


# --- nothing applies ------------------------------------------------------------------------------------------


def test_a_venue_with_nothing_against_it_is_green_with_no_risk_factors() -> None:
    # Given a venue well under capacity, no case, no self-assessment and no area level
    # When it is assessed
    result = assess(QUIET)
    # Then it is green and says why: nothing applies
    assert result.level is Level.LOW
    assert [f.code for f in result.findings] == ["no_risk_factors"]
    assert result.findings[0].level is Level.LOW
    assert result.next_change_at is None


# --- case presence: 72 hours and 14 days ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected", "code"),
    [
        (timedelta(0), Level.VERY_HIGH, "case_present_72h"),
        (1 * H, Level.VERY_HIGH, "case_present_72h"),
        (72 * H - S, Level.VERY_HIGH, "case_present_72h"),
        (72 * H, Level.VERY_HIGH, "case_present_72h"),  # exactly 72 h ago is still "in the last 72 h"
        (72 * H + S, Level.HIGH, "case_present_14d"),
        (5 * D, Level.HIGH, "case_present_14d"),
        (14 * D, Level.HIGH, "case_present_14d"),  # exactly 14 days ago is still "in the last 14 days"
        (14 * D + S, Level.LOW, "no_risk_factors"),
        (20 * D, Level.LOW, "no_risk_factors"),
    ],
    ids=["now", "1h", "72h-1s", "72h", "72h+1s", "5d", "14d", "14d+1s", "20d"],
)
def test_a_case_presence_sets_the_level_by_how_long_ago_it_was(age: timedelta, expected: Level, code: str) -> None:
    # Given a case was last present at the venue `age` ago
    facts = replace(QUIET, case_presences=presence(NOW - age))
    # When the venue is assessed now
    result = assess(facts)
    # Then the level follows the 72 h / 14 day rule, with the matching reason
    assert result.level is expected
    assert codes(result) == {code}


def test_a_case_present_within_72_hours_makes_the_venue_red_and_says_when() -> None:
    # Given a case present 10 hours ago
    present = NOW - 10 * H
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=presence(present)))
    # Then it is red, the reason carries the presence time, and the level may step down 72 h after it
    assert result.level is Level.VERY_HIGH
    assert result.level.color == "red"
    (finding,) = result.findings
    assert finding.code == "case_present_72h"
    assert finding.level is Level.VERY_HIGH
    assert finding.detail == {"last_present_at": present.isoformat()}
    assert result.next_change_at == present + 72 * H


def test_a_case_present_within_14_days_makes_the_venue_orange_until_the_14_days_are_up() -> None:
    # Given a case present 4 days ago
    present = NOW - 4 * D
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=presence(present)))
    # Then it is orange and may step down 14 days after the presence
    assert result.level is Level.HIGH
    assert [f.code for f in result.findings] == ["case_present_14d"]
    assert result.next_change_at == present + 14 * D


@pytest.mark.parametrize("age", [1 * H, 4 * D], ids=["red", "orange"])
def test_just_after_next_change_at_the_case_level_has_stepped_down(age: timedelta) -> None:
    # Given a venue whose level comes from a case presence
    facts = replace(QUIET, case_presences=presence(NOW - age))
    before = assess(facts)
    assert before.next_change_at is not None
    # When it is assessed again just after the announced change
    after = assess(facts, now=before.next_change_at + S)
    # Then the level is lower
    assert after.level < before.level


# --- clearance after disinfection -----------------------------------------------------------------------------


def test_a_clearance_after_the_case_was_present_makes_the_venue_green() -> None:
    # Given a case present 10 hours ago and the health authority clearing the venue 2 hours ago
    present, cleared = NOW - 10 * H, NOW - 2 * H
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=presence(present), cleared_at=cleared))
    # Then the presence no longer counts: green, with the clearance as the reason and nothing scheduled
    assert result.level is Level.LOW
    assert [f.code for f in result.findings] == ["cleared"]
    assert result.findings[0].detail == {"cleared_at": cleared.isoformat()}
    assert result.next_change_at is None


def test_a_clearance_at_the_very_moment_of_the_presence_wipes_it() -> None:
    # Given a clearance at exactly the end of the case's presence
    present = NOW - 10 * H
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=presence(present), cleared_at=present))
    # Then the presence is wiped
    assert result.level is Level.LOW


@pytest.mark.parametrize(
    ("present_age", "expected"), [(10 * H, Level.VERY_HIGH), (5 * D, Level.HIGH)], ids=["72h", "14d"]
)
def test_a_case_present_after_the_clearance_still_counts(present_age: timedelta, expected: Level) -> None:
    # Given a venue cleared 6 days ago and a case present there since
    facts = replace(QUIET, cleared_at=NOW - 6 * D, case_presences=presence(NOW - present_age))
    # When the venue is assessed
    result = assess(facts)
    # Then the later presence sets the level as if there had been no clearance
    assert result.level is expected
    assert "cleared" not in codes(result)


def test_a_presence_known_when_the_venue_was_cleared_is_wiped_even_if_it_reaches_past_the_clearance() -> None:
    # Given a case window recorded 3 hours ago that runs until an hour from now (the case's visit is still open),
    # and the venue cleared an hour ago
    facts = replace(QUIET, case_presences=presence(NOW + H, recorded_at=NOW - 3 * H), cleared_at=NOW - H)
    # When the venue is assessed
    result = assess(facts)
    # Then the clearance covers what was known when it was given
    assert result.level is Level.LOW
    assert codes(result) == {"cleared"}


def test_a_presence_learnt_after_the_clearance_but_over_before_it_is_wiped() -> None:
    # Given a late upload, recorded after the clearance, of a case present before it
    facts = replace(QUIET, case_presences=presence(NOW - 10 * H, recorded_at=NOW - H), cleared_at=NOW - 2 * H)
    # When the venue is assessed
    result = assess(facts)
    # Then the disinfection came after the presence: it is wiped
    assert result.level is Level.LOW


def test_only_presences_after_the_clearance_count_and_the_latest_of_them_sets_the_level() -> None:
    # Given a presence an hour before a clearance 5 days ago and one after it, 4 days ago
    later = NOW - 4 * D
    presences = (*presence(NOW - 5 * D - H), *presence(later))
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=presences, cleared_at=NOW - 5 * D))
    # Then the later presence alone sets the level
    assert result.level is Level.HIGH
    assert [f.detail for f in result.findings] == [{"last_present_at": later.isoformat()}]
    assert result.next_change_at == later + 14 * D


def test_of_several_presences_the_latest_sets_the_level() -> None:
    # Given case presences 5 days and 1 hour ago
    latest = NOW - H
    result = assess(replace(QUIET, case_presences=(*presence(NOW - 5 * D), *presence(latest))))
    # Then the one an hour ago makes the venue red until 72 h after it
    assert result.level is Level.VERY_HIGH
    assert [f.code for f in result.findings] == ["case_present_72h"]
    assert result.next_change_at == latest + 72 * H


def test_the_case_reason_carries_the_latest_window_as_an_interval() -> None:
    # Given two presences of cases, the later one from 08:00 to 10:00 (window start and end)
    earlier = CasePresence(until=NOW - 2 * D, recorded_at=NOW - 2 * D, since=NOW - 2 * D - 2 * H)
    later = CasePresence(until=NOW - 2 * H, recorded_at=NOW - H, since=NOW - 4 * H)
    # When the venue is assessed
    result = assess(replace(QUIET, case_presences=(later, earlier)))
    # Then its reason names the later window by both ends, so the map can say "between 08:00 and 10:00"
    (finding,) = result.findings
    assert finding.detail == {"present_from": (NOW - 4 * H).isoformat(), "last_present_at": (NOW - 2 * H).isoformat()}


def test_a_presence_recorded_before_window_starts_were_kept_still_gives_its_end() -> None:
    # Given a presence known only by its end (a record written before starts were kept)
    result = assess(replace(QUIET, case_presences=presence(NOW - H)))
    # Then the reason still says when it ended, and no start
    assert result.findings[0].detail == {"last_present_at": (NOW - H).isoformat()}


def test_a_presence_window_reaching_into_the_future_keeps_the_venue_red_until_72_hours_after_it() -> None:
    # Given a case whose window at the venue runs until 2 hours from now
    until = NOW + 2 * H
    result = assess(replace(QUIET, case_presences=presence(until, recorded_at=NOW)))
    # Then the venue is red, and may step down 72 h after the window ends
    assert result.level is Level.VERY_HIGH
    assert result.next_change_at == until + 72 * H


def test_a_cleared_venue_keeps_its_other_risk_factors() -> None:
    # Given a cleared case presence but the venue over capacity
    facts = replace(QUIET, case_presences=presence(NOW - 10 * H), cleared_at=NOW - H, current=101)
    # When the venue is assessed
    result = assess(facts)
    # Then the clearance does not hide the crowd
    assert result.level is Level.HIGH
    assert codes(result) == {"over_capacity", "cleared"}


def test_a_clearance_of_a_presence_older_than_14_days_is_no_longer_a_reason() -> None:
    # Given a presence and its clearance both long past
    facts = replace(QUIET, case_presences=presence(NOW - 15 * D), cleared_at=NOW - 14 * D)
    # When the venue is assessed
    result = assess(facts)
    # Then it is green for want of any risk factor
    assert result.level is Level.LOW
    assert [f.code for f in result.findings] == ["no_risk_factors"]


# --- occupancy against capacity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "capacity", "expected", "code"),
    [
        (101, 100, Level.HIGH, "over_capacity"),  # above capacity
        (100, 100, Level.MEDIUM, "near_capacity"),  # at capacity is not above it
        (80, 100, Level.MEDIUM, "near_capacity"),  # exactly 80 %
        (79, 100, Level.LOW, "no_risk_factors"),  # just below 80 %
        (8, 10, Level.MEDIUM, "near_capacity"),
        (7, 10, Level.LOW, "no_risk_factors"),
        (4, 5, Level.MEDIUM, "near_capacity"),
        (3, 5, Level.LOW, "no_risk_factors"),
        (28, 35, Level.MEDIUM, "near_capacity"),
        (27, 35, Level.LOW, "no_risk_factors"),
        (1, 1, Level.MEDIUM, "near_capacity"),
        (2, 1, Level.HIGH, "over_capacity"),
        (0, 1, Level.LOW, "no_risk_factors"),
    ],
)
def test_occupancy_above_capacity_is_orange_and_from_80_percent_yellow(
    current: int, capacity: int, expected: Level, code: str
) -> None:
    # Given `current` people in a venue for `capacity`
    facts = replace(QUIET, current=current, capacity=capacity)
    # When the venue is assessed
    result = assess(facts)
    # Then the level follows the capacity rule, with its reason and no scheduled change
    assert result.level is expected
    assert codes(result) == {code}
    assert result.next_change_at is None


def test_capacity_reasons_carry_the_capacity_and_the_ratio() -> None:
    over = assess(replace(QUIET, current=120, capacity=100))
    near = assess(replace(QUIET, current=90, capacity=100))
    assert over.findings[0].detail == {"capacity": 100}
    assert near.findings[0].detail == {"capacity": 100, "ratio": 0.8}


def test_the_near_capacity_ratio_is_configurable() -> None:
    # Given a policy that warns from half capacity
    policy = RiskPolicy(near_capacity_ratio=0.5)
    # When venues at 50 % and just below are assessed
    # Then half full is yellow and just under it green
    assert assess(replace(QUIET, current=50), policy=policy).level is Level.MEDIUM
    assert assess(replace(QUIET, current=49), policy=policy).level is Level.LOW


# --- self-assessment ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0, Level.MEDIUM), (49, Level.MEDIUM), (50, Level.LOW), (100, Level.LOW), (None, Level.LOW)],
)
def test_a_self_assessment_below_50_makes_the_venue_yellow(score: int | None, expected: Level) -> None:
    # Given a venue whose self-assessment scored `score` (None: never assessed)
    facts = replace(QUIET, self_assessment_score=score)
    # When it is assessed
    result = assess(facts)
    # Then only a score below 50 raises it
    assert result.level is expected


def test_a_low_self_assessment_reason_carries_the_score_and_the_threshold() -> None:
    result = assess(replace(QUIET, self_assessment_score=30))
    assert [f.code for f in result.findings] == ["low_self_assessment"]
    assert result.findings[0].detail == {"score": 30, "threshold": 50}


def test_the_minimum_self_assessment_score_is_configurable() -> None:
    policy = RiskPolicy(min_self_assessment_score=70)
    assert assess(replace(QUIET, self_assessment_score=69), policy=policy).level is Level.MEDIUM
    assert assess(replace(QUIET, self_assessment_score=70), policy=policy).level is Level.LOW


# --- the venue's ward and district ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "area_level", "expected"),
    [
        ("ward", Level.HIGH, Level.MEDIUM),
        ("ward", Level.VERY_HIGH, Level.MEDIUM),  # an area raises a venue to yellow, never further
        ("district", Level.HIGH, Level.MEDIUM),
        ("district", Level.VERY_HIGH, Level.MEDIUM),
        ("ward", Level.MEDIUM, Level.LOW),
        ("district", Level.MEDIUM, Level.LOW),
        ("ward", Level.LOW, Level.LOW),
    ],
)
def test_a_ward_or_district_at_level_3_or_more_makes_the_venue_yellow(
    kind: str, area_level: Level, expected: Level
) -> None:
    # Given the venue's ward or district at `area_level`
    code = "14755" if kind == "ward" else "380"
    facts = replace(QUIET, area_levels=((code, kind, area_level),))
    # When the venue is assessed
    result = assess(facts)
    # Then it is yellow only for an orange or red area
    assert result.level is expected


def test_an_area_reason_names_the_area_and_its_level() -> None:
    result = assess(replace(QUIET, area_levels=(("14755", "ward", Level.HIGH), ("380", "district", Level.HIGH))))
    assert result.level is Level.MEDIUM
    details = [f.detail for f in result.findings if f.code == "area_level"]
    assert details == [
        {"area_code": "14755", "area_kind": "ward", "level": 3},
        {"area_code": "380", "area_kind": "district", "level": 3},
    ]


def test_the_area_level_that_raises_venues_is_configurable() -> None:
    policy = RiskPolicy(area_level_raising_venues=Level.VERY_HIGH)
    assert assess(replace(QUIET, area_levels=(("380", "district", Level.HIGH),)), policy=policy).level is Level.LOW
    raised = assess(replace(QUIET, area_levels=(("380", "district", Level.VERY_HIGH),)), policy=policy)
    assert raised.level is Level.MEDIUM


# --- several findings -----------------------------------------------------------------------------------------


def test_the_highest_of_several_findings_wins_and_every_reason_is_listed() -> None:
    # Given a venue with a case present an hour ago, over capacity, a poor self-assessment and an orange ward
    present = NOW - H
    facts = VenueFacts(
        capacity=100,
        current=150,
        case_presences=presence(present),
        self_assessment_score=20,
        area_levels=(("14755", "ward", Level.HIGH),),
    )
    # When it is assessed
    result = assess(facts)
    # Then it is red, every reason is listed with its own level, highest first, and none says "no risk"
    assert result.level is Level.VERY_HIGH
    assert {(f.code, f.level) for f in result.findings} == {
        ("case_present_72h", Level.VERY_HIGH),
        ("over_capacity", Level.HIGH),
        ("low_self_assessment", Level.MEDIUM),
        ("area_level", Level.MEDIUM),
    }
    levels = [f.level for f in result.findings]
    assert levels == sorted(levels, reverse=True)
    assert result.next_change_at == present + 72 * H


def test_several_yellow_findings_still_make_yellow() -> None:
    # Given three reasons for yellow and none for more
    facts = replace(QUIET, current=85, self_assessment_score=10, area_levels=(("380", "district", Level.HIGH),))
    # When the venue is assessed
    result = assess(facts)
    # Then yellow findings do not add up to orange
    assert result.level is Level.MEDIUM
    assert codes(result) == {"near_capacity", "low_self_assessment", "area_level"}


def test_a_case_presence_past_72_hours_and_over_capacity_is_orange_for_both_reasons() -> None:
    result = assess(replace(QUIET, case_presences=presence(NOW - 4 * D), current=101))
    assert result.level is Level.HIGH
    assert codes(result) == {"case_present_14d", "over_capacity"}
