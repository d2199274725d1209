"""The registry of layer classes by name, which ``layernet.load`` rebuilds models from.

Every layer class that ships with layernet is registered where it is
defined, with the :func:`register` decorator; a user's own layer joins the
same way::

    @layernet.register
    class Scale(layernet.Layer):
        ...

A saved model names each layer by its class name, so loading finds the
class here and never imports a module the file names.
"""

from __future__ import annotations

from typing import TypeVar

from .base import Layer

L = TypeVar("L", bound=type[Layer])

_LAYERS: dict[str, type[Layer]] = {}


def register(cls: L) -> L:
    """Class decorator: make ``cls`` loadable by :func:`layernet.load` under its class name.

    Registering the same class twice is harmless; registering a different
    class under a name already taken is a ValueError (rename the class).
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register: expected a Layer subclass, got {cls!r}")
    name = cls.__name__
    known = _LAYERS.get(name)
    if known is not None and known is not cls:
        raise ValueError(
            f"register: a layer class named {name!r} is already registered "
            f"({known.__module__}.{known.__qualname__}); give {cls.__module__}."
            f"{cls.__qualname__} another name"
        )
    _LAYERS[name] = cls
    return cls


def registered_layers() -> dict[str, type[Layer]]:
    """A copy of the registry: class name to layer class."""
    return dict(_LAYERS)
