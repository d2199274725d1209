"""`seed`: the notebook's 2-2-1 sigmoid network, MSE, per-sample SGD lr 0.1, 1000 epochs."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

import layernet
from layernet.__main__ import build_gender_model, train_per_sample
from layernet.datasets import load_gender, load_gender_test

from ._harness import Row, WorkloadResult, judge, race
from ._peers import torch_or_none

LR = 0.1


def _initial(seed: int) -> dict[str, np.ndarray]:
    return build_gender_model(seed).state_dict()


def _layernet_loop(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int):
    model = build_gender_model(0)
    model.load_state_dict(init)
    train_per_sample(model, x, y, epochs=epochs, lr=LR)
    return model


def _layernet_fit(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int):
    model = build_gender_model(0)
    model.load_state_dict(init)
    model.fit(  # type: ignore[attr-defined]
        x,
        y,
        loss=layernet.MSELoss(),
        optimizer=layernet.SGD(model.parameters(), lr=LR),
        epochs=epochs,
        batch_size=1,
        shuffle=False,
        verbose=0,
    )
    return model


def _numpy(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int):
    """Hand-written vectorised NumPy: the same step with nothing but the maths."""
    W1, b1 = init["0.weight"].copy(), init["0.bias"].copy()
    W2, b2 = init["2.weight"].copy(), init["2.bias"].copy()
    samples = [(x[i : i + 1], y[i : i + 1]) for i in range(len(x))]
    for _ in range(epochs):
        for xb, yb in samples:
            h = expit(xb @ W1 + b1)
            o = expit(h @ W2 + b2)
            d_o = (o - yb) * (2.0 / o.size) * o * (1.0 - o)
            d_h = (d_o @ W2.T) * h * (1.0 - h)
            W2 -= LR * (h.T @ d_o)
            b2 -= LR * d_o.sum(axis=0)
            W1 -= LR * (xb.T @ d_h)
            b1 -= LR * d_h.sum(axis=0)

    def predict(q: np.ndarray) -> np.ndarray:
        return expit(expit(q @ W1 + b1) @ W2 + b2)

    return predict


def _torch(torch: Any, init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, epochs: int):
    """Idiomatic PyTorch: nn.Sequential + autograd + torch.optim.SGD, float64."""
    nn = torch.nn
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
    with torch.no_grad():
        for i in (0, 2):
            model[i].weight.copy_(torch.from_numpy(init[f"{i}.weight"].T.copy()))
            model[i].bias.copy_(torch.from_numpy(init[f"{i}.bias"]))
    crit = nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.copy())
    samples = [(xt[i : i + 1], yt[i : i + 1]) for i in range(len(x))]
    for _ in range(epochs):
        for xb, yb in samples:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()

    def predict(q: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(q.copy())).numpy()

    return predict


def _gemm_only(init: dict[str, np.ndarray], x: np.ndarray, epochs: int) -> None:
    """Exactly the matrix products of the training steps, nothing else."""
    W1, W2 = init["0.weight"], init["2.weight"]
    h, d_o, d_h = np.ones((1, 2)), np.ones((1, 1)), np.ones((1, 2))
    samples = [x[i : i + 1] for i in range(len(x))]
    for _ in range(epochs):
        for xb in samples:
            xb @ W1
            h @ W2
            d_o @ W2.T
            h.T @ d_o
            xb.T @ d_h


def run(quick: bool = False) -> WorkloadResult:
    epochs = 50 if quick else 1000
    repeats = 2 if quick else 7
    train, test = load_gender(), load_gender_test()
    x, y = np.array(train.x), np.array(train.y)
    init = _initial(0)
    steps = epochs * len(x)
    rows: list[Row] = []
    preds: dict[str, np.ndarray] = {}

    entries: dict[str, Any] = {
        "layernet": lambda: _layernet_loop(init, x, y, epochs),
        "layernet fit()": lambda: _layernet_fit(init, x, y, epochs),
        "numpy by hand": lambda: _numpy(init, x, y, epochs),
        "pure GEMM": lambda: _gemm_only(init, x, epochs),
    }
    notes = [
        "scikit-learn: skipped, MLPRegressor cannot express a sigmoid output with per-sample SGD"
    ]
    torch = torch_or_none()
    if torch is not None:
        entries["PyTorch"] = lambda: _torch(torch, init, x, y, epochs)
    else:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    timed = race(entries, repeats=repeats)
    for name in timed.rounds:
        rows.append(timed.row(name, steps))
        trained = timed.last[name]
        if name.startswith("layernet"):
            preds[name] = np.asarray(trained.predict(test.x))  # type: ignore[attr-defined]
        elif name != "pure GEMM":
            preds[name] = np.asarray(trained(np.array(test.x)))  # type: ignore[operator]
    ref = preds["layernet"]
    for row in rows:
        if row.name in preds:
            row.extra["Emily"] = float(preds[row.name][0, 0])
            row.extra["Frank"] = float(preds[row.name][1, 0])
            row.extra["max |diff| vs layernet"] = float(np.max(np.abs(preds[row.name] - ref)))
    result = WorkloadResult(
        "seed",
        f"2-2-1 sigmoid, MSE, per-sample SGD lr 0.1, {epochs} epochs on the four people, float64",
        "us/step",
        "numpy by hand",
        rows,
        notes=notes,
    )
    targets = [
        judge("layernet / numpy by hand", result.ratio("layernet"), "<= 1.3"),
        judge("PyTorch / layernet (speed-up)", result.ratio("PyTorch", "layernet"), ">= 5"),
    ]
    result.targets = [t for t in targets if t is not None]
    agree = all(r.extra.get("max |diff| vs layernet", 0.0) <= 1e-9 for r in rows)
    result.notes.append(f"all implementations agree on Emily/Frank to 1e-9: {agree}")
    return result
