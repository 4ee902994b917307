"""A question as read from an LMS file, before it becomes a bank question; what an import gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.lms.html_text import html_text, media_note, tidy_text

FORMATS = ("moodle-xml", "gift")
FULL_MARKS = 100.0 - 1e-6
# Moodle's grade choices for an answer (question_bank::fraction_options), and their negatives.
MOODLE_FRACTIONS = (
    *(1.0, 0.9, 0.8333333, 0.8, 0.75, 0.7, 0.6666667, 0.6, 0.5, 0.4, 0.3333333, 0.3, 0.25),
    *(0.2, 0.1666667, 0.1428571, 0.125, 0.1111111, 0.1, 0.05, 0.0),
)
MOODLE_FRACTION_SLACK = 0.00001  # Moodle's match_grade_options accepts this much difference
COMBINED_FEEDBACK = (
    ("correctfeedback", "correct"),
    ("partiallycorrectfeedback", "partially correct"),
    ("incorrectfeedback", "incorrect"),
)
SHORT_QUOTE = 60

UNSUPPORTED_REASONS = {
    "description": "a description has no answer to grade",
    "matching": "matching questions are not supported",
    "multianswer": "embedded answers (cloze) are not supported",
    "calculated": "calculated questions are not supported",
    "calculatedsimple": "calculated questions are not supported",
    "calculatedmulti": "calculated questions are not supported",
    "ddwtos": "drag-and-drop questions are not supported",
    "ddimageortext": "drag-and-drop questions are not supported",
    "ddmarker": "drag-and-drop questions are not supported",
    "gapselect": "select-missing-words questions are not supported",
    "randomsamatch": "random matching questions are not supported",
    "random": "random questions are not supported",
}


@dataclass
class ImportResult:
    """A bank converted from an LMS file, and what could not be converted."""

    bank: dict[str, Any]  # ready for yaml.safe_dump; follows docs/formats.md
    skipped: list[str] = field(default_factory=list)  # "name (type) at line N: reason"
    notes: list[str] = field(default_factory=list)  # what imported questions lost or changed
    source: str = ""
    format: str = ""  # "moodle-xml" | "gift"


@dataclass
class Choice:
    """One answer of a source question: its text, its credit in percent, its feedback."""

    text: str
    fraction: float  # percent, -100..100
    feedback: str = ""
    value: float | None = None  # numeric answers
    tolerance: float = 0.0


@dataclass
class Draft:
    """One question as read from the source file, before it is shaped into a bank question."""

    name: str
    kind: str  # Moodle's type name: shortanswer, essay, multichoice, numerical, truefalse, ...
    line: int
    prompt: str = ""
    points: float = 1.0
    feedback: str = ""
    choices: list[Choice] = field(default_factory=list)
    single: bool = True
    units: list[str] = field(default_factory=list)
    case_sensitive: bool = False
    grader_notes: str = ""  # an essay's information for graders: never a model answer
    notes: list[str] = field(default_factory=list)
    error: str = ""  # why the question could not be read; it is skipped

    @property
    def label(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.name}{kind} at line {self.line}"

    def convert(self, raw: str, text_format: str, where: str) -> str:
        """Plain text of a source text; media that HTML loses are noted as dropped."""
        if text_format != "html":
            return tidy_text(raw)
        text, media = html_text(raw)
        self.notes.extend(media_note(kind, name, where) for kind, name in media)
        return text


class Skip(Exception):
    """A question that cannot become a bank question; the message says why."""
