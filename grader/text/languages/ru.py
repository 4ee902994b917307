"""Russian: pymorphy3 lemmas for dictionary words, Snowball stems for the others, negation."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from grader.text.languages.base import IS_CYRILLIC_WORD, LanguageProfile, Negation, Script, WordInfo
from grader.text.languages.base import words as _words

_morph_lock = threading.Lock()


@lru_cache(maxsize=1)
def morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


_FUNCTION_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "PRED"})
_VERB_POS = frozenset({"VERB", "INFN", "GRND"})  # participles decline like adjectives
_PHRASE_CONJUNCTIONS = _words("и или либо")  # "без X и Y": Y is still after "без"

NEGATION = Negation(
    clause=_words("не нет ни никогда нельзя"),
    forward=_words("без"),
    forward_phrase_only=True,  # без + genitive: only the noun phrase after it
    not_before=_words("только лишь просто"),
    clause_words=_words("но а однако зато хотя тогда поскольку потому причём притом впрочем"),
    soft_words=_words("и или либо"),
)


def word(text: str) -> WordInfo:
    """A Cyrillic word's keys (see ``russian_word``); another word's Snowball stem."""
    from grader.text.languages.words import snowball_stem

    if IS_CYRILLIC_WORD.fullmatch(text):
        return russian_word(text)
    return WordInfo(snowball_stem(text, "ru"), True)


@lru_cache(maxsize=200_000)
def russian_word(word: str) -> WordInfo:
    """The comparison keys of a lower-case Cyrillic word.

    A dictionary word's key is its lemma. A word pymorphy3 does not know gets a Snowball stem:
    of the word itself for nouns and adjectives (pymorphy's guessed lemma of ``трансформеры`` is
    ``трансформера``), of the guessed lemma for verb forms, whose guesses are reliable and whose
    own stems are not (``масштабируются`` -> ``масштабир``, ``масштабироваться`` ->
    ``масштабирова``). The stem is a second key, so that ``масштабировать`` (known) matches
    ``масштабируются`` (unknown). ``in_phrase``: the word may be genitive (or does not decline),
    so it may follow "без".
    """
    from grader.text.languages.words import snowball

    plain = word.replace("\u0301", "").replace("\u0300", "").replace("ё", "е")
    analyzer = morph()
    with _morph_lock:
        parses = analyzer.parse(plain)
        known = analyzer.word_is_known(plain)
    parse = parses[0]
    lemma = str(parse.normal_form).replace("ё", "е")
    stemmer = snowball("ru")
    if known or parse.tag.POS in _VERB_POS:
        stem = str(stemmer.stemWord(lemma))
    else:
        stem = str(stemmer.stemWord(plain))
    genitive = plain in _PHRASE_CONJUNCTIONS or any(
        p.tag.case in ("gent", "gen2") or "Fixd" in p.tag for p in parses
    )
    norm = lemma if known else stem
    return WordInfo(norm, parse.tag.POS not in _FUNCTION_POS, stem, genitive)


PROFILE = LanguageProfile(
    code="ru",
    name="Russian",
    script=Script.CYRILLIC,
    segmenter="words at spaces and punctuation",
    lemmatiser=(
        "pymorphy3 lemmas for dictionary words, Snowball stems for unknown ones (and as a "
        "second key); ё compared as е"
    ),
    negation_cues="не, нет, ни, никогда (clause); без (the noun phrase after it); not 'не только'",
    negation=NEGATION,
    distributions=("pymorphy3", "pymorphy3-dicts-ru", "snowballstemmer"),
    word=word,
    retractions=(
        "это неправда",
        "это не так",
        "это неверно",
        "на самом деле наоборот",
        "всё наоборот",
        "на самом деле нет",
    ),
)
