"""Exact grading of closed questions: multiple choice and numeric."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from grader.bank import Closed, Gradable, Option
from grader.results import CriterionResult

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def score_closed(
    gradable: Gradable, answer: str, languages: Sequence[str], met: float
) -> tuple[float, tuple[CriterionResult, ...]]:
    """The score and one criterion record explaining it; the criterion is met at a credit of
    ``met`` or more (the scoring defaults' ``criteria.met``)."""
    closed = gradable.closed
    assert closed is not None
    if closed.options:
        credit, reason, feedback = _choice_credit(closed, answer, languages)
        criterion_id = "choice"
    else:
        credit, reason, feedback = _numeric_credit(closed, answer)
        criterion_id = "value"
    score = round(gradable.points * credit, 4)
    language = languages[0] if languages else ""
    criterion = CriterionResult(
        criterion_id,
        gradable.points,
        round(credit, 4),
        score,
        credit >= met,
        feedback=feedback,
        feedback_language=language,
        reason=reason,
    )
    return score, (criterion,)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def chosen_options(closed: Closed, answer: str) -> tuple[list[Option], list[str]]:
    """The options an answer names (by id or exact text), and the parts that named none."""
    by_key: dict[str, Option] = {}
    for option in closed.options:
        by_key[_normal(option.id)] = option
        for text in option.text.by_language.values():
            by_key.setdefault(_normal(text), option)
    if _normal(answer) in by_key:
        return [by_key[_normal(answer)]], []
    chosen: list[Option] = []
    unknown: list[str] = []
    for part in re.split(r"[,;\n]", answer):
        key = _normal(part)
        if not key:
            continue
        if key not in by_key:
            unknown.append(part.strip())
        elif by_key[key] not in chosen:
            chosen.append(by_key[key])
    return chosen, unknown


def _choice_credit(closed: Closed, answer: str, languages: Sequence[str]) -> tuple[float, str, str]:
    chosen, unknown = chosen_options(closed, answer)
    if not chosen:
        return (
            0.0,
            "no option chosen" + (f" ({', '.join(unknown)} is not an option)" if unknown else ""),
            "",
        )
    if not closed.multiple and len(chosen) > 1:
        return 0.0, "several options chosen where one was asked for", ""
    credit = min(1.0, max(0.0, sum(option.credit for option in chosen)))
    reason = "chose " + ", ".join(f"{o.id} ({o.credit:+.0%})" for o in chosen)
    feedback = " ".join(o.feedback.get(None, tuple(languages)) for o in chosen if o.feedback)
    return credit, reason, feedback


def parse_number(answer: str) -> tuple[float, str] | None:
    match = _NUMBER.match(answer)
    if not match:
        return None
    number, unit = match.groups()
    try:
        return float(number.replace(",", ".")), unit
    except ValueError:
        return None


def _numeric_credit(closed: Closed, answer: str) -> tuple[float, str, str]:
    parsed = parse_number(answer)
    if parsed is None:
        return 0.0, "not a number", ""
    value, unit = parsed
    assert closed.value is not None
    if unit and closed.units and _normal(unit) not in {_normal(u) for u in closed.units}:
        return 0.0, f"unit '{unit}' is not one of {', '.join(closed.units)}", ""
    within = abs(value - closed.value) <= closed.tolerance + 1e-12
    expected = f"{closed.value:g} ± {closed.tolerance:g}"
    reason = f"{value:g} is {'within' if within else 'outside'} {expected}"
    return (1.0 if within else 0.0), reason, ""
