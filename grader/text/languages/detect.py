"""Which Latin-script language a text is in: lingua, restricted to the languages that can occur.

The script decides everything else (``grader.text.scripts.detect_language``): Hangul is Korean,
kana Japanese, and so on. Among Latin-script languages, the answer is the expected one (the
submission's bank's first Latin-script language, else English) unless the text clearly says
otherwise, because a wrong guess costs an honest answer its credit (a foreign-language penalty,
the wrong stemmer):

1. A text of fewer than ``MIN_WORDS`` words is in the expected language.
2. lingua in low-accuracy mode (trigrams: about 0.1 s to load for ten languages), among the
   bank's Latin-script languages and those the multilingual encoder reads, ranks the languages.
   When the expected one comes first, that is the answer.
3. Otherwise the quick guess's first three languages that have more of their stop words in the
   text than the expected language has are its rivals (none: the expected language). lingua in
   high-accuracy mode decides between them and the expected language (loading only their models,
   about 0.3 s each, once), and its choice stands with a confidence of ``MIN_CONFIDENCE`` or more.

Measured with ``benchmarks/languages.py --detection`` on the human-graded sets in
``../shared/datasets``: none of 12,643 English answers (Mohler, SemEval-2013, SAF) is taken for
another language in an English bank; 9 of 9,665 Portuguese answers of PT-ASAG in a Portuguese bank
are found to be English, and all 9 are (pasted song lyrics, "Do you know the way?"); in a German
bank, 90 % of the English answers are found to be English (most of the others are shorter than
four words). A detection costs about 0.1 ms per answer after the first (0.1 s).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

MIN_WORDS = 4
MIN_CONFIDENCE = 0.6
_FINALISTS = 3  # the quick guess's first languages, decided between with the expected one
_WORD = re.compile(r"[^\W\d_]+")
_lock = threading.Lock()


def latin_language(text: str, candidates: Sequence[str], expected: str) -> str:
    """The Latin-script language of ``text`` among ``candidates`` (with those the encoder
    reads), ``expected`` unless the text clearly is in another one."""
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS:
        return expected
    known = _lingua_languages()
    primary = _primary(expected)  # pt-BR is pt to lingua, and stays pt-BR when it wins
    pool = (primary, *map(_primary, candidates), *_encoder_latin())
    choices = tuple(sorted({code for code in pool if code in known}))
    if primary not in known or len(choices) < 2:
        return expected
    with _lock:
        guesses = _ranked(_detector(choices, low=True), text)
        if not guesses or guesses[0][0] == primary:
            return expected
        # only a language with more of its stop words in the text than the expected one's may
        # win: the others are left out before the (slower) high-accuracy models run
        own = _stop_words(words, primary)
        rivals = [code for code, _ in guesses[:_FINALISTS] if _stop_words(words, code) > own]
        if not rivals:
            return expected
        ranked = _ranked(_detector(tuple(sorted({primary, *rivals})), low=False), text)
    if not ranked or ranked[0][0] == primary or ranked[0][1] < MIN_CONFIDENCE:
        return expected
    return ranked[0][0]


def _primary(code: str) -> str:
    return code.split("-")[0].lower()


def _ranked(detector: Any, text: str) -> list[tuple[str, float]]:
    return [
        (value.language.iso_code_639_1.name.lower(), float(value.value))
        for value in detector.compute_language_confidence_values(text)
    ]


def _stop_words(words: list[str], language: str) -> int:
    from grader.text.languages import profile

    found = profile(language)
    stop_words = found.stop_words if found is not None else frozenset()
    return sum(word.lower() in stop_words for word in words)


@cache
def _encoder_latin() -> tuple[str, ...]:
    """The Latin-script languages the multilingual encoder reads."""
    from grader.text.languages import ENCODER_LANGUAGES
    from grader.text.scripts import is_latin_language

    primary = {code.split("-")[0].lower() for code in ENCODER_LANGUAGES}
    return tuple(sorted(code for code in primary if is_latin_language(code)))


@cache
def _lingua_languages() -> dict[str, Any]:
    """ISO 639-1 code -> lingua Language, for the Latin-script languages lingua knows."""
    from lingua import Language

    from grader.text.scripts import is_latin_language

    found = {}
    for language in Language.all():
        code = language.iso_code_639_1.name.lower()
        if is_latin_language(code):
            found[code] = language
    return found


@lru_cache(maxsize=64)
def _detector(codes: tuple[str, ...], low: bool) -> Any:
    from lingua import LanguageDetectorBuilder

    languages = [_lingua_languages()[code] for code in codes]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    return (builder.with_low_accuracy_mode() if low else builder).build()
