"""The scoring rule's arithmetic on arrays: one answer (``grader.scoring.rule.score_answer``) or
many under many parameter sets (calibration, benchmarks) go through the same functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from grader.scoring.defaults import MeaningMap, Review

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike


# ---------------------------------------------------------------- the rule, vectorised


def meaning_credit(
    similarity: ArrayLike,
    overlap: ArrayLike,
    meaning: MeaningMap,
    shift: ArrayLike = 0.0,
    scale: ArrayLike = 1.0,
    sharpness: ArrayLike = 1.0,
) -> np.ndarray:
    """Credit 0..1 from a ramped similarity and a content-word overlap (nan: not known) through
    the meaning map's predictor for what is known, read from the level of unrelated evidence
    (similarity 0, no shared word: credit 0) up; nan where neither is known. Calibration's
    ``shift`` and ``scale`` move the log-odds; a rubric criterion's ``sharpness`` then multiplies
    them (a criterion is a yes/no point, a model answer many points at once)."""
    import numpy as np

    s = np.asarray(similarity, dtype=np.float64)
    o = np.asarray(overlap, dtype=np.float64)
    has_s, has_o = ~np.isnan(s), ~np.isnan(o)
    s0, o0 = np.nan_to_num(s), np.nan_to_num(o)
    both, alone, words = meaning.both, meaning.similarity_only, meaning.overlap_only
    intercept = np.where(
        has_s & has_o, both.intercept, np.where(has_s, alone.intercept, words.intercept)
    )
    evidence = np.where(
        has_s & has_o,
        both.similarity * s0 + both.overlap * o0,
        np.where(has_s, alone.similarity * s0, words.overlap * o0),
    )
    credit = _through(intercept + evidence, shift, scale, sharpness)
    # Evidence at the unrelated level (similarity 0, no shared word) earns nothing: the curve is
    # read from there up, so an off-topic answer is not paid a floor of credit.
    unrelated = _through(intercept, shift, scale, sharpness)
    credit = np.clip((credit - unrelated) / np.maximum(1.0 - unrelated, 1e-9), 0.0, 1.0)
    return np.where(has_s | has_o, credit, np.nan)


def _through(
    logit: np.ndarray, shift: ArrayLike, scale: ArrayLike, sharpness: ArrayLike
) -> np.ndarray:
    """A log-odds through calibration's shift and scale and a criterion's sharpness, as a
    probability."""
    import numpy as np

    moved = np.asarray(scale, dtype=np.float64) * logit + np.asarray(shift, dtype=np.float64)
    moved = np.asarray(sharpness, dtype=np.float64) * moved
    return 1.0 / (1.0 + np.exp(-np.clip(moved, -50.0, 50.0)))


def criterion_credit(
    keyword: ArrayLike,
    meaning: ArrayLike,
    negated: ArrayLike,
    void: ArrayLike,
    cap: float,
) -> np.ndarray:
    """Each criterion's credit: keyword credit (nan: no keywords) and meaning credit (nan: no
    evidence), nothing when negated, no meaning credit when void (closer to a wrong answer)."""
    import numpy as np

    k = np.asarray(keyword, dtype=np.float64)
    m = np.nan_to_num(np.asarray(meaning, dtype=np.float64))
    m = np.where(np.asarray(void, dtype=bool), 0.0, m)
    credit = np.where(np.isnan(k), m, np.fmax(np.nan_to_num(k), np.fmin(m, cap)))
    return np.where(np.asarray(negated, dtype=bool), 0.0, credit)


def answer_share(
    credit: ArrayLike,
    weight: ArrayLike,
    owner: ArrayLike,
    answers: int,
    factor: ArrayLike,
    penalty: ArrayLike,
) -> np.ndarray:
    """Each answer's share of its points: its criteria's credits weighted by their share of the
    points (``owner``: the answer of each criterion row), times the gaming factors, minus the
    misconception penalties (as shares), clamped to 0..1."""
    import numpy as np

    earned = np.zeros(answers, dtype=np.float64)
    np.add.at(earned, np.asarray(owner, dtype=np.int64), np.asarray(credit) * np.asarray(weight))
    return np.clip(earned * np.asarray(factor) - np.asarray(penalty), 0.0, 1.0)


def map_share(share: ArrayLike, knots: Sequence[tuple[float, float]]) -> np.ndarray:
    """Shares through a monotone map given by knots (share in, share out); () is the identity."""
    import numpy as np

    values = np.asarray(share, dtype=np.float64)
    if not knots:
        return values
    return np.interp(values, [x for x, _ in knots], [y for _, y in knots])


def review_risk(
    share: ArrayLike, disagreement: ArrayLike, words: ArrayLike, review: Review
) -> np.ndarray:
    """The fitted chance that an automatic share is off from a human's by over a quarter."""
    import numpy as np

    p = np.clip(np.asarray(share, dtype=np.float64), 0.0, 1.0)
    logit = (
        review.intercept
        + review.uncertainty * p * (1.0 - p)
        + review.disagreement * np.asarray(disagreement, dtype=np.float64)
        + review.short / (1.0 + np.asarray(words, dtype=np.float64))
    )
    return 1.0 / (1.0 + np.exp(-logit))
