"""Fit the scoring rule's calibration parameters to human scores, with cross-validation.

The rule (``grader.scoring.rule``) reads each criterion's meaning evidence through the meaning map;
calibration fits three of its parameters, per embedding model:

* bank-wide: ``shift`` (added to the meaning log-odds) and ``scale`` (multiplying them), and
  optionally a monotone ``map`` of the answer's share of the points (isotonic);
* per question with enough graded answers: its own extra ``shift`` and ``scale`` (model answers
  differ in how close good answers come to them, and how spread out they are).

Nothing is re-implemented here: graded results keep each criterion's evidence (similarity,
overlap, keyword credit, negation, a wrong answer that voided it), and every candidate is scored
by the rule's own vectorised functions (``meaning_credit``, ``criterion_credit``,
``answer_share``, ``map_share``). Each answer is first re-scored at the parameters it was graded
with; one that this cannot reproduce keeps its score (counted in ``notes``).

Every choice is made by cross-validation on the training answers only, against the uncalibrated
defaults, which are kept unless the held-out error drops and the held-out correlation stays as
good and beyond chance; a question's shift may move its level but not flatten its scores. The
held-out agreement before and after is measured by an outer k-fold: every answer is scored by a
calibration fitted on the other folds only.

Every value written is inside the range the reader accepts (``RANGES``): ``grader calibrate``
never writes a file that ``grade`` or ``evaluate`` refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.grading import GradeOptions
    from grader.load.submissions import Submission
    from grader.quality.evaluation import Agreement, Pair
    from grader.results import Results
    from grader.scoring.defaults import Defaults
from grader.grading import GradeOptions, grade
from grader.metrics import finite_or_none
from grader.quality.evaluation import evaluate_pairs, format_agreement
from grader.quality.fit_search import (
    CalibrationFit,
    FitOptions,
    Fitter,
    _folds,
    _local,
    _notes,
    check_enough,
    model_tables,
    pairs,
)
from grader.quality.signal_table import collect_signals
from grader.scoring.calibration import Adjustment, Calibration, ModelCalibration


def fit_from_results(
    bank: Bank, results: Results, options: FitOptions = FitOptions()
) -> CalibrationFit:
    """Fit a calibration to graded results that carry human scores, with held-out evidence:
    ``after`` scores every answer with a calibration fitted on the other folds only."""
    import numpy as np

    answers = collect_signals(bank, results, options.defaults)
    check_enough(answers, options)
    tables = model_tables(bank, answers, options.defaults)
    predicted = np.array([a.auto_score / a.points if a.points else 0.0 for a in answers])
    models: dict[str, ModelCalibration] = {}
    for model, (members, table) in tables.items():
        local = _local(options, members)
        fitter = Fitter.build(table, local)
        everything = np.arange(len(table))
        for held in _folds(everything, local, table.questions, options.folds):
            fitted = fitter.fit(np.setdiff1d(everything, held))
            predicted[members[held]] = fitter.predict(fitted, held)
        models[model] = fitter.fit(everything)
    before = evaluate_pairs(bank.id, pairs(answers, [a.auto_score / a.points for a in answers]))
    after = evaluate_pairs(bank.id, pairs(answers, predicted.tolist()))
    calibration = Calibration(
        bank_id=bank.id,
        models=models,
        source=f"fitted on {len(answers)} answers",
        answers=len(answers),
        folds=options.folds,
        held_out={"before": _summary(before.overall), "after": _summary(after.overall)},
        notes=_notes(tables),
    )
    return CalibrationFit(calibration, before, after)


def fit_on(
    bank: Bank, results: Results, train: Sequence[bool], options: FitOptions = FitOptions()
) -> Calibration:
    """Fit on the human-scored answers marked True in ``train`` (in ``collect_signals`` order),
    without held-out evidence (score the others with ``rescore`` to measure it)."""
    import numpy as np

    answers = collect_signals(bank, results, options.defaults)
    if len(train) != len(answers):
        raise ValueError(f"train has {len(train)} entries for {len(answers)} human-scored answers")
    chosen = [a for a, used in zip(answers, train, strict=True) if used]
    check_enough(chosen, options)
    mask = np.array(train, dtype=bool)
    models = {}
    for model, (members, table) in model_tables(bank, answers, options.defaults).items():
        fitter = Fitter.build(table, _local(options, members))
        models[model] = fitter.fit(np.flatnonzero(mask[members]))
    return Calibration(
        bank_id=bank.id,
        models=models,
        source=f"fitted on {len(chosen)} answers",
        answers=len(chosen),
        folds=options.folds,
    )


def rescore(
    calibration: Calibration | None,
    bank: Bank,
    results: Results,
    defaults: Defaults | None = None,
) -> list[Pair]:
    """Every human-scored answer re-scored from its evidence under ``calibration`` (None: the
    defaults), as grading with that calibration would score it; nothing is embedded again."""
    import numpy as np

    answers = collect_signals(bank, results, defaults)
    shares = np.array([a.auto_score / a.points if a.points else 0.0 for a in answers])
    for model, (members, table) in model_tables(bank, answers, defaults).items():
        fitted = calibration.models.get(model) if calibration else None
        if fitted is None:
            continue
        fitter = Fitter.build(table, FitOptions())
        shares[members] = fitter.predict(fitted, np.arange(len(table)))
    return pairs(answers, shares.tolist())


def _summary(item: Agreement) -> dict[str, float | None]:
    summary: dict[str, float | None] = {"n": float(item.n)}
    for key in ("pearson", "spearman", "qwk", "rmse", "mae", "accuracy", "macro_f1"):
        value = getattr(item, key)
        summary[key] = None if value is None else finite_or_none(float(value))
    return summary


def fit_calibration(
    bank: Bank,
    graded_rows: Sequence[Submission],
    options: GradeOptions | None = None,
    fit_options: FitOptions = FitOptions(),
) -> Calibration:
    """Grade ``graded_rows`` once (without a calibration) and fit a calibration to their scores."""
    return fit_calibration_with_evidence(bank, graded_rows, options, fit_options).calibration


def fit_calibration_with_evidence(
    bank: Bank,
    graded_rows: Sequence[Submission],
    options: GradeOptions | None = None,
    fit_options: FitOptions = FitOptions(),
) -> CalibrationFit:
    uncalibrated = replace(options or GradeOptions(), calibration=None)
    results = grade(bank, graded_rows, uncalibrated)
    return fit_from_results(bank, results, fit_options)


def describe_fit(fit: CalibrationFit) -> str:
    """Held-out agreement before and after, one line each, and what was fitted."""
    lines = [
        f"held-out before: {format_agreement(fit.before.overall)}",
        f"held-out after:  {format_agreement(fit.after.overall)}",
    ]
    for model, fitted in sorted(fit.calibration.models.items()):
        lines.append(
            f"{model}: bank {_describe(fitted.bank)}; {len(fitted.questions)} questions shifted"
        )
    lines.extend(fit.calibration.notes)
    return "\n".join(lines)


def _describe(adjustment: Adjustment) -> str:
    if adjustment.empty:
        return "defaults kept"
    parts = [f"shift={adjustment.shift:g}", f"scale={adjustment.scale:g}"]
    if adjustment.mapping:
        parts.append(f"map with {len(adjustment.mapping)} knots")
    return ", ".join(parts)
