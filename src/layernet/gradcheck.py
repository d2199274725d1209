"""Gradient checking: compare analytic gradients with finite differences.

For a layer, the scalar checked is ``L = sum(r * layer(x))`` with a fixed
random ``r``, so ``dL/d(output) = r`` exercises every output; the input
gradient and each parameter's gradient are compared, flattened, with
``scipy.optimize.check_grad``. For a loss, ``L = loss.forward(pred, target)``
and the gradient with respect to ``pred`` is compared. Everything runs in
float64.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import check_grad

from ._typing import ArrayLike, FloatArray
from ._validation import RngLike, as_float_array, as_generator, check_finite
from .layers.base import Layer, check_values
from .losses import Loss
from .parameter import Parameter

_FLOAT64 = np.dtype(np.float64)


@dataclass(frozen=True)
class GradcheckResult:
    """Relative errors of each checked gradient.

    Attributes
    ----------
    errors : dict of str to float
        ``"input"`` (or ``"pred"`` for a loss) and each parameter's dotted
        name, mapped to ``||analytic - numeric|| / ||analytic||`` (the
        absolute error where the analytic gradient's norm is below 1e-7).
    tolerance : float
        The largest error that passes.
    """

    errors: dict[str, float]
    tolerance: float

    @property
    def max_error(self) -> float:
        """The largest relative error over all checked gradients."""
        return max(self.errors.values())

    @property
    def passed(self) -> bool:
        """Whether every error is within :attr:`tolerance`."""
        return all(err <= self.tolerance for err in self.errors.values())

    def __str__(self) -> str:
        status = "passed" if self.passed else "FAILED"
        details = ", ".join(f"{name}: {err:.2e}" for name, err in self.errors.items())
        return f"gradcheck {status} (tolerance {self.tolerance:.0e}): {details}"


def gradcheck(
    obj: Layer | Loss,
    x: ArrayLike,
    target: ArrayLike | None = None,
    *,
    training: bool = False,
    rng: RngLike = 0,
    epsilon: float = 1.4901161193847656e-08,
    tolerance: float = 1e-5,
) -> GradcheckResult:
    """Check a layer's or a loss's analytic gradients against finite differences.

    Parameters
    ----------
    obj : Layer or Loss
        A layer built with ``dtype=np.float64`` (or parameter-free), or a loss.
    x : array-like
        The layer's input batch, or the loss's prediction. For a layer that
        takes integer ids (:meth:`Layer.takes_integers`, an Embedding) only
        the parameters' gradients are checked: ids have none.
    target : array-like, optional
        The loss's target; required for a loss, not accepted for a layer.
    training : bool
        Passed to the layer's forward (BatchNorm's batch statistics, say).
    rng : Generator, int or None
        Draws the fixed projection ``r``.
    epsilon : float
        Finite-difference step for ``scipy.optimize.check_grad``.
    tolerance : float
        Largest relative error that counts as passing.

    Returns
    -------
    GradcheckResult
        Per-gradient relative errors; ``result.passed`` says whether all are
        within ``tolerance``. Parameter values are restored afterwards.
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise TypeError(f"gradcheck: epsilon must be a real number, got {type(epsilon).__name__}")
    if not epsilon > 0:
        raise ValueError(f"gradcheck: epsilon must be positive, got {epsilon}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
        raise TypeError(
            f"gradcheck: tolerance must be a real number, got {type(tolerance).__name__}"
        )
    if not tolerance > 0:
        raise ValueError(f"gradcheck: tolerance must be positive, got {tolerance}")
    if isinstance(obj, Loss):
        if target is None:
            raise TypeError(f"gradcheck: {obj!r} is a loss; pass its target as the third argument")
        pred = as_float_array(x, _FLOAT64, f"gradcheck: {obj!r} pred")
        check_finite(pred, f"gradcheck: {obj!r} pred")
        checked_target = obj.check_target(pred, target)
        return _check_loss(obj, pred, checked_target, epsilon, tolerance)
    if not isinstance(obj, Layer):
        raise TypeError(f"gradcheck: expected a Layer or a Loss, got {type(obj).__name__}")
    if target is not None:
        raise TypeError(f"gradcheck: {obj!r} is a layer; it takes no target")
    if obj.dtype != _FLOAT64:
        raise TypeError(
            f"gradcheck: {obj!r} is {obj.dtype}; gradients are checked in float64, "
            "build the layer with dtype=np.float64"
        )
    ids = obj.takes_integers()  # integer ids (Embedding) have no gradient: parameters only
    arr = obj.convert_input(x) if ids else as_float_array(x, _FLOAT64, f"gradcheck: {obj!r}")
    obj.check_input(arr.shape)
    check_values(obj, arr, None)
    _check_yielded(obj)
    return _check_layer(obj, arr, training, as_generator(rng), epsilon, tolerance, not ids)


def _check_yielded(layer: Layer) -> None:
    """Refuse a layer holding a Parameter that ``named_parameters`` does not yield.

    Such a parameter gets no gradient check and no optimizer ever updates it
    (optimizers are built on ``model.parameters()``), so the layer would pass
    and then never train it. A Parameter switched off by ``use_<name> = False``
    (``Dense(..., bias=False)``) is meant to be left out.
    """
    yielded = {id(p) for _, p in layer.named_parameters()}
    for path, module in layer.named_modules():
        for name, value in vars(module).items():
            held = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(held):
                if not isinstance(item, Parameter) or id(item) in yielded:
                    continue
                if item is value and not getattr(module, "use_" + name, True):
                    continue
                where = f"{path}." if path else ""
                attribute = name if item is value else f"{name}[{i}]"
                raise ValueError(
                    f"gradcheck: {module!r} holds the Parameter {where}{attribute} but its "
                    "named_parameters() does not yield it, so it is never checked and no "
                    "optimizer built on model.parameters() would ever update it; yield it "
                    "from named_parameters() (the default yields each Parameter attribute "
                    "set on the layer, so an override must yield it too)"
                )


def _relative_error(
    func: Callable[[FloatArray], float],
    grad: Callable[[FloatArray], FloatArray],
    x0: FloatArray,
    epsilon: float,
) -> float:
    error = float(check_grad(func, grad, x0, epsilon=epsilon))
    norm = float(np.linalg.norm(grad(x0)))
    return error / norm if norm > 1e-7 else error


def _check_layer(
    layer: Layer,
    x: FloatArray,
    training: bool,
    rng: np.random.Generator,
    epsilon: float,
    tolerance: float,
    check_input: bool = True,
) -> GradcheckResult:
    r = rng.standard_normal(layer.forward(x.copy(), training=training).shape)
    _check_gradient_shapes(layer, x, r)

    def scalar(inp: FloatArray) -> float:
        return float(np.sum(r * layer.forward(inp.copy(), training=training)))

    def input_grad(flat: FloatArray) -> FloatArray:
        layer.forward(flat.reshape(x.shape).copy(), training=training)
        return np.array(layer.backward(r.copy()), dtype=np.float64).reshape(-1)

    errors: dict[str, float] = {}
    if check_input:
        errors["input"] = _relative_error(
            lambda flat: scalar(flat.reshape(x.shape)), input_grad, x.reshape(-1).copy(), epsilon
        )
    for name, param in list(layer.named_parameters()):
        original = param.value.copy()

        def set_value(flat: FloatArray, param: Any = param) -> None:
            param.value[...] = flat.reshape(param.shape)

        def param_scalar(flat: FloatArray, set_value: Any = set_value) -> float:
            set_value(flat)
            return scalar(x)

        def param_grad(
            flat: FloatArray, set_value: Any = set_value, param: Any = param
        ) -> FloatArray:
            set_value(flat)
            layer.forward(x.copy(), training=training)
            layer.backward(r.copy())
            return np.array(param.grad, dtype=np.float64).reshape(-1)

        try:
            errors[name] = _relative_error(param_scalar, param_grad, original.reshape(-1), epsilon)
        finally:
            param.value[...] = original
    return GradcheckResult(errors, tolerance)


def _check_gradient_shapes(layer: Layer, x: FloatArray, r: FloatArray) -> None:
    """Run one backward and refuse gradients whose shape is not their variable's."""
    grad_x = np.asarray(layer.backward(r.copy()))
    if grad_x.shape != x.shape:
        raise ValueError(
            f"gradcheck: {layer!r}.backward returned dL/dx of shape {grad_x.shape}, but the "
            f"input has shape {x.shape}; backward must return the gradient with respect to "
            f"its input, shaped like it (given dL/d(output) of shape {r.shape})"
        )
    for name, param in layer.named_parameters():
        grad = np.asarray(param.grad)
        if grad.shape != param.shape:
            raise ValueError(
                f"gradcheck: after {layer!r}.backward, the gradient of {name!r} has shape "
                f"{grad.shape}, but the parameter has shape {param.shape}; write "
                f"{name.rsplit('.', 1)[-1]}.grad[...] = ... with the parameter's shape"
            )


def _check_loss(
    loss: Loss, pred: FloatArray, target: FloatArray, epsilon: float, tolerance: float
) -> GradcheckResult:
    def value(flat: FloatArray) -> float:
        return loss.forward(flat.reshape(pred.shape), target)

    def grad(flat: FloatArray) -> FloatArray:
        loss.forward(flat.reshape(pred.shape), target)
        return np.array(loss.backward(), dtype=np.float64).reshape(-1)

    return GradcheckResult(
        {"pred": _relative_error(value, grad, pred.reshape(-1).copy(), epsilon)}, tolerance
    )
