"""Gather the signals of one answer for ``grader.scoring.rule``: per criterion its keywords, the
closest reference and the share of its words the answer states, whether the answer negates it or
comes closer to a wrong answer; the misconceptions' evidence; the gaming checks.

The bank's own texts (model answers, prompts, concepts) are analysed once per run and kept in a
``ReferenceWords`` the grading run passes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from grader.bank import Bank, Gradable, LocalText
from grader.evidence.keywords import match_keywords
from grader.evidence.match import Match
from grader.evidence.space import (
    Space,
    best_match,
    covered,
    same_language,
    unit_cosine,
)
from grader.evidence.term_index import index_answer
from grader.results import GroupEvidence
from grader.scoring.inputs import (
    MODEL_ANSWER_CRITERION,
    CriterionSignal,
    KeywordSignal,
    MisconceptionSignal,
    Signals,
    WrongAnswerSignal,
    keyword_signal_from,
)
from grader.scoring.params import ScoringParams
from grader.text.analysis import Analysis, analyze, content_words
from grader.text.polarity import (
    read,
    within,
)

if TYPE_CHECKING:
    pass
from grader.scoring.answer_context import AnswerView, Context, KeywordSignals, Span
from grader.scoring.penalties import language_notes, penalties_of
from grader.scoring.reference_words import (
    ReferenceWords,
    criterion_words,
    model_answer_overlap,
    prompt_words_of,
    wrong_references,
)


def keyword_signals(gradable: Gradable, analysis: Analysis) -> KeywordSignals:
    """The rubric's keyword evidence for an answer."""
    rubric = gradable.rubric
    index = index_answer(analysis)
    return (
        {
            criterion.id: keyword_signal_from(match_keywords(criterion.keywords, index))
            for criterion in (rubric.criteria if rubric else ())
            if criterion.keywords
        },
        {
            item.id: keyword_signal_from(match_keywords(item.keywords, index))
            for item in (rubric.misconceptions if rubric else ())
            if item.keywords
        },
    )


def gather(
    bank: Bank,
    answer: AnswerView,
    space: Space | None,
    params: ScoringParams,
    words: ReferenceWords,
) -> Signals:
    analysis = answer.analysis
    reading = read(analysis)
    answer_words = content_words(analysis)
    matrix = space.rows([text for text, _ in answer.units]) if space and answer.units else None
    context = Context(answer, space, params, words, reading, answer_words, matrix)
    answer_match = _answer_match(context)
    signals = Signals(
        answer.language,
        answered=True,
        criteria=_criteria_signals(context, answer_match),
        misconceptions=_misconception_signals(context),
        answer_match=answer_match,
        wrong_answer=_known_wrong_answer(context, answer_match),
        notes=answer.notes,
    )
    penalties = penalties_of(bank, context, answer_match)
    return replace(
        signals, penalties=penalties, notes=(*signals.notes, *language_notes(answer, space))
    )


# ---------------------------------------------------------------- criteria


def _answer_match(context: Context) -> Match | None:
    return context.match(list(context.gradable.model_answers()))


def _known_wrong_answer(context: Context, answer_match: Match | None) -> WrongAnswerSignal | None:
    """The question's wrong answer that the whole answer states (as Moodle marks an answer that
    matches a 0 % answer): at ``wrong_similarity`` or more, closer than every model answer by
    ``wrong_margin``, and not denied; None otherwise."""
    space, units = context.space, context.answer.units
    known = list(context.gradable.known_wrong())
    if space is None or not units or not known:
        return None
    references = [(language, item.text) for language, item in known]
    match = best_match(
        space, units[:1], covered(references, space.languages), context.answer.language
    )
    if match is None:
        return None
    params = context.params
    similarity = match.similarity(params)
    right = answer_match.similarity(params) if answer_match else -1.0
    if similarity < params.wrong_similarity or similarity < right + params.wrong_margin:
        return None
    if context.negates(match, match.reference if not match.cross else ""):
        return None
    feedback = next((item.feedback for language, item in known if item.text == match.reference), "")
    return WrongAnswerSignal(match, feedback)


def _criteria_signals(context: Context, answer_match: Match | None) -> dict[str, CriterionSignal]:
    gradable = context.gradable
    rubric = gradable.rubric
    if not (rubric and rubric.criteria):
        overlap = model_answer_overlap(
            context.answer_words, gradable, context.answer.language, context.words
        )
        # Against whole model answers only the strict reading: none of the best one's own words
        # stated plainly, none of the others agreed with. A looser one zeroed, on the
        # human-graded data sets, answers graded above the average (benchmarks/README.md).
        same = [
            text
            for language, text in gradable.model_answers()
            if same_language(language, context.answer.language)
            and answer_match is not None
            and text != answer_match.reference
        ]
        negated = bool(
            answer_match
            and (
                _taken_back(context, answer_match)
                or (
                    not answer_match.cross
                    and context.negates(answer_match, answer_match.reference, *same, strict=True)
                )
            )
        )
        return {
            MODEL_ANSWER_CRITERION: CriterionSignal(
                match=answer_match,
                overlap=overlap,
                negated=negated,
                wrong=_closer_wrong(context, answer_match),
                rubric=False,
            )
        }
    found = {}
    criterion_keywords = context.answer.keywords[0]
    for criterion in rubric.criteria:
        match = context.match(list(criterion.concept.by_language.items()))
        keywords = _retracted(criterion_keywords.get(criterion.id), context.retracted)
        others = context.words.get(context.gradable, context.answer.language, criterion_words)
        elsewhere = frozenset().union(
            *(words for other, words in others.items() if other != criterion.id)
        )
        if match is not None and not _says_more(context, match, elsewhere):
            match = None  # "T5" alone says nothing about T5's architecture
        # Where the answer states the rubric's keywords plainly, only a sentence that states
        # none of the concept's words plainly negates it: the keywords know better what a
        # negated clause means for this criterion (a term marked negatable: false counts in one).
        stated = keywords is not None and keywords.credit > 0
        found[criterion.id] = CriterionSignal(
            keywords=keywords,
            match=match,
            overlap=_concept_overlap(context, criterion.concept, elsewhere),
            negated=context.negates(match, criterion.concept, strict=stated) if match else False,
            wrong=_closer_wrong(context, match),
        )
    return found


