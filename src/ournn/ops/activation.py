"""Activations: relu leaky_relu sigmoid tanh gelu softmax log_softmax."""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        out = xp.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # out > 0 exactly where x > 0: the saved output is the mask
        return grad * (out > 0)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        xp = get_array_module(x)
        ctx.save_for_backward(x > 0)
        ctx.slope = negative_slope
        return xp.where(x > 0, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved_tensors
        xp = get_array_module(grad)
        return xp.where(positive, grad, grad * grad.dtype.type(ctx.slope))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        # tanh form: no overflow for large |x|
        out = 0.5 * (xp.tanh(0.5 * x) + 1)
        ctx.save_for_backward(out)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


def _erf(x):
    try:
        from scipy.special import erf
    except ImportError:  # exact but slower without SciPy
        erf = np.vectorize(math.erf, otypes=[np.float64])
    return erf(x).astype(x.dtype, copy=False)


class GELU(Function):
    """GELU(x) = x * Phi(x); ``approximate='tanh'`` uses the tanh formula (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            inner = k * (x + x.dtype.type(0.044715) * x ** 3)
            ctx.t = xp.tanh(inner)
            return 0.5 * x * (1 + ctx.t)
        ctx.cdf = 0.5 * (1 + _erf(x / x.dtype.type(math.sqrt(2))))
        return x * ctx.cdf

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        if ctx.approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            t = ctx.t
            dinner = k * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)
        pdf = xp.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return grad * (ctx.cdf + x * pdf)


def softmax_array(x, axis=-1):
    """Softmax of an array along ``axis`` (shifted by the max, so large scores do not
    overflow): probabilities from a model's outputs, without the autograd."""
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis=-1):
        out = softmax_array(x, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        gy = grad * out
        return gy - out * gy.sum(axis=ctx.axis, keepdims=True)


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        xp = get_array_module(out)
        return grad - xp.exp(out) * grad.sum(axis=ctx.axis, keepdims=True)
