"""The scoring rule, on hand-made signals (no models, no analysers) and fixed parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.bank import Criterion, Gradable, Keywords, LocalText, Misconception, Rubric
from grader.evidence.match import Match, Ramp
from grader.results import GroupEvidence, TermEvidence
from grader.scoring.defaults import Logit, MeaningMap, Review
from grader.scoring.inputs import (
    CriterionSignal,
    KeywordSignal,
    MisconceptionSignal,
    Penalty,
    Signals,
)
from grader.scoring.params import ScoringParams
from grader.scoring.rule import Status, score_answer
from grader.scoring.vectorised import answer_share, criterion_credit, meaning_credit

MEANING = MeaningMap(
    both=Logit(-4.0, 4.0, 4.0),
    similarity_only=Logit(-4.0, 6.0),
    overlap_only=Logit(-3.0, 0.0, 6.0),
)
PARAMS = ScoringParams(
    ramp=Ramp(floor=0.0, ceiling=1.0, cross_floor=0.0, cross_ceiling=0.8),
    meaning=MEANING,
    met=0.5,
    meaning_cap=0.85,
    misconception_similarity=0.9,
    misconception_margin=0.05,
    wrong_margin=0.1,
    wrong_similarity=0.8,
    sharpness=1.0,
    meaning_only_flag=0.25,
    review=Review(-20.0, 0.0, 0.0, 0.0, threshold=0.5, share=0.15),  # never flags
)
RUBRIC = Rubric(
    "r",
    (
        Criterion(
            "a",
            2,
            Keywords({}),
            LocalText({"en": "idea a"}),
            LocalText({"en": "yes a"}),
            LocalText({"en": "no a"}),
        ),
        Criterion("b", 2, Keywords({}), LocalText({"en": "idea b"}), LocalText({"en": "yes b"})),
    ),
    (
        Misconception(
            "m", LocalText({"en": "wrong idea"}), 1.0, feedback=LocalText({"en": "not so"})
        ),
    ),
)
GRADABLE = Gradable("q", 4, LocalText({"en": "?"}), {"en": ("model",)}, RUBRIC)


def term(text: str, start: int, negated: bool = False) -> TermEvidence:
    return TermEvidence(text, text, start, start + len(text), negated=negated)


def met(text: str) -> GroupEvidence:
    return GroupEvidence((text,), True, term(text, 0))


def unmet(text: str) -> GroupEvidence:
    return GroupEvidence((text,), False)


def negated(text: str) -> GroupEvidence:
    return GroupEvidence((text,), False, None, term(text, 4, negated=True))


def keywords(*groups: GroupEvidence) -> KeywordSignal:
    return KeywordSignal("en", groups)


def close(cosine: float, reference: str = "idea") -> Match:
    return Match(cosine, reference, "en")


def scored(criteria: dict[str, CriterionSignal], **extra: object):
    return score_answer(GRADABLE, Signals("en", True, criteria=criteria, **extra), PARAMS, ["en"])


# ---------------------------------------------------------------- the vectorised rule


def _from_unrelated(logit: float, base: float) -> float:
    """The meaning map's reading: the curve from its value at zero evidence (``base``) up."""
    p, p0 = 1 / (1 + math.exp(-logit)), 1 / (1 + math.exp(-base))
    return max(0.0, (p - p0) / (1 - p0))


def test_meaning_credit_uses_the_predictor_the_evidence_allows() -> None:
    credit = meaning_credit([1.0, 1.0, math.nan, math.nan], [0.5, math.nan, 0.5, math.nan], MEANING)
    assert credit[0] == pytest.approx(_from_unrelated(-4 + 4 + 2, -4))
    assert credit[1] == pytest.approx(_from_unrelated(2.0, -4))
    assert credit[2] == pytest.approx(_from_unrelated(0.0, -3))
    assert math.isnan(credit[3])


def test_unrelated_evidence_earns_nothing() -> None:
    credit = meaning_credit([0.0, -0.4, math.nan], [0.0, 0.0, 0.0], MEANING)
    assert credit.tolist() == [0.0, 0.0, 0.0]


def test_meaning_credit_rises_with_similarity_and_overlap() -> None:
    grid = np.linspace(0.05, 1.5, 21)
    assert np.all(np.diff(meaning_credit(grid, np.full(21, 0.3), MEANING)) > 0)
    assert np.all(np.diff(meaning_credit(np.full(21, 0.5), np.linspace(0, 1, 21), MEANING)) > 0)


