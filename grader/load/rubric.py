"""Rubrics: criteria and misconceptions with their keywords, inline or in a rubric file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.bank import (
    EMPTY_TEXT,
    NO_KEYWORDS,
    Criterion,
    KeywordGroup,
    Keywords,
    LocalText,
    Misconception,
    Rubric,
    Term,
)
from grader.errors import GraderError, Problem, ValidationError
from grader.load.fields import (
    CRITERION_KEYS,
    FEEDBACK_KEYS,
    ID_PATTERN,
    MAX_TERMS,
    MISCONCEPTION_KEYS,
    RUBRIC_KEYS,
    TERM_KEYS,
    Checker,
    _identifier,
    _number,
    check_keys,
    check_language,
    field_text,
    line_of,
    list_of_mappings,
    raw_ids,
    require_mapping,
    unique,
)
from grader.load.yamlread import LineDict, LineList, load_yaml
from grader.text.regex import compile_regex

# ---------------------------------------------------------------- keywords


def _keywords(
    check: Checker,
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
            language: (groups, line_of(value, language))
            for language, groups in value.items()
            if check_language(check, language, line_of(value, language), where)
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
    check: Checker,
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
        group_line = line_of(value, index)
        alternatives = group if isinstance(group, LineList) else LineList([group])
        if not isinstance(group, LineList):
            alternatives.item_lines = [group_line or 0]
        terms = []
        for term_index, raw in enumerate(alternatives):
            term_line = line_of(alternatives, term_index) or group_line
            term = _term(check, raw, term_line, where, regex_check)
            if term is not None:
                terms.append(term)
        if terms:
            groups.append(KeywordGroup(language, tuple(terms)))
        elif not alternatives:
            check.add(group_line, f"an empty keyword group in {where}", "add a term or remove it")
    return tuple(groups)


def _term(
    check: Checker, raw: Any, line: int | None, where: str, regex_check: Callable[[str], None]
) -> Term | None:
    options: dict[str, Any] = {}
    if isinstance(raw, LineDict):
        check_keys(check, raw, TERM_KEYS, f"a keyword term of {where}")
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


def default_regex_check(pattern: str) -> None:
    compile_regex(pattern)


# ---------------------------------------------------------------- rubrics


def rubric_body(
    check: Checker,
    mapping: LineDict,
    rubric_id: str,
    default: str,
    regex_check: Callable[[str], None],
    source: Path | None,
) -> Rubric:
    where_rubric = f"rubric '{rubric_id}'" if rubric_id else "the inline rubric"
    criterion_items = list_of_mappings(check, mapping, "criteria", where_rubric, required=True)
    criteria = [
        _criterion(check, item, line, default, regex_check) for item, line in criterion_items
    ]
    unique(check, raw_ids(criterion_items), "criterion")
    misconception_items = list_of_mappings(
        check, mapping, "misconceptions", where_rubric, required=False
    )
    misconceptions = [
        _misconception(check, item, line, default, regex_check)
        for item, line in misconception_items
    ]
    unique(check, raw_ids(misconception_items), "misconception")
    if "criteria" in mapping and not criteria and not check.problems:
        check.add(mapping.line, f"{where_rubric} has no criteria", "add at least one criterion")
    return Rubric(
        rubric_id,
        tuple(criteria),
        tuple(misconceptions),
        source,
    )


def _feedback(
    check: Checker, value: Any, line: int | None, where: str, default: str
) -> tuple[LocalText, LocalText]:
    if value is None:
        return EMPTY_TEXT, EMPTY_TEXT
    mapping = require_mapping(check, value, line, f"feedback of {where}")
    if mapping is None:
        return EMPTY_TEXT, EMPTY_TEXT
    check_keys(check, mapping, FEEDBACK_KEYS, f"feedback of {where}")
    met = field_text(check, mapping, "met", f"met feedback of {where}", default)
    missed = field_text(check, mapping, "missed", f"missed feedback of {where}", default)
    return met, missed


def _criterion(
    check: Checker,
    mapping: LineDict,
    line: int | None,
    default: str,
    regex_check: Callable[[str], None],
) -> Criterion:
    identifier = _identifier(check, mapping, "a criterion")
    where = f"criterion '{identifier}'"
    check_keys(check, mapping, CRITERION_KEYS, where)
    points = _number(check, mapping, "points", where, required=True, positive=True) or 0.0
    keywords = _keywords(
        check, mapping.get("keywords"), line_of(mapping, "keywords"), where, default, regex_check
    )
    concept = field_text(check, mapping, "concept", f"concept of {where}", default)
    if not keywords and not concept and "keywords" not in mapping:
        check.add(line, f"{where} has neither keywords nor a concept", "add keywords or a concept")
    met, missed = _feedback(
        check, mapping.get("feedback"), line_of(mapping, "feedback"), where, default
    )
    hint = field_text(check, mapping, "hint", f"hint of {where}", default)
    return Criterion(identifier, points, keywords, concept, met, missed, hint)


def _misconception(
    check: Checker,
    mapping: LineDict,
    line: int | None,
    default: str,
    regex_check: Callable[[str], None],
) -> Misconception:
    identifier = _identifier(check, mapping, "a misconception")
    where = f"misconception '{identifier}'"
    check_keys(check, mapping, MISCONCEPTION_KEYS, where)
    penalty = _number(check, mapping, "penalty", where, required=True, positive=True) or 0.0
    statement = field_text(check, mapping, "statement", f"statement of {where}", default)
    keywords = _keywords(
        check, mapping.get("keywords"), line_of(mapping, "keywords"), where, default, regex_check
    )
    if not statement and not keywords:
        check.add(line, f"{where} has neither a statement nor keywords", "add a statement")
    feedback = field_text(check, mapping, "feedback", f"feedback of {where}", default)
    return Misconception(identifier, statement, penalty, keywords, feedback)


def load_rubric(
    path: Path, default_language: str = "en", regex_check: Callable[[str], None] | None = None
) -> Rubric:
    """Load one rubric file; raises ValidationError listing every problem."""
    check = Checker(path)
    rubric = _rubric_from_file(check, path, default_language, regex_check or default_regex_check)
    if check.problems:
        raise ValidationError(tuple(check.problems))
    return rubric


def _rubric_from_file(
    check: Checker, path: Path, default: str, regex_check: Callable[[str], None]
) -> Rubric:
    data = load_yaml(path)
    mapping = require_mapping(check, data, 1, "a rubric file")
    if mapping is None:
        return Rubric(path.stem)
    check_keys(check, mapping, RUBRIC_KEYS, "the rubric")
    identifier = _identifier(check, mapping, "the rubric")
    if identifier and identifier != path.stem:
        check.add(
            line_of(mapping, "id"),
            f"rubric id '{identifier}' does not match the file name '{path.name}'",
            f"rename the file to {identifier}.yaml or set id: {path.stem}",
        )
    return rubric_body(check, mapping, identifier or path.stem, default, regex_check, path)


# ---------------------------------------------------------------- banks


@dataclass
class RubricFinder:
    folders: tuple[Path, ...]
    default: str
    regex_check: Callable[[str], None]
    cache: dict[Path, Rubric | None] = field(default_factory=dict)

    def find(self, check: Checker, rubric_id: str, line: int | None) -> Rubric | None:
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

    def _load(self, check: Checker, path: Path) -> Rubric | None:
        resolved = path.resolve()
        if resolved not in self.cache:
            rubric_check = Checker(path)
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
