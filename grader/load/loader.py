"""Load and validate banks and rubrics: every problem is collected, located and explained."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from grader.bank import (
    Bank,
)
from grader.errors import GraderError, Problem, ValidationError
from grader.load.fields import (
    BANK_KEYS,
    Checker,
    _identifier,
    check_keys,
    check_language,
    field_text,
    line_of,
    list_of_mappings,
    raw_ids,
    require_mapping,
    unique,
)
from grader.load.questions import _question
from grader.load.rubric import RubricFinder, default_regex_check, load_rubric, rubric_folders
from grader.load.settings import _settings
from grader.load.yamlread import LineDict, LineList, load_yaml


def load_bank(
    path: str | Path,
    rubric_dirs: Sequence[str | Path] = (),
    regex_check: Callable[[str], None] | None = None,
) -> Bank:
    """Load and validate a bank and its rubrics; a ValidationError lists every problem."""
    bank_path = Path(path)
    check = Checker(bank_path)
    data = load_yaml(bank_path)
    bank = _bank(check, data, bank_path, tuple(Path(d) for d in rubric_dirs), regex_check)
    if check.problems or bank is None:
        raise ValidationError(tuple(check.problems))
    return bank


def _bank(
    check: Checker,
    data: Any,
    path: Path,
    rubric_dirs: tuple[Path, ...],
    regex_check: Callable[[str], None] | None,
) -> Bank | None:
    mapping = require_mapping(check, data, 1, "a bank file")
    if mapping is None:
        return None
    check_keys(check, mapping, BANK_KEYS, "the bank")
    identifier = _identifier(check, mapping, "the bank")
    languages = _languages(check, mapping)
    default = languages[0] if languages else "en"
    title = field_text(check, mapping, "title", "the bank's title", default)
    if not title:
        check.add(mapping.line, "missing 'title' in the bank", "add title: a name for the bank")
    finder = RubricFinder(
        rubric_folders(path, rubric_dirs), default, regex_check or default_regex_check
    )
    items = list_of_mappings(check, mapping, "questions", "the bank", required=True)
    questions = [
        question
        for item, line in items
        if (question := _question(check, item, line, default, finder)) is not None
    ]
    unique(check, raw_ids(items), "question")
    if "questions" in mapping and not items and isinstance(mapping.get("questions"), list):
        check.add(line_of(mapping, "questions"), "the bank has no questions", "add a question")
    settings = _settings(check, mapping.get("settings"), line_of(mapping, "settings"))
    description = field_text(check, mapping, "description", "the description", default)
    return Bank(
        identifier,
        title,
        languages,
        tuple(questions),
        settings,
        description,
        path,
    )


def _languages(check: Checker, mapping: LineDict) -> tuple[str, ...]:
    value = mapping.get("languages")
    line = line_of(mapping, "languages")
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
        if check_language(check, language, line_of(value, index), "languages")
    )


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
