"""Losses: values against formulas written out here, domains, extremes and dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from layernet import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    Loss,
    MSELoss,
)

RNG = np.random.default_rng(42)
PRED = RNG.normal(size=(4, 3))
TARGET = RNG.normal(size=(4, 3))


def log_softmax(z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    z = z - z.max(axis=1, keepdims=True)
    out: np.ndarray[Any, Any] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def test_l1_is_the_mean_absolute_error() -> None:
    loss = L1Loss()
    assert loss(PRED, TARGET) == pytest.approx(np.abs(PRED - TARGET).mean(), rel=1e-14)
    np.testing.assert_allclose(loss.backward(), np.sign(PRED - TARGET) / PRED.size)


def test_huber_by_regime() -> None:
    d = np.array([[-3.0, -0.5, 0.0, 0.2, 1.5]])
    loss = HuberLoss(delta=1.0)
    expected = np.array([3.0 - 0.5, 0.125, 0.0, 0.02, 1.5 - 0.5]).mean()
    assert loss(d, np.zeros_like(d)) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[-1.0, -0.5, 0.0, 0.2, 1.0]] / np.float64(5))
    wide = HuberLoss(delta=10.0)
    assert wide(PRED, TARGET) == pytest.approx(0.5 * ((PRED - TARGET) ** 2).mean(), rel=1e-14)


def test_bce_on_probabilities() -> None:
    p = np.array([[0.1, 0.8], [0.5, 0.3]])
    t = np.array([[0.0, 1.0], [1.0, 0.25]])
    loss = BCELoss()
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert loss(p, t) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (p - t) / (p * (1 - p)) / 4, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_clips_saturated_probabilities_with_the_dtype_eps(dtype: Any) -> None:
    eps = float(np.finfo(dtype).eps)
    loss = BCELoss()
    value = loss(np.array([[0.0, 1.0]], dtype), np.array([[1.0, 0.0]], dtype))
    assert value == pytest.approx(-np.log(eps), rel=1e-5)
    grad = loss.backward()
    assert grad.dtype == dtype
    assert np.isfinite(grad).all()


def test_bce_with_logits_matches_bce_on_the_sigmoid() -> None:
    x = np.array([[-2.0, 0.3], [1.7, -0.1]])
    t = np.array([[0.0, 1.0], [1.0, 0.4]])
    p = 1 / (1 + np.exp(-x))
    logits = BCEWithLogitsLoss()
    assert logits(x, t) == pytest.approx(BCELoss()(p, t), rel=1e-12)
    np.testing.assert_allclose(logits.backward(), (p - t) / 4, rtol=1e-13)


def test_cross_entropy_with_labels_and_probability_rows() -> None:
    z = RNG.normal(size=(5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    lp = log_softmax(z)
    loss = CrossEntropyLoss()
    assert loss(z, labels) == pytest.approx(-lp[np.arange(5), labels].mean(), rel=1e-14)
    one_hot = np.eye(4)[labels]
    np.testing.assert_allclose(loss.backward(), (np.exp(lp) - one_hot) / 5, atol=1e-16)
    assert loss(z, one_hot) == pytest.approx(-lp[np.arange(5), labels].mean(), rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (np.exp(lp) - one_hot) / 5, atol=1e-16)
    assert loss(z, labels.astype(float).reshape(5, 1)) == pytest.approx(
        -lp[np.arange(5), labels].mean(), rel=1e-14
    )


def test_cross_entropy_label_smoothing_like_torch() -> None:
    z = RNG.normal(size=(3, 4))
    labels = np.array([2, 0, 3])
    e = 0.2
    lp = log_softmax(z)
    q = (1 - e) * np.eye(4)[labels] + e / 4
    expected = -(q * lp).sum(axis=1).mean()
    loss = CrossEntropyLoss(label_smoothing=e)
    assert loss(z, labels) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (np.exp(lp) - q) / 3, atol=1e-16)
    rows = np.eye(4)[labels]
    assert loss(z, rows) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), (np.exp(lp) - q) / 3, atol=1e-16)


EXTREME_CASES = [
    # (loss, logits, target, expected value): each wrong-side logit costs ~its magnitude
    (
        BCEWithLogitsLoss,
        np.array([[-1000.0, 1000.0], [1000.0, -1000.0]]),
        np.array([[1, 0], [1, 0]]),
        500.0,
    ),
    (CrossEntropyLoss, np.array([[-1000.0, 1000.0], [1000.0, 0.0]]), np.array([0, 0]), 1000.0),
    (CrossEntropyLoss, np.array([[-1000.0, 1000.0], [1000.0, 0.0]]), np.eye(2), 1500.0),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("make", "pred", "target", "expected"), EXTREME_CASES)
def test_finite_at_magnitude_1000(
    make: type[Loss],
    pred: np.ndarray[Any, Any],
    target: np.ndarray[Any, Any],
    expected: float,
    dtype: Any,
) -> None:
    loss = make()
    value = loss(pred.astype(dtype), target)
    grad = loss.backward()
    assert value == pytest.approx(expected, rel=1e-6)
    assert grad.dtype == dtype
    assert np.isfinite(grad).all()


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (MSELoss(), np.zeros((3, 2))),
        (L1Loss(), np.zeros((3, 2))),
        (HuberLoss(), np.zeros((3, 2))),
        (BCELoss(), np.full((3, 2), 0.5)),
        (BCEWithLogitsLoss(), np.ones((3, 2))),
        (CrossEntropyLoss(), np.array([0, 1, 1])),
        (CrossEntropyLoss(0.1), np.full((3, 2), 0.5)),
    ],
    ids=repr,
)
def test_float32_prediction_gives_float32_gradient(loss: Loss, target: Any) -> None:
    pred = np.linspace(0.1, 0.9, 6, dtype=np.float32).reshape(3, 2)
    value = loss(pred, target)
    assert isinstance(value, float)
    assert loss.backward().dtype == np.float32
    rebuilt = type(loss)(**loss.get_config())
    assert repr(rebuilt) == repr(loss)
    assert rebuilt(pred, target) == value


def test_bce_rejects_values_outside_0_1() -> None:
    with pytest.raises(
        ValueError, match=r"BCELoss\(\): pred must lie in \[0, 1\], got 1.5; .*BCEWithLogitsLoss"
    ):
        BCELoss()(np.array([[0.5, 1.5]]), np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"BCELoss\(\): target must lie in \[0, 1\], got -1.0"):
        BCELoss()(np.array([[0.5, 0.5]]), np.array([[-1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"pred must lie in \[0, 1\], got nan"):
        BCELoss()(np.array([[np.nan]]), np.array([[1.0]]))
    with pytest.raises(
        ValueError, match=r"BCEWithLogitsLoss\(\): target must lie in \[0, 1\], got 2"
    ):
        BCEWithLogitsLoss()(np.array([[5.0]]), np.array([[2.0]]))


def test_cross_entropy_rejects_bad_labels_naming_the_value() -> None:
    z = np.zeros((3, 4))
    with pytest.raises(
        ValueError, match=r"class label 4 is out of range; .*\[0, 4\) for 4 classes"
    ):
        CrossEntropyLoss()(z, [0, 4, 1])
    with pytest.raises(ValueError, match=r"class label -1 is out of range"):
        CrossEntropyLoss()(z, [0, -1, 1])
    with pytest.raises(ValueError, match=r"class labels must be integers, got 1.5"):
        CrossEntropyLoss()(z, [0, 1.5, 1])
    with pytest.raises(ValueError, match=r"target must be class labels of shape \(3,\) or"):
        CrossEntropyLoss()(z, [0, 1])
    with pytest.raises(
        ValueError, match=r"expected logits of shape \(batch, classes\), got \(4,\)"
    ):
        CrossEntropyLoss()(np.zeros(4), [0])
    with pytest.raises(ValueError, match=r"target must lie in \[0, 1\], got 1.5"):
        CrossEntropyLoss()(np.zeros((1, 2)), [[1.5, -0.5]])


def test_bad_loss_hyperparameters_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"HuberLoss: delta must be positive, got 0"):
        HuberLoss(delta=0)


@pytest.mark.parametrize(
    "loss", [L1Loss(), HuberLoss(), BCELoss(), BCEWithLogitsLoss(), CrossEntropyLoss()], ids=repr
)
def test_backward_before_forward_is_a_runtime_error(loss: Loss) -> None:
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        loss.backward()


# -- class weights, pos_weight and per-sample weights ------------------------------------


def test_cross_entropy_weight_divides_by_the_targets_total_weight() -> None:
    z = RNG.normal(size=(5, 3))
    labels = np.array([0, 2, 2, 1, 0])
    w = np.array([1.0, 4.0, 0.5])
    nll = -log_softmax(z)[np.arange(5), labels]
    expected = float((w[labels] * nll).sum() / w[labels].sum())
    assert CrossEntropyLoss(weight=w)(z, labels) == pytest.approx(expected, rel=1e-14)
    # probability rows: the weighted terms over the batch size
    q = np.eye(3)[labels]
    expected_rows = float((q * w * -log_softmax(z)).sum() / 5)
    assert CrossEntropyLoss(weight=w)(z, q) == pytest.approx(expected_rows, rel=1e-14)


def test_cross_entropy_batch_without_weight_is_zero_not_nan() -> None:
    loss = CrossEntropyLoss(weight=[0.0, 1.0])
    assert loss(RNG.normal(size=(3, 2)), [0, 0, 0]) == 0.0
    np.testing.assert_array_equal(loss.backward(), np.zeros((3, 2)))


def test_bce_with_logits_pos_weight_scales_the_positive_terms() -> None:
    x = RNG.normal(size=(4, 2))
    t = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.3, 0.8]])
    pw = np.array([2.0, 0.25])
    p = 1 / (1 + np.exp(-x))
    expected = float(np.mean(-(pw * t * np.log(p) + (1 - t) * np.log(1 - p))))
    assert BCEWithLogitsLoss(pos_weight=pw)(x, t) == pytest.approx(expected, rel=1e-13)
    assert BCEWithLogitsLoss(pos_weight=1.0)(x, t) == pytest.approx(BCEWithLogitsLoss()(x, t))


def test_bad_class_weights_are_named() -> None:
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: weight must hold finite values >= 0"):
        CrossEntropyLoss(weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss: pos_weight must be a 1-D array"):
        BCEWithLogitsLoss(pos_weight=np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"CrossEntropyLoss: weight: expected an array of real"):
        CrossEntropyLoss(weight=["a", "b"])
    with pytest.raises(ValueError, match=r"weight holds 2 class weights but the logits of shape"):
        CrossEntropyLoss(weight=[1.0, 2.0])(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match=r"pos_weight holds 3 weights but the prediction"):
        BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0])(np.zeros((2, 2)), np.ones((2, 2)))


ALL_LOSSES: list[tuple[Loss, Any, Any]] = [
    (MSELoss(), PRED, TARGET),
    (L1Loss(), PRED, TARGET),
    (HuberLoss(0.5), 2 * PRED, TARGET),
    (BCELoss(), np.clip(np.abs(PRED) / 3, 0.01, 0.99), np.ones_like(PRED)),
    (BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0]), PRED, np.zeros_like(PRED)),
    (CrossEntropyLoss(0.1, weight=[1.0, 2.0, 0.5]), PRED, [0, 1, 2, 2]),
    (CrossEntropyLoss(0.1), PRED, [0, 1, 2, 2]),
]


@pytest.mark.parametrize(("loss", "pred", "target"), ALL_LOSSES, ids=lambda v: repr(v)[:40])
def test_unit_sample_weights_give_the_plain_loss(loss: Loss, pred: Any, target: Any) -> None:
    value = loss(pred, target)
    grad = loss.backward()
    assert loss.sample_losses().sum() == pytest.approx(value, rel=1e-13)
    ones = np.ones(len(pred))
    assert loss.weighted_forward(pred, loss.check_target(pred, target), ones) == pytest.approx(
        value, rel=1e-13
    )
    np.testing.assert_allclose(loss.weighted_backward(ones), grad, rtol=1e-15)


def test_a_loss_without_sample_losses_says_it_cannot_weight_samples() -> None:
    class Plain(Loss):
        def forward(self, pred: Any, target: Any) -> float:
            return 0.0

        def backward(self) -> Any:
            return np.zeros(1)

    with pytest.raises(NotImplementedError, match=r"Plain\(\) does not split its value by rows"):
        Plain().weighted_forward(np.zeros((2, 1)), np.zeros((2, 1)), np.ones(2))
