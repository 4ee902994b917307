"""One answer as a page shows it: highlighted evidence, criteria, misconceptions, and the bank's
texts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.results import (
    AnswerResult,
    CriterionResult,
    Flag,
    GroupEvidence,
    MisconceptionResult,
    Override,
    Similarity,
)

if TYPE_CHECKING:
    from grader.bank import Bank, Gradable
from grader.output.pages import MODEL_ANSWER_CRITERION, excerpt, lang_attr

# ---------------------------------------------------------------- views of one answer

Gettext = Callable[[str], str]  # the labels' translation


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str = ""  # "" plain, "hit" matched keyword, "neg" negated keyword, "mis" misconception
    note: str = ""


@dataclass(frozen=True)
class SimilarityView:
    cosine: float
    credit: float
    sentence: str  # the answer's closest sentence; "" when the whole answer was compared
    reference: str  # "" when hidden
    reference_lang: str


@dataclass(frozen=True)
class GroupView:
    met: bool
    matched: str  # the answer's text that satisfied the group
    term: str
    fuzzy: bool
    negated: str  # the answer's text found only inside a negated clause
    expected: tuple[str, ...]  # the alternatives; empty unless revealed


@dataclass(frozen=True)
class CriterionView:
    name: str
    met: bool
    score: float
    points: float
    keyword_credit: float | None
    groups: tuple[GroupView, ...]
    concept: SimilarityView | None
    feedback: str
    feedback_lang: str
    reason: str


@dataclass(frozen=True)
class MisconceptionView:
    name: str
    penalty: float
    groups: tuple[GroupView, ...]
    similarity: SimilarityView | None
    feedback: str
    feedback_lang: str


@dataclass(frozen=True)
class AnswerView:
    id: str
    anchor: str
    step: str  # the step's id within a challenge; "" for a question
    prompt: str
    prompt_lang: str
    lang: str
    answered: bool
    segments: tuple[Segment, ...]
    score: float
    points: float
    auto_score: float
    override: Override | None
    flags: tuple[Flag, ...]
    criteria: tuple[CriterionView, ...]
    misconceptions: tuple[MisconceptionView, ...]
    similarity: SimilarityView | None
    overlap: float | None
    feedback: str
    feedback_lang: str
    model_answers: tuple[tuple[str, str], ...]  # (language, text)
    chosen: tuple[str, ...]  # the texts of the chosen options (multiple choice)


@dataclass(frozen=True)
class QuestionView:
    number: int
    id: str
    anchor: str
    type: str
    prompt: str
    prompt_lang: str
    score: float
    points: float
    answers: tuple[AnswerView, ...]
    flagged: bool
    overridden: bool


def _clamp_span(text: str, start: int | None, end: int | None) -> tuple[int, int] | None:
    if start is None or end is None:
        return None
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    return (start, end) if end > start else None


def highlight(text: str, spans: Sequence[tuple[int, int, int, str, str]]) -> tuple[Segment, ...]:
    """Split ``text`` into plain and marked segments.

    ``spans`` are (priority, start, end, kind, note); where spans overlap the lower priority number
    wins, then the earlier and longer span. Segments hold raw text: the template escapes them.
    """
    chosen: list[tuple[int, int, str, str]] = []
    for _priority, start, end, kind, note in sorted(spans, key=lambda s: (s[0], s[1], s[1] - s[2])):
        span = _clamp_span(text, start, end)
        if span and all(span[1] <= other[0] or span[0] >= other[1] for other in chosen):
            chosen.append((span[0], span[1], kind, note))
    segments: list[Segment] = []
    position = 0
    for start, end, kind, note in sorted(chosen):
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], kind, note))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return tuple(segments)


def answer_spans(
    answer: AnswerResult, names: dict[str, str], _: Gettext
) -> list[tuple[int, int, int, str, str]]:
    spans: list[tuple[int, int, int, str, str]] = []
    for misconception in answer.misconceptions:
        for group in misconception.groups:
            if group.match:
                note = f"{_('Misconception')}: {misconception.id}"
                spans.append((0, group.match.start, group.match.end, "mis", note))
    for criterion in answer.criteria:
        name = names[criterion.id]
        for group in criterion.groups:
            if group.negated:
                note = f"{name}: {_('negated')}"
                spans.append((1, group.negated.start, group.negated.end, "neg", note))
            if group.match:
                kind = "neg" if group.match.negated else "hit"
                note = f"{name}: {_('negated') if kind == 'neg' else _('matched')}"
                spans.append(
                    (1 if kind == "neg" else 2, group.match.start, group.match.end, kind, note)
                )
    return spans


def similarity_view(
    similarity: Similarity | None, answer: str, show_reference: bool
) -> SimilarityView | None:
    if similarity is None:
        return None
    span = _clamp_span(answer, similarity.answer_start, similarity.answer_end)
    sentence = excerpt(answer[span[0] : span[1]]) if span and span != (0, len(answer)) else ""
    return SimilarityView(
        cosine=similarity.cosine,
        credit=similarity.credit,
        sentence=sentence,
        reference=similarity.reference if show_reference else "",
        reference_lang=lang_attr(similarity.reference_language),
    )


def _group_views(groups: Sequence[GroupEvidence], show_expected: bool) -> tuple[GroupView, ...]:
    return tuple(
        GroupView(
            met=group.met,
            matched=group.match.matched if group.match else "",
            term=group.match.term if group.match else "",
            fuzzy=bool(group.match and group.match.fuzzy),
            negated=group.negated.matched if group.negated else "",
            expected=tuple(group.terms) if show_expected and not group.met else (),
        )
        for group in groups
    )


def criterion_names(criteria: Sequence[CriterionResult], _: Gettext) -> dict[str, str]:
    return {
        criterion.id: _("Model answer") if criterion.id == MODEL_ANSWER_CRITERION else criterion.id
        for criterion in criteria
    }


def criterion_view(criterion: CriterionResult, name: str, answer: str) -> CriterionView:
    return CriterionView(
        name=name,
        met=criterion.met,
        score=criterion.score,
        points=criterion.points,
        keyword_credit=criterion.keyword_credit,
        groups=_group_views(criterion.groups, True),
        concept=similarity_view(criterion.concept, answer, True),
        feedback=criterion.feedback,
        feedback_lang=lang_attr(criterion.feedback_language),
        reason=criterion.reason,
    )


def misconception_view(hit: MisconceptionResult, answer: str) -> MisconceptionView:
    return MisconceptionView(
        name=hit.id,
        penalty=hit.penalty,
        groups=_group_views(hit.groups, False),
        similarity=similarity_view(hit.similarity, answer, True),
        feedback=hit.feedback,
        feedback_lang=lang_attr(hit.feedback_language),
    )


# ---------------------------------------------------------------- what the bank adds


@dataclass(frozen=True)
class BankText:
    """Prompts, model answers and options from the bank, when the bank is at hand."""

    bank: Bank | None
    languages: tuple[str, ...]
    by_id: Mapping[str, Gradable] = field(default_factory=dict)  # the bank's gradables, made once

    def gradable(self, answer_id: str) -> Gradable | None:
        return self.by_id.get(answer_id)

    def question_prompt(self, question_id: str, language: str) -> tuple[str, str]:
        question = self.bank.question(question_id) if self.bank else None
        if question is None or not question.prompt:
            return "", ""
        return question.prompt.get(language, self.languages), question.prompt.language_of(
            language, self.languages
        )

    def prompt(self, answer_id: str, language: str) -> tuple[str, str]:
        gradable = self.gradable(answer_id)
        if gradable is None or not gradable.prompt:
            return "", ""
        return gradable.prompt.get(language, self.languages), gradable.prompt.language_of(
            language, self.languages
        )

    def feedback_language(self, answer_id: str, language: str) -> str:
        gradable = self.gradable(answer_id)
        return gradable.feedback.language_of(language, self.languages) if gradable else ""

    def model_answers(self, answer: AnswerResult) -> tuple[tuple[str, str], ...]:
        gradable = self.gradable(answer.id)
        if gradable is None:
            similarity = answer.similarity
            return ((similarity.reference_language, similarity.reference),) if similarity else ()
        if gradable.closed is not None:
            return self._closed_answers(gradable, answer.language)
        for code in (answer.language, *self.languages, *gradable.answers):
            if code and gradable.answers.get(code):
                return tuple((code, text) for text in gradable.answers[code])
        return ()

    def _closed_answers(self, gradable: Gradable, language: str) -> tuple[tuple[str, str], ...]:
        closed = gradable.closed
        assert closed is not None
        if closed.options:
            return tuple(
                (
                    option.text.language_of(language, self.languages),
                    option.text.get(language, self.languages),
                )
                for option in closed.options
                if option.credit > 0
            )
        value = closed.value_text()
        return (("", value),) if value is not None else ()

    def chosen_options(self, answer: AnswerResult) -> tuple[str, ...]:
        gradable = self.gradable(answer.id)
        closed = gradable.closed if gradable else None
        if closed is None or not closed.options or not answer.answered:
            return ()
        wanted = answer.answer.strip().casefold()
        for option in closed.options:
            if any(text.strip().casefold() == wanted for text in option.text.by_language.values()):
                return (option.text.get(answer.language, self.languages),)
        by_id = {option.id.casefold(): option for option in closed.options}
        picked = [by_id.get(part.strip().casefold()) for part in answer.answer.split(",")]
        if any(option is None for option in picked):
            return ()
        return tuple(
            option.text.get(answer.language, self.languages) for option in picked if option
        )
