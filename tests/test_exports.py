"""Every package's ``__all__`` names real objects, and star-imports work."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import layernet

PACKAGES = sorted(
    {"layernet"}
    | {info.name for info in pkgutil.walk_packages(layernet.__path__, "layernet.") if info.ispkg}
)


def test_the_subpackages_are_found() -> None:
    assert "layernet.layers" in PACKAGES


@pytest.mark.parametrize("name", PACKAGES)
def test_every_name_in_all_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    missing = [entry for entry in exported if not hasattr(module, entry)]
    assert missing == [], f"{name}.__all__ names what {name} does not define: {missing}"


@pytest.mark.parametrize("name", PACKAGES)
def test_star_import_works(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    module = importlib.import_module(name)
    assert set(module.__all__) <= set(namespace)


def test_layers_package_exports_the_composition_layers() -> None:
    from layernet import layers

    for cls in ("Residual", "Parallel", "Permute", "Reshape", "BatchNorm2d"):
        assert getattr(layers, cls) is getattr(layernet, cls)
        assert cls in layernet.__all__


def test_layers_package_exports_the_pooling_layers() -> None:
    from layernet import layers

    for cls in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        assert getattr(layers, cls) is getattr(layernet, cls)
    assert layers.GlobalAvgPool1d is layernet.GlobalAvgPool1d
    assert layers.GlobalAvgPool2d is layernet.GlobalAvgPool2d
