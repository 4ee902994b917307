"""Turn the signals of one answer into a score: the one scoring rule.

``grader.grading`` gathers the signals; the arithmetic lives here and nowhere else. Grading scores
one answer at a time with ``score_answer``; calibration and the benchmarks score many answers under
many parameter sets with the same vectorised functions (``meaning_credit``, ``criterion_credit``,
``answer_share``) that ``score_answer`` calls, so there is one rule:

* A criterion earns credit only from evidence about itself:
  - keywords: the share of its keyword groups the answer states (outside a negated clause);
  - meaning: how close the answer comes to the criterion's concept (its closest sentence, or the
    whole answer), as a similarity ramped per model (0: unrelated text, 1: a paraphrase; see
    ``grader.evidence.match.Ramp``), together with the share of the concept's own content words
    the answer states, read through the fitted meaning map into a credit 0..1.
  A criterion with keywords earns ``max(keyword credit, min(meaning credit, meaning_cap))``:
  meaning alone never gives it full credit, and where it decides, the criterion is "likely met"
  (flagged, and its feedback never says "correct"). A criterion without keywords earns its
  meaning credit.
* Evidence against decides: a criterion whose keywords the answer negates, or whose concept the
  answer's closest sentence negates (including a later sentence that takes it back), earns
  nothing, whatever the cosine; meaning credit is void when that sentence is closer to one of the
  question's wrong answers or misconception statements than to the concept.
* A question without a rubric has one criterion (``model-answer``) whose reference is the model
  answers; its overlap leaves out the question's own words.
* Whole-answer similarity never pays for a criterion (it is recorded as evidence and used by the
  gaming checks). Misconceptions the answer states subtract their penalty; gaming checks scale the
  score down; the score is clamped to [0, points].
* Calibration adds ``shift`` to the meaning map's log-odds and multiplies them by ``scale``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING

from grader.bank import Criterion, Gradable, LocalText, Misconception
from grader.results import CriterionResult, Flag, MisconceptionResult

if TYPE_CHECKING:
    pass
from grader.i18n import gettext_for
from grader.scoring.inputs import (
    MODEL_ANSWER_CRITERION,
    CriterionSignal,
    MisconceptionSignal,
    Penalty,
    Scored,
    Signals,
    WrongAnswerSignal,
)
from grader.scoring.params import ScoringParams
from grader.scoring.vectorised import (
    answer_share,
    criterion_credit,
    map_share,
    meaning_credit,
    review_risk,
)


class Status(StrEnum):
    """What the answer does with a criterion (recorded per criterion in results.json)."""

    MET = "met"  # stated: its keywords, or its concept where the rubric names no keywords
    PARTLY = "partly"  # some of its keyword groups, not all
    LIKELY = "likely"  # meaning alone, on a criterion whose keywords the answer does not use
    MISSED = "missed"  # not addressed
    NEGATED = "negated"  # the answer says the opposite, or takes it back
    WRONG = "wrong"  # the answer is closer to a known wrong answer or a misconception

    @property
    def met(self) -> bool:
        return self in (Status.MET, Status.LIKELY)


# ---------------------------------------------------------------- one answer


def score_answer(
    gradable: Gradable,
    signals: Signals,
    params: ScoringParams,
    feedback_languages: Sequence[str],
    words: int = 0,
) -> Scored:
    """Score one answer; ``words``: the answer's word count (for the review estimate)."""
    if not signals.answered:
        return _unanswered(gradable, feedback_languages)
    criteria = _criteria_of(gradable)
    evidence = [signals.criteria.get(criterion.id, CriterionSignal()) for criterion in criteria]
    credits, meanings = _credits(evidence, params)
    results = tuple(
        _criterion_result(criterion, signal, credit, meaning, params, feedback_languages)
        for criterion, signal, credit, meaning in zip(
            criteria, evidence, credits, meanings, strict=True
        )
    )
    misconceptions = _misconceptions_hit(gradable, signals, params, feedback_languages)
    if signals.wrong_answer is not None:
        results = tuple(
            _refuted(result, criterion, feedback_languages)
            for result, criterion in zip(results, criteria, strict=True)
        )
        misconceptions = (
            *misconceptions,
            _wrong_answer_result(gradable, signals.wrong_answer, params),
        )
    share = _share(gradable, results, signals.penalties, misconceptions, params.share_map)
    score = round(gradable.points * share, 4)
    risk = _risk(results, evidence, meanings, share, words, params)
    flags = _flags(signals, results, risk, params)
    return Scored(score, results, misconceptions, flags, round(risk, 4))


