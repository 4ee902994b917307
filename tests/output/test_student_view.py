"""The student view: rounding, reveal levels, overrides shown consistently, hints, the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.bank import Reveal
from grader.errors import GraderError
from grader.i18n import gettext_for
from grader.load.loader import load_bank
from grader.output.result_files import grades_csv
from grader.output.student_view import (
    Display,
    Policy,
    answer_document,
    bank_policy,
    parse_reveal,
    shown_scores,
    student_answer,
    student_report,
)
from grader.results import (
    AnswerResult,
    BankInfo,
    CriterionResult,
    Flag,
    MisconceptionResult,
    Override,
    QuestionResult,
    Results,
    Similarity,
    StudentResult,
    Summary,
)

BANK_YAML = """\
id: view
title: {en: View, de: Ansicht}
languages: [de, en]
settings: {display_step: 0.5}
questions:
  - id: q1
    points: 3
    prompt: {de: Warum?, en: Why?}
    answers: {de: Weil., en: Because.}
    hint: {de: Denken Sie an die Skalierung., en: Think of scaling.}
    feedback: {de: Allgemeines Feedback., en: General feedback.}
    rubric:
      criteria:
        - id: scaling
          points: 2
          concept: {de: Modelle skalieren., en: Models scale.}
          feedback:
            met: {de: Richtig, en: Right}
            missed: {de: Nennen Sie die Skalierung., en: Mention scaling.}
          hint: {de: Was passiert bei mehr Daten?, en: What happens with more data?}
        - id: zero-shot
          points: 1
          keywords: {de: [[zero-shot]], en: [[zero-shot]]}
          feedback:
            met: {de: Genau, en: Exactly}
            missed: {de: Zero-shot fehlt., en: Zero-shot is missing.}
