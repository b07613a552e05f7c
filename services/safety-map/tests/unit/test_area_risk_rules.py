"""An area's risk level (SPEC §3.6) and the roll-up of a case to its ward, district and province.

"Area (ward, district, province): new confirmed cases per 100,000 population in the last 7 days: < 20 → 1,
20–49 → 2, 50–149 → 3, ≥ 150 → 4; optionally adjusted by vaccination coverage."
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from antoan_safety_map.domain.area_risk import AreaAssessment, AreaFacts, areas_of_case, assess_area, level_for_rate
from antoan_safety_map.domain.levels import Level, RiskPolicy

NOW = datetime(2021, 9, 10, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
POLICY = RiskPolicy()


def cases(count: int, age: timedelta = H) -> tuple[datetime, ...]:
    return tuple(NOW - age for _ in range(count))


def assess(facts: AreaFacts, now: datetime = NOW, policy: RiskPolicy = POLICY) -> AreaAssessment:
    return assess_area(facts, now, policy)


# --- the rate thresholds --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_100k", "expected"),
    [
        (0.0, Level.LOW),
        (19.99, Level.LOW),
        (20.0, Level.MEDIUM),
        (49.99, Level.MEDIUM),
        (50.0, Level.HIGH),
        (149.99, Level.HIGH),
        (150.0, Level.VERY_HIGH),
        (10_000.0, Level.VERY_HIGH),
    ],
)
def test_the_rate_per_100k_sets_the_area_level(per_100k: float, expected: Level) -> None:
    assert level_for_rate(per_100k, POLICY) is expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, Level.LOW),
        (19, Level.LOW),
        (20, Level.MEDIUM),
        (49, Level.MEDIUM),
        (50, Level.HIGH),
        (149, Level.HIGH),
        (150, Level.VERY_HIGH),
    ],
)
def test_new_cases_in_a_population_of_100k_set_the_level(count: int, expected: Level) -> None:
    # Given `count` cases confirmed in the last hour in an area of 100,000 people
    facts = AreaFacts(population=100_000, case_times=cases(count))
    # When the area is assessed
    result = assess(facts)
    # Then the level follows the thresholds and the reason carries the arithmetic
    assert result.level is expected
    assert result.cases_in_window == count
    assert result.cases_per_100k == count
    (finding,) = result.findings
    assert finding.code == "cases_per_100k"
    assert finding.level is expected
    assert finding.detail == {
        "cases_7d": count,
        "population": 100_000,
        "per_100k": float(count),
        "thresholds": [20.0, 50.0, 150.0],
    }


def test_the_rate_is_scaled_to_100k_people() -> None:
    # Given 3 cases in a ward of 14,210 people (21.11 per 100k)
    result = assess(AreaFacts(population=14_210, case_times=cases(3)))
    # Then the ward is yellow
    assert result.cases_per_100k == pytest.approx(21.11, abs=0.01)
    assert result.level is Level.MEDIUM


@pytest.mark.parametrize(
    ("count", "population", "expected"),
    [
        (1, 5_001, Level.LOW),  # 19.996 per 100k
        (10, 20_001, Level.MEDIUM),  # 49.9975 per 100k
        (100, 66_667, Level.HIGH),  # 149.99925 per 100k
    ],
)
def test_a_rate_just_below_a_threshold_keeps_the_lower_level(count: int, population: int, expected: Level) -> None:
    # Given a rate a hair below a threshold
    assert count * 100_000 / population < POLICY.area_thresholds_per_100k[expected - 1]
    facts = AreaFacts(population=population, case_times=cases(count))
    # When the area is assessed
    result = assess(facts)
    # Then it stays at the lower level
    assert result.level is expected


def test_the_area_thresholds_are_configurable() -> None:
    policy = RiskPolicy(area_thresholds_per_100k=(10.0, 30.0, 100.0))
    assert level_for_rate(9.99, policy) is Level.LOW
    assert level_for_rate(10.0, policy) is Level.MEDIUM
    assert level_for_rate(30.0, policy) is Level.HIGH
    assert level_for_rate(100.0, policy) is Level.VERY_HIGH


# --- the 7-day window -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "counted"),
    [(timedelta(0), True), (H, True), (7 * D - S, True), (7 * D, False), (7 * D + S, False), (30 * D, False)],
    ids=["now", "1h", "7d-1s", "7d", "7d+1s", "30d"],
)
def test_only_cases_confirmed_in_the_last_7_days_count(age: timedelta, counted: bool) -> None:
    # Given one case confirmed `age` ago in an area of 100,000 people, plus 19 recent ones
    facts = AreaFacts(population=100_000, case_times=(*cases(19), NOW - age))
    # When the area is assessed
    result = assess(facts)
    # Then the old case counts only while less than 7 days old (a case exactly 7 days old is out)
    assert result.cases_in_window == (20 if counted else 19)
    assert result.level is (Level.MEDIUM if counted else Level.LOW)


def test_the_level_may_change_when_the_oldest_case_in_the_window_leaves_it() -> None:
    # Given cases confirmed 2 days, 5 days and 9 days ago
    oldest_in_window = NOW - 5 * D
    facts = AreaFacts(population=100_000, case_times=(NOW - 2 * D, NOW - 9 * D, oldest_in_window))
    # When the area is assessed
    result = assess(facts)
    # Then the next change is when the 5-day-old case turns 7 days old, and by then it no longer counts
    assert result.next_change_at == oldest_in_window + 7 * D
    assert result.cases_in_window == 2
    later = assess(facts, now=result.next_change_at)
    assert later.cases_in_window == 1


def test_an_area_with_no_case_in_the_window_has_no_scheduled_change() -> None:
    result = assess(AreaFacts(population=100_000, case_times=(NOW - 8 * D,)))
    assert result.level is Level.LOW
    assert result.cases_in_window == 0
    assert result.next_change_at is None


def test_the_area_window_is_configurable() -> None:
    policy = RiskPolicy(area_window=timedelta(days=14))
    facts = AreaFacts(population=100_000, case_times=cases(20, age=10 * D))
    assert assess(facts, policy=policy).level is Level.MEDIUM
    assert assess(facts).level is Level.LOW


# --- unknown population ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("population", [None, 0])
def test_an_area_of_unknown_population_is_green_and_says_so(population: int | None) -> None:
    # Given an area with many recent cases but no population loaded
    facts = AreaFacts(population=population, case_times=cases(500))
    # When it is assessed
    result = assess(facts)
    # Then no rate can be worked out: green, with the reason and the case count
    assert result.level is Level.LOW
    assert result.cases_per_100k is None
    assert result.cases_in_window == 500
    (finding,) = result.findings
    assert finding.code == "population_unknown"
    assert finding.detail == {"cases_7d": 500}
    assert result.next_change_at == NOW - H + 7 * D


# --- vaccination coverage -------------------------------------------------------------------------------------


def test_vaccination_coverage_changes_nothing_by_default() -> None:
    # Given a red area that is almost fully vaccinated, under the default policy
    facts = AreaFacts(population=100_000, case_times=cases(150), vaccination_coverage=0.99)
    # When it is assessed
    result = assess(facts)
    # Then the step-down is off: still red, and no vaccination reason
    assert POLICY.vaccination_step_down_coverage is None
    assert result.level is Level.VERY_HIGH
    assert [f.code for f in result.findings] == ["cases_per_100k"]


@pytest.mark.parametrize(
    ("count", "coverage", "expected"),
    [
        (150, 0.7, Level.HIGH),  # coverage at the threshold steps down one level
        (150, 0.9, Level.HIGH),  # one level, however high the coverage
        (150, 0.69, Level.VERY_HIGH),  # just below the threshold: no step-down
        (150, None, Level.VERY_HIGH),  # unknown coverage: no step-down
        (20, 0.8, Level.LOW),
        (0, 0.8, Level.LOW),  # never below green
    ],
)
def test_with_the_step_down_on_a_vaccinated_area_is_one_level_lower(
    count: int, coverage: float | None, expected: Level
) -> None:
    # Given a policy stepping areas down from 70 % coverage
    policy = RiskPolicy(vaccination_step_down_coverage=0.7)
    facts = AreaFacts(population=100_000, case_times=cases(count), vaccination_coverage=coverage)
    # When the area is assessed
    result = assess(facts, policy=policy)
    # Then the level is one lower when the coverage reaches the threshold
    assert result.level is expected


def test_a_vaccination_step_down_is_listed_as_a_reason_beside_the_rate() -> None:
    policy = RiskPolicy(vaccination_step_down_coverage=0.7)
    facts = AreaFacts(population=100_000, case_times=cases(60), vaccination_coverage=0.75)
    result = assess(facts, policy=policy)
    assert result.level is Level.MEDIUM
    assert [(f.code, f.level) for f in result.findings] == [
        ("cases_per_100k", Level.HIGH),
        ("vaccination_coverage", Level.MEDIUM),
    ]
    assert result.findings[1].detail == {"coverage": 0.75, "threshold": 0.7}


def test_a_green_area_gets_no_vaccination_reason() -> None:
    policy = RiskPolicy(vaccination_step_down_coverage=0.7)
    result = assess(AreaFacts(population=100_000, case_times=cases(5), vaccination_coverage=0.95), policy=policy)
    assert [f.code for f in result.findings] == ["cases_per_100k"]


# --- roll-up of a case to its areas ---------------------------------------------------------------------------

PARENTS: dict[str, str | None] = {
    "14755": "380",  # ward -> district
    "14758": "380",
    "380": "38",  # district -> province
    "38": None,
    "001": "01",
    "01": None,
}


def test_a_wards_case_counts_in_its_district_and_province() -> None:
    assert areas_of_case(["14755"], PARENTS) == {"14755", "380", "38"}


def test_a_districts_case_counts_in_its_province() -> None:
    assert areas_of_case(["380"], PARENTS) == {"380", "38"}


def test_a_case_naming_several_areas_counts_once_in_each_of_them_and_their_ancestors() -> None:
    assert areas_of_case(["14755", "14758", "380", "001"], PARENTS) == {"14755", "14758", "380", "38", "001", "01"}


def test_an_area_with_no_known_parent_counts_alone() -> None:
    assert areas_of_case(["99999"], PARENTS) == {"99999"}


def test_a_case_naming_no_area_counts_nowhere() -> None:
    assert areas_of_case([], PARENTS) == set()


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    ("parents", "expected"),
    [
        ({"14755": "380", "380": "14755"}, {"14755", "380"}),
        ({"14755": "380", "380": "38", "38": "14755"}, {"14755", "380", "38"}),
        ({"14755": "14755"}, {"14755"}),
    ],
    ids=["two-cycle", "three-cycle", "self-parent"],
)
def test_a_cycle_in_the_parents_does_not_loop_forever(parents: dict[str, str | None], expected: set[str]) -> None:
    # Given area data whose parents form a cycle
    # When a ward's case is rolled up
    # Then every area on the cycle is found once and the roll-up ends
    assert areas_of_case(["14755"], parents) == expected
