"""Turn the signals of one answer (keywords, similarities, gaming checks) into a score.

The arithmetic lives here and nowhere else; ``grader.grading`` gathers the signals. The one rule
that mixes the signals is ``criterion_credit``:

    direct  = max(keyword credit, concept credit)      (whichever evidence is stronger)
    credit  = w * direct + (1 - w) * answer credit      (w = rubric_weight)

where concept and answer credit are cosines through the model's floor..ceiling ramp. Without a
model, credit = keyword credit. A question without a rubric has one pseudo-criterion whose direct
evidence is the content-word overlap with the best model answer. Misconceptions subtract their
penalty; gaming checks scale the score down; the score is clamped to [0, points].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from grader.model import Criterion, Gradable, LocalText, Misconception
from grader.results import (
    CriterionResult,
    Flag,
    GroupEvidence,
    MisconceptionResult,
    Similarity,
    TermEvidence,
)

MET_THRESHOLD = 0.5
DISAGREEMENT = 0.5
MODEL_ANSWER_CRITERION = "model-answer"


@dataclass(frozen=True)
class ScoringParams:
    floor: float = 0.3  # cosine at or below which semantic credit is 0
    ceiling: float = 0.8  # cosine at or above which semantic credit is 1
    rubric_weight: float = 0.7  # weight of the criterion's own evidence vs the whole-answer match
    review_margin: float = 0.1  # share of points around the pass mark that asks for review
    misconception_margin: float = 0.05  # statement must beat every model answer by this much

    def ramp(self, cosine: float) -> float:
        span = max(self.ceiling - self.floor, 1e-6)
        return min(1.0, max(0.0, (cosine - self.floor) / span))


@dataclass(frozen=True)
class Match:
    """A cosine between (part of) the answer and one reference text."""

    cosine: float
    reference: str
    reference_language: str
    span: tuple[int, int] | None = None  # the answer sentence; None for the whole answer

    def evidence(self, params: ScoringParams) -> Similarity:
        start, end = self.span if self.span else (None, None)
        return Similarity(
            round(self.cosine, 4),
            round(params.ramp(self.cosine), 4),
            self.reference,
            self.reference_language,
            start,
            end,
        )


@dataclass(frozen=True)
class KeywordSignal:
    """Keyword evidence of one criterion or misconception (from grader.keywords)."""

    language: str
    groups: tuple[GroupEvidence, ...]

    @property
    def credit(self) -> float:
        usable = [group for group in self.groups if group.met]
        return len(usable) / len(self.groups) if self.groups else 0.0

    @property
    def contradicted(self) -> bool:
        """A group both met and negated elsewhere: the answer says it, then takes it back."""
        return any(group.met and group.negated is not None for group in self.groups)


@dataclass(frozen=True)
class Penalty:
    """A gaming check that scales the score down."""

    code: str
    factor: float  # multiply the score by this (0..1)
    reason: str


@dataclass(frozen=True)
class Signals:
    language: str
    answered: bool
    keywords: Mapping[str, KeywordSignal] = field(default_factory=dict)  # by criterion id
    misconception_keywords: Mapping[str, KeywordSignal] = field(default_factory=dict)
    answer_match: Match | None = None  # best match with a model answer
    concept_matches: Mapping[str, Match] = field(default_factory=dict)  # by criterion id
    statement_matches: Mapping[str, Match] = field(default_factory=dict)  # by misconception id
    overlap: float | None = None  # content-word recall of the best model answer
    penalties: tuple[Penalty, ...] = ()
    notes: tuple[Flag, ...] = ()  # flags found while gathering signals (language, truncation)


@dataclass(frozen=True)
class Scored:
    score: float
    criteria: tuple[CriterionResult, ...]
    misconceptions: tuple[MisconceptionResult, ...]
    flags: tuple[Flag, ...]


def criterion_credit(
    keyword: float | None, concept: float | None, answer: float | None, weight: float
) -> float:
    """The one place where keyword and semantic evidence are combined (see the module doc)."""
    present = [value for value in (keyword, concept) if value is not None]
    direct = max(present) if present else 0.0
    if answer is None:
        return direct
    if not present:
        return answer
    return weight * direct + (1.0 - weight) * answer


def score_answer(
    gradable: Gradable,
    signals: Signals,
    params: ScoringParams,
    feedback_languages: Sequence[str],
) -> Scored:
    if not signals.answered:
        return _unanswered(gradable, feedback_languages)
    answer_credit = params.ramp(signals.answer_match.cosine) if signals.answer_match else None
    criteria = _criteria_results(gradable, signals, params, answer_credit, feedback_languages)
    misconceptions = _misconceptions_hit(gradable, signals, params, feedback_languages)
    earned = sum(criterion.score for criterion in criteria)
    for penalty in signals.penalties:
        earned *= penalty.factor
    earned -= sum(hit.penalty for hit in misconceptions)
    score = round(min(gradable.points, max(0.0, earned)), 4)
    flags = _flags(gradable, signals, params, criteria, score)
    return Scored(score, criteria, misconceptions, flags)


def _unanswered(gradable: Gradable, languages: Sequence[str]) -> Scored:
    criteria = tuple(
        CriterionResult(
            criterion.id,
            criterion.points,
            0.0,
            0.0,
            False,
            feedback=_pick(criterion.feedback_missed, languages)[0],
            feedback_language=_pick(criterion.feedback_missed, languages)[1],
            reason="no answer",
        )
        for criterion in _criteria_of(gradable)
    )
    return Scored(0.0, criteria, (), ())


def _criteria_of(gradable: Gradable) -> tuple[Criterion, ...]:
    if gradable.rubric and gradable.rubric.criteria:
        scale = gradable.points / gradable.rubric.points
        return tuple(
            Criterion(
                c.id,
                c.points * scale,
                c.keywords,
                c.concept,
                c.feedback_met,
                c.feedback_missed,
            )
            for c in gradable.rubric.criteria
        )
    return (Criterion(MODEL_ANSWER_CRITERION, gradable.points),)


def _criteria_results(
    gradable: Gradable,
    signals: Signals,
    params: ScoringParams,
    answer_credit: float | None,
    languages: Sequence[str],
) -> tuple[CriterionResult, ...]:
    results = []
    for criterion in _criteria_of(gradable):
        keyword = signals.keywords.get(criterion.id)
        keyword_credit = keyword.credit if keyword and keyword.groups else None
        if criterion.id == MODEL_ANSWER_CRITERION:
            keyword_credit = signals.overlap
        concept_match = signals.concept_matches.get(criterion.id)
        concept_credit = params.ramp(concept_match.cosine) if concept_match else None
        if keyword and keyword.contradicted:
            keyword_credit, concept_credit = 0.0, (0.0 if concept_credit is not None else None)
        credit = criterion_credit(
            keyword_credit, concept_credit, answer_credit, params.rubric_weight
        )
        met = credit >= MET_THRESHOLD
        feedback, feedback_language = _pick(
            criterion.feedback_met if met else criterion.feedback_missed, languages
        )
        results.append(
            CriterionResult(
                id=criterion.id,
                points=round(criterion.points, 4),
                credit=round(credit, 4),
                score=round(criterion.points * credit, 4),
                met=met,
                keyword_language=keyword.language if keyword else None,
                keyword_credit=None if keyword_credit is None else round(keyword_credit, 4),
                groups=keyword.groups if keyword else (),
                concept=concept_match.evidence(params) if concept_match else None,
                feedback=feedback,
                feedback_language=feedback_language,
                reason=_reason(keyword_credit, concept_credit, answer_credit, keyword, params),
            )
        )
    return tuple(results)


def _reason(
    keyword: float | None,
    concept: float | None,
    answer: float | None,
    signal: KeywordSignal | None,
    params: ScoringParams,
) -> str:
    parts = []
    if signal and signal.contradicted:
        parts.append("the answer states it and then negates it")
    if keyword is not None:
        parts.append(f"keywords {keyword:.0%}")
    if concept is not None:
        parts.append(f"concept similarity {concept:.0%}")
    if answer is not None:
        parts.append(f"whole-answer similarity {answer:.0%}")
    if answer is not None and (keyword is not None or concept is not None):
        weight = params.rubric_weight
        parts.append(f"credit = {weight:g} x best of the first two + {1 - weight:g} x the last")
    return "; ".join(parts)


def _misconceptions_hit(
    gradable: Gradable, signals: Signals, params: ScoringParams, languages: Sequence[str]
) -> tuple[MisconceptionResult, ...]:
    if not gradable.rubric:
        return ()
    best_answer = signals.answer_match.cosine if signals.answer_match else 0.0
    hits = []
    for misconception in gradable.rubric.misconceptions:
        keyword = signals.misconception_keywords.get(misconception.id)
        keyword_hit = bool(keyword and keyword.groups and keyword.credit >= 1.0)
        match = signals.statement_matches.get(misconception.id)
        semantic_hit = bool(
            match
            and match.cosine >= params.ceiling
            and match.cosine > best_answer + params.misconception_margin
        )
        if keyword_hit or semantic_hit:
            hits.append(_misconception_result(misconception, keyword, match, params, languages))
    return tuple(hits)


def _misconception_result(
    misconception: Misconception,
    keyword: KeywordSignal | None,
    match: Match | None,
    params: ScoringParams,
    languages: Sequence[str],
) -> MisconceptionResult:
    feedback, language = _pick(misconception.feedback, languages)
    return MisconceptionResult(
        misconception.id,
        misconception.penalty,
        keyword.groups if keyword else (),
        match.evidence(params) if match else None,
        feedback,
        language,
    )


def _flags(
    gradable: Gradable,
    signals: Signals,
    params: ScoringParams,
    criteria: Sequence[CriterionResult],
    score: float,
) -> tuple[Flag, ...]:
    flags = list(signals.notes)
    flags.extend(Flag(p.code, p.reason) for p in signals.penalties)
    disagreeing = [
        c.id
        for c in criteria
        if c.keyword_credit is not None
        and c.concept is not None
        and abs(c.keyword_credit - c.concept.credit) > DISAGREEMENT
    ]
    if disagreeing:
        flags.append(
            Flag(
                "signals-disagree",
                "keywords and meaning disagree on " + ", ".join(disagreeing),
            )
        )
    boundary = gradable.points / 2
    if abs(score - boundary) <= params.review_margin * gradable.points:
        flags.append(
            Flag("near-boundary", f"{score:g} of {gradable.points:g} is close to the pass mark")
        )
    return tuple(flags)


def _pick(text: LocalText, languages: Sequence[str]) -> tuple[str, str]:
    """The text in the first of ``languages`` it has, with that language."""
    if not text:
        return "", ""
    language = text.language_of(None, tuple(languages))
    return text.get(language), language


def keyword_signal_from(result: object) -> KeywordSignal:
    """Convert a grader.keywords.KeywordResult into evidence records."""
    language = getattr(result, "language", "")
    groups = []
    for group_result in getattr(result, "groups", ()):
        match = getattr(group_result, "match", None)
        negated = getattr(group_result, "negated", None)
        groups.append(
            GroupEvidence(
                tuple(str(term) for term in group_result.group.terms),
                match is not None,
                _term_evidence(match),
                _term_evidence(negated),
            )
        )
    return KeywordSignal(language, tuple(groups))


def _term_evidence(match: object | None) -> TermEvidence | None:
    if match is None:
        return None
    return TermEvidence(
        str(getattr(match, "term", "")),
        str(getattr(match, "text", "")),
        int(getattr(match, "start", 0)),
        int(getattr(match, "end", 0)),
        bool(getattr(match, "fuzzy", False)),
        bool(getattr(match, "negated", False)),
    )
