"""Indexing along a dimension and rearranging elements: gather scatter scatter_add index_select
masked_select tile (``repeat``) repeat_interleave roll flip diag diagonal triu tril.

Index arrays are constants (integer arrays outside the graph); gradients reach the values.
Repeated indices accumulate their gradients (``np.add.at``).

Gradients of gradients: each op declares ``double_backward``. On tensors (``create_graph=True``)
a backward that writes into a fresh array (``np.add.at``, item assignment) is instead another
recorded op: ``IndexAdd`` (zeros with values added at an index, whose backward is indexing),
``GetItem``, or the op itself with the inverse arguments.
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import compat
from .shape import GetItem, IndexAdd


def along(index, axis):
    """An advanced index that picks ``x[i0, .., index[i], .., in]`` for every position ``i`` of
    ``index`` (PyTorch's gather/scatter addressing, where ``index`` may be smaller than ``x``
    in the other dimensions)."""
    xp = get_array_module(index)
    axis = axis % index.ndim if index.ndim else 0
    parts = []
    for d, n in enumerate(index.shape):
        if d == axis:
            parts.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            parts.append(xp.arange(n).reshape(shape))
    return tuple(parts)


class Gather(Function):
    @staticmethod
    def forward(ctx, x, index=None, axis=0):
        ctx.shape = x.shape
        ctx.where = along(index, axis) if index.ndim else index
        return x[ctx.where]

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):
            return IndexAdd.apply(grad, shape=ctx.shape, index=ctx.where)
        xp = get_array_module(grad)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        compat.add_at(out, ctx.where, grad)
        return out


def _src_grad(grad, where, block, src_shape):
    """The gradient of a scatter's ``src`` on tensors: ``grad[where]`` in its first block."""
    picked = GetItem.apply(grad, index=where)
    return picked if picked.shape == tuple(src_shape) else \
        IndexAdd.apply(picked, shape=tuple(src_shape), index=block)


class Scatter(Function):
    """``out = x.copy(); out[index along axis] = src``; ``src`` a tensor (its first
    ``index.shape`` block is used, as PyTorch) or a scalar."""

    @staticmethod
    def forward(ctx, x, src, index=None, axis=0):
        xp = get_array_module(x)
        ctx.where = along(index, axis)
        ctx.src_shape = xp.shape(src)
        ctx.block = tuple(slice(0, n) for n in index.shape) if xp.ndim(src) else None
        out = x.copy()
        out[ctx.where] = src[ctx.block] if ctx.block is not None else src
        return out

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        gx = gs = None
        if isinstance(grad, Tensor):
            if ctx.needs_input_grad[0]:
                kept = get_array_module(grad._data).ones(grad.shape, dtype=bool)
                kept[ctx.where] = False
                gx = xp.where(kept, grad, 0)
            if ctx.needs_input_grad[1]:
                gs = _src_grad(grad, ctx.where, ctx.block, ctx.src_shape)
            return gx, gs
        if ctx.needs_input_grad[0]:
            gx = grad.copy()
            gx[ctx.where] = 0
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(ctx.src_shape, dtype=grad.dtype)
            gs[ctx.block] = grad[ctx.where]
        return gx, gs


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, x, src, index=None, axis=0):
        xp = get_array_module(x)
        ctx.where = along(index, axis)
        ctx.src_shape = src.shape
        ctx.block = tuple(slice(0, n) for n in index.shape)
        out = x.copy()
        compat.add_at(out, ctx.where, src[ctx.block])
        return out

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        gs = None
        if isinstance(grad, Tensor):
            if ctx.needs_input_grad[1]:
                gs = _src_grad(grad, ctx.where, ctx.block, ctx.src_shape)
            return grad, gs
        if ctx.needs_input_grad[1]:
            gs = xp.zeros(ctx.src_shape, dtype=grad.dtype)
            gs[ctx.block] = grad[ctx.where]
        return grad, gs


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, index=None, axis=0):
        ctx.shape, ctx.index, ctx.axis = x.shape, index, axis
        return get_array_module(x).take(x, index, axis=axis)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        return _add_along(grad, ctx.shape, ctx.axis, ctx.index)


class MaskedSelect(Function):
    """The elements where the boolean ``mask`` (of ``x``'s shape) is true, as a 1-D array."""

    @staticmethod
    def forward(ctx, x, mask=None):
        ctx.shape, ctx.mask = x.shape, mask
        return x[mask]

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):
            return IndexAdd.apply(grad, shape=ctx.shape,
                                  index=get_array_module(ctx.mask).nonzero(ctx.mask))
        out = get_array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        out[ctx.mask] = grad
        return out


