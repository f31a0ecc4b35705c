"""Activations: relu leaky_relu sigmoid tanh gelu softmax log_softmax and more.

Every backward runs on arrays (the fast path) and on tensors (gradients of gradients). What a
forward saves that depends on the input but is neither the input nor the output (a sigmoid
inside SiLU, the normal CDF inside GELU, ...) would be a constant on tensors, so each such
backward recomputes it from the saved input when it gets tensors, and only then.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from . import compat, parallel
from ..tensor import Tensor


class ReLU(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        if type(x) is np.ndarray:     # a big one in parts on the cores (ops/parallel.py)
            out = parallel.elementwise(_relu, x)
        else:
            out = get_array_module(x).maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        # out > 0 exactly where x > 0: the saved output is the mask
        if type(grad) is np.ndarray:
            return parallel.elementwise(_relu_grad, grad, out)
        return grad * (out > 0)


def _relu(x, out=None):
    return np.maximum(x, 0, out=out)


def _relu_grad(grad, relu_out, out=None):
    return np.multiply(grad, relu_out > 0, out=out)


class LeakyReLU(Function):
    double_backward = True

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
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        # tanh form: no overflow for large |x|
        out = (0.5 * (xp.tanh(0.5 * x) + 1)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)       # the output itself: a tensor in the graph on tensors
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Tanh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


_erf = compat.erf


class NormalCdf(Function):
    """Phi(x), the standard normal CDF: GELU's backward on tensors (its derivative is the
    normal density, written with differentiable ops)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (1 + _erf(x / x.dtype.type(math.sqrt(2))))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        return grad * xp.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))


class GELU(Function):
    """GELU(x) = x * Phi(x); ``approximate='tanh'`` uses the tanh formula (as PyTorch)."""
    double_backward = True

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
            if isinstance(x, Tensor):           # recomputed, in the graph
                t = xp.tanh(k * (x + x.dtype.type(0.044715) * x ** 3))
            dinner = k * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)
        pdf = xp.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        cdf = NormalCdf.apply(x) if isinstance(x, Tensor) else ctx.cdf
        return grad * (cdf + x * pdf)


def softmax_array(x, axis=-1):
    """Softmax of an array along ``axis`` (shifted by the max, so large scores do not
    overflow): probabilities from a model's outputs, without the autograd."""
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Softmax(Function):
    double_backward = True

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
    double_backward = True

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


# ---------------------------------------------------------------- more activations
# Each saves what its derivative needs and computes the gradient in one expression; on tensors
# the intermediates are recomputed from the input (``_sigmoid`` and the like), in the graph.

def _sigmoid_array(x):
    xp = get_array_module(x)
    return (0.5 * (xp.tanh(0.5 * x) + 1)).astype(x.dtype, copy=False)


def _sigmoid(x):
    """sigmoid(x) of an array, or of a tensor in the graph."""
    return Sigmoid.apply(x) if isinstance(x, Tensor) else _sigmoid_array(x)


