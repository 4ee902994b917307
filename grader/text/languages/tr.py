"""Turkish: simplemma lemmas and Snowball stems, negation.

Turkish negates mostly inside the verb (-me/-ma: "kullanmaz", "kullanmıyor"), which a word list
cannot see reliably; the profile catches the separate negators: değil, yok, hiç, hiçbir, asla
(their clause). A clause ends before ama, fakat, ancak, ise, çünkü, oysa, ...
"""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, words
from grader.text.languages.lemmas import word_analyser

STOP_WORDS = words(
    """ve veya ya da de ile ama fakat ancak için gibi kadar daha çok en bu şu o bir her bazı
    hangi ne nasıl neden nerede ki mi mı mu mü ise olarak olan olur olması bunu bunlar onlar
    onun bunun ben sen biz siz kendi tüm bütün hem"""
)

NEGATION = Negation(
    clause=words("değil değildir yok yoktur hiç hiçbir asla"),
    not_before=words("sadece yalnızca"),
    clause_words=words("ama fakat ancak çünkü oysa halbuki ise"),
    soft_words=words("ve veya ya"),
)

PROFILE = LanguageProfile(
    code="tr",
    name="Turkish",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="simplemma lemmas, then Snowball Turkish stems (modellerin -> model)",
    negation_cues="değil, yok, hiç, hiçbir, asla (clause); verb-internal -me/-ma is not seen",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("simplemma", "snowballstemmer"),
    word=word_analyser("tr", STOP_WORDS),
    retractions=(
        "bu yanlış",
        "bu doğru değil",
        "tam tersi",
        "aslında hayır",
    ),
)
