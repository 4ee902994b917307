"""Instructor overrides: reading the file, applying rows and groups, reporting what cannot apply."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from grader.bank import Bank
from grader.errors import GraderError, Problem
from grader.grading import GradeOptions, grade
from grader.load.submissions import Submission
from grader.output.results_json import results_from_dict, to_dict
from grader.results import AnswerResult, Override, Results
from grader.review.groups import answer_groups
from grader.review.override_file import OverrideRow, load_overrides
from grader.review.overrides import apply_overrides, overrides_as_graded_rows
from tests.review.test_review import grade_class

SAME_T2T = "t2t#" + hashlib.sha256(b"t5 is an encoder-decoder").hexdigest()[:12]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bank, Results]:
    return grade_class(tmp_path_factory.mktemp("class"))


def answers_of(results: Results) -> dict[tuple[str, str], AnswerResult]:
    return {
        (student.id, answer.id): answer
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(GraderError) as caught:
        load_overrides(path)
    return str(caught.value)


# ---------------------------------------------------------------- reading


def test_load_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "o.csv",
        "Student,Group,Question,Score,Comment\n"
        'carol,,t2t,1.5,"partly right, BERT is not T5"\n'
        "\n"
        f",{SAME_T2T},,2,\n"
        f",long-doc/fix#empty,long-doc/fix,0,\n",
    )
    rows = load_overrides(path)
    assert rows == [
        OverrideRow("t2t", 1.5, "partly right, BERT is not T5", "carol", None, str(path), 2),
        OverrideRow("t2t", 2.0, "", None, SAME_T2T, str(path), 4),
        OverrideRow("long-doc/fix", 0.0, "", None, "long-doc/fix#empty", str(path), 5),
    ]
    assert rows[0].source == f"{path}:2"


def test_load_yaml_list_and_mapping(tmp_path: Path) -> None:
    listed = write(
        tmp_path / "o.yaml",
        "# corrections\n- student: carol\n  question: t2t\n  score: 1\n  comment: close\n"
        f"- group: '{SAME_T2T}'\n  score: 2\n",
    )
    rows = load_overrides(listed)
    assert rows == [
        OverrideRow("t2t", 1.0, "close", "carol", None, str(listed), 2),
        OverrideRow("t2t", 2.0, "", None, SAME_T2T, str(listed), 6),
    ]
    mapped = write(tmp_path / "m.yml", "overrides:\n  - {student: 7, question: t2t, score: 0.5}\n")
    assert load_overrides(mapped) == [OverrideRow("t2t", 0.5, "", "7", None, str(mapped), 2)]
    assert load_overrides(write(tmp_path / "e.yaml", "")) == []


def test_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", "student,question,comment\ns1,t2t,x\n")
    assert load_error(path) == (
        f"{path}:1: missing column score (the header needs student,question,score "
        "(or group,score) and optionally comment)"
    )
    path = write(tmp_path / "p.csv", "score,comment\n1,x\n")
    assert load_error(path) == (
        f"{path}:1: missing column student (the header needs student,question,score "
        "(or group,score) and optionally comment)"
    )
    path = write(tmp_path / "q.csv", "student,score\ns1,1\n")
    assert load_error(path).startswith(f"{path}:1: missing column question (")


def test_unknown_column(tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", "student,question,scroe\ns1,t2t,1\n")
    assert load_error(path) == f"{path}:1: unknown column 'scroe' (did you mean 'score'?)"
    path = write(tmp_path / "ok.csv", "student,question,score,answer\ns1,t2t,1,the text\n")
    assert load_overrides(path)[0].score == pytest.approx(
        1.0
    )  # an answer column is allowed for reference


def test_bad_rows_are_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "o.csv",
        "student,group,question,score,comment\n"
        "s1,,t2t,abc,\n"
        "s2,,t2t,-1,\n"
        "s3,,t2t,,\n"
        "s4,,t2t,nan,\n"
        ",,t2t,1,\n"
        "s5,t2t#empty,t2t,1,\n"
        "s6,,,1,\n"
        ",nonsense,,1,\n"
        ",t2t#empty,long-doc/fix,1,\n"
        "s7,,t2t,1\n"
        "s8,,t2t,1,fine\n",
    )
    assert load_error(path).splitlines() == [
        f"{path}:2: score 'abc' is not a number (write a number such as 2.5)",
        f"{path}:3: score -1 is negative (scores run from 0 to the question's points)",
        f"{path}:4: the score is empty (write the score to give, e.g. 2.5)",
        f"{path}:5: score 'nan' is not a finite number (write a number such as 2.5)",
        f"{path}:6: the row names no student or group (fill in a student id, or a group id from the review pages)",
        f"{path}:7: the row names both a student and a group (use one row for each)",
        f"{path}:8: the question is empty (fill in the question id (a challenge step is question/step))",
        f"{path}:9: 'nonsense' is not a group id (copy it from the review pages, e.g. decoder-shift#3f9a1c02be7d)",
        f"{path}:10: group 't2t#empty' belongs to 't2t', not 'long-doc/fix' (leave the question empty or correct it)",
        f"{path}:11: the row has 4 fields but the header has 5 (quote comments that contain commas)",
    ]
    with pytest.raises(GraderError) as caught:
        load_overrides(path)
    assert [problem.line for problem in caught.value.problems] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]


def test_bad_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "o.yaml", "- student: s1\n  question: t2t\n  scor: 1\n- just text\n")
    assert load_error(path).splitlines() == [
        f"{path}:3: unknown key 'scor' (did you mean 'score'?)",
        f"{path}:4: each override must be a mapping (write keys student, question, score, comment)",
    ]
    path = write(tmp_path / "p.yaml", "student: s1\n")
    assert (
        load_error(path)
        == f"{path}:1: expected a list of overrides (write one '- student: ...' item per override)"
    )
    path = write(tmp_path / "q.yaml", "- student: s1\n  question: t2t\n  score: yes\n")
    assert (
        load_error(path) == f"{path}:1: score 'True' is not a number (write a number such as 2.5)"
    )


def test_missing_and_empty_files(tmp_path: Path) -> None:
    assert (
        load_error(tmp_path / "none.csv")
        == f"{tmp_path / 'none.csv'}: no such file (check the path)"
    )
    path = write(tmp_path / "empty.csv", "")
    assert (
        load_error(path)
        == f"{path}:1: the file is empty (add a header row: student,question,score,comment)"
    )
    assert load_overrides(write(tmp_path / "header.csv", "student,question,score\n")) == []


# ---------------------------------------------------------------- applying


def _row(
    student: str | None,
    question: str,
    score: float,
    line: int,
    group: str | None = None,
    comment: str = "",
) -> OverrideRow:
    return OverrideRow(question, score, comment, student, group, "o.csv", line)


def _assert_only_changed(
    old: Results, new: Results, changed: dict[tuple[str, str], OverrideRow]
) -> None:
    """Every field is the same except the chosen answers' score and override and the sums."""
    for name in ("bank", "settings", "models", "problems", "created", "schema", "extra"):
        assert getattr(new, name) == getattr(old, name), name
    assert dataclasses.replace(new.summary, mean_total=old.summary.mean_total) == old.summary
    totals = [student.total for student in new.students]
    assert new.summary.mean_total == round(sum(totals) / len(totals), 4)
    for before, after in zip(old.students, new.students, strict=True):
        touched = any(key[0] == before.id for key in changed)
        if not touched:
            assert after is before
            continue
        assert after.total == round(sum(q.score for q in after.questions), 4)
        assert dataclasses.replace(after, total=before.total, questions=before.questions) == before
        for q_before, q_after in zip(before.questions, after.questions, strict=True):
            assert q_after.score == round(sum(a.score for a in q_after.answers), 4)
            assert (
                dataclasses.replace(q_after, score=q_before.score, answers=q_before.answers)
                == q_before
            )
            for a_before, a_after in zip(q_before.answers, q_after.answers, strict=True):
                row = changed.get((before.id, a_before.id))
                if row is None:
                    assert a_after == a_before
                    continue
                assert a_after.score == row.score
                assert a_after.auto_score == a_before.auto_score
                assert a_after.override == Override(row.score, row.comment, row.source)
                assert dataclasses.replace(a_after, score=a_before.score, override=None) == a_before


