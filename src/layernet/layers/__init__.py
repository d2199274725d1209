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
from .attention import MultiHeadAttention as MultiHeadAttention
from .base import Layer as Layer
from .containers import Parallel as Parallel
from .containers import Residual as Residual
from .conv import Conv1d as Conv1d
from .conv import Conv2d as Conv2d
from .dense import Dense as Dense
from .embedding import Embedding as Embedding
from .embedding import PositionalEmbedding as PositionalEmbedding
from .normalization import BatchNorm1d as BatchNorm1d
from .normalization import BatchNorm2d as BatchNorm2d
from .normalization import LayerNorm as LayerNorm
from .pooling import AvgPool1d as AvgPool1d
from .pooling import AvgPool2d as AvgPool2d
from .pooling import GlobalAvgPool1d as GlobalAvgPool1d
from .pooling import GlobalAvgPool2d as GlobalAvgPool2d
from .pooling import MaxPool1d as MaxPool1d
from .pooling import MaxPool2d as MaxPool2d
from .recurrent import GRU as GRU
from .recurrent import LSTM as LSTM
from .recurrent import RNN as RNN
from .regularization import Dropout as Dropout
from .reshape import Flatten as Flatten
from .reshape import Permute as Permute
from .reshape import Reshape as Reshape

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool1d",
    "GlobalAvgPool2d",
    "Identity",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool1d",
    "MaxPool2d",
    "MultiHeadAttention",
    "Parallel",
    "Permute",
    "PositionalEmbedding",
    "ReLU",
    "Reshape",
    "Residual",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]
