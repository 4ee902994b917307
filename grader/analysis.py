"""Per-language analysis of answers: words, their comparison keys, sentences and negation.

The text is normalised (``grader.normalize``), cut into runs by script, and each run is analysed
with its language's analyser, so mixed answers (Korean with English terms, ...) work:

* Korean: kiwipiepy (``Kiwi()``); the key is the morpheme form (``디코더는`` -> ``디코더``;
  ``키울수록`` -> ``키우``). Latin words glued to Korean (``GPT는``) go through Kiwi too and are
  then stemmed as Latin words. A determiner written against a noun is joined to it (Kiwi reads
  ``양방향이`` as ``양`` + ``방향`` but ``양방향`` alone as one noun: both give ``양방향``).
  Latin letters and digits written together inside Korean, Japanese or Chinese text (``T5는``,
  ``GPT-4は``), which Kiwi and Sudachi cut differently from a Latin text (``T`` + ``5``), are
  analysed again as a Latin text, so they get the same keys as in an English answer or term.
* Japanese: SudachiPy with sudachidict_core in split mode B (middle units: ``言語モデル`` is
  ``言語`` + ``モデル``, but ``東京都`` stays one word); the key is Sudachi's normalised form
  (``使わ`` -> ``使う``). Matching joins consecutive tokens (see ``grader.keywords``), so terms
  written as mode-C compounds still match.
* Russian: pymorphy3 (first parse's normal form) for dictionary words; words pymorphy does not know
  (``трансформеры``, whose guessed lemma is ``трансформера``) use the Snowball Russian stem instead,
  which is stable across their inflections, except for verb forms, which use the stem of their
  guessed lemma (the Snowball stems of ``масштабируются`` and ``масштабироваться`` differ).
  ``Token.stem`` is a second key, the Snowball stem of the lemma, which ``grader.keywords`` also
  matches on. ``ё`` is compared as ``е``.
* English: Snowball (Porter2) stems. Other Latin-script languages: Snowball when it has the
  language, else lower-case words. Chinese: one token per Han character.

Tokens are words only: punctuation, Korean particles and endings (J*, E*, VCP, XS*) and Japanese
particles, auxiliaries and suffixes (助詞, 助動詞, 接尾辞) are analysed (they decide negation and
clause breaks) but not returned. ``Token.content`` is False for function words (stop words,
pronouns, auxiliary verbs, ...), which are returned and count as words between a phrase's words.

Negation: a clause ends at punctuation, at a sentence end, at contrastive conjunctions (but,
however, while, whereas, 하지만, 그러나, しかし, но, а, ...), at English "and", after Korean
connective endings (-지만, -는데, -고, -아서, -라, ...) and Japanese conjunctive particles (が,
けど, のに, ...). A clause negator negates every word of its clause after the last soft break
("or", "и", "или", "und", "oder", ...) before it, and every word after it: not, n't, never,
cannot, no longer (en); не, нет, ни, никогда (ru); 아니다, 않다, 말다, 없다, 안/못 (ko); ない,
ぬ/ん (ja); 不, 没, 无, 非 (zh). So in "GPT can generate text and BERT can't" only "BERT can't" is
negated, and in "it does not use recurrence or convolution" both nouns are. "without"/"no" (en)
negate the rest of the clause after them; "без" (ru) only the noun phrase after it (the words
that can be genitive). 없이 (ko) and なし (ja, 重み更新なしで) negate only the noun phrase right
before them (when there is none, as in 重み更新はなし, their clause); ず (ja, 使わずに) its verb
phrase, back to the topic or subject particle (は, も, が). "not only" / "не только" / "뿐만
아니라" / "だけでなく" / "しか...ない" / "밖에 없다" do not negate.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple, Protocol

from grader.normalize import normalize_with_spans


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

# --- scripts -----------------------------------------------------------------------------------

_HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\ud7b0-\ud7ff"
_KANA = "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9d"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3007\U00020000-\U0003134f"
_CYRILLIC = "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
_LATIN = "A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u1e00-\u1eff"
_KNOWN_SCRIPTS = _HANGUL + _KANA + _HAN + _CYRILLIC + _LATIN
_SCRIPT_RUN = re.compile(
    f"(?P<ko>[{_HANGUL}]+)|(?P<kana>[{_KANA}]+)|(?P<han>[{_HAN}]+)|(?P<cyr>[{_CYRILLIC}]+)"
    f"|(?P<lat>[{_LATIN}]+)|(?P<other>(?:(?![{_KNOWN_SCRIPTS}])[^\\W\\d_])+)"
)
_IS_LATIN_WORD = re.compile(f"[{_LATIN}0-9'._-]*[{_LATIN}][{_LATIN}0-9'._-]*")
_IS_CYRILLIC_WORD = re.compile(f"[{_CYRILLIC}0-9'-]*[{_CYRILLIC}][{_CYRILLIC}0-9'-]*")
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
    return language not in _NON_LATIN_LANGUAGES and language != UNDETERMINED


def detect_language(text: str, candidates: Sequence[str] = ()) -> str | None:
    """The language of ``text`` from its letters' scripts (None when it has no letters).

    Hangul -> ko; kana -> ja (with the Han characters around it); Han alone -> zh or ja, whichever
    ``candidates`` names first (zh when neither); Cyrillic -> ru or the first Cyrillic candidate;
    Latin -> the first Latin-script candidate, else en. The script with the most letters wins, a
    CJK character counting as three letters (it carries about as much as three Latin letters), so
    a Korean answer with English terms is Korean.
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
    return max(scores, key=lambda code: scores[code])


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


