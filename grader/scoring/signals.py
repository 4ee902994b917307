"""Gather the signals of one answer for ``grader.scoring.rule``: per criterion its keywords, the
closest reference and the share of its words the answer states, whether the answer negates it or
comes closer to a wrong answer; the misconceptions' evidence; the gaming checks.

The bank's own texts (model answers, prompts, concepts) are analysed once per run and kept in a
``ReferenceWords`` the grading run passes in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from grader.bank import Bank, Gradable, LocalText
from grader.evidence.keywords import match_keywords
from grader.evidence.match import Match
from grader.evidence.space import (
    Space,
    Unit,
    best_match,
    covered,
    other_answers,
    same_language,
    unit_cosine,
)
from grader.evidence.term_index import index_answer, written_for
from grader.results import Flag, GroupEvidence
from grader.scoring import gaming
from grader.scoring.defaults import defaults
from grader.scoring.inputs import (
    MODEL_ANSWER_CRITERION,
    CriterionSignal,
    KeywordSignal,
    MisconceptionSignal,
    Penalty,
    Signals,
    WrongAnswerSignal,
    keyword_signal_from,
)
from grader.scoring.params import ScoringParams
from grader.text.analysis import Analysis, analyze, content_words, is_latin_language
from grader.text.polarity import (
    Reading,
    consistency,
    cue_words,
    polarity,
    read,
    within,
)

if TYPE_CHECKING:
    import numpy as np

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
    context = _Context(answer, space, params, words, reading, answer_words, matrix)
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
    reading: Reading
    answer_words: frozenset[str]
    matrix: np.ndarray | None  # the units' rows in the space

    @property
    def gradable(self) -> Gradable:
        return self.answer.gradable

    @property
    def retracted(self) -> tuple[Span, ...]:
        return self.reading.retracted

    def match(self, references: Sequence[tuple[str, str]]) -> Match | None:
        if self.space is None or not self.answer.units:
            return None
        readable = covered(references, self.space.languages)
        return best_match(
            self.space, self.answer.units, readable, self.answer.language, self.matrix
        )

    def unit_of(self, match: Match) -> str:
        return next(text for text, span in self.answer.units if span == match.span)

    def negates(self, match: Match | None, *texts: LocalText | str, strict: bool = False) -> bool:
        """Whether the part of the answer in ``match`` negates the first of ``texts`` and
        agrees with none of the others (texts in the answer's language; another language's
        text tells nothing). The question's own words are left out of the comparison.
        ``strict``: none of the first text's words may be stated plainly."""
        language = self.answer.language
        chosen = [t.by_language.get(language, "") if isinstance(t, LocalText) else t for t in texts]
        if not chosen or not chosen[0]:
            return False
        span = match.span if match else None
        prompt = frozenset().union(*self.words.get(self.gradable, language, _prompt_words))
        opposite, agree = polarity(self.reading, span, chosen[0], prompt)
        if not (opposite > 0 and (agree == 0 if strict else opposite >= agree)):
            return False
        for other in chosen[1:]:
            same, different = consistency(self.reading, span, other, prompt)
            if other and same > different:
                return False
        return True


# ---------------------------------------------------------------- criteria


def _answer_match(context: _Context) -> Match | None:
    return context.match(list(context.gradable.model_answers()))


def _known_wrong_answer(context: _Context, answer_match: Match | None) -> WrongAnswerSignal | None:
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


def _criteria_signals(context: _Context, answer_match: Match | None) -> dict[str, CriterionSignal]:
    gradable = context.gradable
    rubric = gradable.rubric
    if not (rubric and rubric.criteria):
        overlap = _overlap(context.answer_words, gradable, context.answer.language, context.words)
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
        others = context.words.get(context.gradable, context.answer.language, _criterion_words)
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


