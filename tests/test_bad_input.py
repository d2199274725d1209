# mypy: disable-error-code="arg-type,assignment,call-overload,dict-item,list-item,misc,unused-ignore"
# ruff: noqa: E501
"""Bad input at every public entry point: a ValueError or TypeError that says what and where.

Each case calls one entry point with one bad argument and asserts the
exception type and, with ``match=``, that the message names the layer or
argument and shows what was received (the shape, value or type). Never a raw
numpy traceback: numpy's own broadcasting, indexing or conversion messages
name neither. The entry points come from ``layernet.__all__`` through the
tables in reliability_cases.py; ``test_every_export_has_an_entry`` fails for an
export that has none.

One documented exception to "ValueError or TypeError": indexing a Sequential
out of range is an IndexError (with a clear message), as Python's sequence
protocol requires.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from reliability_cases import (
    CALLBACKS,
    EXEMPT,
    LAYERS,
    LOSSES,
    METRICS,
    OPTIMIZER_BAD_ARGS,
    OPTIMIZERS,
    SCHEDULES,
    classes_of,
    table_for,
    takes,
    where_to_add,
)


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[], object]
    exc: type[Exception]
    match: str


CASES: list[Case] = []


def add(id: str, call: Callable[[], object], exc: type[Exception], match: str) -> None:
    CASES.append(Case(id, call, exc, match))


def test_every_export_has_an_entry() -> None:
    missing = [name for name in ln.__all__ if table_for(name) is None]
    assert not missing, "exports without an entry in tests/reliability_cases.py:\n" + "\n".join(
        f"- {name}: add {where_to_add(name)}" for name in missing
    )


def test_every_exported_class_sits_in_its_own_table() -> None:
    for base, table in (
        (ln.Layer, LAYERS),
        (ln.Loss, LOSSES),
        (ln.Optimizer, OPTIMIZERS),
        (ln.Metric, METRICS),
        (ln.LRSchedule, SCHEDULES),
        (ln.Callback, CALLBACKS),
    ):
        for name in classes_of(base):
            assert name in table, f"{name} is a {base.__name__}: add {where_to_add(name)}"  # type: ignore[operator]
    assert set(EXEMPT) <= set(ln.__all__), "EXEMPT names something layernet no longer exports"


# -- layers: constructors --------------------------------------------------------------


def _layer_cases() -> None:
    for name, spec in LAYERS.items():
        cls = getattr(ln, name)
        for i, (kwargs, exc, match) in enumerate(spec.bad_args):
            add(f"{name}-init-{i}", lambda cls=cls, kwargs=kwargs: cls(**kwargs), exc, match)
        layer, shape = spec.example()
        config = layer.get_config()
        if takes(cls, "dtype"):
            for bad, got in (
                ("int64", "int64"),
                (np.float16, "float16"),
                (5, "5"),
                ("double-ish", "'double-ish'"),
            ):
                add(
                    f"{name}-init-dtype-{got}",
                    lambda cls=cls, c=config, bad=bad: cls(**{**c, "dtype": bad}),
                    TypeError,
                    rf"dtype must be np.float64 or np.float32, got {got}",
                )
        if takes(cls, "rng"):
            for bad, exc, match in (
                ("seed", TypeError, "got str"),
                (-1, ValueError, "non-negative seed, got -1"),
                (1.5, TypeError, "got float"),
            ):
                add(
                    f"{name}-init-rng-{bad}",
                    lambda cls=cls, c=config, bad=bad: cls(**{**c, "rng": bad}),
                    exc,
                    rf"rng must be .*{match}",
                )
        # calls
        who = re.escape(repr(layer))
        where = rf"({who}|at position \d+)"  # a Sequential names the inner layer that rejects
        for wrong in spec.wrong_shapes:
            add(
                f"{name}-call-shape-{wrong}",
                lambda layer=layer, wrong=wrong: layer(np.ones(wrong)),
                ValueError,
                rf"{where}.*{re.escape(str(wrong))}",
            )
        add(
            f"{name}-call-scalar",
            lambda layer=layer: layer(3.0),
            ValueError,
            rf"{where}.*(scalar|got \(\))",
        )
        add(
            f"{name}-call-empty-batch",
            lambda layer=layer, s=shape: layer(np.ones((0, *s[1:]))),
            ValueError,
            rf"{who}.*empty batch .*\(0, ",
        )
        for bad in (np.nan, np.inf, -np.inf):
            x = np.ones(shape)
            x[(0,) * len(shape)] = bad
            add(
                f"{name}-call-{bad}",
                lambda layer=layer, x=x: layer(x),
                ValueError,
                rf"{who} input: contains 1 NaN or infinite value",
            )
        add(
            f"{name}-call-strings",
            lambda layer=layer, s=shape: layer(np.full(s, "a")),
            TypeError,
            rf"{who}.*got strings",
        )
        add(
            f"{name}-call-objects",
            lambda layer=layer, s=shape: layer(np.full(s, 1.0, dtype=object)),
            TypeError,
            rf"{who}.*got Python objects",
        )
        add(
            f"{name}-call-complex",
            lambda layer=layer, s=shape: layer(np.ones(s, dtype=complex)),
            TypeError,
            rf"{who}.*got complex numbers",
        )
        add(f"{name}-call-None", lambda layer=layer: layer(None), TypeError, rf"{who}.*got None")  # type: ignore[arg-type]
        add(
            f"{name}-call-ragged",
            lambda layer=layer: layer([[1.0, 2.0], [3.0]]),
            ValueError,
            rf"{who}.*could not convert the input \(list\)",
        )
        add(
            f"{name}-call-dict",
            lambda layer=layer: layer({"x": 1.0}),
            TypeError,
            rf"{who}.*got Python objects",
        )  # type: ignore[arg-type]


_layer_cases()
add(
    "BatchNorm1d-training-one-sample",
    lambda: ln.BatchNorm1d(3)(np.ones((1, 3)), training=True),
    ValueError,
    r"BatchNorm1d\(3\): training needs more than one value per channel, got input of shape \(1, 3\)",
)
add(
    "Softmax-axis-out-of-range",
    lambda: ln.Softmax(axis=2)(np.ones((4, 3))),
    ValueError,
    r"Softmax\(axis=2\): axis 2 is out of range for input of shape \(4, 3\)",
)
add(
    "Softmax-axis-batch-negative",
    lambda: ln.Softmax(axis=-2)(np.ones((4, 3))),
    ValueError,
    r"Softmax\(axis=-2\): axis -2 is the batch axis of input of shape \(4, 3\)",
)


# -- Sequential ------------------------------------------------------------------------


def model() -> ln.Sequential:
    return ln.Sequential([ln.Dense(3, 4, rng=0), ln.ReLU(), ln.Dense(4, 2, rng=1)])


add(
    "Sequential-init-int",
    lambda: ln.Sequential(5),
    TypeError,
    r"Sequential: expected a list of layers, got int",
)  # type: ignore[arg-type]
add(
    "Sequential-init-None",
    lambda: ln.Sequential(None),
    TypeError,
    r"Sequential: expected a list of layers, got NoneType",
)  # type: ignore[arg-type]
add(
    "Sequential-init-layer",
    lambda: ln.Sequential(ln.Dense(2, 2)),
    TypeError,
    r"Sequential: expected a list of layers, got a single Layer; wrap it in \[ \]",
)  # type: ignore[arg-type]
add(
    "Sequential-init-non-layer",
    lambda: ln.Sequential([ln.Dense(2, 2), np.tanh]),
    TypeError,
    r"item at position 1 must be a Layer, got ufunc",
)  # type: ignore[list-item]
add(
    "Sequential-init-class",
    lambda: ln.Sequential([ln.ReLU]),
    TypeError,
    r"item at position 0 must be a Layer, got the class ReLU; call it: ReLU\(\)",
)  # type: ignore[list-item]
add(
    "Sequential-init-sizes",
    lambda: ln.Sequential([ln.Dense(2, 3), ln.Dense(4, 1)]),
    ValueError,
    r"Dense\(4 -> 1\) at position 1 expects input of shape \(batch, \.\.\., 4\), but Dense\(2 -> 3\) at position 0 produces \(batch, 3\)",
)
add(
    "Sequential-init-dtypes",
    lambda: ln.Sequential([ln.Dense(2, 3), ln.Dense(3, 1, dtype=np.float32)]),
    ValueError,
    r"Dense\(3 -> 1\) at position 1 is float32 but Dense\(2 -> 3\) at position 0 is float64",
)
add(
    "Sequential-add-str",
    lambda: model().add("dense"),
    TypeError,
    r"Sequential: item at position 3 must be a Layer, got str",
)  # type: ignore[arg-type]
add(
    "Sequential-index-str",
    lambda: model()["0"],
    TypeError,
    r"Sequential\(3 layers\): index must be an int or a slice, got str",
)  # type: ignore[call-overload]
add(
    "Sequential-empty-call",
    lambda: ln.Sequential()(np.ones((2, 3))),
    ValueError,
    r"Sequential: the model has no layers; add some first",
)
add(
    "Sequential-call-position",
    lambda: model()(np.ones((2, 5))),
    ValueError,
    r"Dense\(3 -> 4\) at position 0: expected input of shape \(batch, \.\.\., 3\), got \(2, 5\)",
)


def test_indexing_out_of_range_is_an_index_error_that_says_so() -> None:
    with pytest.raises(
        IndexError, match=r"Sequential\(3 layers\): index 3 is out of range for 3 layers"
    ):
        model()[3]
    assert model()[-1].get_config()["out_features"] == 2


# -- predict, fit, evaluate ------------------------------------------------------------

X = np.random.default_rng(0).normal(size=(10, 3))
Y = np.random.default_rng(1).normal(size=(10, 2))
LABELS = np.arange(10) % 2


def predict(x: Any, **kwargs: Any) -> object:
    return model().predict(x, **kwargs)


add(
    "predict-model-not-a-layer",
    lambda: ln.predict("model", X),
    TypeError,
    r"predict: model must be a Layer, got str",
)
add(
    "predict-x-stream",
    lambda: ln.predict(model(), iter([(X, Y)])),
    TypeError,
    r"predict: x must be an array of inputs, got list_iterator; predict takes arrays",
)
add(
    "summary-model-not-a-layer",
    lambda: ln.summary([ln.Dense(3, 2)]),
    TypeError,
    r"summary: model must be a Layer, got list",
)
add(
    "register-not-a-layer-class",
    lambda: ln.register(int),  # type: ignore[type-var]
    TypeError,
    r"register: expected a Layer subclass, got <class 'int'>",
)
add(
    "InputSpec-rank-negative",
    lambda: ln.InputSpec(-1),
    TypeError,
    r"InputSpec: rank must be an int >= 0, got int -1",
)
add(
    "InputSpec-max-below-min",
    lambda: ln.InputSpec(min_rank=2, max_rank=1),
    ValueError,
    r"InputSpec: max_rank 1 is below min_rank 2",
)
add(
    "InputSpec-axes-size-zero",
    lambda: ln.InputSpec(1, axes={0: 0}),
    TypeError,
    r"InputSpec: axes\[0\] must be an int >= 1, got int 0",
)
add(
    "InputSpec-axes-list",
    lambda: ln.InputSpec(1, axes=[3]),
    TypeError,
    r"InputSpec: axes must be a mapping of axis to size, got list",
)


def with_bad(x: Any, value: float) -> Any:
    x = np.array(x, dtype=float)
    x[1, 1] = value
    return x


for value in (np.nan, np.inf, -np.inf):
    add(
        f"predict-x-{value}",
        lambda v=value: predict(with_bad(X, v)),
        ValueError,
        r"Sequential\(3 layers\) input: contains 1 NaN or infinite value",
    )
add(
    "predict-x-1d",
    lambda: predict(X[0]),
    ValueError,
    r"expected input of shape \(batch, \.\.\., 3\), got \(3,\); .*x.reshape\(1, -1\)",
)
add(
    "predict-x-features",
    lambda: predict(X[:, :2]),
    ValueError,
    r"Dense\(3 -> 4\) at position 0: expected input of shape \(batch, \.\.\., 3\), got \(10, 2\)",
)
add(
    "predict-x-3d",
    lambda: predict(X[:, :, None]),
    ValueError,
    r"expected input of shape \(batch, \.\.\., 3\), got \(10, 3, 1\)",
)
add("predict-x-empty", lambda: predict(np.ones((0, 3))), ValueError, r"empty batch .*\(0, 3\)")
add("predict-x-scalar", lambda: predict(2.0), ValueError, r"got a scalar")
add(
    "predict-x-strings",
    lambda: predict([["a", "b", "c"]]),
    TypeError,
    r"Sequential\(3 layers\) input: expected an array of real numbers, got strings",
)
add(
    "predict-x-None",
    lambda: predict(None),
    TypeError,
    r"Sequential\(3 layers\) input: expected an array of real numbers, got None",
)
add(
    "predict-x-ragged",
    lambda: predict([[1.0, 2.0, 3.0], [1.0]]),
    ValueError,
    r"could not convert the input \(list\)",
)
add(
    "predict-batch_size-0",
    lambda: predict(X, batch_size=0),
    ValueError,
    r"predict: batch_size must be a positive integer, got 0",
)
add(
    "predict-batch_size-float",
    lambda: predict(X, batch_size=2.5),
    TypeError,
    r"predict: batch_size must be a positive integer, got float 2.5",
)
add(
    "predict-batch_size-str",
    lambda: predict(X, batch_size="4"),
    TypeError,
    r"predict: batch_size must be a positive integer, got str '4'",
)


def fit(x: Any = X, y: Any = Y, **kwargs: Any) -> object:
    m = model()
    settings: dict[str, Any] = {
        "loss": ln.MSELoss(),
        "optimizer": ln.SGD(m.parameters(), lr=0.1),
        "epochs": 1,
        "verbose": 0,
    }
    if y is not None:  # a stream draws nothing: fit refuses an rng for one
        settings["rng"] = 0
    settings.update(kwargs)
    return m.fit(x, y, **settings)


def evaluate(x: Any = X, y: Any = Y, **kwargs: Any) -> object:
    return model().evaluate(x, y, **{"loss": ln.MSELoss(), **kwargs})


for fn in (fit, evaluate):
    where = fn.__name__
    for value in (np.nan, np.inf):
        add(
            f"{where}-x-{value}",
            lambda fn=fn, v=value: fn(with_bad(X, v)),
            ValueError,
            rf"{where}: x: contains 1 NaN or infinite value",
        )
        add(
            f"{where}-y-{value}",
            lambda fn=fn, v=value: fn(X, with_bad(Y, v)),
            ValueError,
            rf"{where}: y: contains 1 NaN or infinite value",
        )
    add(
        f"{where}-x-1d",
        lambda fn=fn: fn(X[:, 0], Y),
        ValueError,
        rf"^{where}: x is 1-D \(shape \(10,\)\) but the model expects input of shape "
        r"\(batch, \.\.\., 3\): with one feature per sample use x.reshape\(-1, 1\); if the whole "
        r"array is a single sample, x.reshape\(1, -1\)$",
    )
    add(
        f"{where}-x-1d-one-sample",
        lambda fn=fn: fn(X[0], Y[:3]),
        ValueError,
        rf"^{where}: x is 1-D \(shape \(3,\)\) .*: if the whole array is a single sample, "
        r"x.reshape\(1, -1\); with one feature per sample use x.reshape\(-1, 1\)$",
    )
    add(
        f"{where}-x-features",
        lambda fn=fn: fn(X[:, :2]),
        ValueError,
        rf"^{where}: x does not fit the model: .*at position 0: expected input of shape "
        r"\(batch, \.\.\., 3\), got \(10, 2\)",
    )
    add(
        f"{where}-x-empty",
        lambda fn=fn: fn(X[:0], Y[:0]),
        ValueError,
        rf"{where}: x is empty \(shape \(0, 3\)\); need at least one sample",
    )
    add(
        f"{where}-x-scalar",
        lambda fn=fn: fn(1.0, Y),
        ValueError,
        rf"{where}: x must be an array with a batch axis, got a scalar",
    )
    add(
        f"{where}-x-strings",
        lambda fn=fn: fn(np.full((10, 3), "a")),
        TypeError,
        r"input: expected an array of real numbers, got strings",
    )
    add(
        f"{where}-x-objects",
        lambda fn=fn: fn(X.astype(object)),
        TypeError,
        r"input: expected an array of real numbers, got Python objects",
    )
    add(
        f"{where}-y-None",
        lambda fn=fn: fn(X, None),
        ValueError,
        rf"{where}: y is missing; pass targets",
    )
    add(
        f"{where}-y-length",
        lambda fn=fn: fn(X, Y[:7]),
        ValueError,
        rf"{where}: x and y have different lengths: x has 10 samples, y has 7",
    )
    add(
        f"{where}-y-shape",
        lambda fn=fn: fn(X, Y[:, :1]),
        ValueError,
        rf"{where}: y does not fit MSELoss\(\) .*pred \(10, 2\), target \(10, 1\)",
    )
    add(
        f"{where}-y-strings",
        lambda fn=fn: fn(X, np.full((10, 2), "b")),
        TypeError,
        r"MSELoss\(\): target: expected an array of real numbers, got strings",
    )
    add(
        f"{where}-y-scalar",
        lambda fn=fn: fn(X, 1.0),
        TypeError,
        rf"{where}: y must be an array with one row per sample, got float",
    )
    add(
        f"{where}-labels-range",
        lambda fn=fn: fn(X, LABELS * 2, loss=ln.CrossEntropyLoss()),
        ValueError,
        rf"{where}: y does not fit CrossEntropyLoss.*class label 2 is out of range; labels must be integers in \[0, 2\)",
    )
    add(
        f"{where}-labels-float",
        lambda fn=fn: fn(X, LABELS + 0.5, loss=ln.CrossEntropyLoss()),
        ValueError,
        r"class labels must be integers, got 0.5",
    )
    add(
        f"{where}-loss-class",
        lambda fn=fn: fn(loss=ln.MSELoss),
        TypeError,
        rf"{where}: loss must be a Loss instance such as MSELoss\(\), got <class .*; call the class",
    )
    add(
        f"{where}-loss-str",
        lambda fn=fn: fn(loss="mse"),
        TypeError,
        rf"{where}: loss must be a Loss instance such as MSELoss\(\), got 'mse'",
    )
    add(
        f"{where}-batch_size-0",
        lambda fn=fn: fn(batch_size=0),
        ValueError,
        rf"{where}: batch_size must be a positive integer, got 0",
    )
    add(
        f"{where}-batch_size-float",
        lambda fn=fn: fn(batch_size=3.5),
        TypeError,
        rf"{where}: batch_size must be a positive integer, got float 3.5",
    )
    add(
        f"{where}-metrics-str",
        lambda fn=fn: fn(metrics="mse"),
        TypeError,
        r"metrics must be a list, got 'mse'; write metrics=\['mse'\]",
    )
    add(
        f"{where}-metrics-unknown",
        lambda fn=fn: fn(metrics=["precison"]),
        ValueError,
        r"unknown metric 'precison'; choose one of",
    )
    add(
        f"{where}-metrics-type",
        lambda fn=fn: fn(metrics=[5]),
        TypeError,
        r"a metric must be a Metric or a name such as 'accuracy', got 5",
    )
    add(
        f"{where}-metrics-labels",
        lambda fn=fn: fn(X, LABELS * 2, loss=ln.MSELoss(), metrics=["accuracy"]),
        ValueError,
        rf"{where}: y does not fit MSELoss\(\) .*pred \(10, 2\), target \(10,\)",
    )

add(
    "fit-optimizer-None",
    lambda: fit(optimizer=None),
    TypeError,
    r"fit: optimizer must be an Optimizer instance such as SGD\(model.parameters\(\), lr=0.1\), got None",
)
add(
    "fit-optimizer-foreign",
    lambda: fit(optimizer=ln.SGD(ln.Dense(1, 1).parameters(), lr=0.1)),
    ValueError,
    r"fit: the optimizer updates none of this model's parameters",
)
for bad, exc in (
    (0, ValueError),
    (-2, ValueError),
    (2.5, TypeError),
    ("3", TypeError),
    (None, TypeError),
):
    add(
        f"fit-epochs-{bad}",
        lambda bad=bad: fit(epochs=bad),
        exc,
        rf"fit: epochs must be a positive integer, got .*{re.escape(repr(bad) if isinstance(bad, str) else str(bad))}",
    )
add(
    "fit-validation_split-1",
    lambda: fit(validation_split=1.0),
    ValueError,
    r"fit: validation_split must be in \[0, 1\), got 1.0",
)
add(
    "fit-validation_split-str",
    lambda: fit(validation_split="0.2"),
    TypeError,
    r"fit: validation_split must be a real number, got str '0.2'",
)
add(
    "fit-validation_split-large",
    lambda: fit(validation_split=0.95),
    ValueError,
    r"fit: validation_split=0.95 of 10 samples leaves no training samples",
)
add(
    "fit-validation-both",
    lambda: fit(validation_split=0.2, validation_data=(X, Y)),
    ValueError,
    r"fit: pass validation_data or validation_split, not both",
)
add(
    "fit-validation_data-int",
    lambda: fit(validation_data=5),
    TypeError,
    r"fit: validation_data must be a pair \(x_val, y_val\).*got int",
)
add(
    "fit-validation_data-triple",
    lambda: fit(validation_data=(X, Y, Y)),
    ValueError,
    r"fit: validation_data must be a pair \(x_val, y_val\), got 3 items",
)
add(
    "fit-validation_data-shape",
    lambda: fit(validation_data=(X[:, :2], Y)),
    ValueError,
    r"expected input of shape \(batch, \.\.\., 3\), got \(10, 2\)",
)
add(
    "fit-validation_data-nan",
    lambda: fit(validation_data=(with_bad(X, np.nan), Y)),
    ValueError,
    r"fit: x_val: contains 1 NaN or infinite value",
)
add(
    "fit-verbose-3",
    lambda: fit(verbose=3),
    ValueError,
    r"fit: verbose must be 0 \(silent\), 1 \(progress\) or 2 .*got 3",
)
add("fit-verbose-True", lambda: fit(verbose=True), ValueError, r"fit: verbose must be 0 .*got True")
add(
    "fit-callbacks-single",
    lambda: fit(callbacks=ln.EarlyStopping()),
    TypeError,
    r"fit: callbacks must be a list, got EarlyStopping.*wrap it in \[ \]",
)
add(
    "fit-callbacks-item",
    lambda: fit(callbacks=[print]),
    TypeError,
    r"fit: callbacks\[0\] must be a Callback or a learning-rate schedule, got "
    r"builtin_function_or_method; for a function \(epoch, lr\) -> lr, pass LearningRateScheduler",
)
add(
    "fit-rng-str",
    lambda: fit(rng="seed"),
    TypeError,
    r"rng must be a numpy.random.Generator, an int seed or None, got str",
)
add(
    "fit-shuffle-str",
    lambda: fit(shuffle="no"),
    TypeError,
    r"fit: shuffle must be True or False, got str 'no'",
)
add(
    "fit-stream-item",
    lambda: fit([(X, Y), X], None),
    ValueError,
    r"fit: y is missing; pass targets, or pass x as an iterable of \(x_batch, y_batch\) pairs",
)
add(
    "fit-stream-item-type",
    lambda: fit(lambda: [(X, Y), X], None),
    ValueError,
    r"fit: batch 2 of epoch 1 is ndarray, expected an \(x_batch, y_batch\) pair",
)
add(
    "fit-stream-nan",
    lambda: fit([(with_bad(X, np.nan), Y)], None),
    ValueError,
    r"fit: batch 1 of epoch 1: x_batch: contains 1 NaN or infinite value",
)
add(
    "fit-stream-y-shape",
    lambda: fit([(X, Y[:, :1])], None),
    ValueError,
    r"fit: batch 1 of epoch 1: y_batch does not fit MSELoss\(\).*pred \(10, 2\), target \(10, 1\)",
)
add(
    "fit-stream-generator",
    lambda: fit(((X, Y) for _ in range(2)), None, epochs=2),
    ValueError,
    r"fit: x is a one-shot iterator",
)
add(
    "fit-lbfgs-stream",
    lambda: fit([(X, Y)], None, optimizer=ln.LBFGS(model().parameters())),
    ValueError,
    r"fit: the optimizer updates none|fit: LBFGS is full-batch",
)
add(
    "evaluate-batch_size-str",
    lambda: evaluate(batch_size="8"),
    TypeError,
    r"evaluate: batch_size must be a positive integer, got str '8'",
)


# -- losses ----------------------------------------------------------------------------


def _loss_cases() -> None:
    for name, spec in LOSSES.items():
        cls = getattr(ln, name)
        for i, (kwargs, exc, match) in enumerate(spec.bad_args):
            add(f"{name}-init-{i}", lambda cls=cls, kwargs=kwargs: cls(**kwargs), exc, match)
        loss = spec.make()
        who = re.escape(repr(loss))
        pred, target = spec.valid()
        for value in (np.nan, np.inf, -np.inf):
            bad_pred = np.array(pred, dtype=float)
            bad_pred.flat[1] = value
            add(
                f"{name}-pred-{value}",
                lambda loss=loss, p=bad_pred, t=target: loss(p, t),
                ValueError,
                rf"{who}: pred.*(NaN or infinite|got {value})",
            )
            bad_target = np.array(target, dtype=float)
            bad_target.flat[1] = value
            add(
                f"{name}-target-{value}",
                lambda loss=loss, p=pred, t=bad_target: loss(p, t),
                ValueError,
                rf"{who}: .*(target|label).*(NaN or infinite|{value})",
            )
        add(
            f"{name}-pred-scalar",
            lambda loss=loss, t=target: loss(0.5, t),
            ValueError,
            rf"{who}.*(a scalar|got \(\))",
        )
        add(
            f"{name}-pred-empty",
            lambda loss=loss, p=pred, t=target: loss(p[:0], t[:0]),
            ValueError,
            rf"{who}: got an empty batch \(pred of shape \(0, ",
        )
        longer = np.concatenate([target, target[:1]])
        add(
            f"{name}-target-rows",
            lambda loss=loss, p=pred, t=longer: loss(p, t),
            ValueError,
            rf"{who}.*{re.escape(str(longer.shape))}",
        )
        add(
            f"{name}-pred-strings",
            lambda loss=loss, p=pred, t=target: loss(np.full(p.shape, "x"), t),
            TypeError,
            rf"{who}: pred: expected an array of real numbers, got strings",
        )
        add(
            f"{name}-pred-None",
            lambda loss=loss, t=target: loss(None, t),
            TypeError,
            rf"{who}: pred: expected an array of real numbers, got None",
        )
        add(
            f"{name}-target-objects",
            lambda loss=loss, p=pred, t=target: loss(p, np.array(t, dtype=object)),
            TypeError,
            rf"{who}: target: expected an array of real numbers, got Python objects",
        )
        add(
            f"{name}-target-None",
            lambda loss=loss, p=pred: loss(p, None),
            TypeError,
            rf"{who}: target: expected an array of real numbers, got None",
        )
        add(
            f"{name}-target-ragged",
            lambda loss=loss, p=pred: loss(p, [[1.0], [1.0, 2.0]]),
            ValueError,
            rf"{who}: target: .*could not convert the input \(list\)",
        )
        for i, (p, t, match) in enumerate(spec.domain_errors):
            add(
                f"{name}-domain-{i}",
                lambda loss=loss, p=p, t=t: loss(p, t),
                ValueError,
                rf"{who}: {match}",
            )


_loss_cases()


# -- optimizers ------------------------------------------------------------------------


def params() -> Any:
    return ln.Dense(2, 1, rng=0).parameters()


def _optimizer_cases() -> None:
    for name in OPTIMIZERS:
        cls = getattr(ln, name)
        lr = {"lr": 0.1} if name == "SGD" else {}
        for bad, exc, got in (
            (None, TypeError, "got NoneType"),
            (5, TypeError, "got int"),
            (ln.Dense(2, 1), TypeError, r"got Dense\(2 -> 1\); pass model.parameters\(\)"),
        ):
            add(
                f"{name}-params-{type(bad).__name__}",
                lambda cls=cls, bad=bad, lr=lr: cls(bad, **lr),
                exc,
                rf"{name}: params must be an iterable of Parameter, {got}",
            )
        add(
            f"{name}-params-empty",
            lambda cls=cls, lr=lr: cls([], **lr),
            ValueError,
            rf"{name}: got an empty parameter list; pass model.parameters\(\)",
        )
        add(
            f"{name}-params-arrays",
            lambda cls=cls, lr=lr: cls([np.zeros(2)], **lr),
            TypeError,
            rf"{name}: params\[0\] must be a Parameter, got ndarray",
        )
        add(
            f"{name}-params-single",
            lambda cls=cls, lr=lr: cls(ln.Parameter(np.zeros(2)), **lr),
            TypeError,
            rf"{name}: params must be an iterable of Parameter, got a single Parameter",
        )
        for i, (kwargs, exc, match) in enumerate(OPTIMIZER_BAD_ARGS[name]):
            add(
                f"{name}-init-{i}",
                lambda cls=cls, kwargs=kwargs: cls(params(), **kwargs),
                exc,
                match,
            )
        opt = OPTIMIZERS[name](params())
        for bad, exc, match in (
            (-1.0, ValueError, "lr must be positive, got -1.0"),
            ("fast", TypeError, "lr must be a real number, got str"),
            (float("nan"), ValueError, "lr must be finite, got nan"),
        ):
            add(
                f"{name}-set-lr-{bad}",
                lambda opt=opt, bad=bad: setattr(opt, "lr", bad),
                exc,
                rf"{name}: {match}",
            )
        add(
            f"{name}-load_state_dict-int",
            lambda opt=opt: opt.load_state_dict(5),
            TypeError,
            rf"{name}: state_dict must be a mapping from state_dict\(\), got int",
        )  # type: ignore[arg-type]
        add(
            f"{name}-load_state_dict-class",
            lambda opt=opt: opt.load_state_dict({"class_name": "Other"}),
            ValueError,
            rf"{name}: cannot load the state of a Other optimizer",
        )
        state = opt.state_dict()
        add(
            f"{name}-load_state_dict-shapes",
            lambda opt=opt, s=state: opt.load_state_dict({**s, "param_shapes": [[5]]}),
            ValueError,
            rf"{name}: the saved state is for parameters of shapes \[\(5,\)\]",
        )
        key = "history_size" if name == "LBFGS" else "max_grad_norm"
        add(
            f"{name}-load_state_dict-config",
            lambda opt=opt, s=state, key=key: opt.load_state_dict(
                {**s, "config": {**s["config"], key: "big"}}
            ),
            ValueError,
            rf"{name}: the saved hyperparameters do not fit: .*{key} must be a .*, got str",
        )


_optimizer_cases()
add(
    "SGD-load_state_dict-array-shape",
    lambda: _bad_state("momentum_buffer", np.zeros(5)),
    ValueError,
    r"SGD: state entry 0/'momentum_buffer' has shape \(5,\), expected \(2, 1\)",
)
add(
    "SGD-load_state_dict-array-dtype",
    lambda: _bad_state("momentum_buffer", np.zeros((2, 1), dtype=np.int64)),
    ValueError,
    r"SGD: state entry 0/'momentum_buffer' has dtype int64, expected float64",
)
add(
    "SGD-load_state_dict-index",
    lambda: _bad_state("momentum_buffer", np.zeros((2, 1)), index=7),
    ValueError,
    r"SGD: state for parameter index 7, which does not exist",
)


def _bad_state(key: str, value: Any, index: int = 0) -> None:
    opt = ln.SGD(params(), lr=0.1, momentum=0.9)
    state = opt.state_dict()
    opt.load_state_dict({**state, "state": {index: {key: value}}})


add(
    "clip_grad_norm-params-None",
    lambda: ln.clip_grad_norm(None, 1.0),
    TypeError,
    r"clip_grad_norm: params must be an iterable of Parameter, got NoneType",
)  # type: ignore[arg-type]
add(
    "clip_grad_norm-max_norm-0",
    lambda: ln.clip_grad_norm(params(), 0.0),
    ValueError,
    r"clip_grad_norm: max_norm must be positive, got 0.0",
)
add(
    "clip_grad_norm-max_norm-str",
    lambda: ln.clip_grad_norm(params(), "1"),
    TypeError,
    r"clip_grad_norm: max_norm must be a real number, got str",
)  # type: ignore[arg-type]
add(
    "Parameter-value-list",
    lambda: ln.Parameter([1.0, 2.0]),
    TypeError,
    r"Parameter '': value must be a float32 or float64 ndarray, got list",
)  # type: ignore[arg-type]
add(
    "Parameter-value-int",
    lambda: ln.Parameter(np.arange(3)),
    TypeError,
    r"value must be a float32 or float64 ndarray, got ndarray of dtype int64",
)
add(
    "Parameter-grad-shape",
    lambda: ln.Parameter(np.zeros(3), np.zeros(2)),
    ValueError,
    r"grad must match value's shape and dtype \(3,\) float64, got \(2,\) float64",
)
add(
    "Parameter-grad-list",
    lambda: ln.Parameter(np.zeros(3), [0.0, 0.0, 0.0], name="w"),
    TypeError,
    r"Parameter 'w': grad must be an ndarray like value, got list",
)  # type: ignore[arg-type]
add(
    "initializers-name",
    lambda: ln.initializers.get_initializer("gaussian"),
    ValueError,
    r"init: unknown initializer 'gaussian'; choose one of",
)
add(
    "initializers-type",
    lambda: ln.initializers.get_initializer(3),
    TypeError,
    r"init: expected an initializer name or callable, got int",
)


# -- metrics, schedules, callbacks -----------------------------------------------------


def _metric_cases() -> None:
    for name, spec in METRICS.items():
        cls = getattr(ln, name)
        for i, (kwargs, exc, match) in enumerate(spec.bad_args):
            add(f"{name}-init-{i}", lambda cls=cls, kwargs=kwargs: cls(**kwargs), exc, match)
        metric = spec.make()
        who = f"metric {metric.name!r}"
        pred, target = spec.valid()
        nan_pred = np.array(pred, dtype=float)
        nan_pred.flat[0] = np.nan
        add(
            f"{name}-compute-pred-nan",
            lambda m=metric, p=nan_pred, t=target: m.compute(p, t),
            ValueError,
            rf"{who}: pred: contains 1 NaN or infinite value",
        )
        add(
            f"{name}-compute-strings",
            lambda m=metric, t=target: m.compute(np.full(t.shape, "a"), t),
            TypeError,
            rf"{who}: pred: expected an array of real numbers, got strings",
        )
        add(
            f"{name}-compute-target-None",
            lambda m=metric, p=pred: m.compute(p, None),
            TypeError,
            rf"{who}: target: expected an array of real numbers, got None",
        )
        add(
            f"{name}-compute-empty",
            lambda m=metric, p=pred, t=target: m.compute(p[:0], t[:0]),
            ValueError,
            rf"{who}: got an empty batch \(pred of shape \(0, ",
        )
        add(
            f"{name}-compute-scalar",
            lambda m=metric, t=target: m.compute(1.0, t),
            ValueError,
            rf"{who}: pred must have a batch axis, got a scalar",
        )
        add(
            f"{name}-compute-rows",
            lambda m=metric, p=pred, t=target: m.compute(p, t[:-1]),
            ValueError,
            rf"({name}|Accuracy|{who}).*{re.escape(str(target[:-1].shape))}",
        )
        for i, (p, t, match) in enumerate(spec.domain_errors):
            add(f"{name}-domain-{i}", lambda m=metric, p=p, t=t: m.compute(p, t), ValueError, match)


_metric_cases()

for name, cases in {**SCHEDULES, **CALLBACKS}.items():
    for i, (call, exc, match) in enumerate(cases):
        add(f"{name}-{i}", call, exc, match)


# -- gradcheck, save, load -------------------------------------------------------------

add(
    "gradcheck-obj",
    lambda: ln.gradcheck("dense", np.ones((1, 2))),
    TypeError,
    r"gradcheck: expected a Layer or a Loss, got str",
)  # type: ignore[arg-type]
add(
    "gradcheck-x-nan",
    lambda: ln.gradcheck(ln.Dense(2, 1), with_bad(np.ones((2, 2)), np.nan)),
    ValueError,
    r"Dense\(2 -> 1\) input: contains 1 NaN or infinite value",
)
add(
    "gradcheck-x-shape",
    lambda: ln.gradcheck(ln.Dense(2, 1), np.ones((2, 3))),
    ValueError,
    r"Dense\(2 -> 1\): expected input of shape \(batch, \.\.\., 2\), got \(2, 3\)",
)
add(
    "gradcheck-x-empty",
    lambda: ln.gradcheck(ln.Dense(2, 1), np.ones((0, 2))),
    ValueError,
    r"Dense\(2 -> 1\).*empty batch",
)
add(
    "gradcheck-float32",
    lambda: ln.gradcheck(ln.Dense(2, 1, dtype=np.float32), np.ones((1, 2))),
    TypeError,
    r"gradcheck: Dense\(2 -> 1\) is float32; gradients are checked in float64",
)
add(
    "gradcheck-loss-no-target",
    lambda: ln.gradcheck(ln.MSELoss(), np.ones((2, 1))),
    TypeError,
    r"gradcheck: MSELoss\(\) is a loss; pass its target",
)
add(
    "gradcheck-loss-target-shape",
    lambda: ln.gradcheck(ln.MSELoss(), np.ones((2, 1)), np.ones((3, 1))),
    ValueError,
    r"MSELoss\(\): prediction and target shapes differ: pred \(2, 1\), target \(3, 1\)",
)
add(
    "gradcheck-loss-pred-nan",
    lambda: ln.gradcheck(ln.MSELoss(), with_bad(np.ones((2, 2)), np.nan), np.ones((2, 2))),
    ValueError,
    r"gradcheck: MSELoss\(\) pred: contains 1 NaN or infinite value",
)
add(
    "gradcheck-layer-target",
    lambda: ln.gradcheck(ln.Sigmoid(), np.ones((2, 1)), np.ones((2, 1))),
    TypeError,
    r"gradcheck: Sigmoid\(\) is a layer; it takes no target",
)
add(
    "gradcheck-epsilon",
    lambda: ln.gradcheck(ln.Sigmoid(), np.ones((2, 1)), epsilon=0.0),
    ValueError,
    r"gradcheck: epsilon must be positive, got 0.0",
)
add(
    "gradcheck-epsilon-str",
    lambda: ln.gradcheck(ln.Sigmoid(), np.ones((2, 1)), epsilon="1e-8"),
    TypeError,
    r"gradcheck: epsilon must be a real number, got str",
)  # type: ignore[arg-type]
add(
    "gradcheck-tolerance",
    lambda: ln.gradcheck(ln.Sigmoid(), np.ones((2, 1)), tolerance=-1.0),
    ValueError,
    r"gradcheck: tolerance must be positive, got -1.0",
)
add(
    "gradcheck-rng",
    lambda: ln.gradcheck(ln.Sigmoid(), np.ones((2, 1)), rng="zero"),
    TypeError,
    r"rng must be a numpy.random.Generator, an int seed or None, got str",
)  # type: ignore[arg-type]


def saved(tmp: Path) -> Path:
    path = tmp / "model.npz"
    ln.save(model(), path)
    return path


FILE_CASES: list[tuple[str, Callable[[Path], object], type[Exception], str]] = [
    (
        "save-model-dict",
        lambda tmp: ln.save({}, tmp / "m.npz"),
        TypeError,
        r"save: model must be a Layer, got dict",
    ),  # type: ignore[arg-type]
    (
        "save-path-int",
        lambda tmp: ln.save(model(), 5),
        TypeError,
        r"save: path must be a str or os.PathLike, got int",
    ),  # type: ignore[arg-type]
    (
        "save-path-None",
        lambda tmp: ln.save(model(), None),
        TypeError,
        r"save: path must be a str or os.PathLike, got NoneType",
    ),  # type: ignore[arg-type]
    (
        "save-optimizer-str",
        lambda tmp: ln.save(model(), tmp / "m.npz", optimizer="sgd"),
        TypeError,
        r"save: optimizer must be an Optimizer, got str",
    ),  # type: ignore[arg-type]
    (
        "save-path-directory",
        lambda tmp: ln.save(model(), tmp),
        ValueError,
        r"save: .* is a directory; pass a file path such as",
    ),
    (
        "load-path-None",
        lambda tmp: ln.load(None),
        TypeError,
        r"layernet.load: path must be a str or os.PathLike, got NoneType",
    ),  # type: ignore[arg-type]
    (
        "load-path-list",
        lambda tmp: ln.load([saved(tmp)]),
        TypeError,
        r"layernet.load: path must be a str or os.PathLike, got list",
    ),  # type: ignore[arg-type]
    (
        "load-path-missing",
        lambda tmp: ln.load(tmp / "none.npz"),
        ValueError,
        r"layernet.load: .*none\.npz: cannot open the file",
    ),
    (
        "load-path-directory",
        lambda tmp: ln.load(tmp),
        ValueError,
        r"layernet.load: .*: cannot open the file",
    ),
    (
        "load-custom_layers-str",
        lambda tmp: ln.load(saved(tmp), custom_layers="Doubler"),
        TypeError,
        r"layernet.load: custom_layers must be a mapping of class name to Layer subclass, got str",
    ),  # type: ignore[arg-type]
    (
        "load-custom_layers-value",
        lambda tmp: ln.load(saved(tmp), custom_layers={"Doubler": len}),
        TypeError,
        r"layernet.load: custom_layers\['Doubler'\] must be a Layer subclass, got builtin_function_or_method",
    ),  # type: ignore[dict-item]
    (
        "load_optimizer_state-optimizer",
        lambda tmp: ln.load_optimizer_state(saved(tmp), "sgd"),
        TypeError,
        r"layernet.load_optimizer_state: optimizer must be an Optimizer, got str",
    ),  # type: ignore[arg-type]
    (
        "load_optimizer_state-path",
        lambda tmp: ln.load_optimizer_state(3, ln.SGD(params(), lr=0.1)),
        TypeError,
        r"layernet.load_optimizer_state: path must be a str or os.PathLike, got int",
    ),  # type: ignore[arg-type]
    (
        "load_training_state-path",
        lambda tmp: ln.load_training_state(3),
        TypeError,
        r"layernet.load_training_state: path must be a str or os.PathLike, got int",
    ),  # type: ignore[arg-type]
    (
        "load_training_state-no-state",
        lambda tmp: ln.load_training_state(saved(tmp)),
        ValueError,
        r"layernet.load_training_state: .*: the file holds no training state; ModelCheckpoint",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_clear_error(case: Case) -> None:
    with pytest.raises(case.exc, match=case.match):
        case.call()


@pytest.mark.parametrize(
    ("call", "exc", "match"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_file_arguments_get_a_clear_error(
    tmp_path: Path, call: Callable[[Path], object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        call(tmp_path)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES] + [c[0] for c in FILE_CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_lists_and_integers_are_accepted_where_arrays_are(name: str) -> None:
    """The positive control: array-likes that are not float arrays convert, and agree."""
    layer, shape = LAYERS[name].example()
    x = np.arange(np.prod(shape)).reshape(shape) % 3
    np.testing.assert_array_equal(layer(x.tolist()), layer(x.astype(float)))


def test_a_failed_call_changes_nothing() -> None:
    """Bad input is rejected before any state moves: parameters, buffers, optimizer state."""
    m = ln.Sequential([ln.Dense(3, 4, rng=0), ln.BatchNorm1d(4), ln.Dense(4, 2, rng=1)])
    opt = ln.Adam(m.parameters(), lr=0.1)
    m.fit(X, Y, loss=ln.MSELoss(), optimizer=opt, epochs=1, verbose=0, rng=0)
    before = m.state_dict()
    opt_before = opt.state_dict()
    for bad in (with_bad(X, np.nan), X[:, :2], np.full((10, 3), "a")):
        with pytest.raises((ValueError, TypeError)):
            m.fit(bad, Y, loss=ln.MSELoss(), optimizer=opt, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="does not fit"):
        m.fit(X, Y[:, :1], loss=ln.MSELoss(), optimizer=opt, epochs=1, verbose=0)
    for name, value in m.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    for index, slots in opt.state_dict()["state"].items():
        for key, value in slots.items():
            np.testing.assert_array_equal(value, opt_before["state"][index][key])


def test_signatures_match_the_cases() -> None:
    """Guard against a case table drifting from the API: every bad_args key is a real argument."""
    for name, spec in LAYERS.items():
        params_ = inspect.signature(getattr(ln, name)).parameters
        for kwargs, _, _ in spec.bad_args:
            assert set(kwargs) <= set(params_), (name, kwargs)
