"""Layers, one small file per family."""

from .activations import ELU as ELU
from .activations import GELU as GELU
from .activations import Activation as Activation
from .activations import Identity as Identity
from .activations import LeakyReLU as LeakyReLU
from .activations import ReLU as ReLU
from .activations import Sigmoid as Sigmoid
from .activations import Softmax as Softmax
from .activations import Softplus as Softplus
from .activations import Tanh as Tanh
from .base import Layer as Layer
from .dense import Dense as Dense
from .normalization import BatchNorm1d as BatchNorm1d
from .normalization import LayerNorm as LayerNorm
from .regularization import Dropout as Dropout
from .reshape import Flatten as Flatten

__all__ = [
    "ELU",
    "GELU",
    "Activation",
    "BatchNorm1d",
    "Dense",
    "Dropout",
    "Flatten",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]
