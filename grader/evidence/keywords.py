"""Rubric keyword matching against an analysed answer.

A term is analysed exactly as the answer was (``grader.text.analysis``, with the answer's language,
so English terms in a German answer get German stems like the answer's words) and matched on the
answer's word tokens by their comparison keys (stems, lemmas, morpheme forms):

* Space-separated scripts (English, Russian, ...): each word of the term must match one answer
  word, in order, with at most ``term.gap`` other words (function words included, punctuation
  not) between consecutive ones.
* Korean, Japanese, Chinese and Thai: the term's words written together form one unit,
  matched against one or more consecutive answer words whose keys join to the same string,
  starting and ending on word boundaries. So a term matches however the analyser splits it
  (``言語モデル`` matches ``言語`` + ``モデル``; ``数据结构`` matches ``数据`` + ``结构``),
  ``디코더`` matches ``디코더는`` (particles are not words), ``확장법칙`` matches
  ``확장의 법칙`` (the particle is skipped), and ``京都`` does not match inside ``東京都``
  (one word), nor ``方向`` inside ``双方向``. Parts of a CJK term separated by spaces are
  units with up to ``term.gap`` words between them, or one unit written together
  (``확장 법칙`` matches ``확장법칙``). Particles and endings never count towards the gap.
* Russian words match when their lemmas or their Snowball stems (of 5 or more letters) agree, so
  a dictionary form meets the forms pymorphy3 only guesses.
* Misspellings (``term.fuzzy``, never for regexes): a term word and an answer word match when
  both their keys and their forms (the normalised surface; the stem for Russian) are close: each
  at least 5 characters, no digits, the same first character (so ``encoder`` never matches
  ``decoder``), and a Levenshtein distance within a budget set by the longer one (1 edit up to 8
  characters, 2 beyond) that their lengths may not differ by more than. So ``bidirectinal``
  matches, but not ``larger`` for ``large`` (stem ``larg``) or ``attend`` for ``attention``.
  In CJK units 1 edit from 5 characters (``트렌스포머`` for ``트랜스포머``), never 2.
* ``re:`` terms are RE2 expressions (linear time), case-insensitive, searched in
  ``normalize_text(answer)``; spans are mapped back to the original answer.
* Negation: a match whose words lie in a negated clause (see ``grader.text.analysis``) earns nothing
  unless ``term.negatable`` is False. A term that itself states a negation ("not bidirectional",
  "양방향이 아니다") is not cancelled by its own negator. A regex match is negated when every word
  it overlaps is negated.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from grader.bank import KeywordGroup, Keywords, Term
from grader.text.analysis import (
    CJK_LANGUAGES,
    CYRILLIC_LANGUAGES,
    UNDETERMINED,
    WRITTEN_TOGETHER,
    Analysis,
    Token,
    analyze,
)
from grader.text.normalize import NormalizedText, normalize_text, normalize_with_spans
from grader.text.regex import compile_regex


@dataclass(frozen=True)
class TermMatch:
    term: Term
    start: int  # span in the original answer
    end: int
    text: str  # the matched original text
    fuzzy: bool  # matched with misspelling tolerance
    negated: bool  # inside a negated clause (and the term is negatable): earns nothing


@dataclass(frozen=True)
class GroupResult:
    group: KeywordGroup
    match: TermMatch | None  # the best non-negated match
    negated: TermMatch | None  # a match found only inside a negated clause (earns nothing)

    @property
    def met(self) -> bool:
        return self.match is not None


@dataclass(frozen=True)
class KeywordResult:
    language: str  # the keyword language whose groups were used
    groups: tuple[GroupResult, ...]

    @property
    def credit(self) -> float:
        """The share of groups met, 0..1 (0 when there are no groups)."""
        if not self.groups:
            return 0.0
        return sum(group.met for group in self.groups) / len(self.groups)


# --- term patterns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    key: str  # comparison key (joined keys for a CJK unit)
    joined: bool  # a CJK unit: may span several answer words
    edits: int  # misspellings tolerated (for a word: the most any pair of words may get)
    surface: str  # the form compared for misspellings (_fuzzy_form), the surface of a CJK unit
    stem: str = ""  # a second key (Russian Snowball stem): an answer word with it matches too


@dataclass(frozen=True)
class _Pattern:
    alternatives: tuple[tuple[_Unit, ...], ...]  # unit sequences, any of which matches
    states_negation: bool  # the term itself is negated ("not bidirectional")
    literal: str  # normalised term text, searched as is when the term has no words


@lru_cache(maxsize=16384)
def _term_pattern(term: Term, language: str) -> _Pattern:
    analysis = analyze(term.text, language)
    tokens = analysis.tokens
    alternatives = [_units(term, tokens, join_spaced=False)]
    joined = _units(term, tokens, join_spaced=True)
    if joined != alternatives[0]:
        alternatives.append(joined)
    states_negation = any(token.negated for token in tokens)
    return _Pattern(tuple(alt for alt in alternatives if alt), states_negation, _literal(term))


def _literal(term: Term) -> str:
    return normalize_text(term.text)


def _units(term: Term, tokens: tuple[Token, ...], join_spaced: bool) -> tuple[_Unit, ...]:
    units: list[_Unit] = []
    index = 0
    while index < len(tokens):
        first = tokens[index]
        if first.language not in WRITTEN_TOGETHER:
            form = _fuzzy_form(first)
            edits = _edits(normalize_text(first.surface), term)
            units.append(_Unit(first.norm, False, edits, form, _stem_key(first.stem)))
            index += 1
            continue
        end = index + 1
        while end < len(tokens) and _joins(term.text, tokens[end - 1], tokens[end], join_spaced):
            end += 1
        surface = normalize_text(term.text[first.start : tokens[end - 1].end])
        key = "".join(token.norm for token in tokens[index:end])
        units.append(_Unit(key, True, _cjk_edits(key, term), surface))
        index = end
    return tuple(units)


def _joins(text: str, previous: Token, token: Token, join_spaced: bool) -> bool:
    if token.language not in WRITTEN_TOGETHER:
        return False
    return join_spaced or not any(ch.isspace() for ch in text[previous.end : token.start])


_FUZZY_MIN_LENGTH = 5  # words (and CJK units) shorter than this are matched exactly
_STEM_MIN_LENGTH = 5  # shorter stems are not a key of their own (статья, стать: стат)


def _edits(surface: str, term: Term) -> int:
    """The most edits a word of the term may get (each pair of words gets _budget)."""
    if not term.fuzzy or any(ch.isdigit() for ch in surface) or len(surface) < _FUZZY_MIN_LENGTH:
        return 0
    return 2


def _cjk_edits(key: str, term: Term) -> int:
    if not term.fuzzy or any(ch.isdigit() for ch in key) or len(key) < _FUZZY_MIN_LENGTH:
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
def _term_scripts(text: str) -> frozenset[str] | None:
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
    scripts = _term_scripts(text)
    if scripts is None:
        return True
    if language == "ko":
        return "hangul" in scripts
    if language in CJK_LANGUAGES:
        return "kana-han" in scripts
    return language in CYRILLIC_LANGUAGES and "cyrillic" in scripts


def _cannot_match(term: Term, index: AnswerIndex) -> bool:
    if term.is_regex:
        return False
    scripts = _term_scripts(term.text)
    return scripts is not None and not (scripts & index.scripts)


# --- finding units and phrases -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _levenshtein() -> Any:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein


_Span = tuple[int, int, bool]  # first token, end token (exclusive), fuzzy


def _occurrences(unit: _Unit, index: AnswerIndex) -> dict[int, list[tuple[int, bool]]]:
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


def _word_exact(unit: _Unit, index: AnswerIndex) -> list[_Span]:
    positions = index.by_norm.get(unit.key, [])
    if unit.stem and unit.stem in index.by_stem:  # Russian: the lemmas or the stems agree
        positions = sorted({*positions, *index.by_stem[unit.stem]})
    return [(position, position + 1, False) for position in positions]


def _word_fuzzy(unit: _Unit, index: AnswerIndex) -> list[_Span]:
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
    if shorter < _FUZZY_MIN_LENGTH or longer - shorter > budget:
        return False
    return bool(_levenshtein().distance(first, second, score_cutoff=budget) <= budget)


def _has_digit(word: str) -> bool:
    return any(ch.isdigit() for ch in word)


def _joined_exact(unit: _Unit, index: AnswerIndex) -> list[_Span]:
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


def _joined_fuzzy(unit: _Unit, index: AnswerIndex) -> list[_Span]:
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
    if len(joined) < max(len(key) - edits, _FUZZY_MIN_LENGTH) or joined == key:
        return False
    return bool(levenshtein.distance(joined, key, score_cutoff=edits) <= edits)


def _phrase_spans(units: tuple[_Unit, ...], gap: int, index: AnswerIndex) -> list[list[_Span]]:
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


# --- matching ----------------------------------------------------------------------------------


def match_term(term: Term, language: str, answer: Analysis | AnswerIndex) -> TermMatch | None:
    """The best match of ``term`` (a term of a ``language`` keyword group) in ``answer``.

    Best: not negated, then exact rather than fuzzy, then earliest.
    """
    return _match_term(term, language, _index(answer))


def _match_term(term: Term, language: str, index: AnswerIndex) -> TermMatch | None:
    """match_term, once per answer for each term and pattern language (rubrics repeat terms)."""
    pattern_language = "" if term.is_regex else _pattern_language(language, index.analysis)
    key = (term, pattern_language)
    if key in index.matches:
        return index.matches[key]
    best = None
    if term.is_regex:
        best = min(_regex_matches(term, index), key=_rank, default=None)
    elif not _cannot_match(term, index):
        pattern = _term_pattern(term, pattern_language)
        best = min(_term_matches(term, pattern, index), key=_rank, default=None)
    index.matches[key] = best
    return best


def _pattern_language(language: str, analysis: Analysis) -> str:
    """Terms are analysed as the answer was, so that their words get the same keys.

    The analyser of each word follows its script; the language only decides how Latin words are
    stemmed (English terms in a German answer are stemmed as German, like the answer's words) and
    whether Han characters are Japanese or Chinese. So the answer's language wins when it has one.
    """
    return language if analysis.language == UNDETERMINED else analysis.language


def _rank(match: TermMatch) -> tuple[bool, bool, int]:
    return match.negated, match.fuzzy, match.start


def _term_matches(term: Term, pattern: _Pattern, index: AnswerIndex) -> list[TermMatch]:
    if not pattern.alternatives:
        return _literal_matches(term, pattern.literal, index)
    tokens = index.analysis.tokens
    negatable = term.negatable and not pattern.states_negation
    matches: list[TermMatch] = []
    for units in pattern.alternatives:
        for spans in _phrase_spans(units, term.gap, index):
            start, end = tokens[spans[0][0]].start, tokens[spans[-1][1] - 1].end
            words = [tokens[p] for first, last, _ in spans for p in range(first, last)]
            negated = negatable and any(word.negated for word in words)
            fuzzy = any(is_fuzzy for _, _, is_fuzzy in spans)
            text = index.analysis.text[start:end]
            matches.append(TermMatch(term, start, end, text, fuzzy, negated))
    return matches


def _literal_matches(term: Term, literal: str, index: AnswerIndex) -> list[TermMatch]:
    """A term with no words (symbols, a lone particle): its normalised text, found as is."""
    matches: list[TermMatch] = []
    if not literal:
        return matches
    haystack = index.normalized.text
    found = haystack.find(literal)
    while found >= 0:
        matches.append(_span_match(term, found, found + len(literal), index))
        found = haystack.find(literal, found + 1)
    return matches


def _regex_matches(term: Term, index: AnswerIndex) -> list[TermMatch]:
    regex = compile_regex(term.text)
    matches: list[TermMatch] = []
    for found in regex.finditer(index.normalized.text):  # type: ignore[attr-defined]
        if found.end() > found.start():
            matches.append(_span_match(term, found.start(), found.end(), index))
    return matches


def _span_match(term: Term, start: int, end: int, index: AnswerIndex) -> TermMatch:
    """A match of normalised text ``[start, end)``; negated when all the words it covers are."""
    original_start, original_end = index.normalized.to_original_span(start, end)
    words = _overlapping(index, original_start, original_end)
    negated = term.negatable and bool(words) and all(word.negated for word in words)
    text = index.analysis.text[original_start:original_end]
    return TermMatch(term, original_start, original_end, text, False, negated)


def _overlapping(index: AnswerIndex, start: int, end: int) -> list[Token]:
    tokens = index.analysis.tokens
    position = max(0, bisect.bisect_right(index.starts, start) - 1)
    words: list[Token] = []
    while position < len(tokens) and tokens[position].start < end:
        if tokens[position].end > start:
            words.append(tokens[position])
        position += 1
    return words


def match_group(group: KeywordGroup, answer: Analysis | AnswerIndex) -> GroupResult:
    """Whether any term of ``group`` is met; a negated match is kept to explain a miss."""
    return _match_group(group, _index(answer))


def _match_group(group: KeywordGroup, index: AnswerIndex) -> GroupResult:
    matches = [_match_term(term, group.language, index) for term in group.terms]
    found = [match for match in matches if match is not None]
    credited = [match for match in found if not match.negated]
    if credited:
        return GroupResult(group, min(credited, key=_rank), None)
    return GroupResult(group, None, min(found, key=_rank, default=None))


def match_keywords(keywords: Keywords, answer: Analysis | AnswerIndex) -> KeywordResult:
    """The groups of the keyword language that gives the answer the most credit.

    Every language's groups are tried on the answer (a Korean answer may use English terms, an
    English keyword set applies to an English answer); ties go to the answer's language, then to
    the first language.
    """
    index = _index(answer)
    results = [
        KeywordResult(language, tuple(_match_group(group, index) for group in groups))
        for language, groups in keywords.by_language.items()
        if groups
    ]
    if not results:
        return KeywordResult(index.analysis.language, ())
    best = max(result.credit for result in results)
    top = [result for result in results if result.credit == best]
    return next((r for r in top if r.language == index.analysis.language), top[0])
