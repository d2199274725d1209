"""Composition against torch in float64 (skipped without torch): BatchNorm2d, Dense on
sequences, Permute, Reshape, and residual and branching blocks whose state dicts map onto
torch modules of the same structure name for name.

Forward values, the input gradient, every parameter gradient and the running statistics
must agree to 1e-10.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layernet as ln

torch = pytest.importorskip("torch")
nn = torch.nn
Module: Any = nn.Module

RTOL, ATOL = 1e-10, 1e-12
TORCH_NAME = {"gamma": "weight", "beta": "bias"}  # BatchNorm's and LayerNorm's parameters


def torch_name(name: str) -> str:
    """Our state-dict name as torch spells it: the module path is the same, the leaf may differ."""
    path, _, leaf = name.rpartition(".")
    leaf = TORCH_NAME.get(leaf, leaf)
    return f"{path}.{leaf}" if path else leaf


def to_torch(ours: ln.Layer, theirs: Any) -> None:
    """Copy our parameters and buffers into a torch module with the same module paths."""
    state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        target = state[torch_name(name)]
        array = value.T if target.ndim == 2 and value.ndim == 2 else value  # Dense is (in, out)
        with torch.no_grad():
            target.copy_(torch.tensor(array, dtype=torch.float64))


def compare(ours: ln.Layer, theirs: Any, shape: tuple[int, ...], training: bool) -> None:
    theirs = theirs.double()
    to_torch(ours, theirs)
    assert {torch_name(n) for n in ours.state_dict()} == {
        n for n in theirs.state_dict() if not n.endswith("num_batches_tracked")
    }
    theirs.train(training)
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    y = ours.forward(x, training=training)
    g = rng.normal(size=y.shape)
    dx = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = theirs(x_t)
    y_t.backward(torch.tensor(g))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=RTOL, atol=ATOL)
    params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        grad = params[torch_name(name)].grad.numpy()
        grad = grad.T if grad.ndim == 2 and p.grad.ndim == 2 else grad
        np.testing.assert_allclose(p.grad, grad, rtol=RTOL, atol=ATOL, err_msg=name)
    buffers = dict(theirs.named_buffers())
    for name, buf in ours.named_buffers():
        np.testing.assert_allclose(buf, buffers[name].numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


class TorchResidual(Module):  # type: ignore[misc]
    """torch's side of ``ln.Residual``: attributes named ``block`` and ``shortcut``."""

    def __init__(self, block: Any, shortcut: Any = None) -> None:
        super().__init__()
        self.block = block
        self.shortcut = shortcut

    def forward(self, x: Any) -> Any:
        return self.block(x) + (x if self.shortcut is None else self.shortcut(x))


class TorchParallel(Module):  # type: ignore[misc]
    """torch's side of ``ln.Parallel``: a ModuleList named ``branches``."""

    def __init__(self, branches: list[Any], merge: str = "concat", axis: int = 1) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge, self.axis = merge, axis

    def forward(self, x: Any) -> Any:
        outs = [branch(x) for branch in self.branches]
        return torch.cat(outs, dim=self.axis) if self.merge == "concat" else sum(outs)


class TorchPermute(Module):  # type: ignore[misc]
    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Any) -> Any:
        return x.permute(0, *self.dims)


class TorchReshape(Module):  # type: ignore[misc]
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return x.reshape(x.shape[0], *self.shape)


def _bn2d(momentum: float = 0.1) -> tuple[ln.Layer, Any]:
    """BatchNorm2d after one training batch, with non-trivial gamma and beta."""
    ours = ln.BatchNorm2d(3, momentum=momentum)
    rng = np.random.default_rng(1)
    ours.gamma.value[...] = rng.uniform(0.5, 1.5, size=3)
    ours.beta.value[...] = rng.normal(size=3)
    theirs = nn.BatchNorm2d(3, momentum=momentum).double()
    to_torch(ours, theirs)
    x = rng.normal(1.0, 2.0, size=(4, 3, 5, 6))
    ours.forward(x, training=True)
    theirs.train()
    theirs(torch.tensor(x))
    return ours, theirs


def _resnet_block() -> tuple[ln.Layer, Any]:
    """A ResNet basic block (conv-bn-relu-conv-bn plus a 1x1 projection), then a ReLU."""
    ours = ln.Sequential(
        [
            ln.Residual(
                ln.Sequential(
                    [
                        ln.Conv2d(2, 4, 3, padding=1, bias=False, rng=0),
                        ln.BatchNorm2d(4),
                        ln.ReLU(),
                        ln.Conv2d(4, 4, 3, padding=1, bias=False, rng=1),
                        ln.BatchNorm2d(4),
                    ]
                ),
                shortcut=ln.Sequential([ln.Conv2d(2, 4, 1, bias=False, rng=2), ln.BatchNorm2d(4)]),
            ),
            ln.ReLU(),
            ln.Residual(ln.Sequential([ln.Conv2d(4, 4, 3, padding=1, rng=3), ln.Tanh()])),
        ]
    )
    theirs = nn.Sequential(
        TorchResidual(
            nn.Sequential(
                nn.Conv2d(2, 4, 3, padding=1, bias=False),
                nn.BatchNorm2d(4),
                nn.ReLU(),
                nn.Conv2d(4, 4, 3, padding=1, bias=False),
                nn.BatchNorm2d(4),
            ),
            nn.Sequential(nn.Conv2d(2, 4, 1, bias=False), nn.BatchNorm2d(4)),
        ),
        nn.ReLU(),
        TorchResidual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.Tanh())),
    )
    return ours, theirs


