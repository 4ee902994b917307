"""A roster CSV: grader's student ids and the LMS identities they map to."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, did_you_mean
from grader.lms.plan import ROSTER_COLUMNS, Left, Plan
from grader.load.yamlread import read_text
from grader.results import Results, StudentResult


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
            fix = did_you_mean(name, ROSTER_COLUMNS)
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


def roster_students(
    results: Results, roster: Roster, plan: Plan
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
        Left(student.id, "not in the roster", student)
        for student in results.students
        if student.id not in listed
    )
