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
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from grader.text.languages import LanguageProfile, Script, profile
from grader.text.languages.base import (
    AFFIX,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    CYRILLIC,
    FORWARD_NEGATOR,
    FUNCTION,
    HAN,
    HANGUL,
    KANA,
    LATIN,
    PHRASE_AFTER_NEGATOR,
    PHRASE_BEFORE_NEGATOR,
    PUNCT,
    SOFT_BREAK,
    VERB_PHRASE_NEGATOR,
    Analyser,
    Context,
    Raw,
    words,
)
from grader.text.languages.words import analyse_words, rejoin_latin_words
from grader.text.languages.words import word_norm as word_norm
from grader.text.normalize import normalize_text, normalize_with_spans


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


UNDETERMINED = "und"
CJK_LANGUAGES = frozenset({"ko", "ja", "zh"})
# Languages whose terms are matched as units across the segmenter's words
# (grader.evidence.keywords).
WRITTEN_TOGETHER = CJK_LANGUAGES | {"th"}

# --- scripts -----------------------------------------------------------------------------------

_KNOWN_SCRIPTS = HANGUL + KANA + HAN + CYRILLIC + LATIN
_SCRIPT_RUN = re.compile(
    f"(?P<ko>[{HANGUL}]+)|(?P<kana>[{KANA}]+)|(?P<han>[{HAN}]+)|(?P<cyr>[{CYRILLIC}]+)"
    f"|(?P<lat>[{LATIN}]+)|(?P<other>(?:(?![{_KNOWN_SCRIPTS}])[^\\W\\d_])+)"
)
_OTHER_SCRIPT_LANGUAGE = {
    "GREEK": "el",
    "ARABIC": "ar",
    "HEBREW": "he",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
    "THAI": "th",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
}
CYRILLIC_LANGUAGES = frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg", "tt"})
_NON_LATIN_LANGUAGES = (
    CJK_LANGUAGES | CYRILLIC_LANGUAGES | frozenset(_OTHER_SCRIPT_LANGUAGE.values()) | {"fa", "ur"}
)
_DETECTION_PREFIX = 100_000  # characters looked at by detect_language
_CJK_WEIGHT = 3  # a Hangul/kana/Han character counts as this many Latin letters


def is_latin_language(language: str) -> bool:
    primary = language.split("-")[0].lower()  # zh-TW is Chinese
    return primary not in _NON_LATIN_LANGUAGES and primary != UNDETERMINED


def detect_language(text: str, candidates: Sequence[str] = ()) -> str | None:
    """The language of ``text`` from its letters' scripts (None when it has no letters).

    Hangul -> ko; kana -> ja (with the Han characters around it); Han alone -> zh or ja, whichever
    ``candidates`` names first (zh when neither); Cyrillic -> ru or the first Cyrillic candidate;
    Latin -> the first Latin-script candidate (else en), unless lingua finds the text clearly in
    another Latin-script language among the candidates and those the multilingual encoder reads
    (``grader.text.languages.detect``; a text of fewer than four words never is). The script with
    the most letters wins, a CJK character counting as three letters (it carries about as much as
    three Latin letters), so a Korean answer with English terms is Korean.
    """
    counts: Counter[str] = Counter()
    normalized = normalize_with_spans(text).text[:_DETECTION_PREFIX]
    for match in _SCRIPT_RUN.finditer(normalized):
        group = match.lastgroup or "other"
        key = _other_script_language(match.group()) if group == "other" else group
        counts[key] += len(match.group())
    if not counts:
        return None
    cands = tuple(code.lower() for code in candidates)
    scores: Counter[str] = Counter()
    han = counts.pop("han", 0)
    if counts.get("kana"):
        scores["ja"] += _CJK_WEIGHT * (counts.pop("kana") + han)
    elif counts.get("ko"):
        scores["ko"] += _CJK_WEIGHT * han
    elif han:
        scores[_han_language(cands)] += _CJK_WEIGHT * han
    for key, count in counts.items():
        if key == "ko":
            scores["ko"] += _CJK_WEIGHT * count
        elif key == "cyr":
            scores[_cyrillic_language(cands)] += count
        elif key == "lat":
            scores[_latin_language(cands)] += count
        else:
            scores[key] += count
    best = max(scores, key=lambda code: scores[code])
    if "lat" in counts and best == _latin_language(cands):
        from grader.text.languages.detect import latin_language

        return latin_language(normalized, cands, best)
    return best


def _other_script_language(run: str) -> str:
    script = unicodedata.name(run[0], "").split(" ")[0]
    return _OTHER_SCRIPT_LANGUAGE.get(script, UNDETERMINED)


def _han_language(candidates: Sequence[str]) -> str:
    return next((code for code in candidates if code in ("zh", "ja")), "zh")


def _cyrillic_language(candidates: Sequence[str]) -> str:
    if "ru" in candidates:
        return "ru"
    return next((code for code in candidates if code in CYRILLIC_LANGUAGES), "ru")


def _latin_language(candidates: Sequence[str]) -> str:
    return next((code for code in candidates if is_latin_language(code)), "en")


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
    return _other_script_language(run)


def _segments(text: str, language: str) -> list[tuple[int, int, str]]:
    """(start, end, language) pieces covering ``text``, each for one analyser."""
    runs = [
        (m.start(), m.end(), m.lastgroup or "other", m.group()) for m in _SCRIPT_RUN.finditer(text)
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


def _mark_negation(raws: list[Raw], sentence_of: list[int]) -> list[bool]:
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
        analysis = _stored(text, key[1], store)
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
    negated = _mark_negation(raws, sentence_of)
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
