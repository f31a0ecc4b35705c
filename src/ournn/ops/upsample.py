"""Resampling of the last one or two axes: interpolation (``F.interpolate``) and the
separable linear maps behind it.

Nearest and (bi)linear interpolation, and adaptive average pooling, are linear maps that act
on each of the last axes separately: out = A_h @ x @ A_w.T with a small (out, in) matrix per
axis. ``Resample`` applies such matrices and its backward applies their transposes. Nearest
upsampling by a whole factor is a plain repeat (``Repeat``), summed back in backward.
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module


class Resample(Function):
    """x (..., H, W) -> A_h @ x @ A_w.T (two matrices) or x (..., L) -> x @ A.T (one).

    Linear in x with constant matrices: its backward (the transposes) runs on tensors as is."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, mats=()):
        xp = get_array_module(x)
        mats = tuple(xp.asarray(m, dtype=x.dtype) for m in mats)
        ctx.mats = mats
        if len(mats) == 1:
            return x @ mats[0].T
        a_h, a_w = mats
        return xp.matmul(a_h, x) @ a_w.T

    @staticmethod
    def backward(ctx, grad):
        mats = ctx.mats
        if len(mats) == 1:
            return grad @ mats[0]
        a_h, a_w = mats
        return get_array_module(grad).matmul(a_h.T, grad @ a_w)


class Repeat(Function):
    """Nearest upsampling by whole factors of the last len(factors) axes."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, factors=()):
        xp = get_array_module(x)
        k = len(factors)
        ctx.factors, ctx.shape = factors, x.shape
        out = x
        for axis, f in zip(range(x.ndim - k, x.ndim), factors):
            out = xp.repeat(out, f, axis=axis)
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, factors = ctx.shape, ctx.factors
        k = len(factors)
        split = shape[:len(shape) - k]
        sum_axes = []
        for i, (n, f) in enumerate(zip(shape[len(shape) - k:], factors)):
            split += (n, f)
            sum_axes.append(len(shape) - k + 2 * i + 1)
        return grad.reshape(split).sum(axis=tuple(sum_axes))


def source_scale(in_size, out_size, align_corners, scale_factor):
    """The input step per output step (PyTorch's ``area_pixel_compute_scale``)."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def nearest_matrix(in_size, out_size, scale_factor=None, exact=False):
    """One-hot (out, in): output i takes input floor(i * scale) (``nearest``) or
    floor((i + 0.5) * scale) (``nearest-exact``), clamped to the last input."""
    scale = source_scale(in_size, out_size, False, scale_factor)
    i = np.arange(out_size, dtype=np.float64)
    src = np.floor((i + 0.5) * scale if exact else i * scale).astype(np.int64)
    src = np.minimum(src, in_size - 1)
    m = np.zeros((out_size, in_size))
    m[np.arange(out_size), src] = 1
    return m


def linear_matrix(in_size, out_size, align_corners, scale_factor=None):
    """(out, in) weights of linear interpolation along one axis, as PyTorch."""
    scale = source_scale(in_size, out_size, align_corners, scale_factor)
    i = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = i * scale
    else:
        src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(m, (rows, i0), 1 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


def adaptive_avg_matrix(in_size, out_size):
    """(out, in): output i is the mean of inputs floor(i*in/out) .. ceil((i+1)*in/out) - 1."""
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        start, end = adaptive_bounds(i, in_size, out_size)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_bounds(i, in_size, out_size):
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)


def whole_factor(in_size, out_size):
    """out / in when it is a whole number, else None."""
    return out_size // in_size if out_size % in_size == 0 else None

