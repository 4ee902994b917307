"""Portuguese: simplemma lemmas and Snowball stems, negation.

Negators: não, nunca, jamais, nem, nada, ninguém, nenhum/nenhuma (their clause); sem (the rest
of the clause); "não só" / "não apenas" / "não somente" is no negation. A clause ends before
mas, porém, contudo, todavia, embora, enquanto, porque, pois, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """o a os as um uma uns umas e ou mas nem que de do da dos das em no na nos nas ao aos à às
    com por pelo pela pelos pelas para sem sobre entre até desde é são era eram foi foram ser sido
    está estão estava estar há tem têm tinha ter pode podem deve devem se lhe lhes me te nos ele
    ela eles elas eu tu você vocês nós seu sua seus suas meu minha este esta estes estas esse
    essa esses essas isso isto aquele aquela qual quais quem quando onde como porque muito mais
    menos também já todo todos toda todas outro outra outros outras mesmo algo não"""
)

NEGATION = Negation(
    clause=words("não nao nunca jamais nem nada ninguém nenhum nenhuma"),
    forward=words("sem"),
    not_before=words("só apenas somente"),
    clause_words=words("mas porém contudo todavia embora enquanto porque pois entretanto"),
    soft_words=words("e ou"),
)

PROFILE = LanguageProfile(
    code="pt",
    name="Portuguese",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Portuguese stems (pulmões -> pulmã)",
    negation_cues="não, nunca, jamais, nem, nada, ninguém, nenhum (clause); sem (rest of clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("pt", STOP_WORDS),
    retractions=(
        "isso é falso",
        "não é verdade",
        "isso está errado",
        "é o contrário",
        "ao contrário",
        "na verdade não",
        "nada disso é verdade",
    ),
)
