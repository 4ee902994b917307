"""Read submissions (CSV or JSON Lines, from a file or stdin) into rows, reporting bad rows."""

from __future__ import annotations

import csv
import io
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, Problem
from grader.load.yamlread import decode_bytes
from grader.values import (
    describe,
    finite_number,
    is_number_text,
    parse_finite,
    unpaired_surrogate,
)

REQUIRED_COLUMNS = ("student", "question", "answer")
OPTIONAL_COLUMNS = ("language", "score", "comment")
MAX_ANSWER_CHARS = 1_000_000  # a longer answer is a row problem, not graded
_NO_FIELD_LIMIT = 2**31 - 1  # the csv module's own limit would drop every row after a long field


@dataclass(frozen=True)
class Submission:
    student: str
    question: str  # "q" or "q/step"
    answer: str
    language: str | None = None
    score: float | None = None  # a human score, for evaluation
    line: int = 0  # the line of the row in its file (1-based; the header is line 1 in CSV)


@dataclass(frozen=True)
class SubmissionFile:
    path: str
    rows: tuple[Submission, ...]
    problems: tuple[Problem, ...]


def read_submissions(path: str | Path, data: bytes | None = None) -> SubmissionFile:
    """Read CSV or JSON Lines ("-" reads stdin); bad rows become problems, good rows are kept."""
    name = str(path)
    if data is None:
        data = _read_bytes(name)
    text = decode_bytes(data, name)
    if _looks_like_jsonl(name, text):
        rows, problems = _read_jsonl(name, text)
    else:
        rows, problems = _read_csv(name, text)
    rows, duplicate_problems = _drop_duplicates(name, rows)
    return SubmissionFile(name, tuple(rows), tuple(problems + duplicate_problems))


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise GraderError.at(name, None, "no such file", "check the path") from None
    except IsADirectoryError:
        raise GraderError.at(name, None, "is a folder, not a submissions file") from None
    except OSError as error:
        raise GraderError.at(name, None, f"cannot read: {error.strerror}") from None


def _looks_like_jsonl(name: str, text: str) -> bool:
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return True
    if name.endswith((".csv", ".tsv")):
        return False
    return text.lstrip().startswith("{")


@dataclass(frozen=True)
class CsvRecords:
    """A CSV file's rows as {column: value} with their first line; unreadable rows as problems."""

    columns: list[str]
    records: list[tuple[int, dict[str, str]]]
    problems: list[Problem]


class _Lines:
    """The file's physical lines (as the csv module splits them), read from a position that can
    be moved back: after a broken row, reading starts again on the line after its first."""

    def __init__(self, text: str) -> None:
        self.lines = list(io.StringIO(text, newline=""))
        self.read = 0  # lines handed out so far

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.read >= len(self.lines):
            raise StopIteration
        self.read += 1
        return self.lines[self.read - 1]


def read_csv_records(
    name: str,
    text: str,
    header_hint: str,
    check_columns: Callable[[str, list[str]], None],
    quote_hint: str = "quote texts that contain commas or newlines",
) -> CsvRecords:
    """Parse CSV (TSV for a .tsv name) with a header row; blank rows are skipped.

    Quotes are read strictly: a quote that is never closed, or text after a closing quote, makes
    the row a problem (never a field that silently swallows the rows after it), and reading goes
    on from the line after the row's first line, so the rows it took in are read as rows.
    """
    csv.field_size_limit(_NO_FIELD_LIMIT)
    delimiter = "\t" if name.endswith(".tsv") else ","
    lines = _Lines(text)

    def reader() -> Iterator[list[str]]:
        return csv.reader(lines, delimiter=delimiter, strict=True)

    try:
        header = next(reader())
    except StopIteration:
        raise GraderError.at(name, 1, "the file is empty", header_hint) from None
    except csv.Error as error:
        raise GraderError.at(
            name, 1, f"unreadable CSV header: {error}", "check its quotes"
        ) from None
    columns = [column.strip().lower() for column in header]
    _check_unique_columns(name, columns)
    check_columns(name, columns)
    found = CsvRecords(columns, [], [])
    rows = reader()
    while True:
        start_line = lines.read + 1
        try:
            values = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            found.problems.append(_broken_row(name, start_line, lines.read, error))
            lines.read = start_line  # read again from the line after the row's first line
            rows = reader()
            continue
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            found.problems.append(
                Problem(
                    name,
                    start_line,
                    f"the row has {len(values)} fields but the header has {len(columns)}",
                    quote_hint,
                )
            )
            continue
        found.records.append((start_line, dict(zip(columns, values, strict=True))))
    return found


def _check_unique_columns(name: str, columns: list[str]) -> None:
    first: dict[str, int] = {}
    for number, column in enumerate(columns, start=1):
        if column and column in first:
            raise GraderError.at(
                name,
                1,
                f"the column '{column}' appears twice in the header (columns {first[column]} "
                f"and {number})",
                "remove or rename one: each row's values would be read from only one of them",
            )
        first.setdefault(column, number)


def _broken_row(name: str, start: int, end: int, error: csv.Error) -> Problem:
    """A row the csv module could not read; ``end`` is the last line it read for it."""
    if str(error) == "unexpected end of data":
        if end > start:
            taken = f"line {end}" if end == start + 1 else f"lines {start + 1}–{end}"
            message = (
                "a quote opened in this row is never closed: it runs to the end of the file "
                f"and would swallow {taken}"
            )
            fix = "close the quote; the lines after it are read as rows of their own"
            return Problem(name, start, message, fix)
        return Problem(name, start, "a quote opened in this row is never closed", "close it")
    spans = f" (it runs on to line {end})" if end > start else ""
    return Problem(
        name,
        start,
        f"unreadable CSV row: {error}{spans}",
        'check its quotes: a quoted field ends with " before the next comma; write "" for a '
        "quote inside it",
    )


