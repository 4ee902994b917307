"""Checks for answers built to fool the grader; each returns a Penalty (scaled score + flag)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader.scoring import Penalty

if TYPE_CHECKING:
    from grader.analysis import Analysis

SALAD_FACTOR = 0.2
COPY_FACTOR = 0.0
OTHER_ANSWER_FACTOR = 0.2
FOREIGN_FACTOR = 0.3
CONTRADICTION_FACTOR = 0.2
SALAD_MINIMUM = 6  # words
CONTRADICTION_SENTENCES = 64  # sentences compared pairwise
PADDING_RATIO = 5  # an answer may be this many times longer than the longest model answer
PADDING_MINIMUM = 150  # words

# Frequent function words of Latin-script languages, to tell them from English.
_LATIN_STOPWORDS = {
    "en": {"the", "is", "and", "of", "to", "a", "in", "that", "it", "for", "are", "with", "not"},
    "de": {
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "mit",
        "zu",
        "den",
        "von",
        "auf",
    },
    "fr": {"le", "la", "les", "et", "est", "des", "une", "un", "du", "dans", "pas", "que", "pour"},
    "es": {"el", "la", "los", "las", "y", "es", "de", "que", "en", "una", "un", "por", "con", "no"},
    "it": {"il", "lo", "la", "gli", "e", "è", "di", "che", "non", "una", "un", "per", "con"},
    "pt": {"o", "a", "os", "as", "e", "é", "de", "que", "não", "uma", "um", "para", "com"},
    "nl": {"de", "het", "een", "en", "is", "niet", "van", "dat", "met", "voor", "op"},
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_latin_language(text: str) -> str | None:
    """The Latin-script language whose function words the text uses most (None if too few words)."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) < 6:
        return None
    counts = {
        language: sum(word in stopwords for word in words)
        for language, stopwords in _LATIN_STOPWORDS.items()
    }
    best = max(counts, key=lambda language: counts[language])
    if counts[best] < 2 or counts[best] <= counts["en"]:
        return "en" if counts["en"] else None
    return best


def keyword_salad(word_count: int, function_count: int, rubric_word_count: int) -> Penalty | None:
    """Rubric terms strung together with no sentence around them.

    ``rubric_word_count``: the answer's words that are words of any rubric term (any alternative,
    any criterion), so a list of synonyms counts in full. A short answer that names two things
    ("T5, encoder-decoder") is concise, not a salad: at least ``SALAD_MINIMUM`` words.
    """
    if word_count < SALAD_MINIMUM:
        return None
    if rubric_word_count / word_count >= 0.75 and function_count / word_count < 0.12:
        return Penalty(
            "keyword-salad",
            SALAD_FACTOR,
            "the answer lists rubric terms without saying anything about them",
        )
    return None


def copied_question(
    answer_words: frozenset[str], prompt_words: Sequence[frozenset[str]]
) -> Penalty | None:
    """The answer repeats the question back: its words are the prompt's, and most of them.

    Both shares matter: a short answer naturally reuses the question's terms ("BERT uses masked
    language modelling"), but it does not restate most of the question.
    """
    if len(answer_words) < 3:
        return None
    for words in prompt_words:
        shared = len(answer_words & words)
        if words and shared / len(answer_words) >= 0.8 and shared / len(words) >= 0.7:
            return Penalty("copied-question", COPY_FACTOR, "the answer repeats the question")
    return None


def other_question_answer(
    own_best: float, other_best: float, other_id: str, ceiling: float
) -> Penalty | None:
    """The answer is much closer to another question's model answer than to this one's."""
    if other_best >= ceiling and other_best > own_best + 0.1:
        return Penalty(
            "answers-another-question",
            OTHER_ANSWER_FACTOR,
            f"the answer matches the model answer of '{other_id}' better than this question's",
        )
    return None


def padded(answer_words: int, longest_model_answer_words: int) -> Penalty | None:
    """A right answer buried in a great deal of irrelevant text."""
    allowed = max(PADDING_RATIO * longest_model_answer_words, PADDING_MINIMUM)
    if answer_words <= allowed:
        return None
    factor = round(allowed / answer_words, 4)
    return Penalty(
        "padded",
        factor,
        f"the answer has {answer_words} words, far more than the question needs "
        f"({allowed} at most)",
    )


def foreign_language(language: str, bank_languages: Sequence[str]) -> Penalty | None:
    if not language or language in bank_languages:
        return None
    return Penalty(
        "unexpected-language",
        FOREIGN_FACTOR,
        f"the answer is in '{language}', which this bank does not use "
        f"({', '.join(bank_languages)})",
    )


def takes_it_back(sentences: Sequence[tuple[frozenset[str], frozenset[str]]]) -> Penalty | None:
    """A sentence repeated later with a negation: the answer says it, then takes it back.

    ``sentences`` holds each sentence's content words and those of them in a negated clause. Two
    tests: a negated sentence that repeats an earlier plain one (word overlap, first
    ``CONTRADICTION_SENTENCES`` sentences), or a negated clause whose words were, most of them,
    stated plainly before (linear in the number of sentences).
    """
    stated: set[str] = set()
    for index, (words, negated) in enumerate(sentences):
        stated |= words - negated
        repeated = len(negated & stated)
        if repeated >= 3 and repeated / len(negated) >= 0.6:
            return _contradiction()
        if index >= CONTRADICTION_SENTENCES or negated or len(words) < 2:
            continue
        for later_words, later_negated in sentences[index + 1 : CONTRADICTION_SENTENCES]:
            shared = len(words & later_words) / len(words | later_words) if later_words else 0.0
            if later_negated and shared >= 0.6:
                return _contradiction()
    return None


def retracted(analysis: Analysis) -> Penalty | None:
    """A sentence that takes back what the answer said before it ("That is wrong.", "Das stimmt
    aber nicht, eigentlich ist es umgekehrt."): a retraction cue of the answer's language."""
    from grader.analysis import retractions

    return _contradiction() if retractions(analysis) else None


def _contradiction() -> Penalty:
    return Penalty(
        "self-contradiction",
        CONTRADICTION_FACTOR,
        "the answer states something and then negates it",
    )
