"""English: words at spaces, Snowball (Porter2) stems, stop words, negation with clause scope."""

from __future__ import annotations

from grader.text.languages.base import LanguageProfile, Negation, Script, WordInfo, words

STOP_WORDS = words(
    """a an the and or but if of to in on at by for with from as is are was were be been being am
    do does did doing have has had having it its this that these those there their theirs they them
    he him his she her hers we us our ours you your yours i me my mine not no so than then too very
    can could will would shall should may might must which who whom whose what when where why how
    all any each every also just only into onto about over under more most such both either neither
    nor own same other some up down out off again further once here because while until whereas
    although though yet however it's let's there's that's what's one ones something anything"""
)

NEGATION = Negation(
    clause=words(
        """not never cannot nor neither none nobody nothing nowhere dont doesnt didnt isnt
        arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt mustnt neednt
        aint"""
    ),
    forward=words("no without"),
    not_before=words("only just merely simply"),
    clause_words=words(
        "and but however although though whereas while whilst yet instead unlike because since"
    ),
    soft_words=words("or"),
    suffixes=("n't",),
    clause_before=words("longer"),
)


def word(text: str) -> WordInfo:
    from grader.text.languages.words import snowball_stem

    content = text not in STOP_WORDS and not text.endswith("n't")
    return WordInfo(snowball_stem(text, "en"), content)


PROFILE = LanguageProfile(
    code="en",
    name="English",
    script=Script.LATIN,
    segmenter="words at spaces and punctuation",
    lemmatiser="Snowball (Porter2) stems",
    negation_cues=(
        "not, n't, never, cannot, no longer (clause); no, without (rest of the clause); "
        "'not only' is no negation"
    ),
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("snowballstemmer",),
    word=word,
    retractions=(
        "that is wrong",
        "that is not true",
        "that is not right",
        "that is incorrect",
        "actually no",
        "the opposite is true",
        "it is the other way round",
        "it is the other way around",
        "none of this is true",
        "none of that is true",
        "forget that",
        "scratch that",
        "i was wrong",
    ),
)
