"""Persistence faults beyond tests/test_serialization.py (which this extends, not repeats).

test_serialization.py already covers: a missing file, foreign and empty files,
an .npz without our metadata, a pickled object array, truncation at three
points, a flipped byte caught by the CRC, a mis-shaped array, a wrong format
version, an unbuildable config, a failing _write_npz, and a round trip in both
dtypes. Here: hostile payloads that would leave a marker file if anything
unpickled them, missing and extra arrays, dtypes that do not match the
architecture, unknown and nested-unknown layer names, saves interrupted at every
stage (by an error and by Ctrl-C), round trips of every exported layer, and
bit-identical resumption for every optimizer.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import serialization
from reliability_cases import LAYERS, OPTIMIZER_VARIANTS, draw_input


class Marker:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.path,))


def model(dtype: Any = np.float64) -> ln.Sequential:
    return ln.Sequential(
        [ln.Dense(3, 5, rng=0, dtype=dtype), ln.BatchNorm1d(5, dtype=dtype), ln.Tanh(),
         ln.Dense(5, 2, rng=1, dtype=dtype)]
    )  # fmt: skip


def write(path: Path, meta: dict[str, Any] | None, arrays: dict[str, Any], **kw: Any) -> None:
    if meta is not None:
        arrays = {"__layernet__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays}
    savez: Any = np.savez
    savez(path, **arrays, **kw)


def parts(m: ln.Layer) -> tuple[dict[str, Any], dict[str, Any]]:
    meta = {"format": "layernet", "version": 1, "optimizer": None,
            "model": {"class_name": type(m).__name__, "config": m.get_config()}}  # fmt: skip
    return meta, {"state/" + k: v for k, v in m.state_dict().items()}


# -- hostile files: none runs code -----------------------------------------------------


def test_a_pickled_object_array_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    meta, arrays = parts(model())
    arrays["state/0.weight"] = np.array([Marker(marker)], dtype=object)
    write(tmp_path / "evil.npz", meta, arrays)
    with pytest.raises(ValueError, match=r"evil\.npz: the file holds pickled Python objects"):
        ln.load(tmp_path / "evil.npz")
    with pytest.raises(ValueError, match=r"evil\.npz: the file holds pickled Python objects"):
        ln.load_optimizer_state(tmp_path / "evil.npz", ln.SGD(model().parameters(), lr=0.1))
    assert not marker.exists()
    np.load(tmp_path / "evil.npz", allow_pickle=True)["state/0.weight"]  # the payload is live:
    assert marker.exists()  # numpy with allow_pickle=True would have run it


def test_a_raw_pickle_is_not_an_npz_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(ValueError, match=r"model\.npz: not an \.npz archive"):
        ln.load(path)
    assert not marker.exists()


def test_pickled_metadata_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _, arrays = parts(model())
    write(
        tmp_path / "m.npz",
        None,
        {"__layernet__": np.array([Marker(marker)], dtype=object), **arrays},
    )
    with pytest.raises(ValueError, match="pickled Python objects"):
        ln.load(tmp_path / "m.npz")
    assert not marker.exists()


# -- files that do not fit the architecture --------------------------------------------


def test_a_missing_array_is_named(tmp_path: Path) -> None:
    meta, arrays = parts(model())
    del arrays["state/1.running_var"]
    write(tmp_path / "m.npz", meta, arrays)
    with pytest.raises(
        ValueError, match=r"do not fit the architecture: .*missing \['1.running_var'\]"
    ):
        ln.load(tmp_path / "m.npz")


def test_an_extra_array_is_named(tmp_path: Path) -> None:
    meta, arrays = parts(model())
    arrays["state/4.weight"] = np.zeros(3)
    write(tmp_path / "m.npz", meta, arrays)
    with pytest.raises(ValueError, match=r"unexpected \['4.weight'\]"):
        ln.load(tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((3, 5), np.float32), r"'0.weight' has dtype float32, expected float64"),
        (np.zeros((3, 5), np.int64), r"'0.weight' has dtype int64, expected float64"),
        (np.zeros((5, 3)), r"'0.weight' has shape \(5, 3\), expected \(3, 5\)"),
        (np.zeros(15), r"'0.weight' has shape \(15,\), expected \(3, 5\)"),
    ],
    ids=["float32", "int64", "transposed", "flat"],
)
def test_a_mismatched_array_is_named(tmp_path: Path, bad: Any, match: str) -> None:
    meta, arrays = parts(model())
    arrays["state/0.weight"] = bad
    write(tmp_path / "m.npz", meta, arrays)
    with pytest.raises(
        ValueError, match=r"m\.npz: the saved arrays do not fit the architecture: .*" + match
    ):
        ln.load(tmp_path / "m.npz")


@pytest.mark.parametrize("name", ["Conv9d", "os.system", "__import__", "Layer", "Activation"])
def test_an_unknown_layer_name_is_refused(tmp_path: Path, name: str) -> None:
    meta, arrays = parts(model())
    meta["model"]["config"]["layers"][2] = {"class_name": name, "config": {}}
    write(tmp_path / "m.npz", meta, arrays)
    with pytest.raises(ValueError, match=rf"m\.npz: unknown layer class '{name}'; known: "):
        ln.load(tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("model_record", "match"),
    [
        ("Sequential", r"the architecture record is malformed"),
        (
            {"class_name": "Dense", "config": {"in_features": 3}},
            r"cannot rebuild Dense from its config",
        ),
        ({"class_name": "Dense", "config": "in=3"}, r"the config of Dense is not a dict"),
        (
            {"class_name": "Dense", "config": {"in_features": 3, "out_features": 2, "evil": 1}},
            r"cannot rebuild Dense",
        ),
    ],
    ids=["string", "missing-argument", "config-string", "extra-argument"],
)
def test_a_malformed_architecture_is_refused(tmp_path: Path, model_record: Any, match: str) -> None:
    meta, _ = parts(model())
    meta["model"] = model_record
    write(tmp_path / "m.npz", meta, {})
    with pytest.raises(ValueError, match=r"m\.npz: " + match):
        ln.load(tmp_path / "m.npz")


def test_corrupted_optimizer_state_is_refused_before_anything_changes(tmp_path: Path) -> None:
    m = model()
    opt = ln.Adam(m.parameters(), lr=0.01)
    m.fit(np.ones((4, 3)), np.zeros((4, 2)), loss=ln.MSELoss(), optimizer=opt, epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    ln.save(m, path, optimizer=opt)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["optimizer/0/exp_avg"] = np.zeros(7)
    write(tmp_path / "bad.npz", None, arrays)
    fresh = ln.Adam(m.parameters(), lr=0.5)
    with pytest.raises(
        ValueError, match=r"bad\.npz: Adam: state entry 0/'exp_avg' has shape \(7,\)"
    ):
        ln.load_optimizer_state(tmp_path / "bad.npz", fresh)
    assert fresh.lr == 0.5
    assert fresh.state == {}


# -- interrupted saves -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [OSError("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"]
)
@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_an_interrupted_save_leaves_the_earlier_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, fault: BaseException
) -> None:
    path = tmp_path / "model.npz"
    m = model()
    ln.save(m, path)
    before = path.read_bytes()
    x = np.random.default_rng(0).normal(size=(5, 3))
    expected = m.predict(x)

    def fail(*args: Any, **kwargs: Any) -> None:
        if stage == "write":
            args[0].write(b"PK\x03\x04 partial")
        raise fault

    target = {"write": (serialization, "_write_npz"), "fsync": (os, "fsync"),
              "replace": (os, "replace")}[stage]  # fmt: skip
    monkeypatch.setattr(*target, fail)
    for p in m.parameters():
        p.value += 1.0
    with pytest.raises(type(fault)):
        ln.save(m, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    np.testing.assert_array_equal(ln.load(path, expect=ln.Sequential).predict(x), expected)


# -- round trips and resumption --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_round_trips_bit_for_bit(tmp_path: Path, name: str, dtype: Any) -> None:
    from hypothesis import strategies as st

    rng = np.random.default_rng(4)

    def draw(strategy: st.SearchStrategy[Any]) -> Any:  # a fixed, deterministic "draw"
        return _first(strategy)

    layer, sample, _ = LAYERS[name].build(draw, dtype)
    x = draw_input(LAYERS[name], rng, (3, *sample), dtype)
    if any(True for _ in layer.named_buffers()):
        layer(x, training=True)  # move the running statistics off their defaults
    for _, p in layer.named_parameters():
        p.value[...] = rng.normal(size=p.shape)
    path = tmp_path / "layer.npz"
    ln.save(layer, path)
    rebuilt = ln.load(path)  # the saved class itself, never wrapped
    assert type(rebuilt) is type(layer)
    got = rebuilt(x)
    want = layer(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[key], value)
        assert rebuilt.state_dict()[key].dtype == value.dtype


def _first(strategy: Any) -> Any:
    """A deterministic stand-in for hypothesis' draw: a fixed mid-range value."""
    from hypothesis import find

    return find(strategy, lambda v: True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(set(OPTIMIZER_VARIANTS) - {"LBFGS"}))
