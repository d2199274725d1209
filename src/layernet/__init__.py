"""layernet: a typed, layered neural-network library on NumPy and SciPy."""

from . import datasets as datasets
from . import initializers as initializers
from ._typing import ArrayLike as ArrayLike
from ._typing import FloatArray as FloatArray
from ._typing import IntArray as IntArray
from .callbacks import Callback as Callback
from .callbacks import CSVLogger as CSVLogger
from .callbacks import EarlyStopping as EarlyStopping
from .callbacks import LambdaCallback as LambdaCallback
from .callbacks import LearningRateScheduler as LearningRateScheduler
from .callbacks import Logs as Logs
from .callbacks import ModelCheckpoint as ModelCheckpoint
from .callbacks import ProgressLogger as ProgressLogger
from .callbacks import ReduceLROnPlateau as ReduceLROnPlateau
from .callbacks import ScheduleCallback as ScheduleCallback
from .callbacks import TerminateOnNaN as TerminateOnNaN
from .gradcheck import GradcheckResult as GradcheckResult
from .gradcheck import gradcheck as gradcheck
from .history import History as History
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
from .layers.attention import MultiHeadAttention as MultiHeadAttention
from .layers.base import Layer as Layer
from .layers.containers import Parallel as Parallel
from .layers.containers import Residual as Residual
from .layers.conv import Conv1d as Conv1d
from .layers.conv import Conv2d as Conv2d
from .layers.dense import Dense as Dense
from .layers.embedding import Embedding as Embedding
from .layers.embedding import PositionalEmbedding as PositionalEmbedding
from .layers.normalization import BatchNorm1d as BatchNorm1d
from .layers.normalization import BatchNorm2d as BatchNorm2d
from .layers.normalization import LayerNorm as LayerNorm
from .layers.pooling import AvgPool1d as AvgPool1d
from .layers.pooling import AvgPool2d as AvgPool2d
from .layers.pooling import GlobalAvgPool1d as GlobalAvgPool1d
from .layers.pooling import GlobalAvgPool2d as GlobalAvgPool2d
from .layers.pooling import MaxPool1d as MaxPool1d
from .layers.pooling import MaxPool2d as MaxPool2d
from .layers.recurrent import GRU as GRU
from .layers.recurrent import LSTM as LSTM
from .layers.recurrent import RNN as RNN
from .layers.registry import register as register
from .layers.regularization import Dropout as Dropout
from .layers.reshape import Flatten as Flatten
from .layers.reshape import Permute as Permute
from .layers.reshape import Reshape as Reshape
from .layers.spec import InputSpec as InputSpec
from .losses import BCELoss as BCELoss
from .losses import BCEWithLogitsLoss as BCEWithLogitsLoss
from .losses import CrossEntropyLoss as CrossEntropyLoss
from .losses import HuberLoss as HuberLoss
from .losses import L1Loss as L1Loss
from .losses import Loss as Loss
from .losses import MSELoss as MSELoss
from .metrics import AUC as AUC
from .metrics import Accuracy as Accuracy
from .metrics import F1Score as F1Score
from .metrics import MeanAbsoluteError as MeanAbsoluteError
from .metrics import MeanSquaredError as MeanSquaredError
from .metrics import Metric as Metric
from .metrics import Precision as Precision
from .metrics import R2Score as R2Score
from .metrics import Recall as Recall
from .metrics import TopKAccuracy as TopKAccuracy
from .model import Model as Model
from .optimizers import LBFGS as LBFGS
from .optimizers import SGD as SGD
from .optimizers import Adagrad as Adagrad
from .optimizers import Adam as Adam
from .optimizers import AdamW as AdamW
from .optimizers import FullBatchOptimizer as FullBatchOptimizer
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
from .serialization import TrainingState as TrainingState
from .serialization import load as load
from .serialization import load_optimizer_state as load_optimizer_state
from .serialization import load_training_state as load_training_state
from .serialization import save as save
from .summarize import summary as summary
from .training import evaluate as evaluate
from .training import fit as fit
from .training import predict as predict

__version__ = "0.1.0"

__all__ = [
    "AUC",
    "ELU",
    "GELU",
    "GRU",
    "LBFGS",
    "LSTM",
    "RNN",
    "SGD",
    "Accuracy",
    "Activation",
    "Adagrad",
    "Adam",
    "AdamW",
    "ArrayLike",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "CSVLogger",
    "Callback",
    "Conv1d",
    "Conv2d",
    "CosineAnnealingLR",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "ExponentialLR",
    "F1Score",
    "Flatten",
    "FloatArray",
    "FullBatchOptimizer",
    "GlobalAvgPool1d",
    "GlobalAvgPool2d",
    "GradcheckResult",
    "History",
    "HuberLoss",
    "Identity",
    "InputSpec",
    "IntArray",
    "L1Loss",
    "LRSchedule",
    "LambdaCallback",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "LearningRateScheduler",
    "LinearWarmup",
    "Logs",
    "Loss",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "Model",
    "ModelCheckpoint",
    "MultiHeadAttention",
    "Optimizer",
    "Parallel",
    "Parameter",
    "Permute",
    "PositionalEmbedding",
    "Precision",
    "ProgressLogger",
    "R2Score",
    "RMSprop",
    "ReLU",
    "Recall",
    "ReduceLROnPlateau",
    "Reshape",
    "Residual",
    "ScheduleCallback",
    "Sequential",
    "SequentialLR",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "StepLR",
    "Tanh",
    "TerminateOnNaN",
    "TopKAccuracy",
    "TrainingState",
    "clip_grad_norm",
    "datasets",
    "evaluate",
    "fit",
    "gradcheck",
    "initializers",
    "load",
    "load_optimizer_state",
    "load_training_state",
    "predict",
    "register",
    "save",
    "summary",
]
