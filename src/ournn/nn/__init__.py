"""Layers (``ournn.nn``), as ``torch.nn``; the functional ops are ``ournn.nn.functional``."""
from . import functional, init
from .attention import MultiheadAttention
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish, Hardtanh,
                         LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid,
                         SiLU, Softmax, Softmin, Softplus, Softsign, Tanh, Tanhshrink,
                         Threshold)
from .container import ModuleDict, ParameterDict, ParameterList
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout, Dropout1d, Dropout2d, Flatten, Unflatten
from .linear import Identity, Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                      AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from . import parallel  # noqa: E402 (DistributedDataParallel, as torch.nn.parallel)

__all__ = ["functional", "init", "utils", "modules", "Module", "Parameter", "Sequential",
           "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Linear", "Identity",
           "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d",
           "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm",
           "Dropout", "Dropout1d", "Dropout2d", "Flatten", "Unflatten", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "GELU", "Softmax", "LogSoftmax", "Softmin", "SiLU", "ELU", "SELU", "CELU",
           "Softplus", "Mish", "PReLU", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid",
           "Softsign", "Tanhshrink", "LogSigmoid", "Threshold", "GLU", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "BCELoss",
           "BCEWithLogitsLoss", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
           "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Embedding"]

from . import modules, utils  # noqa: E402 (after __all__: modules re-exports it)
from .modules.batchnorm import SyncBatchNorm  # noqa: E402
__all__ += ["parallel", "SyncBatchNorm"]
