"""Text normalisation with a map back to the original characters.

``normalize_text`` is the comparison form of a text: NFKC (so full-width and half-width forms become
their ordinary forms), case-folded, zero-width / bidi / other format characters removed, quotes and
dashes unified, look-alike letters inside mixed-script words mapped to the word's main script, and
whitespace collapsed to single spaces (no leading or trailing space).

``normalize_with_offsets`` also returns, for every character of the normalised text, the index of
the original character it came from, so that spans found in the normalised text (regex matches,
analyser tokens) can be shown in the original answer. ``normalize_with_spans`` adds the end of each
character's source (a base letter with its combining marks is one source unit), which is what
``to_original_span`` uses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache


# What a source character turns into.
class _CharKind(IntEnum):
    """What a character becomes in the comparison form."""

    NORMAL = 0  # one or more output characters
    REMOVED = 1  # nothing (zero-width, bidi controls, other format and control characters)
    SPACE = 2  # whitespace: collapsed to one space
    MARK = 3  # continues the previous character's cluster (combining marks, conjoining jamo)


_NORMAL, _REMOVED, _SPACE, _MARK = _CharKind

_PUNCTUATION = {
    **dict.fromkeys("‘’‚‛′‵`´＇", "'"),
    **dict.fromkeys("“”„‟″‶«»〝〞〟＂", '"'),
    **dict.fromkeys("‐‑‒–—―−⁃﹘﹣－", "-"),
}
_ALWAYS_REMOVED = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)]  # variation selectors
    + [chr(c) for c in range(0xE0100, 0xE01F0)]
    + ["\u034f", "\u115f", "\u1160", "\u3164", "\uffa0"]  # grapheme joiner, Hangul fillers
)

# Look-alikes between Latin and Cyrillic/Greek, after case folding: only applied inside a word that
# mixes scripts, towards the script most of the word's letters are in.
_CYRILLIC_TO_LATIN = dict(zip("аеорсухіјѕԁԛԝѵкмнтв", "aeopcyxijsdqwvkmhtb", strict=True))
_GREEK_TO_LATIN = dict(zip("αορικνυ", "aopikvu", strict=True))
_LATIN_TO_CYRILLIC = dict(zip("aeopcyxijskmhtb", "аеорсухіјѕкмнтв", strict=True))
_TO_LATIN = {**_CYRILLIC_TO_LATIN, **_GREEK_TO_LATIN}

_CYRILLIC = "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
_GREEK = "\u0370-\u03ff\u1f00-\u1fff"
_LATIN = "a-z\u00df-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_HAS_MIXABLE = re.compile(f"[{_CYRILLIC}{_GREEK}]")
_HAS_LATIN = re.compile(f"[{_LATIN}]")
_WORD = re.compile(r"[^\W\d_]+")
_NON_SPACE_RUN = re.compile(r"[^ ]+")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised text with the source span of each of its characters."""

    text: str
    starts: list[int]  # index in the original text of each normalised character
    ends: list[int]  # end (exclusive) of that character's source unit in the original text

    def to_original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the normalised span ``[start, end)`` (``end > start``)."""
        return self.starts[start], self.ends[end - 1]


def normalize_text(text: str) -> str:
    """The comparison form of ``text`` (see the module docstring)."""
    if len(text) <= _SHORT:
        return _normalize_short(text)
    return normalize_with_spans(text).text


_SHORT = 200  # texts up to this length are cached by their normalised form alone


@lru_cache(maxsize=65536)
def _normalize_short(text: str) -> str:
    return _normalize(text).text


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, its index in ``text``."""
    normalized = normalize_with_spans(text)
    return normalized.text, list(normalized.starts)


@lru_cache(maxsize=256)
def normalize_with_spans(text: str) -> NormalizedText:
    """The normalised text with the start and end in ``text`` of each character's source.

    Cached: callers must not modify the returned lists.
    """
    return _normalize(text)


def _normalize(text: str) -> NormalizedText:
    kinds = {ch: _char_info(ch) for ch in set(text)}
    if all(kind in (_NORMAL, _SPACE) for kind, _ in kinds.values()):
        out, starts, ends = _normalize_simple(text, kinds)
    else:
        out, starts, ends = _normalize_general(text, kinds)
    if _HAS_MIXABLE.search(out) and _HAS_LATIN.search(out):
        out = _unify_mixed_words(out)
    return NormalizedText(out, starts, ends)