def _residual_1d() -> tuple[ln.Layer, Any]:
    ours = ln.Residual(
        ln.Sequential(
            [
                ln.Conv1d(3, 3, 5, padding="same", rng=4),
                ln.BatchNorm1d(3),
                ln.ReLU(),
                ln.Conv1d(3, 3, 5, padding="same", rng=5),
            ]
        )
    )
    theirs = TorchResidual(
        nn.Sequential(
            nn.Conv1d(3, 3, 5, padding="same"),
            nn.BatchNorm1d(3),
            nn.ReLU(),
            nn.Conv1d(3, 3, 5, padding="same"),
        )
    )
    return ours, theirs


def _sequence_model() -> tuple[ln.Layer, Any]:
    """(batch, time, features): Dense per step, Permute, Conv1d, Permute back, LayerNorm, Dense."""
    ours = ln.Sequential(
        [
            ln.Dense(3, 4, rng=6),
            ln.Permute((2, 1)),
            ln.Conv1d(4, 4, 3, padding=1, rng=7),
            ln.Permute((2, 1)),
            ln.LayerNorm(4),
            ln.Reshape((-1,)),
            ln.Dense(28, 2, rng=8),
        ]
    )
    theirs = nn.Sequential(
        nn.Linear(3, 4),
        TorchPermute((2, 1)),
        nn.Conv1d(4, 4, 3, padding=1),
        TorchPermute((2, 1)),
        nn.LayerNorm(4),
        TorchReshape((-1,)),
        nn.Linear(28, 2),
    )
    return ours, theirs


def _inception() -> tuple[ln.Layer, Any]:
    ours = ln.Sequential(
        [
            ln.Parallel(
                [
                    ln.Conv2d(2, 3, 1, rng=9),
                    ln.Sequential([ln.Conv2d(2, 2, 3, padding=1, rng=10), ln.ReLU()]),
                    ln.MaxPool2d(3, stride=1, padding=1),
                ]
            ),
            ln.Parallel(
                [ln.Conv2d(7, 2, 1, rng=11), ln.Conv2d(7, 2, 3, padding=1, rng=12)], merge="add"
            ),
        ]
    )
    theirs = nn.Sequential(
        TorchParallel(
            [
                nn.Conv2d(2, 3, 1),
                nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU()),
                nn.MaxPool2d(3, stride=1, padding=1),
            ]
        ),
        TorchParallel([nn.Conv2d(7, 2, 1), nn.Conv2d(7, 2, 3, padding=1)], merge="add"),
    )
    return ours, theirs


CASES: list[tuple[str, Callable[[], tuple[ln.Layer, Any]], tuple[int, ...], bool]] = [
    ("BatchNorm2d-train", _bn2d, (4, 3, 5, 6), True),
    ("BatchNorm2d-eval", _bn2d, (4, 3, 5, 6), False),
    ("BatchNorm2d-train-momentum", lambda: _bn2d(0.3), (2, 3, 4, 3), True),
    ("Dense-sequence", lambda: (ln.Dense(4, 3, rng=13), nn.Linear(4, 3)), (5, 7, 4), False),
    ("Dense-4d", lambda: (ln.Dense(4, 3, rng=14), nn.Linear(4, 3)), (2, 3, 5, 4), False),
    ("Permute", lambda: (ln.Permute((3, 1, 2)), TorchPermute((3, 1, 2))), (2, 3, 4, 5), False),
    ("Reshape", lambda: (ln.Reshape((4, -1)), TorchReshape((4, -1))), (2, 3, 4), False),
    ("residual-block-train", _resnet_block, (3, 2, 5, 4), True),
    ("residual-block-eval", _resnet_block, (3, 2, 5, 4), False),
    ("residual-1d-train", _residual_1d, (4, 3, 9), True),
    ("sequence-model", _sequence_model, (2, 7, 3), False),
    ("parallel-inception", _inception, (2, 2, 5, 5), False),
]


@pytest.mark.parametrize(
    ("make", "shape", "training"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matches_torch(
    make: Callable[[], tuple[ln.Layer, Any]], shape: tuple[int, ...], training: bool
) -> None:
    ours, theirs = make()
    compare(ours, theirs, shape, training)


def test_a_torch_state_dict_loads_name_for_name() -> None:
    """torch's names and ours differ only in BatchNorm's leaves and Dense's transpose."""
    ours, theirs = _resnet_block()
    theirs = theirs.double()
    state = {name: value.numpy() for name, value in theirs.state_dict().items()}
    assert set(state) - {torch_name(name) for name in ours.state_dict()} == {
        f"{path}.num_batches_tracked" for path in ("0.block.1", "0.block.4", "0.shortcut.1")
    }  # torch counts batches; nothing else is left over
    ours.load_state_dict({name: state[torch_name(name)] for name in ours.state_dict()})
    theirs.eval()
    x = np.random.default_rng(2).normal(size=(2, 2, 5, 4))
    np.testing.assert_allclose(
        ours(x), theirs(torch.tensor(x)).detach().numpy(), rtol=RTOL, atol=ATOL
    )
