"""A Canvas gradebook export, read as the roster and the columns of a Canvas grade import."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.fsutil import Identifier
from grader.lms.plan import (
    CANVAS_ASSIGNMENT,
    CANVAS_IDENTIFIER_COLUMNS,
    CANVAS_MATCH_ORDER,
    CANVAS_NON_STUDENT_ROW,
    Item,
    Left,
    Line,
    Plan,
    number,
)
from grader.lms.roster import Roster
from grader.load.yamlread import read_text
from grader.results import Results, StudentResult

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


def gradebook_plan(
    results: Results, roster: Roster | None, items: list[Item], gradebook: Gradebook
) -> Plan:
    """Canvas rows and assignment headers taken from its own export: Canvas updates those
    assignments (matched by their id) and those students, and creates nothing."""
    columns = [_gradebook_column(results, item, gradebook) for item in items]
    plan = Plan(list(gradebook.identity), [gradebook.assignments[index] for index in columns])
    blanks = [""] * (len(gradebook.identity) - 1)
    plan.points_row = ["Points Possible", *blanks]
    for item, index in zip(items, columns, strict=True):
        given = gradebook.points.get(index, "")
        plan.points_row.append(given or number(item.points))
        if given and _points_differ(given, item.points):
            plan.notices.append(
                f"'{gradebook.assignments[index]}' is worth {given} points in Canvas and "
                f"{number(item.points)} in grader; scores are written as grader computed them"
            )
    matched = _match_gradebook(results, roster, gradebook, plan)
    for row in gradebook.rows:
        student = matched.get(row.line)
        if student is not None:
            plan.lines.append(Line(_gradebook_identity_cells(gradebook, row), student))
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


def _gradebook_column(results: Results, item: Item, gradebook: Gradebook) -> int:
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
    results: Results, roster: Roster | None, gradebook: Gradebook, plan: Plan
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
            plan.left.append(Left(student.id, "not in the gradebook", student))
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