def _taken_back(context: _Context, match: Match) -> bool:
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
    context: _Context, concept: LocalText, elsewhere: frozenset[str] = frozenset()
) -> float | None:
    """The share of the concept's own content words (the question's and ``elsewhere``'s, the
    other criteria's keywords, left out) the answer states; None where the concept has no
    version in the answer's language."""

    language = context.answer.language
    text = concept.by_language.get(language)
    if not text:
        return None
    prompt = frozenset().union(*context.words.get(context.gradable, language, _prompt_words))
    words = content_words(analyze(text, language))
    own = words - prompt - elsewhere or words - prompt or words
    return len(context.answer_words & own) / len(own) if own else None


def _criterion_words(gradable: Gradable, language: str) -> dict[str, frozenset[str]]:
    """Per criterion: the comparison keys of the content words of its keyword terms that could
    be written in ``language``."""

    found: dict[str, frozenset[str]] = {}
    for criterion in gradable.rubric.criteria if gradable.rubric else ():
        terms = [
            term.text
            for groups in criterion.keywords.by_language.values()
            for group in groups
            for term in group.terms
            if not term.is_regex and written_for(term.text, language)
        ]
        found[criterion.id] = frozenset().union(
            *(content_words(analyze(text, language)) for text in terms)
        )
    return found


SUBSTANCE = 2  # content words of its own a part of an answer needs to be evidence of meaning


def _says_more(context: _Context, match: Match, elsewhere: frozenset[str]) -> bool:
    """Whether the part of the answer in ``match`` has ``SUBSTANCE`` content words besides the
    question's and the other criteria's keywords: a bare name ("T5") is evidence for the
    criterion that asks for it, not for what its concept says about it."""
    language = context.answer.language
    prompt = frozenset().union(*context.words.get(context.gradable, language, _prompt_words))
    start, end = match.span if match.span else (0, len(context.answer.analysis.text))
    own = {
        token.norm
        for token in context.answer.analysis.tokens
        if token.content and start <= token.start and token.end <= end
    }
    return len(own - prompt - elsewhere) >= SUBSTANCE


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

    texts = [(lang, text) for lang, text in gradable.model_answers() if lang == language]
    return max(
        (len(analyze(text, lang).tokens) for lang, text in texts or gradable.model_answers()),
        default=0,
    )


def _question_terms(gradable: Gradable, language: str) -> frozenset[str]:
    """The comparison keys of the content words of the question's own texts in ``language``
    (prompt, model answers, concepts) and of every (non-regex) keyword term of its rubric that
    could be written in it: the words a list of the question's terms is made of."""

    texts = [gradable.prompt.by_language.get(language, "")]
    texts.extend(text for lang, text in gradable.model_answers() if lang == language)
    rubric = gradable.rubric
    if rubric is not None:
        texts.extend(c.concept.by_language.get(language, "") for c in rubric.criteria)
        texts.extend(
            term.text
            for criterion in rubric.criteria
            for groups in criterion.keywords.by_language.values()
            for group in groups
            for term in group.terms
            if not term.is_regex and written_for(term.text, language)
        )
    return frozenset().union(*(content_words(analyze(text, language)) for text in texts if text))


def _glue(analysis: Analysis) -> float:
    """The share of the answer's letters outside its content words."""
    letters = sum(1 for char in analysis.text if char.isalpha())
    inside = sum(
        1 for token in analysis.tokens if token.content for char in token.surface if char.isalpha()
    )
    return 1.0 - inside / letters if letters else 1.0


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


def _penalties(bank: Bank, context: _Context, answer_match: Match | None) -> tuple[Penalty, ...]:
    answer, words = context.answer, context.words
    gradable, analysis = answer.gradable, answer.analysis
    found: list[Penalty | None] = [gaming.foreign_language(answer.language, bank.languages)]
    tokens = [token for token in analysis.tokens if token.norm.strip()]
    content = [token for token in tokens if token.content]
    vocabulary = words.get(gradable, analysis.language, _question_terms)
    known = sum(1 for token in content if token.norm in vocabulary) / max(len(content), 1)
    found.append(gaming.keyword_salad(len(content), _glue(analysis), known))
    found.append(gaming.takes_it_back(_sentence_words(analysis, context.reading.retracting)))
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
    table = other_answers(bank, space, context.answer.language)
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
