"""Weight initialisation, in place and without recording a graph (names end in ``_``).

``calculate_gain``, ``xavier_uniform_/normal_`` (Glorot), ``kaiming_uniform_/normal_`` (He),
``uniform_ normal_ constant_ zeros_ ones_``. Draws come from ``ournn.manual_seed``'s generator.
"""
import math

import numpy as np

from .. import random as _random
from ..backend import get_array_module
from ..tensor import Tensor


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for an activation (as ``torch.nn.init.calculate_gain``)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "identity")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need at least 2 dimensions, got shape {shape}")
    receptive = 1
    for d in shape[2:]:
        receptive *= d
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor, values):
    arr = _array(tensor)
    arr[...] = values
    return tensor


def _generator(arr):
    """ournn's generator for ``arr``'s device (NumPy's on the CPU, the device's on a GPU)."""
    return _random.get_generator(get_array_module(arr))


def uniform_(tensor, a=0.0, b=1.0):
    arr = _array(tensor)
    return _fill(tensor, _generator(arr).uniform(a, b, arr.shape))


def normal_(tensor, mean=0.0, std=1.0):
    arr = _array(tensor)
    gen = _generator(arr)
    if isinstance(gen, np.random.Generator):    # the CPU's draws, as they always were
        return _fill(tensor, gen.normal(mean, std, arr.shape))
    # CuPy's generator has no normal(): a standard normal scaled and shifted
    return _fill(tensor, gen.standard_normal(arr.shape) * std + mean)


def constant_(tensor, val):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0):
    """Glorot normal: N(0, std), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan). PyTorch's defaults."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, gain / sqrt(fan))."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