@lru_cache(maxsize=65536)
def _char_info(ch: str) -> tuple[_CharKind, str]:
    if ch in _PUNCTUATION:
        return _NORMAL, _PUNCTUATION[ch]
    if ch.isspace():
        return _SPACE, " "
    category = unicodedata.category(ch)
    if ch in _ALWAYS_REMOVED or category in ("Cf", "Cc", "Cs"):
        return _REMOVED, ""
    if "\u3131" <= ch <= "\u318e":  # Hangul compatibility jamo (ㅋㅋ): NFKC would conjoin them
        return _NORMAL, ch
    folded = "".join(_PUNCTUATION.get(part, part) for part in _fold(ch))  # "‴" folds to "′′′"
    if " " in folded and not folded.isspace():  # spacing diacritics: "¨" is " " + a combining mark
        folded = folded.replace(" ", "")
        if unicodedata.combining(folded[0]):
            return _REMOVED, ""
    if not folded:
        return _REMOVED, ""
    if folded.isspace():
        return _SPACE, " "
    if _continues_cluster(ch, folded):
        return _MARK, folded
    return _NORMAL, folded


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKC", text).casefold())


def _continues_cluster(ch: str, folded: str) -> bool:
    if "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff":  # conjoining jamo vowels/finals
        return True
    first = folded[0]
    return unicodedata.combining(first) != 0 or unicodedata.category(first) in ("Mn", "Me")


def _normalize_simple(
    text: str, kinds: dict[str, tuple[_CharKind, str]]
) -> tuple[str, list[int], list[int]]:
    """Fast path: no removed characters and no combining marks, so each source char stands alone."""
    table = {ord(ch): piece for ch, (_, piece) in kinds.items() if piece != ch}
    one_to_one = all(len(piece) == 1 for _, piece in kinds.values())
    translated = text.translate(table) if table else text
    if one_to_one:
        source = list(range(len(text)))
    else:
        source = [i for i, ch in enumerate(text) for _ in range(len(kinds[ch][1]))]
    pieces: list[str] = []
    starts: list[int] = []
    for match in _NON_SPACE_RUN.finditer(translated):
        if pieces:
            pieces.append(" ")
            starts.append(source[match.start() - 1])
        pieces.append(match.group())
        starts.extend(source[match.start() : match.end()])
    return "".join(pieces), starts, [start + 1 for start in starts]


def _normalize_general(
    text: str, kinds: dict[str, tuple[_CharKind, str]]
) -> tuple[str, list[int], list[int]]:
    """Character by character, composing clusters (base letter + combining marks)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    space_at = -1  # index of a pending whitespace run, written before the next visible character
    cluster: list[str] = []  # source characters of the current cluster
    cluster_start = cluster_out = 0
    for index, ch in enumerate(text):
        kind, piece = kinds[ch]
        if kind == _REMOVED:
            continue
        if kind == _SPACE:
            if space_at < 0:
                space_at = index
            cluster = []
            continue
        if kind == _MARK and cluster:
            cluster.append(ch)
            composed = _fold("".join(cluster))
            del out[cluster_out:], starts[cluster_out:], ends[cluster_out:]
            out.extend(composed)
            starts.extend([cluster_start] * len(composed))
            ends.extend([index + 1] * len(composed))
            continue
        if space_at >= 0 and out:
            out.append(" ")
            starts.append(space_at)
            ends.append(space_at + 1)
        space_at = -1
        cluster, cluster_start, cluster_out = [ch], index, len(out)
        out.extend(piece)
        starts.extend([index] * len(piece))
        ends.extend([index + 1] * len(piece))
    return "".join(out), starts, ends


def _unify_mixed_words(text: str) -> str:
    """Map look-alike letters in words that mix Latin with Cyrillic or Greek (same length)."""
    chars: list[str] | None = None
    for match in _WORD.finditer(text):
        word = match.group()
        replaced = _unify_word(word)
        if replaced != word:
            if chars is None:
                chars = list(text)
            chars[match.start() : match.end()] = replaced
    return "".join(chars) if chars is not None else text


def _unify_word(word: str) -> str:
    latin = len(_HAS_LATIN.findall(word))
    other = len(_HAS_MIXABLE.findall(word))
    if not latin or not other:
        return word
    if latin >= other:
        minority = [ch for ch in word if _HAS_MIXABLE.match(ch)]
        if all(ch in _TO_LATIN for ch in minority):
            return "".join(_TO_LATIN.get(ch, ch) for ch in word)
        return word
    minority = [ch for ch in word if _HAS_LATIN.match(ch)]
    if all(ch in _LATIN_TO_CYRILLIC for ch in minority) and re.search(f"[{_CYRILLIC}]", word):
        return "".join(_LATIN_TO_CYRILLIC.get(ch, ch) for ch in word)
    return word
