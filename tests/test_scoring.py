"""The scoring arithmetic, on hand-made signals (no models, no analysers)."""

from __future__ import annotations

from grader.model import Criterion, Gradable, Keywords, LocalText, Misconception, Rubric
from grader.results import GroupEvidence, TermEvidence
from grader.scoring import (
    KeywordSignal,
    Match,
    Penalty,
    ScoringParams,
    Signals,
    criterion_credit,
    score_answer,
)

PARAMS = ScoringParams(floor=0.3, ceiling=0.8, rubric_weight=0.7, review_margin=0.1)
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
        Criterion("b", 2, Keywords({}), LocalText({"en": "idea b"})),
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


def test_ramp():
    assert PARAMS.ramp(0.3) == 0 and PARAMS.ramp(0.8) == 1 and abs(PARAMS.ramp(0.55) - 0.5) < 1e-9
    assert PARAMS.ramp(-1) == 0 and PARAMS.ramp(2) == 1


def test_criterion_credit_combination():
    assert criterion_credit(1.0, None, None, 0.7) == 1.0
    assert criterion_credit(None, None, 0.6, 0.7) == 0.6
    assert abs(criterion_credit(0.5, 0.9, 0.5, 0.7) - (0.7 * 0.9 + 0.3 * 0.5)) < 1e-9


def test_keywords_only_score_and_feedback():
    signals = Signals(
        "en",
        True,
        keywords={
            "a": KeywordSignal("en", (met("x"),)),
            "b": KeywordSignal("en", (met("y"), unmet("z"))),
        },
    )
    scored = score_answer(GRADABLE, signals, PARAMS, ["en"])
    assert scored.score == 3.0
    a, b = scored.criteria
    assert (a.credit, a.met, a.feedback) == (1.0, True, "yes a")
    assert (b.credit, b.score, b.met) == (0.5, 1.0, True)
    assert [f.code for f in scored.flags] == []


def test_semantic_evidence_and_misconception_penalty():
    signals = Signals(
        "en",
        True,
        answer_match=Match(0.8, "model", "en"),
        concept_matches={"a": Match(0.8, "idea a", "en"), "b": Match(0.3, "idea b", "en")},
        statement_matches={"m": Match(0.9, "wrong idea", "en", (0, 5))},
    )
    scored = score_answer(GRADABLE, signals, PARAMS, ["en"])
    # a: 0.7*1 + 0.3*1 = 1 -> 2 points; b: 0.7*0 + 0.3*1 = 0.3 -> 0.6; minus penalty 1
    assert scored.score == 1.6
    assert [m.id for m in scored.misconceptions] == ["m"] and scored.misconceptions[
        0
    ].feedback == "not so"
    assert (
        scored.misconceptions[0].similarity
        and scored.misconceptions[0].similarity.answer_start == 0
    )


def test_score_is_clamped_and_penalties_scale():
    signals = Signals(
        "en",
        True,
        keywords={"a": KeywordSignal("en", (met("x"),)), "b": KeywordSignal("en", (met("y"),))},
        penalties=(Penalty("keyword-salad", 0.2, "salad"),),
    )
    scored = score_answer(GRADABLE, signals, PARAMS, ["en"])
    assert scored.score == 0.8 and [f.code for f in scored.flags] == ["keyword-salad"]


def test_contradiction_zeroes_the_criterion():
    contradicted = GroupEvidence(("x",), True, term("x", 0), term("x", 20, negated=True))
    signals = Signals(
        "en",
        True,
        keywords={"a": KeywordSignal("en", (contradicted,)), "b": KeywordSignal("en", (met("y"),))},
        concept_matches={"a": Match(0.9, "idea a", "en")},
    )
    scored = score_answer(GRADABLE, signals, PARAMS, ["en"])
    assert scored.criteria[0].credit == 0 and "negates" in scored.criteria[0].reason
    assert "near-boundary" in [f.code for f in scored.flags]


def test_disagreeing_signals_are_flagged():
    signals = Signals(
        "en",
        True,
        keywords={"a": KeywordSignal("en", (unmet("x"),)), "b": KeywordSignal("en", (unmet("y"),))},
        concept_matches={"a": Match(0.95, "idea a", "en")},
    )
    scored = score_answer(GRADABLE, signals, PARAMS, ["en"])
    assert "signals-disagree" in [f.code for f in scored.flags]


def test_unanswered_scores_zero_with_missed_feedback():
    scored = score_answer(GRADABLE, Signals("", False), PARAMS, ["en"])
    assert (
        scored.score == 0
        and scored.criteria[0].feedback == "no a"
        and scored.criteria[0].reason == "no answer"
    )


def test_no_rubric_uses_overlap_and_similarity():
    bare = Gradable("q", 2, LocalText({"en": "?"}), {"en": ("model",)})
    scored = score_answer(
        bare,
        Signals("en", True, overlap=0.5, answer_match=Match(0.8, "model", "en")),
        PARAMS,
        ["en"],
    )
    assert scored.score == round(2 * (0.7 * 0.5 + 0.3 * 1.0), 4)
