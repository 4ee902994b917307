"""grader.metrics against scipy / scikit-learn (both declared in the [dev] extra)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as stats
import sklearn.metrics as sk_metrics

from grader import metrics


@pytest.fixture
def scores() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(7)
    human = generator.integers(0, 11, size=200) / 2.0  # 0..5 in half points
    machine = np.clip(human + generator.normal(0.0, 1.0, size=200), 0.0, 5.0)
    return human, machine


def test_pearson_and_spearman_match_scipy(scores: tuple[np.ndarray, np.ndarray]) -> None:
    human, machine = scores
    assert metrics.pearson(human, machine) == pytest.approx(stats.pearsonr(human, machine)[0])
    assert metrics.spearman(human, machine) == pytest.approx(stats.spearmanr(human, machine)[0])


def test_ranks_average_ties_like_scipy() -> None:
    values = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0]
    assert metrics.ranks(values).tolist() == stats.rankdata(values).tolist()


def test_undefined_correlations_are_nan() -> None:
    assert math.isnan(metrics.pearson([1.0, 1.0, 1.0], [0.0, 1.0, 2.0]))
    assert math.isnan(metrics.pearson([1.0], [2.0]))
    assert math.isnan(metrics.spearman([], []))


def test_errors_match_sklearn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    human, machine = scores
    expected_rmse = math.sqrt(sk_metrics.mean_squared_error(human, machine))
    assert metrics.rmse(human, machine) == pytest.approx(expected_rmse)
    assert metrics.mae(human, machine) == pytest.approx(
        sk_metrics.mean_absolute_error(human, machine)
    )


def test_qwk_matches_sklearn_on_the_rounded_grid(scores: tuple[np.ndarray, np.ndarray]) -> None:
    human, machine = scores
    step, points = 0.5, 5.0
    human_steps = metrics.to_steps(human, step, points)
    machine_steps = metrics.to_steps(machine, step, points)
    expected = sk_metrics.cohen_kappa_score(
        human_steps, machine_steps, weights="quadratic", labels=list(range(11))
    )
    assert metrics.quadratic_weighted_kappa(human, machine, step, points) == pytest.approx(expected)


def test_qwk_of_perfect_agreement_is_one_and_rounding_is_half_up() -> None:
    assert metrics.quadratic_weighted_kappa(
        [0, 1, 2, 3], [0.2, 1.4, 1.5, 3.1], 1.0, 3.0
    ) == pytest.approx(1.0)
    assert metrics.to_steps([0.25, 0.74, 0.75, 9.0], 0.5, 5.0).tolist() == [1, 1, 2, 10]


def test_agreement_on_the_grid() -> None:
    human = [0.0, 1.0, 2.0, 3.0]
    machine = [0.4, 2.0, 4.0, 3.0]
    assert metrics.exact_agreement(human, machine, 1.0, 5.0) == pytest.approx(0.5)
    assert metrics.adjacent_agreement(human, machine, 1.0, 5.0) == pytest.approx(0.75)


def test_confusion_matrix_matches_sklearn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    human, machine = scores
    human_steps = metrics.to_steps(human, 1.0, 5.0)
    machine_steps = metrics.to_steps(machine, 1.0, 5.0)
    expected = sk_metrics.confusion_matrix(human_steps, machine_steps, labels=list(range(6)))
    assert metrics.confusion_matrix(human_steps, machine_steps, 6).tolist() == expected.tolist()


def test_accuracy_and_macro_f1_match_sklearn() -> None:
    generator = np.random.default_rng(3)
    human = generator.integers(0, 2, size=150)
    machine = metrics.labels(np.clip(human * 0.6 + generator.random(150) * 0.7, 0, 1), 0.5)
    assert metrics.accuracy(human, machine) == pytest.approx(
        sk_metrics.accuracy_score(human, machine)
    )
    assert metrics.macro_f1(human, machine) == pytest.approx(
        sk_metrics.f1_score(human, machine, average="macro")
    )


def test_score_step_follows_the_human_grid() -> None:
    assert metrics.score_step([0, 1, 5, 3], 5) == pytest.approx(1.0)
    assert metrics.score_step([0, 1.5, 5, 3], 5) == pytest.approx(0.5)
    assert metrics.score_step([0, 1.25, 5], 5) == pytest.approx(0.25)
    assert metrics.score_step([0.0, 1.0], 1) == pytest.approx(1.0)
    assert metrics.score_step([0.0, 0.3333, 1.0], 1) == pytest.approx(0.1)


def test_is_binary() -> None:
    assert metrics.is_binary([0, 1, 1, 0], 1)
    assert not metrics.is_binary([0, 0.5, 1], 1)
    assert not metrics.is_binary([], 1)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        metrics.pearson([1.0, 2.0], [1.0])
