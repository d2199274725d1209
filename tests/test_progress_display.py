"""The verbose display: time per step, ETA, and numbers of a fixed width."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from layernet import SGD, Dense, MSELoss, ProgressLogger, Sequential
from layernet.callbacks import _format_eta, _format_per_step, _format_value


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.12345678, "0.1235"), (123.456, "123.4560"), (1.23456e-5, "1.2346e-05"),
     (-0.5, "-0.5000"), (0.0, "0.0000e+00"), (float("nan"), "nan")],
)  # fmt: skip
def test_values_have_keras_fixed_width(value: float, text: str) -> None:
    assert _format_value(value) == text


def test_durations() -> None:
    assert _format_per_step(2.4) == "2s/step"
    assert _format_per_step(0.0263) == "26ms/step"
    assert _format_per_step(0.00031) == "310us/step"
    assert [_format_eta(s) for s in (0.2, 42.4, 187, 3723)] == ["0s", "42s", "3:07", "1:02:03"]


def _fit(screen: io.StringIO, live: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    model = Sequential([Dense(3, 1, rng=0)])
    bar = ProgressLogger(live=live, stream=screen, delay=0.0, interval=0.0)
    model.fit(x, x[:, :1], loss=MSELoss(), optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
              batch_size=2, callbacks=[bar], metrics=["mae"], verbose=0)  # fmt: skip


def test_the_epoch_line_has_time_per_step_and_four_decimals() -> None:
    screen = io.StringIO()
    _fit(screen, live=False)
    lines = screen.getvalue().splitlines()
    pattern = (
        r"Epoch [12]/2 - \d+\.\d\ds - \d+(s|ms|us)/step - loss: \d+\.\d{4}(e-\d\d)? - "
        r"mae: \d+\.\d{4}(e-\d\d)?"
    )
    assert len(lines) == 2
    assert all(re.fullmatch(pattern, line) for line in lines), lines


def test_the_live_bar_shows_the_eta_and_pads_the_step_count() -> None:
    screen = FakeTerminal()
    _fit(screen, live=True)
    draws = [d for d in screen.getvalue().split("\r") if d.startswith("Epoch 1/2 [")]
    assert re.match(r"Epoch 1/2 \[>?\.*=*.*\]  1/10 - ETA: \d+s - \d+(s|ms|us)/step - loss: ",
                    draws[0])  # fmt: skip
    assert re.match(r"Epoch 1/2 \[=+\] 10/10 - ETA: 0s - ", draws[-1])
