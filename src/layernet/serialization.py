"""Save and load models (and optionally an optimizer's state) as one ``.npz`` file.

The file holds only arrays, so loading never runs code:

- ``state/<name>``: every parameter and buffer from ``model.state_dict()``
  (``state/0.weight``, ...), in its own dtype, bit for bit;
- ``optimizer/<index>/<key>``: when an optimizer is saved, each of its state
  arrays, keyed by the parameter's index in ``optimizer.params``;
- ``__layernet__``: a uint8 array holding UTF-8 JSON: the format version, the
  architecture (``{"class_name": ..., "config": model.get_config()}``), the
  optimizer's class, hyperparameters and parameter shapes, the state of every
  random generator the model's layers hold (``"generators"``, by dotted
  attribute path such as ``"3.rng"``), what is frozen (``"frozen"``: the
  paths of layers and the names of parameters whose ``trainable`` is False),
  and, for a checkpoint, the training state (``"training"``: epochs
  completed, the run's generator).

A path ending in ``.safetensors`` is written in that format instead (the
``safetensors`` package, ``pip install 'layernet[safetensors]'``): the tensors
are the state dict under its own names (``0.weight``, so
``safetensors.numpy.load_file`` gives a state dict ``load_state_dict`` takes),
the optimizer's arrays as ``optimizer/<index>/<key>``, and the JSON record in
the file's metadata under ``__layernet__``. ``load`` tells the formats apart
by their first bytes, not by the name, and names the foreign formats it meets
(a torch ``.pt``, Keras HDF5, ONNX, a pickle) with what to do instead.

``load`` reads it with ``np.load(..., allow_pickle=False)`` and rebuilds each
layer as ``cls(**config)``, finding ``cls`` by name in the layer registry
(:func:`layernet.register`; or in ``custom_layers``); a config entry that is
itself ``{"class_name", "config"}`` (or a list of them, as in Sequential) is
rebuilt the same way first, so containers nest. This module knows no
container: it returns whatever model was saved.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from ._optional import import_optional
from ._typing import FloatArray
from .layers.base import Layer
from .layers.registry import BuildError, build, to_spec
from .optimizers import Optimizer

FORMAT = "layernet"
VERSION = 1
META_KEY = "__layernet__"
STATE_PREFIX = "state/"
OPTIMIZER_PREFIX = "optimizer/"
SAFETENSORS_SUFFIX = ".safetensors"

PathLike = str | os.PathLike[str]
L = TypeVar("L", bound=Layer)


@dataclass(frozen=True)
class TrainingState:
    """What a checkpoint keeps of a run besides the model and the optimizer.

    Attributes
    ----------
    epoch : int
        The epochs completed: pass it as ``fit(..., initial_epoch=epoch)``.
    rng : numpy.random.Generator
        The run's generator as it was when epoch 0 began: pass it as
        ``fit(..., rng=rng)`` (fit replays the skipped epochs' shuffles).
    """

    epoch: int
    rng: np.random.Generator


def save(
    model: Layer,
    path: PathLike,
    optimizer: Optimizer | None = None,
    *,
    epoch: int | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Write ``model`` (and ``optimizer``'s state, if given) to ``path`` atomically.

    The arrays go to a temporary file in the same directory, which is then
    renamed over ``path`` (``os.replace``); a save that fails midway leaves
    any earlier file at ``path`` as it was. ``path`` is used as given (no
    ``.npz`` is appended); one ending in ``.safetensors`` gets that format
    (see the module's docstring), any other an ``.npz`` archive.

    Parameters
    ----------
    model : Layer
        Any model (a Sequential, a container, a single layer); every layer in
        it must implement ``get_config`` and be registered.
    path : str or os.PathLike
    optimizer : Optimizer, optional
        Saved so that :func:`load_optimizer_state` can resume training exactly.
    epoch : int, optional
        The epochs completed, for a checkpoint (:func:`load_training_state`).
    rng : numpy.random.Generator, optional
        With ``epoch``: the run's generator as epoch 0 found it.

    Notes
    -----
    The state of every ``numpy.random.Generator`` a layer of the model
    holds (Dropout's ``rng``) is saved too, and :func:`load` restores it,
    so a loaded model draws the masks the saved one would have drawn next.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"save: model must be a Layer, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"save: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    _check_path("save", path)
    if Path(path).is_dir():
        raise ValueError(f"save: {path} is a directory; pass a file path such as 'model.npz'")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"save: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": to_spec(model),
        "optimizer": None,
        "generators": {
            key: _generator_state(gen) for key, (_, _, gen) in _generators(model).items()
        },
        "frozen": {
            "layers": [path for path, layer in model.named_modules() if not layer.trainable],
            "parameters": [name for name, p in model.named_parameters() if not p.trainable],
        },
    }
    if epoch is not None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"save: epoch must be an int >= 0, got {epoch!r}")
        meta["training"] = {
            "epoch": epoch,
            "rng": None if rng is None else _generator_state(rng),
        }
    arrays: dict[str, np.ndarray[Any, Any]] = {
        STATE_PREFIX + name: array for name, array in model.state_dict().items()
    }
    if optimizer is not None:
        opt_state = optimizer.state_dict()
        meta["optimizer"] = {k: v for k, v in opt_state.items() if k != "state"}
        for index, slots in opt_state["state"].items():
            for key, array in slots.items():
                arrays[f"{OPTIMIZER_PREFIX}{index}/{key}"] = array
    try:
        text = json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"save: the model's or optimizer's get_config() is not JSON-serialisable: {exc}"
        ) from None
    target = Path(path)
    safetensors = target.suffix == SAFETENSORS_SUFFIX
    if safetensors:
        data = _safetensors_bytes(arrays, text)
    else:
        arrays[META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if safetensors:
                handle.write(data)
            else:
                _write_npz(handle, arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _safetensors_module() -> Any:
    return import_optional("safetensors.numpy", "the .safetensors format", "safetensors")


def _safetensors_bytes(arrays: Mapping[str, np.ndarray[Any, Any]], meta: str) -> bytes:
    """The file's bytes: the state dict under its own names, optimizer arrays, JSON metadata."""
    tensors = {
        key.removeprefix(STATE_PREFIX): np.array(array, order="C")  # C order; 0-d stays 0-d
        for key, array in arrays.items()
    }
    data: bytes = _safetensors_module().save(tensors, metadata={META_KEY: meta})
    return data


def _write_npz(handle: Any, arrays: Mapping[str, np.ndarray[Any, Any]]) -> None:
    """Write the archive (a seam for tests that simulate a failing disk)."""
    savez: Any = np.savez  # numpy's stubs reject **arrays next to allow_pickle
    savez(handle, allow_pickle=False, **arrays)


@overload
def load(path: PathLike, *, custom_layers: Mapping[str, type[Layer]] | None = None) -> Layer: ...
@overload
def load(
    path: PathLike, *, custom_layers: Mapping[str, type[Layer]] | None = None, expect: type[L]
) -> L: ...
def load(
    path: PathLike,
    *,
    custom_layers: Mapping[str, type[Layer]] | None = None,
    expect: type[Layer] = Layer,
) -> Layer:
    """Rebuild the model saved at ``path``, with its parameters and buffers.

    Parameters
    ----------
    path : str or os.PathLike
    custom_layers : mapping of str to Layer subclass, optional
        Layer classes that are not registered (:func:`layernet.register`),
        by class name.
    expect : Layer subclass, optional
        The class the file must hold, e.g. ``Sequential``: a file holding
        anything else is a TypeError, and type checkers know the result's
        type (``model = layernet.load(path, expect=Sequential)`` has
        ``fit``/``predict`` without an ``isinstance``).

    Returns
    -------
    Layer
        The model as it was saved, of the saved class (a Sequential comes back
        a Sequential, a single layer that layer, nested containers nested),
        with bit-identical parameters and buffers in the saved dtype. Pass
        ``expect`` (or narrow with ``isinstance``) for its methods, or call
        :func:`layernet.predict` and :func:`layernet.fit`, which take any
        Layer.

    Raises
    ------
    ValueError
        Naming the file and the problem when it is missing, not an ``.npz``
        archive, truncated or corrupted, holds pickled objects, was not
        written by :func:`save`, names an unknown layer, or its arrays do not
        fit the architecture.
    """
    _check_path("layernet.load", path)
    if not (isinstance(expect, type) and issubclass(expect, Layer)):
        raise TypeError(f"layernet.load: expect must be a Layer subclass, got {expect!r}")
    if custom_layers is not None:
        if not isinstance(custom_layers, Mapping):
            raise TypeError(
                "layernet.load: custom_layers must be a mapping of class name to Layer "
                f"subclass, got {type(custom_layers).__name__}"
            )
        for key, cls in custom_layers.items():
            if not (isinstance(cls, type) and issubclass(cls, Layer)):
                raise TypeError(
                    f"layernet.load: custom_layers[{key!r}] must be a Layer subclass, "
                    f"got {type(cls).__name__}"
                )
    arrays, meta = _read(path)
    try:
        model = build(meta.get("model"), custom_layers)
    except BuildError as exc:
        raise ValueError(f"layernet.load: {path}: {exc}") from None
    state = {k[len(STATE_PREFIX) :]: v for k, v in arrays.items() if k.startswith(STATE_PREFIX)}
    targets = {name: param.value for name, param in model.named_parameters()}
    targets.update(model.named_buffers())
    for name, array in state.items():
        want = targets.get(name)
        if want is not None and array.dtype != want.dtype:  # a file is exact: no silent casts
            raise ValueError(
                f"layernet.load: {path}: the saved arrays do not fit the architecture: "
                f"{model!r}: state dict entry {name!r} has dtype {array.dtype}, "
                f"expected {want.dtype}"
            )
    try:
        model.load_state_dict(state)
    except ValueError as exc:
        raise ValueError(
            f"layernet.load: {path}: the saved arrays do not fit the architecture: {exc}"
        ) from None
    _restore_frozen(model, meta.get("frozen"))
    held = _generators(model)
    saved = meta.get("generators") or {}
    for key, state_of in saved.items() if isinstance(saved, dict) else ():
        if key in held:
            layer, attribute, _ = held[key]
            setattr(layer, attribute, _generator_from(state_of, f"layernet.load: {path}"))
    if not isinstance(model, expect):
        raise TypeError(
            f"layernet.load: {path} holds a {type(model).__name__}, expected a {expect.__name__}"
        )
    return model


def load_optimizer_state(path: PathLike, optimizer: Optimizer) -> None:
    """Restore the optimizer state saved at ``path`` into ``optimizer``, in place.

    Build the optimizer on the loaded model first, then restore::

        model = layernet.load("ckpt.npz")
        opt = layernet.SGD(model.parameters(), lr=0.1, momentum=0.9)
        layernet.load_optimizer_state("ckpt.npz", opt)

    Raises
    ------
    ValueError
        If the file holds no optimizer state, or state for another class or
        other parameter shapes (or any problem :func:`load` reports).
    """
    _check_path("layernet.load_optimizer_state", path)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "layernet.load_optimizer_state: optimizer must be an Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    arrays, meta = _read(path)
    saved = meta.get("optimizer")
    if not isinstance(saved, dict):
        raise ValueError(
            f"layernet.load_optimizer_state: {path} holds no optimizer state; "
            "save it with layernet.save(model, path, optimizer=opt)"
        )
    state: dict[int, dict[str, FloatArray]] = {}
    for key, array in arrays.items():
        if key.startswith(OPTIMIZER_PREFIX):
            index, _, slot = key[len(OPTIMIZER_PREFIX) :].partition("/")
            if not index.isdigit() or not slot:
                raise ValueError(
                    f"layernet.load_optimizer_state: {path}: corrupted optimizer entry {key!r}"
                )
            state.setdefault(int(index), {})[slot] = array
    try:
        optimizer.load_state_dict({**saved, "state": state})
    except (ValueError, TypeError) as exc:
        raise ValueError(f"layernet.load_optimizer_state: {path}: {exc}") from None


def load_training_state(path: PathLike) -> TrainingState:
    """The epochs completed and the run's generator that a checkpoint carries.

    Resuming in a new process, from a :class:`~layernet.ModelCheckpoint` file::

        model = layernet.load("ckpt-10.npz", expect=Sequential)  # Dropout generators too
        opt = layernet.Adam(model.parameters(), lr=1e-3)
        layernet.load_optimizer_state("ckpt-10.npz", opt)
        state = layernet.load_training_state("ckpt-10.npz")
        model.fit(x, y, ..., epochs=20, initial_epoch=state.epoch, rng=state.rng)

    Raises
    ------
    ValueError
        If the file holds no training state (it was written by
        :func:`save` without ``epoch``), or any problem :func:`load` reports.
    """
    where = f"layernet.load_training_state: {path}"
    _check_path("layernet.load_training_state", path)
    _, meta = _read(path)
    training = meta.get("training")
    if not isinstance(training, dict) or not isinstance(training.get("epoch"), int):
        raise ValueError(
            f"{where}: the file holds no training state; ModelCheckpoint writes it, or "
            "layernet.save(model, path, optimizer, epoch=..., rng=...)"
        )
    saved_rng = training.get("rng")
    rng = np.random.default_rng() if saved_rng is None else _generator_from(saved_rng, where)
    return TrainingState(epoch=training["epoch"], rng=rng)


def _restore_frozen(model: Layer, frozen: Any) -> None:
    """Set the ``trainable`` flags that :func:`save` recorded (each as saved, not propagated)."""
    if not isinstance(frozen, dict):
        return
    layers = set(frozen.get("layers", ()))
    for path, layer in model.named_modules():
        if path in layers:
            layer._trainable = False  # this layer's flag alone: children kept theirs
    names = set(frozen.get("parameters", ()))
    for name, param in model.named_parameters():
        param.trainable = name not in names


# -- random generators -----------------------------------------------------------------

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _generators(model: Layer) -> dict[str, tuple[Layer, str, np.random.Generator]]:
    """Every Generator a layer of ``model`` holds, by dotted path (``"3.rng"``)."""
    found: dict[str, tuple[Layer, str, np.random.Generator]] = {}
    for prefix, layer in model.named_modules():
        # a checkpoint saves every epoch: look at the attribute values without vars(),
        # which would slow every later access on CPython 3.11-3.12 (Layer.tree_attributes);
        # a referent that is a dict may be the layer's own __dict__, so scan then too
        if not any(isinstance(v, (np.random.Generator, dict)) for v in gc.get_referents(layer)):
            continue
        for name, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                found[f"{prefix}.{name}" if prefix else name] = (layer, name, value)
    return found


def _generator_state(gen: np.random.Generator) -> dict[str, Any]:
    """The bit generator's state as JSON (arrays as tagged lists)."""

    def encode(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
        if isinstance(value, np.integer):
            return int(value)
        return value

    state: dict[str, Any] = encode(gen.bit_generator.state)
    return state


def _generator_from(state: Any, where: str) -> np.random.Generator:
    """A Generator in the saved state (the inverse of :func:`_generator_state`)."""

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if "__ndarray__" in value:
                return np.asarray(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
            return {k: decode(v) for k, v in value.items()}
        return value

    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"{where}: corrupted generator state (bit generator {name!r})")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = decode(state)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{where}: corrupted generator state: {exc}") from None
    return np.random.Generator(bit_generator)


# -- reading ---------------------------------------------------------------------------


def _check_path(where: str, path: object) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")


def _read(path: PathLike) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """Every array in the file and the parsed metadata, or a ValueError naming the problem."""
    where = f"layernet.load: {path}"
    try:
        handle = open(path, "rb")  # noqa: SIM115  (closed below; np.load may not on error)
    except OSError as exc:
        raise ValueError(f"{where}: cannot open the file: {exc.strerror or exc}") from None
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    with handle:
        head = handle.read(16)
        if _is_safetensors(head):
            handle.seek(0)
            arrays, raw_meta = _read_safetensors(handle.read(), where)
            return arrays, _parse_meta(raw_meta, where)
        if head[:4] != b"PK\x03\x04":
            foreign = _foreign_format(head, Path(path).suffix)
            if foreign:
                raise ValueError(f"{where}: not an .npz archive nor a .safetensors file: {foreign}")
            problem = (
                "the file is empty" if not head else "it does not start with the zip signature"
            )
            raise ValueError(f"{where}: not an .npz archive ({problem}) nor a .safetensors file")
        handle.seek(0)
        foreign = _foreign_zip(handle)
        if foreign:
            raise ValueError(f"{where}: not an .npz archive nor a .safetensors file: {foreign}")
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as archive:
                for key in archive.files:
                    arrays[key] = archive[key]
        except ValueError as exc:
            if "pickle" in str(exc) or "Object arrays" in str(exc):
                raise ValueError(
                    f"{where}: the file holds pickled Python objects, which layernet never "
                    "loads (loading them could run code)"
                ) from None
            raise ValueError(f"{where}: corrupted archive: {exc}") from None
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
            raise ValueError(f"{where}: truncated or corrupted archive: {exc}") from None
    raw = arrays.pop(META_KEY, None)
    if raw is None:
        raise ValueError(
            f"{where}: an .npz archive without layernet metadata (no {META_KEY!r} entry); "
            "it was not written by layernet.save"
        )
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"expected a 1-D uint8 array, got {raw.dtype} of shape {raw.shape}")
        text = raw.tobytes().decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: corrupted layernet metadata: {exc}") from None
    return arrays, _parse_meta(text, where)


def _parse_meta(text: str, where: str) -> dict[str, Any]:
    """The JSON record, checked for the format name and version."""
    try:
        meta = json.loads(text)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("not a layernet metadata record")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: corrupted layernet metadata: {exc}") from None
    if meta.get("version") != VERSION:
        raise ValueError(
            f"{where}: written in layernet file format version {meta.get('version')!r}; "
            f"this layernet reads version {VERSION}"
        )
    return meta


# -- safetensors and the formats layernet does not read --------------------------------


def _is_safetensors(head: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then a JSON object."""
    return len(head) >= 9 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") < 2**32


def _read_safetensors(data: bytes, where: str) -> tuple[dict[str, np.ndarray[Any, Any]], str]:
    """The arrays (state dict names prefixed ``state/`` as in an .npz) and the JSON text."""
    size = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: truncated or corrupted .safetensors file: {exc}") from None
    metadata = header.get("__metadata__") or {}
    text = metadata.get(META_KEY) if isinstance(metadata, dict) else None
    if not isinstance(text, str):
        raise ValueError(
            f"{where}: a .safetensors file without layernet metadata (no {META_KEY!r} entry): "
            "a plain state dict, from torch or the Hugging Face hub, say. Build the model, then "
            "model.load_state_dict(safetensors.numpy.load_file(path)) if it uses layernet's "
            "names and layouts, or layernet.interop.from_torch(model, "
            "safetensors.numpy.load_file(path)) if it is a torch state dict"
        )
    try:
        tensors = _safetensors_module().load(data)
    except ImportError:
        raise
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ValueError(f"{where}: truncated or corrupted .safetensors file: {exc}") from None
    arrays = {
        (key if key.startswith(OPTIMIZER_PREFIX) else STATE_PREFIX + key): value
        for key, value in tensors.items()
    }
    return arrays, text


_TORCH_ADVICE = (
    "layernet never unpickles (loading a pickle can run code). In torch, save the weights "
    "without pickles (safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')), "
    "then build the same model in layernet and call layernet.interop.from_torch(model, "
    "safetensors.numpy.load_file('weights.safetensors'))"
)


def _foreign_format(head: bytes, suffix: str) -> str:
    """What a file that is neither .npz nor .safetensors is, by its first bytes ("" if unknown)."""
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return (
            "an HDF5 file (Keras .h5 or .weights.h5 weights?), which layernet does not read; "
            "read its arrays with h5py and pass them to model.load_state_dict (a Keras Dense "
            "kernel is (in, out), as layernet's Dense weight)"
        )
    if head.startswith(b"\x93NUMPY"):
        return "a single NumPy array (.npy), not a model archive; use np.load for it"
    if head[:1] == b"\x80" and head[1:2] in {bytes([n]) for n in range(2, 6)}:
        return (
            "a Python pickle (torch.save's legacy format, joblib or pickle.dump): " + _TORCH_ADVICE
        )
    onnx_fields = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42}  # ModelProto's fields after 1
    if len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] < 0x80 and head[2] in onnx_fields:
        return (
            "an ONNX model (layernet.onnx.export writes them, nothing reads them back into "
            "layernet); run it with onnxruntime.InferenceSession(path)"
        )
    if suffix == ".onnx":
        return "an ONNX model? It does not parse as one; layernet reads .npz and .safetensors"
    return ""


def _foreign_zip(handle: Any) -> str:
    """What a zip archive that is not an .npz is ("" if it may be one)."""
    try:
        with zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return ""  # np.load reports the damage
    if any(name.endswith("data.pkl") for name in names):
        return "a PyTorch file (torch.save's zip archive of pickles); " + _TORCH_ADVICE
    if "config.json" in names and any(name.endswith(".weights.h5") for name in names):
        return (
            "a Keras .keras archive (config.json and HDF5 weights), which layernet does not "
            "read; rebuild the model in layernet and copy the weights from "
            "keras_model.get_weights() with model.load_state_dict (a Keras Dense kernel is "
            "(in, out), as layernet's Dense weight)"
        )
    return ""
