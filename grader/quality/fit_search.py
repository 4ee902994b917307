"""The search for a calibration: candidates, cross-validated choices, per-question fits."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from grader.errors import GraderError

if TYPE_CHECKING:
    import numpy as np

    from grader.bank import Bank
    from grader.quality.evaluation import Evaluation, Pair
    from grader.scoring.defaults import Defaults
from grader.metrics import pearson
from grader.quality.evaluation import Pair
from grader.quality.signal_table import AnswerSignals, SignalTable, default_params
from grader.scoring.calibration import (
    NO_MODEL,
    Adjustment,
    Calibration,
    ModelCalibration,
    QuestionFit,
    clamped,
)

MIN_GAIN = 0.01  # a fit must cut the held-out squared error by this share to replace the defaults
CORRELATION_SLACK = 0.005  # ... and keep the held-out Pearson r within this of the defaults'
CHANCE = 2.5  # standard errors of r around 0 a held-out correlation must pass to count
QUESTION_T = 1.0  # how clearly a question's own shift must win, held out (paired t statistic)
MIN_SPREAD = 0.8  # a question's shift keeps this share of the spread of its scores
QUESTION_SHIFTS = tuple(round(-4.0 + 0.25 * index, 2) for index in range(33))
QUESTION_SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)
SCALE_ANSWERS = 4  # a question's own scale is tried with this many times min_question_answers
_TIE = 1e-4  # loss added per unit of distance from the defaults (prefers small moves)


# ---------------------------------------------------------------- fitting


@dataclass(frozen=True)
class FitOptions:
    folds: int = 5  # outer and inner k-fold
    seed: int = 0
    mapping: bool = True  # also try a monotone map of the score's share
    per_question: bool = True
    min_question_answers: int = 5  # training answers a question needs for its own shift
    question_margin: float = 0.05  # a question's shift must cut its held-out error by this share
    groups: Mapping[int, str] | None = None  # answer index -> group (e.g. the student) for folds
    defaults: Defaults | None = None  # the scoring defaults the results were graded with


@dataclass(frozen=True)
class CalibrationFit:
    """A calibration and the held-out evidence for it."""

    calibration: Calibration
    before: Evaluation  # uncalibrated scores of the answers (all are held out: nothing was fitted)
    after: Evaluation  # out-of-fold calibrated scores: each from a fit that never saw the answer


@dataclass(frozen=True)
class _Recipe:
    """One way to fit the bank-wide part."""

    tune: bool  # fit shift and scale (else keep the defaults)
    mapping: bool  # then fit an isotonic map of the share


def _recipes(options: FitOptions) -> list[_Recipe]:
    recipes = [_Recipe(False, False), _Recipe(True, False)]
    if options.mapping:
        recipes += [_Recipe(False, True), _Recipe(True, True)]
    return recipes


@dataclass
class Fitter:
    """Fits one model's table."""

    table: SignalTable
    options: FitOptions
    by_question: dict[str, np.ndarray]  # answer indices
    question_tables: dict[str, SignalTable]

    @classmethod
    def build(cls, table: SignalTable, options: FitOptions) -> Fitter:
        import numpy as np

        members: dict[str, list[int]] = defaultdict(list)
        for index, question in enumerate(table.questions):
            members[question].append(index)
        by_question = {q: np.array(found, dtype=np.int64) for q, found in members.items()}
        tables = {q: table.take(found) for q, found in by_question.items()}
        return cls(table, options, by_question, tables)

    # -- the bank-wide part

    def _tuned(self, train: np.ndarray) -> tuple[float, float]:
        """Shift and scale minimising the squared error on ``train`` (a small pull to 0, 1)."""
        part = self.table.take(train)
        human = part.human

        def loss(point: tuple[float, float]) -> float:
            shift, log_scale = point
            shares = part.shares(shift, math.exp(log_scale))
            return float(((shares - human) ** 2).mean()) + _TIE * (abs(shift) + abs(log_scale))

        shift, log_scale = _coordinate_search(loss, (0.0, 0.0))
        return clamped("shift", shift), clamped("scale", math.exp(log_scale))

    def _apply_recipe(self, recipe: _Recipe, train: np.ndarray) -> Adjustment:
        shift, scale = self._tuned(train) if recipe.tune else (0.0, 1.0)
        mapping: tuple[tuple[float, float], ...] = ()
        if recipe.mapping:
            shares = self.table.take(train).shares(shift, scale)
            mapping = _isotonic_knots(shares, self.table.human[train])
        return Adjustment(shift, scale, mapping)

    def fit_bank(self, train: np.ndarray) -> Adjustment:
        """The recipe with the lowest inner cross-validated error whose held-out correlation is
        no worse than the defaults'; the defaults unless one beats them."""
        import numpy as np

        recipes = _recipes(self.options)
        folds = _folds(train, self.options, self.table.questions, self.options.folds)
        if len(folds) < 2:
            return Adjustment()
        order = np.concatenate(folds)
        predicted = np.zeros((len(recipes), len(order)))
        start = 0
        for held in folds:
            inner = np.setdiff1d(train, held)
            for number, recipe in enumerate(recipes):
                # Each recipe is judged with the per-question fits it would carry: a bank-wide
                # map that flattens the scores leaves the questions' own shifts less to correct.
                adjustment = self._apply_recipe(recipe, inner)
                fitted = ModelCalibration(adjustment, self.fit_questions(adjustment, inner))
                predicted[number, start : start + len(held)] = self.predict(fitted, held)
            start += len(held)
        human = self.table.human[order]
        errors = ((predicted - human) ** 2).mean(axis=1)
        correlations = np.array([pearson(human, row) for row in predicted])
        # A fit must keep the defaults' held-out correlation, and both must be beyond chance
        # (CHANCE standard errors of r around 0): shift, scale and a monotone map only rescale
        # scores that already track the humans; from noise, only flattening would cut the error.
        chance = CHANCE / math.sqrt(len(order))
        if not correlations[0] >= chance:
            return Adjustment()
        baseline = correlations[0] - CORRELATION_SLACK
        defined = ~np.isnan(correlations)  # nan: undefined (a constant side), never eligible
        eligible = defined & (np.where(defined, correlations, 0.0) >= max(baseline, chance))
        eligible[0] = True
        best = int(np.argmin(np.where(eligible, errors, np.inf)))
        if best == 0 or errors[best] >= errors[0] * (1.0 - MIN_GAIN):
            return Adjustment()
        return self._apply_recipe(recipes[best], train)

    # -- the per-question part

    def fit_questions(self, bank: Adjustment, train: np.ndarray) -> dict[str, QuestionFit]:
        import numpy as np

        if not self.options.per_question:
            return {}
        in_train = np.zeros(len(self.table), dtype=bool)
        in_train[train] = True
        shifts_only = [(0.0, 1.0)] + [(shift, 1.0) for shift in QUESTION_SHIFTS]
        both = [(0.0, 1.0)] + [(s, k) for s in QUESTION_SHIFTS for k in QUESTION_SCALES]
        fitted = {}
        for question, members in self.by_question.items():
            chosen = in_train[members]
            count = int(chosen.sum())
            if count < self.options.min_question_answers:
                continue
            # A question's spread needs more answers than its level to be told from noise.
            candidates = (
                both
                if count >= SCALE_ANSWERS * self.options.min_question_answers
                else (shifts_only)
            )
            costs = np.array([abs(s) + abs(math.log(k)) for s, k in candidates])
            shares = self.question_tables[question].candidate_shares(
                [bank.shift + shift for shift, _ in candidates],
                [bank.scale * scale for _, scale in candidates],
                bank.mapping,
            )[:, chosen]
            human = self.question_tables[question].human[chosen]
            choice = _choose_question_fit(shares, human, costs, self.options)
            if choice is not None:
                shift, scale = candidates[choice]
                fitted[question] = QuestionFit(clamped("shift", shift), clamped("scale", scale))
        return fitted

    def fit(self, train: np.ndarray) -> ModelCalibration:
        bank = self.fit_bank(train)
        return ModelCalibration(bank, self.fit_questions(bank, train))

    def predict(self, fitted: ModelCalibration, indices: np.ndarray) -> np.ndarray:
        """Calibrated shares of the answers at ``indices``."""
        import numpy as np

        bank = fitted.bank
        own = [fitted.questions.get(self.table.questions[i], QuestionFit()) for i in indices]
        shift = np.array([bank.shift + question.shift for question in own])
        scale = np.array([bank.scale * question.scale for question in own])
        return self.table.take(indices).shares(shift, scale, bank.mapping)


