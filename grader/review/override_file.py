"""Reading an overrides file (CSV or YAML): one row per student (or answer group) and question,
every mistake a located problem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import GraderError, Problem, did_you_mean
from grader.load.submissions import read_csv_records
from grader.load.yamlread import LineDict, LineList, load_yaml, read_text
from grader.review.groups import (
    split_group_id,
)
from grader.values import describe, finite_number, is_number_text, parse_finite

COLUMNS = ("student", "group", "question", "score", "comment")
IGNORED_COLUMNS = ("answer", "language", "name")  # allowed for the instructor's reference
YAML_SUFFIXES = (".yaml", ".yml")
HEADER_HINT = "the header needs student,question,score (or group,score) and optionally comment"
STUDENT, EXACT, SIMILAR = 3, 2, 1  # how specific a row is: the more specific wins


@dataclass(frozen=True)
class OverrideRow:
    """One row of an overrides file."""

    question: str  # "q" or "q/step"; for a group row, the group's gradable
    score: float
    comment: str = ""
    student: str | None = None  # exactly one of student and group is set
    group: str | None = None
    file: str = ""
    line: int = 0  # 1-based; the CSV header is line 1

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def target(self) -> str:
        return self.student if self.student is not None else f"group {self.group}"


# ---------------------------------------------------------------- reading


def load_overrides(path: str | Path) -> list[OverrideRow]:
    """Read an overrides file (YAML for .yaml/.yml, else CSV; .tsv is tab-separated).

    Raises GraderError listing every bad row (file:line, what, how to fix): missing columns,
    unknown columns or keys, a row without a student or group, a score that is missing, not a
    number or negative. Scores above a question's points, and unknown students, questions and
    groups, are found by ``apply_overrides`` (they need the results).
    """
    name = str(path)
    if Path(name).suffix.lower() in YAML_SUFFIXES:
        rows, problems = _read_yaml(Path(path))
    else:
        rows, problems = _read_csv(name, read_text(Path(path)))
    if problems:
        raise GraderError("\n".join(str(problem) for problem in problems), tuple(problems))
    return rows


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _score(name: str, line: int, value: Any) -> tuple[float | None, Problem | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, Problem(name, line, "the score is empty", "write the score to give, e.g. 2.5")
    shown = value.strip()[:40] if isinstance(value, str) else describe(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None, Problem(
            name, line, f"score '{shown}' is not a number", "write a number such as 2.5"
        )
    score = parse_finite(value) if isinstance(value, str) else finite_number(value)
    if score is None:
        numeric = not isinstance(value, str) or is_number_text(value)
        what = "a finite number" if numeric else "a number"
        return None, Problem(
            name, line, f"score '{shown}' is not {what}", "write a number such as 2.5"
        )
    if score < 0:
        return None, Problem(
            name, line, f"score {score:g} is negative", "scores run from 0 to the question's points"
        )
    return score, None


def _row(
    name: str, line: int, record: Mapping[str, Any]
) -> tuple[OverrideRow | None, list[Problem]]:
    student = _as_text(record.get("student")).strip()
    group = _as_text(record.get("group")).strip()
    question = _as_text(record.get("question")).strip()
    comment = _as_text(record.get("comment")).strip()
    problems: list[Problem] = []
    score, score_problem = _score(name, line, record.get("score"))
    if score_problem:
        problems.append(score_problem)
    if student and group:
        problems.append(
            Problem(name, line, "the row names both a student and a group", "use one row for each")
        )
    elif not student and not group:
        problems.append(
            Problem(
                name,
                line,
                "the row names no student or group",
                "fill in a student id, or a group id from the review pages",
            )
        )
    elif group:
        question = _group_question(name, line, group, question, problems)
    elif not question:
        problems.append(
            Problem(
                name,
                line,
                "the question is empty",
                "fill in the question id (a challenge step is question/step)",
            )
        )
    if problems or score is None:
        return None, problems
    row = OverrideRow(question, score, comment, student or None, group or None, name, line)
    return row, []


def _group_question(
    name: str, line: int, group: str, question: str, problems: list[Problem]
) -> str:
    parts = split_group_id(group)
    if parts is None:
        problems.append(
            Problem(
                name,
                line,
                f"'{group}' is not a group id",
                "copy it from the review pages, e.g. decoder-shift#3f9a1c02be7d",
            )
        )
        return question
    gradable = parts[0]
    if question and question != gradable:
        problems.append(
            Problem(
                name,
                line,
                f"group '{group}' belongs to '{gradable}', not '{question}'",
                "leave the question empty or correct it",
            )
        )
    return gradable


def _read_csv(name: str, text: str) -> tuple[list[OverrideRow], list[Problem]]:
    found = read_csv_records(
        name,
        text,
        "add a header row: student,question,score,comment",
        _check_columns,
        "quote comments that contain commas",
    )
    rows: list[OverrideRow] = []
    problems = found.problems
    for line, record in found.records:
        row, row_problems = _row(name, line, record)
        problems.extend(row_problems)
        if row:
            rows.append(row)
    problems.sort(key=lambda problem: problem.line or 0)
    return rows, problems


def _check_columns(name: str, columns: Sequence[str]) -> None:
    known = (*COLUMNS, *IGNORED_COLUMNS)
    unknown = [column for column in columns if column not in known]
    if unknown:
        hint = did_you_mean(unknown[0], COLUMNS, "the columns are ")
        raise GraderError.at(name, 1, f"unknown column '{unknown[0]}'", hint)
    missing = [column for column in ("score",) if column not in columns]
    if "student" not in columns and "group" not in columns:
        missing.insert(0, "student")
    if "student" in columns and "question" not in columns:
        missing.insert(1 if "student" in missing else 0, "question")
    if missing:
        label = "missing columns " if len(missing) > 1 else "missing column "
        raise GraderError.at(name, 1, label + ", ".join(missing), HEADER_HINT)


def _read_yaml(path: Path) -> tuple[list[OverrideRow], list[Problem]]:
    name = str(path)
    data = load_yaml(path)
    if data is None:
        return [], []
    if isinstance(data, LineDict) and set(data) == {"overrides"}:
        data = data["overrides"] or LineList()
    if not isinstance(data, LineList):
        raise GraderError.at(
            name,
            getattr(data, "line", 1) or 1,
            "expected a list of overrides",
            "write one '- student: ...' item per override",
        )
    rows: list[OverrideRow] = []
    problems: list[Problem] = []
    for item, line in zip(data, data.item_lines, strict=True):
        if not isinstance(item, LineDict):
            problems.append(
                Problem(
                    name,
                    line,
                    "each override must be a mapping",
                    "write keys student, question, score, comment",
                )
            )
            continue
        unknown = [str(key) for key in item if key not in COLUMNS and key not in IGNORED_COLUMNS]
        if unknown:
            hint = did_you_mean(unknown[0], COLUMNS, "the keys are ")
            problems.append(
                Problem(
                    name, item.key_lines.get(unknown[0], line), f"unknown key '{unknown[0]}'", hint
                )
            )
            continue
        row, row_problems = _row(name, line, item)
        problems.extend(row_problems)
        if row:
            rows.append(row)
    return rows, problems
