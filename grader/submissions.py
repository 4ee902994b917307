"""Read submissions (CSV or JSON Lines, from a file or stdin) into rows, reporting bad rows."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, Problem
from grader.yamlread import decode_bytes

REQUIRED_COLUMNS = ("student", "question", "answer")
OPTIONAL_COLUMNS = ("language", "score", "comment")
MAX_FIELD = 16 * 1024 * 1024


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


def read_csv_records(
    name: str,
    text: str,
    header_hint: str,
    check_columns: Callable[[str, list[str]], None],
    quote_hint: str = "quote texts that contain commas or newlines",
) -> CsvRecords:
    """Parse CSV (TSV for a .tsv name) with a header row; blank rows are skipped."""
    csv.field_size_limit(MAX_FIELD)
    delimiter = "\t" if name.endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise GraderError.at(name, 1, "the file is empty", header_hint) from None
    except csv.Error as error:
        raise GraderError.at(name, 1, f"unreadable CSV: {error}") from None
    columns = [column.strip().lower() for column in header]
    check_columns(name, columns)
    found = CsvRecords(columns, [], [])
    line = reader.line_num
    while True:
        start_line = line + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            found.problems.append(
                Problem(name, start_line, f"unreadable CSV row: {error}", "check its quotes")
            )
            break
        line = reader.line_num
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
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(
                Problem(name, number, f"not valid JSON: {error.msg}", "one object per line")
            )
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


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean_id(text: str) -> str:
    """An id without invisible characters (zero-width, BOM, bidi marks), NFC, trimmed.

    So "s1" and "s1\u200b" are one student, not two that look the same.
    """
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return unicodedata.normalize("NFC", visible).strip()


def _row(name: str, line: int, record: dict[str, Any]) -> tuple[Submission | None, Problem | None]:
    student = _clean_id(_as_text(record.get("student")))
    question = _clean_id(_as_text(record.get("question")))
    if not student:
        return None, Problem(name, line, "the student is empty", "fill in the student's id")
    if not question:
        return None, Problem(name, line, "the question is empty", "fill in the question id")
    answer = _as_text(record.get("answer"))
    language = _as_text(record.get("language")).strip().lower() or None
    score, problem = _score(name, line, record.get("score"))
    row = Submission(student, question, answer, language, score, line)
    return row, problem


def _score(name: str, line: int, value: Any) -> tuple[float | None, Problem | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None, Problem(
            name, line, f"score '{value}' is not a number", "write a number or leave it empty"
        )
    if not math.isfinite(score):
        return None, Problem(name, line, f"score '{value}' is not a finite number")
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
