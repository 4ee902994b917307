"""Regrade diffs: which scores changed, by how much, and why."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from markupsafe import Markup

from grader.bank import Bank
from grader.output.class_page import render_class
from grader.results import Results
from grader.review.diff import SECTION_TITLE, AnswerChange, PartChange, StudentChange, diff_results
from grader.review.diff_output import diff_section, diff_section_html, diff_to_dict, format_diff
from grader.review.override_file import OverrideRow
from grader.review.overrides import apply_overrides
from tests.review.test_review import BANK_YAML, CLASS_CSV, grade_class

# the rubric edit: T5 alone no longer names the model, and naming the full title is penalised
EDITED_BANK = BANK_YAML.replace(
    "keywords: {en: [[T5, Text-to-Text Transfer Transformer]]}",
    "keywords: {en: [[Text-to-Text Transfer Transformer]]}",
).replace(
    "          keywords: {en: [[encoder-decoder, seq2seq]]}\n",
    "          keywords: {en: [[encoder-decoder, seq2seq]]}\n"
    "      misconceptions:\n"
    "        - id: long-name\n"
    "          statement: {en: The model is called the Text-to-Text Transfer Transformer.}\n"
    "          keywords: {en: [[Transfer Transformer]]}\n"
    "          penalty: 0.5\n",
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bank, Results]:
    return grade_class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bank, Results]:
    assert EDITED_BANK != BANK_YAML
    return grade_class(tmp_path_factory.mktemp("edited"), bank_yaml=EDITED_BANK)


def scores(results: Results) -> dict[tuple[str, str], float]:
    return {
        (student.id, answer.id): answer.score
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }


def test_identical_results_give_an_empty_diff(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    _bank2, again = grade_class(tmp_path)  # graded again from scratch
    diff = diff_results(results, again)
    assert diff.empty
    assert diff == diff_results(results, results)
    assert (diff.context, diff.students, diff.answers) == ((), (), ())
    assert format_diff(diff) == "No changes: every score is the same."
    assert diff_to_dict(diff) == {
        "empty": True,
        "scores_changed": 0,
        "context": [],
        "students": [],
        "answers": [],
    }
    assert str(diff_section_html(diff)) == "<p>No changes: every score is the same.</p>"


def test_a_rubric_edit_lists_exactly_the_changed_scores(
    graded: tuple[Bank, Results], edited: tuple[Bank, Results]
) -> None:
    _bank, old = graded
    _bank2, new = edited
    diff = diff_results(old, new)
    before, after = scores(old), scores(new)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {("alice", "t2t"), ("bob", "t2t"), ("dave", "t2t"), ("frank", "t2t")}
    assert {(change.student, change.answer) for change in diff.answers} == changed
    by_student = {change.student: change for change in diff.answers}
    for student in ("alice", "bob", "dave"):
        change = by_student[student]
        assert (change.old_score, change.new_score, change.delta) == pytest.approx((2.0, 1.0, -1.0))
        assert change.question == "t2t" and change.status == "changed" and change.override == ""
        assert change.parts == (PartChange("criterion", "model", 1.0, 0.0, 1.0, 1.0),)
        assert change.reasons == ("criterion model: 1/1 → 0/1 (-1)",)
    frank = by_student["frank"]
    assert (frank.old_score, frank.new_score) == pytest.approx((2.0, 1.5))
    assert frank.parts == (PartChange("misconception", "long-name", None, 0.5),)
    assert frank.reasons == ("misconception long-name now found (-0.5)",)
    assert diff.context == (
        f"bank file changed (sha256 {old.bank.sha256[:12]} → {new.bank.sha256[:12]})",
    )
    totals = {student.id: student.total for student in old.students}
    assert diff.students == tuple(
        StudentChange(s, totals[s], round(totals[s] - delta, 4))
        for s, delta in [("alice", 1.0), ("bob", 1.0), ("dave", 1.0), ("frank", 0.5)]
    )
    assert diff.scores_changed == 4


def test_format_diff(graded: tuple[Bank, Results], edited: tuple[Bank, Results]) -> None:
    _bank, old = graded
    _bank2, new = edited
    text = format_diff(diff_results(old, new))
    total = {student.id: student.total for student in old.students}
    assert text.splitlines() == [
        "4 scores changed for 4 students.",
        "What changed for everyone:",
        f"  bank file changed (sha256 {old.bank.sha256[:12]} → {new.bank.sha256[:12]})",
        f"alice: {total['alice']:.3g} → {total['alice'] - 1:.3g} (-1)",
        "  t2t: 2 → 1 (-1)",
        "    criterion model: 1/1 → 0/1 (-1)",
        "bob: 4 → 3 (-1)",
        "  t2t: 2 → 1 (-1)",
        "    criterion model: 1/1 → 0/1 (-1)",
        f"dave: {total['dave']:.3g} → {total['dave'] - 1:.3g} (-1)",
        "  t2t: 2 → 1 (-1)",
        "    criterion model: 1/1 → 0/1 (-1)",
        f"frank: {total['frank']:.3g} → {total['frank'] - 0.5:.3g} (-0.5)",
        "  t2t: 2 → 1.5 (-0.5)",
        "    misconception long-name now found (-0.5)",
    ]


def _override(
    student: str, question: str, score: float, line: int, comment: str = ""
) -> OverrideRow:
    return OverrideRow(question, score, comment, student, None, "o.csv", line)


def test_overrides_added_changed_and_removed(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    first, _ = apply_overrides(
        results,
        [_override("carol", "t2t", 1, 2, "close"), _override("alice", "long-doc/fix", 0.5, 3)],
    )
    second, _ = apply_overrides(
        results, [_override("carol", "t2t", 1.5, 4, "closer"), _override("bob", "t2t", 2, 5)]
    )
    diff = diff_results(first, second)
    automatic = next(
        answer.auto_score
        for student in results.students
        if student.id == "alice"
        for question in student.questions
        for answer in question.answers
        if answer.id == "long-doc/fix"
    )
    assert [
        (c.student, c.answer, c.old_score, c.new_score, c.override, c.reasons) for c in diff.answers
    ] == [
        (
            "alice",
            "long-doc/fix",
            0.5,
            automatic,
            "removed",
            ("override removed (was 0.5 from o.csv:3)",),
        ),
        ("bob", "t2t", 2.0, 2.0, "added", ("override added: 2 from o.csv:5",)),
        ("carol", "t2t", 1.0, 1.5, "changed", ("override changed: 1 → 1.5 from o.csv:4 (closer)",)),
    ]
    assert diff.scores_changed == 2
    assert (
        format_diff(diff).splitlines()[0]
        == "2 scores changed for 2 students; 1 override changed without changing the score."
    )
    assert diff_results(results, first).answers[1] == AnswerChange(
        "carol",
        "t2t",
        "t2t",
        0.0,
        1.0,
        0.0,
        0.0,
        "added",
        ("override added: 1 from o.csv:2 (close)",),
    )


def test_an_override_over_a_changed_automatic_score(
    graded: tuple[Bank, Results], edited: tuple[Bank, Results]
) -> None:
    _bank, old = graded
    _bank2, new = edited
    row = _override("alice", "t2t", 2, 2)
    old_with, _ = apply_overrides(old, [row])
    new_with, _ = apply_overrides(new, [row])
    diff = diff_results(old_with, new_with)
    assert ("alice", "t2t") not in {
        (c.student, c.answer) for c in diff.answers
    }  # the override holds
    new_only, _ = apply_overrides(new, [_override("alice", "t2t", 1.5, 3)])
    change = next(c for c in diff_results(old, new_only).answers if c.student == "alice")
    assert change.reasons == (
        "override added: 1.5 from o.csv:3",
        "automatic score 2 → 1",
        "criterion model: 1/1 → 0/1 (-1)",
    )


def test_students_added_and_removed(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    csv = (
        "\n".join(line for line in CLASS_CSV.splitlines() if not line.startswith("carol,"))
        + "\nzoe,t2t,T5\n"
    )
    _bank2, changed = grade_class(tmp_path, csv=csv)
    diff = diff_results(results, changed)
    assert diff.students == (StudentChange("carol", 0.0, None), StudentChange("zoe", None, 1.0))
    assert [c.status for c in diff.students] == ["removed", "added"]
    assert diff.answers == ()  # a new or gone student is listed by total only
    assert format_diff(diff).splitlines()[0] == "No score changed; 1 student added, 1 removed."


def test_a_question_added_to_the_bank(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    extra = BANK_YAML + (
        "  - id: extra\n    type: short_answer\n    points: 1\n    prompt: {en: 'Anything?'}\n"
        "    answers: {en: Something.}\n"
    )
    _bank2, bigger = grade_class(tmp_path, bank_yaml=extra)
    diff = diff_results(results, bigger)
    assert {(c.answer, c.status, c.reasons) for c in diff.answers} == {
        ("extra", "added", ("question added to the bank",))
    }
    assert len(diff.answers) == len(results.students)
    assert "total points 5 → 6" in diff.context
    assert (
        format_diff(diff).splitlines()[0]
        == "No score changed; 6 answers to added or removed questions."
    )
    assert diff.scores_changed == 0
    assert diff.students == ()  # nobody answered it: totals unchanged


def test_settings_and_models_are_context(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    info = {
        "backend": "sentence-transformers",
        "dimension": 384,
        "languages": None,
        "similarity_floor": 0.3,
        "similarity_ceiling": 0.8,
    }
    first = dataclasses.replace(results, models={"minilm": info})
    second = dataclasses.replace(
        results,
        settings={**results.settings, "model": "minilm", "calibration": "fitted on 40 answers"},
        models={"minilm": {**info, "similarity_floor": 0.35}, "use-multilingual": info},
    )
    diff = diff_results(first, second)
    assert diff.context == (
        "setting calibration: default → 'fitted on 40 answers'",
        "setting model: 'none' → 'minilm'",
        "model minilm: similarity_floor 0.3 → 0.35",
        "model use-multilingual now used",
    )
    assert diff.answers == () and diff.students == () and not diff.empty


def test_diff_section_is_escaped_and_fits_the_class_page(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    hostile = "<script>alert(1)</script>"
    renamed = dataclasses.replace(
        results,
        students=tuple(
            dataclasses.replace(s, id=hostile) if s.id == "carol" else s for s in results.students
        ),
    )
    changed, _ = apply_overrides(
        renamed, [OverrideRow("t2t", 1, "<b>bold</b> \u202e", hostile, None, "o.csv", 2)]
    )
    html = diff_section_html(diff_results(renamed, changed))
    assert isinstance(html, Markup)
    assert "<script>" not in html and "<b>" not in html and "\u202e" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "[U+202E]" in html
    title, fragment = diff_section(diff_results(renamed, changed))
    assert title == SECTION_TITLE and fragment == str(html)
    page = render_class(changed, None, extra_sections=[(title, fragment)])
    assert SECTION_TITLE in page and fragment in page and "<script>alert" not in page


def test_diff_to_dict_is_json(graded: tuple[Bank, Results], edited: tuple[Bank, Results]) -> None:
    _bank, old = graded
    _bank2, new = edited
    document = diff_to_dict(diff_results(old, new))
    assert json.loads(json.dumps(document)) == document
    assert document["scores_changed"] == 4 and not document["empty"]
    first = document["answers"][0]
    assert (
        first["student"] == "alice"
        and first["delta"] == pytest.approx(-1.0)
        and first["status"] == "changed"
    )
    assert first["parts"] == [
        {
            "kind": "criterion",
            "id": "model",
            "old": 1.0,
            "new": 0.0,
            "old_points": 1.0,
            "new_points": 1.0,
        }
    ]
    alice = next(student.total for student in old.students if student.id == "alice")
    assert document["students"][0] == {
        "student": "alice",
        "old_total": alice,
        "new_total": round(alice - 1, 4),
        "delta": -1.0,
        "status": "changed",
    }
