"""Languages written with spaces between words (English, Russian, German, ...): words, their
keys from the language's profile, and negation from its cues.

Also the Latin and Cyrillic words written inside Korean, Japanese and Chinese text, which are
analysed as words of their own script (``foreign_word``, ``rejoin_latin_words``).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from grader.text.languages import profile
from grader.text.languages.base import (
    BOUNDARY_PUNCT,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    FORWARD_NEGATOR,
    FUNCTION,
    IS_CYRILLIC_WORD,
    IS_LATIN_WORD,
    LATIN,
    NO_BREAK,
    PHRASE_AFTER_NEGATOR,
    PUNCT,
    SOFT_BREAK,
    Context,
    Negation,
    Negator,
    Raw,
    WordInfo,
)

_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0900-\u0dff"
    "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
)
_WORD_TOKEN = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)*)"
    rf"|(?P<word>[^\W\d_](?:[^\W_]|[{_MARKS}]|'(?=[^\W_]))*)"
    r"|(?P<punct>[^\w\s])"
)

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


def snowball_name(language: str) -> str | None:
    return _SNOWBALL_NAMES.get(language)


@cache
def snowball(language: str) -> Any:
    """The Snowball stemmer of ``language`` (None when Snowball does not have it)."""
    name = _SNOWBALL_NAMES.get(language)
    if name is None:
        return None
    import snowballstemmer

    return snowballstemmer.stemmer(name)


def snowball_stem(word: str, language: str) -> str:
    stemmer = snowball(language)
    return word if stemmer is None else str(stemmer.stemWord(word))


@lru_cache(maxsize=200_000)
def word_info(word: str, language: str) -> WordInfo:
    """The keys of one (normalised, lower-case) word in a word-based language."""
    found = profile(language)
    if found is not None and found.word is not None:
        return found.word(word)
    return WordInfo(snowball_stem(word, language), True)


def word_norm(word: str, language: str) -> str:
    """The comparison key of one (normalised, lower-case) word in a word-based language."""
    return word_info(word, language).norm


def word_raws(word: str, start: int, end: int, language: str) -> list[Raw]:
    """A (normalised, lower-case) word: one raw token, or one for each part of a compound."""
    info = word_info(word, language)
    kind = CONTENT if info.content else FUNCTION
    if info.parts:
        return [
            Raw(start + first, start + last, key, language, kind) for first, last, key in info.parts
        ]
    return [Raw(start, end, info.norm, language, kind, stem=info.stem, in_phrase=info.in_phrase)]


def analyse_words(text: str, language: str) -> list[Raw]:
    raws: list[Raw] = []
    for match in _WORD_TOKEN.finditer(text):
        start, end = match.span()
        piece = match.group()
        if match.lastgroup == "punct":
            boundary = BREAK_AFTER if _is_boundary_punct(text, start, piece) else NO_BREAK
            raws.append(Raw(start, end, piece, language, PUNCT, boundary=boundary))
        elif match.lastgroup == "num":
            raws.append(Raw(start, end, piece, language, CONTENT))
        else:
            raws.extend(word_raws(piece, start, end, language))
    mark_word_negation(raws, text, language)
    return raws


def _is_boundary_punct(text: str, start: int, piece: str) -> bool:
    if piece == "-":  # a dash between spaces, not a hyphen inside a word
        return (start == 0 or text[start - 1] == " ") and text[start + 1 : start + 2] in ("", " ")
    return piece in BOUNDARY_PUNCT


_NO_NEGATION = Negation()


def negation_of(language: str) -> Negation:
    found = profile(language)
    return _NO_NEGATION if found is None else found.negation


def mark_word_negation(raws: list[Raw], text: str, language: str) -> None:
    """Clause breaks and negators of the words of ``raws``, from the language's cues."""
    cues = negation_of(language)
    words = [raw for raw in raws if raw.kind != PUNCT]
    surfaces = [text[raw.start : raw.end] for raw in words]
    if cues.fold is not None:
        surfaces = [cues.fold(surface) for surface in surfaces]
    for index, raw in enumerate(words):
        word = surfaces[index]
        following = surfaces[index + 1] if index + 1 < len(words) else ""
        if word in cues.clause_words and not _after_clause_negator(words, index):
            raw.boundary = BREAK_BEFORE
        elif word in cues.soft_words:
            raw.boundary = SOFT_BREAK
        if following in cues.not_before:
            continue
        if (
            word in cues.clause
            or _is_contracted(word, cues)
            or _after_particle(index, surfaces, cues)
        ):
            raw.negator = CLAUSE_NEGATOR
        elif word in cues.forward:
            raw.negator = _forward_kind(cues, following)


