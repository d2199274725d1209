"""Weights in and out of PyTorch: :func:`from_torch` and :func:`to_torch`.

layernet names its parameters and buffers by torch's module paths
(``"2.block.0.weight"``), so a layernet model and a torch model of the same
structure differ only in what a layer calls its entries and how it lays them
out. Per layer class, a :class:`TorchLayout` says that:

- ``Dense`` is torch's ``Linear``: ``weight`` transposed (torch's ``(out, in)``
  is layernet's ``(in, out)``), ``bias`` as it is;
- ``Conv1d``/``Conv2d``: the same names and layout, ``(out, in, *kernel)``;
- ``BatchNorm1d``/``BatchNorm2d``: ``gamma``/``beta`` are ``weight``/``bias``,
  ``running_mean``/``running_var`` as they are, ``num_batches_tracked`` ignored;
- ``LayerNorm``: ``gamma``/``beta`` are ``weight``/``bias``;
- ``Embedding``: ``weight`` as it is, ``(num_embeddings, embedding_dim)``;
- ``RNN``/``LSTM``/``GRU``: ``weight_ih``/``weight_hh`` are torch's
  ``weight_ih_l0``/``weight_hh_l0`` transposed, ``bias_ih``/``bias_hh`` its
  ``bias_ih_l0``/``bias_hh_l0`` (the same gate order: ``i, f, g, o`` and
  ``r, z, n``);
- ``MultiHeadAttention``: torch's ``in_proj_weight`` (3E, E) stacks the
  ``q``, ``k`` and ``v`` projections' weights, each transposed
  (``in_proj_bias`` their biases), and ``out`` is torch's ``out_proj``.

Containers hold no entries of their own; their children's paths are torch's
for a module with the same attributes: ``Residual``'s ``block`` and
``shortcut`` (``"0.block.1.running_mean"``), ``Parallel``'s ``branches``, an
``nn.ModuleList`` in torch (``"branches.2.weight"``).

A layer class without a layout keeps its names and shapes (a user layer whose
torch twin names its entries alike needs nothing); one that differs registers
its layout with :func:`register_torch_layout`.

torch is never imported: tensors are read through ``.detach().cpu().numpy()``
(NumPy arrays work too), and :func:`to_torch` returns NumPy arrays, which
``torch.from_numpy`` turns into tensors without a copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ._typing import FloatArray
from .layers.attention import MultiHeadAttention
from .layers.base import Layer
from .layers.conv import Conv1d, Conv2d
from .layers.dense import Dense
from .layers.embedding import Embedding
from .layers.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .layers.recurrent import GRU, LSTM, RNN

__all__ = [
    "IncompatibleKeys",
    "TorchLayout",
    "from_torch",
    "register_torch_layout",
    "to_torch",
    "torch_layout",
]


@dataclass(frozen=True)
class TorchLayout:
    """How a layer's entries map to its torch twin's.

    Parameters
    ----------
    torch_class : str
        The torch module's class name, for messages (``"Linear"``).
    names : mapping of str to str
        layernet's entry name to torch's, where they differ
        (``{"gamma": "weight"}``); unnamed entries keep their name.
    transposed : frozenset of str
        layernet entries that torch stores transposed (2-D: ``(out, in)``
        in torch, ``(in, out)`` in layernet).
    ignored : frozenset of str
        torch entries with no layernet counterpart, skipped on the way in
        (``num_batches_tracked``).
    hint : str
        Said when an entry of this layer has the wrong shape.
    children : mapping of str to str
        A child's name to torch's name of the same submodule, where they
        differ (``{"out": "out_proj"}``).
    stacked : mapping of str to tuple of str
        A torch entry that stacks several of the layer's children's entries
        along its first axis, each in its own torch layout
        (``{"in_proj_weight": ("q.weight", "k.weight", "v.weight")}``).
    """

    torch_class: str
    names: Mapping[str, str] = field(default_factory=dict)
    transposed: frozenset[str] = frozenset()
    ignored: frozenset[str] = frozenset()
    hint: str = ""
    children: Mapping[str, str] = field(default_factory=dict)
    stacked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def torch_name(self, name: str) -> str:
        return self.names.get(name, name)


_LAYOUTS: dict[type[Layer], TorchLayout] = {}


def register_torch_layout(cls: type[Layer], layout: TorchLayout) -> None:
    """Say how ``cls``'s entries map to torch's (replacing any earlier layout for ``cls``)."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_torch_layout: expected a Layer subclass, got {cls!r}")
    if not isinstance(layout, TorchLayout):
        raise TypeError(
            f"register_torch_layout: expected a TorchLayout, got {type(layout).__name__}"
        )
    _LAYOUTS[cls] = layout


