"""Metrics: values against hand computations and scikit-learn's definitions, batch-accumulable."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import Accuracy, MeanAbsoluteError, MeanSquaredError, Metric, R2Score
from layernet.metrics import get_metric, get_metrics


def batched(metric: Metric, pred: np.ndarray, target: np.ndarray, size: int) -> float:
    stats = None
    for start in range(0, len(pred), size):
        batch = metric.statistics(pred[start : start + size], target[start : start + size])
        stats = batch if stats is None else metric.merge(stats, batch)
    assert stats is not None
    return metric.result(stats)


def test_binary_accuracy_thresholds_probabilities_and_logits() -> None:
    prob = np.array([[0.9], [0.2], [0.6], [0.4]])
    target = np.array([[1.0], [0.0], [0.0], [0.0]])
    assert Accuracy().compute(prob, target) == 0.75
    assert Accuracy().compute(prob, target.ravel()) == 0.75
    logits = np.array([[2.0], [-1.0], [0.5], [-0.2]])
    assert Accuracy(threshold=0.0).compute(logits, target) == 0.75


def test_multiclass_accuracy_from_labels_and_one_hot() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.1, 0.2, 0.3], [5.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, 2])
    assert Accuracy().compute(logits, labels) == 0.5
    one_hot = np.eye(3)[labels]
    assert Accuracy().compute(logits, one_hot) == 0.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert Accuracy().compute(probs, labels.astype(np.float64)) == 0.5


def test_accuracy_rejects_targets_it_cannot_score() -> None:
    with pytest.raises(ValueError, match=r"integer labels of shape \(4,\) or one-hot"):
        Accuracy().compute(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\), got values from 0"):
        Accuracy().compute(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="scored as binary"):
        Accuracy().compute(np.zeros((4, 1)), np.zeros((4, 2)))


def test_regression_metrics_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 3))
    pred = target + rng.normal(scale=0.3, size=(50, 3))
    np.testing.assert_allclose(
        MeanSquaredError().compute(pred, target), np.mean((pred - target) ** 2)
    )
    np.testing.assert_allclose(
        MeanAbsoluteError().compute(pred, target), np.mean(abs(pred - target))
    )
    ss_res = ((target - pred) ** 2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    np.testing.assert_allclose(R2Score().compute(pred, target), np.mean(1 - ss_res / ss_tot))


def test_r2_of_a_constant_target_follows_scikit_learn() -> None:
    target = np.full((4, 1), 2.0)
    assert R2Score().compute(target.copy(), target) == 1.0
    assert R2Score().compute(target + 1.0, target) == 0.0


@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_batched_values_equal_the_full_set(size: int) -> None:
    rng = np.random.default_rng(1)
    target = rng.normal(loc=1e4, size=(50, 2))  # a large mean tests R2's merge
    pred = target + rng.normal(scale=0.5, size=(50, 2))
    labels = rng.integers(0, 4, size=50)
    logits = rng.normal(size=(50, 4))
    for metric in (MeanSquaredError(), MeanAbsoluteError(), R2Score()):
        np.testing.assert_allclose(
            batched(metric, pred, target, size), metric.compute(pred, target), rtol=1e-9
        )
    assert batched(Accuracy(), logits, labels, size) == Accuracy().compute(logits, labels)


def test_metrics_by_name_and_instance() -> None:
    assert isinstance(get_metric("accuracy"), Accuracy)
    assert isinstance(get_metric("ACC"), Accuracy)
    assert [m.name for m in get_metrics(["mse", "mae", "r2"])] == ["mse", "mae", "r2"]
    mine = Accuracy(threshold=0.0)
    assert get_metric(mine) is mine
    with pytest.raises(ValueError, match=r"unknown metric 'f2'; choose one of \['acc'"):
        get_metric("f2")
    with pytest.raises(TypeError, match=r"write metrics=\['mse'\]"):
        get_metrics("mse")
    with pytest.raises(ValueError, match=r"must be unique.*\['mse'\]"):
        get_metrics(["mse", MeanSquaredError()])
    with pytest.raises(TypeError, match="must be a Metric or a name"):
        get_metric(3)  # type: ignore[arg-type]
