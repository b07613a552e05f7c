"""A venue's risk level from what is known about it at a moment (SPEC §3.6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antoan_safety_map.domain.levels import Finding, Level, RiskPolicy


@dataclass(frozen=True)
class CasePresence:
    """A confirmed case's presence at the venue: until when (the end of their window there), and when the
    platform learnt of it (a window can reach into the future while the case's visit is still open); `since`
    is the window's start, when known (the map shows the window as an interval, never "until" alone)."""

    until: datetime
    recorded_at: datetime
    since: datetime | None = None


@dataclass(frozen=True)
class VenueFacts:
    capacity: int
    current: int = 0
    case_presences: tuple[CasePresence, ...] = ()
    # The latest clearance after disinfection by the health authority.
    cleared_at: datetime | None = None
    self_assessment_score: int | None = None
    # Levels of the venue's ward and district, by area code.
    area_levels: tuple[tuple[str, str, Level], ...] = ()  # (area_code, area_kind, level)


@dataclass(frozen=True)
class VenueAssessment:
    level: Level
    findings: tuple[Finding, ...]
    # When the level may step down with nothing new happening (a case presence ageing past a threshold).
    next_change_at: datetime | None


def latest_presence(presences: tuple[CasePresence, ...], cleared_at: datetime | None = None) -> CasePresence | None:
    """The case presence that ends last, leaving out what a clearance wiped: a presence that was over, or
    already known, when the venue was cleared after disinfection."""
    counted = [p for p in presences if cleared_at is None or min(p.until, p.recorded_at) > cleared_at]
    return max(counted, key=lambda p: p.until, default=None)


def presence_detail(presence: CasePresence) -> dict[str, str]:
    """`last_present_at` is the end of the window (kept for the API's readers); `present_from` its start, so
    that a reader can say "between 08:00 and 10:00" rather than "until" a time that may not have come yet."""
    detail = {"last_present_at": presence.until.isoformat()}
    if presence.since is not None:
        detail["present_from"] = presence.since.isoformat()
    return detail


def assess_venue(facts: VenueFacts, now: datetime, policy: RiskPolicy) -> VenueAssessment:
    findings: list[Finding] = []
    next_change: datetime | None = None

    latest = latest_presence(facts.case_presences, facts.cleared_at)
    wiped = latest_presence(facts.case_presences) if latest is None else None
    if latest is not None:
        detail = presence_detail(latest)
        very_high_until = latest.until + policy.case_very_high_for
        high_until = latest.until + policy.case_high_for
        if now <= very_high_until:
            findings.append(Finding("case_present_72h", Level.VERY_HIGH, detail))
            next_change = very_high_until
        elif now <= high_until:
            findings.append(Finding("case_present_14d", Level.HIGH, detail))
            next_change = high_until
    elif facts.cleared_at is not None and wiped is not None and now <= wiped.until + policy.case_high_for:
        findings.append(Finding("cleared", Level.LOW, {"cleared_at": facts.cleared_at.isoformat()}))

    capacity = {"capacity": facts.capacity}
    if facts.current > facts.capacity:
        findings.append(Finding("over_capacity", Level.HIGH, capacity))
    elif facts.current >= policy.near_capacity_ratio * facts.capacity:
        findings.append(Finding("near_capacity", Level.MEDIUM, {**capacity, "ratio": policy.near_capacity_ratio}))

    score = facts.self_assessment_score
    if score is not None and score < policy.min_self_assessment_score:
        findings.append(
            Finding(
                "low_self_assessment", Level.MEDIUM, {"score": score, "threshold": policy.min_self_assessment_score}
            )
        )

    for area_code, area_kind, area_level in facts.area_levels:
        if area_level >= policy.area_level_raising_venues:
            detail_area = {"area_code": area_code, "area_kind": area_kind, "level": int(area_level)}
            findings.append(Finding("area_level", Level.MEDIUM, detail_area))

    level = max((f.level for f in findings), default=Level.LOW)
    if level == Level.LOW and not any(f.code == "cleared" for f in findings):
        findings.append(Finding("no_risk_factors", Level.LOW))
    findings.sort(key=lambda f: -f.level)
    return VenueAssessment(level, tuple(findings), next_change)
