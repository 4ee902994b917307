"""Rubric keyword matching against an analysed answer.

A term is analysed exactly as the answer was (``grader.analysis``, with the answer's language, so
English terms in a German answer get German stems like the answer's words) and matched on the
answer's word tokens by their comparison keys (stems, lemmas, morpheme forms):

* Space-separated scripts (English, Russian, ...): each word of the term must match one answer
  word, in order, with at most ``term.gap`` other words (function words included, punctuation
  not) between consecutive ones.
* Korean, Japanese and Chinese: the term's words written together form one unit, matched against
  one or more consecutive answer words whose keys join to the same string, starting and ending on
  word boundaries. So a term matches however the analyser splits it (``言語モデル`` matches
  ``言語`` + ``モデル``; a Chinese term matches its characters), ``디코더`` matches ``디코더는``
  (particles are not words), ``확장법칙`` matches ``확장의 법칙`` (the particle is skipped), and
  ``京都`` does not match inside ``東京都`` (one word), nor ``方向`` inside ``双方向``. Parts of
  a CJK term separated by spaces are units with up to ``term.gap`` words between them, or one
  unit written together (``확장 법칙`` matches ``확장법칙``). Particles and endings never count
  towards the gap.
* Misspellings (``term.fuzzy``, never for regexes): Levenshtein distance on the key or on the
  normalised word, 1 edit for words of 5-8 characters, 2 for longer ones, none for shorter words
  or words with digits; the first character must match (so ``encoder`` never matches
  ``decoder``). In CJK units 1 edit from 5 characters (``트렌스포머`` for ``트랜스포머``), never 2.
* ``re:`` terms are RE2 expressions (linear time), case-insensitive, searched in
  ``normalize_text(answer)``; spans are mapped back to the original answer.
* Negation: a match whose words lie in a negated clause (see ``grader.analysis``) earns nothing
  unless ``term.negatable`` is False. A term that itself states a negation ("not bidirectional",
  "양방향이 아니다") is not cancelled by its own negator. A regex match is negated when every word
  it overlaps is negated.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from grader.analysis import CJK_LANGUAGES, UNDETERMINED, Analysis, Token, analyze
from grader.model import KeywordGroup, Keywords, Term
from grader.normalize import NormalizedText, normalize_text, normalize_with_spans


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


# --- regular expressions -----------------------------------------------------------------------


def compile_regex(pattern: str) -> object:
    """Compile an RE2 pattern (case-insensitive); a bad pattern raises ValueError(message)."""
    return _compile_regex(pattern)


@lru_cache(maxsize=4096)
def _compile_regex(pattern: str) -> object:
    import re2

    if not pattern:
        raise ValueError("empty regular expression")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        message = error.args[0] if error.args else str(error)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression {pattern!r}: {message}") from None


# --- term patterns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    key: str  # comparison key (joined keys for a CJK unit)
    joined: bool  # a CJK unit: may span several answer words
    edits: int  # misspellings tolerated
    surface: str  # normalised surface, for misspelling tolerance


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
        if first.language not in CJK_LANGUAGES:
            surface = normalize_text(first.surface)
            units.append(_Unit(first.norm, False, _edits(surface, term), surface))
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
    if token.language not in CJK_LANGUAGES:
        return False
    return join_spaced or not any(ch.isspace() for ch in text[previous.end : token.start])


def _edits(surface: str, term: Term) -> int:
    if not term.fuzzy or any(ch.isdigit() for ch in surface) or len(surface) < 5:
        return 0
    return 1 if len(surface) <= 8 else 2


def _cjk_edits(key: str, term: Term) -> int:
    if not term.fuzzy or any(ch.isdigit() for ch in key) or len(key) < 5:
        return 0
    return 1


# --- the answer's index ------------------------------------------------------------------------


@dataclass
class _Index:
    analysis: Analysis
    norms: list[str]
    by_norm: dict[str, list[int]]
    by_first: dict[str, list[int]]  # first character of the key -> token positions
    sentence: list[int]  # sentence number of each token
    starts: list[int]
    surfaces: dict[int, str]  # normalised surfaces, filled on demand

    @property
    def normalized(self) -> NormalizedText:
        return normalize_with_spans(self.analysis.text)

    def surface(self, position: int) -> str:
        if position not in self.surfaces:
            self.surfaces[position] = normalize_text(self.analysis.tokens[position].surface)
        return self.surfaces[position]


_INDEX_ENTRIES = 256
_indexes: OrderedDict[int, _Index] = OrderedDict()
_index_lock = threading.Lock()


def _index(analysis: Analysis) -> _Index:
    with _index_lock:
        cached = _indexes.get(id(analysis))
        if cached is not None and cached.analysis is analysis:
            _indexes.move_to_end(id(analysis))
            return cached
    index = _build_index(analysis)
    with _index_lock:
        _indexes[id(analysis)] = index
        while len(_indexes) > _INDEX_ENTRIES:
            _indexes.popitem(last=False)
    return index


def _build_index(analysis: Analysis) -> _Index:
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
    return _Index(analysis, norms, by_norm, by_first, sentence, starts, {})


# --- finding units and phrases -----------------------------------------------------------------


@lru_cache(maxsize=1)
def _levenshtein() -> Any:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein


_Span = tuple[int, int, bool]  # first token, end token (exclusive), fuzzy


def _occurrences(unit: _Unit, index: _Index) -> dict[int, list[tuple[int, bool]]]:
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


def _word_exact(unit: _Unit, index: _Index) -> list[_Span]:
    return [(position, position + 1, False) for position in index.by_norm.get(unit.key, ())]


def _word_fuzzy(unit: _Unit, index: _Index) -> list[_Span]:
    levenshtein = _levenshtein()
    spans: list[_Span] = []
    for position in index.by_first.get(unit.key[:1], ()):
        norm = index.norms[position]
        if norm == unit.key:
            continue
        close = levenshtein.distance(norm, unit.key, score_cutoff=unit.edits) <= unit.edits
        if close or _surface_close(unit, index.surface(position)):
            spans.append((position, position + 1, True))
    return spans


def _surface_close(unit: _Unit, surface: str) -> bool:
    levenshtein = _levenshtein()
    if surface[:1] != unit.surface[:1]:
        return False
    return levenshtein.distance(surface, unit.surface, score_cutoff=unit.edits) <= unit.edits


def _joined_exact(unit: _Unit, index: _Index) -> list[_Span]:
    spans: list[_Span] = []
    key = unit.key
    for length in range(1, len(key) + 1):
        for start in index.by_norm.get(key[:length], ()):
            end = _join_to(key, start, index)
            if end is not None:
                spans.append((start, end, False))
    return spans


def _join_to(key: str, start: int, index: _Index) -> int | None:
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


def _joined_fuzzy(unit: _Unit, index: _Index) -> list[_Span]:
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
    if len(joined) < len(key) - edits or joined == key:
        return False
    return bool(levenshtein.distance(joined, key, score_cutoff=edits) <= edits)


def _phrase_spans(units: tuple[_Unit, ...], gap: int, index: _Index) -> list[list[_Span]]:
    """Each match of the units in order: the span of every unit."""
    occurrences = [_occurrences(unit, index) for unit in units]
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
    index: _Index,
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


def match_term(term: Term, language: str, analysis: Analysis) -> TermMatch | None:
    """The best match of ``term`` (a term of a ``language`` keyword group) in ``analysis``.

    Best: not negated, then exact rather than fuzzy, then earliest.
    """
    index = _index(analysis)
    if term.is_regex:
        candidates = _regex_matches(term, index)
    else:
        pattern = _term_pattern(term, _pattern_language(language, analysis))
        candidates = _term_matches(term, pattern, index)
    return min(candidates, key=_rank, default=None)


def _pattern_language(language: str, analysis: Analysis) -> str:
    """Terms are analysed as the answer was, so that their words get the same keys.

    The analyser of each word follows its script; the language only decides how Latin words are
    stemmed (English terms in a German answer are stemmed as German, like the answer's words) and
    whether Han characters are Japanese or Chinese. So the answer's language wins when it has one.
    """
    return language if analysis.language == UNDETERMINED else analysis.language


def _rank(match: TermMatch) -> tuple[bool, bool, int]:
    return match.negated, match.fuzzy, match.start


def _term_matches(term: Term, pattern: _Pattern, index: _Index) -> list[TermMatch]:
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


def _literal_matches(term: Term, literal: str, index: _Index) -> list[TermMatch]:
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


def _regex_matches(term: Term, index: _Index) -> list[TermMatch]:
    regex = compile_regex(term.text)
    matches: list[TermMatch] = []
    for found in regex.finditer(index.normalized.text):  # type: ignore[attr-defined]
        if found.end() > found.start():
            matches.append(_span_match(term, found.start(), found.end(), index))
    return matches


def _span_match(term: Term, start: int, end: int, index: _Index) -> TermMatch:
    """A match of normalised text ``[start, end)``; negated when all the words it covers are."""
    original_start, original_end = index.normalized.to_original_span(start, end)
    words = _overlapping(index, original_start, original_end)
    negated = term.negatable and bool(words) and all(word.negated for word in words)
    text = index.analysis.text[original_start:original_end]
    return TermMatch(term, original_start, original_end, text, False, negated)


def _overlapping(index: _Index, start: int, end: int) -> list[Token]:
    tokens = index.analysis.tokens
    position = max(0, bisect.bisect_right(index.starts, start) - 1)
    words: list[Token] = []
    while position < len(tokens) and tokens[position].start < end:
        if tokens[position].end > start:
            words.append(tokens[position])
        position += 1
    return words


def match_group(group: KeywordGroup, analysis: Analysis) -> GroupResult:
    """Whether any term of ``group`` is met; a negated match is kept to explain a miss."""
    matches = [match_term(term, group.language, analysis) for term in group.terms]
    found = [match for match in matches if match is not None]
    credited = [match for match in found if not match.negated]
    if credited:
        return GroupResult(group, min(credited, key=_rank), None)
    return GroupResult(group, None, min(found, key=_rank, default=None))


def match_keywords(keywords: Keywords, analysis: Analysis) -> KeywordResult:
    """The groups of the keyword language that gives the answer the most credit.

    Every language's groups are tried on the answer (a Korean answer may use English terms, an
    English keyword set applies to an English answer); ties go to the answer's language, then to
    the first language.
    """
    results = [
        KeywordResult(language, tuple(match_group(group, analysis) for group in groups))
        for language, groups in keywords.by_language.items()
        if groups
    ]
    if not results:
        return KeywordResult(analysis.language, ())
    best = max(result.credit for result in results)
    top = [result for result in results if result.credit == best]
    return next((r for r in top if r.language == analysis.language), top[0])
