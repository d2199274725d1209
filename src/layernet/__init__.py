"""layernet: a typed, layered neural-network library on NumPy and SciPy."""

from . import datasets as datasets
from . import initializers as initializers
from ._typing import ArrayLike as ArrayLike
from ._typing import FloatArray as FloatArray
from ._typing import IntArray as IntArray
from .gradcheck import GradcheckResult as GradcheckResult
from .gradcheck import gradcheck as gradcheck
from .layers.activations import ELU as ELU
from .layers.activations import GELU as GELU
from .layers.activations import Activation as Activation
from .layers.activations import Identity as Identity
from .layers.activations import LeakyReLU as LeakyReLU
from .layers.activations import ReLU as ReLU
from .layers.activations import Sigmoid as Sigmoid
from .layers.activations import Softmax as Softmax
from .layers.activations import Softplus as Softplus
from .layers.activations import Tanh as Tanh
from .layers.base import Layer as Layer
from .layers.dense import Dense as Dense
from .layers.normalization import BatchNorm1d as BatchNorm1d
from .layers.normalization import LayerNorm as LayerNorm
from .layers.regularization import Dropout as Dropout
from .layers.reshape import Flatten as Flatten
from .losses import BCELoss as BCELoss
from .losses import BCEWithLogitsLoss as BCEWithLogitsLoss
from .losses import CrossEntropyLoss as CrossEntropyLoss
from .losses import HuberLoss as HuberLoss
from .losses import L1Loss as L1Loss
from .losses import Loss as Loss
from .losses import MSELoss as MSELoss
from .optimizers import SGD as SGD
from .optimizers import Adagrad as Adagrad
from .optimizers import Adam as Adam
from .optimizers import AdamW as AdamW
from .optimizers import Optimizer as Optimizer
from .optimizers import RMSprop as RMSprop
from .optimizers import clip_grad_norm as clip_grad_norm
from .parameter import Parameter as Parameter
from .schedules import CosineAnnealingLR as CosineAnnealingLR
from .schedules import ExponentialLR as ExponentialLR
from .schedules import LinearWarmup as LinearWarmup
from .schedules import LRSchedule as LRSchedule
from .schedules import SequentialLR as SequentialLR
from .schedules import StepLR as StepLR
from .sequential import Sequential as Sequential

__version__ = "0.1.0"

__all__ = [
    "ELU",
    "GELU",
    "SGD",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
    "ArrayLike",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CosineAnnealingLR",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "ExponentialLR",
    "Flatten",
    "FloatArray",
    "GradcheckResult",
    "HuberLoss",
    "Identity",
    "IntArray",
    "L1Loss",
    "LRSchedule",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "LinearWarmup",
    "Loss",
    "MSELoss",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Sequential",
    "SequentialLR",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "StepLR",
    "Tanh",
    "clip_grad_norm",
    "datasets",
    "gradcheck",
    "initializers",
]
