"""Elementwise arithmetic and math: + - * / ** neg exp log sqrt abs maximum minimum clip where."""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import unbroadcast
from .compat import on_device_of


# ---------------------------------------------------------------- binary arithmetic
class Add(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        gb = unbroadcast(-grad, sb) if ctx.needs_input_grad[1] else None
        return unbroadcast(grad, sa), gb


class Mul(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = unbroadcast(grad * b, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(grad * a, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = unbroadcast(grad / b, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-grad * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        out = xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(grad * b * xp.power(a, b - 1), a.shape)
        if ctx.needs_input_grad[1]:
            safe_log = xp.log(xp.where(a > 0, a, 1))
            gb = unbroadcast(grad * out * safe_log, xp.shape(b))
        return ga, gb


class Maximum(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        # ties share the gradient equally, as in PyTorch
        wa = _tie_weights(a > b, a == b, grad.dtype)
        return unbroadcast(grad * wa, a.shape), unbroadcast(grad * (1 - wa), b.shape)


class Minimum(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        ctx.save_for_backward(a, b)
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        wa = _tie_weights(a < b, a == b, grad.dtype)
        return unbroadcast(grad * wa, a.shape), unbroadcast(grad * (1 - wa), b.shape)


def _tie_weights(wins, ties, dtype):
    """1 where ``a`` wins, 0.5 on ties, 0 elsewhere: constants (arrays) in either mode."""
    wins, ties = getattr(wins, "_data", wins), getattr(ties, "_data", ties)
    xp = get_array_module(wins)
    return xp.where(wins, 1.0, xp.where(ties, 0.5, 0.0)).astype(dtype, copy=False)


# ---------------------------------------------------------------- unary math
class Neg(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad / (2 * out)


class Abs(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * get_array_module(a).sign(a)


class Clip(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, low=None, high=None):
        xp = get_array_module(a)
        mask = xp.ones(a.shape, dtype=bool)
        if low is not None:
            mask &= a >= low
        if high is not None:
            mask &= a <= high
        ctx.save_for_backward(mask)
        return xp.clip(a, low, high)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask


class Where(Function):
    """``where(cond, a, b)``: the condition is a constant boolean array."""

    double_backward = True

    @staticmethod
    def forward(ctx, cond, a, b):
        xp = get_array_module(a, b)
        if xp is not np and get_array_module(cond) is np:   # a host condition: moved once
            cond = on_device_of(cond, a if get_array_module(a) is xp else b)
        ctx.cond = cond
        ctx.shapes = xp.shape(a), xp.shape(b)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        sa, sb = ctx.shapes
        if isinstance(grad, Tensor):    # on tensors: a zero on the gradient's device
            zero = Tensor._make(get_array_module(grad._data).zeros((), dtype=grad.dtype))
        else:
            zero = xp.zeros((), dtype=grad.dtype)
        ga = unbroadcast(xp.where(ctx.cond, grad, zero), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(xp.where(ctx.cond, zero, grad), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Function):
    """``astype``: differentiable dtype conversion (the gradient is cast back)."""

    double_backward = True

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)
