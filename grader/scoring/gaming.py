"""Checks for answers built to fool the grader; each returns a Penalty (scaled score + flag)."""

from __future__ import annotations

from collections.abc import Sequence

from grader.scoring.defaults import defaults
from grader.scoring.inputs import Penalty

# Factors and thresholds: grader/scoring/defaults.yaml ("gaming"), each with its reason.
CONTRADICTION_SENTENCES = 64  # sentences compared pairwise (a bound on the work, not a grade)


def keyword_salad(content_words: int, glue: float, known: float) -> Penalty | None:
    """The question's own terms strung together with no sentence around them.

    ``content_words``: the answer's content words; ``glue``: the share of its letters outside
    them (function words, particles, endings: what makes a list of words a sentence, in any
    language); ``known``: the share of its content words that the question's own texts use
    (prompt, model answers, concepts, keyword terms). A short answer that names two things ("T5,
    encoder-decoder") is concise, not a salad: at least ``salad_minimum`` content words.
    """
    settings = defaults().gaming
    if content_words < settings.salad_minimum:
        return None
    if glue < settings.salad_glue and known >= settings.salad_known:
        return Penalty(
            "keyword-salad",
            settings.salad_factor,
            "the answer lists the question's terms without saying anything about them",
        )
    return None


def copied_question(
    answer_words: frozenset[str], prompt_words: Sequence[frozenset[str]]
) -> Penalty | None:
    """The answer repeats the question back: its words are the prompt's, and most of them.

    Both shares matter: a short answer naturally reuses the question's terms ("BERT uses masked
    language modelling"), but it does not restate most of the question.
    """
    settings = defaults().gaming
    if len(answer_words) < settings.copy_minimum:
        return None
    for words in prompt_words:
        shared = len(answer_words & words)
        if (
            words
            and shared / len(answer_words) >= settings.copy_answer_share
            and shared / len(words) >= settings.copy_prompt_share
        ):
            return Penalty(
                "copied-question", settings.copy_factor, "the answer repeats the question"
            )
    return None


def other_question_answer(
    own_best: float, other_best: float, other_id: str, ceiling: float
) -> Penalty | None:
    """The answer is much closer to another question's model answer than to this one's."""
    settings = defaults().gaming
    if other_best >= ceiling and other_best > own_best + settings.other_answer_margin:
        return Penalty(
            "answers-another-question",
            settings.other_answer_factor,
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


Sentence = tuple[frozenset[str], frozenset[str], bool]  # content words, negated ones, a cue


def takes_it_back(sentences: Sequence[Sentence]) -> Penalty | None:
    """The answer says something, then takes it back.

    ``sentences`` holds each sentence's content words, those of them in a negated clause, and
    whether it has a retraction word ("actually", "wrong", "not true", ...: grader.text.polarity).
    Two tests, over the first ``CONTRADICTION_SENTENCES`` sentences:

    * a later sentence that shares most of its words with an earlier plain one (Jaccard
      ``contradiction_overlap``) and negates half or more of those shared words
      (``contradiction_negated``): "It is T5. It is not T5.";
    * a later sentence with a retraction word whose negated words are, ``retraction_minimum`` or
      more and ``retraction_share`` of them, words stated plainly before: "... Actually no, that
      is wrong: the mask does not hide future tokens." (Without the retraction word this is how
      a comparison reads, "X is A; Y is not A", which is not caught.)
    """
    settings = defaults().gaming
    overlap = settings.contradiction_overlap
    limited = sentences[:CONTRADICTION_SENTENCES]
    stated: set[str] = set()
    for index, (words, negated, cue) in enumerate(limited):
        repeated = len(negated & stated)
        if (
            cue
            and repeated >= settings.retraction_minimum
            and repeated / len(negated) >= settings.retraction_share
        ):
            return _contradiction()
        stated |= words - negated
        if negated or len(words) < 2:
            continue
        for later_words, later_negated, _cue in limited[index + 1 :]:
            shared = words & later_words
            if not later_words or len(shared) / len(words | later_words) < overlap:
                continue
            if len(shared & later_negated) >= settings.contradiction_negated * len(shared):
                return _contradiction()
    return None


def _contradiction() -> Penalty:
    return Penalty(
        "self-contradiction",
        defaults().gaming.contradiction_factor,
        "the answer states something and then negates it",
    )
