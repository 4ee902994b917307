"""Gather the signals of one answer for ``grader.scoring``: per criterion its keywords, the closest
reference and the share of its words the answer states, whether the answer negates it or comes
closer to a wrong answer; the misconceptions' evidence; the gaming checks.

The bank's own texts (model answers, prompts, concepts) are analysed once per run and kept in a
``ReferenceWords`` the grading run passes in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from grader import gaming
from grader.defaults import defaults
from grader.model import Bank, Gradable, LocalText
from grader.polarity import negates, polarity, retracted_sentences, within
from grader.results import Flag, GroupEvidence
from grader.scoring import (
    MODEL_ANSWER_CRITERION,
    CriterionSignal,
    KeywordSignal,
    Match,
    MisconceptionSignal,
    Penalty,
    ScoringParams,
    Signals,
)
from grader.space import Space, Unit, best_match, covered, other_answers, same_language, unit_cosine

if TYPE_CHECKING:
    import numpy as np

    from grader.analysis import Analysis

T = TypeVar("T")
Span = tuple[int, int]
# Keyword evidence by id: of the criteria, of the misconceptions.
KeywordSignals = tuple[dict[str, KeywordSignal], dict[str, KeywordSignal]]


@dataclass
class ReferenceWords:
    """Per (gradable, language): words of the bank's texts, computed once per grading run."""

    values: dict[tuple[int, str, str], tuple[Gradable, Any]] = field(default_factory=dict)

    def get(self, gradable: Gradable, language: str, compute: Callable[[Gradable, str], T]) -> T:
        key = (id(gradable), language, compute.__name__)
        found = self.values.get(key)
        if found is not None and found[0] is gradable:
            value: T = found[1]
            return value
        value = compute(gradable, language)
        self.values[key] = (gradable, value)
        return value


@dataclass(frozen=True)
class AnswerView:
    """What the signals need of one analysed answer."""

    gradable: Gradable
    language: str
    analysis: Analysis
    units: Sequence[Unit] = ()  # the whole answer and its sentences (embedded)
    keywords: KeywordSignals = ({}, {})
    notes: tuple[Flag, ...] = ()


