"""Export grades for an LMS: Moodle's grade import CSV, Canvas's gradebook CSV, or JSON Lines.

A roster CSV maps grader's student ids to LMS identities, and a Canvas gradebook export can stand
in for it (docs/lms.md). Scores are the final scores (``AnswerResult.score``, after overrides).

An LMS file never holds a row the LMS cannot match (Moodle aborts a whole import on one unknown
user): such students go to a separate file, named in ``unmatched``. Every CSV cell goes through
``safe_cell``; identifier cells are ``Identifier``s, written unchanged when that is safe, because
the LMS must match them exactly.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.fsutil import Identifier, atomic_write, csv_text, plain_identifier
from grader.load.yamlread import read_text
from grader.output.files import cell_number
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

EXPORT_FORMATS = ("moodle-csv", "canvas-csv", "jsonl")
ITEMS = ("questions", "total", "both")
ROSTER_COLUMNS = (
    "student",
    "name",
    "email",
    "idnumber",
    "canvas_id",
    "sis_user_id",
    "sis_login_id",
    "section",
)
MOODLE_IDENTIFIERS = ("email", "idnumber")
# Moodle's own labels: a header equal to one of them is pre-selected as "Identify user" on import.
MOODLE_IDENTIFIER_HEADERS = {"email": "Email address", "idnumber": "ID number"}
MOODLE_IDENTIFIER_NAMES = {"email": "e-mail addresses", "idnumber": "ID numbers"}
MOODLE_FEEDBACK_SUFFIX = " (Feedback)"  # Moodle maps "Item (Feedback)" to the feedback of "Item"
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_IDENTIFIER_COLUMNS = ("ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account")
# How Canvas finds a student: its column in the gradebook, and the roster column with that value.
CANVAS_MATCH_ORDER = (
    ("ID", "canvas_id"),
    ("SIS User ID", "sis_user_id"),
    ("SIS Login ID", "sis_login_id"),
)
CANVAS_ASSIGNMENT = re.compile(r"(.*?)\s*\((\d+)\)")
CANVAS_NON_STUDENT_ROW = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.IGNORECASE)
UNMATCHED_HEADER = ("student", "reason")


@dataclass(frozen=True)
class RosterEntry:
    student: str  # grader's student id (the submissions' student column)
    fields: dict[str, str]  # the roster's other columns, by name; empty cells omitted
    line: int


@dataclass(frozen=True)
class Roster:
    path: str
    columns: tuple[str, ...]  # the roster's columns, in file order
    entries: tuple[RosterEntry, ...]

    def find(self, student: str) -> RosterEntry | None:
        return next((entry for entry in self.entries if entry.student == student), None)


@dataclass(frozen=True)
class ExportResult:
    text: str
    unmatched: list[str] = field(
        default_factory=list
    )  # students left out: the LMS can't match them
    format: str = ""
    unmatched_text: str = ""  # their grades, for the separate file (see unmatched_path)
    notices: list[str] = field(default_factory=list)  # what the user should know; said once each


@dataclass(frozen=True)
class _Item:
    """One grade column: a question, or the bank's total."""

    key: str  # the question id, or "" for the total
    points: float


@dataclass(frozen=True)
class _Line:
    """One student's row: the LMS identity cells, then the grades."""

    identity: list[object]
    result: StudentResult


@dataclass(frozen=True)
class _Left:
    """A student with results that the LMS could not match, and why."""

    student: str
    reason: str
    result: StudentResult


@dataclass
class _Plan:
    """What a CSV export writes: headers, rows, and the students it leaves out."""

    identity_header: list[str]
    item_headers: list[str]
    lines: list[_Line] = field(default_factory=list)
    left: list[_Left] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    points_row: list[object] | None = None  # Canvas: points per grade column


# ---------------------------------------------------------------- entry points


