"""What every language module shares: the raw token an analyser returns, the shape of a language
profile, and the cues of negation.

An analyser turns a run of normalised text in its language into ``Raw`` tokens (words, affixes
and punctuation, with offsets in that run); ``grader.text.analysis`` merges the runs, splits the
sentences and marks negation over the merged stream from each token's ``negator`` and
``boundary``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """What a raw token is."""

    PUNCT = 0
    AFFIX = 1
    FUNCTION = 2
    CONTENT = 3


class Negator(IntEnum):
    """What a negator negates: its clause (back to the last soft break, on to the clause end); the
    rest of the clause after it; the noun phrase just before it (없이, なしで) or just after it
    (без); or its verb phrase, back to the topic or subject particle (ず)."""

    NONE = 0
    CLAUSE = 1
    FORWARD = 2
    PHRASE_BEFORE = 3
    PHRASE_AFTER = 4
    VERB_PHRASE = 5


class Break(IntEnum):
    """Where a token breaks a clause; a soft break (before the token: "or", "и") stops a clause
    negator's reach backwards only."""

    NONE = 0
    BEFORE = 1
    AFTER = 2
    SOFT = 3


# The members by their short names, as the analysers write them (a global name reads faster than
# an enum attribute in the per-token loops).
PUNCT, AFFIX, FUNCTION, CONTENT = Kind
NOT_NEGATOR, CLAUSE_NEGATOR, FORWARD_NEGATOR, PHRASE_BEFORE_NEGATOR = tuple(Negator)[:4]
PHRASE_AFTER_NEGATOR, VERB_PHRASE_NEGATOR = tuple(Negator)[4:]
NO_BREAK, BREAK_BEFORE, BREAK_AFTER, SOFT_BREAK = Break

BOUNDARY_PUNCT = frozenset(',;:()[]{}"!?.。、，；：！？「」『』（）【】《》〈〉…،؛؟')


@dataclass(slots=True)
class Raw:
    """A token as an analyser sees it; offsets are in the normalised text."""

    start: int
    end: int
    norm: str
    language: str
    kind: Kind
    negator: Negator = Negator.NONE
    boundary: Break = Break.NONE
    stem: str = ""  # a second comparison key (Russian: the Snowball stem)
    in_phrase: bool = True  # may be part of the noun phrase of a phrase negator
    topic: bool = False  # a topic or subject particle: a verb phrase starts after it


@dataclass(frozen=True)
class Context:
    latin: str  # the language Latin words are analysed as
    cyrillic: str


Analyser = Callable[[str, Context], list[Raw]]


class WordInfo(NamedTuple):
    """What a word-based language's analyser says about one (normalised, lower-case) word."""

    norm: str  # the comparison key: lemma, stem, or the word
    content: bool  # a content word (not a stop word)
    stem: str = ""  # a second comparison key ("" when there is none)
    in_phrase: bool = True  # may follow a phrase negator (Russian: may be genitive, after без)
    # A compound's parts: (start, end) in the word and the part's key. Each part is a token of
    # its own, so a term matches the parts of a compound (Sauerstoff in Sauerstoffbläschen).
    parts: tuple[tuple[int, int, str], ...] = ()


WordAnalyser = Callable[[str], WordInfo]


class Script(Enum):
    LATIN = "Latin"
    CYRILLIC = "Cyrillic"
    HANGUL = "Hangul"
    JAPANESE = "kana and kanji"
    HAN = "Han (simplified and traditional)"
    ARABIC = "Arabic"
    THAI = "Thai"


@dataclass(frozen=True)
class Negation:
    """The words that negate a clause, and the words that end one, in a word-based language.

    ``clause``: negate their clause (back to the last soft break, on to its end): "not", "nicht".
    ``forward``: negate the rest of the clause after them ("without", "ohne"), or, with
    ``forward_phrase_only``, only the noun phrase after them (Russian "без").
    ``not_before``: a negator followed by one of them is no negation ("not only", "nicht nur").
    ``clause_words``: start a new clause ("but", "aber"); ``soft_words``: a clause negator after
    them does not reach back over them ("or", "und").
    ``suffixes``: contracted negations ("n't" in English).
    ``after_particle``: negate their clause only after one of ``particles`` (or a word starting
    with one of ``particle_prefixes``) among the three words before them: French "plus" in
    "ne ... plus", "n'utilise plus" ("plus" alone means "more").
    ``clause_before``: a forward negator followed by one of them negates its clause ("no longer").
    ``fold``: how a word is written in these lists (Arabic: without diacritics; None: as is).
    """

    clause: frozenset[str] = frozenset()
    forward: frozenset[str] = frozenset()
    not_before: frozenset[str] = frozenset()
    clause_words: frozenset[str] = frozenset()
    soft_words: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    after_particle: frozenset[str] = frozenset()
    particles: frozenset[str] = frozenset()
    particle_prefixes: tuple[str, ...] = ()
    clause_before: frozenset[str] = frozenset()
    forward_phrase_only: bool = False
    fold: Callable[[str], str] | None = None


@dataclass(frozen=True)
class LanguageProfile:
    """Everything the grader does for one language, in one place.

    ``word`` (word-based languages) or ``analyser`` (languages with their own segmenter) does the
    work; the other fields say what it does, for ``grader languages`` and the documentation.
    Neither may load anything when the profile is imported: analysers load on first use.
    """

    code: str  # ISO 639-1
    name: str
    script: Script
    segmenter: str  # how words are found
    lemmatiser: str  # how a word gets its comparison key
    negation_cues: str  # examples, for people
    stop_words: frozenset[str] = frozenset()
    negation: Negation = field(default_factory=Negation)
    compounds: str = ""  # how compounds are split ("" when they are not)
    # Sentences that take back what was said before them ("that is wrong", "das stimmt nicht"):
    # phrases, matched in a later sentence with at most one other word between their words.
    retractions: tuple[str, ...] = ()
    sentences: str = "at . ! ? … (not after common abbreviations), 。！？ and line breaks"
    distributions: tuple[str, ...] = ()  # the pip packages its analyser loads
    word: WordAnalyser | None = None
    analyser: Analyser | None = None


def words(text: str) -> frozenset[str]:
    """A set of words written one after another, for the word lists of the profiles."""
    return frozenset(text.split())


# --- scripts -----------------------------------------------------------------------------------

HANGUL = "\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\ud7b0-\ud7ff"
KANA = "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9d"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u3007\U00020000-\U0003134f"
CYRILLIC = "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
LATIN = "A-Za-z\u00aa\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u1e00-\u1eff"
IS_LATIN_WORD = re.compile(f"[{LATIN}0-9'._-]*[{LATIN}][{LATIN}0-9'._-]*")
IS_CYRILLIC_WORD = re.compile(f"[{CYRILLIC}0-9'-]*[{CYRILLIC}][{CYRILLIC}0-9'-]*")

CHUNK_LIMIT = 3000  # characters per analyser call (Sudachi refuses more than 49149 bytes)
_CHUNK_BREAK = re.compile(r"[.!?。！？]\s*|\s")


def chunks(text: str, limit: int = CHUNK_LIMIT) -> list[tuple[int, str]]:
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
