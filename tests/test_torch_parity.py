"""Optional: layers, losses, optimizers, clipping and schedules against torch, in float64.

Skipped unless torch is installed (it is not a dependency, not even a dev
one); install ``torch==2.13.0`` (CPU) to run it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layernet as ln

torch = pytest.importorskip("torch")
nn = torch.nn

Array = np.ndarray[Any, Any]


def t(a: Array, grad: bool = False) -> Any:
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


# -- layers -----------------------------------------------------------------------------------


def _dense() -> tuple[ln.Layer, Any]:
    ours = ln.Dense(4, 3, rng=0)
    theirs = nn.Linear(4, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(t(ours.weight.value.T))
        theirs.bias.copy_(t(ours.bias.value))
    return ours, theirs


def _norm(ours: ln.BatchNorm1d | ln.LayerNorm, theirs: Any) -> tuple[ln.Layer, Any]:
    theirs = theirs.double()  # before copying, so gamma and beta are not rounded to float32
    rng = np.random.default_rng(1)
    ours.gamma.value[...] = rng.uniform(0.5, 1.5, size=ours.gamma.shape)
    ours.beta.value[...] = rng.normal(size=ours.beta.shape)
    with torch.no_grad():
        theirs.weight.copy_(t(ours.gamma.value))
        theirs.bias.copy_(t(ours.beta.value))
    return ours, theirs


def _bn_after_a_batch(c: int, shape: tuple[int, ...]) -> tuple[ln.Layer, Any]:
    ours, theirs = _norm(ln.BatchNorm1d(c, momentum=0.3), nn.BatchNorm1d(c, momentum=0.3))
    x = np.random.default_rng(2).normal(1.0, 2.0, size=shape)
    ours.forward(x, training=True)
    theirs.train()
    theirs(t(x))
    return ours, theirs


PARAM_NAMES = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}

LAYERS: list[tuple[str, Callable[[], tuple[ln.Layer, Any]], tuple[int, ...], bool]] = [
    ("Identity", lambda: (ln.Identity(), nn.Identity()), (4, 5), False),
    ("Sigmoid", lambda: (ln.Sigmoid(), nn.Sigmoid()), (4, 5), False),
    ("Tanh", lambda: (ln.Tanh(), nn.Tanh()), (4, 5), False),
    ("ReLU", lambda: (ln.ReLU(), nn.ReLU()), (4, 5), False),
    ("LeakyReLU", lambda: (ln.LeakyReLU(0.2), nn.LeakyReLU(0.2)), (4, 5), False),
    ("ELU", lambda: (ln.ELU(1.5), nn.ELU(1.5)), (4, 5), False),
    ("GELU", lambda: (ln.GELU(), nn.GELU()), (4, 5), False),
    ("GELU-tanh", lambda: (ln.GELU("tanh"), nn.GELU(approximate="tanh")), (4, 5), False),
    ("Softplus", lambda: (ln.Softplus(), nn.Softplus()), (4, 5), False),
    ("Softplus-beta", lambda: (ln.Softplus(2.0, 3.0), nn.Softplus(2.0, 3.0)), (4, 5), False),
    ("Softmax", lambda: (ln.Softmax(), nn.Softmax(dim=-1)), (4, 5), False),
    ("Softmax-axis1", lambda: (ln.Softmax(axis=1), nn.Softmax(dim=1)), (2, 3, 4), False),
    ("Flatten", lambda: (ln.Flatten(), nn.Flatten()), (2, 3, 4), False),
    ("Dropout-inference", lambda: (ln.Dropout(0.5, rng=0), nn.Dropout(0.5).eval()), (4, 5), False),
    ("Dense", _dense, (6, 4), False),
    ("BatchNorm1d-train", lambda: _bn_after_a_batch(4, (8, 4)), (6, 4), True),
    ("BatchNorm1d-eval", lambda: _bn_after_a_batch(4, (8, 4)), (6, 4), False),
    ("BatchNorm1d-train-3d", lambda: _bn_after_a_batch(3, (5, 3, 4)), (4, 3, 6), True),
    ("BatchNorm1d-eval-3d", lambda: _bn_after_a_batch(3, (5, 3, 4)), (4, 3, 6), False),
    ("LayerNorm", lambda: _norm(ln.LayerNorm(5), nn.LayerNorm(5)), (4, 5), False),
    ("LayerNorm-3d", lambda: _norm(ln.LayerNorm(4), nn.LayerNorm(4)), (2, 3, 4), False),
]


def test_every_exported_layer_is_compared() -> None:
    from test_gradcheck_all import LAYER_CASES  # the harness's exhaustive list

    compared = {type(make()[0]) for _, make, _, _ in LAYERS}
    compared |= {  # compared with torch modules of one structure in test_torch_parity_compose.py
        ln.BatchNorm2d,
        ln.Permute,
        ln.Reshape,
        ln.Residual,
        ln.Parallel,
    }
    compared |= {  # compared with torch.nn.functional in test_torch_parity_conv.py
        ln.Conv1d,
        ln.Conv2d,
        ln.MaxPool1d,
        ln.MaxPool2d,
        ln.AvgPool1d,
        ln.AvgPool2d,
        ln.GlobalAvgPool1d,
        ln.GlobalAvgPool2d,
    }
    compared |= {  # compared with torch.nn in test_sequences.py (PositionalEmbedding: with a
        # torch table added by autograd, torch having no such module)
        ln.Embedding,
        ln.PositionalEmbedding,
        ln.RNN,
        ln.LSTM,
        ln.GRU,
        ln.MultiHeadAttention,
    }
    harnessed = {type(case.make()) for case in LAYER_CASES} - {ln.Sequential}
    # Dropout in training draws its own mask; its inference mode is compared here.
    assert harnessed <= compared | {ln.Dropout}


@pytest.mark.parametrize(
    ("make", "shape", "training"), [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS]
)
def test_layer_matches_torch(
    make: Callable[[], tuple[ln.Layer, Any]], shape: tuple[int, ...], training: bool
) -> None:
    ours, theirs = make()
    theirs.train(training)
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, size=shape)
    y = ours.forward(x, training=training)
    r = rng.normal(size=y.shape)
    dx = ours.backward(r)
    tx = t(x, grad=True)
    ty = theirs(tx)
    ty.backward(t(r))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    for name, p in ours.named_parameters():
        grad = getattr(theirs, PARAM_NAMES[name]).grad.numpy()
        np.testing.assert_allclose(
            p.grad,
            grad.T if name == "weight" and p.grad.ndim == 2 else grad,
            rtol=1e-11,
            atol=1e-13,
        )
    for name, buf in ours.named_buffers():
        np.testing.assert_allclose(buf, getattr(theirs, name).numpy(), rtol=1e-13)


# -- losses -----------------------------------------------------------------------------------

_RNG = np.random.default_rng(4)
_LOGITS = _RNG.normal(0, 2, size=(6, 4))
_LABELS = _RNG.integers(0, 4, size=6)
_PROBS = _RNG.dirichlet(np.ones(4), size=6)
_BINARY = _RNG.integers(0, 2, size=(6, 4)).astype(np.float64)
_CLASS_W = np.array([0.5, 2.0, 1.0, 3.0])
_POS_W = np.array([3.0, 0.5, 1.0, 2.0])

LOSSES: list[tuple[str, ln.Loss, Any, Array, Array, Any]] = [
    ("MSE", ln.MSELoss(), nn.MSELoss(), _LOGITS, _PROBS, None),
    ("L1", ln.L1Loss(), nn.L1Loss(), _LOGITS, _PROBS, None),
    ("Huber", ln.HuberLoss(), nn.HuberLoss(), 3 * _LOGITS, _PROBS, None),
    ("Huber-delta", ln.HuberLoss(0.5), nn.HuberLoss(delta=0.5), _LOGITS, _PROBS, None),
    ("BCE", ln.BCELoss(), nn.BCELoss(), _PROBS, _RNG.uniform(size=(6, 4)), None),
    ("BCEWithLogits", ln.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss(), 10 * _LOGITS, _PROBS, None),
    ("CE-labels", ln.CrossEntropyLoss(), nn.CrossEntropyLoss(), _LOGITS, _LABELS, torch.long),
    (
        "CE-labels-smoothed",
        ln.CrossEntropyLoss(0.15),
        nn.CrossEntropyLoss(label_smoothing=0.15),
        _LOGITS,
        _LABELS,
        torch.long,
    ),
    (
        "CE-probabilities-smoothed",
        ln.CrossEntropyLoss(0.15),
        nn.CrossEntropyLoss(label_smoothing=0.15),
        _LOGITS,
        _PROBS,
        None,
    ),
    (
        "BCEWithLogits-pos_weight",
        ln.BCEWithLogitsLoss(pos_weight=_POS_W),
        nn.BCEWithLogitsLoss(pos_weight=torch.tensor(_POS_W)),
        10 * _LOGITS,
        _BINARY,
        None,
    ),
    (
        "BCEWithLogits-pos_weight-soft-targets",
        ln.BCEWithLogitsLoss(pos_weight=_POS_W),
        nn.BCEWithLogitsLoss(pos_weight=torch.tensor(_POS_W)),
        _LOGITS,
        _PROBS,
        None,
    ),
    (
        "CE-weight-labels",
        ln.CrossEntropyLoss(weight=_CLASS_W),
        nn.CrossEntropyLoss(weight=torch.tensor(_CLASS_W)),
        _LOGITS,
        _LABELS,
        torch.long,
    ),
    (
        "CE-weight-labels-smoothed",
        ln.CrossEntropyLoss(0.15, weight=_CLASS_W),
        nn.CrossEntropyLoss(weight=torch.tensor(_CLASS_W), label_smoothing=0.15),
        _LOGITS,
        _LABELS,
        torch.long,
    ),
    (
        "CE-weight-probabilities-smoothed",
        ln.CrossEntropyLoss(0.15, weight=_CLASS_W),
        nn.CrossEntropyLoss(weight=torch.tensor(_CLASS_W), label_smoothing=0.15),
        _LOGITS,
        _PROBS,
        None,
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "pred", "target", "target_dtype"),
    [c[1:] for c in LOSSES],
    ids=[c[0] for c in LOSSES],
)
def test_loss_matches_torch(
    ours: ln.Loss, theirs: Any, pred: Array, target: Array, target_dtype: Any
) -> None:
    value = ours(pred, target)
    grad = ours.backward()
    tp = t(pred, grad=True)
    tt = torch.tensor(target, dtype=target_dtype or torch.float64)
    tv = theirs(tp, tt)
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-11, atol=1e-15)


def _torch_none(theirs: Any) -> Any:
    """The same torch loss with ``reduction="none"``."""
    kwargs: dict[str, Any] = {"reduction": "none"}
    for name in ("weight", "pos_weight"):
        if getattr(theirs, name, None) is not None:
            kwargs[name] = getattr(theirs, name)
    for name in ("delta", "label_smoothing"):
        if hasattr(theirs, name):
            kwargs[name] = getattr(theirs, name)
    return type(theirs)(**kwargs)


@pytest.mark.parametrize(
    ("ours", "theirs", "pred", "target", "target_dtype"),
    [c[1:] for c in LOSSES],
    ids=[c[0] for c in LOSSES],
)
def test_sample_weighted_loss_matches_torch_per_sample_losses(
    ours: ln.Loss, theirs: Any, pred: Array, target: Array, target_dtype: Any
) -> None:
    """Keras's sample weighting: sum_i w_i l_i over the unweighted mean's divisor.

    torch's ``reduction="none"`` gives the per-element (or, for cross-entropy,
    per-sample, class weight included) terms; the divisor is the element count,
    or for cross-entropy with class labels and a class weight, torch's own
    ``sum_i weight[y_i]``.
    """
    w = np.random.default_rng(7).uniform(0, 3, size=len(pred))
    value = ours.weighted_forward(pred, ours.check_target(pred, target), w)
    grad = ours.weighted_backward(w)
    tp = t(pred, grad=True)
    tt = torch.tensor(target, dtype=target_dtype or torch.float64)
    terms = _torch_none(theirs)(tp, tt)
    tw = t(w)
    if terms.ndim == 1:  # cross-entropy: one term per sample
        divisor: Any = len(pred)
        if target_dtype is torch.long and getattr(theirs, "weight", None) is not None:
            divisor = theirs.weight[tt].sum()
        tv = (terms * tw).sum() / divisor
    else:
        tv = (terms * tw[:, None]).sum() / terms.numel()
    tv.backward()
    assert value == pytest.approx(tv.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(ours.sample_losses().sum(), ours.forward(pred, target), rtol=1e-13)


# -- optimizers, clipping, schedules ------------------------------------------------------------

OPTIMIZERS: list[
    tuple[str, Callable[[list[ln.Parameter]], ln.Optimizer], Callable[[list[Any]], Any]]
] = [
    ("SGD", lambda ps: ln.SGD(ps, lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    (
        "SGD-momentum-dampening-wd",
        lambda ps: ln.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    ),
    (
        "SGD-nesterov",
        lambda ps: ln.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    ),
    ("Adam", lambda ps: ln.Adam(ps), lambda ps: torch.optim.Adam(ps)),
    (
        "Adam-wd",
        lambda ps: ln.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    ("AdamW", lambda ps: ln.AdamW(ps, lr=0.01), lambda ps: torch.optim.AdamW(ps, lr=0.01)),
    ("RMSprop", lambda ps: ln.RMSprop(ps), lambda ps: torch.optim.RMSprop(ps)),
    (
        "RMSprop-centered-momentum-wd",
        lambda ps: ln.RMSprop(
            ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1
        ),
        lambda ps: torch.optim.RMSprop(
            ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1
        ),
    ),
    ("Adagrad", lambda ps: ln.Adagrad(ps), lambda ps: torch.optim.Adagrad(ps)),
    (
        "Adagrad-all",
        lambda ps: ln.Adagrad(
            ps, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2
        ),
        lambda ps: torch.optim.Adagrad(
            ps, lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2
        ),
    ),
]

SHAPES = [(4, 3), (3,)]


def _grads(step: int) -> list[Array]:
    rng = np.random.default_rng(1000 + step)
    return [rng.normal(0, 3, size=s) for s in SHAPES]


def _run_both(
    ours_opt: Callable[[list[ln.Parameter]], ln.Optimizer],
    torch_opt: Callable[[list[Any]], Any],
    steps: int = 50,
    clip: float | None = None,
    torch_clip: float | None = None,
    schedule: tuple[Callable[[ln.Optimizer], ln.LRSchedule], Callable[[Any], Any]] | None = None,
) -> tuple[list[ln.Parameter], list[Any], list[float], list[float]]:
    init = np.random.default_rng(7)
    values = [init.normal(size=s) for s in SHAPES]
    ours = [ln.Parameter(v.copy()) for v in values]
    theirs = [t(v, grad=True) for v in values]
    opt, topt = ours_opt(ours), torch_opt(theirs)
    sched: ln.LRSchedule | None = None
    tsched: Any = None
    if schedule is not None:
        sched, tsched = schedule[0](opt), schedule[1](topt)
    lrs, tlrs = [], []
    for step in range(steps):
        for p, tp, g in zip(ours, theirs, _grads(step), strict=True):
            p.grad[...] = g
            tp.grad = t(g)
        if clip is not None:
            total = ln.clip_grad_norm(ours, clip)
            ttotal = torch.nn.utils.clip_grad_norm_(theirs, clip)
            assert total == pytest.approx(ttotal.item(), rel=1e-13)
        if torch_clip is not None:
            torch.nn.utils.clip_grad_norm_(theirs, torch_clip)
        opt.step()
        topt.step()
        lrs.append(opt.lr)
        tlrs.append(topt.param_groups[0]["lr"])
        if sched is not None:
            sched.step()
            tsched.step()
    return ours, theirs, lrs, tlrs


def _assert_same(ours: list[ln.Parameter], theirs: list[Any]) -> None:
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.value, tp.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("ours_opt", "torch_opt"), [c[1:] for c in OPTIMIZERS], ids=[c[0] for c in OPTIMIZERS]
)
def test_optimizer_matches_torch_over_50_steps(
    ours_opt: Callable[[list[ln.Parameter]], ln.Optimizer], torch_opt: Callable[[list[Any]], Any]
) -> None:
    ours, theirs, _, _ = _run_both(ours_opt, torch_opt)
    _assert_same(ours, theirs)


def test_clipping_matches_torch() -> None:
    ours, theirs, _, _ = _run_both(
        lambda ps: ln.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01), clip=1.0
    )
    _assert_same(ours, theirs)


def test_max_grad_norm_equals_clipping_by_hand_in_torch() -> None:
    ours, theirs, _, _ = _run_both(
        lambda ps: ln.SGD(ps, lr=0.05, momentum=0.9, max_grad_norm=0.5),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
        torch_clip=0.5,
    )
    _assert_same(ours, theirs)


SCHEDULES: list[tuple[str, Callable[[ln.Optimizer], ln.LRSchedule], Callable[[Any], Any]]] = [
    (
        "StepLR",
        lambda o: ln.StepLR(o, step_size=7, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    ),
    (
        "ExponentialLR",
        lambda o: ln.ExponentialLR(o, gamma=0.95),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95),
    ),
    (
        "CosineAnnealingLR",
        lambda o: ln.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    ),
    (
        "LinearWarmup",
        lambda o: ln.LinearWarmup(o, warmup_steps=10, start_factor=0.1),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=10),
    ),
    (
        "warm-up then cosine",
        lambda o: ln.SequentialLR(
            o,
            [ln.LinearWarmup(o, 5, start_factor=0.2), ln.CosineAnnealingLR(o, T_max=30)],
            milestones=[5],
        ),
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o,
            [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=5),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30),
            ],
            milestones=[5],
        ),
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs"), [c[1:] for c in SCHEDULES], ids=[c[0] for c in SCHEDULES]
)
def test_schedule_matches_torch(
    ours: Callable[[ln.Optimizer], ln.LRSchedule], theirs: Callable[[Any], Any]
) -> None:
    params, tparams, lrs, tlrs = _run_both(
        lambda ps: ln.SGD(ps, lr=0.1, momentum=0.9),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
        schedule=(ours, theirs),
    )
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-12, atol=1e-15)
    _assert_same(params, tparams)
