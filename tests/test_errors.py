"""Bad input gets a clear error that names the layer or argument, never a numpy traceback."""

from __future__ import annotations

import numpy as np
import pytest

from layernet import SGD, Dense, MSELoss, Parameter, Sequential, Sigmoid


def test_dense_rejects_non_positive_sizes() -> None:
    with pytest.raises(
        ValueError, match=r"Dense\(0 -> 3\): in_features must be a positive integer, got 0"
    ):
        Dense(0, 3)
    with pytest.raises(ValueError, match=r"out_features must be a positive integer, got -2"):
        Dense(3, -2)


def test_dense_rejects_non_integer_sizes() -> None:
    with pytest.raises(TypeError, match=r"in_features must be a positive integer, got float 2.5"):
        Dense(2.5, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"out_features must be a positive integer, got bool"):
        Dense(2, True)


def test_dense_rejects_unsupported_dtype_and_rng() -> None:
    with pytest.raises(TypeError, match=r"dtype must be np.float64 or np.float32, got int64"):
        Dense(2, 2, dtype=np.int64)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"rng must be a numpy.random.Generator, an int seed or None, got str"
    ):
        Dense(2, 2, rng="seed")  # type: ignore[arg-type]


def test_sequential_names_both_positions_on_a_size_mismatch() -> None:
    with pytest.raises(
        ValueError,
        match=r"Dense\(4 -> 1\) at position 1 expects input of shape \(batch, \.\.\., 4\), "
        r"but Dense\(2 -> 3\) at position 0 produces \(batch, 3\)",
    ):
        Sequential([Dense(2, 3), Dense(4, 1)])


def test_sequential_looks_through_activations() -> None:
    with pytest.raises(ValueError, match=r"position 2 .* Dense\(2 -> 3\) at position 0 produces"):
        Sequential([Dense(2, 3), Sigmoid(), Dense(4, 1)])


def test_sequential_rejects_a_non_layer() -> None:
    with pytest.raises(TypeError, match=r"item at position 1 must be a Layer, got ufunc"):
        Sequential([Dense(2, 3), np.tanh])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"wrap it in \[ \]"):
        Sequential(Dense(2, 3))  # type: ignore[arg-type]


def test_sequential_add_checks_like_the_constructor() -> None:
    model = Sequential([Dense(2, 3)])
    with pytest.raises(ValueError, match=r"Dense\(5 -> 1\) at position 1"):
        model.add(Dense(5, 1))
    assert len(model) == 1


def test_sequential_rejects_mixed_dtypes() -> None:
    with pytest.raises(
        ValueError, match=r"position 1 is float32 but Dense\(2 -> 3\) at position 0 is float64"
    ):
        Sequential([Dense(2, 3), Dense(3, 1, dtype=np.float32)])


def test_wrong_feature_count_names_layer_position_and_shapes() -> None:
    model = Sequential([Dense(2, 3), Sigmoid(), Dense(3, 1)])
    with pytest.raises(
        ValueError,
        match=r"Dense\(2 -> 3\) at position 0: expected input of shape \(batch, \.\.\., 2\), "
        r"got \(5, 7\)",
    ):
        model(np.ones((5, 7)))
    with pytest.raises(
        ValueError,
        match=r"Dense\(3 -> 4\): expected input of shape \(batch, \.\.\., 3\), got \(5, 7\)",
    ):
        Dense(3, 4)(np.ones((5, 7)))


def test_one_dimensional_input_says_how_to_reshape() -> None:
    model = Sequential([Dense(2, 1), Sigmoid()])
    with pytest.raises(ValueError, match=r"got \(2,\); .*reshape it with x.reshape\(1, -1\)"):
        model(np.array([2, 3]))
    with pytest.raises(ValueError, match=r"got a scalar"):
        Dense(1, 1)(3.0)


