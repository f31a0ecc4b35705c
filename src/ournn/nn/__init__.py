"""Layers (``ournn.nn``), as ``torch.nn``; the functional ops are ``ournn.nn.functional``."""
from . import functional, init
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .conv import Conv2d
from .dropout import Dropout, Flatten
from .linear import Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "Linear",
           "Identity", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "Dropout", "Flatten", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
           "LogSoftmax", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
           "BCEWithLogitsLoss"]