# --- raw tokens --------------------------------------------------------------------------------

_PUNCT, _AFFIX, _FUNCTION, _CONTENT = range(4)  # what a raw token is
# What a negator negates: its clause (back to the last soft break, on to the clause end); the rest
# of the clause after it; the noun phrase just before it (없이, なしで) or just after it (без); or
# its verb phrase, back to the topic or subject particle (ず).
_NOT_NEGATOR, _CLAUSE_NEGATOR, _FORWARD_NEGATOR = range(3)
_PHRASE_BEFORE_NEGATOR, _PHRASE_AFTER_NEGATOR, _VERB_PHRASE_NEGATOR = range(3, 6)
# A soft break (before the token: "or", "и") stops a clause negator's reach backwards only.
_NO_BREAK, _BREAK_BEFORE, _BREAK_AFTER, _SOFT_BREAK = range(4)


@dataclass(slots=True)
class _Raw:
    """A token as an analyser sees it; offsets are in the normalised text."""

    start: int
    end: int
    norm: str
    language: str
    kind: int
    negator: int = _NOT_NEGATOR
    boundary: int = _NO_BREAK
    stem: str = ""  # a second comparison key (Russian: the Snowball stem)
    in_phrase: bool = True  # may be part of the noun phrase of a phrase negator
    topic: bool = False  # a topic or subject particle: a verb phrase starts after it


@dataclass(frozen=True)
class _Context:
    latin: str  # the language Latin words are analysed as
    cyrillic: str


_Analyser = Callable[[str, _Context], list[_Raw]]

_CHUNK_LIMIT = 3000  # characters per analyser call (Sudachi refuses more than 49149 bytes)
_CHUNK_BREAK = re.compile(r"[.!?。！？]\s*|\s")


def _chunks(text: str, limit: int = _CHUNK_LIMIT) -> list[tuple[int, str]]:
    """``text`` cut into pieces of at most ``limit`` characters, at sentence ends where possible."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max((m.end() for m in _CHUNK_BREAK.finditer(window, limit // 2)), default=limit)
        pieces.append((start, window[:cut]))
        start += cut
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


# --- word-based languages (en, ru, and any other language with spaces) --------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0900-\u0dff"
_WORD_TOKEN = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W\d_](?:[^\W_]|[{_MARKS}]|'(?=[^\W_]))*)"
    r"|(?P<punct>[^\w\s])"
)
_BOUNDARY_PUNCT = frozenset(',;:()[]{}"!?.。、，；：！？「」『』（）【】《》〈〉…')

_EN_STOPWORDS = _words(
    """a an the and or but if of to in on at by for with from as is are was were be been being am
    do does did doing have has had having it its this that these those there their theirs they them
    he him his she her hers we us our ours you your yours i me my mine not no so than then too very
    can could will would shall should may might must which who whom whose what when where why how
    all any each every also just only into onto about over under more most such both either neither
    nor own same other some up down out off again further once here because while until whereas
    although though yet however it's let's there's that's what's one ones something anything"""
)
_NEGATORS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # (clause, forward)
    "en": (
        _words(
            """not never cannot nor neither none nobody nothing nowhere dont doesnt didnt isnt
            arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt mustnt neednt
            aint"""
        ),
        _words("no without"),
    ),
    "ru": (_words("не нет ни никогда нельзя"), _words("без")),
    "de": (_words("nicht kein keine keinen keinem keiner keines nie niemals"), _words("ohne")),
    "fr": (_words("ne pas jamais aucun aucune"), _words("sans")),
    "es": (_words("no nunca jamás tampoco"), _words("sin")),
}
_NOT_A_NEGATION_BEFORE: dict[str, frozenset[str]] = {  # "not only", "не только"
    "en": _words("only just merely simply"),
    "ru": _words("только лишь просто"),
    "de": _words("nur"),
    "fr": _words("seulement"),
    "es": _words("solo sólo"),
}
_CLAUSE_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "and but however although though whereas while whilst yet instead unlike because since"
    ),
    "ru": _words("но а однако зато хотя тогда поскольку потому причём притом впрочем"),
    "de": _words("aber sondern jedoch obwohl während weil"),
    "fr": _words("mais cependant pourtant tandis car"),
    "es": _words("pero sino aunque mientras porque"),
}
_SOFT_CLAUSE_WORDS: dict[str, frozenset[str]] = {  # a negator after them does not reach back
    "en": _words("or"),
    "ru": _words("и или либо"),
    "de": _words("und oder"),
    "fr": _words("et ou"),
    "es": _words("y e o u"),
}
_RU_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "PRED"})
_SNOWBALL_NAMES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}  # fmt: skip


