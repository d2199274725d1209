"""Sequence workloads: an LSTM, a GRU and a MultiHeadAttention training step, float32.

Each step is forward, mean squared error against a fixed target, backward to the
parameters and a plain SGD update (lr 1e-2), from the same initial weights on the
same batches, side by side: layernet, the same step written by hand in NumPy, and
PyTorch CPU. Recurrent: batch 64, time 40, input 32, hidden 128, the last hidden
state scored. Attention: batch 32, time 64, embed 128, 4 heads, every position
scored. The by-hand steps' parameters after the run are compared with layernet's
(``max |diff|``), so the three compute the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import layernet

from ._harness import WorkloadResult, against_peers, race
from ._peers import torch_or_none

LR = 1e-2
F32 = np.float32


def _sigmoid(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-a) = inf: the sigmoid is 0
        return 1.0 / (1.0 + np.exp(-a))


def _layer(kind: str, size: dict[str, int]) -> layernet.Layer:
    if kind == "attention":
        return layernet.MultiHeadAttention(size["embed"], size["heads"], rng=0, dtype=F32)
    cls = layernet.LSTM if kind == "lstm" else layernet.GRU
    return cls(size["input"], size["hidden"], rng=0, dtype=F32)


def run_layernet(kind: str, size: dict[str, int], data: Any) -> Callable[[], dict[str, Any]]:
    layer = _layer(kind, size)
    loss, opt = layernet.MSELoss(), layernet.SGD(layer.parameters(), lr=LR)
    for x, y in data:
        loss.forward(layer.forward(x, training=True), y)
        layer.backward_parameters(loss.backward())
        opt.step()
    return lambda: layer.state_dict()


def _recurrent_by_hand(kind: str, state: dict[str, np.ndarray], data: Any) -> None:
    """BPTT written out for one LSTM or GRU layer, in place on ``state``."""
    w_ih, w_hh, b_ih, b_hh = (state[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h_size = w_hh.shape[0]
    for x, y in data:
        n, t_len, _ = x.shape
        p = (x.reshape(n * t_len, -1) @ w_ih + b_ih).reshape(n, t_len, -1)
        h = np.zeros((n, h_size), F32)
        c = np.zeros((n, h_size), F32)
        hs, cache = [h], []
        for t in range(t_len):
            q = h @ w_hh + b_hh
            if kind == "lstm":
                a = p[:, t] + q
                s = _sigmoid(a)
                i, f, o = s[:, :h_size], s[:, h_size : 2 * h_size], s[:, 3 * h_size :]
                g = np.tanh(a[:, 2 * h_size : 3 * h_size])
                c_prev, c = c, f * c + i * g
                tc = np.tanh(c)
                h = o * tc
                cache.append((i, f, g, o, c_prev, tc))
            else:
                rz = _sigmoid(p[:, t, : 2 * h_size] + q[:, : 2 * h_size])
                r, z = rz[:, :h_size], rz[:, h_size:]
                qn = q[:, 2 * h_size :]
                nn = np.tanh(p[:, t, 2 * h_size :] + r * qn)
                h_prev, h = h, nn + z * (h - nn)
                cache.append((r, z, nn, qn, h_prev))
            hs.append(h)
        dh = (2.0 / h.size) * (h - y)
        dc = np.zeros_like(dh)
        dp = np.empty_like(p)
        g_hh, g_bhh = np.zeros_like(w_hh), np.zeros_like(b_hh)
        for t in range(t_len - 1, -1, -1):
            if kind == "lstm":
                i, f, g, o, c_prev, tc = cache[t]
                dc = dc + dh * o * (1 - tc * tc)
                dq = np.concatenate(
                    (
                        dc * g * i * (1 - i),
                        dc * c_prev * f * (1 - f),
                        dc * i * (1 - g * g),
                        dh * tc * o * (1 - o),
                    ),
                    axis=1,
                )
                dp[:, t], direct, dc = dq, 0.0, dc * f
            else:
                r, z, nn, qn, h_prev = cache[t]
                dan = dh * (1 - z) * (1 - nn * nn)
                dar = dan * qn * r * (1 - r)
                daz = dh * (h_prev - nn) * z * (1 - z)
                dp[:, t] = np.concatenate((dar, daz, dan), axis=1)
                dq = np.concatenate((dar, daz, dan * r), axis=1)
                direct = dh * z
            g_hh += hs[t].T @ dq
            g_bhh += dq.sum(axis=0)
            dh = direct + dq @ w_hh.T
        rows = dp.reshape(n * t_len, -1)
        w_ih -= LR * (x.reshape(n * t_len, -1).T @ rows)
        b_ih -= LR * rows.sum(axis=0)
        w_hh -= LR * g_hh
        b_hh -= LR * g_bhh


def _splitter(n: int, t_len: int, heads: int, d: int) -> Callable[[np.ndarray], np.ndarray]:
    """(n*T, E) rows -> (n, heads, T, d)."""
    return lambda m: m.reshape(n, t_len, heads, d).transpose(0, 2, 1, 3)


def _merge(m: np.ndarray) -> np.ndarray:
    """(n, heads, T, d) -> (n*T, E) rows."""
    n, heads, t_len, d = m.shape
    return m.transpose(0, 2, 1, 3).reshape(n * t_len, heads * d)


def _attention_by_hand(state: dict[str, np.ndarray], heads: int, data: Any) -> None:
    """Multi-head self-attention's forward and backward written out, in place on ``state``."""
    for x, y in data:
        n, t_len, e = x.shape
        d = e // heads
        scale = F32(1.0 / math.sqrt(d))
        rows = x.reshape(-1, e)
        split = _splitter(n, t_len, heads, d)

        q, k, v = (split(rows @ state[f"{s}.weight"] + state[f"{s}.bias"]) for s in "qkv")
        s_ = (q @ k.transpose(0, 1, 3, 2)) * scale
        s_ -= s_.max(axis=-1, keepdims=True)
        a = np.exp(s_)
        a /= a.sum(axis=-1, keepdims=True)
        o = _merge(a @ v)
        out = o @ state["out.weight"] + state["out.bias"]
        g = (2.0 / out.size) * (out - y.reshape(out.shape))
        d_o = split(g @ state["out.weight"].T)
        grads = {"out.weight": o.T @ g, "out.bias": g.sum(axis=0)}
        d_v = a.transpose(0, 1, 3, 2) @ d_o
        d_a = d_o @ v.transpose(0, 1, 3, 2)
        d_s = a * (d_a - (d_a * a).sum(axis=-1, keepdims=True))
        d_q, d_k = (d_s @ k) * scale, (d_s.transpose(0, 1, 3, 2) @ q) * scale
        for s, dm in zip("qkv", (d_q, d_k, d_v), strict=True):
            dm2 = _merge(dm)
            grads[f"{s}.weight"], grads[f"{s}.bias"] = rows.T @ dm2, dm2.sum(axis=0)
        for name, grad in grads.items():
            state[name] -= LR * grad


