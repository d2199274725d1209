"""save / load: round trips, optimizer state and exact resumption, hostile files, atomicity."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet
from layernet import SGD, Dense, FloatArray, Layer, MSELoss, Sequential, Sigmoid, serialization
from layernet.layers.registry import registered_layers


def make_model(dtype: Any = np.float64) -> Sequential:
    inner = Sequential([Dense(4, 4, rng=2, dtype=dtype, bias=False), Sigmoid()])
    return Sequential(
        [Dense(3, 4, rng=1, dtype=dtype), Sigmoid(), inner, Dense(4, 2, rng=3, dtype=dtype)]
    )


def make_data(n: int = 40) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    return x, np.stack([x[:, 0] * x[:, 1], x[:, 2]], axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_bit_identical_predictions(tmp_path: Path, dtype: Any) -> None:
    model = make_model(dtype)
    path = tmp_path / "model.npz"
    layernet.save(model, path)
    loaded = layernet.load(path)
    assert isinstance(loaded, Sequential)
    assert loaded.get_config() == model.get_config()
    assert loaded.dtype == dtype
    x = np.random.default_rng(1).normal(size=(7, 3))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.predict(x).dtype == dtype
    for (name, a), (name_b, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert name == name_b
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_the_file_is_arrays_and_json_only(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    model = make_model()
    layernet.save(model, path, optimizer=SGD(model.parameters(), lr=0.1))
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
        meta = json.loads(archive["__layernet__"].tobytes())
        assert archive["__layernet__"].dtype == np.uint8
    assert keys == {"__layernet__", *("state/" + k for k in model.state_dict())}
    assert meta["model"]["class_name"] == "Sequential"
    assert meta["model"]["config"] == model.get_config()
    assert meta["optimizer"]["class_name"] == "SGD"
    assert meta["optimizer"]["config"]["lr"] == 0.1


def test_resuming_with_optimizer_state_is_bit_identical(tmp_path: Path) -> None:
    x, y = make_data()
    kwargs: dict[str, Any] = {"loss": MSELoss(), "batch_size": 8, "verbose": 0}

    straight = make_model()
    opt = SGD(straight.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    straight.fit(x, y, optimizer=opt, epochs=6, rng=np.random.default_rng(3), **kwargs)

    first = make_model()
    gen = np.random.default_rng(3)
    opt1 = SGD(first.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    first.fit(x, y, optimizer=opt1, epochs=3, rng=gen, **kwargs)
    path = tmp_path / "ckpt.npz"
    layernet.save(first, path, optimizer=opt1)

    resumed = layernet.load(path, expect=Sequential)
    opt2 = SGD(resumed.parameters(), lr=1.0)  # hyperparameters come back from the file
    layernet.load_optimizer_state(path, opt2)
    assert opt2.lr == 0.05
    assert opt2.momentum == 0.9
    resumed.fit(x, y, optimizer=opt2, epochs=3, rng=gen, **kwargs)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)


def test_optimizer_state_dict_round_trip_and_checks() -> None:
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.5)
    x, y = make_data(8)
    model.fit(x, y, loss=MSELoss(), optimizer=opt, epochs=1, verbose=0, rng=0)
    state = opt.state_dict()
    assert state["class_name"] == "SGD"
    assert sorted(state["state"]) == list(range(len(opt.params)))
    assert set(state["state"][0]) == {"momentum_buffer"}
    state["state"][0]["momentum_buffer"][...] = 123.0  # a copy
    assert not (opt.state[opt.params[0]]["momentum_buffer"] == 123.0).any()
    other = SGD(make_model().parameters(), lr=0.3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.state[other.params[0]]["momentum_buffer"], 123.0)
    other.load_state_dict({**state, "config": {**state["config"], "lr": 0.0}})
    assert other.lr == 0.0  # a schedule may anneal to zero; the file must still load
    with pytest.raises(ValueError, match="SGD: cannot load the state of a Adam optimizer"):
        other.load_state_dict({**state, "class_name": "Adam"})
    small = SGD(Dense(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"parameters of shapes \[\(3, 4\).*holds \[\(2, 2\)"):
        small.load_state_dict(state)


def test_load_optimizer_state_needs_one_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model = make_model()
    layernet.save(model, path)
    with pytest.raises(ValueError, match=r"m\.npz holds no optimizer state; save it with"):
        layernet.load_optimizer_state(path, SGD(model.parameters(), lr=0.1))
    opt = SGD(model.parameters(), lr=0.1)
    saved = {k: v for k, v in opt.state_dict().items() if k != "state"}
    meta = {"format": "layernet", "version": 1, "model": None, "optimizer": saved}
    write(path, np.frombuffer(json.dumps(meta).encode(), np.uint8), {"optimizer/x/y": np.ones(1)})
    with pytest.raises(ValueError, match=r"corrupted optimizer entry 'optimizer/x/y'"):
        layernet.load_optimizer_state(path, opt)


def test_exported_layers_by_name_and_custom_layers_when_passed(tmp_path: Path) -> None:
    class Doubler(Sigmoid):
        pass

    model = Sequential([Dense(2, 2, rng=0), Doubler()])
    path = tmp_path / "custom.npz"
    layernet.save(model, path)
    with pytest.raises(ValueError, match=r"custom\.npz: unknown layer class 'Doubler'; known: "):
        layernet.load(path)
    loaded = layernet.load(path, custom_layers={"Doubler": Doubler})
    assert isinstance(loaded, Sequential)
    assert isinstance(loaded[1], Doubler)
    registry = registered_layers()
    assert {"Dense", "Sigmoid", "Sequential"} <= set(registry)
    assert all(issubclass(cls, Layer) for cls in registry.values())


# -- hostile and broken files ----------------------------------------------------------


def write(path: Path, meta: FloatArray, arrays: dict[str, FloatArray]) -> None:
    savez: Any = np.savez  # numpy's stubs reject **arrays
    savez(path, __layernet__=meta, **arrays)


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "good.npz"
    layernet.save(make_model(), path)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.npz: cannot open the file"):
        layernet.load(tmp_path / "nope.npz")


def test_foreign_and_empty_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt: not an \.npz archive \(it does not start"):
        layernet.load(text)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.npz: not an \.npz archive \(the file is empty"):
        layernet.load(empty)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        layernet.load(npy)


def test_npz_without_our_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ValueError, match=r"plain\.npz: an \.npz archive without layernet metadata"):
        layernet.load(path)
    bad_meta = tmp_path / "meta.npz"
    np.savez(bad_meta, __layernet__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ValueError, match=r"meta\.npz: corrupted layernet metadata"):
        layernet.load(bad_meta)


def test_pickled_objects_are_never_loaded(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    ran: list[int] = []

    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
            return (ran.append, (1,))

    meta = np.frombuffer(json.dumps({"format": "layernet", "version": 1}).encode(), np.uint8)
    np.savez(path, __layernet__=meta, evil=np.array([Payload()], dtype=object))
    with pytest.raises(ValueError, match=r"pickled\.npz: the file holds pickled Python objects"):
        layernet.load(path)
    assert ran == []


def test_truncated_file(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"good\.npz: truncated or corrupted archive"):
            layernet.load(path)


def test_corrupted_bytes(tmp_path: Path) -> None:
    path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("state/0.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128
    data[start : start + 8] = b"\xff" * 8  # inside the weight's numbers: the CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"good\.npz: truncated or corrupted archive.*CRC"):
        layernet.load(path)


def test_arrays_that_do_not_fit_the_architecture(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    model = make_model()
    arrays = {"state/" + k: v for k, v in model.state_dict().items()}
    arrays["state/0.weight"] = np.zeros((5, 5))
    meta = {"format": "layernet", "version": 1, "optimizer": None,
            "model": {"class_name": "Sequential", "config": model.get_config()}}  # fmt: skip
    write(path, np.frombuffer(json.dumps(meta).encode(), np.uint8), arrays)
    with pytest.raises(ValueError, match=r"odd\.npz: the saved arrays do not fit the architecture"):
        layernet.load(path)
    meta["version"] = 99
    write(path, np.frombuffer(json.dumps(meta).encode(), np.uint8), arrays)
    with pytest.raises(ValueError, match="file format version 99"):
        layernet.load(path)
    meta["version"] = 1
    meta["model"] = {"class_name": "Dense", "config": {"in_features": -1, "out_features": 2}}
    np.savez(path, __layernet__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(ValueError, match=r"odd\.npz: cannot rebuild Dense from its config"):
        layernet.load(path)


# -- atomic writes ---------------------------------------------------------------------


def test_a_failed_save_leaves_the_earlier_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.npz"
    model = make_model()
    layernet.save(model, path)
    before = path.read_bytes()

    def half_then_crash(handle: Any, arrays: Any) -> None:
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_npz", half_then_crash)
    for p in model.parameters():
        p.value += 1.0
    with pytest.raises(OSError, match="disk full"):
        layernet.save(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left
    monkeypatch.undo()
    x = np.ones((2, 3))
    loaded = layernet.load(path, expect=Sequential)
    np.testing.assert_array_equal(loaded.predict(x), make_model().predict(x))


def test_save_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="save: model must be a Layer, got dict"):
        layernet.save({}, tmp_path / "x.npz")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="save: optimizer must be an Optimizer, got str"):
        layernet.save(make_model(), tmp_path / "x.npz", optimizer="sgd")  # type: ignore[arg-type]
