"""Model: a Layer with the training API, as Keras's ``Model(Trainer, Layer)``.

The loop is written once, in :mod:`layernet.training`, as functions of any
Layer (``layernet.fit(model, ...)``); ``Model`` binds them as methods, so
``Sequential`` and a user's own container share one implementation::

    class TwoTowers(layernet.Model):
        def __init__(self): ...
        def forward(self, x, *, training=False): ...
        def backward(self, grad_out): ...

    TwoTowers().fit(x, y, loss=..., optimizer=..., epochs=10)
"""

from __future__ import annotations

from . import summarize, training
from .layers.base import Layer


class Model(Layer):
    """A :class:`Layer` used as a model: ``fit``, ``evaluate``, ``predict`` and ``summary``.

    These are :func:`layernet.fit`, :func:`layernet.evaluate`,
    :func:`layernet.predict` and :func:`layernet.summary` with the model as
    their first argument; subclass it for your own container.
    """

    fit = training.fit
    evaluate = training.evaluate
    predict = training.predict
    summary = summarize.summary
