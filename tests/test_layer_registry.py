"""Every layer class that layernet exports is registered under its class name."""

from __future__ import annotations

import inspect

import pytest

import layernet
import layernet.layers
from layernet import Layer
from layernet.layers.registry import registered_layers

EXPORTED_LAYERS = sorted(
    name
    for name in layernet.__all__
    if inspect.isclass(obj := getattr(layernet, name))
    and issubclass(obj, Layer)
    and not inspect.isabstract(obj)
)

REGISTERED_OUTSIDE_LAYERS = {"Sequential"}
"""Containers live outside ``layernet/layers`` and are registered where they are defined."""


def test_the_exported_layers_are_found() -> None:
    assert {"Dense", "Conv2d", "MaxPool1d", "Softmax", "Flatten"} <= set(EXPORTED_LAYERS)


@pytest.mark.parametrize("name", EXPORTED_LAYERS)
def test_every_exported_layer_is_registered_under_its_class_name(name: str) -> None:
    cls = getattr(layernet, name)
    registry = registered_layers()
    if name in REGISTERED_OUTSIDE_LAYERS and name not in registry:
        pytest.skip(f"{name} is registered by its own module, outside layernet.layers")
    assert registry.get(cls.__name__) is cls, f"decorate {name} with @register"


def test_every_concrete_class_in_the_layers_package_is_registered() -> None:
    registry = registered_layers()
    unregistered = sorted(
        name
        for name in layernet.layers.__all__
        if inspect.isclass(obj := getattr(layernet.layers, name))
        and not inspect.isabstract(obj)
        and registry.get(name) is not obj
    )
    assert not unregistered, f"decorate {unregistered} with @register"


def test_the_private_n_d_bases_are_not_registered() -> None:
    assert not [name for name in registered_layers() if name.startswith("_")]
