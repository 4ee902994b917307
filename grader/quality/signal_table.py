"""The evidence graded answers keep, as arrays the scoring rule re-scores under other parameters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from grader.errors import GraderError
from grader.evidence.space import same_language
from grader.scoring.inputs import MODEL_ANSWER_CRITERION
from grader.scoring.params import ScoringParams
from grader.scoring.vectorised import answer_share, criterion_credit, map_share, meaning_credit

if TYPE_CHECKING:
    import numpy as np

    from grader.bank import Bank
    from grader.results import AnswerResult, Results
    from grader.scoring.defaults import Defaults
from grader.scoring.calibration import NO_MODEL

REPRODUCE_TOLERANCE = 0.002  # share of the points
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
