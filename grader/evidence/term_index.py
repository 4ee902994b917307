"""Terms and answers made ready for keyword matching: a term's units and keys, the answer's index
of its words, and the scripts each is written in (to skip what cannot match)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from grader.bank import Term
from grader.text.analysis import Analysis, Token, analyze
from grader.text.normalize import NormalizedText, normalize_text, normalize_with_spans
from grader.text.scripts import CJK_LANGUAGES, CYRILLIC_LANGUAGES, WRITTEN_TOGETHER

if TYPE_CHECKING:
    from grader.evidence.keywords import TermMatch


# --- term patterns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    key: str  # comparison key (joined keys for a CJK unit)
    joined: bool  # a CJK unit: may span several answer words
    edits: int  # misspellings tolerated (for a word: the most any pair of words may get)
    surface: str  # the form compared for misspellings (_fuzzy_form), the surface of a CJK unit
    stem: str = ""  # a second key (Russian Snowball stem): an answer word with it matches too


@dataclass(frozen=True)
class Pattern:
    alternatives: tuple[tuple[Unit, ...], ...]  # unit sequences, any of which matches
    states_negation: bool  # the term itself is negated ("not bidirectional")
    literal: str  # normalised term text, searched as is when the term has no words


@lru_cache(maxsize=16384)
def term_pattern(term: Term, language: str) -> Pattern:
    analysis = analyze(term.text, language)
    tokens = analysis.tokens
    alternatives = [_units(term, tokens, join_spaced=False)]
    joined = _units(term, tokens, join_spaced=True)
    if joined != alternatives[0]:
        alternatives.append(joined)
    states_negation = any(token.negated for token in tokens)
    return Pattern(tuple(alt for alt in alternatives if alt), states_negation, _literal(term))


def _literal(term: Term) -> str:
    return normalize_text(term.text)


def _units(term: Term, tokens: tuple[Token, ...], join_spaced: bool) -> tuple[Unit, ...]:
    units: list[Unit] = []
    index = 0
    while index < len(tokens):
        first = tokens[index]
        if first.language not in WRITTEN_TOGETHER:
            form = _fuzzy_form(first)
            edits = _edits(normalize_text(first.surface), term)
            units.append(Unit(first.norm, False, edits, form, _stem_key(first.stem)))
            index += 1
            continue
        end = index + 1
        while end < len(tokens) and _joins(term.text, tokens[end - 1], tokens[end], join_spaced):
            end += 1
        surface = normalize_text(term.text[first.start : tokens[end - 1].end])
        key = "".join(token.norm for token in tokens[index:end])
        units.append(Unit(key, True, _cjk_edits(key, term), surface))
        index = end
    return tuple(units)


def _joins(text: str, previous: Token, token: Token, join_spaced: bool) -> bool:
    if token.language not in WRITTEN_TOGETHER:
        return False
    return join_spaced or not any(ch.isspace() for ch in text[previous.end : token.start])


FUZZY_MIN_LENGTH = 5  # words (and CJK units) shorter than this are matched exactly
_STEM_MIN_LENGTH = 5  # shorter stems are not a key of their own (статья, стать: стат)


def _edits(surface: str, term: Term) -> int:
    """The most edits a word of the term may get (each pair of words gets _budget)."""
    if not term.fuzzy or any(ch.isdigit() for ch in surface) or len(surface) < FUZZY_MIN_LENGTH:
        return 0
    return 2


def _cjk_edits(key: str, term: Term) -> int:
    if not term.fuzzy or any(ch.isdigit() for ch in key) or len(key) < FUZZY_MIN_LENGTH:
        return 0
    return 1


def _fuzzy_form(token: Token) -> str:
    """The form of a word compared for misspellings besides its key: its stem (Russian, where
    surfaces differ by inflection), else its normalised surface."""
    return token.stem or normalize_text(token.surface)


def _stem_key(stem: str) -> str:
    return stem if len(stem) >= _STEM_MIN_LENGTH else ""


# --- the answer's index ------------------------------------------------------------------------


@dataclass
class AnswerIndex:
    analysis: Analysis
    norms: list[str]
    by_norm: dict[str, list[int]]
    by_first: dict[str, list[int]]  # first character of the key -> token positions
    sentence: list[int]  # sentence number of each token
    starts: list[int]
    surfaces: dict[int, str]  # _fuzzy_form of each token, filled on demand
    matches: dict[tuple[Term, str], TermMatch | None]  # (term, pattern language) -> best match
    scripts: frozenset[str]  # _script_classes of the normalised text and of the keys
    by_stem: dict[str, list[int]] = field(default_factory=dict)  # second keys (_stem_key)

    @property
    def normalized(self) -> NormalizedText:
        return normalize_with_spans(self.analysis.text)

    def form(self, position: int) -> str:
        if position not in self.surfaces:
            self.surfaces[position] = _fuzzy_form(self.analysis.tokens[position])
        return self.surfaces[position]


def _index(answer: Analysis | AnswerIndex) -> AnswerIndex:
    return answer if isinstance(answer, AnswerIndex) else index_answer(answer)


def index_answer(analysis: Analysis) -> AnswerIndex:
    """The answer's words indexed for matching: build it once per answer and pass it to every
    ``match_*`` call (it also keeps the matches of the terms seen, which rubrics repeat)."""
    norms = [token.norm for token in analysis.tokens]
    by_norm: dict[str, list[int]] = {}
    by_first: dict[str, list[int]] = {}
    for position, norm in enumerate(norms):
        by_norm.setdefault(norm, []).append(position)
        if norm:
            by_first.setdefault(norm[0], []).append(position)
    sentence_starts = [start for start, _ in analysis.sentences]
    sentence = [bisect.bisect_right(sentence_starts, t.start) for t in analysis.tokens]
    starts = [token.start for token in analysis.tokens]
    scripts = _script_classes(normalize_with_spans(analysis.text).text + "".join(norms))
    by_stem: dict[str, list[int]] = {}
    for position, token in enumerate(analysis.tokens):
        if _stem_key(token.stem):
            by_stem.setdefault(token.stem, []).append(position)
    index = AnswerIndex(analysis, norms, by_norm, by_first, sentence, starts, {}, {}, scripts)
    index.by_stem = by_stem
    return index


# --- a quick "cannot match" ---------------------------------------------------------------------

_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff]")
_KANA_HAN = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f]"
)
_CYRILLIC_LETTER = re.compile("[\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f]")
_HAN_NUMERALS = frozenset("〇一二三四五六七八九十百千万億兆零壱弐参")


def _script_classes(text: str) -> frozenset[str]:
    """Which of "hangul", "kana-han" and "cyrillic" letters ``text`` has."""
    found = set()
    if _HANGUL.search(text):
        found.add("hangul")
    if _KANA_HAN.search(text):
        found.add("kana-han")
    if _CYRILLIC_LETTER.search(text):
        found.add("cyrillic")
    return frozenset(found)


@lru_cache(maxsize=16384)
def term_scripts(text: str) -> frozenset[str] | None:
    """The scripts one of which an answer needs for the term to match; None: any answer.

    A term written only in CJK and Cyrillic letters (and punctuation) is analysed into keys in
    those scripts, and matches (exactly, as a literal, or with misspellings, which keep the first
    character) only an answer that has letters of one of them. Any other letter or digit, or a
    Han numeral (which an analyser may read as a number), makes the term possible anywhere.
    """
    normalized = normalize_text(text)
    letters = [ch for ch in normalized if ch.isalnum()]
    if not letters or any(ch in _HAN_NUMERALS for ch in letters):
        return None
    scripts = set()
    for ch in letters:
        if _HANGUL.match(ch):
            scripts.add("hangul")
        elif _KANA_HAN.match(ch):
            scripts.add("kana-han")
        elif _CYRILLIC_LETTER.match(ch):
            scripts.add("cyrillic")
        else:
            return None
    return frozenset(scripts)


def written_for(text: str, language: str) -> bool:
    """Whether a term or text could share words with an answer in ``language``: its letters are
    in that language's script, or it has letters (or digits) any script's answer may contain."""
    scripts = term_scripts(text)
    if scripts is None:
        return True
    if language == "ko":
        return "hangul" in scripts
    if language in CJK_LANGUAGES:
        return "kana-han" in scripts
    return language in CYRILLIC_LANGUAGES and "cyrillic" in scripts
