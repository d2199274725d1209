"""Layers, one small file per family."""

from .activations import Activation as Activation
from .activations import Sigmoid as Sigmoid
from .base import Layer as Layer
from .conv import Conv1d as Conv1d
from .conv import Conv2d as Conv2d
from .dense import Dense as Dense
from .pooling import AvgPool1d as AvgPool1d
from .pooling import AvgPool2d as AvgPool2d
from .pooling import GlobalAvgPool1d as GlobalAvgPool1d
from .pooling import GlobalAvgPool2d as GlobalAvgPool2d
from .pooling import MaxPool1d as MaxPool1d
from .pooling import MaxPool2d as MaxPool2d

__all__ = [
    "Activation",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "Dense",
    "GlobalAvgPool1d",
    "GlobalAvgPool2d",
    "Layer",
    "MaxPool1d",
    "MaxPool2d",
    "Sigmoid",
]
