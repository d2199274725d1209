"""A model built in float32 keeps float32 in every output, gradient and optimizer state."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import layernet as ln

F32 = np.float32


def build() -> ln.Sequential:
    return ln.Sequential(
        [
            ln.Dense(6, 8, rng=0, dtype=F32),
            ln.BatchNorm1d(8, dtype=F32),
            ln.ReLU(),
            ln.Dropout(0.2, rng=1),
            ln.Dense(8, 8, rng=2, dtype=F32),
            ln.LayerNorm(8, dtype=F32),
            ln.GELU(),
            ln.Dense(8, 8, rng=3, dtype=F32),
            ln.Tanh(),
            ln.Dense(8, 8, rng=4, dtype=F32),
            ln.ELU(),
            ln.Dense(8, 8, rng=5, dtype=F32),
            ln.LeakyReLU(),
            ln.Dense(8, 8, rng=6, dtype=F32),
            ln.Softplus(),
            ln.Identity(),
            ln.Dense(8, 3, rng=7, dtype=F32),
        ]
    )


OPTIMIZERS: list[Callable[[ln.Sequential], ln.Optimizer]] = [
    lambda m: ln.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda m: ln.Adam(m.parameters(), weight_decay=1e-3, max_grad_norm=1.0),
    lambda m: ln.AdamW(m.parameters()),
    lambda m: ln.RMSprop(m.parameters(), momentum=0.5, centered=True),
    lambda m: ln.Adagrad(m.parameters(), lr_decay=0.01),
]

LOSSES: list[tuple[ln.Loss, Callable[[np.random.Generator], np.ndarray]]] = [
    (ln.CrossEntropyLoss(label_smoothing=0.1), lambda rng: rng.integers(0, 3, size=16)),
    (ln.MSELoss(), lambda rng: rng.normal(size=(16, 3))),
    (ln.HuberLoss(), lambda rng: rng.normal(size=(16, 3))),
    (ln.BCEWithLogitsLoss(), lambda rng: rng.integers(0, 2, size=(16, 3))),
]


@pytest.mark.parametrize("make_opt", OPTIMIZERS)
@pytest.mark.parametrize(("loss", "target"), LOSSES, ids=lambda v: repr(v)[:20])
def test_float32_end_to_end(
    make_opt: Callable[[ln.Sequential], ln.Optimizer],
    loss: ln.Loss,
    target: Callable[[np.random.Generator], np.ndarray],
) -> None:
    rng = np.random.default_rng(0)
    model = build()
    opt = make_opt(model)
    x = rng.normal(size=(16, 6)).astype(F32)
    y = target(rng)
    schedule = ln.CosineAnnealingLR(opt, T_max=3)
    for _ in range(3):
        out = model(x, training=True)
        assert out.dtype == F32
        value = loss(out, y)
        assert np.isfinite(value)
        grad_out = loss.backward()
        assert grad_out.dtype == F32
        assert model.backward(grad_out).dtype == F32
        opt.step()
        schedule.step()
    assert model.predict(x).dtype == F32
    for name, p in model.named_parameters():
        assert p.value.dtype == F32, name
        assert p.grad.dtype == F32, name
        assert np.isfinite(p.value).all(), name
    for name, buf in model.named_buffers():
        assert buf.dtype == F32, name
    for state in opt.state.values():
        for key, buf in state.items():
            assert buf.dtype == F32, key
