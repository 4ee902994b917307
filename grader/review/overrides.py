"""Instructor overrides: a CSV or YAML file of scores that replace the automatic ones.

A row names a ``student`` and a ``question`` (a challenge step is ``question/step``), or a
``group`` id from the review pages (see ``grader.review.groups``) instead of the student: every
member of that answer group gets the score. ``score`` is the final score, from 0 to the question's
points; ``comment`` is optional and shown to the student.

When rows overlap, the most specific wins: a student's own row, then an exact-text group
(``q#...``), then a meaning group (``q~...``); among rows of the same kind the later row wins and
the earlier one is reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, Problem, did_you_mean
from grader.load.submissions import Submission
from grader.results import AnswerResult, Override, ProblemRecord, Results, StudentResult
from grader.review.groups import (
    EXACT_MARK,
    AnswerGroup,
    answers_by_gradable,
    exact_group_id,
    group_index,
    group_key,
    split_group_id,
)
from grader.values import describe, finite_number, is_number_text, parse_finite

COLUMNS = ("student", "group", "question", "score", "comment")
IGNORED_COLUMNS = ("answer", "language", "name")  # allowed for the instructor's reference
YAML_SUFFIXES = (".yaml", ".yml")
HEADER_HINT = "the header needs student,question,score (or group,score) and optionally comment"
_STUDENT, _EXACT, _SIMILAR = 3, 2, 1  # how specific a row is: the more specific wins


@dataclass(frozen=True)
class OverrideRow:
    """One row of an overrides file."""

    question: str  # "q" or "q/step"; for a group row, the group's gradable
    score: float
    comment: str = ""
    student: str | None = None  # exactly one of student and group is set
    group: str | None = None
    file: str = ""
    line: int = 0  # 1-based; the CSV header is line 1

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def target(self) -> str:
        return self.student if self.student is not None else f"group {self.group}"


# ---------------------------------------------------------------- reading


def load_overrides(path: str | Path) -> list[OverrideRow]:
    """Read an overrides file (YAML for .yaml/.yml, else CSV; .tsv is tab-separated).

    Raises GraderError listing every bad row (file:line, what, how to fix): missing columns,
    unknown columns or keys, a row without a student or group, a score that is missing, not a
    number or negative. Scores above a question's points, and unknown students, questions and
    groups, are found by ``apply_overrides`` (they need the results).
    """
    from grader.load.yamlread import read_text

    name = str(path)
    if Path(name).suffix.lower() in YAML_SUFFIXES:
        rows, problems = _read_yaml(Path(path))
    else:
        rows, problems = _read_csv(name, read_text(Path(path)))
    if problems:
        raise GraderError("\n".join(str(problem) for problem in problems), tuple(problems))
    return rows


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _score(name: str, line: int, value: Any) -> tuple[float | None, Problem | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, Problem(name, line, "the score is empty", "write the score to give, e.g. 2.5")
    shown = value.strip()[:40] if isinstance(value, str) else describe(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, Problem(
            name, line, f"score '{shown}' is not a number", "write a number such as 2.5"
        )
    score = parse_finite(value) if isinstance(value, str) else finite_number(value)
    if score is None:
        numeric = not isinstance(value, str) or is_number_text(value)
        what = "a finite number" if numeric else "a number"
        return None, Problem(
            name, line, f"score '{shown}' is not {what}", "write a number such as 2.5"
        )
    if score < 0:
        return None, Problem(
            name, line, f"score {score:g} is negative", "scores run from 0 to the question's points"
        )
    return score, None


def _row(
    name: str, line: int, record: Mapping[str, Any]
) -> tuple[OverrideRow | None, list[Problem]]:
    student = _as_text(record.get("student")).strip()
    group = _as_text(record.get("group")).strip()
    question = _as_text(record.get("question")).strip()
    comment = _as_text(record.get("comment")).strip()
    problems: list[Problem] = []
    score, score_problem = _score(name, line, record.get("score"))
    if score_problem:
        problems.append(score_problem)
    if student and group:
        problems.append(
            Problem(name, line, "the row names both a student and a group", "use one row for each")
        )
    elif not student and not group:
        problems.append(
            Problem(
                name,
                line,
                "the row names no student or group",
                "fill in a student id, or a group id from the review pages",
            )
        )
    elif group:
        question = _group_question(name, line, group, question, problems)
    elif not question:
        problems.append(
            Problem(
                name,
                line,
                "the question is empty",
                "fill in the question id (a challenge step is question/step)",
            )
        )
    if problems or score is None:
        return None, problems
    row = OverrideRow(question, score, comment, student or None, group or None, name, line)
    return row, []


def _group_question(
    name: str, line: int, group: str, question: str, problems: list[Problem]
) -> str:
    parts = split_group_id(group)
    if parts is None:
        problems.append(
            Problem(
                name,
                line,
                f"'{group}' is not a group id",
                "copy it from the review pages, e.g. decoder-shift#3f9a1c02be7d",
            )
        )
        return question
    gradable = parts[0]
    if question and question != gradable:
        problems.append(
            Problem(
                name,
                line,
                f"group '{group}' belongs to '{gradable}', not '{question}'",
                "leave the question empty or correct it",
            )
        )
    return gradable


def _read_csv(name: str, text: str) -> tuple[list[OverrideRow], list[Problem]]:
    from grader.load.submissions import read_csv_records

    found = read_csv_records(
        name,
        text,
        "add a header row: student,question,score,comment",
        _check_columns,
        "quote comments that contain commas",
    )
    rows: list[OverrideRow] = []
    problems = found.problems
    for line, record in found.records:
        row, row_problems = _row(name, line, record)
        problems.extend(row_problems)
        if row:
            rows.append(row)
    problems.sort(key=lambda problem: problem.line or 0)
    return rows, problems


def _check_columns(name: str, columns: Sequence[str]) -> None:
    known = (*COLUMNS, *IGNORED_COLUMNS)
    unknown = [column for column in columns if column not in known]
    if unknown:
        hint = did_you_mean(unknown[0], COLUMNS, "the columns are ")
        raise GraderError.at(name, 1, f"unknown column '{unknown[0]}'", hint)
    missing = [column for column in ("score",) if column not in columns]
    if "student" not in columns and "group" not in columns:
        missing.insert(0, "student")
    if "student" in columns and "question" not in columns:
        missing.insert(1 if "student" in missing else 0, "question")
    if missing:
        label = "missing columns " if len(missing) > 1 else "missing column "
        raise GraderError.at(name, 1, label + ", ".join(missing), HEADER_HINT)


def _read_yaml(path: Path) -> tuple[list[OverrideRow], list[Problem]]:
    from grader.load.yamlread import LineDict, LineList, load_yaml

    name = str(path)
    data = load_yaml(path)
    if data is None:
        return [], []
    if isinstance(data, LineDict) and set(data) == {"overrides"}:
        data = data["overrides"] or LineList()
    if not isinstance(data, LineList):
        raise GraderError.at(
            name,
            getattr(data, "line", 1) or 1,
            "expected a list of overrides",
            "write one '- student: ...' item per override",
        )
    rows: list[OverrideRow] = []
    problems: list[Problem] = []
    for item, line in zip(data, data.item_lines, strict=True):
        if not isinstance(item, LineDict):
            problems.append(
                Problem(
                    name,
                    line,
                    "each override must be a mapping",
                    "write keys student, question, score, comment",
                )
            )
            continue
        unknown = [str(key) for key in item if key not in COLUMNS and key not in IGNORED_COLUMNS]
        if unknown:
            hint = did_you_mean(unknown[0], COLUMNS, "the keys are ")
            problems.append(
                Problem(
                    name, item.key_lines.get(unknown[0], line), f"unknown key '{unknown[0]}'", hint
                )
            )
            continue
        row, row_problems = _row(name, line, item)
        problems.extend(row_problems)
        if row:
            rows.append(row)
    return rows, problems


# ---------------------------------------------------------------- resolving rows to answers


@dataclass
class _Resolution:
    chosen: dict[tuple[str, str], tuple[int, OverrideRow]]  # (student, gradable) -> (rank, row)
    problems: list[Problem]
    replaced: set[tuple[int, int]]  # (earlier line, later line) already reported


def _challenge_steps(results: Results) -> dict[str, list[str]]:
    if not results.students:
        return {}
    return {
        question.id: [answer.id for answer in question.answers]
        for question in results.students[0].questions
        if question.type == "challenge"
    }


def _unknown_question(row: OverrideRow, results: Results, gradables: Sequence[str]) -> Problem:
    steps = _challenge_steps(results).get(row.question)
    if steps:
        return Problem(
            row.file,
            row.line,
            f"'{row.question}' is a challenge: override one of its steps",
            "use " + " or ".join(steps),
        )
    hint = did_you_mean(row.question, gradables, "the questions are ")
    return Problem(row.file, row.line, f"unknown question '{row.question}'", hint)


def _unknown_student(row: OverrideRow, students: Sequence[str]) -> Problem:
    hint = (
        did_you_mean(row.student or "", students, otherwise="")
        or "check the id against the submissions"
    )
    return Problem(row.file, row.line, f"unknown student '{row.student}'", hint)


def _answer_group_id(gradable: str, answer: AnswerResult) -> str:
    return exact_group_id(gradable, answer.answer if answer.answered else "")


def _group_members(
    row: OverrideRow,
    pairs: Sequence[tuple[str, AnswerResult]],
    known: Mapping[str, AnswerGroup],
) -> tuple[list[str], int, Problem | None]:
    group = row.group or ""
    parts = split_group_id(group)
    exact = parts is not None and parts[1] == EXACT_MARK
    rank = _EXACT if exact else _SIMILAR
    if group in known:
        return list(known[group].members), rank, None
    if not exact:
        return (
            [],
            rank,
            Problem(
                row.file,
                row.line,
                f"group '{group}' is a meaning group that this grading did not form",
                "group with the same embedding model and threshold as the review pages, "
                "or override its exact groups (#) or its students instead",
            ),
        )
    members = [
        student for student, answer in pairs if _answer_group_id(row.question, answer) == group
    ]
    if not members:
        return (
            [],
            rank,
            Problem(
                row.file,
                row.line,
                f"no answer to '{row.question}' is in group '{group}'",
                "the answers changed since the review pages were written: "
                "find the group on the new pages",
            ),
        )
    return members, rank, None


def _assign(state: _Resolution, key: tuple[str, str], rank: int, row: OverrideRow) -> None:
    earlier = state.chosen.get(key)
    if earlier is not None and earlier[0] > rank:
        return
    if earlier is not None and earlier[0] == rank:
        pair = (earlier[1].line, row.line)
        if pair not in state.replaced:
            state.replaced.add(pair)
            what = (
                f"'{key[1]}' of student '{key[0]}'"
                if rank == _STUDENT
                else f"group {earlier[1].group}"
            )
            state.problems.append(
                Problem(
                    earlier[1].file,
                    earlier[1].line,
                    f"the override of {what} is replaced by line {row.line}",
                    "the later row is used; remove one of the two rows",
                )
            )
    state.chosen[key] = (rank, row)


def _resolve(
    results: Results,
    overrides: Sequence[OverrideRow],
    groups: Mapping[str, Sequence[AnswerGroup]] | None,
) -> _Resolution:
    by_gradable = answers_by_gradable(results)
    students = [student.id for student in results.students]
    known_students = set(students)
    known_groups = group_index(groups) if groups else {}
    state = _Resolution({}, [], set())
    for row in overrides:
        pairs = by_gradable.get(row.question)
        if pairs is None:
            state.problems.append(_unknown_question(row, results, list(by_gradable)))
            continue
        points = pairs[0][1].points
        if row.score > points + 1e-9:
            state.problems.append(
                Problem(
                    row.file,
                    row.line,
                    f"score {row.score:g} is above the {points:g} points of '{row.question}'",
                    f"give at most {points:g}",
                )
            )
            continue
        if row.student is not None:
            if row.student not in known_students:
                state.problems.append(_unknown_student(row, students))
                continue
            _assign(state, (row.student, row.question), _STUDENT, row)
            continue
        members, rank, problem = _group_members(row, pairs, known_groups)
        if problem:
            state.problems.append(problem)
        for student in members:
            if student in known_students:  # groups made from other results may name others
                _assign(state, (student, row.question), rank, row)
    return state


# ---------------------------------------------------------------- applying


def _overridden(answer: AnswerResult, row: OverrideRow) -> AnswerResult:
    score = round(row.score, 4)
    return dataclasses.replace(
        answer, score=score, override=Override(score, row.comment, row.source)
    )


def _student_with(student: StudentResult, chosen: Mapping[str, OverrideRow]) -> StudentResult:
    questions = []
    for question in student.questions:
        if not any(answer.id in chosen for answer in question.answers):
            questions.append(question)
            continue
        answers = tuple(
            _overridden(answer, chosen[answer.id]) if answer.id in chosen else answer
            for answer in question.answers
        )
        score = round(sum(answer.score for answer in answers), 4)
        questions.append(dataclasses.replace(question, answers=answers, score=score))
    total = round(sum(question.score for question in questions), 4)
    return dataclasses.replace(student, questions=tuple(questions), total=total)


def apply_overrides(
    results: Results,
    overrides: Sequence[OverrideRow],
    groups: Mapping[str, Sequence[AnswerGroup]] | None = None,
) -> tuple[Results, list[Problem]]:
    """New results with the overrides applied, and the rows that could not be applied.

    Each overridden answer's ``score`` is the override's score; ``auto_score`` and the evidence
    are kept and ``override`` records the score, comment and "file:line". Question scores,
    student totals and the summary's mean are recomputed. ``groups`` (from
    ``grader.review.groups.answer_groups``) is needed only for meaning groups ("q~..."); exact
    groups ("q#...") are found from the answers' text. Unknown students, questions and groups,
    scores above the points, and rows replaced by later rows are returned as problems, and are also
    added to the results' ``problems`` (so the class page lists them).
    """
    state = _resolve(results, overrides, groups)
    by_student: dict[str, dict[str, OverrideRow]] = {}
    for (student, gradable), (_rank, row) in state.chosen.items():
        by_student.setdefault(student, {})[gradable] = row
    students = tuple(
        _student_with(student, by_student[student.id]) if student.id in by_student else student
        for student in results.students
    )
    records = tuple(ProblemRecord(p.file, p.line, p.message, p.fix) for p in state.problems)
    mean = sum(student.total for student in students) / len(students) if students else 0.0
    summary = dataclasses.replace(
        results.summary,
        mean_total=round(mean, 4),
        problems=results.summary.problems + len(records),
    )
    updated = dataclasses.replace(
        results, students=students, problems=results.problems + records, summary=summary
    )
    return updated, state.problems


def overrides_as_graded_rows(
    results: Results,
    overrides: Sequence[OverrideRow],
    groups: Mapping[str, Sequence[AnswerGroup]] | None = None,
) -> list[Submission]:
    """The overridden answers as human-graded submissions (``score`` = the override's score), so
    that ``grader calibrate`` can learn from the instructor's corrections. Rows that
    ``apply_overrides`` reports, and overrides of empty answers, give no row."""
    state = _resolve(results, overrides, groups)
    order = {gradable: index for index, gradable in enumerate(answers_by_gradable(results))}
    answers = {
        (student.id, answer.id): answer
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }
    graded = []
    for (student, gradable), (_rank, row) in state.chosen.items():
        answer = answers[(student, gradable)]
        if answer.answered and group_key(answer.answer):
            graded.append(
                Submission(
                    student, gradable, answer.answer, answer.language or None, row.score, row.line
                )
            )
    return sorted(graded, key=lambda item: (item.student, order[item.question]))
