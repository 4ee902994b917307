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
from dataclasses import dataclass

from grader.bank import KeywordGroup, Keywords, Term
from grader.evidence.phrases import phrase_spans
from grader.evidence.term_index import AnswerIndex, Pattern, _index, term_pattern, term_scripts
from grader.text.analysis import Analysis, Token
from grader.text.regex import compile_regex
from grader.text.scripts import UNDETERMINED


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


def _cannot_match(term: Term, index: AnswerIndex) -> bool:
    if term.is_regex:
        return False
    scripts = term_scripts(term.text)
    return scripts is not None and not (scripts & index.scripts)


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
        pattern = term_pattern(term, pattern_language)
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


def _term_matches(term: Term, pattern: Pattern, index: AnswerIndex) -> list[TermMatch]:
    if not pattern.alternatives:
        return _literal_matches(term, pattern.literal, index)
    tokens = index.analysis.tokens
    negatable = term.negatable and not pattern.states_negation
    matches: list[TermMatch] = []
    for units in pattern.alternatives:
        for spans in phrase_spans(units, term.gap, index):
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
