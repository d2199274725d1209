"""`conv`: a small CNN on the 8x8 digits, batch 64, Adam: time per training step.

Conv2d(1, 16, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Conv2d(16, 32, 3, padding=1)
-> ReLU -> Flatten -> Dense(512, 10), cross-entropy, Adam lr 1e-3, float32.
Side by side: layernet, a hand-written NumPy im2col version of the same step,
and PyTorch, all from the same initial weights over the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import layernet

from . import _mlp
from ._harness import Row, WorkloadResult, against_peers, race
from ._mlp_workload import accuracy
from ._peers import torch_or_none

LR = 1e-3
BATCH = 64


def build(seed: int = 0) -> layernet.Sequential:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return layernet.Sequential(
        [
            layernet.Conv2d(1, 16, 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.MaxPool2d(2),
            layernet.Conv2d(16, 32, 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.Flatten(),
            layernet.Dense(512, 10, rng=rng, dtype=f32),
        ]
    )


def run_layernet(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, order: Any):
    model = build()
    model.load_state_dict(init)
    loss, opt = layernet.CrossEntropyLoss(), layernet.Adam(model.parameters(), lr=LR)
    for epoch in order:
        for idx in epoch:
            loss.forward(model.forward(x[idx], training=True), y[idx])
            model.backward_parameters(loss.backward())
            opt.step()
    return lambda q: model.predict(q, batch_size=512)


def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3x3, stride 1, padding 1, by im2col: one GEMM."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = sliding_window_view(xp, (3, 3), axis=(2, 3))  # n c h w 3 3
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * 9)
    y = cols @ w.reshape(w.shape[0], -1).T
    y += b
    return y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv_backward(
    g: np.ndarray, w: np.ndarray, cols: np.ndarray, x_shape: tuple[int, ...], need_dx: bool
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    n, c, h, wd = x_shape
    oc = w.shape[0]
    g2 = g.transpose(0, 2, 3, 1).reshape(-1, oc)
    dw = (g2.T @ cols).reshape(w.shape)
    db = g2.sum(axis=0)
    if not need_dx:
        return None, dw, db
    dcols = (g2 @ w.reshape(oc, -1)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2), dtype=g.dtype)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i : i + h, j : j + wd] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def run_numpy(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, order: Any):
    """The same step written directly in NumPy: im2col convolutions, reshape max-pool, Adam."""
    names = ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    params = [init[k].copy() for k in names]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    b1, b2, eps = 0.9, 0.999, 1e-8

    def forward(xb: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...]]:
        w1, c1b, w2, c2b, wd, bd = params
        z1, cols1 = _conv_forward(xb, w1, c1b)
        a1 = np.maximum(z1, 0)
        n = xb.shape[0]
        win = a1.reshape(n, 16, 4, 2, 4, 2)
        p1 = win.max(axis=(3, 5))
        z2, cols2 = _conv_forward(p1, w2, c2b)
        a2 = np.maximum(z2, 0)
        flat = a2.reshape(n, -1)
        logits = flat @ wd + bd
        return logits, (z1, cols1, a1, win, p1, z2, cols2, flat)

    for epoch in order:
        for idx in epoch:
            xb, yb = x[idx], y[idx]
            logits, (z1, cols1, a1, win, p1, z2, cols2, flat) = forward(xb)
            n = xb.shape[0]
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            logits /= logits.sum(axis=1, keepdims=True)
            logits[np.arange(n), yb] -= 1.0
            g = logits * np.float32(1.0 / n)
            d_wd, d_bd = flat.T @ g, g.sum(axis=0)
            g_a2 = (g @ params[4].T).reshape(z2.shape) * (z2 > 0)
            g_p1, d_w2, d_b2 = _conv_backward(g_a2, params[2], cols2, p1.shape, True)
            mask = win == p1[:, :, :, None, :, None]
            g_a1 = (mask * g_p1[:, :, :, None, :, None]).reshape(a1.shape)
            g_z1 = g_a1 * (z1 > 0)
            _, d_w1, d_b1 = _conv_backward(g_z1, params[0], cols1, xb.shape, False)
            t += 1
            c1, c2 = 1 - b1**t, 1 - b2**t
            for j, grad in enumerate([d_w1, d_b1, d_w2, d_b2, d_wd, d_bd]):
                m[j] *= b1
                m[j] += (1 - b1) * grad
                v[j] *= b2
                v[j] += (1 - b2) * grad * grad
                denom = np.sqrt(v[j] / c2)
                denom += eps
                params[j] -= (LR / c1) * m[j] / denom

    return lambda q: forward(q)[0]


def run_torch(torch: Any, init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, order: Any):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(512, 10),
    )
    with torch.no_grad():
        for i in (0, 3):
            model[i].weight.copy_(torch.from_numpy(init[f"{i}.weight"]))
            model[i].bias.copy_(torch.from_numpy(init[f"{i}.bias"]))
        model[6].weight.copy_(torch.from_numpy(np.ascontiguousarray(init["6.weight"].T)))
        model[6].bias.copy_(torch.from_numpy(init["6.bias"]))
    crit, opt = nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    for epoch in order:
        for idx in epoch:
            ti = torch.from_numpy(idx)
            opt.zero_grad()
            crit(model(xt[ti]), yt[ti]).backward()
            opt.step()

    def predict(q: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(q)).numpy()

    return predict


def run(quick: bool = False) -> WorkloadResult:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        return WorkloadResult(
            "conv",
            "skipped: scikit-learn is not installed (it ships the data)",
            "us/step",
            "numpy by hand",
            [Row("skipped", 0.0)],
        )
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, np.newaxis]
    x, x_test, y, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    epochs = 1 if quick else 5
    order = _mlp.batches(len(x), BATCH, epochs)
    steps = sum(len(e) for e in order)
    init = build().state_dict()
    repeats = 1 if quick else 3
    rows: list[Row] = []
    notes: list[str] = []

    entries: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = {
        "layernet": lambda: run_layernet(init, x, y, order),
        "numpy by hand": lambda: run_numpy(init, x, y, order),
    }
    torch = torch_or_none()
    if torch is None:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    else:
        entries["PyTorch"] = lambda: run_torch(torch, init, x, y, order)
    timed = race(entries, repeats=repeats)
    for name in timed.rounds:
        predict = timed.last[name]
        assert callable(predict)
        rows.append(timed.row(name, steps, {"test accuracy": accuracy(predict(x_test), y_test)}))
    return against_peers(
        "conv",
        f"CNN 1-16-32 channels (3x3, max-pool 2) + Dense(512, 10), cross-entropy, Adam lr 1e-3, "
        f"batch 64, {epochs} epochs on {len(x)} digits as 1x8x8 images, float32",
        "us/step",
        rows,
        notes,
        has_torch=torch is not None,
        torch_limit="<= 1.5",
        by_hand_limit="<= 1.2",
    )