def _softplus_array(x):
    """log(1 + exp(x)), stable for any x."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-abs(x)))


class SiLU(Function):
    """x * sigmoid(x)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid_array(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        if isinstance(x, Tensor):
            s = Sigmoid.apply(x)
        return grad * (s * (1 + x * (1 - s)))


class ELU(Function):
    """x if x > 0 else alpha * (exp(x) - 1); with ``scale`` (SELU) and ``input_scale``
    (CELU: exp(x / alpha))."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        xp = get_array_module(x)
        t = x.dtype.type
        positive = x > 0
        neg = t(alpha) * xp.expm1(xp.minimum(x, 0) * t(input_scale))
        out = xp.where(positive, x, neg)
        if scale != 1.0:
            out = out * t(scale)
        ctx.save_for_backward(positive, neg, x)
        ctx.k = (alpha, scale, input_scale)
        return out

    @staticmethod
    def backward(ctx, grad):
        positive, neg, x = ctx.saved_tensors
        xp = get_array_module(grad)
        alpha, scale, input_scale = ctx.k
        t = grad.dtype.type
        if isinstance(x, Tensor):               # neg as a function of x, in the graph
            neg = t(alpha) * xp.expm1(xp.where(positive, t(0), x) * t(input_scale))
        # d/dx alpha*(exp(k x) - 1) = k * (neg + alpha)
        slope = xp.where(positive, t(1), (neg + t(alpha)) * t(input_scale))
        return grad * (slope * t(scale) if scale != 1.0 else slope)


class Softplus(Function):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold (as PyTorch)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        xp = get_array_module(x)
        t = x.dtype.type
        bx = x * t(beta)
        linear = bx > threshold
        ctx.save_for_backward(bx, linear, x)
        ctx.beta = beta
        return xp.where(linear, x, _softplus_array(bx) / t(beta))

    @staticmethod
    def backward(ctx, grad):
        bx, linear, x = ctx.saved_tensors
        xp = get_array_module(grad)
        if isinstance(x, Tensor):
            bx = x * x.dtype.type(ctx.beta)
        return grad * xp.where(linear, grad.dtype.type(1), _sigmoid(bx))


class Mish(Function):
    """x * tanh(softplus(x))."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        tsp = xp.tanh(_softplus_array(x))
        ctx.save_for_backward(x, tsp)
        return x * tsp

    @staticmethod
    def backward(ctx, grad):
        x, tsp = ctx.saved_tensors
        if isinstance(x, Tensor):
            tsp = get_array_module(x).tanh(Softplus.apply(x))
        return grad * (tsp + x * _sigmoid(x) * (1 - tsp * tsp))


class Hardtanh(Function):
    """clip(x, min_val, max_val); gradient 1 strictly inside (as PyTorch)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        xp = get_array_module(x)
        ctx.save_for_backward((x > min_val) & (x < max_val))
        return xp.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside


class Hardsigmoid(Function):
    """relu6(x + 3) / 6."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward((x > -3) & (x < 3))
        return xp.clip(x + x.dtype.type(3), 0, 6) / x.dtype.type(6)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside / grad.dtype.type(6)


class Hardswish(Function):
    """x * relu6(x + 3) / 6; gradient x/3 + 1/2 on [-3, 3] (PyTorch's boundaries)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        t = x.dtype.type
        ctx.save_for_backward(x)
        return x * xp.clip(x + t(3), 0, 6) / t(6)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        t = x.dtype.type
        slope = xp.where(x < -3, t(0), xp.where(x <= 3, x / t(3) + t(0.5), t(1)))
        return grad * slope


class Softsign(Function):
    """x / (1 + |x|)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        d = 1 + abs(x)
        ctx.save_for_backward(d, x)
        return x / d

    @staticmethod
    def backward(ctx, grad):
        d, x = ctx.saved_tensors
        if isinstance(x, Tensor):
            d = 1 + abs(x)
        return grad / (d * d)


class Tanhshrink(Function):
    """x - tanh(x)."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        th = get_array_module(x).tanh(x)
        ctx.save_for_backward(th, x)
        return x - th

    @staticmethod
    def backward(ctx, grad):
        th, x = ctx.saved_tensors
        if isinstance(x, Tensor):
            th = get_array_module(x).tanh(x)
        return grad * th * th


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), stable for any x."""
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _sigmoid(-x)


class Threshold(Function):
    """x if x > threshold else value."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, threshold=0.0, value=0.0):
        xp = get_array_module(x)
        above = x > threshold
        ctx.save_for_backward(above)
        return xp.where(above, x, x.dtype.type(value))

    @staticmethod
    def backward(ctx, grad):
        (above,) = ctx.saved_tensors
        return grad * above


class PReLU(Function):
    """x if x > 0 else weight * x, one weight per channel (axis 1) or one for all."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, weight):
        xp = get_array_module(x)
        w = weight
        if weight.size > 1:
            w = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        w = w.astype(x.dtype, copy=False)
        positive = x > 0
        ctx.save_for_backward(x, w, positive, weight)
        ctx.wshape = weight.shape
        return xp.where(positive, x, w * x)

    @staticmethod
    def backward(ctx, grad):
        x, w, positive, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        zero = grad.dtype.type(0)
        if isinstance(weight, Tensor):          # w as a function of the weight, in the graph
            w = xp.asarray(weight.reshape(w.shape), x.dtype)
        gx = xp.where(positive, grad, grad * w) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            gwx = xp.where(positive, zero, grad * x)
            if len(ctx.wshape) and ctx.wshape[0] > 1:
                axes = (0,) + tuple(range(2, x.ndim))
                gw = gwx.sum(axis=axes).reshape(ctx.wshape)
            else:
                gw = xp.asarray(gwx.sum()).reshape(ctx.wshape)
        return gx, gw


class GLU(Function):
    """a * sigmoid(b), with a and b the two halves of x along ``axis``."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = get_array_module(x)
        a, b = xp.split(x, 2, axis=axis)
        s = _sigmoid_array(b)
        ctx.save_for_backward(a, s, x)
        ctx.axis = axis
        return a * s

    @staticmethod
    def backward(ctx, grad):
        a, s, x = ctx.saved_tensors
        xp = get_array_module(grad)
        if isinstance(x, Tensor):               # the halves and sigmoid(b), in the graph
            a, b = xp.split(x, 2, axis=ctx.axis)
            s = Sigmoid.apply(b)
        return xp.concatenate([grad * s, grad * a * s * (1 - s)], axis=ctx.axis)
