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

from grader.errors import Problem, did_you_mean
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
from grader.review.override_file import EXACT, SIMILAR, STUDENT, OverrideRow

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
    rank = EXACT if exact else SIMILAR
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
                if rank == STUDENT
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
            _assign(state, (row.student, row.question), STUDENT, row)
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
