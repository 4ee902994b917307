"""Export grades for an LMS: Moodle's grade import CSV, Canvas's gradebook CSV, or JSON Lines.

A roster CSV maps grader's student ids to LMS identities (docs/lms.md). Scores are the final
scores (``AnswerResult.score``, after overrides). Every CSV cell goes through ``safe_cell``.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.export import cell_number
from grader.fsutil import atomic_write, csv_text
from grader.results import Results, StudentResult
from grader.student_view import Display, shown_question_score, shown_scores
from grader.yamlread import read_text

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
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


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
    unmatched: list[str] = field(default_factory=list)  # students with results but no roster row
    format: str = ""


@dataclass(frozen=True)
class _Item:
    """One grade column: a question, or the bank's total."""

    key: str  # the question id, or "" for the total
    points: float


@dataclass(frozen=True)
class _Row:
    student: str
    entry: RosterEntry | None
    result: StudentResult | None


# ---------------------------------------------------------------- entry points


def export_grades(
    results: Results,
    fmt: str,
    roster: Path | None = None,
    *,
    items: str = "questions",
    identifier: str | None = None,
) -> ExportResult:
    """Grades in an LMS's import format.

    ``fmt``: moodle-csv, canvas-csv or jsonl. ``items`` (CSV formats): one column per question,
    one column for the bank's total, or both. ``identifier`` (moodle-csv): the roster column
    Moodle maps users by, email or idnumber; by default email when the roster has it.
    """
    if fmt not in EXPORT_FORMATS:
        raise GraderError(f"unknown export format '{fmt}' (use {', '.join(EXPORT_FORMATS)})")
    if items not in ITEMS:
        raise GraderError(f"unknown grade items '{items}' (use {', '.join(ITEMS)})")
    loaded = load_roster(roster) if roster is not None else None
    rows, unmatched = _rows(results, loaded)
    if fmt == "moodle-csv":
        column = _moodle_identifier(loaded, identifier)
        text = moodle_csv(results, rows, _items(results, items), column)
    elif fmt == "canvas-csv":
        text = canvas_csv(results, rows, _items(results, items))
    else:
        text = grades_jsonl(results, rows)
    return ExportResult(text, unmatched, fmt)


def write_export(result: ExportResult, out: Path) -> None:
    """Write an export atomically (UTF-8)."""
    atomic_write(Path(out), result.text)


# ---------------------------------------------------------------- roster


def load_roster(path: Path) -> Roster:
    """Read a roster CSV: a ``student`` column plus any of the LMS identity columns."""
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
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


def _rows(results: Results, roster: Roster | None) -> tuple[list[_Row], list[str]]:
    """Roster students in roster order, then students with results but no roster row."""
    by_id = {student.id: student for student in results.students}
    if roster is None:
        return [_Row(student.id, None, student) for student in results.students], []
    rows = [_Row(entry.student, entry, by_id.get(entry.student)) for entry in roster.entries]
    listed = {entry.student for entry in roster.entries}
    unmatched = [student.id for student in results.students if student.id not in listed]
    rows.extend(_Row(student, None, by_id[student]) for student in unmatched)
    return rows, unmatched


# ---------------------------------------------------------------- scores


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


def _score(result: StudentResult | None, item: _Item, display: Display) -> float | int | str:
    """A question's final score (after overrides) as the student sees it, or the total: the sum
    of those."""
    if result is None:
        return ""
    scores, total = shown_scores(result, display)
    if item.key:
        return cell_number(scores[item.key]) if item.key in scores else ""
    return cell_number(total)


def _number(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


# ---------------------------------------------------------------- formats


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


def moodle_csv(results: Results, rows: list[_Row], items: list[_Item], identifier: str) -> str:
    """Moodle's "Import grades from CSV": an identifier column, then one column per grade item."""
    header = [identifier, *(item.key or results.bank.id for item in items)]
    body = []
    for row in rows:
        identity = row.entry.fields.get(identifier, row.student) if row.entry else row.student
        display = Display.from_settings(results.settings)
        body.append([identity, *(_score(row.result, item, display) for item in items)])
    return csv_text(header, body)


def canvas_csv(results: Results, rows: list[_Row], items: list[_Item]) -> str:
    """Canvas's gradebook import: identity columns, a Points Possible row, one row per student."""
    titles = [f"{results.bank.id}: {item.key}" if item.key else results.bank.id for item in items]
    points_row: list[object] = [
        "Points Possible",
        "",
        "",
        "",
        "",
        *(_number(item.points) for item in items),
    ]
    body: list[list[object]] = [points_row]
    for row in rows:
        display = Display.from_settings(results.settings)
        body.append(
            [*_canvas_identity(row), *(_score(row.result, item, display) for item in items)]
        )
    return csv_text([*CANVAS_HEADER, *titles], body)


def _canvas_identity(row: _Row) -> list[str]:
    if row.entry is None:
        return [row.student, "", row.student, "", ""]
    fields = row.entry.fields
    return [
        fields.get("name", row.student),
        fields.get("canvas_id", ""),
        fields.get("sis_user_id", ""),
        fields.get("sis_login_id", ""),
        fields.get("section", ""),
    ]


def grades_jsonl(results: Results, rows: list[_Row]) -> str:
    """One JSON object per student per question, with the roster's identity fields."""
    lines = []
    for row in rows:
        identity = row.entry.fields if row.entry else {}
        questions = {q.id: q for q in row.result.questions} if row.result else {}
        display = Display.from_settings(results.settings)
        for question_id, points in question_points(results):
            question = questions.get(question_id)
            record: dict[str, Any] = {"student": row.student}
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
            lines.append(json.dumps(record, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)
