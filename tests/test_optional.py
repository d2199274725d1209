"""Every optional package is imported through one helper whose error names the extra to install."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import layernet.distributed
import layernet.integrations.ray
from layernet._optional import import_optional


def test_a_present_module_is_returned() -> None:
    assert import_optional("json", "the test", "dev") is sys.modules["json"]


@pytest.mark.parametrize(
    ("load", "module", "message"),
    [
        (
            layernet.distributed._mpi,
            "mpi4py.MPI",
            r"layernet\.distributed needs mpi4py, which is not installed; install it with "
            r'pip install "layernet\[mpi\]" \(or pip install mpi4py mpich\)',
        ),
        (
            layernet.integrations.ray._tune,
            "ray.tune",
            r"layernet\.integrations\.ray needs ray, which is not installed; install it with "
            r'pip install "layernet\[ray\]" \(or pip install "ray\[tune\]"\)',
        ),
    ],
)
def test_a_missing_package_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, load: Callable[[], object], module: str, message: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like to import
    with pytest.raises(ImportError, match=message):
        load()