def test_overrides_change_exactly_the_chosen_scores(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    rows = [
        _row("carol", "t2t", 1.5, 2, comment="partly right"),
        _row("alice", "long-doc/bottleneck", 0.5, 3),
        _row("alice", "long-doc/fix", 1, 4),
    ]
    new, problems = apply_overrides(results, rows)
    assert problems == []
    _assert_only_changed(results, new, {(row.student or "", row.question): row for row in rows})
    answers = answers_of(new)
    assert answers[("carol", "t2t")].score == pytest.approx(1.5) and answers[
        ("carol", "t2t")
    ].auto_score == pytest.approx(0.0)
    alice = next(s for s in new.students if s.id == "alice")
    assert [q.score for q in alice.questions] == pytest.approx([2.0, 1.5])
    assert alice.total == pytest.approx(3.5)


def test_overridden_results_round_trip(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    new, _problems = apply_overrides(results, [_row("carol", "t2t", 1.25, 2, comment="ok")])
    assert results_from_dict(to_dict(new)) == new


def test_group_override_applies_to_every_member(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    rows = [
        _row(None, "t2t", 1.5, 2, group=SAME_T2T),
        _row(None, "long-doc/fix", 0.25, 3, group="long-doc/fix#empty"),
    ]
    new, problems = apply_overrides(results, rows)
    assert problems == []
    expected = {
        ("alice", "t2t"): rows[0],
        ("bob", "t2t"): rows[0],
        ("dave", "t2t"): rows[0],
        ("bob", "long-doc/fix"): rows[1],
        ("carol", "long-doc/fix"): rows[1],
        ("erin", "long-doc/fix"): rows[1],
    }
    _assert_only_changed(results, new, expected)


def test_a_students_own_row_beats_a_group_row(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    own = _row("bob", "t2t", 0.5, 2)
    group = _row(None, "t2t", 1.5, 3, group=SAME_T2T)
    for order in ([own, group], [group, own]):
        new, problems = apply_overrides(results, order)
        assert problems == []
        _assert_only_changed(
            results, new, {("alice", "t2t"): group, ("bob", "t2t"): own, ("dave", "t2t"): group}
        )


def test_meaning_groups_need_the_grouping(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded

    def embed(texts: list[str]) -> np.ndarray:
        return np.array(
            [
                [1.0, 0.0] if "t5" in t.lower() or "text-to-text" in t.lower() else [0.0, 1.0]
                for t in texts
            ]
        )

    groups = answer_groups(results, embed=embed, threshold=0.95)
    meaning = next(g for g in groups["t2t"] if g.similar)
    assert meaning.members == ("alice", "bob", "dave", "frank")
    row = _row(None, "t2t", 2, 7, group=meaning.id)
    new, problems = apply_overrides(results, [row], groups)
    assert problems == []
    _assert_only_changed(results, new, {(s, "t2t"): row for s in meaning.members})
    unchanged, problems = apply_overrides(results, [row])
    assert problems == [
        Problem(
            "o.csv",
            7,
            f"group '{meaning.id}' is a meaning group that this grading did not form",
            "group with the same embedding model and threshold as the review pages, "
            "or override its exact groups (#) or its students instead",
        )
    ]
    assert [s.total for s in unchanged.students] == [s.total for s in results.students]


def test_unknown_students_questions_and_groups_are_reported(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    rows = [
        _row("carl", "t2t", 1, 2),
        _row("carol", "t2tt", 1, 3),
        _row("carol", "long-doc", 1, 4),
        _row(None, "t2t", 1, 5, group="t2t#000000000000"),
        _row("carol", "t2t", 3, 6),
        _row("zz-top", "t2t", 1, 7),
        _row("carol", "t2t", 1, 8),
    ]
    new, problems = apply_overrides(results, rows)
    assert [str(problem) for problem in problems] == [
        "o.csv:2: unknown student 'carl' (did you mean 'carol'?)",
        "o.csv:3: unknown question 't2tt' (did you mean 't2t'?)",
        "o.csv:4: 'long-doc' is a challenge: override one of its steps (use long-doc/bottleneck or long-doc/fix)",
        "o.csv:5: no answer to 't2t' is in group 't2t#000000000000' (the answers changed since the "
        "review pages were written: find the group on the new pages)",
        "o.csv:6: score 3 is above the 2 points of 't2t' (give at most 2)",
        "o.csv:7: unknown student 'zz-top' (check the id against the submissions)",
    ]
    _assert_changed_with_problems(results, new, problems)
    assert answers_of(new)[("carol", "t2t")].score == pytest.approx(
        1.0
    )  # the good row still applies


def _assert_changed_with_problems(old: Results, new: Results, problems: list[Problem]) -> None:
    added = new.problems[len(old.problems) :]
    assert [(p.file, p.line, p.message, p.fix) for p in added] == [
        (p.file, p.line, p.message, p.fix) for p in problems
    ]
    assert new.summary.problems == old.summary.problems + len(problems)


def test_a_row_replaced_by_a_later_row_is_reported(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    rows = [
        _row("carol", "t2t", 1, 2),
        _row("carol", "t2t", 0.5, 5),
        _row(None, "t2t", 1, 6, group=SAME_T2T),
        _row(None, "t2t", 2, 9, group=SAME_T2T),
    ]
    new, problems = apply_overrides(results, rows)
    assert [str(problem) for problem in problems] == [
        "o.csv:2: the override of 't2t' of student 'carol' is replaced by line 5 "
        "(the later row is used; remove one of the two rows)",
        f"o.csv:6: the override of group {SAME_T2T} is replaced by line 9 "
        "(the later row is used; remove one of the two rows)",
    ]
    answers = answers_of(new)
    assert answers[("carol", "t2t")].score == pytest.approx(0.5)
    assert [answers[(s, "t2t")].score for s in ("alice", "bob", "dave")] == pytest.approx(
        [2.0, 2.0, 2.0]
    )


def test_overrides_from_a_file_end_to_end(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    path = write(
        tmp_path / "o.csv",
        f"student,group,question,score,comment\ncarol,,t2t,1,close\n,{SAME_T2T},,1.75,\n",
    )
    new, problems = apply_overrides(results, load_overrides(path))
    assert problems == []
    answers = answers_of(new)
    assert answers[("carol", "t2t")].override == Override(1.0, "close", f"{path}:2")
    assert answers[("dave", "t2t")].override == Override(1.75, "", f"{path}:3")


# ---------------------------------------------------------------- calibration from corrections


def test_overrides_as_graded_rows(graded: tuple[Bank, Results]) -> None:
    bank, results = graded
    rows = [
        _row("carol", "t2t", 1, 2),
        _row(None, "long-doc/fix", 0.5, 3, group="long-doc/fix#empty"),  # empty answers: no rows
        _row("frank", "long-doc/fix", 0.75, 4),
        _row("nobody", "t2t", 1, 5),
    ]
    graded_rows = overrides_as_graded_rows(results, rows)
    answers = answers_of(results)
    assert graded_rows == [
        Submission("carol", "t2t", "BERT", "en", 1.0, 2),
        Submission(
            "frank", "long-doc/fix", answers[("frank", "long-doc/fix")].answer, "en", 0.75, 4
        ),
    ]
    regraded = grade(bank, graded_rows, GradeOptions(model="none"))
    human = {
        (s.id, a.id): a.human_score
        for s in regraded.students
        for q in s.questions
        for a in q.answers
        if a.answered
    }
    assert human == pytest.approx({("carol", "t2t"): 1.0, ("frank", "long-doc/fix"): 0.75})
