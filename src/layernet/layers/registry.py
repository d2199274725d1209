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

from collections.abc import Mapping
from typing import Any, TypeGuard, TypeVar

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


# -- layer specs: ``{"class_name": ..., "config": {...}}``, nested ----------------------


class BuildError(Exception):
    """A layer spec that cannot be rebuilt (the caller names the file or source)."""


def to_spec(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``: how a layer is written down.

    A container's ``get_config`` holds its children as specs too (use this
    for each child), so one format describes any nested model.
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def is_spec(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether ``value`` is a layer spec as :func:`to_spec` writes it."""
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


def build(spec: object, extra: Mapping[str, type[Layer]] | None = None) -> Layer:
    """Rebuild a layer from its spec: nested specs (and lists of them) first, then the class.

    Classes are looked up by name in the registry, then in ``extra``.

    Raises
    ------
    BuildError
        For a malformed spec, an unknown class, or a config the class rejects.
    """
    if not is_spec(spec):
        raise BuildError(f"the architecture record is malformed: {spec!r:.200}")
    class_name, config = spec["class_name"], spec["config"]
    known = {**_LAYERS, **(extra or {})}
    cls = known.get(class_name) if isinstance(class_name, str) else None
    if cls is None:
        raise BuildError(
            f"unknown layer class {class_name!r}; known: {', '.join(sorted(known))} "
            "(decorate your own with @layernet.register, or pass custom_layers={name: cls})"
        )
    if not isinstance(config, dict):
        raise BuildError(f"the config of {class_name} is not a dict: {config!r:.200}")
    kwargs: dict[str, Any] = {}
    for key, value in config.items():
        if is_spec(value):
            kwargs[key] = build(value, extra)
        elif isinstance(value, list) and value and all(is_spec(v) for v in value):
            kwargs[key] = [build(v, extra) for v in value]
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BuildError(
            f"cannot rebuild {class_name} from its config {config!r:.200}: {exc}"
        ) from None
