"""Dutch: simplemma lemmas and Snowball stems, compounds split into their parts, negation.

Negators: niet, geen, nooit, niets, niemand, nergens (their clause); zonder (the rest of the
clause); "niet alleen" is no negation. A clause ends before maar, echter, hoewel, terwijl, omdat,
want, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """de het een en of maar want dus is zijn was waren ben bent wordt worden werd werden is
    heeft hebben had hadden kan kunnen kon moet moeten zal zullen zou zouden wil willen mag
    mogen ik jij je u hij zij ze wij we jullie hen hem haar mij me ons zich mijn jouw zijn hun
    dit dat deze die wat wie welke waar wanneer waarom hoe in op aan bij met van voor naar uit
    door over onder tussen tot om te als dan ook nog al maar wel niet geen er hier daar zo zeer
    meer veel alle alles elk elke iets"""
)

NEGATION = Negation(
    clause=words("niet geen nooit niets niemand nergens noch"),
    forward=words("zonder"),
    not_before=words("alleen slechts enkel"),
    clause_words=words("maar echter hoewel terwijl omdat want doch toch daarentegen"),
    soft_words=words("en of"),
)

PROFILE = LanguageProfile(
    code="nl",
    name="Dutch",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Dutch stems",
    negation_cues="niet, geen, nooit, niets, niemand (clause); zonder (rest of the clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    compounds="split into dictionary words (simplemma): zuurstofbelletjes = zuurstof + belletjes",
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("nl", STOP_WORDS, links=("s", "e", "en")),
    retractions=(
        "dat klopt niet",
        "dat is fout",
        "dat is niet waar",
        "het is andersom",
        "integendeel",
        "eigenlijk niet",
    ),
)
