"""Fit the scoring rule's calibration parameters to human scores, with cross-validation.

The rule (``grader.scoring``) reads each criterion's meaning evidence through the meaning map;
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

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from grader.errors import GraderError
from grader.scoring import (
    MODEL_ANSWER_CRITERION,
    ScoringParams,
    answer_share,
    criterion_credit,
    map_share,
    meaning_credit,
)
from grader.space import same_language
from grader.values import describe, finite_number

if TYPE_CHECKING:
    import numpy as np

    from grader.defaults import Defaults
    from grader.evaluation import Agreement, Evaluation, Pair
    from grader.grading import GradeOptions
    from grader.model import Bank
    from grader.results import AnswerResult, Results
    from grader.submissions import Submission

SCHEMA = "grader.calibration/2"
NO_MODEL = "none"  # the key for keyword-only grading
ENTRY_KEYS = ("shift", "scale", "map")
QUESTION_KEYS = ("shift", "scale")
MODEL_KEYS = ("bank", "questions")
TOP_KEYS = ("schema", "bank", "fitted", "models", "held_out", "notes")
# What the reader accepts, and so what the fitting may write: (low, high) per value.
RANGES = {"shift": (-20.0, 20.0), "scale": (0.05, 20.0)}
REPRODUCE_TOLERANCE = 0.002  # share of the points
MIN_GAIN = 0.01  # a fit must cut the held-out squared error by this share to replace the defaults
CORRELATION_SLACK = 0.005  # ... and keep the held-out Pearson r within this of the defaults'
CHANCE = 2.5  # standard errors of r around 0 a held-out correlation must pass to count
QUESTION_T = 1.0  # how clearly a question's own shift must win, held out (paired t statistic)
MIN_SPREAD = 0.8  # a question's shift keeps this share of the spread of its scores
QUESTION_SHIFTS = tuple(round(-4.0 + 0.25 * index, 2) for index in range(33))
QUESTION_SCALES = (0.5, 0.7, 1.0, 1.4, 2.0)
SCALE_ANSWERS = 4  # a question's own scale is tried with this many times min_question_answers
_TIE = 1e-4  # loss added per unit of distance from the defaults (prefers small moves)


# ---------------------------------------------------------------- the fitted values


@dataclass(frozen=True)
class Adjustment:
    """A bank's shift and scale of the meaning log-odds, and a map of the score's share."""

    shift: float = 0.0
    scale: float = 1.0
    mapping: tuple[tuple[float, float], ...] = ()  # knots (share in, share out); () = identity

    @property
    def empty(self) -> bool:
        return self == Adjustment()


@dataclass(frozen=True)
class QuestionFit:
    """A question's own move of the meaning log-odds, on top of the bank's."""

    shift: float = 0.0  # added
    scale: float = 1.0  # multiplies


@dataclass(frozen=True)
class ModelCalibration:
    """What was fitted for the answers scored with one embedding model."""

    bank: Adjustment = Adjustment()
    questions: Mapping[str, QuestionFit] = field(default_factory=dict)


@dataclass(frozen=True)
class Calibration:
    """Per model: bank-wide and per-question parameters. Passed to grading as
    ``GradeOptions(calibration=...)``."""

    bank_id: str
    models: Mapping[str, ModelCalibration]
    source: str = ""  # the file it was read from, or how it was fitted
    answers: int = 0  # human-scored answers it was fitted on
    folds: int = 0
    held_out: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def params_for(
        self, gradable_id: str, model: str | None, params: ScoringParams
    ) -> ScoringParams:
        """``params`` with the bank's fit and the question's shift for one answer."""
        fitted = self.models.get(model or NO_MODEL)
        if fitted is None:
            return params
        question = fitted.questions.get(gradable_id, QuestionFit())
        return replace(
            params,
            shift=params.shift + fitted.bank.shift + question.shift,
            scale=params.scale * fitted.bank.scale * question.scale,
            share_map=fitted.bank.mapping or params.share_map,
        )

    def check_bank(self, bank_id: str) -> None:
        if self.bank_id and bank_id != self.bank_id:
            raise GraderError(
                f"{self.source or 'the calibration'}: fitted for bank '{self.bank_id}', "
                f"not '{bank_id}' (fit a calibration for this bank, or leave --calibration out)"
            )

    def save(self, path: Path) -> None:
        from grader.fsutil import atomic_write

        atomic_write(path, calibration_to_yaml(self))


# ---------------------------------------------------------------- evidence of graded answers


@dataclass(frozen=True)
class _Row:
    """One criterion of a graded answer, as the rule reads it."""

    weight: float  # the criterion's points / the answer's points
    keyword: float | None
    similarity: float | None  # ramped, at the defaults the answer was graded with
    overlap: float | None
    negated: bool
    void: bool
    rubric: bool  # a rubric criterion (its meaning log-odds are sharpened)


@dataclass(frozen=True)
class AnswerSignals:
    """What calibration needs of one human-scored answer."""

    question: str
    student: str
    model: str  # NO_MODEL for keyword-only grading
    points: float
    human: float
    auto_score: float
    answered: bool
    rows: tuple[_Row, ...]
    factor: float  # gaming penalties, multiplied
    penalty: float  # misconception penalties, in points
    answer: str = ""
    language: str = ""
    flagged: bool = False


def collect_signals(
    bank: Bank, results: Results, defaults: Defaults | None = None
) -> list[AnswerSignals]:
    """Each human-scored answer's evidence, read back from graded results."""
    if results.settings.get("calibration"):
        raise GraderError(
            "these results were graded with a calibration "
            "(calibrate from results graded without --calibration)"
        )
    params: dict[str, ScoringParams] = {}
    collected = []
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                if answer.human_score is None:
                    continue
                model = answer.model or NO_MODEL
                if model not in params:
                    params[model] = default_params(bank, answer.model, defaults)
                collected.append(_answer_signals(student.id, answer, params[model]))
    return collected


def default_params(
    bank: Bank, model: str | None, defaults: Defaults | None = None
) -> ScoringParams:
    """The parameters grading uses for ``model`` without a calibration."""
    settings = bank.settings
    return ScoringParams.for_model(
        model, settings.similarity_floor, settings.similarity_ceiling, defaults
    )


def _answer_signals(student: str, answer: AnswerResult, params: ScoringParams) -> AnswerSignals:
    rows = []
    for criterion in answer.criteria:
        similarity = None
        if criterion.concept is not None:
            cross = not same_language(criterion.concept.reference_language, answer.language)
            similarity = params.ramp.similarity(criterion.concept.cosine, cross)
        rows.append(
            _Row(
                weight=criterion.points / answer.points if answer.points else 0.0,
                keyword=criterion.keyword_credit,
                similarity=similarity,
                overlap=criterion.overlap
                if criterion.concept is not None or criterion.id == MODEL_ANSWER_CRITERION
                else None,
                negated=criterion.status == "negated",
                void=criterion.wrong is not None,
                rubric=criterion.id != MODEL_ANSWER_CRITERION,
            )
        )
    factor = 1.0
    for flag in answer.flags:
        factor *= flag.factor
    return AnswerSignals(
        question=answer.id,
        student=student,
        model=answer.model or NO_MODEL,
        points=answer.points,
        human=float(answer.human_score or 0.0),
        auto_score=answer.auto_score,
        answered=answer.answered,
        rows=tuple(rows),
        factor=factor,
        penalty=sum(item.penalty for item in answer.misconceptions),
        answer=answer.answer,
        language=answer.language,
        flagged=bool(answer.flags),
    )


# ---------------------------------------------------------------- re-computing scores


@dataclass
class SignalTable:
    """Answers scored with one model, as arrays, to score many parameter sets at once."""

    default: ScoringParams  # the parameters the recorded scores were graded with
    questions: list[str]  # per answer
    human: np.ndarray  # per answer: the human score as a share of the points
    recorded: np.ndarray  # the grader's score as a share of the points
    owner: np.ndarray  # per criterion row: the index of its answer
    weight: np.ndarray
    keyword: np.ndarray  # nan: no keywords
    similarity: np.ndarray  # nan: no meaning evidence
    overlap: np.ndarray  # nan: none
    negated: np.ndarray
    void: np.ndarray
    rubric: np.ndarray
    factor: np.ndarray  # per answer
    penalty: np.ndarray  # per answer: misconception penalties as a share of the points
    fixed: np.ndarray  # per answer: the score does not depend on the parameters
    unreproduced: int = 0

    @classmethod
    def from_answers(cls, answers: Sequence[AnswerSignals], default: ScoringParams) -> SignalTable:
        import numpy as np

        def share(value: float, answer: AnswerSignals) -> float:
            return value / answer.points if answer.points else 0.0

        rows = [(index, row) for index, a in enumerate(answers) for row in a.rows]
        table = cls(
            default=default,
            questions=[a.question for a in answers],
            human=np.array([share(a.human, a) for a in answers], dtype=np.float64),
            recorded=np.array([share(a.auto_score, a) for a in answers], dtype=np.float64),
            owner=np.array([index for index, _ in rows], dtype=np.int64),
            weight=np.array([row.weight for _, row in rows], dtype=np.float64),
            keyword=_array([row.keyword for _, row in rows]),
            similarity=_array([row.similarity for _, row in rows]),
            overlap=_array([row.overlap for _, row in rows]),
            negated=np.array([row.negated for _, row in rows], dtype=bool),
            void=np.array([row.void for _, row in rows], dtype=bool),
            rubric=np.array([row.rubric for _, row in rows], dtype=bool),
            factor=np.array([a.factor for a in answers], dtype=np.float64),
            penalty=np.array([share(a.penalty, a) for a in answers], dtype=np.float64),
            fixed=np.array([not a.answered or not a.rows for a in answers], dtype=bool),
        )
        table._check_reproduction()
        return table

    def __len__(self) -> int:
        return len(self.questions)

    def take(self, indices: np.ndarray) -> SignalTable:
        """The table of some answers only (in the order given)."""
        import numpy as np

        position = np.full(len(self), -1, dtype=np.int64)
        position[indices] = np.arange(len(indices))
        rows = np.flatnonzero(position[self.owner] >= 0)
        rows = rows[np.argsort(position[self.owner[rows]], kind="stable")]
        return replace(
            self,
            questions=[self.questions[i] for i in indices.tolist()],
            human=self.human[indices],
            recorded=self.recorded[indices],
            owner=position[self.owner[rows]],
            weight=self.weight[rows],
            keyword=self.keyword[rows],
            similarity=self.similarity[rows],
            overlap=self.overlap[rows],
            negated=self.negated[rows],
            void=self.void[rows],
            rubric=self.rubric[rows],
            factor=self.factor[indices],
            penalty=self.penalty[indices],
            fixed=self.fixed[indices],
        )

    def shares(
        self,
        shift: float | np.ndarray = 0.0,
        scale: float | np.ndarray = 1.0,
        mapping: Sequence[tuple[float, float]] = (),
    ) -> np.ndarray:
        """Each answer's share of its points under the rule with these calibration values
        (``shift`` and ``scale``: one value, or one per answer)."""
        import numpy as np

        params = self.default
        answer_shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (len(self),))
        answer_scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(self),))
        meaning = meaning_credit(
            self.similarity,
            self.overlap,
            params.meaning,
            params.shift + answer_shift[self.owner],
            params.scale * answer_scale[self.owner],
            np.where(self.rubric, params.sharpness, 1.0),
        )
        credit = criterion_credit(
            self.keyword, meaning, self.negated, self.void, params.meaning_cap
        )
        shares = answer_share(
            credit * 1.0, self.weight, self.owner, len(self), self.factor, self.penalty
        )
        shares = map_share(shares, mapping or params.share_map)
        return np.where(self.fixed, self.recorded, shares)

    def candidate_shares(
        self,
        shifts: Sequence[float],
        scales: Sequence[float],
        mapping: Sequence[tuple[float, float]] = (),
    ) -> np.ndarray:
        """``shares`` under each (shift, scale) pair at once: one row per pair."""
        import numpy as np

        count, copies = len(self), len(shifts)
        offsets = np.repeat(np.arange(copies, dtype=np.int64) * count, len(self.owner))
        tiled = replace(
            self,
            questions=self.questions * copies,
            human=np.tile(self.human, copies),
            recorded=np.tile(self.recorded, copies),
            owner=np.tile(self.owner, copies) + offsets,
            weight=np.tile(self.weight, copies),
            keyword=np.tile(self.keyword, copies),
            similarity=np.tile(self.similarity, copies),
            overlap=np.tile(self.overlap, copies),
            negated=np.tile(self.negated, copies),
            void=np.tile(self.void, copies),
            rubric=np.tile(self.rubric, copies),
            factor=np.tile(self.factor, copies),
            penalty=np.tile(self.penalty, copies),
            fixed=np.tile(self.fixed, copies),
        )
        shift = np.repeat(np.asarray(shifts, dtype=np.float64), count)
        scale = np.repeat(np.asarray(scales, dtype=np.float64), count)
        return tiled.shares(shift, scale, mapping).reshape(copies, count)

    def _check_reproduction(self) -> None:
        """Answers whose recorded score the rule cannot reproduce keep that score."""
        import numpy as np

        if not len(self):
            return
        wrong = np.abs(self.shares() - self.recorded) > REPRODUCE_TOLERANCE
        wrong &= ~self.fixed
        self.unreproduced = int(wrong.sum())
        self.fixed = self.fixed | wrong


def _array(values: Sequence[float | None]) -> np.ndarray:
    import numpy as np

    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


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


def _clamped(name: str, value: float) -> float:
    low, high = RANGES[name]
    return round(min(high, max(low, float(value))), 4)


@dataclass
class _Fitter:
    """Fits one model's table."""

    table: SignalTable
    options: FitOptions
    by_question: dict[str, np.ndarray]  # answer indices
    question_tables: dict[str, SignalTable]

    @classmethod
    def build(cls, table: SignalTable, options: FitOptions) -> _Fitter:
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
        return _clamped("shift", shift), _clamped("scale", math.exp(log_scale))

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

        from grader.metrics import pearson

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
        eligible = np.nan_to_num(correlations, nan=-np.inf) >= max(baseline, chance)
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
                fitted[question] = QuestionFit(_clamped("shift", shift), _clamped("scale", scale))
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


def _model_tables(
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


def _check_enough(answers: Sequence[AnswerSignals], options: FitOptions) -> None:
    needed = max(2 * options.folds, 10)
    if len(answers) < needed:
        raise GraderError(
            f"only {len(answers)} answers have a human score; calibration needs at least "
            f"{needed} (add human scores in the submissions' 'score' column)"
        )


def _pairs(answers: Sequence[AnswerSignals], shares: Sequence[float]) -> list[Pair]:
    from grader.evaluation import Pair

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


def fit_from_results(
    bank: Bank, results: Results, options: FitOptions = FitOptions()
) -> CalibrationFit:
    """Fit a calibration to graded results that carry human scores, with held-out evidence:
    ``after`` scores every answer with a calibration fitted on the other folds only."""
    import numpy as np

    from grader.evaluation import evaluate_pairs

    answers = collect_signals(bank, results, options.defaults)
    _check_enough(answers, options)
    tables = _model_tables(bank, answers, options.defaults)
    predicted = np.array([a.auto_score / a.points if a.points else 0.0 for a in answers])
    models: dict[str, ModelCalibration] = {}
    for model, (members, table) in tables.items():
        local = _local(options, members)
        fitter = _Fitter.build(table, local)
        everything = np.arange(len(table))
        for held in _folds(everything, local, table.questions, options.folds):
            fitted = fitter.fit(np.setdiff1d(everything, held))
            predicted[members[held]] = fitter.predict(fitted, held)
        models[model] = fitter.fit(everything)
    before = evaluate_pairs(bank.id, _pairs(answers, [a.auto_score / a.points for a in answers]))
    after = evaluate_pairs(bank.id, _pairs(answers, predicted.tolist()))
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
    _check_enough(chosen, options)
    mask = np.array(train, dtype=bool)
    models = {}
    for model, (members, table) in _model_tables(bank, answers, options.defaults).items():
        fitter = _Fitter.build(table, _local(options, members))
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
    for model, (members, table) in _model_tables(bank, answers, defaults).items():
        fitted = calibration.models.get(model) if calibration else None
        if fitted is None:
            continue
        fitter = _Fitter.build(table, FitOptions())
        shares[members] = fitter.predict(fitted, np.arange(len(table)))
    return _pairs(answers, shares.tolist())


def _summary(item: Agreement) -> dict[str, float | None]:
    from grader.metrics import finite_or_none

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
    from grader.grading import GradeOptions, grade

    uncalibrated = replace(options or GradeOptions(), calibration=None)
    results = grade(bank, graded_rows, uncalibrated)
    return fit_from_results(bank, results, fit_options)


def describe_fit(fit: CalibrationFit) -> str:
    """Held-out agreement before and after, one line each, and what was fitted."""
    from grader.evaluation import format_agreement

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


# ---------------------------------------------------------------- YAML


def _entry_to_dict(adjustment: Adjustment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "shift": _clamped("shift", adjustment.shift),
        "scale": _clamped("scale", adjustment.scale),
    }
    if adjustment.mapping:
        data["map"] = [[float(x), float(y)] for x, y in adjustment.mapping]
    return data


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, fitted in sorted(calibration.models.items()):
        models[name] = {
            "bank": _entry_to_dict(fitted.bank),
            "questions": {
                question: {
                    "shift": _clamped("shift", item.shift),
                    "scale": _clamped("scale", item.scale),
                }
                for question, item in sorted(fitted.questions.items())
            },
        }
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "bank": calibration.bank_id,
        "fitted": {"answers": calibration.answers, "folds": calibration.folds},
        "models": models,
    }
    if calibration.held_out:
        data["held_out"] = {key: dict(value) for key, value in calibration.held_out.items()}
    if calibration.notes:
        data["notes"] = list(calibration.notes)
    return data


def calibration_to_yaml(calibration: Calibration) -> str:
    import yaml

    header = (
        "# grader calibration: scoring parameters fitted to human scores.\n"
        "# Use with: grader grade BANK SUBMISSIONS --calibration THIS_FILE\n"
    )
    body = yaml.safe_dump(
        calibration_to_dict(calibration), sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file; every mistake names the file, the line and the key."""
    from grader.yamlread import load_yaml

    file = Path(path)
    data = load_yaml(file)
    reader = _Reader(file)
    top = reader.mapping(data, None, "the file", TOP_KEYS)
    schema = top.get("schema")
    if schema == "grader.calibration/1":
        reader.fail(
            top,
            "schema",
            "this calibration was fitted for an earlier scoring rule (grader.calibration/1)",
            "fit it again with grader calibrate",
        )
    if schema != SCHEMA:
        reader.fail(top, "schema", f"schema is {schema!r}", f"expected '{SCHEMA}'")
    bank_id = top.get("bank", "")
    if not isinstance(bank_id, str):
        reader.fail(top, "bank", "bank must be the bank's id (a string)")
    models_data = reader.mapping(top.get("models"), top, "models", None, key="models")
    models = {
        str(name): reader.model(value, models_data, f"models.{name}", name)
        for name, value in models_data.items()
    }
    fitted = reader.mapping(top.get("fitted") or {}, top, "fitted", ("answers", "folds"), "fitted")
    return Calibration(
        bank_id=bank_id,
        models=models,
        source=str(file),
        answers=reader.count(fitted, "answers", "fitted"),
        folds=reader.count(fitted, "folds", "fitted"),
        held_out=reader.held_out(top),
        notes=tuple(str(note) for note in reader.notes(top)),
    )


@dataclass
class _Reader:
    file: Path

    def fail(self, container: Any, key: Any, message: str, fix: str = "") -> NoReturn:
        from grader.yamlread import LineDict

        line = None
        if isinstance(container, LineDict):
            line = container.key_lines.get(key, container.line)
        raise GraderError.at(self.file, line, message, fix)

    def mapping(
        self,
        value: Any,
        parent: Any,
        where: str,
        allowed: Sequence[str] | None,
        key: Any = None,
    ) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(parent, key, f"{where} must be a mapping", "see docs/formats.md, Calibration")
        assert isinstance(value, dict)
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    import difflib

                    close = difflib.get_close_matches(str(name), allowed, n=1)
                    fix = (
                        f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed)
                    )
                    self.fail(value, name, f"unknown key '{name}' in {where}", fix)
        return value

    def model(self, value: Any, parent: Any, where: str, key: Any) -> ModelCalibration:
        data = self.mapping(value, parent, where, MODEL_KEYS, key=key)
        bank = self.entry(data.get("bank") or {}, data, f"{where}.bank", "bank")
        questions_data = data.get("questions") or {}
        questions_data = self.mapping(questions_data, data, f"{where}.questions", None, "questions")
        questions = {}
        for question, item in questions_data.items():
            entry_where = f"{where}.questions.{question}"
            entry = self.mapping(item, questions_data, entry_where, QUESTION_KEYS, key=question)
            shift = self.number(entry, "shift", entry_where)
            scale = self.number(entry, "scale", entry_where)
            questions[str(question)] = QuestionFit(
                0.0 if shift is None else shift, 1.0 if scale is None else scale
            )
        return ModelCalibration(bank, questions)

    def entry(self, value: Any, parent: Any, where: str, key: Any) -> Adjustment:
        data = self.mapping(value, parent, where, ENTRY_KEYS, key=key)
        shift = self.number(data, "shift", where)
        scale = self.number(data, "scale", where)
        mapping = self.knots(data, where) if "map" in data else ()
        return Adjustment(0.0 if shift is None else shift, 1.0 if scale is None else scale, mapping)

    def number(self, data: dict[Any, Any], name: str, where: str) -> float | None:
        if name not in data:
            return None
        raw = data[name]
        value = finite_number(raw)
        if value is None:
            numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
            kind = "a finite number" if numeric else "a number"
            self.fail(data, name, f"{where}.{name} must be {kind}, not {describe(raw)}")
        low, high = RANGES[name]
        if not low <= value <= high:
            self.fail(data, name, f"{where}.{name} = {value:g} is outside {low:g}..{high:g}")
        return value

    def count(self, data: dict[Any, Any], name: str, where: str) -> int:
        value = data.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            self.fail(data, name, f"{where}.{name} must be a whole number, not {describe(value)}")
        return int(value)

    def held_out(self, top: dict[Any, Any]) -> dict[str, dict[str, float | None]]:
        """The held-out agreement: {name: {measure: number or null}}, numbers finite."""
        table = self.mapping(top.get("held_out") or {}, top, "held_out", None, "held_out")
        checked: dict[str, dict[str, float | None]] = {}
        for name, row in table.items():
            measures = self.mapping(row, table, f"held_out.{name}", None, name)
            checked[str(name)] = {}
            for measure, value in measures.items():
                number = finite_number(value)
                if value is not None and number is None:
                    shown = describe(value)
                    message = f"held_out.{name}.{measure} must be a finite number, not {shown}"
                    self.fail(measures, measure, message)
                checked[str(name)][str(measure)] = number
        return checked

    def notes(self, top: dict[Any, Any]) -> list[Any]:
        notes = top.get("notes") or []
        if not isinstance(notes, list):
            self.fail(top, "notes", "notes must be a list of text")
        return notes

    def knots(self, data: dict[Any, Any], where: str) -> tuple[tuple[float, float], ...]:
        value = data["map"]
        fix = "a list of [share in, share out] pairs, both rising, within 0..1"
        if not isinstance(value, list) or len(value) < 2:
            self.fail(data, "map", f"{where}.map needs two knots or more", fix)
        knots: list[tuple[float, float]] = []
        for item in value:
            pair = [finite_number(v) for v in item] if isinstance(item, list) else []
            if len(pair) != 2 or not all(v is not None and 0.0 <= v <= 1.0 for v in pair):
                self.fail(data, "map", f"{where}.map has a bad knot {describe(item)}", fix)
            x, y = float(pair[0] or 0.0), float(pair[1] or 0.0)
            if knots and (x <= knots[-1][0] or y < knots[-1][1]):
                self.fail(
                    data, "map", f"{where}.map must rise: {item!r} after {list(knots[-1])}", fix
                )
            knots.append((x, y))
        return tuple(knots)