def test_non_numeric_input_is_rejected_with_the_layer_named() -> None:
    model = Sequential([Dense(2, 1)])
    with pytest.raises(
        TypeError,
        match=r"Sequential\(1 layers\) input: expected an array of real numbers, got strings",
    ):
        model([["a", "b"]])
    with pytest.raises(TypeError, match=r"got complex numbers"):
        model(np.ones((1, 2), dtype=complex))
    with pytest.raises(TypeError, match=r"got None"):
        Dense(2, 1)(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"could not convert the input"):
        model([[1.0, 2.0], [3.0]])
    with pytest.raises(
        TypeError, match=r"Sigmoid\(\) input: expected an array of real numbers, got Python objects"
    ):
        Sigmoid()(np.array([[object()]]))


def test_backward_before_forward_is_a_runtime_error() -> None:
    with pytest.raises(
        RuntimeError, match=r"Dense\(2 -> 1\): backward\(\) called before forward\(\)"
    ):
        Dense(2, 1).backward(np.ones((1, 1)))
    with pytest.raises(RuntimeError, match=r"Sigmoid\(\): backward\(\) called before forward\(\)"):
        Sigmoid().backward(np.ones((1, 1)))
    with pytest.raises(RuntimeError, match=r"MSELoss\(\): backward\(\) called before forward\(\)"):
        MSELoss().backward()


def test_sgd_rejects_bad_hyperparameters() -> None:
    params = list(Dense(2, 1).parameters())
    with pytest.raises(ValueError, match=r"SGD: lr must be positive, got -1"):
        SGD(params, lr=-1)
    with pytest.raises(ValueError, match=r"lr must be positive, got 0"):
        SGD(params, lr=0)
    with pytest.raises(ValueError, match=r"momentum must be >= 0, got -0.5"):
        SGD(params, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match=r"nesterov=True needs momentum > 0"):
        SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match=r"lr must be a real number, got str"):
        SGD(params, lr="0.1")  # type: ignore[arg-type]
    opt = SGD(params, lr=0.1)
    with pytest.raises(
        ValueError, match=r"lr must be positive, got nan|lr must be finite, got nan"
    ):
        opt.lr = float("nan")
    assert opt.lr == 0.1


def test_sgd_rejects_empty_and_wrong_params() -> None:
    with pytest.raises(ValueError, match=r"SGD: got an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a Parameter, got ndarray"):
        SGD([np.zeros(2)], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"got a single Parameter; wrap it in a list"):
        SGD(Parameter(np.zeros(2)), lr=0.1)  # type: ignore[arg-type]


def test_loss_rejects_mismatched_shapes() -> None:
    with pytest.raises(
        ValueError,
        match=r"MSELoss\(\): prediction and target shapes differ: pred \(4, 1\), target \(3, 1\)",
    ):
        MSELoss()(np.zeros((4, 1)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"shapes differ: pred \(4, 2\), target \(1,\)"):
        MSELoss().forward(np.zeros((4, 2)), np.zeros(1))
    with pytest.raises(ValueError, match=r"empty batch"):
        MSELoss()(np.zeros((0, 1)), np.zeros((0, 1)))
    with pytest.raises(
        TypeError, match=r"MSELoss\(\): target: expected an array of real numbers, got strings"
    ):
        MSELoss()(np.zeros((1, 1)), [["x"]])


def test_parameter_rejects_mismatched_grad() -> None:
    with pytest.raises(ValueError, match=r"grad must match value's shape and dtype"):
        Parameter(np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match=r"value must be a float32 or float64 ndarray, got list"):
        Parameter([1.0, 2.0])  # type: ignore[arg-type]


def test_predict_rejects_bad_batch_size() -> None:
    model = Sequential([Dense(2, 1)])
    with pytest.raises(ValueError, match=r"predict: batch_size must be a positive integer, got 0"):
        model.predict(np.ones((3, 2)), batch_size=0)
    with pytest.raises(ValueError, match=r"the model has no layers"):
        Sequential().predict(np.ones((3, 2)))
