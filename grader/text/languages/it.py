"""Italian: simplemma lemmas and Snowball stems, elided articles, negation.

``l'attenzione`` has the key of ``attenzione``. Negators: non, mai, né, niente, nulla, nessuno,
nessuna (their clause); senza (the rest of the clause); "non solo" is no negation. A clause ends
before ma, però, tuttavia, mentre, perché, sebbene, invece, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """il lo la i gli le un uno una e ed o ma né che di del dello della dei degli delle a al allo
    alla ai agli alle da dal dalla dai in nel nello nella nei negli nelle con su sul sulla per tra
    fra è sono era erano fu essere stato stata ha hanno aveva avere può possono deve devono si
    mi ti ci vi lui lei loro io tu noi voi suo sua suoi sue mio mia questo questa questi queste
    quello quella quelli quelle ciò cui chi quale quali quando dove come perché molto più meno
    anche già tutto tutti tutta tutte altro altra altri altre stesso qualcosa non"""
)

NEGATION = Negation(
    clause=words("non mai né niente nulla nessuno nessuna neanche nemmeno neppure"),
    forward=words("senza"),
    not_before=words("solo soltanto solamente"),
    clause_words=words("ma però tuttavia mentre perché sebbene benché invece eppure anzi"),
    soft_words=words("e ed o oppure"),
)

PROFILE = LanguageProfile(
    code="it",
    name="Italian",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation; elided articles (l', dell', un') set apart",
    lemmatiser="simplemma lemmas, then Snowball Italian stems (imparano -> impar)",
    negation_cues="non, mai, né, niente, nulla, nessuno (clause); senza (rest of the clause)",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("it", STOP_WORDS, elision=True),
    retractions=(
        "è falso",
        "non è vero",
        "è sbagliato",
        "è il contrario",
        "al contrario",
        "in realtà no",
    ),
)
