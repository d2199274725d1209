"""Optional peers: imported lazily, skipped with a note when absent."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


def torch_or_none() -> ModuleType | None:
    try:
        import torch
    except ImportError:
        return None
    return torch


def sklearn_neural_network_or_none() -> ModuleType | None:
    try:
        import sklearn.neural_network as nn
    except ImportError:
        return None
    return nn


@contextmanager
def no_convergence_warnings() -> Iterator[None]:
    """Silence scikit-learn's ConvergenceWarning: a benchmark stops after a set number of epochs."""
    with warnings.catch_warnings():
        try:
            from sklearn.exceptions import ConvergenceWarning
        except ImportError:
            pass
        else:
            warnings.simplefilter("ignore", ConvergenceWarning)
        yield
