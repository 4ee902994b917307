"""Agreement between machine and human scores: correlation, error, kappa, accuracy.

Pure numpy. Every function takes two equal-length sequences (human first, machine second) and
returns a float; a statistic that is undefined for the data (a correlation of a constant, a kappa
with one category, an empty list) is ``nan``, never an exception, so a report can show "-".

Quadratic weighted kappa (QWK) needs categories, but machine scores are continuous (3.27 of 5) and
human scores come in steps (whole points, or half points when two graders are averaged). Both are
therefore rounded to the step the humans used (``score_step``), half up, and kappa is computed on
the grid 0, step, 2*step, ..., points. Exact and adjacent agreement use the same grid: exact means
the same grid value, adjacent means at most one step apart.

Accuracy and macro-F1 are for 0/1 items (correct/incorrect): a score counts as "correct" at or
above ``threshold`` (half the points by default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np

    Values: TypeAlias = Sequence[float] | np.ndarray

NAN = float("nan")
STEP_CANDIDATES = (1.0, 0.5, 0.25, 0.2, 0.1)  # tried from coarse to fine
MAX_CATEGORIES = 101
_TOLERANCE = 1e-6


def _pair(human: Values, machine: Values) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    first = np.asarray(human, dtype=np.float64).ravel()
    second = np.asarray(machine, dtype=np.float64).ravel()
    if first.shape != second.shape:
        sizes = f"{first.size} vs {second.size}"
        raise ValueError(f"human and machine scores differ in length ({sizes})")
    return first, second


def pearson(human: Values, machine: Values) -> float:
    """Pearson's r; nan (undefined) with fewer than two values or when either side is constant
    (as scipy.stats.pearsonr). The one Pearson of the package: callers that show or compare it
    decide what nan means to them."""
    import numpy as np

    x, y = _pair(human, machine)
    if x.size < 2 or bool(np.all(x == x[0])) or bool(np.all(y == y[0])):
        return NAN
    dx, dy = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator <= 0.0:
        return NAN
    return float(np.clip(float(dx @ dy) / denominator, -1.0, 1.0))


def ranks(values: Values) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as scipy.stats.rankdata)."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(data, kind="mergesort")
    sorted_values = data[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first_index = np.flatnonzero(starts)
    counts = np.diff(np.r_[first_index, data.size])
    average = first_index + (counts + 1) / 2.0
    result = np.empty(data.size, dtype=np.float64)
    result[order] = average[group]
    return result


def spearman(human: Values, machine: Values) -> float:
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    x, y = _pair(human, machine)
    return pearson(ranks(x), ranks(y))


def rmse(human: Values, machine: Values) -> float:
    x, y = _pair(human, machine)
    return float(math.sqrt(float(((x - y) ** 2).mean()))) if x.size else NAN


def mae(human: Values, machine: Values) -> float:
    import numpy as np

    x, y = _pair(human, machine)
    return float(np.abs(x - y).mean()) if x.size else NAN


def score_step(human: Values, points: float) -> float:
    """The step the human scores come in: the coarsest of 1, 0.5, 0.25, 0.2, 0.1 (in points) that
    every score is a multiple of; for scales of 20 points or more, whole points. Scores on no such
    grid (e.g. means of several graders) get a tenth of the points.
    """
    import numpy as np

    scores = np.asarray(human, dtype=np.float64).ravel()
    for step in STEP_CANDIDATES:
        if step > points or points / step + 1 > MAX_CATEGORIES:
            continue
        multiples = scores / step
        if np.all(np.abs(multiples - np.round(multiples)) < _TOLERANCE):
            return step
    return points / 10 if points > 0 else 1.0


def to_steps(values: Values, step: float, points: float | None = None) -> np.ndarray:
    """Grid indices 0, 1, 2, ...: each value rounded half up to the nearest multiple of ``step``,
    clamped to [0, points] when ``points`` is given."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64).ravel()
    if points is not None:
        data = np.clip(data, 0.0, points)
    return np.floor(data / step + 0.5 + _TOLERANCE).astype(np.int64)