def test_resuming_from_a_file_is_bit_identical(tmp_path: Path, name: str, dtype: Any) -> None:
    """Three epochs, save, load, three more == six straight, for every stateful optimizer.

    LBFGS is left out: SciPy keeps its curvature pairs internally, so a loaded LBFGS
    resumes from its parameters with a fresh history (documented on LBFGS).
    """
    x = np.random.default_rng(1).normal(size=(24, 3)).astype(dtype)
    y = np.sin(x[:, :2])
    settings: dict[str, Any] = {"loss": ln.MSELoss(), "batch_size": 5, "verbose": 0}
    make = OPTIMIZER_VARIANTS[name]

    straight = model(dtype)
    straight.fit(x, y, optimizer=make(straight.parameters()), epochs=6,
                 rng=np.random.default_rng(9), **settings)  # fmt: skip

    first = model(dtype)
    gen = np.random.default_rng(9)
    opt = make(first.parameters())
    first.fit(x, y, optimizer=opt, epochs=3, rng=gen, **settings)
    ln.save(first, tmp_path / "ckpt.npz", optimizer=opt)
    resumed = ln.load(tmp_path / "ckpt.npz", expect=ln.Sequential)
    opt2 = make(resumed.parameters())
    ln.load_optimizer_state(tmp_path / "ckpt.npz", opt2)
    resumed.fit(x, y, optimizer=opt2, epochs=3, rng=gen, **settings)
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)