def test_shift_scale_and_sharpness_move_the_log_odds() -> None:
    base = float(meaning_credit([0.9], [math.nan], MEANING)[0])  # logit 1.4
    assert base == pytest.approx(_from_unrelated(1.4, -4.0))
    shifted = float(meaning_credit([0.9], [math.nan], MEANING, shift=-1.4)[0])
    assert shifted == pytest.approx(_from_unrelated(0.0, -5.4))
    sharp = float(meaning_credit([0.9], [math.nan], MEANING, sharpness=3.0)[0])
    assert sharp > base
    assert sharp == pytest.approx(_from_unrelated(4.2, -12.0))
    assert float(meaning_credit([0.9], [math.nan], MEANING, scale=0.0)[0]) == pytest.approx(0.0)


def test_criterion_credit_keywords_meaning_cap_negation_and_void() -> None:
    credit = criterion_credit(
        keyword=[1.0, 0.0, 0.5, math.nan, 1.0, math.nan, 0.0],
        meaning=[0.2, 0.95, 0.3, 0.7, 0.9, 0.9, 0.95],
        negated=[False, False, False, False, True, False, False],
        void=[False, False, False, False, False, True, True],
        cap=0.85,
    )
    assert credit.tolist() == pytest.approx([1.0, 0.85, 0.5, 0.7, 0.0, 0.0, 0.0])


def test_answer_share_weights_factors_penalties_and_clamps() -> None:
    shares = answer_share(
        credit=[1.0, 0.5, 1.0, 1.0],
        weight=[0.5, 0.5, 1.0, 1.0],
        owner=[0, 0, 1, 2],
        answers=3,
        factor=[1.0, 0.2, 1.0],
        penalty=[0.0, 0.0, 1.5],
    )
    assert shares.tolist() == pytest.approx([0.75, 0.2, 0.0])


# ---------------------------------------------------------------- one answer


def test_keywords_alone_score_and_give_the_met_feedback() -> None:
    result = scored(
        {
            "a": CriterionSignal(keywords=keywords(met("x"))),
            "b": CriterionSignal(keywords=keywords(met("y"), unmet("z"))),
        }
    )
    assert result.score == pytest.approx(3.0)
    a, b = result.criteria
    assert (a.status, a.met, a.feedback) == (Status.MET, True, "yes a")
    assert (b.status, b.credit, b.met, b.feedback) == (Status.PARTLY, 0.5, False, "")
    assert result.flags == ()


def test_meaning_alone_is_capped_flagged_and_never_called_correct() -> None:
    result = scored(
        {
            "a": CriterionSignal(keywords=keywords(unmet("x")), match=close(1.2), overlap=0.6),
            "b": CriterionSignal(keywords=keywords(met("y"))),
        }
    )
    a = result.criteria[0]
    assert a.status == Status.LIKELY and a.met
    assert a.credit == pytest.approx(0.85)
    assert a.feedback != "yes a" and "teacher will confirm" in a.feedback
    assert [flag.code for flag in result.flags] == ["meaning-only"]


def test_a_negated_criterion_earns_nothing_whatever_its_cosine() -> None:
    result = scored(
        {
            "a": CriterionSignal(keywords=keywords(negated("x")), match=close(0.99), overlap=1.0),
            "b": CriterionSignal(match=close(0.99), overlap=1.0, negated=True),
        }
    )
    assert result.score == 0.0
    for criterion in result.criteria:
        assert criterion.status == Status.NEGATED and not criterion.met and criterion.credit == 0
        assert criterion.feedback != "yes a" and criterion.feedback != "yes b"
    assert "negates" in result.criteria[0].reason


def test_closer_to_a_wrong_answer_voids_meaning_but_not_keywords() -> None:
    wrong = Match(0.95, "a wrong answer", "en")
    result = scored(
        {
            "a": CriterionSignal(match=close(0.9), overlap=0.5, wrong=wrong),
            "b": CriterionSignal(keywords=keywords(met("y")), match=close(0.9), wrong=wrong),
        }
    )
    a, b = result.criteria
    assert (a.status, a.credit, a.met) == (Status.WRONG, 0.0, False)
    assert a.wrong is not None and a.wrong.reference == "a wrong answer"
    assert (b.status, b.credit) == (Status.MET, 1.0)


def test_a_criterion_the_answer_does_not_address_earns_almost_nothing() -> None:
    result = scored({"a": CriterionSignal(keywords=keywords(met("x"))), "b": CriterionSignal()})
    assert result.criteria[1].credit == 0.0 and result.criteria[1].status == Status.MISSED
    weak = scored({"a": CriterionSignal(match=close(0.05), overlap=0.0)})
    assert weak.criteria[0].credit < 0.05


def test_whole_answer_similarity_pays_no_criterion() -> None:
    result = scored({}, answer_match=close(1.0, "model"))
    assert result.score == 0.0
    assert [c.status for c in result.criteria] == [Status.MISSED, Status.MISSED]