@cache
def _snowball(language: str) -> Any:
    name = _SNOWBALL_NAMES.get(language)
    if name is None:
        return None
    import snowballstemmer

    return snowballstemmer.stemmer(name)


@lru_cache(maxsize=200_000)
def word_norm(word: str, language: str) -> str:
    """The comparison key of one (normalised, lower-case) word in a word-based language."""
    if language == "ru" and _IS_CYRILLIC_WORD.fullmatch(word):
        return _russian_word(word).norm
    stemmer = _snowball(language)
    if stemmer is None:
        return word
    return str(stemmer.stemWord(word))


def _word_kind(word: str, language: str) -> int:
    if language == "en":
        return _FUNCTION if word in _EN_STOPWORDS or word.endswith("n't") else _CONTENT
    if language == "ru" and _IS_CYRILLIC_WORD.fullmatch(word):
        return _CONTENT if _russian_word(word).content else _FUNCTION
    return _CONTENT


def _word_raw(word: str, start: int, end: int, language: str) -> _Raw:
    """A (normalised, lower-case) word of a word-based language."""
    raw = _Raw(start, end, word_norm(word, language), language, _word_kind(word, language))
    if language == "ru" and _IS_CYRILLIC_WORD.fullmatch(word):
        russian = _russian_word(word)
        raw.stem, raw.in_phrase = russian.stem, russian.genitive
    return raw


def _analyse_words(text: str, language: str) -> list[_Raw]:
    raws: list[_Raw] = []
    for match in _WORD_TOKEN.finditer(text):
        start, end = match.span()
        piece = match.group()
        if match.lastgroup == "punct":
            boundary = _BREAK_AFTER if _is_boundary_punct(text, start, piece) else _NO_BREAK
            raws.append(_Raw(start, end, piece, language, _PUNCT, boundary=boundary))
        elif match.lastgroup == "num":
            raws.append(_Raw(start, end, piece, language, _CONTENT))
        else:
            raws.append(_word_raw(piece, start, end, language))
    _mark_word_negation(raws, text, language)
    return raws


def _is_boundary_punct(text: str, start: int, piece: str) -> bool:
    if piece == "-":  # a dash between spaces, not a hyphen inside a word
        return (start == 0 or text[start - 1] == " ") and text[start + 1 : start + 2] in ("", " ")
    return piece in _BOUNDARY_PUNCT


def _mark_word_negation(raws: list[_Raw], text: str, language: str) -> None:
    clause_negators, forward_negators = _NEGATORS.get(language, (frozenset(), frozenset()))
    clause_words = _CLAUSE_WORDS.get(language, frozenset())
    soft_words = _SOFT_CLAUSE_WORDS.get(language, frozenset())
    exceptions = _NOT_A_NEGATION_BEFORE.get(language, frozenset())
    words = [raw for raw in raws if raw.kind != _PUNCT]
    for index, raw in enumerate(words):
        word = text[raw.start : raw.end]
        following = (
            text[words[index + 1].start : words[index + 1].end] if index + 1 < len(words) else ""
        )
        if word in clause_words:
            raw.boundary = _BREAK_BEFORE
        elif word in soft_words:
            raw.boundary = _SOFT_BREAK
        if following in exceptions:
            continue
        if word in clause_negators or _is_contracted_negation(word, language):
            raw.negator = _CLAUSE_NEGATOR
        elif word in forward_negators:
            raw.negator = _forward_negator_kind(language, following)


def _forward_negator_kind(language: str, following: str) -> int:
    if language == "en" and following == "longer":  # "no longer"
        return _CLAUSE_NEGATOR
    return _PHRASE_AFTER_NEGATOR if language == "ru" else _FORWARD_NEGATOR  # без + genitive


def _is_contracted_negation(word: str, language: str) -> bool:
    if language == "en":
        return word.endswith("n't")
    return language == "fr" and word.startswith("n'")


def _english(text: str, context: _Context) -> list[_Raw]:
    return _analyse_words(text, "en")


# --- Russian -----------------------------------------------------------------------------------

_morph_lock = threading.Lock()


@lru_cache(maxsize=1)
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


_RU_VERB_POS = frozenset({"VERB", "INFN", "GRND"})  # participles decline like adjectives
_RU_PHRASE_CONJUNCTIONS = _words("и или либо")  # "без X и Y": Y is still after "без"


