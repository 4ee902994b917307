"""Export grades for an LMS: Moodle's grade import CSV, Canvas's gradebook CSV, or JSON Lines.

A roster CSV maps grader's student ids to LMS identities, and a Canvas gradebook export can stand
in for it (docs/lms.md). Scores are the final scores (``AnswerResult.score``, after overrides).

An LMS file never holds a row the LMS cannot match (Moodle aborts a whole import on one unknown
user): such students go to a separate file, named in ``unmatched``. Every CSV cell goes through
``safe_cell``; identifier cells are ``Identifier``s, written unchanged when that is safe, because
the LMS must match them exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.bank import DEFAULT_REVEAL
from grader.errors import GraderError
from grader.fsutil import Identifier, atomic_write, csv_text, plain_identifier
from grader.lms.gradebook import gradebook_plan, read_gradebook
from grader.lms.plan import (
    CANVAS_HEADER,
    DEFAULT_ITEMS,
    EXPORT_FORMATS,
    ITEMS,
    MOODLE_FEEDBACK_SUFFIX,
    MOODLE_IDENTIFIER_HEADERS,
    MOODLE_IDENTIFIER_NAMES,
    MOODLE_IDENTIFIERS,
    ROSTER_COLUMNS,
    UNMATCHED_HEADER,
    Item,
    Left,
    Line,
    Plan,
    number,
)
from grader.lms.roster import Roster, RosterEntry, load_roster, roster_students
from grader.output.result_files import cell_number
from grader.output.student_view import (
    Display,
    Policy,
    feedback_remarks,
    parse_reveal,
    shown_question_score,
    shown_scores,
    student_answer,
)
from grader.results import QuestionResult, Results, StudentResult


@dataclass(frozen=True)
class ExportResult:
    text: str
    unmatched: list[str] = field(
        default_factory=list
    )  # students left out: the LMS can't match them
    format: str = ""
    unmatched_text: str = ""  # their grades, for the separate file (see unmatched_path)
    notices: list[str] = field(default_factory=list)  # what the user should know; said once each


# ---------------------------------------------------------------- entry points


def export_grades(
    results: Results,
    fmt: str,
    roster: Path | None = None,
    *,
    items: str = DEFAULT_ITEMS,
    identifier: str | None = None,
    gradebook: Path | None = None,
    feedback: bool = False,
    reveal: str = DEFAULT_REVEAL.value,
) -> ExportResult:
    """Grades in an LMS's import format.

    ``fmt``: moodle-csv, canvas-csv or jsonl. ``items`` (CSV formats): one column per question,
    one column for the bank's total, or both. ``identifier`` (moodle-csv): the roster column
    Moodle maps users by, email or idnumber; by default email when the roster has it.
    ``gradebook`` (canvas-csv): a Canvas gradebook export whose assignments and students to
    reuse. ``feedback`` (moodle-csv, jsonl): add each question's feedback, as far as ``reveal``
    (none, missed, all) lets a student see it.
    """
    if fmt not in EXPORT_FORMATS:
        raise GraderError(f"unknown export format '{fmt}' (use {', '.join(EXPORT_FORMATS)})")
    if items not in ITEMS:
        raise GraderError(f"unknown grade items '{items}' (use {', '.join(ITEMS)})")
    if gradebook is not None and fmt != "canvas-csv":
        raise GraderError(
            "--gradebook is a Canvas gradebook export: use it with --format canvas-csv"
        )
    if feedback and fmt == "canvas-csv":
        raise GraderError(
            "Canvas's gradebook import takes scores only, no feedback text (use --format jsonl "
            "--feedback for a script, or share the student pages; see docs/lms.md)"
        )
    parse_reveal(reveal)  # a clear error for an unknown level, before anything is read
    loaded = load_roster(roster) if roster is not None else None
    if fmt == "jsonl":
        return _jsonl_export(results, loaded, feedback, reveal)
    columns = _items(results, items)
    if fmt == "moodle-csv":
        plan = _moodle_plan(results, loaded, columns, _moodle_identifier(loaded, identifier))
    elif gradebook is not None:
        plan = gradebook_plan(results, loaded, columns, read_gradebook(gradebook))
    else:
        plan = _canvas_plan(results, loaded, columns)
    display = Display.from_settings(results.settings)
    return _csv_export(plan, columns, fmt, feedback, reveal, display)


def unmatched_path(out: Path) -> Path:
    """Where the students an export leaves out go: beside ``out``, e.g. moodle.unmatched.csv."""
    out = Path(out)
    return out.with_name(f"{out.stem}.unmatched{out.suffix}")


def write_export(result: ExportResult, out: Path) -> list[Path]:
    """Write an export atomically (UTF-8), and its unmatched students' file when there are any."""
    atomic_write(Path(out), result.text)
    written = [Path(out)]
    if result.unmatched_text:
        atomic_write(unmatched_path(out), result.unmatched_text)
        written.append(unmatched_path(out))
    return written


