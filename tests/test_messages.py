"""Messages that once misled a new user: each now names the real problem and its fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import FloatArray


def conv_model() -> ln.Sequential:
    return ln.Sequential(
        [ln.Conv1d(1, 4, 3, rng=0), ln.ReLU(), ln.Flatten(), ln.Dense(4 * 8, 2, rng=1)]
    )


def test_a_conv_model_given_n_by_length_data_hints_the_channel_axis() -> None:
    model = conv_model()
    x = np.zeros((5, 10))
    with pytest.raises(ValueError, match=r"got \(5, 10\); the channel axis is missing") as err:
        model.predict(x)
    assert "x[:, None, :] for (n, length) data" in str(err.value)
    assert "np.newaxis" not in str(err.value)  # that would make it one sample
    assert model.predict(x[:, None, :]).shape == (5, 2)  # the hint works
    with pytest.raises(ValueError, match=r"^fit: x does not fit the model: .*x\[:, None, :\]"):
        model.fit(x, np.zeros((5, 2)), loss=ln.MSELoss(),
                  optimizer=ln.SGD(model.parameters(), lr=0.1), epochs=1, verbose=0)  # fmt: skip
    images = ln.Sequential([ln.Conv2d(1, 2, 3, rng=0)])
    with pytest.raises(ValueError, match=r"use x\[:, None\] to make it \(4, 1, 6, 6\)"):
        images.predict(np.zeros((4, 6, 6)))


def test_a_lone_sample_still_gets_the_batch_axis_hint() -> None:
    model = ln.Sequential([ln.Conv1d(3, 4, 3, rng=0)])
    with pytest.raises(ValueError, match=r"single sample must still carry the batch axis"):
        model.predict(np.zeros((3, 10)))  # one sample of 3 channels
    dense = ln.Sequential([ln.Dense(1, 2, rng=0)])
    with pytest.raises(ValueError, match=r"got \(5,\); a single sample") as err:
        dense.predict(np.zeros(5))
    assert "channel" not in str(err.value)


def test_a_size_mismatch_after_a_conv_layer_suggests_flatten() -> None:
    x = np.zeros((5, 1, 40))
    exact = ln.Sequential([ln.Conv1d(1, 4, 3), ln.ReLU(), ln.MaxPool1d(2), ln.Dense(76, 2)])
    with pytest.raises(
        ValueError,
        match=r"Dense\(76 -> 2\) at position 3: expected input of shape \(batch, \.\.\., 76\), "
        r"got \(5, 4, 19\); insert Flatten\(\) before it, which turns \(batch, 4, 19\) into "
        r"\(batch, 76\)$",
    ):
        exact.predict(x)
    other = ln.Sequential([ln.Conv1d(1, 4, 3), ln.ReLU(), ln.Dense(3, 2)])
    with pytest.raises(
        ValueError,
        match=r"got \(5, 4, 38\); if it should see all of each sample's features \(after a "
        r"convolution, say\), insert Flatten\(\) before it, which turns \(batch, 4, 38\) into "
        r"\(batch, 152\) and give it that many input features",
    ):
        other.predict(x)
    with pytest.raises(ValueError, match=r"fit: x does not fit the model: .*insert Flatten"):
        exact.fit(x, np.zeros((5, 2)), loss=ln.MSELoss(),
                  optimizer=ln.SGD(exact.parameters(), lr=0.1), epochs=1, verbose=0)  # fmt: skip
    with pytest.raises(ValueError, match=r"into \(batch, 24\)$"):  # found at construction
        ln.Sequential([FixedPlane(), ln.Dense(24, 1)])
    with pytest.raises(ValueError, match=r"make the sizes agree$"):
        ln.Sequential([ln.Dense(3, 4), ln.Dense(5, 1)])


class FixedPlane(ln.Layer):
    """Reshape (batch, 24) into (batch, 4, 6): a known output shape of rank 2."""

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        return x.reshape(-1, 4, 6)

    def backward(self, grad_out: FloatArray) -> FloatArray:
        return grad_out.reshape(-1, 24)

    def output_shape(self, input_shape: Any) -> tuple[int, ...]:
        return (4, 6)


def test_predict_on_streamed_pairs_says_predict_takes_arrays() -> None:
    model = ln.Sequential([ln.Dense(3, 2, rng=0)])
    x, y = np.zeros((4, 3)), np.zeros((4, 2))
    with pytest.raises(
        TypeError,
        match=r"predict: x must be an array of inputs, got a list of "
        r"\(x_batch, y_batch\) pairs; predict takes arrays",
    ):
        model.predict([(x, y), (x, y)])
    assert model.predict([(1.0, 2.0, 3.0)]).shape == (1, 2)  # a list of rows is still an array


class WrongShapeBackward(ln.Layer):
    """y = 2x, but backward forgets the batch axis."""

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        return 2.0 * x

    def backward(self, grad_out: FloatArray) -> FloatArray:
        result: FloatArray = 2.0 * grad_out.sum(axis=0)
        return result


class WrongShapeParameterGrad(ln.Layer):
    """y = x * w, but backward writes w's gradient per sample (unreduced)."""

    def __init__(self) -> None:
        self.w = ln.Parameter(np.ones(3), name="w")
        self._x: FloatArray | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._x = x
        return x * self.w.value

    def backward(self, grad_out: FloatArray) -> FloatArray:
        assert self._x is not None
        self.w.grad = grad_out * self._x  # wrong: (batch, 3), and rebinds .grad
        return grad_out * self.w.value


