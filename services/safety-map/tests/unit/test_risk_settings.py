"""SPEC §3.6 thresholds: "Defaults, all configurable". The defaults are the national scheme's, and every one can
be overridden from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from antoan_safety_map.domain.area_risk import level_for_rate
from antoan_safety_map.domain.levels import Level, RiskPolicy
from antoan_safety_map.settings import SafetyMapSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the developer's shell leaks in; the one required secret is set."""
    for name in list(os.environ):
        if name.startswith(("SAFETY_MAP_", "ANTOAN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ANTOAN_HA_TOKEN", "unit-test-health-authority-token")


def test_the_default_policy_is_the_national_scheme() -> None:
    # Given no overrides
    # When the policy is read from the settings
    policy = SafetyMapSettings().risk_policy()
    # Then it holds SPEC §3.6's defaults
    assert policy == RiskPolicy()
    assert policy.case_very_high_for == timedelta(hours=72)
    assert policy.case_high_for == timedelta(days=14)
    assert policy.near_capacity_ratio == 0.8
    assert policy.min_self_assessment_score == 50
    assert policy.area_level_raising_venues is Level.HIGH
    assert policy.area_window == timedelta(days=7)
    assert policy.area_thresholds_per_100k == (20.0, 50.0, 150.0)
    assert policy.vaccination_step_down_coverage is None


@pytest.mark.parametrize(
    ("variable", "value", "attribute", "expected"),
    [
        ("SAFETY_MAP_CASE_VERY_HIGH_HOURS", "48", "case_very_high_for", timedelta(hours=48)),
        ("SAFETY_MAP_CASE_HIGH_DAYS", "21", "case_high_for", timedelta(days=21)),
        ("SAFETY_MAP_NEAR_CAPACITY_RATIO", "0.5", "near_capacity_ratio", 0.5),
        ("SAFETY_MAP_NEAR_CAPACITY_RATIO", "1", "near_capacity_ratio", 1.0),
        ("SAFETY_MAP_MIN_SELF_ASSESSMENT", "70", "min_self_assessment_score", 70),
        ("SAFETY_MAP_AREA_LEVEL_FOR_VENUES", "4", "area_level_raising_venues", Level.VERY_HIGH),
        ("SAFETY_MAP_AREA_WINDOW_DAYS", "14", "area_window", timedelta(days=14)),
        ("SAFETY_MAP_AREA_WINDOW_DAYS", "0.5", "area_window", timedelta(hours=12)),
        ("SAFETY_MAP_AREA_THRESHOLDS", "[10,30,100]", "area_thresholds_per_100k", (10.0, 30.0, 100.0)),
        ("SAFETY_MAP_VACCINATION_STEP_DOWN", "0.7", "vaccination_step_down_coverage", 0.7),
    ],
)
def test_each_threshold_can_be_overridden_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, attribute: str, expected: Any
) -> None:
    # Given one threshold set in the environment
    monkeypatch.setenv(variable, value)
    # When the policy is read
    policy = SafetyMapSettings().risk_policy()
    # Then that threshold is overridden and the others keep their defaults
    assert getattr(policy, attribute) == expected
    for name in RiskPolicy.__dataclass_fields__:
        if name != attribute:
            assert getattr(policy, name) == getattr(RiskPolicy(), name)


def test_overridden_area_thresholds_set_the_area_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given area thresholds of 10, 30 and 100 per 100k
    monkeypatch.setenv("SAFETY_MAP_AREA_THRESHOLDS", "[10,30,100]")
    policy = SafetyMapSettings().risk_policy()
    # When rates are turned into levels
    # Then the new thresholds apply
    assert level_for_rate(9.99, policy) is Level.LOW
    assert level_for_rate(10, policy) is Level.MEDIUM
    assert level_for_rate(30, policy) is Level.HIGH
    assert level_for_rate(100, policy) is Level.VERY_HIGH


@pytest.mark.parametrize(
    "thresholds", ["[30,10,100]", "[10,10,100]", "[0,30,100]", "[-5,30,100]"], ids=["unordered", "equal", "zero", "neg"]
)
def test_area_thresholds_that_do_not_increase_from_above_0_are_refused(
    monkeypatch: pytest.MonkeyPatch, thresholds: str
) -> None:
    monkeypatch.setenv("SAFETY_MAP_AREA_THRESHOLDS", thresholds)
    with pytest.raises(ValueError, match="increasing"):
        SafetyMapSettings().risk_policy()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAFETY_MAP_AREA_THRESHOLDS", "[10,30]"),
        ("SAFETY_MAP_AREA_THRESHOLDS", "ten"),
        ("SAFETY_MAP_NEAR_CAPACITY_RATIO", "0"),
        ("SAFETY_MAP_NEAR_CAPACITY_RATIO", "1.5"),
        ("SAFETY_MAP_MIN_SELF_ASSESSMENT", "101"),
        ("SAFETY_MAP_MIN_SELF_ASSESSMENT", "-1"),
        ("SAFETY_MAP_AREA_LEVEL_FOR_VENUES", "0"),
        ("SAFETY_MAP_AREA_LEVEL_FOR_VENUES", "5"),
        ("SAFETY_MAP_CASE_VERY_HIGH_HOURS", "0"),
        ("SAFETY_MAP_CASE_HIGH_DAYS", "-1"),
        ("SAFETY_MAP_AREA_WINDOW_DAYS", "0"),
        ("SAFETY_MAP_VACCINATION_STEP_DOWN", "1.2"),
    ],
)
def test_an_impossible_threshold_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    # (a value that is not even JSON fails before validation, as pydantic-settings' SettingsError, a ValueError)
    with pytest.raises((ValidationError, SettingsError)):
        SafetyMapSettings()


def test_settings_cannot_be_built_without_the_health_authority_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTOAN_HA_TOKEN")
    with pytest.raises(ValidationError):
        SafetyMapSettings()


@pytest.mark.parametrize(
    "changes",
    [
        {"area_thresholds_per_100k": (50.0, 20.0, 150.0)},
        {"area_thresholds_per_100k": (20.0, 50.0, 50.0)},
        {"area_thresholds_per_100k": (0.0, 50.0, 150.0)},
        {"near_capacity_ratio": 0.0},
        {"near_capacity_ratio": 1.01},
    ],
)
def test_a_policy_with_impossible_thresholds_cannot_be_made(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RiskPolicy(**changes)