def keyword_signals(gradable: Gradable, analysis: Analysis) -> KeywordSignals:
    """The rubric's keyword evidence for an answer."""
    from grader.keywords import match_keywords
    from grader.scoring import keyword_signal_from

    rubric = gradable.rubric
    return (
        {
            criterion.id: keyword_signal_from(match_keywords(criterion.keywords, analysis))
            for criterion in (rubric.criteria if rubric else ())
            if criterion.keywords
        },
        {
            item.id: keyword_signal_from(match_keywords(item.keywords, analysis))
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
    from grader.analysis import content_words

    analysis = answer.analysis
    retracted = retracted_sentences(analysis)
    answer_words = content_words(analysis)
    matrix = space.rows([text for text, _ in answer.units]) if space and answer.units else None
    context = _Context(answer, space, params, words, retracted, answer_words, matrix)
    answer_match = _answer_match(context)
    signals = Signals(
        answer.language,
        answered=True,
        criteria=_criteria_signals(context, answer_match),
        misconceptions=_misconception_signals(context),
        answer_match=answer_match,
        notes=answer.notes,
    )
    penalties = _penalties(bank, context, answer_match)
    return replace(
        signals, penalties=penalties, notes=(*signals.notes, *_language_notes(answer, space))
    )


@dataclass(frozen=True)
class _Context:
    answer: AnswerView
    space: Space | None
    params: ScoringParams
    words: ReferenceWords
    retracted: tuple[Span, ...]
    answer_words: frozenset[str]
    matrix: np.ndarray | None  # the units' rows in the space

    @property
    def gradable(self) -> Gradable:
        return self.answer.gradable

    def match(self, references: Sequence[tuple[str, str]]) -> Match | None:
        if self.space is None or not self.answer.units:
            return None
        readable = covered(references, self.space.languages)
        return best_match(
            self.space, self.answer.units, readable, self.answer.language, self.matrix
        )

    def unit_of(self, match: Match) -> str:
        return next(text for text, span in self.answer.units if span == match.span)

    def negates(self, match: Match | None, *texts: LocalText | str) -> bool:
        """Whether the part of the answer in ``match`` negates the first of ``texts`` and
        agrees with none of the others (texts in the answer's language; another language's
        text tells nothing). The question's own words are left out of the comparison."""
        language = self.answer.language
        chosen = [t.by_language.get(language, "") if isinstance(t, LocalText) else t for t in texts]
        if not chosen or not chosen[0]:
            return False
        span = match.span if match else None
        prompt = frozenset().union(*self.words.get(self.gradable, language, _prompt_words))
        analysis = self.answer.analysis
        if not negates(analysis, span, chosen[0], self.retracted, prompt):
            return False
        for other in chosen[1:]:
            opposite, agree = polarity(analysis, span, other, self.retracted, prompt)
            if other and agree > opposite:
                return False
        return True


# ---------------------------------------------------------------- criteria


def _answer_match(context: _Context) -> Match | None:
    return context.match(list(context.gradable.model_answers()))


def _criteria_signals(context: _Context, answer_match: Match | None) -> dict[str, CriterionSignal]:
    gradable = context.gradable
    rubric = gradable.rubric
    if not (rubric and rubric.criteria):
        overlap = _overlap(context.answer_words, gradable, context.answer.language, context.words)
        same = [
            text
            for language, text in gradable.model_answers()
            if same_language(language, context.answer.language)
            and answer_match is not None
            and text != answer_match.reference
        ]
        negated = bool(
            answer_match
            and not answer_match.cross
            and context.negates(answer_match, answer_match.reference, *same)
        )
        return {
            MODEL_ANSWER_CRITERION: CriterionSignal(
                match=answer_match,
                overlap=overlap,
                negated=negated,
                wrong=_closer_wrong(context, answer_match),
            )
        }
    found = {}
    criterion_keywords = context.answer.keywords[0]
    for criterion in rubric.criteria:
        match = context.match(list(criterion.concept.by_language.items()))
        found[criterion.id] = CriterionSignal(
            keywords=_retracted(criterion_keywords.get(criterion.id), context.retracted),
            match=match,
            overlap=_concept_overlap(context, criterion.concept),
            negated=context.negates(match, criterion.concept) if match else False,
            wrong=_closer_wrong(context, match),
        )
    return found


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


def _concept_overlap(context: _Context, concept: LocalText) -> float | None:
    """The share of the concept's own content words (the question's left out) the answer states;
    None where the concept has no version in the answer's language."""
    from grader.analysis import analyze, content_words

    language = context.answer.language
    text = concept.by_language.get(language)
    if not text:
        return None
    prompt = frozenset().union(*context.words.get(context.gradable, language, _prompt_words))
    words = content_words(analyze(text, language))
    own = words - prompt or words
    return len(context.answer_words & own) / len(own) if own else None


def wrong_references(gradable: Gradable) -> list[tuple[str, str]]:
    """(language, text) of what the question counts as wrong: its wrong answers and its
    misconception statements."""
    found = [(language, item.text) for language, item in gradable.known_wrong()]
    if gradable.rubric:
        for misconception in gradable.rubric.misconceptions:
            found.extend(misconception.statement.by_language.items())
    return found


def _closer_wrong(context: _Context, match: Match | None) -> Match | None:
    """The wrong reference that the answer's closest part (``match``'s unit) comes closer to
    than to the right reference, compared as ramped similarities; None when there is none or the
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
    if wrong.similarity(params) <= match.similarity(params):
        return None
    if context.negates(match, reference[1] if same else ""):
        return None  # "it is T5, not BERT": the answer denies the wrong one
    return wrong


# ---------------------------------------------------------------- misconceptions


def _misconception_signals(context: _Context) -> dict[str, MisconceptionSignal]:
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


# ---------------------------------------------------------------- words of the bank's texts


def _model_answer_words(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the model answers in ``language`` that the question itself does not
    already use (all of them where nothing would be left): words are compared within a language,
    and repeating the question's words is no evidence of knowing the answer."""
    from grader.analysis import analyze, content_words

    prompt = frozenset().union(*_prompt_words(gradable, language))
    found = []
    for text_language, text in gradable.model_answers():
        if text_language == language:
            words = content_words(analyze(text, text_language))
            found.append(words - prompt or words)
    return found


def _prompt_words(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the prompt in ``language`` and in the languages that share its script
    (those in other scripts are skipped, and their analysers not loaded); of every language's
    prompt when none does."""
    from grader.analysis import analyze, content_words, is_latin_language

    def same_script(other: str) -> bool:
        return other == language or (is_latin_language(other) and is_latin_language(language))

    prompts = gradable.prompt.by_language
    texts = [(lang, text) for lang, text in prompts.items() if same_script(lang)]
    return [
        content_words(analyze(text, text_language))
        for text_language, text in texts or prompts.items()
    ]


def _longest_model_answer(gradable: Gradable, language: str) -> int:
    """The number of words of the longest model answer in ``language`` (of any, without one)."""
    from grader.analysis import analyze

    texts = [(lang, text) for lang, text in gradable.model_answers() if lang == language]
    return max(
        (len(analyze(text, lang).tokens) for lang, text in texts or gradable.model_answers()),
        default=0,
    )


def _rubric_vocabulary(gradable: Gradable, language: str) -> frozenset[str]:
    """The comparison keys of the content words of every (non-regex) term of the rubric."""
    from grader.analysis import analyze, content_words
    from grader.keywords import written_for

    if gradable.rubric is None:
        return frozenset()
    return frozenset(
        word
        for criterion in gradable.rubric.criteria
        for groups in criterion.keywords.by_language.values()
        for group in groups
        for term in group.terms
        if not term.is_regex and written_for(term.text, language)
        for word in content_words(analyze(term.text, language))
    )


def _overlap(
    answer_words: frozenset[str], gradable: Gradable, language: str, words: ReferenceWords
) -> float | None:
    """Recall of the best same-language model answer's content words; None without one."""
    best = None
    for reference in words.get(gradable, language, _model_answer_words):
        if reference:
            recall = len(answer_words & reference) / len(reference)
            best = recall if best is None else max(best, recall)
    return best


# ---------------------------------------------------------------- gaming and language


def _language_notes(answer: AnswerView, space: Space | None) -> tuple[Flag, ...]:
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


def _sentence_words(analysis: Analysis) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Per sentence: its content words, and those of them in a negated clause (one pass)."""
    starts = [start for start, _ in analysis.sentences]
    words: list[set[str]] = [set() for _ in starts]
    negated: list[set[str]] = [set() for _ in starts]
    for token in analysis.tokens:
        index = bisect.bisect_right(starts, token.start) - 1
        if token.content and index >= 0 and token.end <= analysis.sentences[index][1]:
            words[index].add(token.norm)
            if token.negated:
                negated[index].add(token.norm)
    return [(frozenset(w), frozenset(n)) for w, n in zip(words, negated, strict=True)]


def _penalties(bank: Bank, context: _Context, answer_match: Match | None) -> tuple[Penalty, ...]:
    answer, words = context.answer, context.words
    gradable, analysis = answer.gradable, answer.analysis
    found: list[Penalty | None] = [gaming.foreign_language(answer.language, bank.languages)]
    tokens = [token for token in analysis.tokens if token.norm.strip()]
    function_words = sum(1 for token in tokens if not token.content)
    vocabulary = words.get(gradable, analysis.language, _rubric_vocabulary)
    rubric_words = sum(1 for token in tokens if token.content and token.norm in vocabulary)
    found.append(gaming.keyword_salad(len(tokens), function_words, rubric_words))
    found.append(gaming.takes_it_back(_sentence_words(analysis)))
    longest = words.get(gradable, analysis.language, _longest_model_answer)
    found.append(gaming.padded(len(tokens), longest))
    # An answer that says what only this question's model answer says has answered it: neither a
    # copy of the question nor another question's answer.
    overlap = _overlap(context.answer_words, gradable, answer.language, words) or 0.0
    if overlap < defaults().answered:
        prompt_words = words.get(gradable, answer.language, _prompt_words)
        found.append(gaming.copied_question(context.answer_words, prompt_words))
        if context.space is not None and answer_match is not None:
            found.append(_other_question(bank, context, answer_match.cosine))
    return tuple(penalty for penalty in found if penalty is not None)


def _other_question(bank: Bank, context: _Context, own_best: float) -> Penalty | None:
    space = context.space
    assert space is not None
    best: tuple[float, str] = (-1.0, "")
    table = other_answers(bank, space)
    if table.ids and context.answer.units:
        import numpy as np

        whole = space.rows([context.answer.units[0][0]])  # the whole answer, as in its own match
        cosines = np.maximum.reduceat((whole @ table.matrix.T)[0], table.starts)
        for other_id, cosine in zip(table.ids, cosines, strict=True):
            if other_id != context.gradable.id and cosine > best[0]:
                best = (float(cosine), other_id)
    return gaming.other_question_answer(own_best, best[0], best[1], context.params.ramp.ceiling)


def reference_sets(gradable: Gradable) -> Iterator[list[tuple[str, str]]]:
    """Each set of (language, text) a gradable's answers are matched with: the model answers,
    each criterion's concept, each misconception's statement, the wrong answers."""
    yield list(gradable.model_answers())
    if gradable.rubric:
        for criterion in gradable.rubric.criteria:
            yield list(criterion.concept.by_language.items())
        for misconception in gradable.rubric.misconceptions:
            yield list(misconception.statement.by_language.items())
    wrong = [(language, item.text) for language, item in gradable.known_wrong()]
    if wrong:
        yield wrong