def _credits(
    evidence: Sequence[CriterionSignal], params: ScoringParams
) -> tuple[list[float], list[float | None]]:
    import math

    similarity = [e.match.similarity(params) if e.match else math.nan for e in evidence]
    # A rubric criterion's meaning needs a match: words alone (keywords-only grading, or a part
    # of the answer that says nothing of its own) are its keywords' business.
    overlap = [
        math.nan if e.overlap is None or (e.rubric and e.match is None) else e.overlap
        for e in evidence
    ]
    sharpness = [params.sharpness if e.rubric else 1.0 for e in evidence]
    meaning = meaning_credit(
        similarity, overlap, params.meaning, params.shift, params.scale, sharpness
    )
    keyword = [
        e.keywords.credit if e.keywords and e.keywords.groups else math.nan for e in evidence
    ]
    negated = [e.denied for e in evidence]
    void = [e.wrong is not None for e in evidence]
    credit = criterion_credit(keyword, meaning, negated, void, params.meaning_cap)
    meanings = [None if math.isnan(value) else float(value) for value in meaning.tolist()]
    return [float(value) for value in credit.tolist()], meanings


def _share(
    gradable: Gradable,
    results: Sequence[CriterionResult],
    penalties: Sequence[Penalty],
    misconceptions: Sequence[MisconceptionResult],
    share_map: Sequence[tuple[float, float]],
) -> float:
    points = gradable.points or 1.0
    factor = 1.0
    for penalty in penalties:
        factor *= penalty.factor
    shares = answer_share(
        [result.credit for result in results],
        [result.points / points for result in results],
        [0] * len(results),
        1,
        [factor],
        [sum(hit.penalty for hit in misconceptions) / points],
    )
    return float(map_share(shares, share_map)[0])


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
            status=Status.MISSED.value,
        )
        for criterion in _criteria_of(gradable)
    )
    return Scored(0.0, criteria, (), ())


def _criteria_of(gradable: Gradable) -> tuple[Criterion, ...]:
    if gradable.rubric and gradable.rubric.criteria:
        scale = gradable.points / gradable.rubric.points
        return tuple(replace(c, points=c.points * scale) for c in gradable.rubric.criteria)
    return (Criterion(MODEL_ANSWER_CRITERION, gradable.points),)


def criteria_of(gradable: Gradable) -> tuple[Criterion, ...]:
    """The criteria an answer to ``gradable`` is scored on, with their points scaled to it."""
    return _criteria_of(gradable)


def _status(
    signal: CriterionSignal, credit: float, meaning: float | None, params: ScoringParams
) -> Status:
    keywords = signal.keywords if signal.keywords and signal.keywords.groups else None
    if signal.denied:
        return Status.NEGATED
    keyword = keywords.credit if keywords else None
    if signal.wrong is not None and (keyword is None or keyword < params.met):
        return Status.WRONG
    if keyword is not None and keyword >= 1.0:
        return Status.MET
    if credit < params.met:
        return Status.PARTLY if keyword else Status.MISSED
    if keyword is None:
        return Status.MET
    return Status.LIKELY if (meaning or 0.0) > keyword else Status.PARTLY


def _criterion_result(
    criterion: Criterion,
    signal: CriterionSignal,
    credit: float,
    meaning: float | None,
    params: ScoringParams,
    languages: Sequence[str],
) -> CriterionResult:
    status = _status(signal, credit, meaning, params)
    feedback, feedback_language = _feedback(criterion, status, languages)
    keywords = signal.keywords
    keyword_credit = keywords.credit if keywords and keywords.groups else None
    return CriterionResult(
        id=criterion.id,
        points=round(criterion.points, 4),
        credit=round(credit, 4),
        score=round(criterion.points * credit, 4),
        met=status.met,
        keyword_language=keywords.language if keywords else None,
        keyword_credit=None if keyword_credit is None else round(keyword_credit, 4),
        groups=keywords.groups if keywords else (),
        concept=signal.match.evidence(params) if signal.match else None,
        feedback=feedback,
        feedback_language=feedback_language,
        reason=_reason(signal, status, keyword_credit, meaning, params),
        status=status.value,
        meaning_credit=None if meaning is None else round(meaning, 4),
        overlap=None if signal.overlap is None else round(signal.overlap, 4),
        negated=signal.negated,
        wrong=signal.wrong.evidence(params) if signal.wrong else None,
    )


def _feedback(criterion: Criterion, status: Status, languages: Sequence[str]) -> tuple[str, str]:
    """The rubric's "met" feedback only where the answer states the criterion; where meaning
    alone credits it, a note that says so (from the message catalogue); otherwise the "missed"
    feedback."""
    if status is Status.MET:
        return _pick(criterion.feedback_met, languages)
    if status is Status.LIKELY:
        language = languages[0] if languages else "en"
        _ = gettext_for(language)
        note = _(
            "Your answer seems to make this point in its own words; it was credited, and your "
            "teacher will confirm it."
        )
        return note, language
    return _pick(criterion.feedback_missed, languages)


def _reason(
    signal: CriterionSignal,
    status: Status,
    keyword: float | None,
    meaning: float | None,
    params: ScoringParams,
) -> str:
    """One line for the instructor: the evidence and what decided."""
    parts = []
    if keyword is not None:
        parts.append(f"keywords {keyword:.0%}")
    if signal.match is not None:
        parts.append(f"similarity {max(0.0, signal.match.similarity(params)):.0%}")
    if signal.overlap is not None:
        parts.append(f"shared words {signal.overlap:.0%}")
    if meaning is not None:
        parts.append(f"meaning credit {meaning:.0%}")
    decided = {
        Status.NEGATED: "the answer negates it",
        Status.WRONG: "the answer is closer to a wrong answer than to this",
        Status.LIKELY: f"meaning alone (at most {params.meaning_cap:.0%} without its keywords)",
    }.get(status)
    if decided:
        parts.append(decided)
    return "; ".join(parts)