def _after_clause_negator(words: list[Raw], index: int) -> bool:
    """ "not because X", "nicht weil X": the clause word opens what the negator denies."""
    return index > 0 and words[index - 1].negator == CLAUSE_NEGATOR


def _is_contracted(word: str, cues: Negation) -> bool:
    return word.endswith(cues.suffixes) if cues.suffixes else False


def _after_particle(index: int, surfaces: list[str], cues: Negation) -> bool:
    """A word that negates only after a particle: French "plus" after "ne" (ne ... plus)."""
    if surfaces[index] not in cues.after_particle:
        return False
    before = surfaces[max(0, index - 3) : index]
    return any(word in cues.particles or word.startswith(cues.particle_prefixes) for word in before)


def _forward_kind(cues: Negation, following: str) -> Negator:
    if following in cues.clause_before:  # "no longer"
        return CLAUSE_NEGATOR
    return PHRASE_AFTER_NEGATOR if cues.forward_phrase_only else FORWARD_NEGATOR


# --- Latin and Cyrillic words inside Korean, Japanese and Chinese text -------------------------


def foreign_word(surface: str, start: int, end: int, context: Context) -> Raw | None:
    """A Latin or Cyrillic word inside a CJK run, analysed as a word of its own script."""
    if IS_LATIN_WORD.fullmatch(surface):
        language = context.latin
    elif IS_CYRILLIC_WORD.fullmatch(surface):
        language = context.cyrillic
    else:
        return None
    raws = word_raws(surface.lower(), start, end, language)
    if len(raws) == 1:
        return raws[0]
    # a compound's parts are joined again: CJK analysers return one token per word
    info = word_info(surface.lower(), language)
    return Raw(start, end, info.norm, language, raws[0].kind)


_LATIN_PIECE = re.compile(f"[{LATIN}0-9'._-]+")
_LATIN_LETTER = re.compile(f"[{LATIN}]")


def rejoin_latin_words(text: str, raws: list[Raw], context: Context) -> list[Raw]:
    """Latin letters and digits written together in a CJK text, read as a Latin text reads them.

    Kiwi and Sudachi cut ``T5`` (in ``T5는``, ``T5は``) into ``T`` + ``5``, and Sudachi keeps
    ``GPT-4`` whole where a Latin text has ``GPT`` + ``4``: each run of adjacent tokens made of
    Latin letters, digits and ``'._-`` is analysed again with the Latin analyser, so that it gets
    the keys it gets in an English answer or term.
    """
    result: list[Raw] = []
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


def _is_latin_piece(text: str, raws: list[Raw], first: int, position: int) -> bool:
    raw = raws[position]
    if position > first and raws[position - 1].end != raw.start:
        return False
    return _LATIN_PIECE.fullmatch(text[raw.start : raw.end]) is not None


def _has_alnum(text: str, raw: Raw) -> bool:
    return any(ch.isalnum() for ch in text[raw.start : raw.end])


def _reread_latin(text: str, raws: list[Raw], context: Context) -> list[Raw]:
    if not raws:
        return []
    start, end = raws[0].start, raws[-1].end
    piece = text[start:end]
    if not _LATIN_LETTER.search(piece) or (len(raws) == 1 and piece.isalpha()):
        return raws  # digits alone, or one plain word already analysed as a Latin word
    reread = analyse_words(piece, context.latin)
    for raw in reread:
        raw.start += start
        raw.end += start
    return reread
