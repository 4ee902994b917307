"""Per-language analysis of answers: words, their comparison keys, sentences and negation.

The text is normalised (``grader.text.normalize``), cut into runs by script, and each run is
analysed with its language's analyser, so mixed answers (Korean with English terms, ...) work. What
each language gets (segmenter, lemmatiser or stemmer, stop words, negation cues, compound splitting)
is its profile in ``grader.text.languages`` (one module per language, see docs/languages.md): Kiwi
morphemes for Korean, Sudachi for Japanese, rjieba words for Chinese, PyThaiNLP for Thai,
pymorphy3 for Russian, Snowball for English, simplemma lemmas and Snowball stems for German,
French, Spanish, Portuguese, Italian, Dutch, Polish, Turkish and Swedish, and a normaliser and
light stemmer for Arabic; any other language gets Snowball stems where Snowball has it.
Latin letters and digits written together inside Korean, Japanese or Chinese text (``T5는``,
``GPT-4は``), which the segmenters cut differently from a Latin text (``T`` + ``5``), are
analysed again as a Latin text, so they get the same keys as in an English answer or term.

Tokens are words only: punctuation, Korean particles and endings (J*, E*, VCP, XS*) and Japanese
particles, auxiliaries and suffixes (助詞, 助動詞, 接尾辞) are analysed (they decide negation and
clause breaks) but not returned. ``Token.content`` is False for function words (stop words,
pronouns, auxiliary verbs, ...), which are returned and count as words between a phrase's words.
The parts of a compound (German, Dutch, Swedish, Chinese) are tokens of their own.

Negation: a clause ends at punctuation, at a sentence end, at contrastive conjunctions (but,
however, while, whereas, aber, mais, 하지만, しかし, но, 但是, لكن, ...), at English "and", after
Korean connective endings (-지만, -는데, -고, -아서, -라, ...) and Japanese conjunctive particles
(が, けど, のに, ...). A clause negator negates every word of its clause after the last soft break
("or", "и", "или", "und", "oder", "和", ...) before it, and every word after it: not, n't, never,
cannot, no longer (en); nicht, kein (de); pas, jamais (fr); не, нет, ни, никогда (ru); 아니다,
않다, 말다, 없다, 안/못 (ko); ない, ぬ/ん (ja); 不, 没(有), 无, 非 (zh); لا, ليس, لم (ar); ... (each
profile lists its cues). So in "GPT can generate text and BERT can't" only "BERT can't" is
negated, and in "it does not use recurrence or convolution" both nouns are. "without"/"no" (en),
"ohne", "sans", "sin", ... negate the rest of the clause after them; "без" (ru) only the noun
phrase after it (the words that can be genitive). 없이 (ko) and なし (ja, 重み更新なしで) negate
only the noun phrase right before them (when there is none, as in 重み更新はなし, their clause);
ず (ja, 使わずに) its verb phrase, back to the topic or subject particle (は, も, が). "not only"
/ "nicht nur" / "не только" / "不仅" / "뿐만 아니라" / "だけでなく" / "しか...ない" / "밖에 없다"
do not negate. ``retractions`` finds the sentences that take back what was said before them
("that is wrong", "das stimmt aber nicht").
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from grader.text.languages import LanguageProfile, Script, profile
from grader.text.languages.base import (
    CONTENT,
    FUNCTION,
    Analyser,
    Context,
    Raw,
)
from grader.text.languages.words import analyse_words, rejoin_latin_words
from grader.text.languages.words import word_norm as word_norm
from grader.text.normalize import normalize_text, normalize_with_spans
from grader.text.scripts import (
    CJK_LANGUAGES,
    CYRILLIC_LANGUAGES,
    SCRIPT_RUN,
    UNDETERMINED,
    detect_language,
    is_latin_language,
    other_script_language,
)
from grader.text.sentences import mark_negation, split_sentences


@dataclass(frozen=True, slots=True)  # slots: a large class has millions of tokens
class Token:
    """A word of an analysed text."""

    surface: str  # as in the original answer
    norm: str  # the comparison key (morpheme form, normalised form, lemma, stem, lower-case word)
    start: int  # character offsets in the original text
    end: int
    language: str  # analyser used for this token
    content: bool  # a content word (not a function word)
    negated: bool  # inside a negated clause
    stem: str = ""  # a second comparison key, "" when there is none (Russian: the Snowball stem)


@dataclass(frozen=True)
class Analysis:
    text: str
    language: str  # the declared or detected language ("und" when there is none)
    tokens: tuple[Token, ...]
    sentences: tuple[tuple[int, int], ...]  # (start, end) of each sentence in ``text``
    languages_present: tuple[str, ...]  # languages of the tokens, most tokens first


# --- segmentation into runs of one language -------------------------------------------------------


def _analyser(language: str) -> Analyser:
    """The language's own analyser, else words at spaces (keys from its profile, or Snowball)."""
    found = profile(language)
    if found is not None and found.analyser is not None:
        return found.analyser
    return lambda text, context: analyse_words(text, language)


