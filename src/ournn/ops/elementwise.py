"""Elementwise arithmetic and math: + - * / ** neg exp log sqrt abs maximum minimum clip where."""
from ..autograd.function import Function
from ..backend import get_array_module
from ._util import unbroadcast


# ---------------------------------------------------------------- binary arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
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
    xp = get_array_module(wins)
    return xp.where(wins, 1.0, xp.where(ties, 0.5, 0.0)).astype(dtype, copy=False)


# ---------------------------------------------------------------- unary math
class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
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
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
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
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return abs(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * get_array_module(a).sign(a)


class Clip(Function):
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

    @staticmethod
    def forward(ctx, cond, a, b):
        xp = get_array_module(a, b)
        ctx.cond = cond
        ctx.shapes = xp.shape(a), xp.shape(b)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        sa, sb = ctx.shapes
        zero = xp.zeros((), dtype=grad.dtype)
        ga = unbroadcast(xp.where(ctx.cond, grad, zero), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(xp.where(ctx.cond, zero, grad), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Function):
    """``astype``: differentiable dtype conversion (the gradient is cast back)."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)
