"""Stage 5: gather each distinct answer's signals and score it with the one rule; every row gets
its answer's result (with its own line and human score)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from grader.bank import Bank, Gradable
from grader.evidence.closed import score_closed
from grader.grading.match import keywords_of
from grader.grading.options import GradeOptions
from grader.grading.run import Answer, AnswerKey, Run
from grader.results import AnswerResult
from grader.scoring.answer_context import AnswerView
from grader.scoring.defaults import defaults
from grader.scoring.inputs import Signals
from grader.scoring.params import ScoringParams
from grader.scoring.reference_words import ReferenceWords
from grader.scoring.rule import score_answer
from grader.scoring.signals import gather


def score_answers(run: Run) -> None:
    results: dict[AnswerKey, AnswerResult] = {}
    run.words = ReferenceWords()
    for index, answer in enumerate(run.answers, start=1):
        key = answer.key
        if key not in results:
            results[key] = _scored(run.distinct[key], run)
        result = results[key]
        if run.distinct[key] is not answer:
            result = replace(result, human_score=answer.row.score, line=answer.row.line)
        run.scored.setdefault(answer.row.student, {})[answer.gradable.id] = result
        if run.options.progress:
            run.options.progress(index, len(run.answers))


def answer_result(
    gradable: Gradable, answer: Answer | None = None, bank: Bank | None = None, **evidence: Any
) -> AnswerResult:
    """The result of ``answer`` to ``gradable`` with its ``evidence`` (score, criteria, ...);
    without an answer, the result of a question not answered at all."""
    score = evidence.pop("score", 0.0)
    if answer is None or bank is None:
        return AnswerResult(
            id=gradable.id,
            points=gradable.points,
            score=score,
            auto_score=score,
            answer="",
            language="",
            answered=False,
            **evidence,
        )
    return AnswerResult(
        id=gradable.id,
        points=gradable.points,
        score=score,
        auto_score=score,
        answer=answer.row.answer,
        language=answer.language,
        **evidence,
        feedback=gradable.feedback.get(answer.language, bank.languages),
        human_score=answer.row.score,
        line=answer.row.line,
    )


def params_for(answer: Answer, bank: Bank, options: GradeOptions) -> ScoringParams:
    """The defaults for the answer's model, the bank's floor/ceiling, the calibration."""
    settings = bank.settings
    params = ScoringParams.for_model(
        answer.model, settings.similarity_floor, settings.similarity_ceiling, options.defaults
    )
    if options.calibration is not None:
        params = options.calibration.params_for(answer.gradable.id, answer.model, params)
    return params


def _scored(answer: Answer, run: Run) -> AnswerResult:
    bank, gradable = run.bank, answer.gradable
    languages = (answer.language, *bank.languages) if answer.language else bank.languages
    if gradable.closed is not None:
        met = (run.options.defaults or defaults()).met
        credit, criteria = score_closed(gradable, answer.row.answer, languages, met)
        answered = bool(answer.row.answer.strip())
        return answer_result(
            gradable, answer, bank, score=credit, answered=answered, criteria=criteria
        )
    params = params_for(answer, bank, run.options)
    signals = _signals(answer, run, params)
    length = len(answer.analysis.tokens) if answer.analysis else 0
    scored = score_answer(gradable, signals, params, languages, length)
    model_answer = next(iter(signals.criteria.values()), None) if signals.criteria else None
    overlap = None
    if model_answer is not None and not (gradable.rubric and gradable.rubric.criteria):
        overlap = model_answer.overlap
    return answer_result(
        gradable,
        answer,
        bank,
        score=scored.score,
        answered=signals.answered,
        model=answer.model,
        criteria=scored.criteria,
        misconceptions=scored.misconceptions,
        similarity=signals.answer_match.evidence(params) if signals.answer_match else None,
        overlap=None if overlap is None else round(overlap, 4),
        flags=scored.flags,
        risk=scored.risk,
        words=length,
    )


def _signals(answer: Answer, run: Run, params: ScoringParams) -> Signals:
    if answer.analysis is None:
        return Signals(answer.language, answered=False)
    view = AnswerView(
        answer.gradable,
        answer.language,
        answer.analysis,
        answer.units,
        keywords_of(answer),
        tuple(answer.notes),
    )
    assert run.words is not None
    return gather(run.bank, view, run.spaces.get(answer.model or ""), params, run.words)