def _run_language(group: str, run: str, language: str, has_kana: bool) -> str:
    if group == "ko":
        return "ko"
    if group == "kana":
        return "ja"
    if group == "han":
        if language in ("ja", "zh"):
            return language
        return "ja" if has_kana else "zh"
    if group == "cyr":
        return language if language in CYRILLIC_LANGUAGES else "ru"
    if group == "lat":
        return language if is_latin_language(language) else "en"
    return other_script_language(run)


def _segments(text: str, language: str) -> list[tuple[int, int, str]]:
    """(start, end, language) pieces covering ``text``, each for one analyser."""
    runs = [
        (m.start(), m.end(), m.lastgroup or "other", m.group()) for m in SCRIPT_RUN.finditer(text)
    ]
    if not runs:
        return [(0, len(text), language)] if text else []
    has_kana = any(group == "kana" for _, _, group, _ in runs)
    languages = [_run_language(group, run, language, has_kana) for _, _, group, run in runs]
    _glue_to_cjk(text, runs, languages)
    segments: list[tuple[int, int, str]] = []
    for (start, _, _, _), run_language in zip(runs, languages, strict=True):
        if segments and segments[-1][2] == run_language:
            continue
        if segments:
            previous_start, _, previous_language = segments[-1]
            segments[-1] = (previous_start, start, previous_language)
        segments.append((0 if not segments else start, len(text), run_language))
    return segments


def _glue_to_cjk(text: str, runs: list[tuple[int, int, str, str]], languages: list[str]) -> None:
    """A non-CJK run written against a CJK run with no space ("GPT는", "BERTは") joins it."""
    for index in range(len(runs)):
        if languages[index] in CJK_LANGUAGES:
            continue
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < len(runs) and languages[neighbour] in CJK_LANGUAGES:
                left, right = sorted((index, neighbour))
                if not any(ch.isspace() for ch in text[runs[left][1] : runs[right][0]]):
                    languages[index] = languages[neighbour]
                    break


# --- analysis ----------------------------------------------------------------------------------

_CACHE_CHARS = 20_000_000  # total characters of cached texts
_CACHE_ENTRIES = 8192
_cache: OrderedDict[tuple[str, str | None], Analysis] = OrderedDict()
_cached_chars = 0
_cache_lock = threading.Lock()
_analysis_lock = threading.RLock()


class StoredAnalyses(Protocol):
    """Analyses kept between runs (``grader.text.store``)."""

    def get(self, text: str, language: str | None) -> Analysis | None: ...

    def put(self, text: str, language: str | None, found: Analysis) -> None: ...


# The store of the grading run in progress, for the analyses of the bank's own texts (keyword
# terms, model answers, concepts) that scoring asks for deep inside: without it each `grader
# check` re-analyses them and loads their analysers (benchmarks/throughput.py, command latency).
# A context variable, not a module global: concurrent checks in `grader serve` each see their own.
_run_store: ContextVar[StoredAnalyses | None] = ContextVar("run_store", default=None)


@contextmanager
def keeping_analyses_in(store: StoredAnalyses | None) -> Iterator[None]:
    """Within the block, ``analyze`` without a store of its own looks in ``store``."""
    token = _run_store.set(store)
    try:
        yield
    finally:
        _run_store.reset(token)


def analyze(
    text: str, language: str | None = None, store: StoredAnalyses | None = None
) -> Analysis:
    """Analyse ``text`` (in ``language``, or the language detected from its script). Cached in
    memory; looked up in ``store`` (and saved there) before it is computed."""
    global _cached_chars
    key = (text, _primary_subtag(language) if language else None)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with _analysis_lock:
        analysis = _stored(text, key[1], store if store is not None else _run_store.get())
    with _cache_lock:
        _cache[key] = analysis
        _cached_chars += len(text)
        while len(_cache) > _CACHE_ENTRIES or (_cached_chars > _CACHE_CHARS and len(_cache) > 1):
            old_key, _ = _cache.popitem(last=False)
            _cached_chars -= len(old_key[0])
    return analysis


