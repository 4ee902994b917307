"""Sentences of a text, and which words a negation covers (over the merged token stream)."""

from __future__ import annotations

import re

from grader.text.languages.base import (
    AFFIX,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    FORWARD_NEGATOR,
    PHRASE_AFTER_NEGATOR,
    PHRASE_BEFORE_NEGATOR,
    PUNCT,
    SOFT_BREAK,
    VERB_PHRASE_NEGATOR,
    Raw,
    words,
)
from grader.text.languages.words import word_norm as word_norm

# --- sentences ---------------------------------------------------------------------------------

_SENTENCE_END = re.compile(
    r"[.!?…]+[\"'”’»)\]]*(?=\s|$)|[。！？｡]+[」』”’)\]）]*|[!?！？؟]+|[।۔]|\n"
)
_ABBREVIATIONS = words(
    "e.g i.e etc vs cf al fig eq approx mr mrs ms dr prof т.е т.д т.п т.к др см рис напр"
)


def split_sentences(text: str, language: str | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of ``text``, without surrounding whitespace.

    A sentence ends at . ! ? … followed by a space or the end (not after common abbreviations such
    as "e.g." or a single-letter initial), at 。！？ anywhere, and at a line break.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group().startswith(".") and _is_abbreviation(text, match.start()):
            continue
        _add_span(text, start, match.end(), spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    before = text[max(0, dot - 12) : dot]
    pieces = before.split()
    word = pieces[-1].lower().strip("(\"'") if pieces and not before[-1:].isspace() else ""
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    left = start + len(piece) - len(piece.lstrip())
    spans.append((left, left + len(stripped)))


# --- negation over the merged token stream --------------------------------------------------------


def mark_negation(raws: list[Raw], sentence_of: list[int]) -> list[bool]:
    negated = [False] * len(raws)
    clause: list[int] = []
    for index, raw in enumerate(raws):
        new_sentence = index > 0 and sentence_of[index] != sentence_of[index - 1]
        if raw.boundary == BREAK_BEFORE or new_sentence:
            _negate_clause(raws, clause, negated)
            clause = []
        clause.append(index)
        if raw.boundary == BREAK_AFTER:
            _negate_clause(raws, clause, negated)
            clause = []
    _negate_clause(raws, clause, negated)
    return negated


def _negate_clause(raws: list[Raw], clause: list[int], negated: list[bool]) -> None:
    """Mark what the negators of one clause (token positions ``clause``) negate."""
    if not any(raws[index].negator for index in clause):
        return
    negated_from = len(clause)  # the clause is negated from here to its end
    segment_start = 0  # the clause position after the last soft break
    phrase_start = 0  # where a verb phrase may start: after the last topic particle
    for position, index in enumerate(clause):
        raw = raws[index]
        if raw.boundary == SOFT_BREAK:
            segment_start = phrase_start = position
        if raw.negator == CLAUSE_NEGATOR:
            negated_from = min(negated_from, segment_start)
        elif raw.negator == FORWARD_NEGATOR:
            negated_from = min(negated_from, position)
        elif raw.negator == PHRASE_BEFORE_NEGATOR:
            first = _phrase_start(raws, clause, segment_start, position)
            if first == position:  # no noun phrase right before it: the clause
                negated_from = min(negated_from, segment_start)
            _negate(clause, first, position + 1, negated)
        elif raw.negator == PHRASE_AFTER_NEGATOR:
            last = position + 1
            while last < len(clause) and _in_phrase(raws[clause[last]]):
                last += 1
            _negate(clause, position, last, negated)
        elif raw.negator == VERB_PHRASE_NEGATOR:
            _negate(clause, phrase_start, position + 1, negated)
        if raw.topic:
            phrase_start = position + 1
    _negate(clause, negated_from, len(clause), negated)


def _phrase_start(raws: list[Raw], clause: list[int], segment_start: int, position: int) -> int:
    """The clause position where the noun phrase before ``position`` starts (``position`` when
    there is none); one particle between them is skipped (예시도 없이, 重み更新はなし)."""
    first = position
    if first > segment_start and raws[clause[first - 1]].kind == AFFIX:
        first -= 1
    words_end = first
    while first > segment_start and _in_phrase(raws[clause[first - 1]]):
        first -= 1
    return first if first < words_end else position


def _in_phrase(raw: Raw) -> bool:
    return raw.kind != PUNCT and raw.in_phrase and raw.boundary != BREAK_BEFORE


def _negate(clause: list[int], first: int, end: int, negated: list[bool]) -> None:
    for index in clause[first:end]:
        negated[index] = True