def confusion_matrix(human_steps: Values, machine_steps: Values, categories: int) -> np.ndarray:
    """counts[h, m]: answers the human put in category h and the machine in m."""
    import numpy as np

    x, y = _pair(human_steps, machine_steps)
    counts = np.zeros((categories, categories), dtype=np.int64)
    np.add.at(counts, (x.astype(np.int64), y.astype(np.int64)), 1)
    return counts


def quadratic_weighted_kappa(human: Values, machine: Values, step: float, points: float) -> float:
    """Cohen's kappa, quadratic weights, on the grid 0, step, ..., points (see the module doc)."""
    import numpy as np

    x, y = _pair(human, machine)
    if x.size == 0:
        return NAN
    categories = round(points / step) + 1
    observed = confusion_matrix(to_steps(x, step, points), to_steps(y, step, points), categories)
    return kappa_from_confusion(observed.astype(np.float64), quadratic=True)


def kappa_from_confusion(observed: np.ndarray, quadratic: bool = True) -> float:
    """Kappa of a square confusion matrix; quadratic or 0/1 (unweighted) disagreement weights."""
    import numpy as np

    size = observed.shape[0]
    total = observed.sum()
    if size < 2 or total <= 0:
        return NAN
    index = np.arange(size, dtype=np.float64)
    if quadratic:
        weights = (index[:, None] - index[None, :]) ** 2
    else:
        weights = (index[:, None] != index[None, :]).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    chance = float((weights * expected).sum())
    if chance <= 0.0:
        return NAN
    return float(1.0 - float((weights * observed).sum()) / chance)


def exact_agreement(human: Values, machine: Values, step: float, points: float) -> float:
    """Share of answers that land on the same grid value."""
    x, y = _pair(human, machine)
    if x.size == 0:
        return NAN
    return float((to_steps(x, step, points) == to_steps(y, step, points)).mean())


def adjacent_agreement(human: Values, machine: Values, step: float, points: float) -> float:
    """Share of answers at most one step apart on the grid."""
    import numpy as np

    x, y = _pair(human, machine)
    if x.size == 0:
        return NAN
    gap = np.abs(to_steps(x, step, points) - to_steps(y, step, points))
    return float((gap <= 1).mean())


def labels(values: Values, threshold: float) -> np.ndarray:
    """1 for a value at or above ``threshold``, else 0."""
    import numpy as np

    return (np.asarray(values, dtype=np.float64).ravel() >= threshold - _TOLERANCE).astype(np.int64)


def accuracy(human_labels: Values, machine_labels: Values) -> float:
    x, y = _pair(human_labels, machine_labels)
    return float((x == y).mean()) if x.size else NAN


def macro_f1(human_labels: Values, machine_labels: Values) -> float:
    """The mean over the classes present (in either list) of each class's F1."""
    import numpy as np

    x, y = _pair(human_labels, machine_labels)
    if x.size == 0:
        return NAN
    scores = []
    for label in np.union1d(x, y):
        true_positive = float(np.sum((x == label) & (y == label)))
        predicted, actual = float(np.sum(y == label)), float(np.sum(x == label))
        denominator = predicted + actual
        scores.append(2.0 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(scores))


def is_binary(human: Values, points: float) -> bool:
    """Every human score is 0 or full points (a correct/incorrect item)."""
    import numpy as np

    scores = np.asarray(human, dtype=np.float64).ravel()
    if scores.size == 0:
        return False
    return bool(np.all((np.abs(scores) < _TOLERANCE) | (np.abs(scores - points) < _TOLERANCE)))


def finite_or_none(value: float) -> float | None:
    """``value`` rounded to 4 places, or None when it is nan/inf (for JSON and YAML)."""
    return round(value, 4) if math.isfinite(value) else None