class _RussianWord(NamedTuple):
    norm: str  # the lemma of a dictionary word, else a Snowball stem
    content: bool  # a content word
    stem: str  # the Snowball stem of the lemma (of the word itself for unknown non-verbs)
    genitive: bool  # may be genitive (or does not decline): may follow "без"


@lru_cache(maxsize=200_000)
def _russian_word(word: str) -> _RussianWord:
    """The comparison keys of a lower-case Cyrillic word.

    A dictionary word's key is its lemma. A word pymorphy3 does not know gets a Snowball stem:
    of the word itself for nouns and adjectives (pymorphy's guessed lemma of ``трансформеры`` is
    ``трансформера``), of the guessed lemma for verb forms, whose guesses are reliable and whose
    own stems are not (``масштабируются`` -> ``масштабир``, ``масштабироваться`` ->
    ``масштабирова``). The stem is a second key, so that ``масштабировать`` (known) matches
    ``масштабируются`` (unknown).
    """
    plain = word.replace("\u0301", "").replace("\u0300", "").replace("ё", "е")
    morph = _morph()
    with _morph_lock:
        parses = morph.parse(plain)
        known = morph.word_is_known(plain)
    parse = parses[0]
    lemma = str(parse.normal_form).replace("ё", "е")
    stemmer = _snowball("ru")
    if known or parse.tag.POS in _RU_VERB_POS:
        stem = str(stemmer.stemWord(lemma))
    else:
        stem = str(stemmer.stemWord(plain))
    genitive = plain in _RU_PHRASE_CONJUNCTIONS or any(
        p.tag.case in ("gent", "gen2") or "Fixd" in p.tag for p in parses
    )
    norm = lemma if known else stem
    return _RussianWord(norm, parse.tag.POS not in _RU_FUNCTION_POS, stem, genitive)


def _russian(text: str, context: _Context) -> list[_Raw]:
    return _analyse_words(text, "ru")


# --- Korean ------------------------------------------------------------------------------------

