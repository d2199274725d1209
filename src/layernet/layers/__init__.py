"""Layers, one small file per family."""

from .activations import Activation as Activation
from .activations import Sigmoid as Sigmoid
from .base import Layer as Layer
from .dense import Dense as Dense

__all__ = ["Activation", "Dense", "Layer", "Sigmoid"]