def _coordinate_search(
    loss: Callable[[tuple[float, float]], float], start: tuple[float, float]
) -> tuple[float, float]:
    """A local minimum of ``loss`` by steps along each coordinate, halving the step when no step
    helps (a few dozen evaluations; the loss is smooth and has one basin near the start)."""
    best, value = start, loss(start)
    step = 1.0
    while step >= 0.02:
        moved = False
        for axis in (0, 1):
            for sign in (1.0, -1.0):
                candidate = list(best)
                candidate[axis] += sign * step
                point = (candidate[0], candidate[1])
                found = loss(point)
                if found < value - 1e-12:
                    best, value, moved = point, found, True
        if not moved:
            step /= 2
    return best


def _choose_question_fit(
    shares: np.ndarray, human: np.ndarray, costs: np.ndarray, options: FitOptions
) -> int | None:
    """The candidate (row of ``shares``) whose leave-one-out error beats row 0's (the bank fit)
    by ``question_margin`` and clearly (a paired t statistic of ``QUESTION_T`` over the answers).
    A candidate may move the question's level, not flatten it: one whose scores spread less than
    ``MIN_SPREAD`` of the bank fit's is not considered."""
    import numpy as np

    spread = shares.std(axis=1)
    allowed = spread >= MIN_SPREAD * spread[0]
    allowed[0] = True
    errors = (shares - human) ** 2  # (candidates, answers)
    count = errors.shape[1]
    total = errors.sum(axis=1)
    penalty = np.where(allowed, _TIE * costs, np.inf)
    rest = (total[:, None] - errors) / (count - 1) + penalty[:, None]  # fits leaving one out
    held_out = errors[np.argmin(rest, axis=0), np.arange(count)]
    gains = errors[0] - held_out
    if float(held_out.sum()) >= float(total[0]) * (1.0 - options.question_margin):
        return None
    deviation = float(gains.std(ddof=1))
    if deviation > 0 and float(gains.mean()) / (deviation / math.sqrt(count)) < QUESTION_T:
        return None
    choice = int(np.argmin(total / count + penalty))
    return None if choice == 0 else choice


