"""The checks every bank and rubric field goes through: keys, texts, languages, numbers, ids."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from grader.bank import (
    EMPTY_TEXT,
    LocalText,
    WrongAnswer,
)
from grader.errors import Problem, did_you_mean
from grader.load.yamlread import LineDict, LineList
from grader.values import MAX_POINTS, describe, finite_number

# Whole-string patterns: use them with fullmatch ("$" would let "q1\n" through).
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LANGUAGE_PATTERN = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]+)?")
MAX_TERMS = 1_000  # keyword terms of one criterion or misconception in one language

BANK_KEYS = ("id", "title", "languages", "questions", "settings", "description")
QUESTION_KEYS = (
    "id",
    "type",
    "points",
    "prompt",
    "answers",
    "wrong_answers",
    "rubric",
    "steps",
    "feedback",
    "grader_notes",
    "hint",
)
MULTIPLE_CHOICE_KEYS = (
    "id",
    "type",
    "points",
    "prompt",
    "multiple",
    "options",
    "feedback",
    "grader_notes",
    "hint",
)
NUMERIC_KEYS = (
    "id",
    "type",
    "points",
    "prompt",
    "value",
    "tolerance",
    "units",
    "feedback",
    "grader_notes",
    "hint",
)
OPTION_KEYS = ("id", "text", "credit", "feedback")
STEP_KEYS = ("id", "prompt", "points", "answers", "wrong_answers", "rubric", "feedback", "hint")
WRONG_ANSWER_KEYS = ("text", "feedback")
# Settings of an earlier scoring rule, and why they went (a bank that has one gets this message).
RETIRED_SETTINGS = {
    "rubric_weight": "a criterion earns credit only from its own evidence (docs/formats.md)",
    "review_margin": "answers are flagged by the estimated chance their score is off",
}
RUBRIC_KEYS = ("id", "criteria", "misconceptions")
INLINE_RUBRIC_KEYS = ("criteria", "misconceptions")
CRITERION_KEYS = ("id", "points", "keywords", "concept", "feedback", "hint")
MISCONCEPTION_KEYS = ("id", "statement", "keywords", "penalty", "feedback")
FEEDBACK_KEYS = ("met", "missed")
TERM_KEYS = ("term", "gap", "fuzzy", "negatable")
SETTINGS_KEYS = (
    "model",
    "similarity_floor",
    "similarity_ceiling",
    "display_decimals",
    "display_step",
    "reveal",
)
MAX_DISPLAY_DECIMALS = 4


@dataclass
class Checker:
    """Collects problems for one file while its values are converted."""

    file: Path
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int | None, message: str, fix: str = "") -> None:
        self.problems.append(Problem(str(self.file), line, message, fix))


def line_of(container: Any, key: Any) -> int | None:
    if isinstance(container, LineDict):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", None)


def check_keys(check: Checker, mapping: LineDict, allowed: Sequence[str], where: str) -> None:
    for key in mapping:
        if key in allowed:
            continue
        fix = did_you_mean(key, allowed)
        check.add(line_of(mapping, key), f"unknown key '{key}' in {where}", fix)


def require_mapping(check: Checker, value: Any, line: int | None, where: str) -> LineDict | None:
    if isinstance(value, LineDict):
        return value
    check.add(line, f"{where} must be a mapping, not {_kind(value)}", "write key: value pairs")
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _text(check: Checker, value: Any, line: int | None, where: str, default: str) -> LocalText:
    """A localised text: a string (in the default language) or {language: string}."""
    if value is None:
        return EMPTY_TEXT
    if isinstance(value, str):
        return LocalText({default: value})
    if isinstance(value, LineDict):
        texts: dict[str, str] = {}
        for language, text in value.items():
            text_line = line_of(value, language)
            if not check_language(check, language, text_line, where):
                continue
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                check.add(text_line, f"{where} in '{language}' must be text, not {_kind(text)}")
                continue
            texts[language] = str(text)
        return LocalText(texts)
    check.add(line, f"{where} must be text or a mapping of language to text, not {_kind(value)}")
    return EMPTY_TEXT


def field_text(check: Checker, mapping: LineDict, key: str, where: str, default: str) -> LocalText:
    """The localised text under ``key`` of ``mapping`` (empty when absent)."""
    return _text(check, mapping.get(key), line_of(mapping, key), where, default)


def check_language(check: Checker, language: Any, line: int | None, where: str) -> bool:
    if isinstance(language, str) and LANGUAGE_PATTERN.fullmatch(language):
        return True
    check.add(
        line, f"'{language}' in {where} is not a language code", "use codes like en, ko, ja, ru"
    )
    return False


def _answers(
    check: Checker, value: Any, line: int | None, where: str, default: str
) -> dict[str, tuple[str, ...]]:
    """Model answers: a string, a list, or {language: string | list}."""
    if value is None:
        return {}
    if isinstance(value, str | LineList):
        return {default: _answer_list(check, value, line, where)}
    if isinstance(value, LineDict):
        answers: dict[str, tuple[str, ...]] = {}
        for language, texts in value.items():
            text_line = line_of(value, language)
            if check_language(check, language, text_line, where):
                answers[language] = _answer_list(check, texts, text_line, f"{where} ({language})")
        return answers
    check.add(line, f"{where} must be text, a list or a mapping of language to answers")
    return {}


def _answer_list(check: Checker, value: Any, line: int | None, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        check.add(
            line, f"{where}: the list of model answers is empty", "write the answer or remove it"
        )
    answers = []
    for index, item in enumerate(items):
        item_line = line_of(value, index) if isinstance(value, LineList) else line
        if not isinstance(item, str) or not item.strip():
            check.add(
                item_line, f"{where}: a model answer must be non-empty text", "write the answer"
            )
            continue
        answers.append(item)
    return tuple(answers)


def wrong_answers(
    check: Checker, value: Any, line: int | None, where: str, default: str
) -> dict[str, tuple[WrongAnswer, ...]]:
    """Known wrong answers: like model answers, each a text or {text, feedback}."""
    if value is None:
        return {}
    if isinstance(value, str | LineList):
        return {default: _wrong_answer_list(check, value, line, where)}
    if isinstance(value, LineDict):
        found: dict[str, tuple[WrongAnswer, ...]] = {}
        for language, items in value.items():
            item_line = line_of(value, language)
            if check_language(check, language, item_line, where):
                found[language] = _wrong_answer_list(
                    check, items, item_line, f"{where} ({language})"
                )
        return found
    check.add(line, f"{where} must be text, a list or a mapping of language to wrong answers")
    return {}


def _wrong_answer_list(
    check: Checker, value: Any, line: int | None, where: str
) -> tuple[WrongAnswer, ...]:
    items = value if isinstance(value, list) else [value]
    found = []
    fix = "write the wrong answer as text, or as text: and feedback:"
    for index, item in enumerate(items):
        item_line = line_of(value, index) if isinstance(value, LineList) else line
        if isinstance(item, LineDict):
            check_keys(check, item, WRONG_ANSWER_KEYS, where)
            text, feedback = item.get("text"), item.get("feedback", "")
        else:
            text, feedback = item, ""
        if not isinstance(text, str) or not text.strip():
            check.add(item_line, f"{where}: a wrong answer must be non-empty text", fix)
            continue
        if not isinstance(feedback, str):
            check.add(item_line, f"{where}: the feedback of '{text}' must be text", fix)
            continue
        found.append(WrongAnswer(text, feedback))
    return tuple(found)


def _number(
    check: Checker,
    mapping: LineDict,
    key: str,
    where: str,
    *,
    required: bool,
    positive: bool,
    limit: float = MAX_POINTS,
) -> float | None:
    """A finite number of at most ``limit`` in size (``.nan``, ``.inf`` and overflow refused)."""
    if key not in mapping:
        if required:
            check.add(mapping.line, f"missing '{key}' in {where}", f"add {key}: a number > 0")
        return None
    value = mapping[key]
    line = line_of(mapping, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.add(line, f"'{key}' in {where} must be a number, not {_kind(value)}")
        return None
    number = finite_number(value)
    if number is None or abs(number) > limit:
        check.add(
            line,
            f"'{key}' in {where} must be a finite number of at most {limit:g}, "
            f"not {describe(value)}",
            "write a number like 2 or 0.5",
        )
        return None
    if positive and number <= 0:
        check.add(line, f"'{key}' in {where} must be greater than 0, not {number:g}")
        return None
    return number


def _identifier(check: Checker, mapping: LineDict, where: str) -> str:
    value = mapping.get("id")
    if value is None:
        check.add(mapping.line, f"missing 'id' in {where}", "add id: a short name like q1")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        check.add(line_of(mapping, "id"), f"the id of {where} must be text")
        return ""
    identifier = str(value)
    if not ID_PATTERN.fullmatch(identifier):
        check.add(
            line_of(mapping, "id"),
            f"id '{identifier}' in {where} has characters that are not allowed",
            "use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return identifier


def unique(check: Checker, ids: Iterable[tuple[str, int | None]], what: str) -> None:
    first_line: dict[str, int | None] = {}
    for identifier, line in ids:
        if not identifier:
            continue
        if identifier in first_line:
            check.add(
                line,
                f"duplicate {what} id '{identifier}'",
                f"first defined at line {first_line[identifier]}; ids must be unique",
            )
        else:
            first_line[identifier] = line


def raw_ids(items: Sequence[tuple[LineDict, int | None]]) -> list[tuple[str, int | None]]:
    return [(str(item["id"]), line) for item, line in items if item.get("id") is not None]


def list_of_mappings(
    check: Checker, mapping: LineDict, key: str, where: str, *, required: bool
) -> list[tuple[LineDict, int | None]]:
    value = mapping.get(key)
    if value is None:
        if required:
            check.add(mapping.line, f"missing '{key}' in {where}", f"add {key}: a list")
        return []
    if not isinstance(value, LineList):
        check.add(line_of(mapping, key), f"'{key}' in {where} must be a list, not {_kind(value)}")
        return []
    items = []
    for index, item in enumerate(value):
        line = line_of(value, index)
        if isinstance(item, LineDict):
            items.append((item, line))
        else:
            check.add(line, f"each item of '{key}' in {where} must be a mapping, not {_kind(item)}")
    return items


E = TypeVar("E", bound=StrEnum)


def choice(
    check: Checker, mapping: LineDict, key: str, kind: type[E], default: E, message: str
) -> E | None:
    """``mapping[key]`` as one of ``kind`` (``default`` when absent); None, and a problem saying
    ``message`` with the choices, when it is none of them."""
    value = mapping.get(key, default.value)
    try:
        return kind(value)
    except ValueError:
        fix = did_you_mean(value, [item.value for item in kind], "use one of: ")
        check.add(line_of(mapping, key), message.replace("{value}", str(value)), fix)
        return None
