"""How closely the grader agrees with human graders: metrics overall and per question, and a page.

``evaluate`` grades submissions that carry a human ``score`` and compares; ``evaluate_results``
does the same for results already graded, and ``evaluate_pairs`` for bare (human, machine) pairs
(what calibration and the benchmarks use). Answers without a human score are counted, not compared.

When every compared answer has the same points, metrics are in points (RMSE 0.9 on a 0-5 scale);
when points differ between questions, overall metrics are on the share of points (0..1). QWK and
exact/adjacent agreement round both scores to the humans' step (see ``grader.metrics``). A
question whose human scores are all 0 or full points is a 0/1 item: it also gets accuracy and
macro-F1, with an answer counted correct at or above ``threshold`` x points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import metrics
from grader.errors import GraderError
from grader.fsutil import atomic_write
from grader.grading import GradeOptions, grade

if TYPE_CHECKING:
    from grader.bank import Bank
    from grader.grading import GradeOptions
    from grader.load.submissions import Submission
    from grader.results import Results

THRESHOLD = 0.5  # share of the points at which a 0/1 answer counts as correct
OFF = 0.25  # an answer whose score is off from the human's by more than this share is mis-scored
PAGE_NAME = "evaluation.html"
TEMPLATE_NAME = "evaluation.html.j2"
MAX_DISAGREEMENTS = 25
MAX_PLOTTED = 4000  # points drawn in the scatter plot (a deterministic sample beyond this)


@dataclass(frozen=True)
class Pair:
    """One answer scored by a human and by the grader."""

    question: str
    student: str
    points: float
    human: float
    machine: float
    answer: str = ""
    language: str = ""
    flagged: bool = False  # the grader flagged it for review

    @property
    def gap(self) -> float:
        """The disagreement as a share of the points (positive: the grader gave more)."""
        return (self.machine - self.human) / self.points if self.points else 0.0


@dataclass(frozen=True)
class Agreement:
    """Every metric for one group of answers (see the module doc for the scale)."""

    n: int
    scale: float  # the points the values are in; 1.0 with mixed points (shares)
    step: float  # the grid QWK and exact/adjacent agreement round to
    binary: bool  # every human score is 0 or full points
    pearson: float
    spearman: float
    qwk: float
    rmse: float
    mae: float
    exact: float
    adjacent: float
    accuracy: float | None  # 0/1 items only
    macro_f1: float | None
    mean_human: float
    mean_machine: float
    confusion: tuple[tuple[int, ...], ...]  # [human category][machine category] on the grid
    flagged: float = math.nan  # share of the answers flagged for review
    off: float = math.nan  # share of the answers off from the human by more than OFF of the points
    flag_precision: float = math.nan  # of the flagged answers, the share that far off
    flag_recall: float = math.nan  # of the answers that far off, the share flagged

    @property
    def headline(self) -> float:
        """Accuracy for 0/1 items, else Pearson's r."""
        return self.accuracy if self.binary and self.accuracy is not None else self.pearson


@dataclass(frozen=True)
class Evaluation:
    bank: str
    overall: Agreement
    questions: Mapping[str, Agreement]
    pairs: tuple[Pair, ...]
    ungraded: int = 0  # answers without a human score
    threshold: float = THRESHOLD
    settings: Mapping[str, Any] = field(default_factory=dict)

    def largest_disagreements(self, count: int = MAX_DISAGREEMENTS) -> list[Pair]:
        return sorted(self.pairs, key=lambda pair: (-abs(pair.gap), pair.question, pair.student))[
            :count
        ]


# ---------------------------------------------------------------- computing


def agreement(pairs: Sequence[Pair], threshold: float = THRESHOLD) -> Agreement:
    """Every metric for ``pairs`` (on points if they share a scale, else on shares)."""
    import numpy as np

    scales = {pair.points for pair in pairs}
    if len(scales) == 1:
        scale = scales.pop()
        human = np.array([pair.human for pair in pairs], dtype=np.float64)
        machine = np.array([pair.machine for pair in pairs], dtype=np.float64)
        step = metrics.score_step(human, scale)
    else:
        scale = 1.0
        human = np.array([pair.human / pair.points for pair in pairs], dtype=np.float64)
        machine = np.array([pair.machine / pair.points for pair in pairs], dtype=np.float64)
        step = _shared_step(pairs)
    binary = metrics.is_binary(human, scale)
    accuracy = macro_f1 = None
    if binary:
        human_labels = metrics.labels(human, threshold * scale)
        machine_labels = metrics.labels(machine, threshold * scale)
        accuracy = metrics.accuracy(human_labels, machine_labels)
        macro_f1 = metrics.macro_f1(human_labels, machine_labels)
    categories = round(scale / step) + 1 if pairs else 0
    confusion = metrics.confusion_matrix(
        metrics.to_steps(human, step, scale), metrics.to_steps(machine, step, scale), categories
    )
    return Agreement(
        n=len(pairs),
        scale=scale,
        step=step,
        binary=binary,
        pearson=metrics.pearson(human, machine),
        spearman=metrics.spearman(human, machine),
        qwk=metrics.quadratic_weighted_kappa(human, machine, step, scale),
        rmse=metrics.rmse(human, machine),
        mae=metrics.mae(human, machine),
        exact=metrics.exact_agreement(human, machine, step, scale),
        adjacent=metrics.adjacent_agreement(human, machine, step, scale),
        accuracy=accuracy,
        macro_f1=macro_f1,
        mean_human=float(human.mean()) if pairs else math.nan,
        mean_machine=float(machine.mean()) if pairs else math.nan,
        confusion=tuple(tuple(int(cell) for cell in row) for row in confusion),
        **_flag_metrics(pairs),
    )