def torch_layout(cls: type[Layer]) -> TorchLayout | None:
    """The layout registered for exactly ``cls`` (None: same names, same shapes)."""
    return _LAYOUTS.get(cls)


_CONV_HINT = "torch and layernet both store conv weights as (out_channels, in_channels, *kernel)"
_NORM_NAMES = {"gamma": "weight", "beta": "bias"}
register_torch_layout(
    Dense,
    TorchLayout(
        "Linear",
        transposed=frozenset({"weight"}),
        hint="torch Linear weights are (out, in); layernet's Dense is (in, out), "
        "and from_torch transposes them itself: pass torch's weight as it is",
    ),
)
register_torch_layout(Conv1d, TorchLayout("Conv1d", hint=_CONV_HINT))
register_torch_layout(Conv2d, TorchLayout("Conv2d", hint=_CONV_HINT))
_BATCHES = frozenset({"num_batches_tracked"})
register_torch_layout(BatchNorm1d, TorchLayout("BatchNorm1d", _NORM_NAMES, ignored=_BATCHES))
register_torch_layout(BatchNorm2d, TorchLayout("BatchNorm2d", _NORM_NAMES, ignored=_BATCHES))
register_torch_layout(LayerNorm, TorchLayout("LayerNorm", _NORM_NAMES))
register_torch_layout(Embedding, TorchLayout("Embedding"))
_RECURRENT_NAMES = {n: f"{n}_l0" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
for _cls in (RNN, LSTM, GRU):
    register_torch_layout(
        _cls,
        TorchLayout(
            _cls.__name__,
            _RECURRENT_NAMES,
            transposed=frozenset({"weight_ih", "weight_hh"}),
            hint="torch stores weight_ih_l0 as (G*hidden, input) and weight_hh_l0 as "
            "(G*hidden, hidden); layernet's weight_ih and weight_hh are their transposes, "
            "and from_torch transposes them itself",
        ),
    )
register_torch_layout(
    MultiHeadAttention,
    TorchLayout(
        "MultiheadAttention",
        children={"out": "out_proj"},
        stacked={
            "in_proj_weight": ("q.weight", "k.weight", "v.weight"),
            "in_proj_bias": ("q.bias", "k.bias", "v.bias"),
        },
        hint="torch's in_proj_weight is (3 * embed_dim, embed_dim), the query, key and "
        "value weights stacked",
    ),
)


@dataclass(frozen=True)
class _Entry:
    """One parameter or buffer: layernet's name and array, torch's name, the layout."""

    name: str
    torch_name: str
    target: FloatArray
    layer: Layer
    layout: TorchLayout | None
    part: tuple[int, int] = (0, 1)
    """``(index, count)``: the entry is block ``index`` of ``count`` stacked on torch's axis 0."""
    owner: tuple[Layer, TorchLayout] | None = None
    """For a stacked entry, the layer whose layout stacks it (MultiHeadAttention's)."""

    @property
    def transposed(self) -> bool:
        return self.layout is not None and self.name.rpartition(".")[2] in self.layout.transposed

    @property
    def torch_shape(self) -> tuple[int, ...]:
        """The shape of this entry's own block in torch's layout."""
        return self.target.shape[::-1] if self.transposed else self.target.shape

    @property
    def stacked_shape(self) -> tuple[int, ...]:
        """The shape of torch's whole entry (the blocks stacked along the first axis)."""
        shape = self.torch_shape
        count = self.part[1]
        return shape if count == 1 else (count * shape[0], *shape[1:])

    def block(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """This entry's block of torch's ``array``, in layernet's layout."""
        index, count = self.part
        if count > 1:
            rows = self.torch_shape[0]
            array = array[index * rows : (index + 1) * rows]
        return array.T if self.transposed else array


def _entries(model: Layer) -> Iterator[_Entry]:
    torch_paths = {"": ""}  # layernet's module path -> torch's
    layers: dict[str, Layer] = {}
    stacked: dict[str, tuple[str, int, int]] = {}  # entry -> torch entry, index, count
    owners: dict[str, tuple[Layer, TorchLayout]] = {}  # stacked torch entry -> its layer
    for path, layer in model.named_modules():
        layers[path] = layer
        prefix = f"{path}." if path else ""
        if path:  # the nearest enclosing layer may rename its child (a list's: "branches.0")
            parent = path.rpartition(".")[0]
            while parent not in layers:
                parent = parent.rpartition(".")[0]
            head, dot, tail = path[len(parent) + 1 if parent else 0 :].partition(".")
            parent_layout = _LAYOUTS.get(type(layers[parent]))
            renamed = parent_layout.children.get(head, head) if parent_layout else head
            torch_paths[path] = ".".join(filter(None, (torch_paths[parent], renamed + dot + tail)))
        torch_prefix = f"{torch_paths[path]}." if path else ""
        layout = _LAYOUTS.get(type(layer))
        if layout is not None:
            for torch_entry, parts in layout.stacked.items():
                owners[torch_prefix + torch_entry] = (layer, layout)
                for index, part in enumerate(parts):
                    stacked[prefix + part] = (torch_prefix + torch_entry, index, len(parts))
        own = [(n, p.value) for n, p in layer.named_parameters() if "." not in n]
        own += list(layer.own_buffers())
        for name, array in own:
            if prefix + name in stacked:
                torch_name, index, count = stacked[prefix + name]
                owner = owners[torch_name]
                yield _Entry(prefix + name, torch_name, array, layer, layout, (index, count), owner)
                continue
            torch_name = torch_prefix + (layout.torch_name(name) if layout else name)
            yield _Entry(prefix + name, torch_name, array, layer, layout)


def _ignored(model: Layer) -> set[str]:
    found: set[str] = set()
    for path, layer in model.named_modules():
        layout = _LAYOUTS.get(type(layer))
        if layout is not None:
            found.update(f"{path}.{n}" if path else n for n in layout.ignored)
    return found


class IncompatibleKeys(NamedTuple):
    """What :func:`from_torch` left out with ``strict=False`` (torch's names)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _as_array(value: object, key: str) -> np.ndarray[Any, Any]:
    """A torch tensor (via ``.detach().cpu().numpy()``) or anything array-like as an array."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        try:
            value = value.numpy()
        except (TypeError, RuntimeError) as exc:  # bfloat16 has no NumPy dtype
            raise TypeError(
                f"from_torch: entry {key!r} cannot become a NumPy array ({exc}); convert the "
                "state dict first, e.g. {k: v.double() for k, v in state_dict.items()}"
            ) from None
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"from_torch: entry {key!r} holds {array.dtype} values, not numbers")
    return array


def from_torch(
    model: Layer, state_dict: Mapping[str, Any], *, strict: bool = True
) -> IncompatibleKeys:
    """Load a torch ``state_dict`` into ``model``, a layernet model of the same structure.

    Names are mapped (``gamma`` is torch's ``weight``...), ``Linear`` weights
    transposed to layernet's ``(in, out)``, every array converted to the
    model's dtype, BatchNorm's ``running_mean``/``running_var`` taken and its
    ``num_batches_tracked`` ignored. Nothing is copied unless every entry fits.

    Parameters
    ----------
    model : Layer
        Built with the same layers, sizes and nesting as the torch model (a
        torch ``nn.Sequential`` is a layernet ``Sequential``; torch's
        parameter-free modules, such as ``nn.ReLU``, keep their positions).
    state_dict : mapping of str to tensor or array
        ``torch_model.state_dict()`` as it is, or NumPy arrays with its names.
    strict : bool
        If True (the default), a torch entry the model lacks, or a model entry
        the state dict lacks, is an error; if False they are left alone and
        returned.

    Returns
    -------
    IncompatibleKeys
        ``(missing_keys, unexpected_keys)`` in torch's names, empty when strict.

    Raises
    ------
    ValueError
        Listing every missing, unexpected and mis-shaped entry, with a hint
        (torch Linear weights are (out, in); layernet's Dense is (in, out)).
    TypeError
        If ``state_dict`` is not a mapping, or an entry is not numeric.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"from_torch: model must be a Layer, got {type(model).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "from_torch: state_dict must be a mapping of names to tensors or arrays "
            f"(torch_model.state_dict()), got {type(state_dict).__name__}"
        )
    entries = list(_entries(model))
    by_torch = {e.torch_name: e for e in entries}
    ignored = _ignored(model)
    missing = [k for k in by_torch if k not in state_dict]
    unexpected = [k for k in state_dict if k not in by_torch and k not in ignored]
    problems: list[str] = []
    loaded: dict[str, np.ndarray[Any, Any]] = {}
    for entry in entries:
        key = entry.torch_name
        if key not in state_dict:
            continue
        array = _as_array(state_dict[key], key)
        layer, layout = entry.owner or (entry.layer, entry.layout)
        if array.shape != entry.stacked_shape:
            problem = (
                f"{key!r} of {layer!r}: got shape {array.shape}, expected {entry.stacked_shape}"
            )
            if entry.transposed and entry.owner is None:
                problem += f" (torch's layout of layernet's {entry.target.shape})"
            if layout is not None and layout.hint:
                problem += f"; {layout.hint}"
            if problem not in problems:  # a stacked entry's blocks say it once
                problems.append(problem)
            continue
        if array.dtype.kind != "f":
            problem = f"{key!r} of {layer!r}: got {array.dtype} values, not floats"
            if problem not in problems:
                problems.append(problem)
            continue
        loaded[entry.name] = entry.block(array)
    if strict:
        if missing:
            problems.append(
                "missing (the model has them, the state dict does not): "
                + ", ".join(repr(k) for k in missing)
            )
        if unexpected:
            problems.append(
                "unexpected (in the state dict, not in the model): "
                + ", ".join(repr(k) for k in unexpected)
            )
    if problems:
        hint = _prefix_hint(state_dict, by_torch)
        raise ValueError(
            f"from_torch: the state dict does not fit {model!r}:\n  "
            + "\n  ".join(problems)
            + (f"\n{hint}" if hint else "")
        )
    state = {name: array.copy() for name, array in model.state_dict().items()}
    for name, array in loaded.items():
        state[name] = array.astype(state[name].dtype, copy=False)
    model.load_state_dict(state)
    return IncompatibleKeys(missing if not strict else [], unexpected if not strict else [])


def _prefix_hint(state_dict: Mapping[str, Any], by_torch: Mapping[str, _Entry]) -> str:
    """A hint when every key carries a wrapper's prefix (DataParallel's ``module.``)."""
    keys = list(state_dict)
    for prefix, wrapper in (("module.", "DataParallel/DistributedDataParallel"),
                            ("_orig_mod.", "torch.compile")):  # fmt: skip
        if (
            keys
            and all(k.startswith(prefix) for k in keys)
            and not any(k.startswith(prefix) for k in by_torch)
        ):
            return (
                f"every key starts with {prefix!r}, added by {wrapper}: pass the unwrapped "
                f"model's state_dict, or {{k.removeprefix({prefix!r}): v for k, v in "
                "state_dict.items()}"
            )
    return ""


def to_torch(model: Layer) -> dict[str, np.ndarray[Any, Any]]:
    """``model``'s parameters and buffers under torch's names and in torch's layouts.

    Load them into the torch twin with
    ``torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})``
    (torch fills BatchNorm's ``num_batches_tracked`` itself). Each array is a
    C-contiguous copy in the model's dtype (call ``.double()`` on the torch
    model for float64).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"to_torch: model must be a Layer, got {type(model).__name__}")
    blocks: dict[str, list[tuple[int, FloatArray]]] = {}
    for e in _entries(model):
        block = e.target.T if e.transposed else e.target
        blocks.setdefault(e.torch_name, []).append((e.part[0], block))
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name, parts in blocks.items():
        parts.sort(key=lambda part: part[0])  # a stacked entry's blocks in torch's order
        arrays = [array for _, array in parts]
        out[name] = np.array(arrays[0] if len(arrays) == 1 else np.concatenate(arrays), order="C")
    return out
