"""The venue self-assessment (SPEC §3.6): "a checklist of weighted criteria scored 0–100"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from antoan_safety_map.domain.levels import Level, RiskPolicy
from antoan_safety_map.domain.self_assessment import CHECKLIST, CRITERIA, TOTAL_WEIGHT, UnknownCriterionError, score
from antoan_safety_map.domain.venue_risk import VenueFacts, assess_venue

ALL_IDS = [criterion.id for criterion in CHECKLIST]
NOW = datetime(2021, 9, 10, 12, 0, tzinfo=UTC)


def test_the_checklist_weights_sum_to_100() -> None:
    assert sum(criterion.weight for criterion in CHECKLIST) == 100
    assert TOTAL_WEIGHT == 100


def test_every_criterion_has_a_unique_id_a_positive_weight_and_both_languages() -> None:
    assert len(set(ALL_IDS)) == len(ALL_IDS)
    assert set(CRITERIA) == set(ALL_IDS)
    for criterion in CHECKLIST:
        assert criterion.weight > 0
        assert criterion.text("vi") == criterion.vi != ""
        assert criterion.text("en") == criterion.en != ""


def test_every_criterion_met_scores_100() -> None:
    assert score(dict.fromkeys(ALL_IDS, True)) == 100


@pytest.mark.parametrize(
    "answers", [{}, dict.fromkeys(ALL_IDS, False)], ids=["nothing answered", "everything answered no"]
)
def test_nothing_met_scores_0(answers: dict[str, bool]) -> None:
    assert score(answers) == 0


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        (["masks"], 15),
        (["masks", "distancing", "hand_hygiene"], 45),
        (["masks", "distancing", "hand_hygiene", "capacity_limit"], 50),
        (["ventilation", "cleaning", "isolation_plan"], 25),
        ([i for i in ALL_IDS if i != "isolation_plan"], 95),
    ],
)
def test_the_score_is_the_weight_of_the_criteria_met(met: list[str], expected: int) -> None:
    # Given some criteria met and the rest answered no
    answers = {criterion_id: criterion_id in met for criterion_id in ALL_IDS}
    # When the checklist is scored
    # Then the score is the share of the weight met
    assert score(answers) == expected


def test_an_unanswered_criterion_counts_as_not_met() -> None:
    assert score({"masks": True, "distancing": True}) == 30


def test_an_answer_to_a_criterion_not_on_the_checklist_is_refused() -> None:
    # Given answers that include criteria the checklist does not have
    answers = {"masks": True, "zz_unknown": True, "aa_unknown": False}
    # When the checklist is scored
    with pytest.raises(UnknownCriterionError) as raised:
        score(answers)
    # Then every unknown criterion is named, in order, and the error is a ValueError
    assert raised.value.unknown == ["aa_unknown", "zz_unknown"]
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        (["masks", "distancing", "hand_hygiene", "capacity_limit"], Level.LOW),  # exactly 50
        (["masks", "distancing", "hand_hygiene"], Level.MEDIUM),  # 45, below 50
    ],
)
def test_a_venue_scoring_below_50_on_the_checklist_is_yellow(met: list[str], expected: Level) -> None:
    # Given a venue whose checklist answers score exactly 50 or just below
    facts = VenueFacts(capacity=100, self_assessment_score=score(dict.fromkeys(met, True)))
    # When the venue is assessed
    result = assess_venue(facts, NOW, RiskPolicy())
    # Then only the score below 50 makes it yellow
    assert result.level is expected