class Tile(Function):
    """``np.tile`` with ``reps`` at least as long as ``x.ndim`` (PyTorch's ``repeat``)."""

    @staticmethod
    def forward(ctx, x, reps=()):
        xp = get_array_module(x)
        shape = (1,) * (len(reps) - x.ndim) + x.shape
        ctx.shape, ctx.padded, ctx.reps = x.shape, shape, reps
        return xp.tile(x.reshape(shape), reps)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        split = []
        for r, n in zip(ctx.reps, ctx.padded):
            split += [r, n]
        g = grad.reshape(split).sum(axis=tuple(range(0, 2 * len(ctx.reps), 2)))
        return g.reshape(ctx.shape)


class RepeatInterleave(Function):
    @staticmethod
    def forward(ctx, x, repeats=1, axis=0):
        xp = get_array_module(x)
        ctx.shape, ctx.axis = x.shape, axis
        ctx.source = xp.repeat(xp.arange(x.shape[axis]), repeats)
        return xp.repeat(x, repeats, axis=axis)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        return _add_along(grad, ctx.shape, ctx.axis, ctx.source)


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts=0, axis=None):
        ctx.shifts, ctx.axis = shifts, axis
        return get_array_module(x).roll(x, shifts, axis=axis)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        s = ctx.shifts
        back = tuple(-v for v in s) if isinstance(s, tuple) else -s
        if isinstance(grad, Tensor):
            return Roll.apply(grad, shifts=back, axis=ctx.axis)
        return get_array_module(grad).roll(grad, back, axis=ctx.axis)


class Flip(Function):
    """A reversed copy along ``axes`` (a copy, as ``torch.flip``: writes do not reach ``x``)."""

    @staticmethod
    def forward(ctx, x, axes=()):
        ctx.axes = axes
        return get_array_module(x).flip(x, axes).copy()

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        return get_array_module(grad).flip(grad, ctx.axes)


def _diagonal_index(shape, offset):
    """Row and column indices of the ``offset`` diagonal of a matrix of ``shape`` (..., r, c)."""
    import numpy as np
    rows, cols = shape[-2], shape[-1]
    n = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    r = np.arange(n) + max(0, -offset)
    return r, r + offset


class Diagonal(Function):
    """The diagonal over ``dim1``/``dim2`` as a new last axis (a copy)."""

    @staticmethod
    def forward(ctx, x, offset=0, dim1=0, dim2=1):
        xp = get_array_module(x)
        ctx.shape, ctx.offset, ctx.dims = x.shape, offset, (dim1, dim2)
        return xp.diagonal(x, offset, dim1, dim2).copy()

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        if isinstance(grad, Tensor):    # embed in the moved layout, then move back
            moved = np.moveaxis(np.empty(ctx.shape, dtype=bool), ctx.dims, (-2, -1)).shape
            r, c = _diagonal_index(moved, ctx.offset)
            if type(grad._data) is not np.ndarray:
                r, c = compat.index_on_device_of((r, c), grad._data)
            out = IndexAdd.apply(grad, shape=moved, index=(Ellipsis, r, c))
            return xp.moveaxis(out, (-2, -1), ctx.dims)
        out = xp.zeros(ctx.shape, dtype=grad.dtype)
        view = xp.moveaxis(out, ctx.dims, (-2, -1))
        r, c = _diagonal_index(view.shape, ctx.offset)
        if xp is not np:
            r, c = compat.index_on_device_of((r, c), out)
        view[..., r, c] = grad
        return out


class DiagEmbed(Function):
    """A 1-D array as the ``offset`` diagonal of a square matrix (``torch.diag`` of a vector)."""

    @staticmethod
    def forward(ctx, v, offset=0):
        ctx.offset = offset
        return get_array_module(v).diag(v, offset)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):
            return Diagonal.apply(grad, offset=ctx.offset, dim1=0, dim2=1)
        return get_array_module(grad).diagonal(grad, ctx.offset).copy()


class Triangle(Function):
    """``triu`` (``lower=False``) or ``tril`` of the last two dimensions."""

    @staticmethod
    def forward(ctx, x, diagonal=0, lower=False):
        xp = get_array_module(x)
        ctx.fn = (xp.tril if lower else xp.triu)
        ctx.k, ctx.lower = diagonal, lower
        return ctx.fn(x, diagonal)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):
            return Triangle.apply(grad, diagonal=ctx.k, lower=ctx.lower)
        return ctx.fn(grad, ctx.k)


def _add_along(grad, shape, axis, index):
    """Zeros of ``shape`` with the slices of ``grad`` along ``axis`` added at the positions
    ``index`` (repeats accumulate): the backward of taking ``index`` along ``axis``. On
    tensors (gradients of gradients) it is the recorded ``IndexAdd``."""
    if isinstance(grad, Tensor):
        return IndexAdd.apply(grad, shape=shape,
                              index=(slice(None),) * (axis % len(shape)) + (index,))
    xp = get_array_module(grad)
    out = xp.zeros(shape, dtype=grad.dtype)
    compat.add_at(xp.moveaxis(out, axis, 0), index, xp.moveaxis(grad, axis, 0))
    return out
