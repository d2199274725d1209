"""The .safetensors format of save/load, and the foreign formats load names instead of failing.

The safetensors tests skip unless the package is installed
(``pip install 'layernet[safetensors]'``; ``.ci/run`` installs it); the
foreign-format tests build their files by hand and always run.
"""

from __future__ import annotations

import json
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln

Array = np.ndarray[Any, Any]


def make_model(dtype: Any = np.float64) -> ln.Sequential:
    bn = ln.BatchNorm1d(5, dtype=dtype)
    bn.running_mean[...] = np.linspace(-1.0, 1.0, 5)
    bn.running_var[...] = np.linspace(0.5, 2.0, 5)
    inner = ln.Sequential([ln.Dense(5, 4, bias=False, rng=2, dtype=dtype), ln.Tanh()])
    return ln.Sequential(
        [ln.Dense(3, 5, rng=1, dtype=dtype), bn, inner, ln.Dense(4, 2, rng=3, dtype=dtype)]
    )


def make_data(n: int = 32) -> tuple[Array, Array]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    return x, np.stack([x[:, 0] * x[:, 1], x[:, 2]], axis=1)


# -- .safetensors ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_safetensors_round_trip_is_bit_identical(tmp_path: Path, dtype: Any) -> None:
    pytest.importorskip("safetensors")
    model = make_model(dtype)
    path = tmp_path / "model.safetensors"
    ln.save(model, path)
    loaded = ln.load(path, expect=ln.Sequential)
    assert [type(layer) for layer in loaded] == [type(layer) for layer in model]
    saved_state, loaded_state = model.state_dict(), loaded.state_dict()
    assert list(loaded_state) == list(saved_state)
    for name, value in saved_state.items():
        assert loaded_state[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded_state[name], value)
    x, _ = make_data()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_safetensors_file_is_a_plain_state_dict_plus_metadata(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    safe_open = pytest.importorskip("safetensors").safe_open
    model = make_model()
    path = tmp_path / "model.safetensors"
    ln.save(model, path)
    tensors = st.load_file(str(path))
    assert set(tensors) == set(model.state_dict())
    fresh = make_model()
    for p in fresh.parameters():
        p.value[...] = 0.0
    fresh.load_state_dict(tensors)  # the file's tensors are a state dict as they are
    x, _ = make_data()
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))
    with safe_open(str(path), framework="np") as handle:
        meta = json.loads(handle.metadata()["__layernet__"])
    assert meta["format"] == "layernet"
    assert meta["model"]["class_name"] == "Sequential"


def test_safetensors_keeps_optimizer_state_for_an_exact_resume(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    x, y = make_data()
    kwargs: dict[str, Any] = {"loss": ln.MSELoss(), "batch_size": 8, "verbose": 0}
    straight = make_model()
    opt = ln.Adam(straight.parameters(), lr=0.01)
    straight.fit(x, y, optimizer=opt, epochs=4, rng=np.random.default_rng(3), **kwargs)

    first = make_model()
    gen = np.random.default_rng(3)
    opt1 = ln.Adam(first.parameters(), lr=0.01)
    first.fit(x, y, optimizer=opt1, epochs=2, rng=gen, **kwargs)
    path = tmp_path / "ckpt.safetensors"
    ln.save(first, path, optimizer=opt1)

    resumed = ln.load(path, expect=ln.Sequential)
    opt2 = ln.Adam(resumed.parameters(), lr=1.0)
    ln.load_optimizer_state(path, opt2)
    assert opt2.lr == 0.01
    resumed.fit(x, y, optimizer=opt2, epochs=2, rng=gen, **kwargs)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)


def test_a_plain_safetensors_state_dict_is_named_with_what_to_do(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "weights.safetensors"
    st.save_file({"0.weight": np.zeros((5, 3))}, str(path), metadata={"format": "pt"})
    with pytest.raises(
        ValueError,
        match=r"weights\.safetensors: a \.safetensors file without layernet metadata .*"
        r"model\.load_state_dict\(safetensors\.numpy\.load_file\(path\)\).*from_torch",
    ):
        ln.load(path)


def test_a_damaged_safetensors_file_is_a_value_error(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    path = tmp_path / "model.safetensors"
    ln.save(make_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ValueError, match=r"truncated or corrupted \.safetensors file"):
        ln.load(path)
    path.write_bytes(data[:30])
    with pytest.raises(ValueError, match=r"truncated or corrupted \.safetensors file"):
        ln.load(path)


def test_without_the_package_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r'pip install "layernet\[safetensors\]"'):
        ln.save(make_model(), tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    ln.save(make_model(), tmp_path / "model.npz")  # other suffixes need no package
    assert isinstance(ln.load(tmp_path / "model.npz"), ln.Sequential)


# -- foreign formats -----------------------------------------------------------------------


def test_a_torch_zip_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:  # the layout torch.save writes
        archive.writestr("model/data.pkl", pickle.dumps({"0.weight": 1}))
        archive.writestr("model/version", "3\n")
    with pytest.raises(
        ValueError,
        match=r"model\.pt: not an \.npz archive nor a \.safetensors file: a PyTorch file "
        r"\(torch\.save's zip archive of pickles\); layernet never unpickles.*"
        r"layernet\.interop\.from_torch",
    ):
        ln.load(path)


def test_a_real_torch_save_is_named(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "weights.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"weights\.pt: .*a PyTorch file"):
        ln.load(path)
    torch.save(torch.nn.Linear(3, 2).state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"weights\.pt: .*a Python pickle \(torch\.save's legacy"):
        ln.load(path)


def test_a_pickle_hdf5_keras_and_npy_are_named(tmp_path: Path) -> None:
    cases = {
        "model.pkl": (pickle.dumps({"a": 1}), r"a Python pickle"),
        "weights.h5": (b"\x89HDF\r\n\x1a\n" + bytes(40), r"an HDF5 file \(Keras"),
        "array.npy": (None, r"a single NumPy array \(\.npy\)"),
    }
    for name, (data, pattern) in cases.items():
        path = tmp_path / name
        if data is None:
            np.save(path, np.zeros(3))
        else:
            path.write_bytes(data)
        with pytest.raises(ValueError, match=re_name(name) + r": not an \.npz archive.*" + pattern):
            ln.load(path)
    keras = tmp_path / "model.keras"
    with zipfile.ZipFile(keras, "w") as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ValueError, match=r"model\.keras: .*a Keras \.keras archive"):
        ln.load(keras)


def test_an_onnx_file_is_named(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    import layernet.onnx

    path = tmp_path / "model.onnx"
    layernet.onnx.export(make_model(), path)
    with pytest.raises(ValueError, match=r"model\.onnx: .*an ONNX model .*onnxruntime"):
        ln.load(path)


def re_name(name: str) -> str:
    return name.replace(".", r"\.")
