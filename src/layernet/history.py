"""History: what ``fit`` recorded, epoch by epoch, with a DataFrame and a plot of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._optional import import_optional


class History:
    """What ``fit`` recorded, epoch by epoch (Keras's ``History``).

    Attributes
    ----------
    history : dict of str to list of float
        ``"loss"``, each metric's name and, with validation data, their
        ``"val_"`` twins (plus anything callbacks add to the logs, such as
        ``"lr"``), one value per epoch.
    epoch : list of int
        The epochs run, from 0.
    times : list of float
        Wall time of each epoch in seconds, validation included (kept apart
        from ``history`` so that runs compare equal whatever the clock says).
    params : dict
        The run's settings: epochs, initial_epoch, steps per epoch, samples,
        batch size (None when streaming: the stream sets it), metrics.
    interrupted : bool
        True when Ctrl-C (a KeyboardInterrupt) ended the run: ``history``
        then holds the epochs that completed, and the model the weights
        after the last completed optimizer step (see :func:`fit`).
    stop_reason : str or None
        Why training ended before ``epochs``: the Ctrl-C, or the callback
        that stopped it (EarlyStopping, a quiet TerminateOnNaN); None when
        every epoch ran.
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.times: list[float] = []
        self.params: dict[str, Any] = dict(params or {})
        self.interrupted = False
        self.stop_reason: str | None = None

    def record(self, epoch: int, logs: dict[str, Any], seconds: float) -> None:
        """Append one epoch's logs."""
        self.epoch.append(epoch)
        self.times.append(seconds)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History({len(self.epoch)} epochs: {keys})"

    def to_dataframe(self) -> Any:
        """The history as a pandas DataFrame: one row per epoch, one column per log key.

        The index is the epoch (named ``"epoch"``, from 0, as :attr:`epoch`);
        the columns are the keys of :attr:`history` in their order. Needs
        pandas (``pip install "layernet[pandas]"``).

        Returns
        -------
        pandas.DataFrame
        """
        pd = import_optional("pandas", "History.to_dataframe", "pandas")
        index = pd.Index(self.epoch, name="epoch")
        return pd.DataFrame(
            {key: list(values) for key, values in self.history.items()}, index=index
        )

    def plot(
        self, keys: Sequence[str] | None = None, *, figsize: tuple[float, float] | None = None
    ) -> Any:
        """Plot each logged quantity against the epoch, its ``val_`` twin on the same axes.

        One subplot per quantity (``loss``, each metric, ``lr``...), side by
        side, with epochs counted from 1 on the x axis; a validation curve is
        dashed. Needs matplotlib (``pip install "layernet[plot]"``).

        Parameters
        ----------
        keys : list of str, optional
            The quantities to plot, without ``val_`` (e.g. ``["loss", "accuracy"]``);
            all by default.
        figsize : (width, height), optional
            Inches; 4 wide per subplot by 3 high by default.

        Returns
        -------
        matplotlib.figure.Figure
        """
        plt = import_optional("matplotlib.pyplot", "History.plot", "plot", "matplotlib")
        available = [k for k in self.history if not k.startswith("val_")]
        available += [
            k[4:] for k in self.history if k.startswith("val_") and k[4:] not in available
        ]
        if keys is None:
            chosen = available
        else:
            if isinstance(keys, str):
                raise TypeError(
                    f"History.plot: keys must be a list, got {keys!r}; write [{keys!r}]"
                )
            chosen = list(keys)
            unknown = [k for k in chosen if k not in available]
            if unknown:
                raise ValueError(
                    f"History.plot: nothing logged under {unknown}; choose among {available}"
                )
        if not chosen:
            raise ValueError("History.plot: the history is empty; fit for at least one epoch")
        size = figsize if figsize is not None else (4.0 * len(chosen), 3.0)
        figure, axes = plt.subplots(1, len(chosen), figsize=size, squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, key in zip(axes[0], chosen, strict=True):
            for name, style in ((key, "-"), ("val_" + key, "--")):
                if name in self.history:
                    ax.plot(epochs, self.history[name], style, label=name)
            ax.set_xlabel("epoch")
            ax.set_title(key)
            ax.legend()
        figure.tight_layout()
        return figure
