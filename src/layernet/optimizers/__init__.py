"""Optimizers: update parameters in place from their gradients, one small file per family.

An optimizer sees only :class:`~layernet.Parameter` objects. The training
loop is forward -> loss -> backward -> ``step()``; since ``backward``
overwrites each ``grad``, there is no ``zero_grad`` to forget. Updates are
in place and allocate nothing per step once their state exists.

``base.py`` holds :class:`Optimizer` (parameter packing, per-parameter state,
saving and restoring) and :class:`FullBatchOptimizer`; each family's file
holds its class, which gathers the state, and a plain function over arrays
that is only the update rule (:func:`~layernet.optimizers.sgd.sgd`,
:func:`~layernet.optimizers.adam.adam`...).
"""

from .adagrad import Adagrad as Adagrad
from .adam import Adam as Adam
from .adam import AdamW as AdamW
from .base import FullBatchOptimizer as FullBatchOptimizer
from .base import Optimizer as Optimizer
from .base import clip_grad_norm as clip_grad_norm
from .lbfgs import LBFGS as LBFGS
from .rmsprop import RMSprop as RMSprop
from .sgd import SGD as SGD

__all__ = [
    "LBFGS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "FullBatchOptimizer",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
]