# ---------------------------------------------------------------- scores and feedback


def _items(results: Results, items: str) -> list[Item]:
    columns: list[Item] = []
    if items in ("questions", "both"):
        columns.extend(
            Item(question_id, points) for question_id, points in question_points(results)
        )
    if items in ("total", "both"):
        columns.append(Item("", results.bank.points))
    return columns


def question_points(results: Results) -> list[tuple[str, float]]:
    """Every question id with its points, in bank order."""
    seen: dict[str, float] = {}
    for student in results.students:
        for question in student.questions:
            seen.setdefault(question.id, question.points)
    return list(seen.items())


def _score(result: StudentResult, item: Item, display: Display) -> float | int | str:
    """A question's final score (after overrides) as the student sees it (rounded as the bank
    says), or the total: the sum of those, so that a row always adds up."""
    scores, total = shown_scores(result, display)
    if item.key:
        return cell_number(scores[item.key]) if item.key in scores else ""
    return cell_number(total)


def question_feedback(question: QuestionResult, reveal: str = DEFAULT_REVEAL.value) -> str:
    """The feedback a student may see on one question, as plain text: one line per remark.

    Made from the student view (``grader.output.student_view``), as the student pages are: an
    override's comment, then each criterion's and misconception's feedback as far as the reveal
    level allows; the criteria of an overridden answer are shown consistently with its score.
    """
    policy = Policy(parse_reveal(reveal))
    lines: list[str] = []
    for answer in question.answers:
        step = answer.id.split("/", 1)[1] + ": " if "/" in answer.id else ""
        view = student_answer(answer, None, policy)
        lines.extend(step + remark for remark in feedback_remarks(view))
    return "\n".join(lines)


def _item_feedback(result: StudentResult, item: Item, reveal: str) -> str:
    questions = [q for q in result.questions if not item.key or q.id == item.key]
    if item.key:
        return "\n".join(question_feedback(q, reveal) for q in questions)
    parts = [(q.id, question_feedback(q, reveal)) for q in questions]
    return "\n".join(f"{qid}: {text}".replace("\n", f"\n{qid}: ") for qid, text in parts if text)


# ---------------------------------------------------------------- CSV formats


def _csv_export(
    plan: Plan, items: list[Item], fmt: str, feedback: bool, reveal: str, display: Display
) -> ExportResult:
    grade_headers: list[str] = []
    for header in plan.item_headers:
        grade_headers.append(header)
        if feedback:
            grade_headers.append(header + MOODLE_FEEDBACK_SUFFIX)

    def grades(result: StudentResult) -> list[object]:
        cells: list[object] = []
        for item in items:
            cells.append(_score(result, item, display))
            if feedback:
                cells.append(_item_feedback(result, item, reveal))
        return cells

    body: list[list[object]] = [plan.points_row] if plan.points_row is not None else []
    body.extend([*line.identity, *grades(line.result)] for line in plan.lines)
    text = csv_text([*plan.identity_header, *grade_headers], body)
    left_text = ""
    if plan.left:
        left_text = csv_text(
            [*UNMATCHED_HEADER, *grade_headers],
            ([left.student, left.reason, *grades(left.result)] for left in plan.left),
        )
    return ExportResult(
        text, [left.student for left in plan.left], fmt, left_text, list(plan.notices)
    )


def _identity(value: str, what: str, student: StudentResult, plan: Plan) -> Identifier | None:
    """An identifier cell, or None (the student is left out) when it cannot be written as is."""
    if plain_identifier(value):
        return Identifier(value)
    plan.left.append(
        Left(student.id, f"its {what} '{value}' would run as a spreadsheet formula", student)
    )
    return None