WRONG_ANSWER = "wrong-answer"  # the id a known wrong answer is recorded under, with misconceptions


def _refuted(
    result: CriterionResult, criterion: Criterion, languages: Sequence[str]
) -> CriterionResult:
    """A criterion of an answer that is one of the question's known wrong answers: not met."""
    feedback, language = _pick(criterion.feedback_missed, languages)
    return replace(
        result,
        credit=0.0,
        score=0.0,
        met=False,
        status=Status.WRONG.value,
        feedback=feedback,
        feedback_language=language,
        reason=result.reason + "; the answer is one of the question's wrong answers",
    )


def _wrong_answer_result(
    gradable: Gradable, signal: WrongAnswerSignal, params: ScoringParams
) -> MisconceptionResult:
    """A known wrong answer, recorded like a misconception whose penalty is every point."""
    return MisconceptionResult(
        WRONG_ANSWER,
        gradable.points,
        (),
        signal.match.evidence(params),
        signal.feedback,
        signal.match.reference_language if signal.feedback else "",
    )


def _misconceptions_hit(
    gradable: Gradable, signals: Signals, params: ScoringParams, languages: Sequence[str]
) -> tuple[MisconceptionResult, ...]:
    if not gradable.rubric:
        return ()
    hits = []
    for misconception in gradable.rubric.misconceptions:
        signal = signals.misconceptions.get(misconception.id)
        if signal is not None and misconception_stated(signal, params):
            hits.append(_misconception_result(misconception, signal, params, languages))
    return tuple(hits)


def misconception_stated(signal: MisconceptionSignal, params: ScoringParams) -> bool:
    """All its keyword groups stated (not negated), or its statement made: a sentence at
    paraphrase level of it, closer to it than to any right reference, and not negated."""
    keywords = signal.keywords
    if keywords and keywords.groups and keywords.credit >= 1.0:
        return True
    match = signal.match
    return bool(
        match
        and not signal.negated
        and match.similarity(params) >= params.misconception_similarity
        and match.cosine > signal.right_cosine + params.misconception_margin
    )


def _misconception_result(
    misconception: Misconception,
    signal: MisconceptionSignal,
    params: ScoringParams,
    languages: Sequence[str],
) -> MisconceptionResult:
    feedback, language = _pick(misconception.feedback, languages)
    return MisconceptionResult(
        misconception.id,
        misconception.penalty,
        signal.keywords.groups if signal.keywords else (),
        signal.match.evidence(params) if signal.match else None,
        feedback,
        language,
    )


# ---------------------------------------------------------------- review flags


def _risk(
    results: Sequence[CriterionResult],
    evidence: Sequence[CriterionSignal],
    meanings: Sequence[float | None],
    share: float,
    words: int,
    params: ScoringParams,
) -> float:
    """The fitted review estimate; its disagreement term compares, per criterion, the credit the
    words alone and the meaning alone would give (largest gap, weighted by the points)."""
    import math

    total = sum(result.points for result in results) or 1.0
    gap = 0.0
    for result, signal, meaning in zip(results, evidence, meanings, strict=True):
        words_credit = result.keyword_credit
        if words_credit is None and signal.overlap is not None:
            words_credit = float(
                meaning_credit(math.nan, signal.overlap, params.meaning, params.shift, params.scale)
            )
        if words_credit is not None and meaning is not None and signal.match is not None:
            alone = float(
                meaning_credit(
                    signal.match.similarity(params),
                    math.nan,
                    params.meaning,
                    params.shift,
                    params.scale,
                )
            )
            gap = max(gap, abs(alone - words_credit) * result.points / total)
    return float(review_risk([share], [gap], [words], params.review)[0])


def _flags(
    signals: Signals, results: Sequence[CriterionResult], risk: float, params: ScoringParams
) -> tuple[Flag, ...]:
    flags = list(signals.notes)
    flags.extend(Flag(p.code, p.reason, p.factor) for p in signals.penalties)
    likely = [r for r in results if r.status == Status.LIKELY.value]
    total = sum(r.points for r in results) or 1.0
    if sum(r.score for r in likely) >= params.meaning_only_flag * total:
        flags.append(
            Flag(
                "meaning-only",
                "credited on meaning alone, without the rubric's keywords: "
                + ", ".join(r.id for r in likely),
            )
        )
    if risk >= params.review.threshold:
        flags.append(
            Flag("uncertain", f"the automatic score may be off (estimated chance {risk:.0%})")
        )
    return tuple(flags)


def _pick(text: LocalText, languages: Sequence[str]) -> tuple[str, str]:
    """The text in the first of ``languages`` it has, with that language."""
    if not text:
        return "", ""
    language = text.language_of(None, tuple(languages))
    return text.get(language), language
