"""An area's risk level from its new confirmed cases per 100,000 people (SPEC §3.6). An area counts the
cases of every area below it (a ward's cases are its district's and its province's); the engine gathers them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from antoan_safety_map.domain.levels import Finding, Level, RiskPolicy


@dataclass(frozen=True)
class AreaFacts:
    population: int | None
    # When each case counted in the area was confirmed (cases older than the window may be included).
    case_times: tuple[datetime, ...] = ()
    vaccination_coverage: float | None = None


@dataclass(frozen=True)
class AreaAssessment:
    level: Level
    findings: tuple[Finding, ...]
    cases_in_window: int
    cases_per_100k: float | None
    next_change_at: datetime | None


def level_for_rate(per_100k: float, policy: RiskPolicy) -> Level:
    medium, high, very_high = policy.area_thresholds_per_100k
    if per_100k >= very_high:
        return Level.VERY_HIGH
    if per_100k >= high:
        return Level.HIGH
    if per_100k >= medium:
        return Level.MEDIUM
    return Level.LOW


def assess_area(facts: AreaFacts, now: datetime, policy: RiskPolicy) -> AreaAssessment:
    window_start = now - policy.area_window
    in_window = sorted(t for t in facts.case_times if window_start < t <= now)
    # The level can next change when the oldest case in the window leaves it.
    next_change = in_window[0] + policy.area_window if in_window else None
    count = len(in_window)
    if not facts.population:
        finding = Finding("population_unknown", Level.LOW, {"cases_7d": count})
        return AreaAssessment(Level.LOW, (finding,), count, None, next_change)

    rate = count * 100_000 / facts.population
    level = level_for_rate(rate, policy)  # from the exact rate: rounding must not lift a level
    per_100k = round(rate, 2)
    findings = [
        Finding(
            "cases_per_100k",
            level,
            {
                "cases_7d": count,
                "population": facts.population,
                "per_100k": per_100k,
                "thresholds": list(policy.area_thresholds_per_100k),
            },
        )
    ]
    coverage = facts.vaccination_coverage
    step_down_at = policy.vaccination_step_down_coverage
    if step_down_at is not None and coverage is not None and coverage >= step_down_at and level > Level.LOW:
        level = Level(level - 1)
        findings.append(Finding("vaccination_coverage", level, {"coverage": coverage, "threshold": step_down_at}))
    return AreaAssessment(level, tuple(findings), count, per_100k, next_change)


def areas_of_case(codes: Iterable[str], parents: Mapping[str, str | None]) -> set[str]:
    """Every area a case counts in: the codes it names and all their ancestors (a ward's case is also its
    district's and its province's)."""
    found: set[str] = set()
    for code in codes:
        while code and code not in found:
            found.add(code)
            code = parents.get(code) or ""
    return found