"""


@pytest.fixture
def bank(write):
    return load_bank(write("banks/view.yaml", BANK_YAML))


def criterion(identifier: str, points: float, credit: float, feedback: str) -> CriterionResult:
    return CriterionResult(
        identifier,
        points,
        credit,
        round(points * credit, 4),
        credit >= 0.5,
        keyword_language="de",
        keyword_credit=credit,
        concept=Similarity(0.7, credit, "Modelle skalieren.", "de"),
        feedback=feedback,
        feedback_language="de",
        reason=f"keywords {credit:.0%}; credit = 0.7 x best + 0.3 x last",
    )


def result(score: float = 2.1234, override: Override | None = None) -> AnswerResult:
    return AnswerResult(
        id="q1",
        points=3,
        score=override.score if override else score,
        auto_score=score,
        answer="Modelle werden mit Daten besser.",
        language="de",
        answered=True,
        criteria=(
            criterion("scaling", 2, 0.95, "Richtig"),
            criterion("zero-shot", 1, 0.1, "Zero-shot fehlt."),
        ),
        misconceptions=(MisconceptionResult("m1", 0.5, feedback="Nein.", feedback_language="de"),),
        flags=(Flag("near-boundary", "2.12 of 3 is close to the pass mark"),),
        feedback="Allgemeines Feedback.",
        override=override,
    )


# ---------------------------------------------------------------- rounding


def test_display_rounds_half_up_to_decimals_or_step() -> None:
    assert Display().round(0.9434) == 0.94
    assert Display().round(0.125) == 0.13  # half up, not to even
    assert Display(decimals=1).round(14.25) == 14.3
    assert Display(decimals=0).round(2.5) == 3
    assert Display(step=0.5).round(1.74) == 1.5 and Display(step=0.5).round(1.75) == 2.0
    assert Display(step=0.25).round(0.13) == 0.25
    assert Display(step=0.5).round(2.9, limit=2.7) == 2.7  # never above the points
    assert Display().round(-0.001) == 0
    assert [Display().text(v) for v in (3.0, 2.5, 0.94, 0.1 + 0.2)] == ["3", "2.5", "0.94", "0.3"]


@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=12))
def test_totals_are_the_sums_of_the_shown_scores(scores: list[float]) -> None:
    for display in (Display(), Display(decimals=1), Display(step=0.5), Display(decimals=0)):
        questions = tuple(
            QuestionResult(
                f"q{index}",
                "short_answer",
                5,
                score,
                (AnswerResult(f"q{index}", 5, score, score, "x", "en", True),),
            )
            for index, score in enumerate(scores)
        )
        student = StudentResult("s", "s", sum(scores), 5 * len(scores), questions)
        shown, total = shown_scores(student, display)
        assert total == pytest.approx(sum(shown.values()), abs=1e-12)
        assert Display().text(total) == Display().text(round(sum(shown.values()), 6))


def test_grades_csv_total_is_the_sum_of_its_columns() -> None:
    """A class whose raw total rounds differently from the sum of its rounded questions."""
    answers = [AnswerResult(f"q{i}", 3, 2.435, 2.435, "x", "en", True) for i in range(6)]
    questions = tuple(QuestionResult(a.id, "short_answer", 3, a.score, (a,)) for a in answers)
    student = StudentResult("s1", "s1", 14.61, 18, questions)
    results = Results(
        BankInfo("b", "B", "", "", ("en",), 18),
        {"display_decimals": 2},
        {},
        (student,),
        (),
        Summary(1, 6, 0, 0, 14.61),
    )
    header, row = grades_csv(results).splitlines()
    assert header == "student,q0,q1,q2,q3,q4,q5,total,max"
    cells = row.split(",")
    assert cells[1:7] == ["2.44"] * 6 and cells[7] == "14.64" and cells[8] == "18"
    stepped = Results(**{**results.__dict__, "settings": {"display_step": 0.5}})
    assert grades_csv(stepped).splitlines()[1].split(",")[1:8] == ["2.5"] * 6 + ["15"]


# ---------------------------------------------------------------- what a student sees


def test_a_student_sees_the_score_criteria_and_feedback_but_nothing_instructor_only(bank) -> None:
    view = student_answer(result(), bank.gradables()["q1"], bank_policy(bank), bank.languages)
    assert view.score == 2.0  # 2.1234 on the bank's 0.5 step
    assert [(c.id, c.met, c.feedback.text) for c in view.criteria] == [
        ("scaling", True, "Richtig"),
        ("zero-shot", False, "Zero-shot fehlt."),
    ]
    document = json.dumps(answer_document(view), ensure_ascii=False)
    for secret in ("near-boundary", "pass mark", "credit =", "keywords", "2.1234", "m1"):
        assert secret not in document, secret
    assert view.feedback.text == "Allgemeines Feedback." and view.hint.text.startswith("Denken")
    assert view.misconceptions[0].feedback.text == "Nein." and view.misconceptions[0].penalty == 0.5


def test_hints_come_after_a_miss_only(bank) -> None:
    gradable = bank.gradables()["q1"]
    missed = student_answer(result(), gradable, Policy(Reveal.MISSED), bank.languages)
    assert missed.criteria[0].hint.text == ""  # met: no hint
    assert missed.criteria[1].hint.text == ""  # the zero-shot criterion has none
    full = result(3.0)
    full_view = student_answer(full, gradable, Policy(Reveal.MISSED), bank.languages)
    assert full_view.hint.text == ""  # full marks: no question hint
    english = AnswerResult(
        **{
            **result(0.2).__dict__,
            "language": "en",
            "criteria": (criterion("scaling", 2, 0.1, ""),),
        }
    )
    english_view = student_answer(english, gradable, Policy(Reveal.MISSED), bank.languages)
    assert english_view.criteria[0].hint.text == "What happens with more data?"
    assert english_view.hint.text == "Think of scaling." and english_view.hint.language == "en"


def test_reveal_none_hides_what_was_missed_and_says_so(bank) -> None:
    view = student_answer(result(), bank.gradables()["q1"], Policy(Reveal.NONE), bank.languages)
    assert [(c.id, c.met) for c in view.criteria] == [("scaling", True), ("", False)]
    assert view.criteria[1].feedback.text == "" and view.hidden == 1
    assert view.feedback.text == "" and view.hint.text == "" and view.model_answers == ()
    assert view.misconceptions[0].feedback.text == ""
    document = answer_document(view, gettext_for("de"))
    assert document["criteria"][1] == {
        "id": None,
        "name": "Kriterium 2",
        "met": False,
        "likely": False,
        "feedback": "",
    }


def test_reveal_all_adds_model_answers_and_key_ideas_in_the_answers_language(bank) -> None:
    view = student_answer(result(), bank.gradables()["q1"], Policy(Reveal.ALL), bank.languages)
    assert [text.text for text in view.model_answers] == ["Weil."]
    assert view.criteria[1].key_idea.text == ""  # keywords only: no key idea
    assert view.criteria[0].key_idea.text == "Modelle skalieren."


@pytest.mark.parametrize(
    ("score", "expected"),
    [(0.0, [False, False]), (3.0, [True, True]), (1.0, [False, True]), (2.0, [True, False])],
)
def test_an_overridden_answer_shows_criteria_consistent_with_its_score(
    bank, score: float, expected: list[bool]
) -> None:
    view = student_answer(
        result(override=Override(score, "Bitte genauer.", "o.csv:2")),
        bank.gradables()["q1"],
        Policy(Reveal.MISSED),
        bank.languages,
    )
    assert view.score == score and view.overridden and view.comment == "Bitte genauer."
    assert [c.met for c in view.criteria] == expected
    # a turned verdict brings the rubric's feedback for it, in the answer's language
    feedback = {c.id: c.feedback.text for c in view.criteria}
    assert feedback["scaling"] == ("Richtig" if expected[0] else "Nennen Sie die Skalierung.")
    assert feedback["zero-shot"] == ("Genau" if expected[1] else "Zero-shot fehlt.")
    assert view.misconceptions[0].penalty == 0  # the penalty was the automatic score's
    assert "2.1234" not in json.dumps(answer_document(view))


def test_a_report_total_is_the_sum_of_its_questions(bank) -> None:
    answer = result()
    question = QuestionResult("q1", "short_answer", 3, answer.score, (answer,))
    student = StudentResult("s", "s", answer.score, 3, (question,))
    report = student_report(student, bank, Policy(Reveal.MISSED, Display(step=0.5)))
    assert report.total == 2.0 and report.language == "de"


def test_unknown_reveal_is_a_user_error() -> None:
    assert parse_reveal("all") is Reveal.ALL
    with pytest.raises(GraderError, match="unknown --reveal 'some' \\(choose one of: none"):
        parse_reveal("some")


def test_display_from_results_settings() -> None:
    assert Display.from_settings({}) == Display(2, None)
    assert Display.from_settings({"display_decimals": 1, "display_step": None}) == Display(1)
    assert Display.from_settings({"display_step": 0.5}).round(1.3) == 1.5


def test_bank_settings_and_hints_load(bank) -> None:
    assert bank.settings.display_step == 0.5 and bank.settings.display_decimals == 2
    assert bank.settings.reveal is Reveal.MISSED
    question = bank.questions[0]
    assert question.hint.get("en") == "Think of scaling."
    assert question.rubric is not None and question.rubric.criteria[0].hint.get("de").startswith(
        "Was"
    )


def test_results_record_the_display_setting(bank, tmp_path: Path) -> None:
    from grader.grading import GradeOptions, grade
    from grader.load.submissions import Submission

    results = grade(
        bank,
        [Submission("s", "q1", "Modelle skalieren mit zero-shot.", "de", None, 2)],
        GradeOptions(model="none", use_cache=False),
    )
    assert results.settings["display_step"] == 0.5
    assert Display.from_settings(results.settings) == Display(2, 0.5)


def test_a_criterion_credited_on_meaning_alone_shows_as_likely_met(bank) -> None:
    from dataclasses import replace

    from grader.i18n import gettext_for

    answer = result()
    likely = replace(answer.criteria[0], status="likely", feedback="", feedback_language="")
    answer = replace(answer, criteria=(likely, answer.criteria[1]))
    view = student_answer(answer, bank.gradables()["q1"], bank_policy(bank), bank.languages)
    assert [(c.met, c.likely) for c in view.criteria] == [(True, True), (False, False)]
    assert answer_document(view)["criteria"][0]["likely"] is True
    assert gettext_for("de")("Likely met") == "Wahrscheinlich erfüllt"
    overridden = replace(answer, score=0.0, override=Override(0.0, "", ""))
    zero = student_answer(overridden, bank.gradables()["q1"], bank_policy(bank), bank.languages)
    assert [(c.met, c.likely) for c in zero.criteria] == [(False, False), (False, False)]