def _read_csv(name: str, text: str) -> tuple[list[Submission], list[Problem]]:
    found = read_csv_records(
        name,
        text,
        "add a header row: student,question,answer",
        _check_columns,
        "quote answers that contain commas or newlines",
    )
    rows: list[Submission] = []
    problems = found.problems
    for line, record in found.records:
        row, problem = _row(name, line, record)
        if row:
            rows.append(row)
        if problem:
            problems.append(problem)
    problems.sort(key=lambda problem: problem.line or 0)
    return rows, problems


def _check_columns(name: str, columns: list[str]) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise GraderError.at(
            name,
            1,
            "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            "the header needs student,question,answer (and optionally language,score)",
        )


def _read_jsonl(name: str, text: str) -> tuple[list[Submission], list[Problem]]:
    rows: list[Submission] = []
    problems: list[Problem] = []
    # Lines end only at \n, \r or \r\n (str.splitlines would also split at U+2028 and other
    # separators, which a JSON string may hold as they are).
    for number, raw in enumerate(io.StringIO(text, newline=""), start=1):
        if not raw.strip():
            continue
        record, problem = _json_line(name, number, raw)
        if problem is not None:
            problems.append(problem)
            continue
        if not isinstance(record, dict):
            problems.append(Problem(name, number, "each line must be a JSON object"))
            continue
        missing = [key for key in REQUIRED_COLUMNS if key not in record]
        if missing:
            problems.append(
                Problem(
                    name,
                    number,
                    "missing " + ", ".join(missing),
                    "add the keys student, question, answer",
                )
            )
            continue
        row, problem = _row(name, number, record)
        if row:
            rows.append(row)
        if problem:
            problems.append(problem)
    return rows, problems


def _json_line(name: str, number: int, raw: str) -> tuple[Any, Problem | None]:
    try:
        return json.loads(raw), None
    except json.JSONDecodeError as error:
        return None, Problem(name, number, f"not valid JSON: {error.msg}", "one object per line")
    except ValueError:  # an integer of more digits than Python converts (4300)
        return None, Problem(name, number, "not valid JSON: a number with too many digits")
    except RecursionError:
        return None, Problem(name, number, "not valid JSON: nested too deeply")


class _BadField(Exception):
    """A field that cannot be read as text; the message says why."""


def _as_text(value: Any, key: str = "field") -> str:
    """A field as text: strings as they are, whole numbers without ".0"; else _BadField."""
    if value is None:
        return ""
    if isinstance(value, str):
        surrogate = unpaired_surrogate(value)
        if surrogate is not None:
            code = ord(value[surrogate])
            raise _BadField(
                f"the {key} holds an unpaired surrogate (\\u{code:04x}), which is not a character"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadField(f"the {key} must be text, not {_json_kind(value)}")
    number = finite_number(value)
    if number is None:
        raise _BadField(f"the {key} must be text, not {describe(value)}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _clean_id(text: str) -> str:
    """An id without invisible characters (zero-width, BOM, bidi marks), NFC, trimmed.

    So "s1" and "s1\u200b" are one student, not two that look the same.
    """
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFC", visible).strip()


def _row(name: str, line: int, record: dict[str, Any]) -> tuple[Submission | None, Problem | None]:
    try:
        student = _clean_id(_as_text(record.get("student"), "student"))
        question = _clean_id(_as_text(record.get("question"), "question"))
        answer = _as_text(record.get("answer"), "answer")
        language = _as_text(record.get("language"), "language").strip().lower() or None
    except _BadField as bad:
        return None, Problem(name, line, str(bad), "fix the row")
    if not student:
        return None, Problem(name, line, "the student is empty", "fill in the student's id")
    if not question:
        return None, Problem(name, line, "the question is empty", "fill in the question id")
    if len(answer) > MAX_ANSWER_CHARS:
        return None, Problem(
            name,
            line,
            f"the answer of student '{student}' to '{question}' is {len(answer):,} characters "
            f"long; answers over {MAX_ANSWER_CHARS:,} characters are not graded",
            "shorten it, or grade it by hand",
        )
    score, problem = _score(name, line, record.get("score"))
    row = Submission(student, question, answer, language, score, line)
    return row, problem


def _score(name: str, line: int, value: Any) -> tuple[float | None, Problem | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    shown = value.strip()[:40] if isinstance(value, str) else describe(value)
    if isinstance(value, str):
        score = parse_finite(value)
        numeric = is_number_text(value)
    else:
        score = finite_number(value)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if score is None and not numeric:
        return None, Problem(
            name, line, f"score '{shown}' is not a number", "write a number or leave it empty"
        )
    if score is None:
        return None, Problem(name, line, f"score '{shown}' is not a finite number")
    return score, None


def _drop_duplicates(
    name: str, rows: Iterable[Submission]
) -> tuple[list[Submission], list[Problem]]:
    """The last row for a (student, question) wins; earlier ones are reported."""
    latest: dict[tuple[str, str], Submission] = {}
    problems = []
    for row in rows:
        key = (row.student, row.question)
        if key in latest:
            earlier = latest[key]
            problems.append(
                Problem(
                    name,
                    earlier.line,
                    f"student '{row.student}' answered '{row.question}' again at line {row.line}",
                    "the later answer is graded; remove one row to silence this",
                )
            )
        latest[key] = row
    return list(latest.values()), problems
