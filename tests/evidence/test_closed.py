from __future__ import annotations

import pytest

from grader.bank import Closed, Gradable, LocalText, Option, QuestionType
from grader.evidence.closed import score_closed
from grader.scoring.defaults import defaults

MET = defaults().met  # a criterion is met at this credit

MC = Gradable(
    "mc",
    2,
    LocalText({"en": "Which?"}),
    {},
    kind=QuestionType.MULTIPLE_CHOICE,
    closed=Closed(
        options=(
            Option("a", LocalText({"en": "BERT"}), 0.0, LocalText({"en": "encoder-only"})),
            Option("b", LocalText({"en": "T5"}), 1.0),
        )
    ),
)
MULTI = Gradable(
    "multi",
    4,
    LocalText({"en": "Which are decoders?"}),
    {},
    kind=QuestionType.MULTIPLE_CHOICE,
    closed=Closed(
        multiple=True,
        options=(
            Option("a", LocalText({"en": "GPT"}), 0.5),
            Option("b", LocalText({"en": "Llama"}), 0.5),
            Option("c", LocalText({"en": "BERT"}), -0.5),
        ),
    ),
)
NUM = Gradable(
    "num",
    1,
    LocalText({"en": "How many?"}),
    {},
    kind=QuestionType.NUMERIC,
    closed=Closed(value=12.5, tolerance=0.5, units=("GB",)),
)


def test_single_choice_by_id_or_text():
    assert score_closed(MC, "b", ["en"], MET)[0] == pytest.approx(2)
    assert score_closed(MC, " t5 ", ["en"], MET)[0] == pytest.approx(2)
    score, (criterion,) = score_closed(MC, "a", ["en"], MET)
    assert (
        score == pytest.approx(0)
        and criterion.feedback == "encoder-only"
        and criterion.reason == "chose a (+0%)"
    )
    assert (
        score_closed(MC, "a,b", ["en"], MET)[1][0].reason
        == "several options chosen where one was asked for"
    )


def test_multiple_choice_partial_and_negative_credit():
    assert score_closed(MULTI, "a", ["en"], MET)[0] == 2
    assert score_closed(MULTI, "a, b", ["en"], MET)[0] == 4
    assert score_closed(MULTI, "a,b,c", ["en"], MET)[0] == 2
    assert score_closed(MULTI, "c", ["en"], MET)[0] == 0


def test_numeric_tolerance_and_units():
    assert score_closed(NUM, "12.9 GB", ["en"], MET)[0] == 1
    assert score_closed(NUM, "12,2", ["en"], MET)[0] == 1
    assert score_closed(NUM, "13.1", ["en"], MET)[1][0].reason == "13.1 is outside 12.5 ± 0.5"
    assert score_closed(NUM, "12.5 MB", ["en"], MET)[1][0].reason == "unit 'MB' is not one of GB"
    assert score_closed(NUM, "twelve", ["en"], MET)[0] == 0
