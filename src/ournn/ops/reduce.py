"""Reductions: sum mean max min var, over ``axis`` (None, int or tuple) with ``keepdims``."""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import expand_reduced, normalize_axis


def _count(shape, axis):
    n = 1
    for a in normalize_axis(axis, len(shape)):
        n *= shape[a]
    return n


class Sum(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        grad = expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return xp.broadcast_to(grad, ctx.shape)


class Mean(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return x.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        grad = expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        n = _count(ctx.shape, ctx.axis)
        return xp.broadcast_to(grad / grad.dtype.type(n), ctx.shape)


class _Extremum(Function):
    """Max/min: the gradient goes to the extreme elements, shared equally among ties."""

    double_backward = True

    reducer = None

    @classmethod
    def forward(cls, ctx, x, axis=None, keepdims=False):
        out = getattr(x, cls.reducer)(axis=axis, keepdims=keepdims)
        ctx.save_for_backward(x, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        out = expand_reduced(out, x.shape, ctx.axis, ctx.keepdims)
        grad = expand_reduced(grad, x.shape, ctx.axis, ctx.keepdims)
        mask = (x == out)
        count = mask.sum(axis=ctx.axis, keepdims=True).astype(grad.dtype)
        return mask * (grad / count)


class Max(_Extremum):
    reducer = "max"


class Min(_Extremum):
    reducer = "min"


class Var(Function):
    """Variance with Bessel's ``correction`` (1 = unbiased, PyTorch's default; 0 = NumPy's)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=1):
        n = _count(x.shape, axis)
        centered = x - x.mean(axis=axis, keepdims=True)
        ctx.save_for_backward(x, centered)
        ctx.axis, ctx.keepdims = axis, keepdims
        ctx.denom = max(n - correction, 0)
        out = (centered * centered).sum(axis=axis, keepdims=keepdims)
        return out / x.dtype.type(ctx.denom) if ctx.denom else out * x.dtype.type("nan")

    @staticmethod
    def backward(ctx, grad):
        x, centered = ctx.saved_tensors
        if isinstance(x, Tensor):       # gradients of gradients: centered as a function of x
            centered = x - x.mean(axis=ctx.axis, keepdims=True)
        grad = expand_reduced(grad, centered.shape, ctx.axis, ctx.keepdims)
        return grad * centered * centered.dtype.type(2 / ctx.denom if ctx.denom else float("nan"))
