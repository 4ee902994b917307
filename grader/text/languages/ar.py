"""Arabic: normalised letters, the article and proclitics set apart, Snowball stems, negation.

A word is compared without diacritics (tashkeel) and tatweel, with the forms of alef (أ إ آ ٱ)
written ا, alef maksura ى as ي and ta marbuta ة as ه (pyarabic), so ``الكِتَابُ`` and ``الكتاب``
agree, and so do ``مدرسة`` and ``مدرسه``. The conjunctions و/ف, the prepositions ب/ك/ل and the
article ال written before a word are removed (``والكتاب``, ``بالكتاب``, ``للطالب``), as in Larkey's
light10 stemmer, then the Snowball Arabic stemmer takes the suffixes: ``الخلية``, ``خلية`` and
``والخلايا`` get one key. Negators: لا, ليس (and its forms), لم, لن, ما before a verb cannot be
told from "what" and is left out; غير, بدون, دون negate the rest of the clause; "ليس فقط" (not
only) is no negation. A clause ends at punctuation (، ؛ ؟ too) and before لكن, بل, بينما, ...
"""

from __future__ import annotations

import re

from grader.text.languages.base import LanguageProfile, Negation, Script, WordInfo, words

# و/ف + ب/ك/ل + the article, or و/ف alone before three letters or more (light10: ولد stays)
_PROCLITIC = re.compile("^(?:[وف]?[بكل]?ال|[وف]?لل|[وف](?=...))")
_MIN_STEM = 2  # letters left after the proclitics


def fold(word: str) -> str:
    """The word without diacritics and tatweel, with one form of alef, ya and ta marbuta."""
    import pyarabic.araby as araby

    plain = araby.strip_tatweel(araby.strip_tashkeel(word))
    return araby.normalize_teh(araby.normalize_alef(plain)).replace("ى", "ي")


STOP_WORDS = words(
    """في من الي الى علي على عن مع هذا هذه ذلك تلك التي الذي الذين اللذان هو هي هم هما نحن انا
    انت انتم كان كانت يكون تكون قد ثم او و ف ب ل ك ما لا كل بعض عند بين ان لان كما اي بعد قبل
    حتي اذا لم لن ليس غير هناك هنا منه منها فيه فيها به بها له لها عليه عليها وهو وهي"""
)

NEGATION = Negation(
    clause=words("لا ولا فلا ليس ليست لست ليسوا وليس لم ولم لن ولن"),
    forward=words("غير بدون دون وبدون"),
    not_before=words("فقط"),
    clause_words=words("لكن ولكن لكنه لكنها بل بينما رغم لان لانه"),
    soft_words=words("او"),
    fold=fold,
)


def stripped(word: str) -> str:
    """The folded word without the conjunction, the preposition and the article before it."""
    folded = fold(word)
    match = _PROCLITIC.match(folded)
    if match and len(folded) - match.end() >= _MIN_STEM:
        return folded[match.end() :]
    return folded


def word(text: str) -> WordInfo:
    from grader.text.languages.words import snowball_stem

    folded = fold(text)
    bare = stripped(text)
    content = folded not in STOP_WORDS and bare not in STOP_WORDS
    return WordInfo(snowball_stem(bare, "ar"), content)


PROFILE = LanguageProfile(
    code="ar",
    name="Arabic",
    script=Script.ARABIC,
    segmenter="words at spaces and punctuation (، ؛ ؟ too)",
    lemmatiser=(
        "pyarabic normalisation (diacritics, tatweel, alef, ya, ta marbuta), the article and "
        "proclitics removed, then Snowball Arabic stems"
    ),
    negation_cues="لا, ليس, لم, لن (clause); غير, بدون, دون (rest of the clause); not 'ليس فقط'",
    stop_words=STOP_WORDS,
    negation=NEGATION,
    distributions=("pyarabic", "snowballstemmer"),
    word=word,
    retractions=(
        "هذا خطأ",
        "هذا غير صحيح",
        "ليس صحيحا",
        "العكس هو الصحيح",
        "بل العكس",
    ),
)