def _flag_metrics(pairs: Sequence[Pair]) -> dict[str, float]:
    """How well the review flags pick the answers the grader got wrong (see OFF)."""
    if not pairs:
        return {}
    off = [abs(pair.gap) > OFF for pair in pairs]
    flagged = [pair.flagged for pair in pairs]
    hits = sum(f and o for f, o in zip(flagged, off, strict=True))
    return {
        "flagged": sum(flagged) / len(pairs),
        "off": sum(off) / len(pairs),
        "flag_precision": hits / sum(flagged) if any(flagged) else math.nan,
        "flag_recall": hits / sum(off) if any(off) else math.nan,
    }


def _shared_step(pairs: Sequence[Pair]) -> float:
    """The finest per-question step, as a share of the points, for mixed scales."""
    by_question: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_question[pair.question].append(pair)
    shares = [
        metrics.score_step([p.human for p in group], group[0].points) / group[0].points
        for group in by_question.values()
    ]
    return max(min(shares, default=0.1), 0.01)


def evaluate_pairs(
    bank_id: str,
    pairs: Sequence[Pair],
    ungraded: int = 0,
    threshold: float = THRESHOLD,
    settings: Mapping[str, Any] | None = None,
) -> Evaluation:
    by_question: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_question[pair.question].append(pair)
    return Evaluation(
        bank=bank_id,
        overall=agreement(pairs, threshold),
        questions={
            question: agreement(group, threshold) for question, group in by_question.items()
        },
        pairs=tuple(pairs),
        ungraded=ungraded,
        threshold=threshold,
        settings=dict(settings or {}),
    )


def pairs_from_results(results: Results) -> tuple[list[Pair], int]:
    """(the answers a human scored, as pairs; how many answered rows had no human score)."""
    pairs, ungraded = [], 0
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                if answer.human_score is None:
                    ungraded += answer.answered
                    continue
                pairs.append(
                    Pair(
                        question=answer.id,
                        student=student.id,
                        points=answer.points,
                        human=answer.human_score,
                        machine=answer.score,
                        answer=answer.answer,
                        language=answer.language,
                        flagged=bool(answer.flags),
                    )
                )
    return pairs, ungraded


def evaluate_results(results: Results, threshold: float = THRESHOLD) -> Evaluation:
    pairs, ungraded = pairs_from_results(results)
    if not pairs:
        raise GraderError(
            "no answer has a human score to compare with "
            "(add a 'score' column to the submissions: the human grade on the question's points)"
        )
    settings = {"model": results.settings.get("model"), **{"models": sorted(results.models)}}
    settings["calibration"] = results.settings.get("calibration")
    return evaluate_pairs(results.bank.id, pairs, ungraded, threshold, settings)


def evaluate(
    bank: Bank,
    graded_rows: Sequence[Submission],
    options: GradeOptions | None = None,
    threshold: float = THRESHOLD,
) -> Evaluation:
    """Grade ``graded_rows`` (submissions with a human ``score``) and compare with the humans."""
    results = grade(bank, graded_rows, options or GradeOptions())
    return evaluate_results(results, threshold)


# ---------------------------------------------------------------- output


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return metrics.finite_or_none(value)
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


def agreement_to_dict(item: Agreement) -> dict[str, Any]:
    data: dict[str, Any] = _clean(asdict(item))
    data["confusion"] = [list(row) for row in item.confusion]
    return data