def run_numpy(kind: str, size: dict[str, int], init: dict[str, np.ndarray], data: Any):
    state = {k: v.copy() for k, v in init.items()}
    if kind == "attention":
        _attention_by_hand(state, size["heads"], data)
    else:
        _recurrent_by_hand(kind, state, data)
    return lambda: state


def run_torch(torch: Any, kind: str, size: dict[str, int], init: dict[str, Any], data: Any):
    nn = torch.nn
    if kind == "attention":
        e = size["embed"]
        model = nn.MultiheadAttention(e, size["heads"], batch_first=True)
        with torch.no_grad():
            model.in_proj_weight.copy_(
                torch.from_numpy(np.concatenate([init[f"{s}.weight"].T for s in "qkv"]))
            )
            model.in_proj_bias.copy_(
                torch.from_numpy(np.concatenate([init[f"{s}.bias"] for s in "qkv"]))
            )
            model.out_proj.weight.copy_(torch.from_numpy(init["out.weight"].T.copy()))
            model.out_proj.bias.copy_(torch.from_numpy(init["out.bias"]))

        def forward(xt: Any) -> Any:
            return model(xt, xt, xt, need_weights=False)[0]
    else:
        cls = nn.LSTM if kind == "lstm" else nn.GRU
        model = cls(size["input"], size["hidden"], batch_first=True)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(model, name + "_l0").copy_(torch.from_numpy(init[name].T.copy()))

        def forward(xt: Any) -> Any:
            return model(xt)[0][:, -1]

    opt = torch.optim.SGD(model.parameters(), lr=LR)
    crit = nn.MSELoss()
    tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    for xt, yt in tensors:
        opt.zero_grad()
        crit(forward(xt), yt).backward()
        opt.step()
    return lambda: None


SIZES = {
    "lstm": {"batch": 64, "time": 40, "input": 32, "hidden": 128},
    "gru": {"batch": 64, "time": 40, "input": 32, "hidden": 128},
    "attention": {"batch": 32, "time": 64, "embed": 128, "heads": 4},
}


def run_workload(kind: str, quick: bool = False) -> WorkloadResult:
    size = SIZES[kind]
    rng = np.random.default_rng(0)
    steps = 2 if quick else 10
    features = size["embed"] if kind == "attention" else size["input"]
    out = (size["time"], size["embed"]) if kind == "attention" else (size["hidden"],)
    data = [
        (
            rng.normal(size=(size["batch"], size["time"], features)).astype(F32),
            rng.normal(size=(size["batch"], *out)).astype(F32),
        )
        for _ in range(steps)
    ]
    init = _layer(kind, size).state_dict()
    entries: dict[str, Callable[[], Callable[[], Any]]] = {
        "layernet": lambda: run_layernet(kind, size, data),
        "numpy by hand": lambda: run_numpy(kind, size, init, data),
    }
    notes: list[str] = []
    torch = torch_or_none()
    if torch is None:
        notes.append("PyTorch: skipped, not installed (pip install -e '.[bench]')")
    else:
        entries["PyTorch"] = lambda: run_torch(torch, kind, size, init, data)
    # seven rounds of about a second: this machine's speed moves from one second to the next
    timed = race(entries, repeats=1 if quick else 7)
    ours = timed.last["layernet"]()  # type: ignore[operator]
    by_hand = timed.last["numpy by hand"]()  # type: ignore[operator]
    diff = max(float(np.abs(ours[k] - by_hand[k]).max()) for k in ours)
    rows = [
        timed.row(name, steps, {"max |diff| vs layernet": diff} if "hand" in name else {})
        for name in timed.rounds
    ]
    shape = ", ".join(f"{k} {v}" for k, v in size.items())
    title = {"lstm": "LSTM", "gru": "GRU", "attention": "MultiHeadAttention"}[kind]
    return against_peers(
        kind,
        f"{title} training step ({shape}): forward, MSE, backward, SGD; float32",
        "us/step",
        rows,
        notes,
        has_torch=torch is not None,
        torch_limit="<= 1.5",
        by_hand_limit="<= 1.2",
    )
