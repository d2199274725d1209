"""`cifar`: a CIFAR-sized CNN on synthetic 3x32x32 images, batch 64, SGD: time per training step.

Conv2d(3, 32) -> ReLU -> Conv2d(32, 32) -> ReLU -> MaxPool2d(2) -> Conv2d(32, 64) -> ReLU
-> Conv2d(64, 64) -> ReLU -> MaxPool2d(2) -> Flatten -> Dense(4096, 10), every
convolution 3x3 with padding 1, cross-entropy, plain SGD lr 0.01, float32.
Side by side: layernet, a hand-written NumPy im2col version of the same step,
and PyTorch, all from the same initial weights over the same batches; each
reports the loss of its last step, which must agree across them.

Unlike `conv` (8x8 digits, where every layer is small), here the matrix
products dominate: about 9.3 GFLOP per step, so the yardstick for a NumPy
library is the time of those products, and PyTorch's oneDNN kernels are the
peer to match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import layernet

from ._harness import WorkloadResult, against_peers, race
from ._peers import torch_or_none
from .conv import _conv_backward, _conv_forward

LR = 0.01
BATCH = 64
CHANNELS = (3, 32, 32, 64, 64)
CONVS = ("0", "2", "5", "7")  # state-dict prefixes of the convolutions in `build`
DENSE = "11"


def build(seed: int = 0) -> layernet.Sequential:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    c = CHANNELS
    return layernet.Sequential(
        [
            layernet.Conv2d(c[0], c[1], 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.Conv2d(c[1], c[2], 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.MaxPool2d(2),
            layernet.Conv2d(c[2], c[3], 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.Conv2d(c[3], c[4], 3, padding=1, rng=rng, dtype=f32),
            layernet.ReLU(),
            layernet.MaxPool2d(2),
            layernet.Flatten(),
            layernet.Dense(c[4] * 8 * 8, 10, rng=rng, dtype=f32),
        ]
    )


def make_data(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` batches of standard-normal 3x32x32 float32 images with uniform random labels."""
    rng = np.random.default_rng(0)
    n = steps * BATCH
    return rng.standard_normal((n, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, n)


def flops_per_step() -> float:
    """The matrix products of one step: forward, dW and (but for the first layer) dL/dx."""
    total, side = 0.0, 32
    for i in range(4):
        cin, cout = CHANNELS[i], CHANNELS[i + 1]
        products = 3 if i else 2  # nobody needs dL/dx of the first layer
        total += products * 2.0 * BATCH * side * side * cout * cin * 9
        if i % 2:
            side //= 2
    return total + 3 * 2.0 * BATCH * CHANNELS[-1] * side * side * 10


def _batches(steps: int) -> list[slice]:
    return [slice(i * BATCH, (i + 1) * BATCH) for i in range(steps)]


def run_layernet(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, steps: int) -> float:
    model = build()
    model.load_state_dict(init)
    loss, opt = layernet.CrossEntropyLoss(), layernet.SGD(model.parameters(), lr=LR)
    value = float("nan")
    for idx in _batches(steps):
        value = float(loss.forward(model.forward(x[idx], training=True), y[idx]))
        model.backward_parameters(loss.backward())
        opt.step()
    return value


def _pool_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, c, h, w = a.shape
    win = a.reshape(n, c, h // 2, 2, w // 2, 2)
    return win.max(axis=(3, 5)), win


def _pool_backward(g: np.ndarray, win: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """Every element equal to its window's maximum gets the gradient (ties are rare: see below).

    Ties sit at zero, after a ReLU, and the ReLU's backward zeroes them anyway.
    """
    mask = win == pooled[:, :, :, None, :, None]
    return mask * g[:, :, :, None, :, None]  # (n, c, h / 2, 2, w / 2, 2)


def run_numpy(init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """The same step written directly in NumPy: im2col convolutions, reshape max-pool, SGD."""
    names = [f"{i}.{p}" for i in (*CONVS, DENSE) for p in ("weight", "bias")]
    params = [init[k].copy() for k in names]
    value = float("nan")
    for idx in _batches(steps):
        xb, yb = x[idx], y[idx]
        n = xb.shape[0]
        grads: list[np.ndarray] = []
        cache = []
        a = xb
        for layer in range(4):
            w, b = params[2 * layer], params[2 * layer + 1]
            z, cols = _conv_forward(a, w, b)
            cache.append((a.shape, cols, z))
            a = np.maximum(z, 0)
            if layer % 2:
                pooled, win = _pool_forward(a)
                cache[-1] += (win, pooled)
                a = pooled
        flat = np.ascontiguousarray(a).reshape(n, -1)
        logits = flat @ params[8] + params[9]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        value = float(-np.mean(np.log(logits[np.arange(n), yb])))
        logits[np.arange(n), yb] -= 1.0
        g = logits * np.float32(1.0 / n)
        grads = [flat.T @ g, g.sum(axis=0)]
        g_a = (g @ params[8].T).reshape(a.shape)
        for layer in range(3, -1, -1):
            entry = cache[layer]
            if layer % 2:
                shape, cols, z, win, pooled = entry
                g_a = _pool_backward(g_a, win, pooled).reshape(z.shape)
            else:
                shape, cols, z = entry
            g_z = g_a * (z > 0)
            g_x, d_w, d_b = _conv_backward(g_z, params[2 * layer], cols, shape, layer > 0)
            grads = [d_w, d_b, *grads]
            if g_x is not None:
                g_a = g_x
        for p, grad in zip(params, grads, strict=True):
            p -= LR * grad
    return value


def run_torch(
    torch: Any, init: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, steps: int
) -> float:
    nn = torch.nn
    c = CHANNELS
    model = nn.Sequential(
        nn.Conv2d(c[0], c[1], 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c[1], c[2], 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c[2], c[3], 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c[3], c[4], 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c[4] * 8 * 8, 10),
    )
    with torch.no_grad():
        for i in CONVS:
            model[int(i)].weight.copy_(torch.from_numpy(init[f"{i}.weight"]))
            model[int(i)].bias.copy_(torch.from_numpy(init[f"{i}.bias"]))
        dense = model[int(DENSE)]
        dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(init[f"{DENSE}.weight"].T)))
        dense.bias.copy_(torch.from_numpy(init[f"{DENSE}.bias"]))
    crit, opt = nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    value = float("nan")
    for idx in _batches(steps):
        opt.zero_grad()
        loss = crit(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        value = float(loss.item())
    return value


def run(quick: bool = False) -> WorkloadResult:
    steps = 2 if quick else 32
    x, y = make_data(steps)
    init = build().state_dict()
    notes: list[str] = []
    entries: dict[str, Callable[[], float]] = {
        "layernet": lambda: run_layernet(init, x, y, steps),
        "numpy by hand": lambda: run_numpy(init, x, y, steps),
    }
    torch = torch_or_none()
    if torch is None:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    else:
        entries["PyTorch"] = lambda: run_torch(torch, init, x, y, steps)
    timed = race(entries, repeats=1 if quick else 3)
    flops = flops_per_step()
    rows = []
    for name in timed.rounds:
        loss = timed.last[name]
        assert isinstance(loss, float)
        row = timed.row(name, steps, {f"loss after {steps} steps": loss})
        row.extra["GFLOP/s"] = flops / row.seconds / 1e9
        rows.append(row)
    losses = [float(loss) for loss in timed.last.values()]  # type: ignore[arg-type]
    notes.append(
        f"the matrix products of one step are {flops / 1e9:.2f} GFLOP; the last step's losses "
        f"differ by at most {max(losses) - min(losses):.1e} across implementations"
    )
    return against_peers(
        "cifar",
        f"CNN 3-32-32-64-64 channels (3x3, padding 1, max-pool 2 after every second) + "
        f"Dense(4096, 10), cross-entropy, SGD lr {LR}, batch {BATCH}, {steps} steps on "
        "synthetic 3x32x32 images, float32",
        "ms/step",
        rows,
        notes,
        has_torch=torch is not None,
        torch_limit="<= 1.0",
        by_hand_limit="<= 1.0",
    )