def evaluation_to_dict(evaluation: Evaluation, with_pairs: bool = False) -> dict[str, Any]:
    """A JSON-ready document (nan becomes null); pairs only when asked for."""
    data: dict[str, Any] = {
        "schema": "grader.evaluation/1",
        "bank": evaluation.bank,
        "threshold": evaluation.threshold,
        "ungraded": evaluation.ungraded,
        "settings": _clean(dict(evaluation.settings)),
        "overall": agreement_to_dict(evaluation.overall),
        "questions": {q: agreement_to_dict(a) for q, a in sorted(evaluation.questions.items())},
        "largest_disagreements": [
            _clean(asdict(pair)) for pair in evaluation.largest_disagreements()
        ],
    }
    if with_pairs:
        data["pairs"] = [_clean(asdict(pair)) for pair in evaluation.pairs]
    return data


def format_agreement(item: Agreement) -> str:
    """One line: n, r, QWK or accuracy, RMSE."""
    parts = [f"n={item.n}", f"r={_fmt(item.pearson)}"]
    if item.binary and item.accuracy is not None:
        parts.append(f"accuracy={_fmt(item.accuracy)}")
        parts.append(f"macro-F1={_fmt(item.macro_f1)}")
    else:
        parts.append(f"QWK={_fmt(item.qwk)}")
    parts.append(f"RMSE={_fmt(item.rmse)}")
    if math.isfinite(item.flagged):
        parts.append(
            f"flagged={item.flagged:.0%} (precision {_fmt(item.flag_precision, 2)}, "
            f"recall {_fmt(item.flag_recall, 2)})"
        )
    return " ".join(parts)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def write_evaluation_page(evaluation: Evaluation, out_dir: Path) -> Path:
    """Write ``evaluation.html`` atomically: scatter plot, confusion matrix, worst disagreements."""
    path = out_dir / PAGE_NAME
    atomic_write(path, render_evaluation_page(evaluation))
    return path


def render_evaluation_page(evaluation: Evaluation) -> str:
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["num"] = _fmt
    template = environment.from_string(_template_text())
    overall = evaluation.overall
    return template.render(
        evaluation=evaluation,
        overall=overall,
        questions=sorted(evaluation.questions.items()),
        scatter=_scatter(evaluation.pairs, overall),
        confusion=_confusion_rows(overall),
        disagreements=evaluation.largest_disagreements(),
    )


# ---------------------------------------------------------------- the plots

_PLOT = 360  # the plot area in SVG units
_MARGIN = 44


@dataclass(frozen=True)
class _Dot:
    x: float
    y: float
    title: str


def _scatter(pairs: Sequence[Pair], overall: Agreement) -> dict[str, Any]:
    """Coordinates for an SVG scatter plot of machine (y) against human (x) scores."""
    scale = overall.scale or 1.0
    chosen = pairs if len(pairs) <= MAX_PLOTTED else _sample(pairs, MAX_PLOTTED)
    dots = []
    for index, pair in enumerate(chosen):
        human = pair.human / pair.points if pair.points else 0.0  # shares of the points
        machine = pair.machine / pair.points if pair.points else 0.0
        jitter = ((index * 7919) % 17 - 8) / 8 * 0.25 * overall.step / scale
        dots.append(
            _Dot(
                round(_MARGIN + min(1.0, max(0.0, human + jitter)) * _PLOT, 1),
                round(_MARGIN + (1 - min(1.0, max(0.0, machine))) * _PLOT, 1),
                f"{pair.question} / {pair.student}: human {pair.human:g}, grader {pair.machine:g}",
            )
        )
    ticks = [
        {"value": f"{scale * i / 5:g}", "at": round(_MARGIN + _PLOT * i / 5, 1)} for i in range(6)
    ]
    return {
        "size": _PLOT + 2 * _MARGIN,
        "low": _MARGIN,
        "high": _MARGIN + _PLOT,
        "dots": dots,
        "ticks": ticks,
        "shown": len(chosen),
        "total": len(pairs),
    }


def _sample(pairs: Sequence[Pair], count: int) -> list[Pair]:
    stride = len(pairs) / count
    return [pairs[int(index * stride)] for index in range(count)]


def _confusion_rows(overall: Agreement) -> dict[str, Any]:
    """Labels and cells (count and shade) of the confusion matrix, humans down, grader across."""
    labels = [f"{index * overall.step:g}" for index in range(len(overall.confusion))]
    largest = max((cell for row in overall.confusion for cell in row), default=0) or 1
    rows = [
        {
            "label": labels[index],
            "cells": [
                {"count": cell, "shade": round(0.08 + 0.8 * cell / largest, 3) if cell else 0.0}
                for cell in row
            ],
        }
        for index, row in enumerate(overall.confusion)
    ]
    return {"labels": labels, "rows": rows}


def _template_text() -> str:
    return (Path(__file__).parents[1] / "output" / "templates" / TEMPLATE_NAME).read_text(
        encoding="utf-8"
    )
