"""Optional peers: imported lazily, skipped with a note when absent."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


def _module_or_none(name: str) -> ModuleType | None:
    """The module ``name``, or None when it is not installed.

    Imported by name, so type checking needs neither the peer nor its stubs.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def torch_or_none() -> ModuleType | None:
    return _module_or_none("torch")


def sklearn_neural_network_or_none() -> ModuleType | None:
    return _module_or_none("sklearn.neural_network")


@contextmanager
def no_convergence_warnings() -> Iterator[None]:
    """Silence scikit-learn's ConvergenceWarning: a benchmark stops after a set number of epochs."""
    with warnings.catch_warnings():
        exceptions = _module_or_none("sklearn.exceptions")
        if exceptions is not None:
            warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        yield
