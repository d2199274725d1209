"""Resuming training from a checkpoint, in a new process, gives the uninterrupted run's weights.

The three runs below each go through ``python`` in a fresh process (the
checkpoint is the only thing that travels between the halves): 20 epochs in
one go, and 12 epochs then a resume from the epoch-10 checkpoint up to 20.
The model has Dropout and BatchNorm, the optimizer is Adam, the rows are
shuffled and a validation split is drawn, so the weights only agree if the
optimizer state, the shuffling generator and the Dropout generator all
travel with the checkpoint. Same machine, same arithmetic: equality is exact.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import layernet as ln

SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np
import layernet as ln

phase, folder = sys.argv[1], Path(sys.argv[2])
data = np.random.default_rng(0)
x = data.normal(size=(60, 4))
y = np.tanh(x @ data.normal(size=(4, 2)))


def make_model():
    return ln.Sequential([ln.Dense(4, 16, rng=1), ln.BatchNorm1d(16), ln.ReLU(),
                          ln.Dropout(0.3, rng=2), ln.Dense(16, 2, rng=3)])


callbacks = [ln.ModelCheckpoint(str(folder / "ckpt-{epoch:02d}.npz"), monitor="loss"),
             ln.CSVLogger(folder / "log.csv")]
settings = dict(loss=ln.MSELoss(), batch_size=8, validation_split=0.25, verbose=0,
                callbacks=callbacks)
if phase == "resume":
    model = ln.load(folder / "ckpt-10.npz", expect=ln.Sequential)
    opt = ln.Adam(model.parameters(), lr=0.01)
    ln.load_optimizer_state(folder / "ckpt-10.npz", opt)
    state = ln.load_training_state(folder / "ckpt-10.npz")
    history = model.fit(x, y, optimizer=opt, epochs=20, initial_epoch=state.epoch,
                        rng=state.rng, **settings)
else:
    model = make_model()
    opt = ln.Adam(model.parameters(), lr=0.01)
    history = model.fit(x, y, optimizer=opt, epochs=int(phase), rng=7, **settings)
ln.save(model, folder / "final.npz")
(folder / "history.json").write_text(json.dumps({"epoch": history.epoch, **history.history}))
"""


def run(phase: str, folder: Path) -> None:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    subprocess.run(
        [sys.executable, "-c", SCRIPT, phase, str(folder)], check=True, env=env, timeout=300
    )


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    whole = tmp_path_factory.mktemp("whole")
    halves = tmp_path_factory.mktemp("halves")
    run("20", whole)
    run("12", halves)  # went on past the checkpoint it is resumed from
    run("resume", halves)
    return whole, halves


def test_resuming_in_a_new_process_gives_the_uninterrupted_weights(
    runs: tuple[Path, Path],
) -> None:
    whole, halves = runs
    want, got = ln.load(whole / "final.npz"), ln.load(halves / "final.npz")
    assert want.state_dict().keys() == got.state_dict().keys()
    for name, value in want.state_dict().items():
        np.testing.assert_array_equal(got.state_dict()[name], value, err_msg=name)
    # the second half's History continues the numbering and matches the run's epochs 10-19
    first = json.loads((whole / "history.json").read_text())
    second = json.loads((halves / "history.json").read_text())
    assert second["epoch"] == list(range(10, 20))
    for key in ("loss", "val_loss"):
        assert second[key] == first[key][10:]


def test_resumed_checkpoints_and_csv_log_continue_the_first_run(runs: tuple[Path, Path]) -> None:
    whole, halves = runs
    names = sorted(p.name for p in whole.glob("ckpt-*.npz"))
    assert names == [f"ckpt-{e:02d}.npz" for e in range(1, 21)]
    assert sorted(p.name for p in halves.glob("ckpt-*.npz")) == names
    for name in ("ckpt-05.npz", "ckpt-20.npz"):  # the first run's file kept, the last one new
        a, b = ln.load(whole / name).state_dict(), ln.load(halves / name).state_dict()
        for key, value in a.items():
            np.testing.assert_array_equal(b[key], value, err_msg=f"{name}: {key}")
    assert ln.load_training_state(halves / "ckpt-20.npz").epoch == 20
    # one header, epochs 0..19 once each (the first run's rows 10 and 11 were replaced)
    assert rows(halves / "log.csv") == rows(whole / "log.csv")
    assert [r[0] for r in rows(whole / "log.csv")] == ["epoch", *map(str, range(20))]


def test_a_loaded_dropout_draws_the_masks_the_saved_one_would_have(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dense(3, 5, rng=0), ln.Dropout(0.5, rng=1)])
    x = np.ones((4, 3))
    model.forward(x, training=True)  # move the generator on from its seed
    ln.save(model, tmp_path / "m.npz")
    loaded = ln.load(tmp_path / "m.npz", expect=ln.Sequential)
    np.testing.assert_array_equal(loaded.forward(x, training=True), model.forward(x, training=True))


