"""Where a term's units occur in an answer: word by word or joined (CJK), exactly or with a
misspelling, and in order with at most ``gap`` words between them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from grader.evidence.term_index import FUZZY_MIN_LENGTH, AnswerIndex, Unit

# --- finding units and phrases -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _levenshtein() -> Any:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein


_Span = tuple[int, int, bool]  # first token, end token (exclusive), fuzzy


def _occurrences(unit: Unit, index: AnswerIndex) -> dict[int, list[tuple[int, bool]]]:
    """Where ``unit`` matches: start position -> [(end position, fuzzy)]."""
    found: dict[int, list[tuple[int, bool]]] = {}
    spans = _joined_exact(unit, index) if unit.joined else _word_exact(unit, index)
    if unit.edits:
        exact_starts = {start for start, _, _ in spans}
        fuzzy = _joined_fuzzy(unit, index) if unit.joined else _word_fuzzy(unit, index)
        spans += [span for span in fuzzy if span[0] not in exact_starts]
    for start, end, is_fuzzy in spans:
        found.setdefault(start, []).append((end, is_fuzzy))
    return found


def _word_exact(unit: Unit, index: AnswerIndex) -> list[_Span]:
    positions = index.by_norm.get(unit.key, [])
    if unit.stem and unit.stem in index.by_stem:  # Russian: the lemmas or the stems agree
        positions = sorted({*positions, *index.by_stem[unit.stem]})
    return [(position, position + 1, False) for position in positions]


def _word_fuzzy(unit: Unit, index: AnswerIndex) -> list[_Span]:
    """Misspelt words: both the keys and the forms (_fuzzy_form) are _close."""
    spans: list[_Span] = []
    for position in index.by_first.get(unit.key[:1], ()):
        norm = index.norms[position]
        if norm == unit.key:
            continue
        if _close(norm, unit.key) and _close(index.form(position), unit.surface):
            spans.append((position, position + 1, True))
    return spans


def _close(first: str, second: str) -> bool:
    """Whether one word is a misspelling of the other.

    Both must have at least 5 characters and no digits and start with the same character; the
    longer one's length sets the budget (1 edit up to 8 characters, 2 beyond), which their
    lengths may not differ by more than. So ``larger`` (stem ``larger``) is not ``large``
    (``larg``), nor ``attend`` ``attention`` (9 characters against 6).
    """
    if first[:1] != second[:1] or _has_digit(first) or _has_digit(second):
        return False
    shorter, longer = sorted((len(first), len(second)))
    budget = 1 if longer <= 8 else 2
    if shorter < FUZZY_MIN_LENGTH or longer - shorter > budget:
        return False
    return bool(_levenshtein().distance(first, second, score_cutoff=budget) <= budget)


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _joined_exact(unit: Unit, index: AnswerIndex) -> list[_Span]:
    spans: list[_Span] = []
    key = unit.key
    for length in range(1, len(key) + 1):
        for start in index.by_norm.get(key[:length], ()):
            end = _join_to(key, start, index)
            if end is not None:
                spans.append((start, end, False))
    return spans


def _join_to(key: str, start: int, index: AnswerIndex) -> int | None:
    """The end position where the keys from ``start`` on join to exactly ``key``, if any."""
    joined = index.norms[start]
    position = start + 1
    while len(joined) < len(key):
        if position >= len(index.norms) or index.sentence[position] != index.sentence[start]:
            return None
        joined += index.norms[position]
        if not key.startswith(joined):
            return None
        position += 1
    return position if joined == key else None


def _joined_fuzzy(unit: Unit, index: AnswerIndex) -> list[_Span]:
    spans: list[_Span] = []
    key, edits = unit.key, unit.edits
    for start in index.by_first.get(key[:1], ()):
        joined = ""
        position = start
        while position < len(index.norms) and index.sentence[position] == index.sentence[start]:
            joined += index.norms[position]
            position += 1
            if len(joined) > len(key) + edits:
                break
            if _close_join(joined, key, edits):
                spans.append((start, position, True))
                break
    return spans


def _close_join(joined: str, key: str, edits: int) -> bool:
    levenshtein = _levenshtein()
    if len(joined) < max(len(key) - edits, FUZZY_MIN_LENGTH) or joined == key:
        return False
    return bool(levenshtein.distance(joined, key, score_cutoff=edits) <= edits)


def phrase_spans(units: tuple[Unit, ...], gap: int, index: AnswerIndex) -> list[list[_Span]]:
    """Each match of the units in order: the span of every unit."""
    occurrences = []
    for unit in units:
        found = _occurrences(unit, index)
        if not found:
            return []  # a phrase needs every unit
        occurrences.append(found)
    matches: list[list[_Span]] = []
    for start in sorted(occurrences[0]):
        for end, fuzzy in occurrences[0][start]:
            rest = _extend(occurrences, 1, end, index.sentence[start], gap, index)
            if rest is not None:
                matches.append([(start, end, fuzzy), *rest])
                break
    return matches


def _extend(
    occurrences: list[dict[int, list[tuple[int, bool]]]],
    unit: int,
    previous_end: int,
    sentence: int,
    gap: int,
    index: AnswerIndex,
) -> list[_Span] | None:
    if unit == len(occurrences):
        return []
    for start in range(previous_end, previous_end + gap + 1):
        if start >= len(index.norms) or index.sentence[start] != sentence:
            return None
        for end, fuzzy in occurrences[unit].get(start, ()):
            rest = _extend(occurrences, unit + 1, end, sentence, gap, index)
            if rest is not None:
                return [(start, end, fuzzy), *rest]
    return None
