"""``results.json``: the results written (rounded to 4 decimals, one student a line) and read back,
with every field checked, so reports and exports can be re-made without re-grading."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.load.yamlread import read_text
from grader.results import (
    SCHEMA,
    AnswerResult,
    CriterionResult,
    QuestionResult,
    Results,
    Similarity,
    StudentResult,
    TermEvidence,
)
from grader.values import describe, finite_number, unpaired_surrogate


def to_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_dict(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_dict(item) for key, item in value.items()}
    if isinstance(value, float):
        return round(value, 4)
    return value


def results_to_json(results: Results) -> str:
    return "".join(results_json_chunks(results))


def results_json_chunks(results: Results) -> Iterator[str]:
    """results.json as text chunks: the settings and summary indented, then one student per line
    (compact, by json's C encoder). Each student is converted only when reached, so the whole
    document is never held in memory at once (100k answers are gigabytes of it)."""
    document = to_dict(replace(results, students=()))
    yield "{"
    for number, (key, value) in enumerate(document.items()):
        yield ("," if number else "") + "\n " + json.dumps(key) + ": "
        if key == "students":
            yield from _student_lines(results.students)
        else:
            yield json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n ")
    yield "\n}\n"


def _student_lines(students: Sequence[StudentResult]) -> Iterator[str]:
    if not students:
        yield "[]"
        return
    yield "["
    for number, student in enumerate(students):
        line = json.dumps(to_dict(student), ensure_ascii=False, separators=(",", ":"))
        yield ("," if number else "") + "\n  " + line
    yield "\n ]"


class _Damaged(Exception):
    """A field of results.json with the wrong type or an impossible value; ``path`` is filled
    in on the way out (students[3].questions[0].score)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str | int] = []

    def where(self) -> str:
        text = ""
        for part in reversed(self.path):
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text