def test_a_stated_misconception_subtracts_its_penalty() -> None:
    statement = Match(0.98, "wrong idea", "en", (0, 5))
    result = scored(
        {
            "a": CriterionSignal(keywords=keywords(met("x"))),
            "b": CriterionSignal(keywords=keywords(met("y"))),
        },
        misconceptions={"m": MisconceptionSignal(match=statement, right_cosine=0.5)},
    )
    assert result.score == pytest.approx(3.0)
    hit = result.misconceptions[0]
    assert (hit.id, hit.feedback) == ("m", "not so")
    assert hit.similarity is not None and hit.similarity.answer_start == 0


def test_a_negated_or_weaker_misconception_is_not_counted() -> None:
    statement = Match(0.98, "wrong idea", "en")
    for signal in (
        MisconceptionSignal(match=statement, right_cosine=0.5, negated=True),
        MisconceptionSignal(match=statement, right_cosine=0.97),
        MisconceptionSignal(match=Match(0.5, "wrong idea", "en"), right_cosine=0.1),
    ):
        result = scored({}, misconceptions={"m": signal})
        assert result.misconceptions == ()


def test_gaming_penalties_scale_the_score_and_carry_their_factor() -> None:
    result = scored(
        {
            "a": CriterionSignal(keywords=keywords(met("x"))),
            "b": CriterionSignal(keywords=keywords(met("y"))),
        },
        penalties=(Penalty("keyword-salad", 0.2, "salad"),),
    )
    assert result.score == pytest.approx(0.8)
    assert [(f.code, f.factor) for f in result.flags] == [("keyword-salad", 0.2)]


def test_an_unanswered_question_scores_zero_with_the_missed_feedback() -> None:
    result = score_answer(GRADABLE, Signals("", False), PARAMS, ["en"])
    assert result.score == 0 and result.criteria[0].feedback == "no a"
    assert result.criteria[0].reason == "no answer"
    assert result.criteria[0].status == Status.MISSED


def test_without_a_rubric_the_model_answers_are_the_one_criterion() -> None:
    bare = Gradable("q", 2, LocalText({"en": "?"}), {"en": ("model",)})
    signal = CriterionSignal(match=close(1.0, "model"), overlap=0.5, rubric=False)
    result = score_answer(
        bare, Signals("en", True, criteria={"model-answer": signal}), PARAMS, ["en"]
    )
    expected = float(meaning_credit([1.0], [0.5], MEANING)[0])
    assert expected == pytest.approx(_from_unrelated(-4 + 4 + 2, -4))
    assert result.score == pytest.approx(2 * expected, abs=1e-4)
    assert [c.id for c in result.criteria] == ["model-answer"]


def test_sharpness_applies_to_rubric_criteria_only() -> None:
    sharp = ScoringParams(**{**PARAMS.__dict__, "sharpness": 3.0})
    bare = Gradable("q", 1, LocalText({"en": "?"}), {"en": ("model",)})
    signal = CriterionSignal(match=close(0.8), overlap=math.nan, rubric=False)
    plain = score_answer(
        bare, Signals("en", True, criteria={"model-answer": signal}), sharp, ["en"]
    )
    assert plain.score == pytest.approx(
        float(meaning_credit([0.8], [math.nan], MEANING)[0]), abs=1e-4
    )
    rubric = score_answer(
        GRADABLE,
        Signals("en", True, criteria={"a": CriterionSignal(match=close(0.8))}),
        sharp,
        ["en"],
    )
    expected = float(meaning_credit([0.8], [math.nan], MEANING, sharpness=3.0)[0])
    assert rubric.criteria[0].credit == pytest.approx(expected, abs=1e-4)


def test_a_full_score_whose_signals_agree_is_not_flagged() -> None:
    params = ScoringParams(
        **{**PARAMS.__dict__, "review": Review(-3.0, 20.0, 4.0, 0.0, threshold=0.5, share=0.15)}
    )
    full = score_answer(
        GRADABLE,
        Signals(
            "en",
            True,
            criteria={
                "a": CriterionSignal(keywords=keywords(met("x")), match=close(1.3), overlap=0.9),
                "b": CriterionSignal(keywords=keywords(met("y")), match=close(1.3), overlap=0.9),
            },
        ),
        params,
        ["en"],
        words=20,
    )
    assert full.score == pytest.approx(4.0) and full.flags == ()
    middling = score_answer(
        GRADABLE,
        Signals("en", True, criteria={"a": CriterionSignal(match=close(0.7), overlap=0.1)}),
        params,
        ["en"],
        words=20,
    )
    assert "uncertain" in [flag.code for flag in middling.flags]
