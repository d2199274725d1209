"""Optional peers: imported lazily, skipped with a note when absent."""

from __future__ import annotations

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
