"""Scans and the reductions that need more than a sum: cumsum cumprod prod logsumexp norm.

``prod`` and ``cumprod`` give PyTorch's gradients when the input holds zeros (the product of
the other elements, never a division by zero).

Every backward also runs on tensors (gradients of gradients): ``cumprod``'s then takes the
products of the other elements directly (no division, so zeros need no special case), and
``logsumexp``'s and ``norm``'s recompute their output from the input, in the graph.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from . import compat
from ..tensor import Tensor
from ._util import expand_reduced, normalize_axis


class Cumsum(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=0):
        ctx.axis = axis
        return get_array_module(x).cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        return xp.flip(xp.cumsum(xp.flip(grad, ctx.axis), axis=ctx.axis), ctx.axis)


class Cumprod(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=0):
        xp = get_array_module(x)
        out = xp.cumprod(x, axis=axis)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp = get_array_module(grad)
        if x.ndim == 0:
            return grad
        axis = ctx.axis
        if isinstance(x, Tensor):
            return _cumprod_backward_tensors(x, grad, axis)
        xm, gm = xp.moveaxis(x, axis, -1), xp.moveaxis(grad, axis, -1)
        om = xp.moveaxis(out, axis, -1)
        zero = xm == 0
        safe = xp.where(zero, 1, xm)
        rev = xp.flip(xp.cumsum(xp.flip(gm * om, -1), axis=-1), -1)
        gx = xp.where(zero, 0, rev / safe)
        # the first zero of a line: d out_j / d x_z = prod of the others up to j
        if zero.any():
            n = xm.shape[-1]
            lines_x, lines_g = xm.reshape(-1, n), gm.reshape(-1, n)
            gx_lines = gx.reshape(-1, n).copy()
            for r in xp.nonzero(zero.reshape(-1, n).any(axis=-1))[0].tolist():
                z = int(xp.argmax(lines_x[r] == 0))
                before = xp.prod(lines_x[r, :z])
                after = xp.concatenate([xp.ones(1, dtype=x.dtype),
                                        xp.cumprod(lines_x[r, z + 1:])])
                gx_lines[r, z] = before * (lines_g[r, z:] * after).sum()
            gx = gx_lines.reshape(gx.shape)
        return xp.moveaxis(gx, -1, axis)


def _cumprod_backward_tensors(x, grad, axis):
    """Cumprod's input gradient from differentiable ops, zeros included:
    d out_j / d x_i = prod(x[:i]) * prod(x[i+1:j+1]) for i <= j, the second factor the cumprod
    of a row of (n, n) that holds x_k where k > i and 1 elsewhere (O(n^2), tensors only)."""
    xp = get_array_module(x)
    xm, gm = xp.moveaxis(x, axis, -1), xp.moveaxis(grad, axis, -1)
    n = xm.shape[-1]
    ones = xp.ones(xm.shape[:-1] + (1,), dtype=x.dtype)
    before = xp.cumprod(xp.concatenate([ones, xm[..., :-1]], axis=-1), axis=-1)
    rows = xp.broadcast_to(xp.expand_dims(xm, -2), xm.shape[:-1] + (n, n))
    after = xp.cumprod(xp.where(np.triu(np.ones((n, n), bool), 1), rows, x.dtype.type(1)),
                       axis=-1)                                 # [..., i, j]
    upper = np.triu(np.ones((n, n), bool))                      # j >= i
    gx = before * xp.sum(xp.where(upper, after, x.dtype.type(0)) * xp.expand_dims(gm, -2),
                         axis=-1)
    return xp.moveaxis(gx, -1, axis)


def _to_last(x, axes):
    """``x`` with ``axes`` moved to the end and flattened into one: (rest..., n)."""
    xp = get_array_module(x)
    keep = [a for a in range(x.ndim) if a not in axes]
    moved = xp.transpose(x, keep + list(axes))
    return moved.reshape(moved.shape[:len(keep)] + (-1,)), keep + list(axes), moved.shape


class Prod(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdims = axis, keepdims
        return get_array_module(x).prod(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = get_array_module(grad)
        if x.ndim == 0:
            return grad
        axes = normalize_axis(ctx.axis, x.ndim)
        flat, perm, moved_shape = _to_last(x, axes)
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]],
                                                  axis=-1), axis=-1), -1)
        others = (left * right).reshape(moved_shape)
        others = xp.transpose(others, xp.argsort(perm))
        return expand_reduced(grad, x.shape, ctx.axis, ctx.keepdims) * others


class LogSumExp(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        xp = get_array_module(x)
        m = x.max(axis=axis, keepdims=True) if x.size else xp.zeros((1,) * x.ndim, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        with compat.errstate(xp, divide="ignore"):         # all -inf: -inf, as PyTorch
            out = xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m
        ctx.save_for_backward(x, out)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else out.reshape(
            [n for i, n in enumerate(x.shape) if i not in normalize_axis(axis, x.ndim)])

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp = get_array_module(grad)
        if isinstance(x, Tensor):       # the kept-dims output is not the output: recomputed
            out = LogSumExp.apply(x, axis=ctx.axis, keepdims=True)
        grad = expand_reduced(grad, x.shape, ctx.axis, ctx.keepdims)
        return grad * xp.exp(x - out)


class Norm(Function):
    """The vector p-norm over ``axis`` (PyTorch's ``vector_norm``): ``p`` any real, ``inf``,
    ``-inf`` or 0 (the count of non-zeros). A zero norm has a zero gradient."""
    double_backward = True

    @staticmethod
    def forward(ctx, x, p=2.0, axis=None, keepdims=False):
        xp = get_array_module(x)
        a = abs(x)
        if p == math.inf:
            out = a.max(axis=axis, keepdims=True)
        elif p == -math.inf:
            out = a.min(axis=axis, keepdims=True)
        elif p == 0:
            out = (a != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
        elif p == 1:
            out = a.sum(axis=axis, keepdims=True)
        elif p == 2:
            out = xp.sqrt((x * x).sum(axis=axis, keepdims=True))
        else:
            out = (a ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, out)
        ctx.p, ctx.axis, ctx.keepdims = p, axis, keepdims
        if keepdims:
            return out
        axes = normalize_axis(axis, x.ndim)
        return out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        xp = get_array_module(grad)
        p = ctx.p
        if isinstance(x, Tensor) and p not in (0, 1):
            # the kept-dims output is not the output: recomputed, in the graph
            out = Norm.apply(x, p=p, axis=ctx.axis, keepdims=True)
        grad = expand_reduced(grad, x.shape, ctx.axis, ctx.keepdims)
        if p == 0:
            return xp.zeros_like(x)
        if p == 1:
            return grad * xp.sign(x)
        if p in (math.inf, -math.inf):
            mask = abs(x) == out
            count = mask.sum(axis=ctx.axis, keepdims=True)
            return grad * xp.sign(x) * mask / count
        safe = xp.where(out == 0, 1, out)
        if p == 2:
            return xp.where(out == 0, 0, grad * x / safe)
        scale = x * abs(x) ** (p - 2) / safe ** (p - 1)
        return xp.where(out == 0, 0, grad * scale)
