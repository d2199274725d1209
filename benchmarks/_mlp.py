"""One MLP recipe, run by every implementation: layernet, NumPy by hand, pure GEMM, peers.

All implementations start from the same initial weights and see the same
batches in the same order (the permutations are drawn once up front), so
their losses and accuracies agree and only their speed differs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import layernet


@dataclass(frozen=True)
class Recipe:
    sizes: tuple[int, ...]  # (in, hidden..., out)
    loss: str  # "mse" or "ce"
    optimizer: str  # "sgd" or "adam"
    lr: float
    batch_size: int
    epochs: int
    dtype: type[np.floating[Any]] = np.float64

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1


def batches(n: int, batch_size: int, epochs: int, seed: int = 0) -> list[list[np.ndarray]]:
    """Index arrays of every batch of every epoch, drawn once."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        out.append([perm[i : i + batch_size] for i in range(0, n, batch_size)])
    return out


def initial_weights(recipe: Recipe, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    model = build_layernet(recipe, seed)
    return [
        (layer.weight.value.copy(), layer.bias.value.copy())
        for layer in model
        if isinstance(layer, layernet.Dense)
    ]


def build_layernet(recipe: Recipe, seed: int = 0) -> layernet.Sequential:
    rng = np.random.default_rng(seed)
    layers: list[layernet.Layer] = []
    for i in range(recipe.n_layers):
        layers.append(
            layernet.Dense(recipe.sizes[i], recipe.sizes[i + 1], rng=rng, dtype=recipe.dtype)
        )
        if i < recipe.n_layers - 1:
            layers.append(layernet.ReLU())  # type: ignore[attr-defined]
    return layernet.Sequential(layers)


def _load(model: layernet.Sequential, init: list[tuple[np.ndarray, np.ndarray]]) -> None:
    dense = [layer for layer in model if isinstance(layer, layernet.Dense)]
    for layer, (w, b) in zip(dense, init, strict=True):
        layer.weight.value[...] = w
        layer.bias.value[...] = b


def _layernet_parts(recipe: Recipe, model: layernet.Sequential) -> tuple[Any, Any]:
    loss = layernet.MSELoss() if recipe.loss == "mse" else layernet.CrossEntropyLoss()  # type: ignore[attr-defined]
    if recipe.optimizer == "sgd":
        opt: layernet.Optimizer = layernet.SGD(model.parameters(), lr=recipe.lr)
    else:
        opt = layernet.Adam(model.parameters(), lr=recipe.lr)  # type: ignore[attr-defined]
    return loss, opt


def run_layernet(
    recipe: Recipe, init: Any, x: np.ndarray, y: np.ndarray, order: Any
) -> Callable[[np.ndarray], np.ndarray]:
    """layernet's own loop: forward -> loss -> backward -> step over the given batches."""
    model = build_layernet(recipe)
    _load(model, init)
    loss, opt = _layernet_parts(recipe, model)
    for epoch in order:
        xs, ys = x[np.concatenate(epoch)], y[np.concatenate(epoch)]
        bs = recipe.batch_size
        for start in range(0, len(xs), bs):
            loss.forward(
                model.forward(xs[start : start + bs], training=True), ys[start : start + bs]
            )
            model.backward_parameters(loss.backward())
            opt.step()
    return lambda q: model.predict(q, batch_size=4096)


def run_layernet_fit(
    recipe: Recipe, init: Any, x: np.ndarray, y: np.ndarray, order: Any
) -> Callable[[np.ndarray], np.ndarray]:
    """layernet's ``Sequential.fit`` (its own shuffling, same recipe)."""
    model = build_layernet(recipe)
    _load(model, init)
    loss, opt = _layernet_parts(recipe, model)
    model.fit(
        x,
        y,
        loss=loss,
        optimizer=opt,
        epochs=recipe.epochs,  # type: ignore[attr-defined]
        batch_size=recipe.batch_size,
        shuffle=True,
        verbose=0,
        rng=0,
    )
    return lambda q: model.predict(q, batch_size=4096)


def run_numpy(
    recipe: Recipe, init: Any, x: np.ndarray, y: np.ndarray, order: Any
) -> Callable[[np.ndarray], np.ndarray]:
    """Hand-written vectorised NumPy: the same maths, written directly, no library."""
    Ws = [w.copy() for w, _ in init]
    bs_ = [b.copy() for _, b in init]
    n_layers = len(Ws)
    adam = recipe.optimizer == "adam"
    if adam:
        m = [np.zeros_like(p) for p in Ws + bs_]
        v = [np.zeros_like(p) for p in Ws + bs_]
        t = 0
    labels = recipe.loss == "ce"
    bsz = recipe.batch_size
    for epoch in order:
        idx = np.concatenate(epoch)
        xs, ys = x[idx], y[idx]
        for start in range(0, len(xs), bsz):
            xb, yb = xs[start : start + bsz], ys[start : start + bsz]
            acts = [xb]
            for i in range(n_layers):
                z = acts[-1] @ Ws[i]
                z += bs_[i]
                if i < n_layers - 1:
                    np.maximum(z, 0, out=z)
                acts.append(z)
            out = acts[-1]
            n = out.shape[0]
            if labels:
                out -= out.max(axis=1, keepdims=True)
                np.exp(out, out=out)
                out /= out.sum(axis=1, keepdims=True)
                out[np.arange(n), yb] -= 1.0
                g = out
                g *= 1.0 / n
            else:
                g = (out - yb) * (2.0 / out.size)
            grads_w, grads_b = [None] * n_layers, [None] * n_layers
            for i in range(n_layers - 1, -1, -1):
                grads_w[i] = acts[i].T @ g
                grads_b[i] = g.sum(axis=0)
                if i > 0:
                    g = g @ Ws[i].T
                    g *= acts[i] > 0
            if adam:
                t += 1
                b1, b2, eps = 0.9, 0.999, 1e-8
                c1, c2 = 1 - b1**t, 1 - b2**t
                for j, (p, gp) in enumerate(zip(Ws + bs_, grads_w + grads_b, strict=True)):
                    m[j] *= b1
                    m[j] += (1 - b1) * gp
                    v[j] *= b2
                    v[j] += (1 - b2) * gp * gp
                    denom = np.sqrt(v[j] / c2)
                    denom += eps
                    p -= (recipe.lr / c1) * m[j] / denom
            else:
                for p, gp in zip(Ws + bs_, grads_w + grads_b, strict=True):
                    gp *= recipe.lr
                    p -= gp

    def predict(q: np.ndarray) -> np.ndarray:
        a = q
        for i in range(n_layers):
            a = a @ Ws[i] + bs_[i]
            if i < n_layers - 1:
                a = np.maximum(a, 0)
        return a

    return predict


def gemm_bound(recipe: Recipe, init: Any, n: int) -> float:
    """Seconds for exactly the matrix products of one epoch (out= buffers, no other work)."""
    dt = recipe.dtype
    Ws = [w.astype(dt) for w, _ in init]
    bsz = recipe.batch_size
    sizes = recipe.sizes
    steps = math.ceil(n / bsz)
    rng = np.random.default_rng(0)
    acts = [rng.standard_normal((bsz, s)).astype(dt) for s in sizes]
    gs = [rng.standard_normal((bsz, s)).astype(dt) for s in sizes]
    gw = [np.empty_like(w) for w in Ws]
    start = time.perf_counter()
    for _ in range(steps):
        for i in range(len(Ws)):
            np.matmul(acts[i], Ws[i], out=acts[i + 1])
        for i in range(len(Ws) - 1, -1, -1):
            np.matmul(acts[i].T, gs[i + 1], out=gw[i])
            if i > 0:
                np.matmul(gs[i + 1], Ws[i].T, out=gs[i])
    return time.perf_counter() - start


def flops_per_step(recipe: Recipe, batch: int) -> float:
    """Multiply-adds x2 of forward, weight gradients and input gradients (not the first's)."""
    pairs = list(zip(recipe.sizes[:-1], recipe.sizes[1:], strict=True))
    fwd = sum(a * b for a, b in pairs)
    dx = sum(a * b for a, b in pairs[1:])
    return 2.0 * batch * (2 * fwd + dx)


def run_torch(
    torch: Any, recipe: Recipe, init: Any, x: np.ndarray, y: np.ndarray, order: Any
) -> Callable[[np.ndarray], np.ndarray]:
    """Idiomatic PyTorch: nn.Sequential + autograd + torch.optim, same batches."""
    nn = torch.nn
    tdt = torch.float64 if recipe.dtype == np.float64 else torch.float32
    layers: list[Any] = []
    for i in range(recipe.n_layers):
        layers.append(nn.Linear(recipe.sizes[i], recipe.sizes[i + 1]))
        if i < recipe.n_layers - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to(tdt)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for lin, (w, b) in zip(linears, init, strict=True):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(b))
    crit = nn.MSELoss() if recipe.loss == "mse" else nn.CrossEntropyLoss()
    opt = (
        torch.optim.SGD(model.parameters(), lr=recipe.lr)
        if recipe.optimizer == "sgd"
        else torch.optim.Adam(model.parameters(), lr=recipe.lr)
    )
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y if recipe.loss == "mse" else y.astype(np.int64))
    bsz = recipe.batch_size
    for epoch in order:
        idx = torch.from_numpy(np.concatenate(epoch))
        xs, ys = xt[idx], yt[idx]
        for start in range(0, len(xs), bsz):
            opt.zero_grad()
            loss = crit(model(xs[start : start + bsz]), ys[start : start + bsz])
            loss.backward()
            opt.step()

    def predict(q: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(q)).numpy()

    return predict


def sklearn_model(nn: Any, recipe: Recipe, init: Any, epochs: int) -> Any:
    """scikit-learn's MLPClassifier/MLPRegressor with the same architecture and optimizer."""
    cls = nn.MLPClassifier if recipe.loss == "ce" else nn.MLPRegressor
    return cls(
        hidden_layer_sizes=recipe.sizes[1:-1],
        activation="relu",
        solver=recipe.optimizer,
        alpha=0.0,
        batch_size=recipe.batch_size,
        learning_rate_init=recipe.lr,
        max_iter=epochs,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        momentum=0.0,
        nesterovs_momentum=False,
    )
