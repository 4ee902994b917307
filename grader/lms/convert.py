"""Drafts into bank questions: Moodle types onto question types, partial credit onto rubrics
(docs/lms.md)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from grader.lms.drafts import (
    FULL_MARKS,
    MOODLE_FRACTION_SLACK,
    MOODLE_FRACTIONS,
    SHORT_QUOTE,
    UNSUPPORTED_REASONS,
    Choice,
    Draft,
    ImportResult,
    Skip,
)

# ---------------------------------------------------------------- drafts -> bank questions


def convert_all(drafts: list[Draft], lang: str, result: ImportResult) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = []
    used: set[str] = set()
    for position, draft in enumerate(drafts, 1):
        if draft.kind == "category":
            result.notes.append(f"{draft.label}: not kept (a bank has no categories)")
            continue
        converter = _CONVERTERS.get(draft.kind)
        try:
            if draft.error:
                raise Skip(draft.error)
            if converter is None:
                raise Skip(
                    UNSUPPORTED_REASONS.get(
                        draft.kind, f"'{draft.kind}' questions are not supported"
                    )
                )
            if draft.points <= 0:
                raise Skip("it is worth 0 points")
            _check_fractions(draft)
            body = converter(draft, lang)
        except Skip as skip:
            result.skipped.append(f"{draft.label}: {skip}")
            continue
        identifier = _unique_id(_slug(draft.name) or f"q{position}", used)
        question = {"id": identifier, **body}
        if draft.feedback and "feedback" not in question:
            question["feedback"] = {lang: draft.feedback}
        questions.append(question)
        result.notes.extend(f"{draft.label}: {note}" for note in draft.notes)
    return questions


def _check_fractions(draft: Draft) -> None:
    """Note every answer whose fraction Moodle itself would refuse (it accepts only its list)."""
    for choice in draft.choices:
        share = abs(choice.fraction) / 100
        if share > 1 + MOODLE_FRACTION_SLACK:
            draft.notes.append(
                f"answer '{short(choice.text)}': {_percent(choice.fraction)} % is outside "
                "Moodle's -100..100 %; counted as "
                f"{_percent(100 if choice.fraction > 0 else -100)} %"
            )
            continue
        nearest = min(MOODLE_FRACTIONS, key=lambda value: abs(share - value))
        if abs(share - nearest) >= MOODLE_FRACTION_SLACK:
            sign = -1 if choice.fraction < 0 else 1
            draft.notes.append(
                f"answer '{short(choice.text)}': {_percent(choice.fraction)} % is not one of "
                f"Moodle's grades (Moodle refuses such a file; the nearest is "
                f"{_percent(sign * nearest * 100)} %); kept as {_percent(choice.fraction)} %"
            )


def _percent(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SHORT_QUOTE else line[: SHORT_QUOTE - 1] + "…"


def _head(draft: Draft, kind: str, lang: str) -> dict[str, Any]:
    if not draft.prompt:
        raise Skip("it has no question text")
    return {"type": kind, "points": _number(draft.points), "prompt": {lang: draft.prompt}}


def _short_answer(draft: Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "short_answer", lang)
    given = [choice for choice in draft.choices if choice.text.strip()]
    answers: list[tuple[Choice, str]] = []
    for choice in given:
        if choice.fraction <= 0:
            continue
        term = _answer_term(choice.text)
        if term is None:
            draft.notes.append(f"answer '{choice.text}' would match almost anything; dropped")
        else:
            answers.append((choice, term))
    if not any(choice.fraction >= FULL_MARKS for choice, _ in answers):
        raise Skip("no answer earns full marks")
    models = _unique_texts(
        _unescape_star(choice.text)
        for choice, _ in answers
        if choice.fraction >= FULL_MARKS and not _is_wildcard(choice.text)
    )
    if models:
        question["answers"] = {lang: models}
    wrong = _wrong_answers(draft, [choice for choice in given if choice.fraction <= 0])
    if wrong:
        question["wrong_answers"] = {lang: wrong}
    partial = any(choice.fraction < FULL_MARKS for choice, _ in answers)
    if partial or any(_is_wildcard(choice.text) for choice, _ in answers):
        question["rubric"] = {"criteria": _answer_criteria(answers, draft.points, lang)}
    with_feedback = [f"'{short(choice.text)}'" for choice, _ in answers if choice.feedback]
    if with_feedback:
        draft.notes.append(
            f"feedback dropped from answer(s) {', '.join(with_feedback)}: "
            "only wrong answers keep their feedback"
        )
    if draft.case_sensitive:
        draft.notes.append("case-sensitive matching is not kept: answers match in any case")
    return question


def _wrong_answers(draft: Draft, rejected: list[Choice]) -> list[str | dict[str, str]]:
    """Answers worth 0 % (or less): known wrong answers, each with its feedback.

    A wildcard cannot be one (wrong answers are compared by meaning); a lone '*' is Moodle's
    feedback for any other answer.
    """
    wrong: list[str | dict[str, str]] = []
    seen: set[str] = set()
    for choice in rejected:
        feedback = f" (its feedback: '{short(choice.feedback)}')" if choice.feedback else ""
        if _is_wildcard(choice.text):
            literal = _WILDCARD.sub("", choice.text).strip()
            reason = (
                "it answers any other response"
                if not literal
                else "wrong answers are compared by meaning, not as * patterns"
            )
            draft.notes.append(
                f"answer '{choice.text}' worth {_percent(choice.fraction)} % dropped: "
                f"{reason}{feedback}"
            )
            continue
        text = _unescape_star(choice.text)
        if choice.fraction < 0:
            draft.notes.append(
                f"the penalty of wrong answer '{short(text)}' ({_percent(choice.fraction)} %) "
                "is not kept: a wrong answer earns 0"
            )
        if text.casefold() in seen:
            continue
        seen.add(text.casefold())
        wrong.append({"text": text, "feedback": choice.feedback} if choice.feedback else text)
    return wrong


def _level(choice: Choice) -> float:
    return min(100.0, round(choice.fraction, 4))


def _answer_criteria(
    answers: list[tuple[Choice, str]], points: float, lang: str
) -> list[dict[str, Any]]:
    """A staircase of criteria: an answer at level L satisfies every criterion at or below L.

    With levels 100 > 50, criterion answer-100 (half the points) lists the 100% answers and
    answer-50 (the other half) lists both, so a 50% answer earns half and a 100% answer all.
    """
    levels = sorted({_level(choice) for choice, _ in answers}, reverse=True)
    criteria = []
    for index, level in enumerate(levels):
        lower = levels[index + 1] if index + 1 < len(levels) else 0.0
        group = _unique_texts(term for choice, term in answers if _level(choice) >= level)
        criteria.append(
            {
                "id": f"answer-{_number(level)}",
                "points": _number(max(0.0001, points * (level - lower) / 100)),
                "keywords": {lang: [group]},
            }
        )
    return criteria


_WILDCARD = re.compile(r"(?<!\\)\*")
_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _is_wildcard(text: str) -> bool:
    return bool(_WILDCARD.search(text))


def _unescape_star(text: str) -> str:
    return text.replace("\\*", "*").strip()


def _answer_term(text: str) -> str | None:
    """A keyword term for a short answer: the text, or for Moodle's * wildcard a 're:' term.

    Like any term, the regex is found anywhere in the answer, so a leading or trailing * adds
    nothing and a * inside matches any text. None: too little literal text to match safely.
    """
    if not _is_wildcard(text):
        return _unescape_star(text)
    pieces = [_RE2_SPECIAL.sub(r"\\\1", _unescape_star(piece)) for piece in _WILDCARD.split(text)]
    pattern = ".*".join(pieces).strip()
    while pattern.startswith(".*") or pattern.endswith(".*"):
        pattern = pattern.removeprefix(".*").removesuffix(".*").strip()
    literal = "".join(_unescape_star(piece) for piece in _WILDCARD.split(text)).strip()
    return f"re:{pattern}" if len(literal) >= 3 else None


def _essay(draft: Draft, lang: str) -> dict[str, Any]:
    """An essay: grader information becomes grader notes, never a model answer.

    Without grader information, the general feedback is the model answer (GIFT has no other
    place for one).
    """
    question = _head(draft, "short_answer", lang)
    if draft.grader_notes:
        question["grader_notes"] = {lang: draft.grader_notes}
        draft.notes.append(
            "the information for graders became grader_notes, not a model answer: "
            "write the model answer under answers (validate asks for it)"
        )
    elif draft.feedback:
        question["answers"] = {lang: [draft.feedback]}
    else:
        raise Skip(
            "it has no model answer (fill in the information for graders, or a general feedback)"
        )
    return question


def _multiple_choice(draft: Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "multiple_choice", lang)
    question["multiple"] = not draft.single
    options = []
    for index, choice in enumerate(draft.choices):
        if not choice.text:
            raise Skip(f"option {index + 1} has no text")
        options.append(_option(_option_id(index), choice.text, choice, lang))
    _check_options(options)
    question["options"] = options
    return question


def _true_false(draft: Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "multiple_choice", lang)
    question["multiple"] = False
    by_text = {choice.text.strip().lower(): choice for choice in draft.choices}
    options = []
    for key, text in (("true", "True"), ("false", "False")):
        choice = by_text.get(key)
        if choice is None:
            raise Skip(f"it has no '{key}' answer")
        options.append(_option(key, text, choice, lang))
    _check_options(options)
    question["options"] = options
    return question


def _option(identifier: str, text: str, choice: Choice, lang: str) -> dict[str, Any]:
    credit = max(-1.0, min(1.0, round(choice.fraction / 100, 4)))
    option: dict[str, Any] = {"id": identifier, "text": {lang: text}, "credit": _number(credit)}
    if choice.feedback:
        option["feedback"] = {lang: choice.feedback}
    return option


def _check_options(options: list[dict[str, Any]]) -> None:
    if len(options) < 2:
        raise Skip("it has fewer than two options")
    if max(option["credit"] for option in options) <= 0:
        raise Skip("no option earns credit")


def _option_id(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = letters[rest] + name
    return name


def _numeric(draft: Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "numeric", lang)
    full = [c for c in draft.choices if c.fraction >= FULL_MARKS and c.value is not None]
    if not full:
        raise Skip("no answer earns full marks")
    dropped = len([c for c in draft.choices if c.value is not None and c.fraction > 0]) - 1
    if dropped:
        draft.notes.append(
            f"{dropped} other accepted answer(s) dropped: only the first full-mark answer is kept"
        )
    answer = full[0]
    assert answer.value is not None
    question["value"] = _number(answer.value)
    question["tolerance"] = _number(abs(answer.tolerance))
    if draft.units:
        question["units"] = list(draft.units)
    if answer.feedback and not draft.feedback:
        question["feedback"] = {lang: answer.feedback}
    for other in draft.choices:
        if other.value is None and other.feedback:
            draft.notes.append(
                f"the feedback for any other answer dropped: '{short(other.feedback)}'"
            )
    return question


_CONVERTERS: dict[str, Callable[[Draft, str], dict[str, Any]]] = {
    "shortanswer": _short_answer,
    "essay": _essay,
    "multichoice": _multiple_choice,
    "truefalse": _true_false,
    "numerical": _numeric,
}


def _number(value: float) -> int | float:
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def _unique_texts(texts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            unique.append(text)
    return unique


def _slug(text: str, limit: int = 40) -> str:
    """An id from a name: ASCII letters and digits joined by '-', at most ``limit`` long."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug


def _unique_id(base: str, used: set[str]) -> str:
    identifier = base
    counter = 2
    while identifier in used:
        identifier = f"{base}-{counter}"
        counter += 1
    used.add(identifier)
    return identifier
