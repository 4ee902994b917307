"""Checks for answers built to fool the grader; each returns a Penalty (scaled score + flag)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from grader.defaults import defaults
from grader.scoring import Penalty

# Factors and thresholds: grader/defaults.yaml ("gaming"), each with its reason.
CONTRADICTION_SENTENCES = 64  # sentences compared pairwise (a bound on the work, not a grade)

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
    ("T5, encoder-decoder") is concise, not a salad: at least ``salad_minimum`` words
    (grader/defaults.yaml).
    """
    settings = defaults().gaming
    if word_count < settings.salad_minimum:
        return None
    if rubric_word_count / word_count >= 0.75 and function_count / word_count < 0.12:
        return Penalty(
            "keyword-salad",
            settings.salad_factor,
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
            return Penalty(
                "copied-question", defaults().gaming.copy_factor, "the answer repeats the question"
            )
    return None


def other_question_answer(
    own_best: float, other_best: float, other_id: str, ceiling: float
) -> Penalty | None:
    """The answer is much closer to another question's model answer than to this one's."""
    if other_best >= ceiling and other_best > own_best + 0.1:
        return Penalty(
            "answers-another-question",
            defaults().gaming.other_answer_factor,
            f"the answer matches the model answer of '{other_id}' better than this question's",
        )
    return None


def padded(answer_words: int, longest_model_answer_words: int) -> Penalty | None:
    """A right answer buried in a great deal of irrelevant text."""
    settings = defaults().gaming
    allowed = round(
        max(settings.padding_ratio * longest_model_answer_words, settings.padding_minimum)
    )
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
        defaults().gaming.foreign_factor,
        f"the answer is in '{language}', which this bank does not use "
        f"({', '.join(bank_languages)})",
    )


def takes_it_back(sentences: Sequence[tuple[frozenset[str], frozenset[str]]]) -> Penalty | None:
    """A sentence repeated later with a negation: the answer says it, then takes it back.

    ``sentences`` holds each sentence's content words and those of them in a negated clause. A
    later sentence (of the first ``CONTRADICTION_SENTENCES``) counts when it shares most of its
    words with an earlier plain one (Jaccard 0.6) and negates most of those shared words: "It is
    T5. It is not T5." (A comparison, "X is A, Y is not A", shares only some words and is not
    caught; a sentence that takes the previous one back in other words is handled per criterion
    by grader.polarity.)
    """
    limited = sentences[:CONTRADICTION_SENTENCES]
    for index, (words, negated) in enumerate(limited):
        if negated or len(words) < 2:
            continue
        for later_words, later_negated in limited[index + 1 :]:
            shared = words & later_words
            if not later_words or len(shared) / len(words | later_words) < 0.6:
                continue
            if len(shared & later_negated) * 2 >= len(shared):
                return _contradiction()
    return None


def _contradiction() -> Penalty:
    return Penalty(
        "self-contradiction",
        defaults().gaming.contradiction_factor,
        "the answer states something and then negates it",
    )