def test_same_seed_and_initial_epoch_replay_the_skipped_shuffles() -> None:
    """In one process too: epochs 3..5 of a run equal a run started at epoch 3 from its state."""
    x = np.random.default_rng(0).normal(size=(30, 2))
    y = x[:, :1] * 2.0

    def model_and_opt() -> tuple[ln.Sequential, ln.SGD]:
        model = ln.Sequential([ln.Dense(2, 1, rng=0)])
        return model, ln.SGD(model.parameters(), lr=0.05, momentum=0.9)

    whole, opt = model_and_opt()
    history = whole.fit(x, y, loss=ln.MSELoss(), optimizer=opt, epochs=6, batch_size=4,
                        rng=3, verbose=0)  # fmt: skip
    first, opt1 = model_and_opt()
    first.fit(x, y, loss=ln.MSELoss(), optimizer=opt1, epochs=3, batch_size=4, rng=3, verbose=0)
    rest = first.fit(x, y, loss=ln.MSELoss(), optimizer=opt1, epochs=6, initial_epoch=3,
                     batch_size=4, rng=3, verbose=0)  # fmt: skip
    assert rest.epoch == [3, 4, 5]
    assert rest.params["initial_epoch"] == 3
    assert rest.history["loss"] == history.history["loss"][3:]
    for name, value in whole.state_dict().items():
        np.testing.assert_array_equal(first.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize(
    ("initial_epoch", "match"),
    [
        (5, r"fit: initial_epoch=5 leaves nothing to train with epochs=5: as in Keras, epochs "
            r"is where training ends.*pass epochs=15, initial_epoch=5"),
        (-1, r"fit: initial_epoch must be an int >= 0, got -1"),
        (1.0, r"fit: initial_epoch must be an int >= 0, got 1.0"),
    ],
)  # fmt: skip
def test_a_bad_initial_epoch_is_refused(initial_epoch: object, match: str) -> None:
    model = ln.Sequential([ln.Dense(2, 1, rng=0)])
    with pytest.raises(ValueError, match=match):
        model.fit(np.ones((4, 2)), np.ones((4, 1)), loss=ln.MSELoss(),
                  optimizer=ln.SGD(model.parameters(), lr=0.1), epochs=5,
                  initial_epoch=initial_epoch, verbose=0)  # type: ignore[arg-type]  # fmt: skip


def test_csv_logger_keeps_or_replaces_rows_as_asked(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    model = ln.Sequential([ln.Dense(2, 1, rng=0)])
    opt = ln.SGD(model.parameters(), lr=0.1)
    x, y = np.ones((4, 2)), np.ones((4, 1))

    def fit(epochs: int, initial: int, append: bool | None) -> None:
        model.fit(x, y, loss=ln.MSELoss(), optimizer=opt, epochs=epochs, initial_epoch=initial,
                  callbacks=[ln.CSVLogger(path, append=append)], verbose=0)  # fmt: skip

    fit(3, 0, None)
    assert [r[0] for r in rows(path)] == ["epoch", "0", "1", "2"]
    fit(4, 2, None)  # a resume from epoch 2 appends, replacing the old epoch 2
    assert [r[0] for r in rows(path)] == ["epoch", "0", "1", "2", "3"]
    fit(2, 0, True)  # append=True keeps everything, header included
    assert [r[0] for r in rows(path)] == ["epoch", "0", "1", "2", "3", "0", "1"]
    fit(1, 0, None)  # a fresh run starts afresh
    assert [r[0] for r in rows(path)] == ["epoch", "0"]


def test_a_resumed_checkpoint_keeps_the_best_file_with_a_threshold(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x[:, :1] - x[:, 1:]
    model = ln.Sequential([ln.Dense(2, 1, rng=0)])
    opt = ln.SGD(model.parameters(), lr=0.05)
    path = tmp_path / "best.npz"

    def fit(epochs: int, initial: int, threshold: float | None) -> ln.History:
        checkpoint = ln.ModelCheckpoint(path, monitor="loss", save_best_only=True,
                                        initial_value_threshold=threshold)  # fmt: skip
        return model.fit(x, y, loss=ln.MSELoss(), optimizer=opt, epochs=epochs,
                         initial_epoch=initial, callbacks=[checkpoint], verbose=0,
                         rng=1)  # fmt: skip

    first = fit(3, 0, None)
    best = min(first.history["loss"])
    saved = ln.load(path).state_dict()
    model.load_state_dict({k: v + 1.0 for k, v in model.state_dict().items()})  # make it worse
    second = fit(4, 3, best)
    assert second.history["loss"][0] > best
    for key, value in ln.load(path).state_dict().items():
        np.testing.assert_array_equal(value, saved[key])  # the better file was kept
