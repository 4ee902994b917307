"""French: simplemma lemmas and Snowball stems, elided articles, "ne ... pas" negation.

``l'attention`` has the key of ``attention``. Negators: pas, jamais, rien, aucun(e), ni,
nullement, guère (their clause, so "ne ... pas" and the spoken "c'est pas" alike); plus and
personne only after ne / n' ("n'utilise plus"), since alone they mean "more" and "person";
"ne ... que" (only) is no negation, nor "pas seulement"; sans negates the rest of the clause. A
clause ends before mais, cependant, pourtant, tandis, car, alors que, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """le la les l' un une des du de d' et ou mais donc car ni est sont était étaient être été
    a ont avait avaient avoir eu fait peut peuvent doit doivent il elle ils elles on je tu nous
    vous me te se lui leur leurs son sa ses mon ma mes ton ta tes notre nos votre vos ce cet cette
    ces cela ça c' qui que qu' quoi dont où quand comment pourquoi dans en sur sous avec pour par
    sans vers chez entre depuis pendant avant après comme si ne n' pas plus moins très aussi
    encore déjà tout tous toute toutes autre autres même y au aux s'"""
)

NEGATION = Negation(
    clause=words("pas jamais rien aucun aucune ni nullement guère"),
    forward=words("sans"),
    not_before=words("seulement uniquement"),
    clause_words=words("mais cependant pourtant tandis car toutefois néanmoins sinon alors"),
    soft_words=words("et ou"),
    after_particle=words("plus personne"),
    particles=words("ne"),
    particle_prefixes=("n'",),
)

PROFILE = LanguageProfile(
    code="fr",
    name="French",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation; elided articles (l', d', qu') set apart",
    lemmatiser="simplemma lemmas, then Snowball French stems (apprennent, appris -> apprendr)",
    negation_cues=(
        "ne ... pas/jamais/rien/aucun/plus, pas alone (clause); sans (rest of the clause); "
        "'ne ... que' and 'pas seulement' are no negation"
    ),
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("fr", STOP_WORDS, elision=True),
    retractions=(
        "c'est faux",
        "ce n'est pas vrai",
        "ce n'est pas juste",
        "c'est le contraire",
        "au contraire",
        "en fait non",
        "rien de tout cela",
    ),
)
