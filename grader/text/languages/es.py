"""Spanish: simplemma lemmas and Snowball stems, negation.

Negators: no, nunca, jamás, tampoco, ni, nada, nadie, ningún/ninguno/ninguna (their clause); sin
(the rest of the clause); "no solo" / "no sólo" is no negation. A clause ends before pero,
sino, aunque, mientras, porque, sin embargo, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """el la los las lo un una unos unas y e o u pero sino ni que de del a al en con por para sin
    sobre entre hasta desde hacia según es son era eran fue fueron ser sido está están estaba
    estar ha han había haber hay puede pueden debe deben se le les me te nos os él ella ellos
    ellas yo tú usted ustedes nosotros su sus mi mis tu tus este esta estos estas ese esa esos
    esas eso esto aquel cual cuales quien quienes cuando donde como qué cómo cuándo dónde porque
    muy más menos también ya todo todos toda todas otro otra otros otras mismo misma algo no"""
)

NEGATION = Negation(
    clause=words("no nunca jamás tampoco ni nada nadie ningún ninguno ninguna"),
    forward=words("sin"),
    not_before=words("solo sólo solamente únicamente"),
    clause_words=words("pero sino aunque mientras porque embargo cambio obstante"),
    soft_words=words("y e o u"),
)

PROFILE = LanguageProfile(
    code="es",
    name="Spanish",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Spanish stems (aprendieron, aprende -> aprend)",
    negation_cues="no, nunca, jamás, ni, nada, nadie, ningún (clause); sin (rest of the clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("es", STOP_WORDS),
    retractions=(
        "eso es falso",
        "no es cierto",
        "no es verdad",
        "es al revés",
        "al contrario",
        "en realidad no",
        "nada de esto es cierto",
    ),
)