class HidesAParameter(ln.Layer):
    """y = x * w + b, but named_parameters forgets b."""

    def __init__(self) -> None:
        self.w = ln.Parameter(np.full(3, 0.5), name="w")
        self.b = ln.Parameter(np.zeros(3), name="b")
        self._x: FloatArray | None = None

    def forward(self, x: FloatArray, *, training: bool = False) -> FloatArray:
        self._x = x
        return x * self.w.value + self.b.value

    def backward(self, grad_out: FloatArray) -> FloatArray:
        assert self._x is not None
        self.w.grad[...] = (grad_out * self._x).sum(axis=0)
        self.b.grad[...] = grad_out.sum(axis=0)
        return grad_out * self.w.value

    def named_parameters(self, prefix: str = "") -> Any:
        yield prefix + "w", self.w


def test_gradcheck_names_a_gradient_of_the_wrong_shape() -> None:
    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(
        ValueError,
        match=r"gradcheck: WrongShapeBackward\(\)\.backward returned "
        r"dL/dx of shape \(3,\), but the input has shape "
        r"\(4, 3\)",
    ):
        ln.gradcheck(WrongShapeBackward(), x)
    with pytest.raises(
        ValueError,
        match=r"the gradient of 'w' has shape \(4, 3\), but the "
        r"parameter has shape \(3,\)",
    ):
        ln.gradcheck(WrongShapeParameterGrad(), x)


def test_gradcheck_refuses_a_parameter_the_layer_does_not_yield() -> None:
    x = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(
        ValueError,
        match=r"gradcheck: HidesAParameter\(\) holds the Parameter b "
        r"but its named_parameters\(\) does not yield it",
    ):
        ln.gradcheck(HidesAParameter(), x)
    nested = ln.Sequential([ln.Dense(3, 3, rng=0), HidesAParameter()])
    with pytest.raises(ValueError, match=r"holds the Parameter 1\.b but"):
        ln.gradcheck(nested, x)
    assert ln.gradcheck(ln.Dense(3, 2, bias=False, rng=0), x).passed  # switched off on purpose


def test_load_state_dict_refuses_a_lossy_cast_and_takes_an_exact_one() -> None:
    small = ln.Sequential([ln.Dense(2, 1, rng=0, dtype=np.float32)])
    state = {k: v.astype(np.float64) for k, v in small.state_dict().items()}
    state["0.bias"][...] = 1e-50  # float32 would make it 0.0
    before = small.state_dict()
    with pytest.raises(
        ValueError,
        match=r"state dict entry '0.weight' is float64 but the model "
        r"is float32; loading would round every value.*"
        r"model.astype\(np.float64\)",
    ):
        small.load_state_dict(state)
    for key, value in small.state_dict().items():
        np.testing.assert_array_equal(value, before[key])  # nothing copied
    wide = ln.Sequential([ln.Dense(2, 1, rng=1)])
    wide.load_state_dict(small.state_dict())  # float32 into float64 is exact
    np.testing.assert_array_equal(
        wide.state_dict()["0.weight"], small.state_dict()["0.weight"].astype(np.float64)
    )
