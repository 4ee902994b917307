"""Swedish: simplemma lemmas and Snowball stems, compounds split into their parts, negation.

The worked example of docs/languages.md. Negators: inte, ej, icke, ingen, inget, inga, aldrig,
ingenting, varken (their clause); utan (the rest of the clause); "inte bara" is no negation. A
clause ends before men, utan att, fast, trots, medan, eftersom, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """och eller men att det den de en ett är var vara varit blir blev har hade kan kunde ska
    skulle vill måste jag du han hon vi ni dem oss sig min din sin vår er deras dess denna detta
    dessa som vad vem vilken vilket vilka när var hur varför i på av för med till från om under
    över efter före mellan genom så också bara mycket mer alla allt något inte ingen"""
)

NEGATION = Negation(
    clause=words("inte ej icke ingen inget inga aldrig ingenting varken"),
    forward=words("utan"),
    not_before=words("bara endast enbart"),
    clause_words=words("men fast trots medan eftersom däremot dock"),
    soft_words=words("och eller samt"),
)

PROFILE = LanguageProfile(
    code="sv",
    name="Swedish",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Swedish stems (modellerna, modellen -> modell)",
    negation_cues="inte, ej, ingen, inget, inga, aldrig (clause); utan (rest of the clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    compounds="split into dictionary words (simplemma): syrebubblor = syre + bubblor",
    retractions=("det stämmer inte", "det är fel", "det är inte sant", "tvärtom"),
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("sv", STOP_WORDS, links=("s",)),
)
