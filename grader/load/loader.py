"""Load and validate banks and rubrics: every problem is collected, located and explained."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.bank import (
    EMPTY_TEXT,
    NO_KEYWORDS,
    Bank,
    Closed,
    Criterion,
    Gradable,
    KeywordGroup,
    Keywords,
    LocalText,
    Misconception,
    Option,
    Question,
    QuestionType,
    Reveal,
    Rubric,
    Settings,
    Term,
    WrongAnswer,
)
from grader.errors import GraderError, Problem, ValidationError
from grader.load.yamlread import LineDict, LineList, load_yaml
from grader.values import MAX_MAGNITUDE, MAX_POINTS, describe, finite_number

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
class _Checker:
    """Collects problems for one file while its values are converted."""

    file: Path
    problems: list[Problem] = field(default_factory=list)

    def add(self, line: int | None, message: str, fix: str = "") -> None:
        self.problems.append(Problem(str(self.file), line, message, fix))


def _line_of(container: Any, key: Any) -> int | None:
    if isinstance(container, LineDict):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return getattr(container, "line", None)


def _check_keys(check: _Checker, mapping: LineDict, allowed: Sequence[str], where: str) -> None:
    for key in mapping:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed)
        check.add(_line_of(mapping, key), f"unknown key '{key}' in {where}", fix)


def _require_mapping(check: _Checker, value: Any, line: int | None, where: str) -> LineDict | None:
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


def _text(check: _Checker, value: Any, line: int | None, where: str, default: str) -> LocalText:
    """A localised text: a string (in the default language) or {language: string}."""
    if value is None:
        return EMPTY_TEXT
    if isinstance(value, str):
        return LocalText({default: value})
    if isinstance(value, LineDict):
        texts: dict[str, str] = {}
        for language, text in value.items():
            text_line = _line_of(value, language)
            if not _check_language(check, language, text_line, where):
                continue
            if not isinstance(text, str | int | float) or isinstance(text, bool):
                check.add(text_line, f"{where} in '{language}' must be text, not {_kind(text)}")
                continue
            texts[language] = str(text)
        return LocalText(texts)
    check.add(line, f"{where} must be text or a mapping of language to text, not {_kind(value)}")
    return EMPTY_TEXT


def _field_text(
    check: _Checker, mapping: LineDict, key: str, where: str, default: str
) -> LocalText:
    """The localised text under ``key`` of ``mapping`` (empty when absent)."""
    return _text(check, mapping.get(key), _line_of(mapping, key), where, default)


def _check_language(check: _Checker, language: Any, line: int | None, where: str) -> bool:
    if isinstance(language, str) and LANGUAGE_PATTERN.fullmatch(language):
        return True
    check.add(
        line, f"'{language}' in {where} is not a language code", "use codes like en, ko, ja, ru"
    )
    return False


def _answers(
    check: _Checker, value: Any, line: int | None, where: str, default: str
) -> dict[str, tuple[str, ...]]:
    """Model answers: a string, a list, or {language: string | list}."""
    if value is None:
        return {}
    if isinstance(value, str | LineList):
        return {default: _answer_list(check, value, line, where)}
    if isinstance(value, LineDict):
        answers: dict[str, tuple[str, ...]] = {}
        for language, texts in value.items():
            text_line = _line_of(value, language)
            if _check_language(check, language, text_line, where):
                answers[language] = _answer_list(check, texts, text_line, f"{where} ({language})")
        return answers
    check.add(line, f"{where} must be text, a list or a mapping of language to answers")
    return {}


def _answer_list(check: _Checker, value: Any, line: int | None, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        check.add(
            line, f"{where}: the list of model answers is empty", "write the answer or remove it"
        )
    answers = []
    for index, item in enumerate(items):
        item_line = _line_of(value, index) if isinstance(value, LineList) else line
        if not isinstance(item, str) or not item.strip():
            check.add(
                item_line, f"{where}: a model answer must be non-empty text", "write the answer"
            )
            continue
        answers.append(item)
    return tuple(answers)


def _wrong_answers(
    check: _Checker, value: Any, line: int | None, where: str, default: str
) -> dict[str, tuple[WrongAnswer, ...]]:
    """Known wrong answers: like model answers, each a text or {text, feedback}."""
    if value is None:
        return {}
    if isinstance(value, str | LineList):
        return {default: _wrong_answer_list(check, value, line, where)}
    if isinstance(value, LineDict):
        found: dict[str, tuple[WrongAnswer, ...]] = {}
        for language, items in value.items():
            item_line = _line_of(value, language)
            if _check_language(check, language, item_line, where):
                found[language] = _wrong_answer_list(
                    check, items, item_line, f"{where} ({language})"
                )
        return found
    check.add(line, f"{where} must be text, a list or a mapping of language to wrong answers")
    return {}


def _wrong_answer_list(
    check: _Checker, value: Any, line: int | None, where: str
) -> tuple[WrongAnswer, ...]:
    items = value if isinstance(value, list) else [value]
    found = []
    fix = "write the wrong answer as text, or as text: and feedback:"
    for index, item in enumerate(items):
        item_line = _line_of(value, index) if isinstance(value, LineList) else line
        if isinstance(item, LineDict):
            _check_keys(check, item, WRONG_ANSWER_KEYS, where)
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
    check: _Checker,
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
    line = _line_of(mapping, key)
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


def _identifier(check: _Checker, mapping: LineDict, where: str) -> str:
    value = mapping.get("id")
    if value is None:
        check.add(mapping.line, f"missing 'id' in {where}", "add id: a short name like q1")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        check.add(_line_of(mapping, "id"), f"the id of {where} must be text")
        return ""
    identifier = str(value)
    if not ID_PATTERN.fullmatch(identifier):
        check.add(
            _line_of(mapping, "id"),
            f"id '{identifier}' in {where} has characters that are not allowed",
            "use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return identifier


def _unique(check: _Checker, ids: Iterable[tuple[str, int | None]], what: str) -> None:
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


def _raw_ids(items: Sequence[tuple[LineDict, int | None]]) -> list[tuple[str, int | None]]:
    return [(str(item["id"]), line) for item, line in items if item.get("id") is not None]


def _list_of_mappings(
    check: _Checker, mapping: LineDict, key: str, where: str, *, required: bool
) -> list[tuple[LineDict, int | None]]:
    value = mapping.get(key)
    if value is None:
        if required:
            check.add(mapping.line, f"missing '{key}' in {where}", f"add {key}: a list")
        return []
    if not isinstance(value, LineList):
        check.add(_line_of(mapping, key), f"'{key}' in {where} must be a list, not {_kind(value)}")
        return []
    items = []
    for index, item in enumerate(value):
        line = _line_of(value, index)
        if isinstance(item, LineDict):
            items.append((item, line))
        else:
            check.add(line, f"each item of '{key}' in {where} must be a mapping, not {_kind(item)}")
    return items


# ---------------------------------------------------------------- keywords


def _keywords(
    check: _Checker,
    value: Any,
    line: int | None,
    where: str,
    default: str,
    regex_check: Callable[[str], None],
) -> Keywords:
    if value is None:
        return NO_KEYWORDS
    if isinstance(value, LineList):
        value_by_language: dict[str, tuple[Any, int | None]] = {default: (value, line)}
    elif isinstance(value, LineDict):
        value_by_language = {
            language: (groups, _line_of(value, language))
            for language, groups in value.items()
            if _check_language(check, language, _line_of(value, language), where)
        }
    else:
        check.add(line, f"keywords of {where} must be a mapping of language to groups")
        return NO_KEYWORDS
    by_language: dict[str, tuple[KeywordGroup, ...]] = {}
    for language, (groups, groups_line) in value_by_language.items():
        by_language[language] = _groups(
            check, groups, groups_line, f"{where} ({language})", language, regex_check
        )
    return Keywords(by_language)


def _groups(
    check: _Checker,
    value: Any,
    line: int | None,
    where: str,
    language: str,
    regex_check: Callable[[str], None],
) -> tuple[KeywordGroup, ...]:
    if not isinstance(value, LineList) or not value:
        check.add(
            line,
            f"keywords of {where} must be a non-empty list of groups",
            "e.g. [[encoder], [GPT]]",
        )
        return ()
    groups = []
    if sum(len(g) if isinstance(g, list) else 1 for g in value) > MAX_TERMS:
        check.add(
            line,
            f"keywords of {where} have more than {MAX_TERMS:,} terms",
            "keep the groups to the terms that show the idea",
        )
        return ()
    for index, group in enumerate(value):
        group_line = _line_of(value, index)
        alternatives = group if isinstance(group, LineList) else LineList([group])
        if not isinstance(group, LineList):
            alternatives.item_lines = [group_line or 0]
        terms = []
        for term_index, raw in enumerate(alternatives):
            term_line = _line_of(alternatives, term_index) or group_line
            term = _term(check, raw, term_line, where, regex_check)
            if term is not None:
                terms.append(term)
        if terms:
            groups.append(KeywordGroup(language, tuple(terms)))
        elif not alternatives:
            check.add(group_line, f"an empty keyword group in {where}", "add a term or remove it")
    return tuple(groups)


def _term(
    check: _Checker, raw: Any, line: int | None, where: str, regex_check: Callable[[str], None]
) -> Term | None:
    options: dict[str, Any] = {}
    if isinstance(raw, LineDict):
        _check_keys(check, raw, TERM_KEYS, f"a keyword term of {where}")
        options = dict(raw)
        raw = options.pop("term", None)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        check.add(line, f"a keyword term in {where} must be non-empty text", "write the term")
        return None
    is_regex = raw.startswith("re:")
    text = raw[3:] if is_regex else raw.strip()
    if is_regex:
        try:
            regex_check(text)
        except ValueError as error:
            check.add(
                line,
                f"bad regular expression '{raw}' in {where}: {error}",
                "fix the pattern (RE2 syntax: no backreferences or lookaround)",
            )
            return None
    gap = options.get("gap", 2)
    if isinstance(gap, bool) or not isinstance(gap, int) or not 0 <= gap <= 20:
        check.add(line, f"gap of term '{raw}' in {where} must be a whole number from 0 to 20")
        gap = 2
    flags = {}
    for flag in ("fuzzy", "negatable"):
        flag_value = options.get(flag, True)
        if not isinstance(flag_value, bool):
            check.add(line, f"{flag} of term '{raw}' in {where} must be true or false")
            flag_value = True
        flags[flag] = flag_value
    return Term(text, is_regex, gap, flags["fuzzy"], flags["negatable"])


def _default_regex_check(pattern: str) -> None:
    from grader.evidence.keywords import compile_regex

    compile_regex(pattern)


# ---------------------------------------------------------------- rubrics


def _rubric_body(
    check: _Checker,
    mapping: LineDict,
    rubric_id: str,
    default: str,
    regex_check: Callable[[str], None],
    source: Path | None,
) -> Rubric:
    where_rubric = f"rubric '{rubric_id}'" if rubric_id else "the inline rubric"
    criterion_items = _list_of_mappings(check, mapping, "criteria", where_rubric, required=True)
    criteria = [
        _criterion(check, item, line, default, regex_check) for item, line in criterion_items
    ]
    _unique(check, _raw_ids(criterion_items), "criterion")
    misconception_items = _list_of_mappings(
        check, mapping, "misconceptions", where_rubric, required=False
    )
    misconceptions = [
        _misconception(check, item, line, default, regex_check)
        for item, line in misconception_items
    ]
    _unique(check, _raw_ids(misconception_items), "misconception")
    if "criteria" in mapping and not criteria and not check.problems:
        check.add(mapping.line, f"{where_rubric} has no criteria", "add at least one criterion")
    return Rubric(
        rubric_id,
        tuple(criteria),
        tuple(misconceptions),
        source,
    )


def _feedback(
    check: _Checker, value: Any, line: int | None, where: str, default: str
) -> tuple[LocalText, LocalText]:
    if value is None:
        return EMPTY_TEXT, EMPTY_TEXT
    mapping = _require_mapping(check, value, line, f"feedback of {where}")
    if mapping is None:
        return EMPTY_TEXT, EMPTY_TEXT
    _check_keys(check, mapping, FEEDBACK_KEYS, f"feedback of {where}")
    met = _field_text(check, mapping, "met", f"met feedback of {where}", default)
    missed = _field_text(check, mapping, "missed", f"missed feedback of {where}", default)
    return met, missed


def _criterion(
    check: _Checker,
    mapping: LineDict,
    line: int | None,
    default: str,
    regex_check: Callable[[str], None],
) -> Criterion:
    identifier = _identifier(check, mapping, "a criterion")
    where = f"criterion '{identifier}'"
    _check_keys(check, mapping, CRITERION_KEYS, where)
    points = _number(check, mapping, "points", where, required=True, positive=True) or 0.0
    keywords = _keywords(
        check, mapping.get("keywords"), _line_of(mapping, "keywords"), where, default, regex_check
    )
    concept = _field_text(check, mapping, "concept", f"concept of {where}", default)
    if not keywords and not concept and "keywords" not in mapping:
        check.add(line, f"{where} has neither keywords nor a concept", "add keywords or a concept")
    met, missed = _feedback(
        check, mapping.get("feedback"), _line_of(mapping, "feedback"), where, default
    )
    hint = _field_text(check, mapping, "hint", f"hint of {where}", default)
    return Criterion(identifier, points, keywords, concept, met, missed, hint)


def _misconception(
    check: _Checker,
    mapping: LineDict,
    line: int | None,
    default: str,
    regex_check: Callable[[str], None],
) -> Misconception:
    identifier = _identifier(check, mapping, "a misconception")
    where = f"misconception '{identifier}'"
    _check_keys(check, mapping, MISCONCEPTION_KEYS, where)
    penalty = _number(check, mapping, "penalty", where, required=True, positive=True) or 0.0
    statement = _field_text(check, mapping, "statement", f"statement of {where}", default)
    keywords = _keywords(
        check, mapping.get("keywords"), _line_of(mapping, "keywords"), where, default, regex_check
    )
    if not statement and not keywords:
        check.add(line, f"{where} has neither a statement nor keywords", "add a statement")
    feedback = _field_text(check, mapping, "feedback", f"feedback of {where}", default)
    return Misconception(identifier, statement, penalty, keywords, feedback)


def load_rubric(
    path: Path, default_language: str = "en", regex_check: Callable[[str], None] | None = None
) -> Rubric:
    """Load one rubric file; raises ValidationError listing every problem."""
    check = _Checker(path)
    rubric = _rubric_from_file(check, path, default_language, regex_check or _default_regex_check)
    if check.problems:
        raise ValidationError(tuple(check.problems))
    return rubric


def _rubric_from_file(
    check: _Checker, path: Path, default: str, regex_check: Callable[[str], None]
) -> Rubric:
    data = load_yaml(path)
    mapping = _require_mapping(check, data, 1, "a rubric file")
    if mapping is None:
        return Rubric(path.stem)
    _check_keys(check, mapping, RUBRIC_KEYS, "the rubric")
    identifier = _identifier(check, mapping, "the rubric")
    if identifier and identifier != path.stem:
        check.add(
            _line_of(mapping, "id"),
            f"rubric id '{identifier}' does not match the file name '{path.name}'",
            f"rename the file to {identifier}.yaml or set id: {path.stem}",
        )
    return _rubric_body(check, mapping, identifier or path.stem, default, regex_check, path)


# ---------------------------------------------------------------- banks


@dataclass
class _RubricFinder:
    folders: tuple[Path, ...]
    default: str
    regex_check: Callable[[str], None]
    cache: dict[Path, Rubric | None] = field(default_factory=dict)

    def find(self, check: _Checker, rubric_id: str, line: int | None) -> Rubric | None:
        if not ID_PATTERN.fullmatch(rubric_id):
            check.add(
                line,
                f"rubric '{rubric_id}' is not a rubric id",
                "name a rubric file of a rubrics folder without '.yaml', e.g. rubric: decoder-shift"
                " (no paths)",
            )
            return None
        for folder in self.folders:
            path = folder / f"{rubric_id}.yaml"
            if path.is_file():
                return self._load(check, path)
        looked = ", ".join(str(folder / f"{rubric_id}.yaml") for folder in self.folders)
        check.add(
            line, f"rubric '{rubric_id}' not found", f"looked for {looked}; create it or fix the id"
        )
        return None

    def _load(self, check: _Checker, path: Path) -> Rubric | None:
        resolved = path.resolve()
        if resolved not in self.cache:
            rubric_check = _Checker(path)
            try:
                rubric = _rubric_from_file(rubric_check, path, self.default, self.regex_check)
            except GraderError as error:
                check.problems.extend(error.problems or (Problem(str(path), None, str(error)),))
                self.cache[resolved] = None
                return None
            check.problems.extend(rubric_check.problems)
            self.cache[resolved] = None if rubric_check.problems else rubric
        return self.cache[resolved]


def rubric_folders(bank_path: Path, extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    here = bank_path.parent
    return (here / "rubrics", here.parent / "rubrics", *extra)


def load_bank(
    path: str | Path,
    rubric_dirs: Sequence[str | Path] = (),
    regex_check: Callable[[str], None] | None = None,
) -> Bank:
    """Load and validate a bank and its rubrics; a ValidationError lists every problem."""
    bank_path = Path(path)
    check = _Checker(bank_path)
    data = load_yaml(bank_path)
    bank = _bank(check, data, bank_path, tuple(Path(d) for d in rubric_dirs), regex_check)
    if check.problems or bank is None:
        raise ValidationError(tuple(check.problems))
    return bank


def _bank(
    check: _Checker,
    data: Any,
    path: Path,
    rubric_dirs: tuple[Path, ...],
    regex_check: Callable[[str], None] | None,
) -> Bank | None:
    mapping = _require_mapping(check, data, 1, "a bank file")
    if mapping is None:
        return None
    _check_keys(check, mapping, BANK_KEYS, "the bank")
    identifier = _identifier(check, mapping, "the bank")
    languages = _languages(check, mapping)
    default = languages[0] if languages else "en"
    title = _field_text(check, mapping, "title", "the bank's title", default)
    if not title:
        check.add(mapping.line, "missing 'title' in the bank", "add title: a name for the bank")
    finder = _RubricFinder(
        rubric_folders(path, rubric_dirs), default, regex_check or _default_regex_check
    )
    items = _list_of_mappings(check, mapping, "questions", "the bank", required=True)
    questions = [
        question
        for item, line in items
        if (question := _question(check, item, line, default, finder)) is not None
    ]
    _unique(check, _raw_ids(items), "question")
    if "questions" in mapping and not items and isinstance(mapping.get("questions"), list):
        check.add(_line_of(mapping, "questions"), "the bank has no questions", "add a question")
    settings = _settings(check, mapping.get("settings"), _line_of(mapping, "settings"))
    description = _field_text(check, mapping, "description", "the description", default)
    return Bank(
        identifier,
        title,
        languages,
        tuple(questions),
        settings,
        description,
        path,
    )


def _languages(check: _Checker, mapping: LineDict) -> tuple[str, ...]:
    value = mapping.get("languages")
    line = _line_of(mapping, "languages")
    if value is None:
        check.add(mapping.line, "missing 'languages' in the bank", "add languages: [en]")
        return ()
    if isinstance(value, str):
        value = LineList([value])
        value.item_lines = [line or 0]
    if not isinstance(value, LineList) or not value:
        check.add(line, "'languages' must be a non-empty list of language codes", "e.g. [en, ko]")
        return ()
    return tuple(
        language
        for index, language in enumerate(value)
        if _check_language(check, language, _line_of(value, index), "languages")
    )


def _question_type(check: _Checker, mapping: LineDict, where: str) -> QuestionType | None:
    value = mapping.get("type", QuestionType.SHORT_ANSWER.value)
    try:
        return QuestionType(value)
    except ValueError:
        choices = [t.value for t in QuestionType]
        close = difflib.get_close_matches(str(value), choices, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "use one of: " + ", ".join(choices)
        check.add(_line_of(mapping, "type"), f"unknown type '{value}' in {where}", fix)
        return None


def _question(
    check: _Checker, mapping: LineDict, line: int | None, default: str, finder: _RubricFinder
) -> Question | None:
    question = _question_fields(check, mapping, line, default, finder)
    notes = _field_text(check, mapping, "grader_notes", "grader notes of a question", default)
    return replace(question, grader_notes=notes) if question and notes else question


def _question_fields(
    check: _Checker, mapping: LineDict, line: int | None, default: str, finder: _RubricFinder
) -> Question | None:
    identifier = _identifier(check, mapping, "a question")
    where = f"question '{identifier}'"
    kind = _question_type(check, mapping, where)
    allowed = (
        {
            QuestionType.MULTIPLE_CHOICE: MULTIPLE_CHOICE_KEYS,
            QuestionType.NUMERIC: NUMERIC_KEYS,
        }.get(kind, QUESTION_KEYS)
        if kind
        else QUESTION_KEYS
    )
    _check_keys(check, mapping, allowed, where)
    prompt = _field_text(check, mapping, "prompt", f"prompt of {where}", default)
    if not prompt:
        check.add(line, f"missing 'prompt' in {where}", "add prompt: the question text")
    feedback = _field_text(check, mapping, "feedback", f"feedback of {where}", default)
    hint = _field_text(check, mapping, "hint", f"hint of {where}", default)
    if kind is QuestionType.CHALLENGE:
        question = _challenge(check, mapping, identifier, prompt, feedback, default, finder)
        return replace(question, hint=hint) if question else None
    if kind is not None and kind.closed:
        question = _closed_question(check, mapping, identifier, kind, prompt, feedback, default)
        return replace(question, hint=hint) if question else None
    if "steps" in mapping:
        check.add(
            _line_of(mapping, "steps"),
            f"{where} has steps but is not a challenge",
            "add type: challenge",
        )
    gradable = _gradable(check, mapping, identifier, prompt, default, finder, where)
    if kind is None or gradable is None:
        return None
    return Question(
        identifier,
        kind,
        gradable.points,
        prompt,
        gradable.answers,
        gradable.rubric,
        (),
        feedback,
        wrong_answers=gradable.wrong_answers,
        hint=hint,
    )


def _closed_question(
    check: _Checker,
    mapping: LineDict,
    identifier: str,
    kind: QuestionType,
    prompt: LocalText,
    feedback: LocalText,
    default: str,
) -> Question | None:
    where = f"question '{identifier}'"
    points = _number(check, mapping, "points", where, required=True, positive=True)
    if kind is QuestionType.MULTIPLE_CHOICE:
        closed = _choices(check, mapping, where, default)
    else:
        closed = _numeric(check, mapping, where)
    if points is None or closed is None:
        return None
    return Question(identifier, kind, points, prompt, feedback=feedback, closed=closed)


def _choices(check: _Checker, mapping: LineDict, where: str, default: str) -> Closed | None:
    multiple = mapping.get("multiple", False)
    if not isinstance(multiple, bool):
        check.add(_line_of(mapping, "multiple"), f"'multiple' in {where} must be true or false")
        multiple = False
    items = _list_of_mappings(check, mapping, "options", where, required=True)
    options = []
    for item, line in items:
        option_id = _identifier(check, item, f"an option of {where}")
        option_where = f"option '{option_id}' of {where}"
        _check_keys(check, item, OPTION_KEYS, option_where)
        text = _field_text(check, item, "text", f"text of {option_where}", default)
        if not text:
            check.add(line, f"missing 'text' in {option_where}", "add text: what the student sees")
        credit = _number(check, item, "credit", option_where, required=False, positive=False)
        if credit is not None and not -1 <= credit <= 1:
            check.add(
                _line_of(item, "credit"), f"credit of {option_where} must be between -1 and 1"
            )
            credit = None
        option_feedback = _field_text(
            check, item, "feedback", f"feedback of {option_where}", default
        )
        options.append(Option(option_id, text, credit or 0.0, option_feedback))
    _unique(check, _raw_ids(items), "option")
    if isinstance(mapping.get("options"), LineList) and not mapping["options"]:
        check.add(_line_of(mapping, "options"), f"{where} has no options", "add the options")
    if items and not any(option.credit > 0 for option in options):
        check.add(
            _line_of(mapping, "options"),
            f"no option of {where} earns credit",
            "give the right option credit: 1",
        )
    return Closed(options=tuple(options), multiple=multiple) if options else None


def _numeric(check: _Checker, mapping: LineDict, where: str) -> Closed | None:
    value = _number(
        check, mapping, "value", where, required=True, positive=False, limit=MAX_MAGNITUDE
    )
    tolerance = (
        _number(
            check, mapping, "tolerance", where, required=False, positive=False, limit=MAX_MAGNITUDE
        )
        or 0.0
    )
    if tolerance < 0:
        check.add(_line_of(mapping, "tolerance"), f"tolerance of {where} must not be negative")
    units_value = mapping.get("units", [])
    if isinstance(units_value, str):
        units_value = [units_value]
    if not isinstance(units_value, list) or not all(
        isinstance(u, str) and u.strip() for u in units_value
    ):
        check.add(
            _line_of(mapping, "units"),
            f"units of {where} must be a list of unit names",
            "e.g. [GB, GiB]",
        )
        units_value = []
    if value is None:
        return None
    return Closed(
        value=value, tolerance=abs(tolerance), units=tuple(u.strip() for u in units_value)
    )


def _challenge(
    check: _Checker,
    mapping: LineDict,
    identifier: str,
    prompt: LocalText,
    feedback: LocalText,
    default: str,
    finder: _RubricFinder,
) -> Question | None:
    where = f"challenge '{identifier}'"
    for key in ("answers", "wrong_answers", "rubric"):
        if key in mapping:
            check.add(_line_of(mapping, key), f"{where} has '{key}'", f"move {key} into its steps")
    steps = []
    items = _list_of_mappings(check, mapping, "steps", where, required=True)
    for item, line in items:
        step_id = _identifier(check, item, f"a step of {where}")
        _check_keys(check, item, STEP_KEYS, f"step '{step_id}' of {where}")
        step_prompt = _field_text(check, item, "prompt", f"prompt of step '{step_id}'", default)
        if not step_prompt:
            check.add(line, f"missing 'prompt' in step '{step_id}' of {where}", "add prompt")
        step_feedback = _field_text(
            check, item, "feedback", f"feedback of step '{step_id}'", default
        )
        step_hint = _field_text(check, item, "hint", f"hint of step '{step_id}'", default)
        step = _gradable(
            check,
            item,
            f"{identifier}/{step_id}",
            step_prompt,
            default,
            finder,
            f"step '{step_id}' of {where}",
            step_feedback,
        )
        if step is not None:
            steps.append((replace(step, hint=step_hint), line))
    _unique(check, _raw_ids(items), "step")
    if "steps" in mapping and not items and isinstance(mapping.get("steps"), list):
        check.add(_line_of(mapping, "steps"), f"{where} has no steps", "add a step")
    total = sum(step.points for step, _ in steps)
    points = _number(check, mapping, "points", where, required=False, positive=True)
    if points is not None and steps and abs(points - total) > 1e-9:
        check.add(
            _line_of(mapping, "points"),
            f"points of {where} ({points:g}) differ from the sum of its steps ({total:g})",
            f"set points: {total:g} or remove it",
        )
    return Question(
        identifier,
        QuestionType.CHALLENGE,
        total,
        prompt,
        {},
        None,
        tuple(step for step, _ in steps),
        feedback,
    )


def _gradable(
    check: _Checker,
    mapping: LineDict,
    identifier: str,
    prompt: LocalText,
    default: str,
    finder: _RubricFinder,
    where: str,
    feedback: LocalText = EMPTY_TEXT,
) -> Gradable | None:
    points = _number(check, mapping, "points", where, required=True, positive=True)
    answers = _answers(
        check, mapping.get("answers"), _line_of(mapping, "answers"), f"answers of {where}", default
    )
    rubric = _rubric_reference(check, mapping, where, default, finder)
    rubric_points = rubric.points if rubric else 0.0
    if rubric and points is not None and rubric.criteria and rubric_points <= 0:
        check.add(_line_of(mapping, "rubric"), f"the rubric of {where} gives no points")
    if not answers and not (rubric and rubric.criteria) and "grader_notes" in mapping:
        check.add(
            mapping.line,
            f"{where} has grader notes but no model answer",
            "add answers: with the model answer; grader notes are never graded against",
        )
    elif not answers and not (rubric and rubric.criteria):
        check.add(
            mapping.line,
            f"{where} has no model answers and no rubric",
            "add answers: the model answer, or a rubric",
        )
    _check_language_coverage(check, mapping, prompt, answers, rubric, where)
    wrong = _wrong_answers(
        check,
        mapping.get("wrong_answers"),
        _line_of(mapping, "wrong_answers"),
        f"wrong_answers of {where}",
        default,
    )
    if points is None:
        return None
    return Gradable(identifier, points, prompt, answers, rubric, feedback, wrong_answers=wrong)


def _check_language_coverage(
    check: _Checker,
    mapping: LineDict,
    prompt: LocalText,
    answers: dict[str, tuple[str, ...]],
    rubric: Rubric | None,
    where: str,
) -> None:
    keyword_criteria = [c for c in rubric.criteria if c.keywords] if rubric else []
    for language in prompt.languages:
        if answers and language not in answers:
            check.add(
                _line_of(mapping, "answers"),
                f"{where} has a prompt in '{language}' but no model answer in '{language}'",
                f"add a model answer under answers: {language}:",
            )
        missing = [c.id for c in keyword_criteria if language not in c.keywords.by_language]
        if missing:
            check.add(
                _line_of(mapping, "rubric"),
                f"{where} has a prompt in '{language}' but criteria without '{language}' keywords: "
                + ", ".join(missing),
                f"add {language} keywords to those criteria",
            )


def _rubric_reference(
    check: _Checker, mapping: LineDict, where: str, default: str, finder: _RubricFinder
) -> Rubric | None:
    value = mapping.get("rubric")
    line = _line_of(mapping, "rubric")
    if value is None:
        return None
    if isinstance(value, str):
        return finder.find(check, value, line)
    if isinstance(value, LineDict):
        _check_keys(check, value, INLINE_RUBRIC_KEYS, f"the inline rubric of {where}")
        return _rubric_body(check, value, "", default, finder.regex_check, None)
    check.add(
        line, f"rubric of {where} must be a rubric id or an inline rubric, not {_kind(value)}"
    )
    return None


def _settings(check: _Checker, value: Any, line: int | None) -> Settings:
    if value is None:
        return Settings()
    mapping = _require_mapping(check, value, line, "settings")
    if mapping is None:
        return Settings()
    for key, why in RETIRED_SETTINGS.items():
        if key in mapping:
            check.add(
                _line_of(mapping, key), f"settings: {key} is no longer used: {why}", "remove it"
            )
    _check_keys(check, mapping, (*SETTINGS_KEYS, *RETIRED_SETTINGS), "settings")
    model = mapping.get("model", "auto")
    if not isinstance(model, str) or not model:
        check.add(_line_of(mapping, "model"), "settings: model must be a model name")
        model = "auto"
    values: dict[str, float | None] = {}
    for key in ("similarity_floor", "similarity_ceiling"):
        number = _number(check, mapping, key, "settings", required=False, positive=False)
        if number is not None and not 0 <= number <= 1:
            check.add(_line_of(mapping, key), f"settings: {key} must be between 0 and 1")
            number = None
        values[key] = number
    floor, ceiling = values["similarity_floor"], values["similarity_ceiling"]
    if floor is not None and ceiling is not None and floor >= ceiling:
        check.add(
            _line_of(mapping, "similarity_ceiling"),
            "settings: similarity_ceiling must be greater than similarity_floor",
        )
    defaults = Settings()
    decimals, step = _display(check, mapping)
    return Settings(
        model=model,
        similarity_floor=floor,
        similarity_ceiling=ceiling,
        display_decimals=defaults.display_decimals if decimals is None else decimals,
        display_step=step,
        reveal=_reveal(check, mapping),
    )


def _display(check: _Checker, mapping: LineDict) -> tuple[int | None, float | None]:
    """How scores are rounded for students: display_decimals or display_step (not both)."""
    decimals = mapping.get("display_decimals")
    if decimals is not None and (
        isinstance(decimals, bool)
        or not isinstance(decimals, int)
        or not 0 <= decimals <= MAX_DISPLAY_DECIMALS
    ):
        check.add(
            _line_of(mapping, "display_decimals"),
            f"settings: display_decimals must be a whole number from 0 to {MAX_DISPLAY_DECIMALS}",
            "e.g. display_decimals: 1",
        )
        decimals = None
    step = _number(check, mapping, "display_step", "settings", required=False, positive=True)
    scaled = None if step is None else step * 10**MAX_DISPLAY_DECIMALS
    if (
        step is not None
        and scaled is not None
        and (step > 100 or abs(scaled - round(scaled)) > 1e-6)
    ):
        check.add(
            _line_of(mapping, "display_step"),
            f"settings: display_step must be at most 100 with at most {MAX_DISPLAY_DECIMALS} "
            f"decimals, not {step:g}",
            "e.g. display_step: 0.5",
        )
        step = None
    if "display_decimals" in mapping and "display_step" in mapping:
        check.add(
            _line_of(mapping, "display_step"),
            "settings: give display_decimals or display_step, not both",
            "keep one of them",
        )
    return decimals, step


def _reveal(check: _Checker, mapping: LineDict) -> Reveal:
    value = mapping.get("reveal", Reveal.MISSED.value)
    try:
        return Reveal(value)
    except ValueError:
        choices = [level.value for level in Reveal]
        close = difflib.get_close_matches(str(value), choices, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "use one of: " + ", ".join(choices)
        check.add(_line_of(mapping, "reveal"), f"settings: unknown reveal '{value}'", fix)
        return Reveal.MISSED


# ---------------------------------------------------------------- validate


def _is_rubric_file(data: Any) -> bool:
    return isinstance(data, dict) and "criteria" in data and "questions" not in data


def validate_paths(
    paths: Sequence[str | Path], rubric_dirs: Sequence[str | Path] = ()
) -> list[Problem]:
    """Validate banks and rubrics (files, or folders searched for *.yaml); every problem found."""
    problems: list[Problem] = []
    files = _yaml_files(paths, problems)
    seen: set[tuple[str, int | None, str]] = set()
    for file in files:
        for problem in _validate_file(file, rubric_dirs):
            key = (problem.file, problem.line, problem.message)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return problems


def _yaml_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            if not found:
                problems.append(Problem(str(path), None, "no .yaml files in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), None, "no such file or folder", "check the path"))
    return files


def _validate_file(path: Path, rubric_dirs: Sequence[str | Path]) -> list[Problem]:
    try:
        data = load_yaml(path)
        if _is_rubric_file(data):
            load_rubric(path)
        else:
            load_bank(path, rubric_dirs)
    except GraderError as error:
        return list(error.problems) or [Problem(str(path), None, str(error))]
    return []


def bank_languages(
    paths: Sequence[str | Path], rubric_dirs: Sequence[str | Path] = ()
) -> tuple[str, ...]:
    """The languages of the banks among ``paths`` (files or folders) that load, first seen first."""
    found: list[str] = []
    for file in _yaml_files(paths, []):
        try:
            if _is_rubric_file(load_yaml(file)):
                continue
            bank = load_bank(file, rubric_dirs)
        except GraderError:
            continue
        found.extend(code for code in bank.languages if code not in found)
    return tuple(found)
