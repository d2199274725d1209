"""The seed notebook, number for number (Victor Zhou's "An Introduction to Neural Networks")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layernet import SGD, Dense, MSELoss, Sequential, Sigmoid
from layernet.__main__ import build_gender_model, train_per_sample
from layernet.datasets import load_gender, load_gender_test


def constant_dense(n_in: int, n_out: int, weights: tuple[float, ...], bias: float) -> Dense:
    """A Dense layer whose every neuron has the given input weights and bias."""
    layer = Dense(n_in, n_out)
    layer.weight.value[...] = np.array(weights)[:, None]
    layer.bias.value[...] = bias
    return layer


def test_one_neuron() -> None:
    neuron = Sequential([constant_dense(2, 1, (0.0, 1.0), 4.0), Sigmoid()])
    out = neuron(np.array([[2, 3]]))
    np.testing.assert_allclose(out, [[0.9990889488055994]], rtol=0, atol=1e-15)


def test_two_two_one_network() -> None:
    network = Sequential(
        [
            constant_dense(2, 2, (0.0, 1.0), 0.0),
            Sigmoid(),
            constant_dense(2, 1, (0.0, 1.0), 0.0),
            Sigmoid(),
        ]
    )
    np.testing.assert_allclose(network([[2, 3]]), [[0.7216325609518421]], rtol=0, atol=1e-15)


def test_mse_of_the_blog() -> None:
    assert MSELoss()([[0.0], [0.0], [0.0], [0.0]], [[1], [0], [0], [1]]) == 0.5
    assert MSELoss()(np.zeros(4), np.array([1, 0, 0, 1])) == 0.5


def test_worked_backprop_for_alice() -> None:
    hidden = constant_dense(2, 2, (1.0, 1.0), 0.0)
    output = constant_dense(2, 1, (1.0, 1.0), 0.0)
    h_act = Sigmoid()
    model = Sequential([hidden, h_act, output, Sigmoid()])
    loss = MSELoss()
    o1 = model([[-2, -1]])
    h = h_act.forward(hidden.forward(np.array([[-2.0, -1.0]])))
    np.testing.assert_allclose(h, [[0.0474, 0.0474]], atol=5e-5)
    np.testing.assert_allclose(o1, [[0.524]], atol=5e-4)

    loss.forward(model.forward(np.array([[-2.0, -1.0]])), np.array([[1.0]]))
    model.backward(loss.backward())
    # dL/dw1 = dL/dypred * dypred/dh1 * dh1/dw1 = (-0.952) * 0.248 * (-0.0895)
    np.testing.assert_allclose(hidden.weight.grad[0, 0], 0.0214695, atol=1e-6)


def test_gender_model_learns() -> None:
    train, test = load_gender(), load_gender_test()
    model = build_gender_model(0)
    train_per_sample(model, train.x, train.y, epochs=1000, lr=0.1)
    emily, frank = model.predict(test.x)[:, 0]
    assert emily > 0.9
    assert frank < 0.1


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _deriv_sigmoid(z: float) -> float:
    fz = _sigmoid(z)
    return fz * (1.0 - fz)


class ScalarNetwork:
    """The blog's training code with plain Python floats and hand-written derivatives."""

    def __init__(self, w: list[float], b: list[float]) -> None:
        self.w1, self.w2, self.w3, self.w4, self.w5, self.w6 = w
        self.b1, self.b2, self.b3 = b

    def feedforward(self, x: tuple[float, float]) -> float:
        h1 = _sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = _sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        return _sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)

    def train(self, data: list[tuple[float, float]], y_trues: list[float], epochs: int) -> None:
        learn_rate = 0.1
        for _ in range(epochs):
            for x, y_true in zip(data, y_trues, strict=True):
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = _sigmoid(sum_h1)
                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = _sigmoid(sum_h2)
                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                y_pred = _sigmoid(sum_o1)

                d_l_d_ypred = -2 * (y_true - y_pred)
                d_ypred_d_w5 = h1 * _deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * _deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = _deriv_sigmoid(sum_o1)
                d_ypred_d_h1 = self.w5 * _deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * _deriv_sigmoid(sum_o1)
                d_h1_d_w1 = x[0] * _deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * _deriv_sigmoid(sum_h1)
                d_h1_d_b1 = _deriv_sigmoid(sum_h1)
                d_h2_d_w3 = x[0] * _deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * _deriv_sigmoid(sum_h2)
                d_h2_d_b2 = _deriv_sigmoid(sum_h2)

                self.w1 -= learn_rate * d_l_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_l_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_l_d_ypred * d_ypred_d_h1 * d_h1_d_b1
                self.w3 -= learn_rate * d_l_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_l_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_l_d_ypred * d_ypred_d_h2 * d_h2_d_b2
                self.w5 -= learn_rate * d_l_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_l_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_l_d_ypred * d_ypred_d_b3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layernet_matches_scalar_blog_code(seed: int) -> None:
    model = build_gender_model(seed)
    hidden, output = model[0], model[2]
    assert isinstance(hidden, Dense)
    assert isinstance(output, Dense)
    w, v = hidden.weight.value, output.weight.value
    b_h, b_o = hidden.bias.value, output.bias.value
    # The blog's names: h1 = f(w1 x1 + w2 x2 + b1), h2 = f(w3 x1 + w4 x2 + b2),
    # o1 = f(w5 h1 + w6 h2 + b3).
    scalar = ScalarNetwork(
        [w[0, 0], w[1, 0], w[0, 1], w[1, 1], v[0, 0], v[1, 0]],
        [b_h[0], b_h[1], b_o[0]],
    )
    train, test = load_gender(), load_gender_test()
    data = [(float(a), float(b)) for a, b in train.x]
    scalar.train(data, [float(t) for t in train.y[:, 0]], epochs=1000)
    train_per_sample(model, train.x, train.y, epochs=1000, lr=0.1)

    expected = [scalar.feedforward((float(a), float(b))) for a, b in test.x]
    np.testing.assert_allclose(model.predict(test.x)[:, 0], expected, rtol=0, atol=1e-9)


def test_per_sample_sgd_by_hand_equals_train_per_sample() -> None:
    train = load_gender()
    a, b = build_gender_model(5), build_gender_model(5)
    train_per_sample(a, train.x, train.y, epochs=3, lr=0.1)
    loss, opt = MSELoss(), SGD(b.parameters(), lr=0.1)
    for _ in range(3):
        for i in range(4):
            loss.forward(b.forward(train.x[i : i + 1]), train.y[i : i + 1])
            b.backward(loss.backward())
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.value, pb.value)
