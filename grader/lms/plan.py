"""What an export is made of: the LMS formats and columns, the items graded, the rows planned."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.results import StudentResult

EXPORT_FORMATS = ("moodle-csv", "canvas-csv", "jsonl")
ITEMS = ("questions", "total", "both")
DEFAULT_ITEMS = "questions"  # one grade item per question
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
class Item:
    """One grade column: a question, or the bank's total."""

    key: str  # the question id, or "" for the total
    points: float


@dataclass(frozen=True)
class Line:
    """One student's row: the LMS identity cells, then the grades."""

    identity: list[object]
    result: StudentResult


@dataclass(frozen=True)
class Left:
    """A student with results that the LMS could not match, and why."""

    student: str
    reason: str
    result: StudentResult


@dataclass
class Plan:
    """What a CSV export writes: headers, rows, and the students it leaves out."""

    identity_header: list[str]
    item_headers: list[str]
    lines: list[Line] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    points_row: list[object] | None = None  # Canvas: points per grade column


def number(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded
