"""Fit the scoring parameters to human scores, with cross-validation, and save them as YAML.

The grader's score depends on a few numbers (``grader.scoring.ScoringParams``): the cosine
``floor`` and ``ceiling`` of the similarity ramp and the ``rubric_weight``. Calibration grades the
human-scored answers once, keeps each answer's raw signals (cosines, keyword credits, overlap,
penalties), and then searches the parameters by re-computing every score from those signals -
nothing is embedded twice. It fits, per embedding model:

1. bank-wide: the defaults, or parameters from a grid search (maximising Pearson's r with the
   human scores), each optionally followed by a monotone map of the score's share of the points
   (linear or isotonic) that puts the grader's scores on the humans' level;
2. per question with enough graded answers (``min_question_answers``): a shift and stretch of
   that question's ramp (model answers differ in how high their cosines run).

Every choice is made by cross-validation on the training answers only, against the uncalibrated
defaults, which are kept (per bank, per question) unless the held-out error drops - and, bank-wide,
only if the held-out correlation stays as good and beyond chance; a question's fit may move its
level but not flatten its scores (from noise, flattening is all that lowers the error). The
held-out agreement before and after is measured by an outer k-fold: every answer is scored by a
calibration fitted on the other folds only.

The parameters reach grading through ``Calibration.params_for``; the map needs grading to call
``Calibration.adjust_score`` on each automatic score (``FitOptions(mapping=False)`` fits none).

How a score is re-computed mirrors ``grader.scoring.score_answer`` (``criterion_credit`` applied
to ramped cosines, penalties, clamping). Each answer is checked against the score the grader gave
it; one that cannot be reproduced keeps that score (counted in ``notes``). Two approximations: a
misconception counts as found or not as graded (a new ceiling does not change that), and gaming
penalties keep their factor.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from grader.errors import GraderError
from grader.scoring import ScoringParams
from grader.values import describe, finite_number

if TYPE_CHECKING:
    import numpy as np

    from grader.evaluation import Agreement, Evaluation, Pair
    from grader.grading import GradeOptions
    from grader.model import Bank
    from grader.results import AnswerResult, Results
    from grader.submissions import Submission

SCHEMA = "grader.calibration/1"
NO_MODEL = "none"  # the key for keyword-only grading (no parameter to fit)
ENTRY_KEYS = ("floor", "ceiling", "rubric_weight", "map")
MODEL_KEYS = ("default", "bank", "questions")
TOP_KEYS = ("schema", "bank", "fitted", "models", "held_out", "notes")
REPRODUCE_TOLERANCE = 0.002  # share of the points
MIN_GAIN = 0.01  # a fit must cut the held-out squared error by this share to replace the defaults
CORRELATION_SLACK = 0.005  # ... and keep the held-out Pearson r within this of the defaults'
QUESTION_T = 1.0  # how clearly a question's own fit must win, held out (paired t statistic)
MIN_SPREAD = 0.8  # a question's fit keeps this share of the spread of its scores
_PENALTY_FACTORS = {  # grader.gaming: penalties whose factor is a constant
    "keyword-salad": "SALAD_FACTOR",
    "copied-question": "COPY_FACTOR",
    "answers-another-question": "OTHER_ANSWER_FACTOR",
    "unexpected-language": "FOREIGN_FACTOR",
    "self-contradiction": "CONTRADICTION_FACTOR",
}
_SPAN_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0)
_SHIFTS = tuple(round(-0.4 + 0.05 * index, 2) for index in range(17))
MAX_GRID_CELLS = 30_000_000  # candidates x answers scored at once (8 bytes each)
_TIE = 1e-4  # loss added per unit of distance from the starting point (prefers small moves)


# ---------------------------------------------------------------- the fitted values


@dataclass(frozen=True)
class Adjustment:
    """Parameters that replace the defaults (None: keep), and a map of the score's share."""

    floor: float | None = None
    ceiling: float | None = None
    rubric_weight: float | None = None
    mapping: tuple[tuple[float, float], ...] = ()  # knots (share in, share out); () = identity

    def apply(self, params: ScoringParams) -> ScoringParams:
        return replace(
            params,
            floor=params.floor if self.floor is None else self.floor,
            ceiling=params.ceiling if self.ceiling is None else self.ceiling,
            rubric_weight=params.rubric_weight
            if self.rubric_weight is None
            else self.rubric_weight,
        )

    def map_share(self, share: float) -> float:
        if not self.mapping:
            return share
        return _interpolate(share, self.mapping)

    @property
    def empty(self) -> bool:
        return self == Adjustment()


@dataclass(frozen=True)
class ModelCalibration:
    """What was fitted for the answers scored with one embedding model."""

    bank: Adjustment = Adjustment()
    questions: Mapping[str, Adjustment] = field(default_factory=dict)
    default: ScoringParams | None = None  # the uncalibrated parameters it started from


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
        """The parameters for one answer: the bank's fit, then the question's, over ``params``."""
        fitted = self.models.get(model or NO_MODEL)
        if fitted is None:
            return params
        params = fitted.bank.apply(params)
        question = fitted.questions.get(gradable_id)
        return question.apply(params) if question else params

    def adjust_score(
        self, gradable_id: str, model: str | None, score: float, points: float
    ) -> float:
        """The score after the fitted map of its share of the points (identity without one)."""
        fitted = self.models.get(model or NO_MODEL)
        if fitted is None or points <= 0:
            return score
        question = fitted.questions.get(gradable_id)
        mapping = question.mapping if question and question.mapping else fitted.bank.mapping
        if not mapping:
            return score
        return round(points * _interpolate(score / points, mapping), 4)

    def check_bank(self, bank_id: str) -> None:
        if self.bank_id and bank_id != self.bank_id:
            raise GraderError(
                f"{self.source or 'the calibration'}: fitted for bank '{self.bank_id}', "
                f"not '{bank_id}' (fit a calibration for this bank, or leave --calibration out)"
            )

    def save(self, path: Path) -> None:
        from grader.fsutil import atomic_write

        atomic_write(path, calibration_to_yaml(self))


def _interpolate(share: float, knots: Sequence[tuple[float, float]]) -> float:
    xs = [x for x, _ in knots]
    ys = [y for _, y in knots]
    if share <= xs[0]:
        return ys[0]
    if share >= xs[-1]:
        return ys[-1]
    for index in range(1, len(xs)):
        if share <= xs[index]:
            left, right = xs[index - 1], xs[index]
            weight = (share - left) / (right - left) if right > left else 1.0
            return ys[index - 1] + weight * (ys[index] - ys[index - 1])
    return ys[-1]


# ---------------------------------------------------------------- signals of graded answers


@dataclass(frozen=True)
class _CriterionSignal:
    share: float  # the criterion's points / the answer's points
    keyword: float | None  # keyword credit (or the overlap, for the model-answer criterion)
    concept: float | None  # concept cosine
    contradicted: bool


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
    answer_cosine: float | None
    criteria: tuple[_CriterionSignal, ...]
    factor: float  # gaming penalties, multiplied
    penalty: float  # misconception penalties, in points
    answer: str = ""
    language: str = ""


def collect_signals(results: Results) -> list[AnswerSignals]:
    """Each human-scored answer's signals, read back from graded results."""
    if results.settings.get("calibration"):
        raise GraderError(
            "these results were graded with a calibration "
            "(calibrate from results graded without --calibration)"
        )
    collected = []
    for student in results.students:
        for question in student.questions:
            for answer in question.answers:
                if answer.human_score is not None:
                    collected.append(_answer_signals(student.id, answer))
    return collected


def _answer_signals(student: str, answer: AnswerResult) -> AnswerSignals:
    criteria = tuple(
        _CriterionSignal(
            share=criterion.points / answer.points if answer.points else 0.0,
            keyword=criterion.keyword_credit,
            concept=criterion.concept.cosine if criterion.concept else None,
            contradicted=any(g.met and g.negated is not None for g in criterion.groups),
        )
        for criterion in answer.criteria
    )
    return AnswerSignals(
        question=answer.id,
        student=student,
        model=answer.model or NO_MODEL,
        points=answer.points,
        human=float(answer.human_score or 0.0),
        auto_score=answer.auto_score,
        answered=answer.answered,
        answer_cosine=answer.similarity.cosine if answer.similarity else None,
        criteria=criteria,
        factor=_penalty_factor(answer),
        penalty=sum(item.penalty for item in answer.misconceptions),
        answer=answer.answer,
        language=answer.language,
    )


def _penalty_factor(answer: AnswerResult) -> float:
    from grader import gaming

    factor = 1.0
    for flag in answer.flags:
        recorded = getattr(flag, "factor", None)  # where results record the factor itself
        if isinstance(recorded, int | float):
            factor *= float(recorded)
            continue
        constant = _PENALTY_FACTORS.get(flag.code)
        if constant is not None:
            factor *= float(getattr(gaming, constant, 1.0))
        elif flag.code == "padded":
            factor *= _padding_factor(flag.reason)
    return factor


def _padding_factor(reason: str) -> float:
    """``padded``'s factor is allowed / words, both stated in its reason."""
    import re

    numbers = [int(text) for text in re.findall(r"\d+", reason)]
    if len(numbers) >= 2 and numbers[0] > 0:
        return min(1.0, numbers[-1] / numbers[0])
    return 1.0


def default_params(bank: Bank, results: Results, model: str) -> ScoringParams:
    """The parameters grading used for ``model`` without a calibration (as grader.grading does)."""
    params = ScoringParams(review_margin=bank.settings.review_margin)
    if bank.settings.rubric_weight is not None:
        params = replace(params, rubric_weight=bank.settings.rubric_weight)
    info = results.models.get(model, {})
    floor = bank.settings.similarity_floor
    ceiling = bank.settings.similarity_ceiling
    return replace(
        params,
        floor=float(floor if floor is not None else info.get("similarity_floor", params.floor)),
        ceiling=float(
            ceiling if ceiling is not None else info.get("similarity_ceiling", params.ceiling)
        ),
    )


# ---------------------------------------------------------------- re-computing scores


@dataclass
class SignalTable:
    """Answers scored with one model, as arrays, to score many parameter sets at once."""

    default: ScoringParams  # the parameters the recorded scores were graded with
    questions: list[str]  # per answer
    human: np.ndarray  # per answer: the human score as a share of the points
    recorded: np.ndarray  # the grader's score as a share of the points
    answer_cosine: np.ndarray  # nan: no model-answer match
    owner: np.ndarray  # per criterion row: the index of its answer
    share: np.ndarray  # the criterion's points as a share of the answer's points
    keyword: np.ndarray  # keyword credit (or overlap); nan: none
    concept: np.ndarray  # concept cosine; nan: none
    contradicted: np.ndarray
    factor: np.ndarray  # per answer: gaming penalties, multiplied
    penalty: np.ndarray  # misconception penalties as a share of the points
    fixed: np.ndarray  # per answer: the score does not depend on the parameters
    unreproduced: int = 0

    @classmethod
    def from_answers(cls, answers: Sequence[AnswerSignals], default: ScoringParams) -> SignalTable:
        import numpy as np

        def share(value: float, answer: AnswerSignals) -> float:
            return value / answer.points if answer.points else 0.0

        rows = [(index, c) for index, a in enumerate(answers) for c in a.criteria]
        table = cls(
            default=default,
            questions=[a.question for a in answers],
            human=np.array([share(a.human, a) for a in answers], dtype=np.float64),
            recorded=np.array([share(a.auto_score, a) for a in answers], dtype=np.float64),
            answer_cosine=_array([a.answer_cosine for a in answers]),
            owner=np.array([index for index, _ in rows], dtype=np.int64),
            share=np.array([c.share for _, c in rows], dtype=np.float64),
            keyword=_array([c.keyword for _, c in rows]),
            concept=_array([c.concept for _, c in rows]),
            contradicted=np.array([c.contradicted for _, c in rows], dtype=bool),
            factor=np.array([a.factor for a in answers], dtype=np.float64),
            penalty=np.array([share(a.penalty, a) for a in answers], dtype=np.float64),
            fixed=np.array([not a.answered or not a.criteria for a in answers], dtype=bool),
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
            answer_cosine=self.answer_cosine[indices],
            owner=position[self.owner[rows]],
            share=self.share[rows],
            keyword=self.keyword[rows],
            concept=self.concept[rows],
            contradicted=self.contradicted[rows],
            factor=self.factor[indices],
            penalty=self.penalty[indices],
            fixed=self.fixed[indices],
        )

    def shares(self, floors: np.ndarray, ceilings: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(candidates, answers): each answer's score as a share of its points, per candidate."""
        import numpy as np

        chunks = []
        for start in range(0, len(floors), 256):
            part = slice(start, start + 256)
            chunks.append(self._shares(floors[part], ceilings[part], weights[part]))
        return np.vstack(chunks) if chunks else np.zeros((0, len(self)))

    def shares_for(self, params: ScoringParams) -> np.ndarray:
        import numpy as np

        floors, ceilings = np.array([params.floor]), np.array([params.ceiling])
        return self._shares(floors, ceilings, np.array([params.rubric_weight]))[0]

    def _shares(self, floors: np.ndarray, ceilings: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """What grader.scoring.score_answer computes (ramp, criterion_credit, penalties, clamp)."""
        import numpy as np

        floor = floors[:, None]
        span = np.maximum(ceilings - floors, 1e-6)[:, None]
        weight = weights[:, None]
        has_concept = ~np.isnan(self.concept)
        has_keyword = ~np.isnan(self.keyword)
        concept = np.clip((self.concept[None, :] - floor) / span, 0.0, 1.0)
        concept = np.where(self.contradicted & has_concept, 0.0, concept)
        keyword = np.where(self.contradicted & has_keyword, 0.0, self.keyword)
        present = has_concept | has_keyword
        direct = np.where(present, np.fmax(np.broadcast_to(keyword, concept.shape), concept), 0.0)
        answer = np.clip((self.answer_cosine[None, :] - floor) / span, 0.0, 1.0)[:, self.owner]
        has_answer = ~np.isnan(self.answer_cosine)[self.owner]
        mixed = np.where(present, weight * direct + (1.0 - weight) * answer, answer)
        credit = np.nan_to_num(np.where(has_answer, mixed, direct))
        earned = np.zeros((len(floors), len(self)))
        np.add.at(earned.T, self.owner, (credit * self.share).T)
        shares = np.clip(earned * self.factor - self.penalty, 0.0, 1.0)
        return np.where(self.fixed, self.recorded, shares)

    def _check_reproduction(self) -> None:
        """Answers whose recorded score the arithmetic here cannot reproduce keep that score."""
        import numpy as np

        if not len(self):
            return
        wrong = np.abs(self.shares_for(self.default) - self.recorded) > REPRODUCE_TOLERANCE
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
    mapping: bool = True  # also fit a monotone map of the score's share
    per_question: bool = True
    min_question_answers: int = 5  # training answers a question needs for its own fit
    question_margin: float = 0.05  # a question's fit must cut its held-out error by this share
    groups: Mapping[int, str] | None = None  # answer index -> group (e.g. the student) for folds


@dataclass(frozen=True)
class CalibrationFit:
    """A calibration and the held-out evidence for it."""

    calibration: Calibration
    before: Evaluation  # uncalibrated scores of the answers (all are held out: nothing was fitted)
    after: Evaluation  # out-of-fold calibrated scores: each from a fit that never saw the answer


def _grid(default: ScoringParams, answers: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate (floor, ceiling, weight) triples; row 0 the defaults. Coarser for many answers,
    so that the table of every candidate's scores stays under ``MAX_GRID_CELLS``."""
    import numpy as np

    coarse = answers * 2971 > MAX_GRID_CELLS  # 2971 candidates at steps of 0.05 and 0.1
    step, weight_steps = (0.1, 6) if coarse else (0.05, 11)
    floors, ceilings, weights = [default.floor], [default.ceiling], [default.rubric_weight]
    top = round(1.0 / step)
    for floor_step in range(round(-0.2 / step), round(0.75 / step) + 1):
        for ceiling_step in range(floor_step + round(0.1 / step), top + 1):
            for weight_step in range(weight_steps):
                floors.append(round(step * floor_step, 2))
                ceilings.append(round(step * ceiling_step, 2))
                weights.append(round(weight_step / (weight_steps - 1), 2))
    return np.array(floors), np.array(ceilings), np.array(weights)


def _pearson_rows(shares: np.ndarray, human: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``shares`` with ``human``; -inf where undefined."""
    import numpy as np

    centred = shares - shares.mean(axis=1, keepdims=True)
    target = human - human.mean()
    denominator = np.sqrt((centred**2).sum(axis=1) * float(target @ target))
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (centred @ target) / denominator
    return np.where(denominator > 1e-12, values, -np.inf)


@dataclass(frozen=True)
class _Recipe:
    """One way to fit the bank-wide part: which parameters, and which map."""

    tune: bool  # search the parameters (else keep the defaults)
    mapping: str  # "none" | "linear" | "isotonic"


def _recipes(options: FitOptions) -> list[_Recipe]:
    recipes = [_Recipe(False, "none"), _Recipe(True, "none")]
    if options.mapping:
        recipes += [_Recipe(False, "linear"), _Recipe(True, "linear"), _Recipe(True, "isotonic")]
    return recipes


@dataclass
class _Fitter:
    """Fits one model's table; the grid's scores are computed once, for every fold."""

    table: SignalTable
    options: FitOptions
    floors: np.ndarray
    ceilings: np.ndarray
    weights: np.ndarray
    grid_shares: np.ndarray  # (candidates, answers); row 0: the defaults
    by_question: dict[str, np.ndarray]  # answer indices
    question_tables: dict[str, SignalTable]

    @classmethod
    def build(cls, table: SignalTable, options: FitOptions) -> _Fitter:
        import numpy as np

        floors, ceilings, weights = _grid(table.default, len(table))
        members: dict[str, list[int]] = defaultdict(list)
        for index, question in enumerate(table.questions):
            members[question].append(index)
        by_question = {q: np.array(found, dtype=np.int64) for q, found in members.items()}
        tables = {q: table.take(found) for q, found in by_question.items()}
        grid = table.shares(floors, ceilings, weights)
        return cls(table, options, floors, ceilings, weights, grid, by_question, tables)

    # -- the bank-wide part

    def _apply_recipe(self, recipe: _Recipe, train: np.ndarray) -> Adjustment:
        import numpy as np

        human = self.table.human[train]
        if not recipe.tune:
            return Adjustment(
                mapping=_fit_mapping(recipe.mapping, self.grid_shares[0, train], human)
            )
        if recipe.mapping == "none":
            errors = ((self.grid_shares[:, train] - human) ** 2).mean(axis=1)
            best = int(np.argmin(errors + _TIE * self._distance()))
        else:
            scores = _pearson_rows(self.grid_shares[:, train], human)
            best = int(np.argmax(scores - _TIE * self._distance()))
        mapping = _fit_mapping(recipe.mapping, self.grid_shares[best, train], human)
        return Adjustment(
            float(self.floors[best]), float(self.ceilings[best]), float(self.weights[best]), mapping
        )

    def _distance(self) -> np.ndarray:
        import numpy as np

        default = self.table.default
        return (
            np.abs(self.floors - default.floor)
            + np.abs(self.ceilings - default.ceiling)
            + np.abs(self.weights - default.rubric_weight)
        )

    def _predict_bank(self, adjustment: Adjustment, indices: np.ndarray) -> np.ndarray:
        shares = self.table.shares_for(adjustment.apply(self.table.default))[indices]
        return _map_many(shares, adjustment.mapping)

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
                adjustment = self._apply_recipe(recipe, inner)
                predicted[number, start : start + len(held)] = self._predict_bank(adjustment, held)
            start += len(held)
        human = self.table.human[order]
        errors = ((predicted - human) ** 2).mean(axis=1)
        correlations = np.array([pearson(human, row) for row in predicted])
        # A fit must keep the defaults' held-out correlation and show one beyond chance (about
        # two standard errors of r around 0): from noise, only flattening would cut the error.
        chance = 2.0 / math.sqrt(len(order))
        baseline = correlations[0] - CORRELATION_SLACK if np.isfinite(correlations[0]) else -1.0
        eligible = np.nan_to_num(correlations, nan=-np.inf) >= max(baseline, chance)
        eligible[0] = True
        best = int(np.argmin(np.where(eligible, errors, np.inf)))
        if best == 0 or errors[best] >= errors[0] * (1.0 - MIN_GAIN):
            return Adjustment()
        return self._apply_recipe(recipes[best], train)

    # -- the per-question part

    def fit_questions(self, bank: Adjustment, train: np.ndarray) -> dict[str, Adjustment]:
        import numpy as np

        if not self.options.per_question:
            return {}
        base = bank.apply(self.table.default)
        floors, ceilings, costs = _question_candidates(base)
        weights = np.full(len(floors), base.rubric_weight)
        in_train = np.zeros(len(self.table), dtype=bool)
        in_train[train] = True
        fitted = {}
        for question, members in self.by_question.items():
            chosen = in_train[members]
            if int(chosen.sum()) < self.options.min_question_answers:
                continue
            table = self.question_tables[question]
            shares = _map_many(table.shares(floors, ceilings, weights)[:, chosen], bank.mapping)
            choice = _choose_question_fit(shares, table.human[chosen], costs, self.options)
            if choice is not None:
                fitted[question] = Adjustment(
                    round(float(floors[choice]), 4), round(float(ceilings[choice]), 4)
                )
        return fitted

    def fit(self, train: np.ndarray) -> ModelCalibration:
        bank = self.fit_bank(train)
        return ModelCalibration(bank, self.fit_questions(bank, train), self.table.default)

    def predict(self, fitted: ModelCalibration, indices: np.ndarray) -> np.ndarray:
        """Calibrated shares of the answers at ``indices``."""
        import numpy as np

        result = self._predict_bank(fitted.bank, indices)
        base = fitted.bank.apply(self.table.default)
        for question, adjustment in fitted.questions.items():
            members = self.by_question.get(question)
            if members is None:
                continue
            wanted = np.flatnonzero(np.isin(indices, members))
            if not len(wanted):
                continue
            position = np.searchsorted(members, indices[wanted])
            shares = self.question_tables[question].shares_for(adjustment.apply(base))
            result[wanted] = _map_many(shares[position], fitted.bank.mapping)
        return result


def _question_candidates(base: ScoringParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A question's ramp shifted and stretched around the bank's; row 0 is the bank's own."""
    import numpy as np

    span = base.ceiling - base.floor
    middle = (base.ceiling + base.floor) / 2
    floors, ceilings, costs = [base.floor], [base.ceiling], [0.0]
    for shift in _SHIFTS:
        for factor in _SPAN_FACTORS:
            half = span * factor / 2
            floors.append(middle + shift - half)
            ceilings.append(middle + shift + half)
            costs.append(abs(shift) + abs(math.log(factor)))
    return np.array(floors), np.array(ceilings), np.array(costs)


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
    held_out = np.empty(count)
    for left_out in range(count):
        rest = (total - errors[:, left_out]) / (count - 1)
        held_out[left_out] = errors[int(np.argmin(rest + penalty)), left_out]
    gains = errors[0] - held_out
    if float(held_out.sum()) >= float(total[0]) * (1.0 - options.question_margin):
        return None
    deviation = float(gains.std(ddof=1))
    if deviation > 0 and float(gains.mean()) / (deviation / math.sqrt(count)) < QUESTION_T:
        return None
    choice = int(np.argmin(total / count + penalty))
    return None if choice == 0 else choice


def _fit_mapping(
    kind: str, shares: np.ndarray, human: np.ndarray
) -> tuple[tuple[float, float], ...]:
    import numpy as np

    if kind == "none" or len(shares) < 3 or float(np.ptp(shares)) < 1e-9:
        return ()
    if kind == "linear":
        slope, intercept = np.polyfit(shares, human, 1)
        slope = max(float(slope), 0.0)
        return _line_knots(float(intercept), slope)
    return _isotonic_knots(shares, human)


def _line_knots(intercept: float, slope: float) -> tuple[tuple[float, float], ...]:
    """Knots of min(1, max(0, intercept + slope * x)) on [0, 1]."""
    xs = {0.0, 1.0}
    if slope > 0:
        for target in (0.0, 1.0):
            crossing = (target - intercept) / slope
            if 0.0 < crossing < 1.0:
                xs.add(crossing)
    return tuple(
        (round(x, 4), round(min(1.0, max(0.0, intercept + slope * x)), 4)) for x in sorted(xs)
    )


def _isotonic_knots(shares: np.ndarray, human: np.ndarray) -> tuple[tuple[float, float], ...]:
    """Pool-adjacent-violators; one knot per block at its mean share, joined by straight lines."""
    import numpy as np

    order = np.argsort(shares, kind="mergesort")
    blocks: list[list[float]] = []  # [sum x, sum y, count]
    for x, y in zip(shares[order].tolist(), human[order].tolist(), strict=True):
        blocks.append([x, y, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    knots: list[tuple[float, float]] = []
    for sum_x, sum_y, count in blocks:
        x, y = round(sum_x / count, 4), round(sum_y / count, 4)
        if knots and x <= knots[-1][0]:
            knots[-1] = (knots[-1][0], max(knots[-1][1], y))
        else:
            knots.append((x, y))
    if len(knots) == 1:
        knots.append((round(min(1.0, knots[0][0] + 1e-3), 4), knots[0][1]))
    return tuple(knots)


def _map_many(shares: np.ndarray, knots: Sequence[tuple[float, float]]) -> np.ndarray:
    import numpy as np

    if not knots:
        return shares
    xs = np.array([x for x, _ in knots])
    ys = np.array([y for _, y in knots])
    return np.interp(shares, xs, ys)


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
    bank: Bank, results: Results, answers: Sequence[AnswerSignals]
) -> dict[str, tuple[np.ndarray, SignalTable]]:
    """Per model (keyword-only answers left out): the answers' indices and their table."""
    import numpy as np

    by_model: dict[str, list[int]] = defaultdict(list)
    for index, answer in enumerate(answers):
        if answer.model != NO_MODEL:  # keyword credit alone has no parameter to fit
            by_model[answer.model].append(index)
    tables = {}
    for model, members in sorted(by_model.items()):
        default = default_params(bank, results, model)
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
        Pair(a.question, a.student, a.points, a.human, round(s * a.points, 4), a.answer, a.language)
        for a, s in zip(answers, shares, strict=True)
    ]


def fit_from_results(
    bank: Bank, results: Results, options: FitOptions = FitOptions()
) -> CalibrationFit:
    """Fit a calibration to graded results that carry human scores, with held-out evidence:
    ``after`` scores every answer with a calibration fitted on the other folds only."""
    import numpy as np

    from grader.evaluation import evaluate_pairs

    answers = collect_signals(results)
    _check_enough(answers, options)
    tables = _model_tables(bank, results, answers)
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

    answers = collect_signals(results)
    if len(train) != len(answers):
        raise ValueError(f"train has {len(train)} entries for {len(answers)} human-scored answers")
    chosen = [a for a, used in zip(answers, train, strict=True) if used]
    _check_enough(chosen, options)
    mask = np.array(train, dtype=bool)
    models = {}
    for model, (members, table) in _model_tables(bank, results, answers).items():
        fitter = _Fitter.build(table, _local(options, members))
        models[model] = fitter.fit(np.flatnonzero(mask[members]))
    return Calibration(
        bank_id=bank.id,
        models=models,
        source=f"fitted on {len(chosen)} answers",
        answers=len(chosen),
        folds=options.folds,
    )


def rescore(calibration: Calibration | None, bank: Bank, results: Results) -> list[Pair]:
    """Every human-scored answer re-scored from its signals under ``calibration`` (None: the
    defaults), as grading with that calibration would score it; nothing is embedded again."""
    import numpy as np

    answers = collect_signals(results)
    shares = np.array([a.auto_score / a.points if a.points else 0.0 for a in answers])
    for model, (members, table) in _model_tables(bank, results, answers).items():
        by_question: dict[str, list[int]] = defaultdict(list)
        for position, question in enumerate(table.questions):
            by_question[question].append(position)
        for question, positions in by_question.items():
            local = np.array(positions, dtype=np.int64)
            params = table.default
            if calibration is not None:
                params = calibration.params_for(question, model, params)
            computed = table.take(local).shares_for(params)
            for position, share in zip(local.tolist(), computed.tolist(), strict=True):
                answer = answers[int(members[position])]
                score = round(share * answer.points, 4)
                if calibration is not None:
                    score = calibration.adjust_score(question, model, score, answer.points)
                shares[members[position]] = score / answer.points if answer.points else 0.0
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
            f"{model}: bank {_describe(fitted.bank)}; {len(fitted.questions)} questions fitted"
        )
    lines.extend(fit.calibration.notes)
    return "\n".join(lines)


def _describe(adjustment: Adjustment) -> str:
    if adjustment.empty:
        return "defaults kept"
    parts = [
        f"{name}={value:g}"
        for name, value in (
            ("floor", adjustment.floor),
            ("ceiling", adjustment.ceiling),
            ("rubric_weight", adjustment.rubric_weight),
        )
        if value is not None
    ]
    if adjustment.mapping:
        parts.append(f"map with {len(adjustment.mapping)} knots")
    return ", ".join(parts)


# ---------------------------------------------------------------- YAML


def _entry_to_dict(adjustment: Adjustment) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("floor", "ceiling", "rubric_weight"):
        value = getattr(adjustment, name)
        if value is not None:
            data[name] = round(float(value), 4)
    if adjustment.mapping:
        data["map"] = [[float(x), float(y)] for x, y in adjustment.mapping]
    return data


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, fitted in sorted(calibration.models.items()):
        entry: dict[str, Any] = {}
        if fitted.default is not None:
            entry["default"] = {
                "floor": fitted.default.floor,
                "ceiling": fitted.default.ceiling,
                "rubric_weight": fitted.default.rubric_weight,
            }
        entry["bank"] = _entry_to_dict(fitted.bank)
        entry["questions"] = {
            question: _entry_to_dict(item) for question, item in sorted(fitted.questions.items())
        }
        models[name] = entry
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
        questions = {
            str(question): self.entry(
                item, questions_data, f"{where}.questions.{question}", question
            )
            for question, item in questions_data.items()
        }
        default = None
        if data.get("default") is not None:
            entry = self.entry(data["default"], data, f"{where}.default", "default")
            default = entry.apply(ScoringParams())
        return ModelCalibration(bank, questions, default)

    def entry(self, value: Any, parent: Any, where: str, key: Any) -> Adjustment:
        data = self.mapping(value, parent, where, ENTRY_KEYS, key=key)
        floor = self.number(data, "floor", where, -1.0, 1.0)
        ceiling = self.number(data, "ceiling", where, -1.0, 1.5)
        weight = self.number(data, "rubric_weight", where, 0.0, 1.0)
        if floor is not None and ceiling is not None and ceiling <= floor:
            message = f"{where}.ceiling ({ceiling:g}) must be above the floor ({floor:g})"
            self.fail(data, "ceiling", message)
        mapping = self.knots(data, where) if "map" in data else ()
        return Adjustment(floor, ceiling, weight, mapping)

    def number(
        self, data: dict[Any, Any], name: str, where: str, low: float, high: float
    ) -> float | None:
        if name not in data:
            return None
        raw = data[name]
        value = finite_number(raw)
        if value is None:
            numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
            kind = "a finite number" if numeric else "a number"
            self.fail(data, name, f"{where}.{name} must be {kind}, not {describe(raw)}")
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
