"""German: simplemma lemmas and Snowball stems, compounds split into their parts, negation.

``Sauerstoffbläschen`` is ``Sauer`` + ``stoff`` + ``bläschen`` (``grader.text.languages.lemmas``),
and ``Sauerstoff`` is ``Sauer`` + ``stoff``, so the term ``Sauerstoff`` matches the compound.
The forms of -ieren verbs are read as their infinitive (``diffundiert`` -> ``diffundieren``).
Negators: nicht, kein(e/en/em/er/es), nie, niemals, nichts, niemand, weder (their clause); ohne
(the rest of the clause); "nicht nur" is no negation. A clause ends at punctuation and before
aber, sondern, jedoch, obwohl, während, weil, denn, ...
"""

from __future__ import annotations

import re

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

_IERT = re.compile(r"(?<=..)iert(?:e|en|er|es|em)?$")


def _iert_to_ieren(word: str) -> str:
    """The forms of -ieren verbs are their infinitive (diffundiert, kodierte -> diffundieren,
    kodieren): simplemma lists some of them as adjectives of their own."""
    return _IERT.sub("ieren", word)


STOP_WORDS = words(
    """der die das den dem des ein eine einen einem einer eines und oder aber sondern denn doch
    ist sind war waren bin bist sein seid wird werden wurde wurden worden hat haben hatte hatten
    habe kann können konnte muss müssen soll sollen will wollen darf dürfen mag möchte es er sie
    ihr ihm ihn ich du wir uns euch mich mir dich dir sich man mein dein sein ihr unser euer
    dieser diese dieses diesen diesem jener jene welche welcher welches was wer wie wo wann warum
    in im an am auf aus bei mit nach von vom zu zum zur für über unter vor hinter neben zwischen
    durch gegen um bis seit als ob dass daß wenn weil da so auch noch nur schon sehr mehr dann
    also hier dort nicht kein keine auch alle alles jeder jede jedes etwas viel viele einige"""
)

NEGATION = Negation(
    clause=words(
        "nicht kein keine keinen keinem keiner keines nie niemals nichts niemand nirgends weder"
    ),
    forward=words("ohne"),
    not_before=words("nur bloß lediglich allein"),
    clause_words=words(
        """aber sondern jedoch obwohl obgleich während weil denn doch dagegen hingegen
        allerdings trotzdem dennoch stattdessen"""
    ),
    soft_words=words("und oder sowie"),
)

PROFILE = LanguageProfile(
    code="de",
    name="German",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball German stems (Häuser, Haus -> haus)",
    negation_cues=(
        "nicht, kein, nie, nichts, niemand, weder (clause); ohne (rest of the clause); "
        "'nicht nur' is no negation"
    ),
    stop_words=STOP_WORDS,
    negation=NEGATION,
    compounds=(
        "split into dictionary words (simplemma): Sauerstoffbläschen = Sauer + stoff + bläschen, "
        "so Sauerstoff matches it"
    ),
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser(
        "de", STOP_WORDS, links=("s", "es", "n", "en", "e", "er", "ens"), rewrite=_iert_to_ieren
    ),
    retractions=(
        "das stimmt nicht",
        "das ist falsch",
        "das ist nicht richtig",
        "das ist nicht wahr",
        "es ist umgekehrt",
        "eigentlich umgekehrt",
        "im gegenteil",
        "nichts davon stimmt",
        "vergiss das",
    ),
)
