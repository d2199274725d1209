"""layernet: a typed, layered neural-network library on NumPy and SciPy."""

from . import datasets as datasets
from . import initializers as initializers
from ._typing import ArrayLike as ArrayLike
from ._typing import FloatArray as FloatArray
from ._typing import IntArray as IntArray
from .callbacks import Callback as Callback
from .callbacks import CSVLogger as CSVLogger
from .callbacks import EarlyStopping as EarlyStopping
from .callbacks import LearningRateScheduler as LearningRateScheduler
from .callbacks import ModelCheckpoint as ModelCheckpoint
from .callbacks import ProgressLogger as ProgressLogger
from .callbacks import TerminateOnNaN as TerminateOnNaN
from .gradcheck import GradcheckResult as GradcheckResult
from .gradcheck import gradcheck as gradcheck
from .layers.activations import Activation as Activation
from .layers.activations import Sigmoid as Sigmoid
from .layers.base import Layer as Layer
from .layers.dense import Dense as Dense
from .losses import Loss as Loss
from .losses import MSELoss as MSELoss
from .metrics import Accuracy as Accuracy
from .metrics import MeanAbsoluteError as MeanAbsoluteError
from .metrics import MeanSquaredError as MeanSquaredError
from .metrics import Metric as Metric
from .metrics import R2Score as R2Score
from .optimizers import LBFGS as LBFGS
from .optimizers import SGD as SGD
from .optimizers import Optimizer as Optimizer
from .parameter import Parameter as Parameter
from .sequential import Sequential as Sequential
from .serialization import load as load
from .serialization import load_optimizer_state as load_optimizer_state
from .serialization import save as save
from .training import History as History

__version__ = "0.1.0"

__all__ = [
    "LBFGS",
    "SGD",
    "Accuracy",
    "Activation",
    "ArrayLike",
    "CSVLogger",
    "Callback",
    "Dense",
    "EarlyStopping",
    "FloatArray",
    "GradcheckResult",
    "History",
    "IntArray",
    "Layer",
    "LearningRateScheduler",
    "Loss",
    "MSELoss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "ModelCheckpoint",
    "Optimizer",
    "Parameter",
    "ProgressLogger",
    "R2Score",
    "Sequential",
    "Sigmoid",
    "TerminateOnNaN",
    "datasets",
    "gradcheck",
    "initializers",
    "load",
    "load_optimizer_state",
    "save",
]