def _taken_back(context: Context, match: Match) -> bool:
    """Whether the part of the answer closest to the model answers is taken back by the sentence
    after it ("It is T5. No, actually it is not."): its sentence, or, for the whole answer, its
    one statement followed by the retraction."""
    if not context.retracted:
        return False
    if match.span is not None:
        return within(match.span, context.retracted)
    sentences = context.answer.analysis.sentences
    return len(sentences) == 2 and sentences[0] in context.retracted


def _retracted(signal: KeywordSignal | None, retracted: Sequence[Span]) -> KeywordSignal | None:
    """Keyword evidence with the matches inside a taken-back sentence counted as negated."""
    if signal is None or not retracted:
        return signal
    groups = []
    for group in signal.groups:
        match = group.match
        if match is not None and within((match.start, match.end), retracted):
            group = GroupEvidence(group.terms, False, None, replace(match, negated=True))
        groups.append(group)
    return replace(signal, groups=tuple(groups))


def _concept_overlap(
    context: Context, concept: LocalText, elsewhere: frozenset[str] = frozenset()
) -> float | None:
    """The share of the concept's own content words (the question's and ``elsewhere``'s, the
    other criteria's keywords, left out) the answer states; None where the concept has no
    version in the answer's language."""

    language = context.answer.language
    text = concept.by_language.get(language)
    if not text:
        return None
    prompt = frozenset().union(*context.words.get(context.gradable, language, prompt_words_of))
    words = content_words(analyze(text, language))
    own = words - prompt - elsewhere or words - prompt or words
    return len(context.answer_words & own) / len(own) if own else None


SUBSTANCE = 2  # content words of its own a part of an answer needs to be evidence of meaning


def _says_more(context: Context, match: Match, elsewhere: frozenset[str]) -> bool:
    """Whether the part of the answer in ``match`` has ``SUBSTANCE`` content words besides the
    question's and the other criteria's keywords: a bare name ("T5") is evidence for the
    criterion that asks for it, not for what its concept says about it."""
    language = context.answer.language
    prompt = frozenset().union(*context.words.get(context.gradable, language, prompt_words_of))
    start, end = match.span if match.span else (0, len(context.answer.analysis.text))
    own = {
        token.norm
        for token in context.answer.analysis.tokens
        if token.content and start <= token.start and token.end <= end
    }
    return len(own - prompt - elsewhere) >= SUBSTANCE


def _closer_wrong(context: Context, match: Match | None) -> Match | None:
    """The wrong reference that the answer's closest part (``match``'s unit) comes closer to
    than to the right reference, by ``wrong_margin`` (ramped similarities: two statements on one
    topic are close to each other, so closer alone says little); None when there is none or the
    answer denies it."""
    space = context.space
    if space is None or match is None:
        return None
    references = covered(wrong_references(context.gradable), space.languages)
    same = [
        (lang, text) for lang, text in references if same_language(lang, context.answer.language)
    ]
    cosine, reference = unit_cosine(space, context.unit_of(match), same or references)
    if reference is None:
        return None
    wrong = Match(cosine, reference[1], reference[0], match.span, cross=not same)
    params = context.params
    similarity = wrong.similarity(params)
    if (
        similarity < params.wrong_similarity
        or similarity <= match.similarity(params) + params.wrong_margin
    ):
        return None
    if context.negates(match, reference[1] if same else ""):
        return None  # "it is T5, not BERT": the answer denies the wrong one
    return wrong


# ---------------------------------------------------------------- misconceptions


def _misconception_signals(context: Context) -> dict[str, MisconceptionSignal]:
    gradable = context.gradable
    if not gradable.rubric:
        return {}
    right = list(gradable.model_answers())
    for criterion in gradable.rubric.criteria:
        right.extend(criterion.concept.by_language.items())
    found = {}
    keywords = context.answer.keywords[1]
    for misconception in gradable.rubric.misconceptions:
        match = context.match(list(misconception.statement.by_language.items()))
        right_cosine = -1.0
        if match is not None and context.space is not None:
            readable = covered(right, context.space.languages)
            same = [
                (lang, t) for lang, t in readable if same_language(lang, match.reference_language)
            ]
            right_cosine, _ = unit_cosine(context.space, context.unit_of(match), same or readable)
        found[misconception.id] = MisconceptionSignal(
            keywords=_retracted(keywords.get(misconception.id), context.retracted),
            match=match,
            right_cosine=right_cosine,
            negated=context.negates(match, misconception.statement) if match else False,
        )
    return found