def export_grades(
    results: Results,
    fmt: str,
    roster: Path | None = None,
    *,
    items: str = "questions",
    identifier: str | None = None,
    gradebook: Path | None = None,
    feedback: bool = False,
    reveal: str = "missed",
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
        plan = _gradebook_plan(results, loaded, columns, read_gradebook(gradebook))
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


# ---------------------------------------------------------------- roster


def load_roster(path: Path) -> Roster:
    """Read a roster CSV: a ``student`` column plus any of the LMS identity columns."""
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise GraderError.at(path, 1, "the roster is empty", "add a header row: student,email")
        columns = _roster_columns(path, header)
        entries = tuple(_roster_entries(path, reader, columns))
    except csv.Error as error:
        raise GraderError.at(
            path, reader.line_num, f"not valid CSV: {error}", "check the quoting"
        ) from None
    return Roster(str(path), columns, entries)


def _roster_columns(path: Path, header: list[str]) -> tuple[str, ...]:
    columns = tuple(name.strip().lower() for name in header)
    for name in columns:
        if name not in ROSTER_COLUMNS:
            close = difflib.get_close_matches(name, ROSTER_COLUMNS, n=1)
            fix = (
                f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(ROSTER_COLUMNS)
            )
            raise GraderError.at(path, 1, f"unknown roster column '{name}'", fix)
        if columns.count(name) > 1:
            raise GraderError.at(path, 1, f"the roster column '{name}' appears twice", "keep one")
    if "student" not in columns:
        raise GraderError.at(
            path,
            1,
            "the roster has no 'student' column",
            "add student: the ids used in the submissions",
        )
    return columns


def _roster_entries(path: Path, reader: Any, columns: tuple[str, ...]) -> Iterator[RosterEntry]:
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            raise GraderError.at(
                path,
                line,
                f"{len(cells)} cells but the header has {len(columns)}",
                "quote cells that contain commas",
            )
        values = {name: cell.strip() for name, cell in zip(columns, cells, strict=False)}
        student = values.pop("student", "")
        if not student:
            raise GraderError.at(path, line, "the student cell is empty", "write the student's id")
        if student in seen:
            raise GraderError.at(
                path,
                line,
                f"student '{student}' is listed twice (first on line {seen[student]})",
                "keep one row",
            )
        seen[student] = line
        yield RosterEntry(student, {name: value for name, value in values.items() if value}, line)


def _roster_students(
    results: Results, roster: Roster, plan: _Plan
) -> Iterator[tuple[RosterEntry, StudentResult]]:
    """Roster students with results, in roster order; the others are noted or left out."""
    by_id = {student.id: student for student in results.students}
    without = [entry.student for entry in roster.entries if entry.student not in by_id]
    if without:
        plan.notices.append(
            "Left out, no results (the LMS keeps what it has for them): " + ", ".join(without)
        )
    for entry in roster.entries:
        if entry.student in by_id:
            yield entry, by_id[entry.student]
    listed = {entry.student for entry in roster.entries}
    plan.left.extend(
        _Left(student.id, "not in the roster", student)
        for student in results.students
        if student.id not in listed
    )


# ---------------------------------------------------------------- scores and feedback


def _items(results: Results, items: str) -> list[_Item]:
    columns: list[_Item] = []
    if items in ("questions", "both"):
        columns.extend(
            _Item(question_id, points) for question_id, points in question_points(results)
        )
    if items in ("total", "both"):
        columns.append(_Item("", results.bank.points))
    return columns


def question_points(results: Results) -> list[tuple[str, float]]:
    """Every question id with its points, in bank order."""
    seen: dict[str, float] = {}
    for student in results.students:
        for question in student.questions:
            seen.setdefault(question.id, question.points)
    return list(seen.items())


def _score(result: StudentResult, item: _Item, display: Display) -> float | int | str:
    """A question's final score (after overrides) as the student sees it (rounded as the bank
    says), or the total: the sum of those, so that a row always adds up."""
    scores, total = shown_scores(result, display)
    if item.key:
        return cell_number(scores[item.key]) if item.key in scores else ""
    return cell_number(total)


def _number(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def question_feedback(question: QuestionResult, reveal: str = "missed") -> str:
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


def _item_feedback(result: StudentResult, item: _Item, reveal: str) -> str:
    questions = [q for q in result.questions if not item.key or q.id == item.key]
    if item.key:
        return "\n".join(question_feedback(q, reveal) for q in questions)
    parts = [(q.id, question_feedback(q, reveal)) for q in questions]
    return "\n".join(f"{qid}: {text}".replace("\n", f"\n{qid}: ") for qid, text in parts if text)


# ---------------------------------------------------------------- CSV formats


def _csv_export(
    plan: _Plan, items: list[_Item], fmt: str, feedback: bool, reveal: str, display: Display
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


def _identity(value: str, what: str, student: StudentResult, plan: _Plan) -> Identifier | None:
    """An identifier cell, or None (the student is left out) when it cannot be written as is."""
    if plain_identifier(value):
        return Identifier(value)
    plan.left.append(
        _Left(student.id, f"its {what} '{value}' would run as a spreadsheet formula", student)
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


def _moodle_plan(results: Results, roster: Roster | None, items: list[_Item], column: str) -> _Plan:
    """Moodle's "Import grades from CSV": an identifier column, then one column per grade item.

    Every row must name a Moodle user: Moodle aborts the whole import on one it cannot find.
    """
    plan = _Plan([MOODLE_IDENTIFIER_HEADERS[column]], [i.key or results.bank.id for i in items])
    if roster is None:
        plan.notices.append(
            f"No roster: student ids are exported as Moodle {MOODLE_IDENTIFIER_NAMES[column]}, "
            "unmapped (give --roster to map them)"
        )
        students = [(student.id, student) for student in results.students]
    else:
        students = []
        for entry, student in _roster_students(results, roster, plan):
            value = entry.fields.get(column, "")
            if value:
                students.append((value, student))
            else:
                plan.left.append(_Left(student.id, f"no {column} in the roster", student))
    for value, student in students:
        cell = _identity(value, column, student, plan)
        if cell is not None:
            plan.lines.append(_Line([cell], student))
    return plan


def _canvas_plan(results: Results, roster: Roster | None, items: list[_Item]) -> _Plan:
    """Canvas's gradebook import: identity columns, a Points Possible row, one row per student."""
    titles = [f"{results.bank.id}: {item.key}" if item.key else results.bank.id for item in items]
    plan = _Plan(list(CANVAS_HEADER), titles)
    plan.points_row = ["Points Possible", "", "", "", "", *(_number(i.points) for i in items)]
    if roster is None:
        plan.notices.append(
            "No roster: student ids are exported as Canvas SIS User IDs, unmapped "
            "(give --roster or --gradebook to map them)"
        )
        for student in results.students:
            cell = _identity(student.id, "id", student, plan)
            if cell is not None:
                plan.lines.append(_Line([student.id, "", cell, "", ""], student))
        return plan
    for entry, student in _roster_students(results, roster, plan):
        fields = entry.fields
        cells: list[object] = [fields.get("name", student.id)]
        for name in ("canvas_id", "sis_user_id", "sis_login_id"):
            cell = _identity(fields.get(name, ""), name, student, plan)
            if cell is None:
                break
            cells.append(cell)
        else:
            plan.lines.append(_Line([*cells, fields.get("section", "")], student))
    return plan


# ---------------------------------------------------------------- Canvas gradebook export


@dataclass(frozen=True)
class GradebookRow:
    cells: tuple[str, ...]  # the identity cells, as exported
    keys: dict[str, str]  # ID, SIS User ID, SIS Login ID -> value (non-empty ones)
    name: str
    line: int


@dataclass(frozen=True)
class Gradebook:
    """A Canvas gradebook export: identity columns, assignments with their ids, students."""

    path: str
    identity: tuple[str, ...]  # Student (or LastName, FirstName), ID, ..., Section
    assignments: dict[int, str]  # column index -> header, "Title (id)"
    points: dict[int, str]  # column index -> the Points Possible cell
    rows: tuple[GradebookRow, ...]


def read_gradebook(path: Path) -> Gradebook:
    """Read a Canvas gradebook export (Grades > Export), comma- or semicolon-separated."""
    path = Path(path)
    text = read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader, [])]
        identity = _gradebook_identity(path, header)
        assignments = {
            index: header[index]
            for index in range(len(identity), len(header))
            if CANVAS_ASSIGNMENT.fullmatch(header[index])
        }
        points: dict[int, str] = {}
        rows: list[GradebookRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if "Points Possible" in cells[0]:
                points = {index: _cell(cells, index) for index in assignments}
            elif all(CANVAS_NON_STUDENT_ROW.match(cell) for cell in cells):
                continue
            else:
                rows.append(_gradebook_row(identity, cells, reader.line_num))
    except csv.Error as error:
        raise GraderError.at(
            path, reader.line_num, f"not valid CSV: {error}", "export the gradebook again"
        ) from None
    return Gradebook(str(path), identity, assignments, points, tuple(rows))


def _gradebook_identity(path: Path, header: list[str]) -> tuple[str, ...]:
    if (
        header[:1] not in (["Student"], ["LastName"])
        or "ID" not in header
        or "Section" not in header
    ):
        raise GraderError.at(
            path,
            1,
            "not a Canvas gradebook export: the header is not Student, ID, ..., Section, ...",
            "export it from Canvas: Grades > Export > Export Entire Gradebook",
        )
    return tuple(header[: header.index("Section") + 1])


def _gradebook_row(identity: tuple[str, ...], cells: list[str], line: int) -> GradebookRow:
    values = {name: _cell(cells, index) for index, name in enumerate(identity)}
    keys = {name: values[name] for name, _ in CANVAS_MATCH_ORDER if values.get(name)}
    name = values.get("Student") or f"{values.get('FirstName', '')} {values.get('LastName', '')}"
    return GradebookRow(tuple(values[name] for name in identity), keys, name.strip(), line)


def _cell(cells: Sequence[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _gradebook_plan(
    results: Results, roster: Roster | None, items: list[_Item], gradebook: Gradebook
) -> _Plan:
    """Canvas rows and assignment headers taken from its own export: Canvas updates those
    assignments (matched by their id) and those students, and creates nothing."""
    columns = [_gradebook_column(results, item, gradebook) for item in items]
    plan = _Plan(list(gradebook.identity), [gradebook.assignments[index] for index in columns])
    blanks = [""] * (len(gradebook.identity) - 1)
    plan.points_row = ["Points Possible", *blanks]
    for item, index in zip(items, columns, strict=True):
        given = gradebook.points.get(index, "")
        plan.points_row.append(given or _number(item.points))
        if given and _points_differ(given, item.points):
            plan.notices.append(
                f"'{gradebook.assignments[index]}' is worth {given} points in Canvas and "
                f"{_number(item.points)} in grader; scores are written as grader computed them"
            )
    matched = _match_gradebook(results, roster, gradebook, plan)
    for row in gradebook.rows:
        student = matched.get(row.line)
        if student is not None:
            plan.lines.append(_Line(_gradebook_identity_cells(gradebook, row), student))
    without = [row.name for row in gradebook.rows if row.line not in matched]
    if without:
        plan.notices.append(
            "In the gradebook but without results, left out (Canvas keeps their grades): "
            + ", ".join(without)
        )
    return plan


def _gradebook_identity_cells(gradebook: Gradebook, row: GradebookRow) -> list[object]:
    return [
        Identifier(cell) if name in CANVAS_IDENTIFIER_COLUMNS else cell
        for name, cell in zip(gradebook.identity, row.cells, strict=True)
    ]


def _points_differ(given: str, points: float) -> bool:
    try:
        return abs(float(given.replace(",", ".")) - points) > 0.005
    except ValueError:
        return False


def _gradebook_column(results: Results, item: _Item, gradebook: Gradebook) -> int:
    """The gradebook column of a grade item: the assignment titled like it (case and spacing
    aside): 'BANK: QUESTION' or 'QUESTION' for a question, the bank's id or title for the total."""
    if item.key:
        wanted = [f"{results.bank.id}: {item.key}", item.key]
        what = f"question '{item.key}'"
    else:
        wanted = [results.bank.id, results.bank.title]
        what = "the bank's total"
    keys = {_title_key(title) for title in wanted}
    found = [
        index
        for index, header in gradebook.assignments.items()
        if _title_key(_assignment_title(header)) in keys
    ]
    looked = " or ".join(f"'{title}'" for title in dict.fromkeys(wanted))
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(gradebook.assignments[index] for index in found)
        raise GraderError.at(
            gradebook.path,
            1,
            f"{len(found)} assignments match {what}: {names}",
            "rename all but one in Canvas, then export the gradebook again",
        )
    have = ", ".join(list(gradebook.assignments.values())[:10]) or "no assignments"
    raise GraderError.at(
        gradebook.path,
        1,
        f"no assignment for {what} (looked for {looked}; the gradebook has: {have})",
        "name the Canvas assignment so, or export without --gradebook to create new assignments",
    )


def _assignment_title(header: str) -> str:
    match = CANVAS_ASSIGNMENT.fullmatch(header)
    return match.group(1) if match else header


def _title_key(title: str) -> str:
    return " ".join(title.split()).casefold()


def _match_gradebook(
    results: Results, roster: Roster | None, gradebook: Gradebook, plan: _Plan
) -> dict[int, StudentResult]:
    """Each student's gradebook row (by line): through the roster's Canvas ids when the roster
    lists the student, else by the student id as ID, SIS User ID or SIS Login ID, in that order."""
    index = {(column, value): row for row in gradebook.rows for column, value in row.keys.items()}
    entries = {entry.student: entry for entry in roster.entries} if roster else {}
    matched: dict[int, StudentResult] = {}
    for student in results.students:
        entry = entries.get(student.id)
        if entry is not None:
            keys = [(column, entry.fields.get(name, "")) for column, name in CANVAS_MATCH_ORDER]
        else:
            keys = [(column, student.id) for column, _ in CANVAS_MATCH_ORDER]
        row = next((index[key] for key in keys if key[1] and key in index), None)
        if row is None:
            plan.left.append(_Left(student.id, "not in the gradebook", student))
            continue
        if row.line in matched:
            raise GraderError.at(
                gradebook.path,
                row.line,
                f"students '{matched[row.line].id}' and '{student.id}' both match {row.name}",
                "fix the roster so that each student has their own Canvas ids",
            )
        matched[row.line] = student
    return matched


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
            record["points"] = _number(points)
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
