"""Keys of words in the European languages with spaces: simplemma lemmas, then Snowball stems.

``simplemma`` (dictionaries for 50+ languages from Wiktionary and UD data, no dependencies)
gives the lemma, which takes care of irregular forms (``ging`` -> ``gehen``, ``fue`` -> ``ser``,
``Häuser`` -> ``Haus``); the Snowball stem of the lemma then joins derived and unknown forms
(a word simplemma does not know is its own lemma, and its stem still drops the inflection). Each
language's dictionary loads on the first word of that language (0.2 s for French, about 1 s for
German, 3-4 s for Polish on a shared CPU).

Compounds (German, Dutch): a word of 8 letters or more is split where it is made of two
dictionary words, the first maybe followed by a linking element (``Arbeit-s-platz``), the
first part itself split again when it is no dictionary word; the split with the fewest parts,
then the longest last part, wins. Each part is a token of its own (``grader.text.languages.words``),
so a term matches the parts of a compound, and a compound term matches the same compound.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache

from grader.text.languages.base import WordInfo

_lock = threading.Lock()  # simplemma's lazily built dictionaries are shared
ELISION = re.compile(r"^(?:[a-z]{1,2}|qu|jusqu|lorsqu|puisqu|quoiqu|dell|dall|nell|sull|all|anch)'")


@lru_cache(maxsize=200_000)
def lemma(word: str, language: str) -> str:
    """simplemma's lemma of a (normalised, lower-case) word, in lower case."""
    import simplemma

    with _lock:
        return str(simplemma.lemmatize(word, lang=language)).lower()


@lru_cache(maxsize=400_000)
def known(word: str, language: str) -> bool:
    import simplemma

    with _lock:
        return bool(simplemma.is_known(word, lang=language))


def key(word: str, language: str) -> str:
    """The comparison key: the Snowball stem of the lemma."""
    from grader.text.languages.words import snowball_stem

    return snowball_stem(lemma(word, language), language)


def word_analyser(
    language: str,
    stop_words: frozenset[str],
    elision: bool = False,
    links: tuple[str, ...] | None = None,
    rewrite: Callable[[str], str] | None = None,
) -> Callable[[str], WordInfo]:
    """A profile's ``word``: lemma-stem keys, stop words, elided articles (``l'attention``: the
    key of ``attention``), compound splitting with ``links`` (None: no splitting), and a
    ``rewrite`` of a word before its lemma is looked up (German ``-iert`` -> ``-ieren``)."""

    def word(text: str) -> WordInfo:
        plain = ELISION.sub("", text) if elision and "'" in text else text
        if rewrite is not None:
            plain = rewrite(plain)
        content = plain not in stop_words and text not in stop_words
        if not plain:
            return WordInfo(text, content)
        parts = compound_parts(plain, language, links) if links is not None and content else ()
        offset = len(text) - len(plain)
        if parts:
            return WordInfo(
                key(plain, language),
                content,
                parts=tuple((offset + start, offset + end, norm) for start, end, norm in parts),
            )
        return WordInfo(key(plain, language), content)

    return word


MIN_COMPOUND = 8  # letters
MIN_HEAD = 4  # the last part
MIN_MODIFIER = 3  # the other parts, without their linking element


def compound_parts(
    word: str, language: str, links: tuple[str, ...]
) -> tuple[tuple[int, int, str], ...]:
    """The parts of a compound: (start, end, key) of each; () when it is not one.

    Parts are split again, so that a word has the same parts alone and inside a longer compound
    (``Sauerstoff`` and ``Sauerstoffbläschen`` both have ``Sauer`` + ``stoff``). A word whose
    lemma is short is an inflected simple word, not a compound (``Modellen``: ``Modell``).
    """
    if len(word) < MIN_COMPOUND or not word.isalpha() or len(lemma(word, language)) < MIN_COMPOUND:
        return ()
    pieces = _pieces(word, language, links)
    if len(pieces) < 2:
        return ()
    parts: list[tuple[int, int, str]] = []
    start = 0
    for piece, base in pieces:
        parts.append((start, start + len(piece), key(base, language)))
        start += len(piece)
    return tuple(parts)


def _pieces(word: str, language: str, links: tuple[str, ...]) -> _Split:
    """``word`` split recursively: (as written, without its linking element) of each part."""
    split = _split(word, language, links) if len(word) >= MIN_COMPOUND else None
    if split is None:
        return [(word, word)]
    pieces: _Split = []
    for piece, base in split:
        inner = _pieces(base, language, links)
        link = piece[len(base) :]
        last, last_base = inner[-1]
        pieces.extend([*inner[:-1], (last + link, last_base)])
    return pieces


_Split = list[tuple[str, str]]  # (the part as written, the part without its linking element)


@lru_cache(maxsize=100_000)
def _split_cached(word: str, language: str, links: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = _best_split(word, language, links)
    return tuple(found) if found else ()


def _split(word: str, language: str, links: tuple[str, ...]) -> _Split | None:
    found = _split_cached(word, language, links)
    return list(found) if found else None


def _best_split(word: str, language: str, links: tuple[str, ...]) -> _Split | None:
    best: _Split | None = None
    for cut in range(len(word) - MIN_HEAD, MIN_MODIFIER - 1, -1):
        head = word[cut:]
        if not known(head, language):
            continue
        left = word[:cut]
        for link in ("", *links):
            if link and not left.endswith(link):
                continue
            modifier = left[: len(left) - len(link)]
            if len(modifier) < MIN_MODIFIER:
                continue
            if known(modifier, language):
                candidate: _Split = [(left, modifier), (head, head)]
            else:
                inner = _split(modifier, language, links) if len(modifier) >= MIN_COMPOUND else None
                if inner is None:
                    continue
                last, last_base = inner[-1]
                candidate = [*inner[:-1], (last + link, last_base), (head, head)]
            if best is None or _better(candidate, best):
                best = candidate
    return best


def _better(candidate: _Split, best: _Split) -> bool:
    if len(candidate) != len(best):
        return len(candidate) < len(best)
    return len(candidate[-1][0]) > len(best[-1][0])
