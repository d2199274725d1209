"""Optional dependencies: each is imported by the one module that needs it, when it is needed.

``import layernet`` needs numpy and scipy alone; pandas, matplotlib, onnx,
safetensors, mpi4py and Ray come from extras (``pip install "layernet[onnx]"``).
"""

from __future__ import annotations

import importlib
from typing import Any


def import_optional(module: str, who: str, extra: str, packages: str | None = None) -> Any:
    """``importlib.import_module(module)``, or an ImportError that says what to install.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"safetensors.numpy"``.
    who : str
        What needs it, for the message (``"History.plot"``).
    extra : str
        The layernet extra that installs it (``pip install "layernet[extra]"``).
    packages : str, optional
        The pip packages that provide it otherwise; the module's top-level
        package by default.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(
            f"{who} needs {package}, which is not installed; install it with "
            f'pip install "layernet[{extra}]" (or pip install {packages or package})'
        ) from None
