"""layernet: a typed, layered neural-network library on NumPy and SciPy."""

from . import datasets as datasets
from . import initializers as initializers
from ._typing import ArrayLike as ArrayLike
from ._typing import FloatArray as FloatArray
from ._typing import IntArray as IntArray
from .gradcheck import GradcheckResult as GradcheckResult
from .gradcheck import gradcheck as gradcheck
from .layers.activations import Activation as Activation
from .layers.activations import Sigmoid as Sigmoid
from .layers.base import Layer as Layer
from .layers.conv import Conv1d as Conv1d
from .layers.conv import Conv2d as Conv2d
from .layers.dense import Dense as Dense
from .layers.pooling import AvgPool1d as AvgPool1d
from .layers.pooling import AvgPool2d as AvgPool2d
from .layers.pooling import GlobalAvgPool1d as GlobalAvgPool1d
from .layers.pooling import GlobalAvgPool2d as GlobalAvgPool2d
from .layers.pooling import MaxPool1d as MaxPool1d
from .layers.pooling import MaxPool2d as MaxPool2d
from .losses import Loss as Loss
from .losses import MSELoss as MSELoss
from .optimizers import SGD as SGD
from .optimizers import Optimizer as Optimizer
from .parameter import Parameter as Parameter
from .sequential import Sequential as Sequential

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Activation",
    "ArrayLike",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "Dense",
    "FloatArray",
    "GlobalAvgPool1d",
    "GlobalAvgPool2d",
    "GradcheckResult",
    "IntArray",
    "Layer",
    "Loss",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Optimizer",
    "Parameter",
    "Sequential",
    "Sigmoid",
    "datasets",
    "gradcheck",
    "initializers",
]