_MAX_INT = 2**63


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _build(kind: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as ``kind``, checked: the right type, finite numbers, no unpaired
    surrogates; else _Damaged."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        if value is None:
            return None
        return _build(options[0], value)
    if origin is tuple:
        if not isinstance(value, list):
            raise _Damaged(f"must be a list, not {_kind_of(value)}")
        (item_kind, *_rest) = typing.get_args(kind)
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_build(item_kind, item))
            except _Damaged as damaged:
                damaged.path.append(index)
                raise
        return tuple(items)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _build_dataclass(kind, value)
    if origin is dict or kind is Any:
        _check_json(value, dict if origin is dict else None)
        return value
    if kind is float:
        number = finite_number(value)
        if number is None:
            shown = _kind_of(value) if not isinstance(value, int | float) else describe(value)
            raise _Damaged(f"must be a finite number, not {shown}")
        return number
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_INT:
            raise _Damaged(f"must be a whole number from 0, not {describe(value)}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise _Damaged(f"must be true or false, not {_kind_of(value)}")
        return value
    if kind is str:
        _check_text(value)
        return value
    raise _Damaged(f"has an unexpected type {kind!r}")  # a results class this code lacks


def _check_text(value: Any) -> None:
    if not isinstance(value, str):
        raise _Damaged(f"must be text, not {_kind_of(value)}")
    if unpaired_surrogate(value) is not None:
        raise _Damaged("holds an unpaired surrogate (a \\ud800-style escape), not a character")


def _check_json(value: Any, container: type | None) -> None:
    """Free-form JSON (settings, models, extra): every number finite, every text whole."""
    if container is not None and not isinstance(value, container):
        raise _Damaged(f"must be an object, not {_kind_of(value)}")
    pending = [value]
    while pending:  # no recursion: json.loads already bounded the depth
        item = pending.pop()
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            _check_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _Damaged(f"holds {item}, which is not a finite number")


def _build_dataclass(kind: type, value: Any) -> Any:
    if not isinstance(value, dict):
        raise _Damaged(f"must be an object, not {_kind_of(value)}")
    hints = _field_kinds(kind)
    arguments = {}
    for key, item in value.items():
        if key in hints:
            try:
                arguments[key] = _build(hints[key], item)
            except _Damaged as damaged:
                damaged.path.append(key)
                raise
    missing = [name for name in _required_fields(kind) if name not in arguments]
    if missing:
        raise _Damaged(f"lacks '{missing[0]}'")
    built = kind(**arguments)
    _check_range(built)
    return built


@functools.cache
def _required_fields(kind: type) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(kind)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


_SLACK = 1e-6  # results.json rounds to 4 decimals


def _check_range(built: Any) -> None:
    """Scores within their points, shares within 0..1, cosines within -1..1, spans in order."""
    checks: list[tuple[str, float, float, float]] = []  # (field, value, low, high)
    if isinstance(built, QuestionResult) and not built.answers:
        damaged = _Damaged("is empty: a question has one answer, or one per challenge step")
        damaged.path.append("answers")
        raise damaged
    if isinstance(built, AnswerResult | QuestionResult):
        checks += [("points", built.points, 0.0, math.inf)]
        checks += [("score", built.score, 0.0, built.points)]
        if isinstance(built, AnswerResult):
            checks += [("auto_score", built.auto_score, 0.0, built.points)]
    elif isinstance(built, StudentResult):
        checks += [("max", built.max, 0.0, math.inf), ("total", built.total, 0.0, built.max)]
    elif isinstance(built, CriterionResult):
        checks += [("points", built.points, 0.0, math.inf), ("credit", built.credit, 0.0, 1.0)]
        checks += [("score", built.score, 0.0, built.points)]
    elif isinstance(built, Similarity):
        checks += [("cosine", built.cosine, -1.0, 1.0), ("credit", built.credit, 0.0, 1.0)]
    elif isinstance(built, TermEvidence) and built.end < built.start:
        raise _Damaged(f"ends ({built.end}) before it starts ({built.start})")
    for name, value, low, high in checks:
        if not low - _SLACK <= value <= high + _SLACK:
            damaged = _Damaged(f"is {value:g}, outside {low:g}..{high:g}")
            damaged.path.append(name)
            raise damaged


def _check_class(results: Results) -> None:
    """Every student has the same questions in the same order, and no id is there twice."""
    seen: set[str] = set()
    expected = [q.id for q in results.students[0].questions] if results.students else []
    for index, student in enumerate(results.students):
        problem = ""
        if student.id in seen:
            problem = f"repeats the student '{student.id}'"
        elif [q.id for q in student.questions] != expected:
            problem = "does not have the questions of students[0] in their order"
        if problem:
            damaged = _Damaged(problem)
            damaged.path += [index, "students"]
            raise damaged
        seen.add(student.id)


@functools.cache
def _field_kinds(kind: type) -> dict[str, Any]:
    """The type of each field of a dataclass (resolving the hints is slow: once per class)."""
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind)}


def results_from_dict(data: Any, source: str = "results.json") -> Results:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise GraderError.at(
            source,
            None,
            f"not a grader results file (schema {describe(found)})",
            f"expected {SCHEMA}",
        )
    try:
        built = _build(Results, data)
        _check_class(built)
    except _Damaged as damaged:
        where = damaged.where()
        raise GraderError.at(
            source,
            None,
            f"damaged results file: {where + ' ' if where else ''}{damaged.problem}",
            "re-run grader grade, or undo the hand edit",
        ) from None
    assert isinstance(built, Results)
    return built


def load_results(path: str | Path) -> Results:
    text = read_text(Path(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise GraderError.at(path, error.lineno, f"not valid JSON: {error.msg}") from None
    except ValueError:  # an integer of more digits than Python converts
        raise GraderError.at(path, None, "not valid JSON: a number with too many digits") from None
    except RecursionError:
        raise GraderError.at(path, None, "not valid JSON: nested too deeply") from None
    return results_from_dict(data, str(path))
