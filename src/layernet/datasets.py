"""Small data sets that ship with the package.

The gender data of Victor Zhou's "An Introduction to Neural Networks", the
notebook layernet started from: weight (lb) and height (in) of four people,
labelled 1 for female and 0 for male, plus the two people the trained model
is asked about. The blog centres each feature by subtracting 135 lb and 66 in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import FloatArray

WEIGHT_SHIFT_LB = 135.0
"""Subtracted from each weight (lb) to centre the data, as in the blog."""

HEIGHT_SHIFT_IN = 66.0
"""Subtracted from each height (in) to centre the data, as in the blog."""


@dataclass(frozen=True)
class GenderData:
    """People with weight, height and gender (1 = female, 0 = male).

    Attributes
    ----------
    names : tuple of str
    raw : ndarray of shape (n, 2)
        Weight in pounds and height in inches.
    x : ndarray of shape (n, 2)
        ``raw`` shifted by (135 lb, 66 in): the model's input.
    y : ndarray of shape (n, 1)
        1.0 for female, 0.0 for male.
    """

    names: tuple[str, ...]
    raw: FloatArray
    x: FloatArray
    y: FloatArray


def _make(rows: list[tuple[str, float, float, float]]) -> GenderData:
    raw = np.array([[w, h] for _, w, h, _ in rows], dtype=np.float64)
    shifted = raw - np.array([WEIGHT_SHIFT_LB, HEIGHT_SHIFT_IN])
    labels = np.array([[g] for *_, g in rows], dtype=np.float64)
    for array in (raw, shifted, labels):
        array.setflags(write=False)
    return GenderData(tuple(name for name, *_ in rows), raw, shifted, labels)


def load_gender() -> GenderData:
    """The four training people: Alice, Bob, Charlie and Diana.

    Shifted inputs: Alice (-2, -1) -> 1, Bob (25, 6) -> 0,
    Charlie (17, 4) -> 0, Diana (-15, -6) -> 1. The arrays are read-only.
    """
    return _make(
        [
            ("Alice", 133.0, 65.0, 1.0),
            ("Bob", 160.0, 72.0, 0.0),
            ("Charlie", 152.0, 70.0, 0.0),
            ("Diana", 120.0, 60.0, 1.0),
        ]
    )


def load_gender_test() -> GenderData:
    """The two people the blog asks the trained model about.

    Emily (128 lb, 63 in; shifted (-7, -3)) is female; Frank (155 lb, 68 in;
    shifted (20, 2)) is male.
    """
    return _make([("Emily", 128.0, 63.0, 1.0), ("Frank", 155.0, 68.0, 0.0)])
