"""Shape and indexing: reshape transpose getitem concatenate stack split pad broadcast_to."""
import numpy as np

from ..autograd.engine import SliceGrad
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import compat
from ._util import unbroadcast


class Reshape(Function):
    is_view = True
    double_backward = True

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Transpose(Function):
    """Permute axes (``axes=None`` reverses them, as ``ndarray.transpose``)."""

    is_view = True
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        if ctx.axes is None:
            return grad.transpose()
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return grad.transpose(tuple(inverse))


class BroadcastTo(Function):
    is_view = True
    double_backward = True

    @staticmethod
    def forward(ctx, x, shape=None):
        ctx.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape)


class GetItem(Function):
    """Basic and integer-array indexing; repeated indices accumulate (``np.add.at``)."""

    is_view = True
    double_backward = True

    @staticmethod
    def forward(ctx, x, index=None):
        if type(x) is not np.ndarray:
            index = compat.index_on_device_of(index, x)
        ctx.shape, ctx.index = x.shape, index
        ctx.basic = _is_basic(index)
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):    # gradients of gradients: a recorded scatter-add
            return IndexAdd.apply(grad, shape=ctx.shape, index=ctx.index)
        if ctx.basic:
            # lazy: the engine adds the slices of one tensor into one buffer, so a loop over
            # x[:, t] costs O(T), not O(T^2) (backward of T steps of x[:, t] @ w, x of
            # (64, T, 128): T=100 16.1 -> 3.2 ms, T=500 464 -> 16.5 ms)
            return SliceGrad(grad, ctx.shape, ctx.index)
        return _index_add(grad, ctx.shape, ctx.index)


def _index_add(values, shape, index):
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated indices accumulate)."""
    xp = get_array_module(values)
    out = xp.zeros(shape, dtype=values.dtype)
    if _is_basic(index):
        out[index] = values
    else:
        compat.add_at(out, index, values)
    return out


class IndexAdd(Function):
    """``zeros(shape)`` with ``values`` added at ``index``: the backward of indexing, as an op
    (so that it can be differentiated again; its own backward is indexing)."""

    double_backward = True

    @staticmethod
    def forward(ctx, values, shape=None, index=None):
        ctx.index = index
        return _index_add(values, shape, index)

    @staticmethod
    def backward(ctx, grad):
        return GetItem.apply(grad, index=ctx.index) if isinstance(grad, Tensor) \
            else grad[ctx.index]


def _is_basic(index):
    """True for indexes made of ints, slices, None and Ellipsis (views: no repeats)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class Concatenate(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        xp = get_array_module(*arrays)
        ctx.axis = axis
        ctx.bounds = [a.shape[axis] for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        cuts = []
        total = 0
        for n in ctx.bounds[:-1]:
            total += n
            cuts.append(total)
        return tuple(xp.split(grad, cuts, axis=ctx.axis))


class Stack(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return get_array_module(*arrays).stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        n = grad.shape[ctx.axis]
        lead = (slice(None),) * (ctx.axis % grad.ndim)
        return tuple(grad[lead + (i,)] for i in range(n))


class Split(Function):
    """Split into pieces (``indices_or_sections`` as ``np.split``); several outputs."""

    is_view = True
    double_backward = True

    @staticmethod
    def forward(ctx, x, indices_or_sections=None, axis=0):
        ctx.axis = axis
        return tuple(get_array_module(x).split(x, indices_or_sections, axis=axis))

    @staticmethod
    def backward(ctx, *grads):
        return get_array_module(*grads).concatenate(grads, axis=ctx.axis)


class Pad(Function):
    """Constant padding; ``pad_width`` as in ``np.pad`` (one (before, after) pair per axis)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, pad_width=None, value=0.0):
        xp = get_array_module(x)
        ctx.slices = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.slices]
