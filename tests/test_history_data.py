"""History as data (pandas) and as a picture (matplotlib), both optional."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from layernet import SGD, Dense, History, MSELoss, Sequential, Sigmoid


def trained() -> History:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = x[:, :1] - x[:, 1:]
    model = Sequential([Dense(2, 4, rng=0), Sigmoid(), Dense(4, 1, rng=1)])
    return model.fit(x, y, loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=4,
                     metrics=["mae"], validation_split=0.2, verbose=0, rng=0)  # fmt: skip


def test_to_dataframe_has_one_row_per_epoch_and_a_column_per_key() -> None:
    pd = pytest.importorskip("pandas")
    history = trained()
    frame = history.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["loss", "mae", "val_loss", "val_mae"]
    assert frame.index.name == "epoch"
    assert list(frame.index) == [0, 1, 2, 3]
    for key, values in history.history.items():
        assert frame[key].tolist() == values


def test_plot_draws_each_quantity_with_its_validation_twin() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = trained()
    figure = history.plot()
    try:
        axes = figure.axes
        assert [ax.get_title() for ax in axes] == ["loss", "mae"]
        lines = axes[0].get_lines()
        assert [line.get_label() for line in lines] == ["loss", "val_loss"]
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3, 4])
        np.testing.assert_array_equal(lines[1].get_ydata(), history.history["val_loss"])
        assert lines[1].get_linestyle() == "--"
    finally:
        plt.close(figure)
    only = history.plot(["mae"], figsize=(3, 2))
    try:
        assert [ax.get_title() for ax in only.axes] == ["mae"]
        np.testing.assert_allclose(only.get_size_inches(), [3, 2])
    finally:
        plt.close(only)
    with pytest.raises(ValueError, match=r"History.plot: nothing logged under \['acc'\]"):
        history.plot(["acc"])
    with pytest.raises(TypeError, match=r"keys must be a list, got 'loss'; write \['loss'\]"):
        history.plot("loss")
    with pytest.raises(ValueError, match=r"the history is empty"):
        History().plot()


@pytest.mark.parametrize(
    ("method", "module", "extra"),
    [("to_dataframe", "pandas", "pandas"), ("plot", "matplotlib.pyplot", "plot")],
)
def test_a_missing_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, method: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like to import
    package = module.split(".")[0]
    message = rf"History.{method} needs {package}, which is not installed; install it with "
    message += rf'pip install "layernet\[{extra}\]"'
    with pytest.raises(ImportError, match=message):
        getattr(History(), method)()