def _stored(text: str, language: str | None, store: StoredAnalyses | None) -> Analysis:
    found = store.get(text, language) if store is not None else None
    if found is None:
        found = _analyze(text, language)
        if store is not None:
            store.put(text, language, found)
    return found


def _primary_subtag(language: str) -> str:
    """The language code without region or script: ko-KR -> ko."""
    return language.strip().lower().replace("_", "-").split("-")[0] or UNDETERMINED


def _analyze(text: str, language: str | None) -> Analysis:
    normalized = normalize_with_spans(text)
    language = language or detect_language(text) or UNDETERMINED
    context = Context(
        latin=language if is_latin_language(language) else "en",
        cyrillic=language if language in CYRILLIC_LANGUAGES else "ru",
    )
    raws: list[Raw] = []
    for start, end, segment_language in _segments(normalized.text, language):
        segment = normalized.text[start:end]
        segment_raws = _analyser(segment_language)(segment, context)
        if segment_language in CJK_LANGUAGES:
            segment_raws = rejoin_latin_words(segment, segment_raws, context)
        for raw in segment_raws:
            raw.start += start
            raw.end += start
            raws.append(raw)
    sentences = split_sentences(text, language)
    original = [
        normalized.to_original_span(raw.start, min(raw.end, len(normalized.text))) for raw in raws
    ]
    sentence_starts = [start for start, _ in sentences]
    sentence_of = [bisect.bisect_right(sentence_starts, start) for start, _ in original]
    negated = mark_negation(raws, sentence_of)
    tokens = tuple(
        Token(
            text[start:end], raw.norm, start, end, raw.language, raw.kind == CONTENT, neg, raw.stem
        )
        for raw, (start, end), neg in zip(raws, original, negated, strict=True)
        if raw.kind in (FUNCTION, CONTENT)
    )
    return Analysis(text, language, tokens, tuple(sentences), languages_present(tokens))


def languages_present(tokens: tuple[Token, ...]) -> tuple[str, ...]:
    counts = Counter(token.language for token in tokens)
    return tuple(sorted(counts, key=lambda code: -counts[code]))  # stable: first seen wins ties


_CUE_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_WRITTEN_TOGETHER = frozenset({Script.HAN, Script.JAPANESE, Script.THAI, Script.HANGUL})


def retractions(analysis: Analysis) -> tuple[int, ...]:
    """The sentences (indexes into ``analysis.sentences``) that take back what was said before.

    A sentence with a retraction cue of the answer's language ("that is wrong", "das stimmt aber
    nicht", "这是错的", see each profile's ``retractions``) after a sentence that states
    something (two content words or more outside negated clauses).
    """
    found = profile(analysis.language)
    if found is None or not found.retractions:
        return ()
    starts = [token.start for token in analysis.tokens]
    taken_back: list[int] = []
    stated = False
    for index, (start, end) in enumerate(analysis.sentences):
        first, last = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
        if stated and _has_cue(analysis.text[start:end], found):
            taken_back.append(index)
        plain = sum(1 for t in analysis.tokens[first:last] if t.content and not t.negated)
        stated = stated or plain >= 2
    return tuple(taken_back)


def _has_cue(sentence: str, found: LanguageProfile) -> bool:
    fold = found.negation.fold or (lambda word: word)
    text = normalize_text(sentence)
    if found.script in _WRITTEN_TOGETHER:
        return any(normalize_text(cue) in text for cue in found.retractions)
    sentence_words = [fold(word) for word in _CUE_WORD.findall(text)]
    return any(
        _in_order([fold(word) for word in cue.split()], sentence_words) for cue in found.retractions
    )


def _in_order(cue: list[str], sentence_words: list[str]) -> bool:
    """Whether the cue's words occur in order with at most one other word between them."""
    for begin, word in enumerate(sentence_words):
        if word != cue[0]:
            continue
        position = begin
        for expected in cue[1:]:
            following = sentence_words[position + 1 : position + 3]
            if expected not in following:
                break
            position += 1 + following.index(expected)
        else:
            return True
    return False


def content_words(analysis: Analysis) -> frozenset[str]:
    """The comparison keys of the content words of ``analysis``."""
    return frozenset(token.norm for token in analysis.tokens if token.content)


def clear_cache() -> None:
    """Forget cached analyses (for tests and long-running processes)."""
    global _cached_chars
    with _cache_lock:
        _cache.clear()
        _cached_chars = 0
