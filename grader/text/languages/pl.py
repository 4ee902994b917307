"""Polish: simplemma lemmas and Snowball stems, negation.

Negators: nie, nigdy, nic, nikt, żaden/żadna/żadne, ani (their clause); bez (the rest of the
clause); "nie tylko" is no negation. A clause ends before ale, lecz, jednak, chociaż, podczas,
ponieważ, bo, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """i oraz lub albo ale lecz a że w we z ze na do od o u przy po przez dla bez pod nad przed
    za między jest są był była było były być będzie może mogą musi się to ten ta te tego tej tym
    tych on ona ono oni one ja ty my wy jego jej ich mój moja swój swoja który która które
    którego co kto jak gdzie kiedy dlaczego bardzo więcej też także już jeszcze tylko wszystko
    wszyscy każdy inny inna inne nie"""
)

NEGATION = Negation(
    clause=words("nie nigdy nic nikt żaden żadna żadne żadnego ani"),
    forward=words("bez"),
    not_before=words("tylko jedynie"),
    clause_words=words("ale lecz jednak chociaż choć podczas ponieważ bo gdyż natomiast"),
    soft_words=words("i oraz lub albo"),
)

PROFILE = LanguageProfile(
    code="pl",
    name="Polish",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Polish stems (modelami, modele -> model)",
    negation_cues="nie, nigdy, nic, nikt, żaden, ani (clause); bez (rest of the clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("pl", STOP_WORDS),
    retractions=(
        "to nieprawda",
        "to nie jest prawda",
        "to jest błędne",
        "jest odwrotnie",
        "wręcz przeciwnie",
    ),
)