def _isotonic_knots(shares: np.ndarray, human: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Pool-adjacent-violators; one knot per block at its mean share, joined by straight lines."""
    import numpy as np

    if len(shares) < 3 or float(np.ptp(shares)) < 1e-9:
        return ()
    order = np.argsort(shares, kind="mergesort")
    blocks: list[list[float]] = []  # [sum x, sum y, count]
    for x, y in zip(shares[order].tolist(), human[order].tolist(), strict=True):
        blocks.append([x, y, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    knots: list[tuple[float, float]] = []
    for sum_x, sum_y, count in blocks:
        x = round(min(1.0, max(0.0, sum_x / count)), 4)
        y = round(min(1.0, max(0.0, sum_y / count)), 4)
        if knots and x <= knots[-1][0]:
            knots[-1] = (knots[-1][0], max(knots[-1][1], y))
        elif knots and y < knots[-1][1]:
            knots.append((x, knots[-1][1]))
        else:
            knots.append((x, y))
    if len(knots) == 1:
        knots.append((round(min(1.0, knots[0][0] + 1e-3), 4), knots[0][1]))
        if knots[1][0] <= knots[0][0]:
            knots[0] = (round(knots[0][0] - 1e-3, 4), knots[0][1])
    return tuple(knots)


def _folds(
    indices: np.ndarray, options: FitOptions, questions: Sequence[str], count: int
) -> list[np.ndarray]:
    """Split ``indices`` into ``count`` folds: by group when given, else spread over questions."""
    import numpy as np

    generator = np.random.default_rng(options.seed)
    if options.groups:
        names = sorted({options.groups.get(int(i), str(i)) for i in indices})
        generator.shuffle(names)
        fold_of = {name: position % count for position, name in enumerate(names)}
        labels = [fold_of[options.groups.get(int(i), str(i))] for i in indices]
    else:
        by_question: dict[str, list[int]] = defaultdict(list)
        for position, index in enumerate(indices.tolist()):
            by_question[questions[index]].append(position)
        labels = [0] * len(indices)
        offset = 0
        for question in sorted(by_question):
            positions = by_question[question]
            generator.shuffle(positions)
            for rank, position in enumerate(positions):
                labels[position] = (rank + offset) % count
            offset += len(positions)
    folds = [indices[np.array(labels) == fold] for fold in range(count)]
    return [fold for fold in folds if len(fold)]


def model_tables(
    bank: Bank, answers: Sequence[AnswerSignals], defaults: Defaults | None = None
) -> dict[str, tuple[np.ndarray, SignalTable]]:
    """Per model: the answers' indices and their table."""
    import numpy as np

    by_model: dict[str, list[int]] = defaultdict(list)
    for index, answer in enumerate(answers):
        by_model[answer.model].append(index)
    tables = {}
    for model, members in sorted(by_model.items()):
        default = default_params(bank, None if model == NO_MODEL else model, defaults)
        table = SignalTable.from_answers([answers[i] for i in members], default)
        tables[model] = (np.array(members, dtype=np.int64), table)
    return tables


def _notes(tables: Mapping[str, tuple[np.ndarray, SignalTable]]) -> tuple[str, ...]:
    return tuple(
        f"{model}: {table.unreproduced} of {len(table)} answers could not be re-scored "
        "from their signals and keep their score"
        for model, (_, table) in tables.items()
        if table.unreproduced
    )


def _local(options: FitOptions, members: np.ndarray) -> FitOptions:
    if not options.groups:
        return options
    groups = {
        position: options.groups.get(int(index), str(index))
        for position, index in enumerate(members.tolist())
    }
    return replace(options, groups=groups)


def check_enough(answers: Sequence[AnswerSignals], options: FitOptions) -> None:
    needed = max(2 * options.folds, 10)
    if len(answers) < needed:
        raise GraderError(
            f"only {len(answers)} answers have a human score; calibration needs at least "
            f"{needed} (add human scores in the submissions' 'score' column)"
        )


def pairs(answers: Sequence[AnswerSignals], shares: Sequence[float]) -> list[Pair]:
    return [
        Pair(
            a.question,
            a.student,
            a.points,
            a.human,
            round(s * a.points, 4),
            a.answer,
            a.language,
            a.flagged,
        )
        for a, s in zip(answers, shares, strict=True)
    ]