_KO_PUNCT_TAGS = frozenset({"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "SB"})
_KO_BOUNDARY_TAGS = frozenset({"SF", "SP", "SS", "SSO", "SSC", "SE"})
_KO_AFFIX_TAGS = frozenset({"VCP", "XSV", "XSA", "XSN", "XSM", "Z_CODA", "Z_SIOT", "UN"})
_KO_NOUN_AFFIX_TAGS = frozenset({"XSN", "Z_CODA", "Z_SIOT"})
_KO_FUNCTION_TAGS = frozenset({"VCN", "VX", "NNB", "NP", "MM", "MAJ", "IC", "XPN"})
_KO_FUNCTION_FORMS = frozenset({"하", "되", "있", "없", "이", "그", "저", "것", "수"})
_KO_CONTRAST = _words("하지만 그러나 그런데 그렇지만 그래도 반면 반면에 단")
_KO_CLAUSE_ENDINGS = _words(
    """지만 는데 ᆫ데 은데 데 고 으나 나 라 면서 으면서 며 으며 어서 아서 여서 니까 으니까 므로 으므로
    면 으면 어도 아도 여도 더라도 는데도 ᆫ데도 거나 든지 ᆫ지만 는지"""
)


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    from kiwipiepy import Kiwi

    # Without the multi-word dictionary: it halves Kiwi's start (about 2.3 s to 1.1 s cold) and
    # changed 4 of 684 Korean lines of the banks, rubrics, tests and seeds, each by splitting a
    # compound noun ("자연어 처리" -> "자연어", "처리"); terms and answers are analysed alike.
    kiwi = Kiwi(load_multi_dict=False)
    kiwi.tokenize("준비")  # the first call loads the model: do it here, once
    return kiwi


def _korean(text: str, context: _Context) -> list[_Raw]:
    kiwi = _kiwi()
    chunks = _chunks(text)
    raws: list[_Raw] = []
    tags: list[str] = []
    forms: list[str] = []
    for (offset, _), tokens in zip(
        chunks, kiwi.tokenize([piece for _, piece in chunks]), strict=True
    ):
        for token in tokens:
            start = offset + token.start
            end = start + max(token.len, 1)
            tag = str(token.tag).split("-")[0]
            raws.append(_korean_raw(text[start:end], str(token.form), tag, start, end, context))
            tags.append(tag)
            forms.append(str(token.form))
    _join_korean_prefixes(raws, tags, forms)
    _mark_korean_negation(raws, tags, forms)
    return raws


def _join_korean_prefixes(raws: list[_Raw], tags: list[str], forms: list[str]) -> None:
    """A determiner written against a noun is one word: Kiwi reads 양방향이 as 양 + 방향, but
    양방향 alone as one noun; joining them gives both the same key (for content-word overlap)."""
    index = len(raws) - 2
    while index >= 0:
        first, second = raws[index], raws[index + 1]
        if tags[index] == "MM" and tags[index + 1] in ("NNG", "NNP") and first.end == second.start:
            second.start, second.norm = first.start, first.norm + second.norm
            forms[index + 1] = second.norm
            del raws[index], tags[index], forms[index]
        index -= 1


def _korean_raw(surface: str, form: str, tag: str, start: int, end: int, context: _Context) -> _Raw:
    if tag in _KO_PUNCT_TAGS and not _IS_CYRILLIC_WORD.fullmatch(surface):
        boundary = _BREAK_AFTER if tag in _KO_BOUNDARY_TAGS else _NO_BREAK
        return _Raw(start, end, surface, "ko", _PUNCT, boundary=boundary)
    if tag[0] in "JE" or tag in _KO_AFFIX_TAGS:  # noun suffixes stay inside a noun phrase
        return _Raw(start, end, form, "ko", _AFFIX, in_phrase=tag in _KO_NOUN_AFFIX_TAGS)
    foreign = _foreign_word(surface, start, end, context)
    if foreign is not None:
        return foreign
    if tag in _KO_FUNCTION_TAGS or form in _KO_FUNCTION_FORMS:
        return _Raw(start, end, form, "ko", _FUNCTION)
    return _Raw(start, end, form, "ko", _CONTENT)


def _foreign_word(surface: str, start: int, end: int, context: _Context) -> _Raw | None:
    """A Latin or Cyrillic word inside a CJK run, analysed as a word of its own script."""
    if _IS_LATIN_WORD.fullmatch(surface):
        language = context.latin
    elif _IS_CYRILLIC_WORD.fullmatch(surface):
        language = context.cyrillic
    else:
        return None
    return _word_raw(surface.lower(), start, end, language)


_LATIN_PIECE = re.compile(f"[{_LATIN}0-9'._-]+")
_LATIN_LETTER = re.compile(f"[{_LATIN}]")


def _rejoin_latin_words(text: str, raws: list[_Raw], context: _Context) -> list[_Raw]:
    """Latin letters and digits written together in a CJK text, read as a Latin text reads them.

    Kiwi and Sudachi cut ``T5`` (in ``T5는``, ``T5は``) into ``T`` + ``5``, and Sudachi keeps
    ``GPT-4`` whole where a Latin text has ``GPT`` + ``4``: each run of adjacent tokens made of
    Latin letters, digits and ``'._-`` is analysed again with the Latin analyser, so that it gets
    the keys it gets in an English answer or term.
    """
    result: list[_Raw] = []
    index = 0
    while index < len(raws):
        end = index
        while end < len(raws) and _is_latin_piece(text, raws, index, end):
            end += 1
        if end == index:
            result.append(raws[index])
            index += 1
            continue
        first, last = index, end  # without punctuation at either end ("T5." ends a sentence)
        while first < last and not _has_alnum(text, raws[first]):
            first += 1
        while last > first and not _has_alnum(text, raws[last - 1]):
            last -= 1
        result.extend(raws[index:first])
        result.extend(_reread_latin(text, raws[first:last], context))
        result.extend(raws[last:end])
        index = end
    return result


def _is_latin_piece(text: str, raws: list[_Raw], first: int, position: int) -> bool:
    raw = raws[position]
    if position > first and raws[position - 1].end != raw.start:
        return False
    return _LATIN_PIECE.fullmatch(text[raw.start : raw.end]) is not None


def _has_alnum(text: str, raw: _Raw) -> bool:
    return any(ch.isalnum() for ch in text[raw.start : raw.end])


def _reread_latin(text: str, raws: list[_Raw], context: _Context) -> list[_Raw]:
    if not raws:
        return []
    start, end = raws[0].start, raws[-1].end
    piece = text[start:end]
    if not _LATIN_LETTER.search(piece) or (len(raws) == 1 and piece.isalpha()):
        return raws  # digits alone, or one plain word already analysed as a Latin word
    reread = _analyse_words(piece, context.latin)
    for raw in reread:
        raw.start += start
        raw.end += start
    return reread


def _mark_korean_negation(raws: list[_Raw], tags: list[str], forms: list[str]) -> None:
    for index, (raw, tag, form) in enumerate(zip(raws, tags, forms, strict=True)):
        before = forms[max(0, index - 3) : index]
        if (tag == "MAJ" and form in _KO_CONTRAST) or (tag == "NNG" and form == "반면"):
            raw.boundary = _BREAK_BEFORE
        elif tag == "EC" and (form in _KO_CLAUSE_ENDINGS or _follows_negator(raws, index)):
            raw.boundary = _BREAK_AFTER
        if _is_korean_negator(tag, form, before):
            # 가중치 변경 없이: only the noun phrase before it
            raw.negator = _PHRASE_BEFORE_NEGATOR if form == "없이" else _CLAUSE_NEGATOR


def _is_korean_negator(tag: str, form: str, before: list[str]) -> bool:
    if tag == "VCN":  # 아니다; "뿐만 아니라" (not only) is not a negation
        return "뿐" not in before
    if (tag == "VX" and form in ("않", "말")) or (tag == "VA" and form == "없"):
        return "밖에" not in before  # "X밖에 없다" means "only X"
    return tag == "MAG" and form in ("안", "못", "없이")


def _follows_negator(raws: list[_Raw], index: int) -> bool:
    return index > 0 and raws[index - 1].negator == _CLAUSE_NEGATOR


# --- Japanese ----------------------------------------------------------------------------------

_JA_FUNCTION_POS = frozenset({"代名詞", "連体詞", "接続詞", "感動詞"})
_JA_AFFIX_POS = frozenset({"助詞", "助動詞", "接尾辞"})
_JA_STOP_FORMS = frozenset({"事", "物", "為", "様", "所", "此れ", "其れ", "為る", "有る", "居る"})
_JA_CLAUSE_PARTICLES = _words("が けど けれど けれども のに ながら ものの し")
_JA_NOT_A_NEGATION_AFTER = frozenset({"しか", "だけ", "のみ", "ばかり"})


@lru_cache(maxsize=1)
def _sudachi() -> tuple[Any, Any]:
    from sudachipy import Dictionary, SplitMode

    dictionary = Dictionary(dict="core")
    return dictionary, dictionary.tokenizer(mode=SplitMode.B)


@lru_cache(maxsize=4096)
def _japanese_pos(pos_id: int) -> tuple[str, ...]:
    return tuple(_sudachi()[0].pos_of(pos_id))


_sudachi_lock = threading.Lock()


def _japanese(text: str, context: _Context) -> list[_Raw]:
    _, tokenizer = _sudachi()
    raws: list[_Raw] = []
    infos: list[tuple[tuple[str, ...], str, str]] = []  # (pos, surface, normalised form)
    for offset, piece in _chunks(text):
        with _sudachi_lock:
            morphemes = [
                (m.begin(), m.end(), m.surface(), m.normalized_form(), m.part_of_speech_id())
                for m in tokenizer.tokenize(piece)
            ]
        for begin, end, surface, normalized, pos_id in morphemes:
            if begin == end:
                continue
            pos = _japanese_pos(pos_id)
            raws.append(
                _japanese_raw(surface, normalized, pos, offset + begin, offset + end, context)
            )
            infos.append((pos, surface, normalized))
    _mark_japanese_negation(raws, infos)
    return raws


def _japanese_raw(
    surface: str, normalized: str, pos: tuple[str, ...], start: int, end: int, context: _Context
) -> _Raw:
    if pos[0] in ("補助記号", "空白") or (pos[0] == "記号" and not surface.isalnum()):
        boundary = _BREAK_AFTER if surface in _BOUNDARY_PUNCT else _NO_BREAK
        return _Raw(start, end, surface, "ja", _PUNCT, boundary=boundary)
    if pos[0] in _JA_AFFIX_POS:  # suffixes stay inside a noun phrase; は/も/が end a topic
        topic = (pos[1] == "係助詞" and surface in ("は", "も")) or (
            pos[1] == "格助詞" and surface == "が"
        )
        in_phrase = pos[0] == "接尾辞"
        return _Raw(start, end, normalized, "ja", _AFFIX, in_phrase=in_phrase, topic=topic)
    foreign = _foreign_word(surface, start, end, context)
    if foreign is not None:
        return foreign
    if pos[0] in _JA_FUNCTION_POS or pos[1] == "非自立可能" or normalized in _JA_STOP_FORMS:
        return _Raw(start, end, normalized, "ja", _FUNCTION)
    return _Raw(start, end, normalized, "ja", _CONTENT)


def _mark_japanese_negation(
    raws: list[_Raw], infos: list[tuple[tuple[str, ...], str, str]]
) -> None:
    for index, (raw, (pos, surface, normalized)) in enumerate(zip(raws, infos, strict=True)):
        if pos[0] == "接続詞":
            raw.boundary = _BREAK_BEFORE
        elif pos[1] == "接続助詞" and surface in _JA_CLAUSE_PARTICLES:
            raw.boundary = _BREAK_AFTER
        if not _is_japanese_negator(pos, normalized):
            continue
        before = {info[1] for info in infos[max(0, index - 3) : index]}
        if before & _JA_NOT_A_NEGATION_AFTER:  # しか...ない (only), だけでなく (not only)
            continue
        raw.negator = _japanese_negator_kind(pos, surface)
        if pos[5].startswith("連用形") and index + 1 < len(infos):
            _end_clause_after_negation(raws, infos, index)


def _japanese_negator_kind(pos: tuple[str, ...], surface: str) -> int:
    """ず negates its verb phrase (使わずに; not ません, also ず to Sudachi), なし the noun
    phrase before it (重み更新なしで)."""
    if pos[0] == "助動詞" and surface == "ず":
        return _VERB_PHRASE_NEGATOR
    if pos[0] == "名詞":
        return _PHRASE_BEFORE_NEGATOR
    return _CLAUSE_NEGATOR


def _end_clause_after_negation(
    raws: list[_Raw], infos: list[tuple[tuple[str, ...], str, str]], index: int
) -> None:
    """A negation in 連用形 ends its clause: 双方向ではなく一方向だ, 使わないで予測する,
    使わずに予測する."""
    following_pos, following_surface, _ = infos[index + 1]
    if _is_japanese_adverbial_particle(following_pos, following_surface):
        raws[index + 1].boundary = _BREAK_AFTER
    elif following_pos[0] not in ("補助記号", "助詞", "助動詞"):
        raws[index].boundary = _BREAK_AFTER


def _is_japanese_adverbial_particle(pos: tuple[str, ...], surface: str) -> bool:
    """て/で (使わないで) or に (使わずに) after a negation in 連用形."""
    if pos[1] == "接続助詞":
        return surface in ("て", "で")
    return pos[0] == "助詞" and surface == "に"


def _is_japanese_negator(pos: tuple[str, ...], normalized: str) -> bool:
    if pos[0] == "助動詞":
        return normalized in ("ない", "ず", "ぬ")
    if pos[0] == "名詞":
        return normalized in ("無し", "なし")
    return (pos[0] == "形容詞" and normalized in ("無い", "ない")) or normalized == "無し"


# --- Chinese -----------------------------------------------------------------------------------

_ZH_TOKEN = re.compile(
    rf"(?P<han>[{_HAN}])|(?P<num>\d+(?:[.,]\d+)*)|(?P<word>[^\W\d_]+)|(?P<punct>[^\w\s])"
)
_ZH_FUNCTION = frozenset("的了是在和与也就都及或被把这那之着过吗呢吧啊")
_ZH_NEGATORS = frozenset("不没沒无無未非别別莫")
_ZH_NOT_A_NEGATION_BEFORE = frozenset("仅僅只但")  # 不仅 / 不只 / 不但: "not only"
_ZH_CLAUSE_WORDS = frozenset("但却卻而")


def _chinese(text: str, context: _Context) -> list[_Raw]:
    raws: list[_Raw] = []
    for match in _ZH_TOKEN.finditer(text):
        start, end = match.span()
        piece = match.group()
        if match.lastgroup == "punct":
            boundary = _BREAK_AFTER if piece in _BOUNDARY_PUNCT else _NO_BREAK
            raws.append(_Raw(start, end, piece, "zh", _PUNCT, boundary=boundary))
        elif match.lastgroup == "han":
            raws.append(_chinese_raw(text, start, piece))
        else:
            foreign = _foreign_word(piece, start, end, context)
            raws.append(foreign or _Raw(start, end, piece, "zh", _CONTENT))
    return raws


def _chinese_raw(text: str, start: int, char: str) -> _Raw:
    kind = _FUNCTION if char in _ZH_FUNCTION else _CONTENT
    raw = _Raw(start, start + 1, char, "zh", kind)
    if char in _ZH_CLAUSE_WORDS:
        raw.boundary = _BREAK_BEFORE
    if char in _ZH_NEGATORS and text[start + 1 : start + 2] not in _ZH_NOT_A_NEGATION_BEFORE:
        raw.negator = _CLAUSE_NEGATOR
    return raw


# --- segmentation into runs of one language -------------------------------------------------------


def _analyser(language: str) -> _Analyser:
    special: dict[str, _Analyser] = {
        "ko": _korean,
        "ja": _japanese,
        "zh": _chinese,
        "ru": _russian,
        "en": _english,
    }
    return special.get(language) or (lambda text, context: _analyse_words(text, language))


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

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)|[。！？｡]+[」』”’)\]）]*|[!?！？]+|\n")
_ABBREVIATIONS = _words(
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


def _mark_negation(raws: list[_Raw], sentence_of: list[int]) -> list[bool]:
    negated = [False] * len(raws)
    clause: list[int] = []
    for index, raw in enumerate(raws):
        new_sentence = index > 0 and sentence_of[index] != sentence_of[index - 1]
        if raw.boundary == _BREAK_BEFORE or new_sentence:
            _negate_clause(raws, clause, negated)
            clause = []
        clause.append(index)
        if raw.boundary == _BREAK_AFTER:
            _negate_clause(raws, clause, negated)
            clause = []
    _negate_clause(raws, clause, negated)
    return negated


def _negate_clause(raws: list[_Raw], clause: list[int], negated: list[bool]) -> None:
    """Mark what the negators of one clause (token positions ``clause``) negate."""
    if not any(raws[index].negator for index in clause):
        return
    negated_from = len(clause)  # the clause is negated from here to its end
    segment_start = 0  # the clause position after the last soft break
    phrase_start = 0  # where a verb phrase may start: after the last topic particle
    for position, index in enumerate(clause):
        raw = raws[index]
        if raw.boundary == _SOFT_BREAK:
            segment_start = phrase_start = position
        if raw.negator == _CLAUSE_NEGATOR:
            negated_from = min(negated_from, segment_start)
        elif raw.negator == _FORWARD_NEGATOR:
            negated_from = min(negated_from, position)
        elif raw.negator == _PHRASE_BEFORE_NEGATOR:
            first = _phrase_start(raws, clause, segment_start, position)
            if first == position:  # no noun phrase right before it: the clause
                negated_from = min(negated_from, segment_start)
            _negate(clause, first, position + 1, negated)
        elif raw.negator == _PHRASE_AFTER_NEGATOR:
            last = position + 1
            while last < len(clause) and _in_phrase(raws[clause[last]]):
                last += 1
            _negate(clause, position, last, negated)
        elif raw.negator == _VERB_PHRASE_NEGATOR:
            _negate(clause, phrase_start, position + 1, negated)
        if raw.topic:
            phrase_start = position + 1
    _negate(clause, negated_from, len(clause), negated)


def _phrase_start(raws: list[_Raw], clause: list[int], segment_start: int, position: int) -> int:
    """The clause position where the noun phrase before ``position`` starts (``position`` when
    there is none); one particle between them is skipped (예시도 없이, 重み更新はなし)."""
    first = position
    if first > segment_start and raws[clause[first - 1]].kind == _AFFIX:
        first -= 1
    words_end = first
    while first > segment_start and _in_phrase(raws[clause[first - 1]]):
        first -= 1
    return first if first < words_end else position


def _in_phrase(raw: _Raw) -> bool:
    return raw.kind != _PUNCT and raw.in_phrase and raw.boundary != _BREAK_BEFORE


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


def analyze(text: str, language: str | None = None) -> Analysis:
    """Analyse ``text`` (in ``language``, or the language detected from its script). Cached."""
    global _cached_chars
    key = (text, _primary_subtag(language) if language else None)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with _analysis_lock:
        analysis = _stored(text, key[1])
    with _cache_lock:
        _cache[key] = analysis
        _cached_chars += len(text)
        while len(_cache) > _CACHE_ENTRIES or (_cached_chars > _CACHE_CHARS and len(_cache) > 1):
            old_key, _ = _cache.popitem(last=False)
            _cached_chars -= len(old_key[0])
    return analysis


class _Store(Protocol):
    def get(self, text: str, language: str | None) -> Analysis | None: ...

    def put(self, text: str, language: str | None, found: Analysis) -> None: ...


_store: _Store | None = None  # analyses kept between runs (grader.analysis_store)


def use_store(store: _Store | None) -> _Store | None:
    """Look analyses up in ``store`` before computing them (None: no store); the previous one."""
    global _store
    with _analysis_lock:
        previous, _store = _store, store
    return previous


def _stored(text: str, language: str | None) -> Analysis:
    found = _store.get(text, language) if _store is not None else None
    if found is None:
        found = _analyze(text, language)
        if _store is not None:
            _store.put(text, language, found)
    return found


def _primary_subtag(language: str) -> str:
    """The language code without region or script: ko-KR -> ko."""
    return language.strip().lower().replace("_", "-").split("-")[0] or UNDETERMINED


def _analyze(text: str, language: str | None) -> Analysis:
    normalized = normalize_with_spans(text)
    language = language or detect_language(text) or UNDETERMINED
    context = _Context(
        latin=language if is_latin_language(language) else "en",
        cyrillic=language if language in CYRILLIC_LANGUAGES else "ru",
    )
    raws: list[_Raw] = []
    for start, end, segment_language in _segments(normalized.text, language):
        segment = normalized.text[start:end]
        segment_raws = _analyser(segment_language)(segment, context)
        if segment_language in CJK_LANGUAGES:
            segment_raws = _rejoin_latin_words(segment, segment_raws, context)
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
            text[start:end], raw.norm, start, end, raw.language, raw.kind == _CONTENT, neg, raw.stem
        )
        for raw, (start, end), neg in zip(raws, original, negated, strict=True)
        if raw.kind in (_FUNCTION, _CONTENT)
    )
    return Analysis(text, language, tokens, tuple(sentences), languages_present(tokens))


def languages_present(tokens: tuple[Token, ...]) -> tuple[str, ...]:
    counts = Counter(token.language for token in tokens)
    return tuple(sorted(counts, key=lambda code: -counts[code]))  # stable: first seen wins ties


def content_words(analysis: Analysis) -> frozenset[str]:
    """The comparison keys of the content words of ``analysis``."""
    return frozenset(token.norm for token in analysis.tokens if token.content)


def clear_cache() -> None:
    """Forget cached analyses (for tests and long-running processes)."""
    global _cached_chars
    with _cache_lock:
        _cache.clear()
        _cached_chars = 0
