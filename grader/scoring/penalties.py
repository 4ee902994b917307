"""The gaming checks of one answer (``grader.scoring.gaming``) fed with its evidence, and the
notes on its language."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from grader.bank import Bank
from grader.evidence.match import Match
from grader.evidence.space import (
    Space,
    other_answers,
)
from grader.results import Flag
from grader.scoring import gaming
from grader.scoring.defaults import defaults
from grader.scoring.inputs import (
    Penalty,
)
from grader.text.analysis import Analysis
from grader.text.polarity import (
    cue_words,
)

if TYPE_CHECKING:
    pass
from grader.scoring.answer_context import AnswerView, Context
from grader.scoring.reference_words import (
    longest_model_answer,
    model_answer_overlap,
    prompt_words_of,
    question_terms,
)


def _glue(analysis: Analysis) -> float:
    """The share of the answer's letters outside its content words."""
    letters = sum(1 for char in analysis.text if char.isalpha())
    inside = sum(
        1 for token in analysis.tokens if token.content for char in token.surface if char.isalpha()
    )
    return 1.0 - inside / letters if letters else 1.0


# ---------------------------------------------------------------- gaming and language


def language_notes(answer: AnswerView, space: Space | None) -> tuple[Flag, ...]:
    if space is None:
        return ()
    languages = space.languages
    if languages is not None and answer.language not in languages:
        return (
            Flag(
                "language-not-covered",
                f"the model '{space.name}' was not made for '{answer.language}' answers",
            ),
        )
    return ()


def _sentence_words(analysis: Analysis, retracting: frozenset[int]) -> list[gaming.Sentence]:
    """Per sentence: its content words, those of them in a negated clause, and whether it has a
    retraction word (one pass)."""
    starts = [start for start, _ in analysis.sentences]
    words: list[set[str]] = [set() for _ in starts]
    negated: list[set[str]] = [set() for _ in starts]
    cues = cue_words(analysis.language)
    cued = [index in retracting for index in range(len(starts))]
    for token in analysis.tokens:
        index = bisect.bisect_right(starts, token.start) - 1
        if index < 0 or token.end > analysis.sentences[index][1]:
            continue
        cued[index] = cued[index] or token.norm in cues
        if token.content:
            words[index].add(token.norm)
            if token.negated:
                negated[index].add(token.norm)
    return [(frozenset(w), frozenset(n), c) for w, n, c in zip(words, negated, cued, strict=True)]


def penalties_of(bank: Bank, context: Context, answer_match: Match | None) -> tuple[Penalty, ...]:
    answer, words = context.answer, context.words
    gradable, analysis = answer.gradable, answer.analysis
    found: list[Penalty | None] = [gaming.foreign_language(answer.language, bank.languages)]
    tokens = [token for token in analysis.tokens if token.norm.strip()]
    content = [token for token in tokens if token.content]
    vocabulary = words.get(gradable, analysis.language, question_terms)
    known = sum(1 for token in content if token.norm in vocabulary) / max(len(content), 1)
    found.append(gaming.keyword_salad(len(content), _glue(analysis), known))
    found.append(gaming.takes_it_back(_sentence_words(analysis, context.reading.retracting)))
    longest = words.get(gradable, analysis.language, longest_model_answer)
    found.append(gaming.padded(len(tokens), longest))
    # An answer that says what only this question's model answer says has answered it: neither a
    # copy of the question nor another question's answer.
    overlap = model_answer_overlap(context.answer_words, gradable, answer.language, words) or 0.0
    if overlap < defaults().answered:
        prompt_words = words.get(gradable, answer.language, prompt_words_of)
        found.append(gaming.copied_question(context.answer_words, prompt_words))
        if context.space is not None and answer_match is not None:
            found.append(_other_question(bank, context, answer_match.cosine))
    return tuple(penalty for penalty in found if penalty is not None)


def _other_question(bank: Bank, context: Context, own_best: float) -> Penalty | None:
    space = context.space
    assert space is not None
    best: tuple[float, str] = (-1.0, "")
    table = other_answers(bank, space, context.answer.language)
    if table.ids and table.matrix is not None and context.answer.units:
        import numpy as np

        whole = space.rows([context.answer.units[0][0]])  # the whole answer, as in its own match
        cosines = np.maximum.reduceat((whole @ table.matrix.T)[0], table.starts)
        for other_id, cosine in zip(table.ids, cosines, strict=True):
            if other_id != context.gradable.id and cosine > best[0]:
                best = (float(cosine), other_id)
    return gaming.other_question_answer(own_best, best[0], best[1], context.params.ramp.ceiling)