def _moodle_identifier(roster: Roster | None, identifier: str | None) -> str:
    columns = roster.columns if roster else ()
    if identifier is None:
        return "email" if "email" in columns else "idnumber"
    if identifier not in MOODLE_IDENTIFIERS:
        raise GraderError(f"unknown Moodle identifier '{identifier}' (use email or idnumber)")
    if roster is not None and identifier not in columns:
        raise GraderError.at(
            roster.path,
            1,
            f"the roster has no '{identifier}' column",
            f"add {identifier} to the roster",
        )
    return identifier


def _moodle_plan(results: Results, roster: Roster | None, items: list[Item], column: str) -> Plan:
    """Moodle's "Import grades from CSV": an identifier column, then one column per grade item.

    Every row must name a Moodle user: Moodle aborts the whole import on one it cannot find.
    """
    plan = Plan([MOODLE_IDENTIFIER_HEADERS[column]], [i.key or results.bank.id for i in items])
    if roster is None:
        plan.notices.append(
            f"No roster: student ids are exported as Moodle {MOODLE_IDENTIFIER_NAMES[column]}, "
            "unmapped (give --roster to map them)"
        )
        students = [(student.id, student) for student in results.students]
    else:
        students = []
        for entry, student in roster_students(results, roster, plan):
            value = entry.fields.get(column, "")
            if value:
                students.append((value, student))
            else:
                plan.left.append(Left(student.id, f"no {column} in the roster", student))
    for value, student in students:
        cell = _identity(value, column, student, plan)
        if cell is not None:
            plan.lines.append(Line([cell], student))
    return plan


def _canvas_plan(results: Results, roster: Roster | None, items: list[Item]) -> Plan:
    """Canvas's gradebook import: identity columns, a Points Possible row, one row per student."""
    titles = [f"{results.bank.id}: {item.key}" if item.key else results.bank.id for item in items]
    plan = Plan(list(CANVAS_HEADER), titles)
    plan.points_row = ["Points Possible", "", "", "", "", *(number(i.points) for i in items)]
    if roster is None:
        plan.notices.append(
            "No roster: student ids are exported as Canvas SIS User IDs, unmapped "
            "(give --roster or --gradebook to map them)"
        )
        for student in results.students:
            cell = _identity(student.id, "id", student, plan)
            if cell is not None:
                plan.lines.append(Line([student.id, "", cell, "", ""], student))
        return plan
    for entry, student in roster_students(results, roster, plan):
        fields = entry.fields
        cells: list[object] = [fields.get("name", student.id)]
        for name in ("canvas_id", "sis_user_id", "sis_login_id"):
            cell = _identity(fields.get(name, ""), name, student, plan)
            if cell is None:
                break
            cells.append(cell)
        else:
            plan.lines.append(Line([*cells, fields.get("section", "")], student))
    return plan


# ---------------------------------------------------------------- JSON Lines


def _jsonl_export(
    results: Results, roster: Roster | None, feedback: bool, reveal: str
) -> ExportResult:
    """One JSON object per student per question, with the roster's identity fields."""
    by_id = {student.id: student for student in results.students}
    rows: list[tuple[str, RosterEntry | None, StudentResult | None]] = []
    unmatched: list[str] = []
    if roster is None:
        rows = [(student.id, None, student) for student in results.students]
    else:
        rows = [(entry.student, entry, by_id.get(entry.student)) for entry in roster.entries]
        listed = {entry.student for entry in roster.entries}
        unmatched = [student.id for student in results.students if student.id not in listed]
        rows.extend((student, None, by_id[student]) for student in unmatched)
    lines = []
    display = Display.from_settings(results.settings)
    for student, entry, result in rows:
        identity = entry.fields if entry else {}
        questions = {q.id: q for q in result.questions} if result else {}
        for question_id, points in question_points(results):
            question = questions.get(question_id)
            record: dict[str, Any] = {"student": student}
            record.update((name, identity[name]) for name in ROSTER_COLUMNS if name in identity)
            record["question"] = question_id
            record["points"] = number(points)
            if question is None:
                record.update(score=None, answered=False, overridden=False)
            else:
                record["score"] = cell_number(shown_question_score(question, display))
                record["answered"] = any(answer.answered for answer in question.answers)
                record["overridden"] = any(
                    answer.override is not None for answer in question.answers
                )
            if feedback:
                record["feedback"] = question_feedback(question, reveal) if question else ""
            lines.append(json.dumps(record, ensure_ascii=False))
    text = "".join(line + "\n" for line in lines)
    return ExportResult(text, unmatched, "jsonl")
