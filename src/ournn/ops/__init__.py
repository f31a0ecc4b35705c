"""The ops, one ``Function`` subclass each, and the table that installs them on ``Tensor``.

``install_tensor_methods()`` gives ``Tensor`` its operators and methods in one place, each
a thin wrapper over ``Function.apply``.
"""
import numpy as np

from ..backend import get_array_module
from ..errors import ShapeError
from ..tensor import Tensor, _lift
from . import activation, elementwise, linalg, reduce, shape
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .elementwise import (Abs, Add, Cast, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                          Sqrt, Sub, Where)
from .linalg import Linear, MatMul
from .reduce import Max, Mean, Min, Sum, Var
from .shape import BroadcastTo, Concatenate, GetItem, Pad, Reshape, Split, Stack, Transpose

__all__ = ["activation", "elementwise", "linalg", "reduce", "shape"]


# ---------------------------------------------------------------- helpers for the wrappers
def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _axis_args(axis, keepdims, dim, keepdim):
    """Accept NumPy's ``axis``/``keepdims`` and PyTorch's ``dim``/``keepdim``."""
    if dim is not None:
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, bool(keepdims)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _index_arg(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _binary(fn):
    def op(self, other):
        return fn.apply(self, _lift(other, self))
    return op


def _rbinary(fn):
    def op(self, other):
        return fn.apply(_lift(other, self), self)
    return op


def _matmul(a, b):
    sa, sb = a.shape, getattr(b, "shape", None)
    if sb is None or len(sa) == 0 or len(sb) == 0:
        raise ShapeError(f"matmul: both operands need at least one dimension, got shapes {sa} "
                         f"and {sb}")
    k_a = sa[-1]
    k_b = sb[-2] if len(sb) > 1 else sb[0]
    if k_a != k_b:
        raise ShapeError(f"matmul: shapes {sa} and {sb} do not fit (inner dimensions "
                         f"{k_a} != {k_b})")
    try:
        return MatMul.apply(a, b)
    except ValueError as e:  # batch dimensions that do not broadcast
        raise ShapeError(f"matmul: batch dimensions of {sa} and {sb} do not broadcast") from e


def _compare(ufunc_name):
    def op(self, other):
        other = other.data if isinstance(other, Tensor) else other
        xp = get_array_module(self.data)
        return Tensor._make(getattr(xp, ufunc_name)(self.data, other))
    op.__name__ = ufunc_name
    return op


# ---------------------------------------------------------------- tensor methods
def _reduction(fn):
    def op(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
        return fn.apply(self, axis=axis, keepdims=keepdims)
    op.__doc__ = f"{fn.__name__.lower()} over ``axis`` (or ``dim``), keeping dims if ``keepdims``."
    return op


def _var(self, axis=None, keepdims=False, correction=1, *, dim=None, keepdim=None, unbiased=None):
    """Variance; ``correction=1`` (unbiased) as PyTorch, ``correction=0`` as NumPy."""
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    if unbiased is not None:
        correction = int(unbiased)
    return Var.apply(self, axis=axis, keepdims=keepdims, correction=correction)


def _std(self, *args, **kwargs):
    return _var(self, *args, **kwargs).sqrt()


def _reshape(self, *shape):
    shape = _shape_args(shape)
    try:
        return Reshape.apply(self, shape=shape)
    except ValueError as e:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {self.shape} "
                         f"({self.size} elements) into {shape}") from e


def _transpose(self, *axes):
    """``t.transpose()`` reverses the axes; ``t.transpose(0, 1)`` swaps two axes (PyTorch);
    ``t.transpose((2, 0, 1))`` permutes them (NumPy)."""
    if not axes:
        return Transpose.apply(self, axes=None)
    if len(axes) == 2 and all(isinstance(a, int) for a in axes):
        perm = list(range(self.ndim))
        i, j = axes[0] % self.ndim, axes[1] % self.ndim
        perm[i], perm[j] = perm[j], perm[i]
        return Transpose.apply(self, axes=tuple(perm))
    return Transpose.apply(self, axes=tuple(a % self.ndim for a in _shape_args(axes)))


def _permute(self, *dims):
    return Transpose.apply(self, axes=tuple(d % self.ndim for d in _shape_args(dims)))


def _flatten(self, start_dim=0, end_dim=-1):
    shape = self.shape
    if not shape:
        return _reshape(self, 1)
    s, e = start_dim % len(shape), end_dim % len(shape)
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return Reshape.apply(self, shape=shape[:s] + (n,) + shape[e + 1:])


def _unsqueeze(self, dim):
    dim = dim % (self.ndim + 1)
    return Reshape.apply(self, shape=self.shape[:dim] + (1,) + self.shape[dim:])


def _squeeze(self, dim=None):
    if dim is None:
        new = tuple(n for n in self.shape if n != 1)
    else:
        dim = dim % self.ndim
        new = self.shape[:dim] + self.shape[dim + 1:] if self.shape[dim] == 1 else self.shape
    return Reshape.apply(self, shape=new)


def _getitem(self, index):
    return GetItem.apply(self, index=_index_arg(index))


def _setitem(self, index, value):
    if self.requires_grad and self._ctx is None:
        from ..autograd.function import is_grad_enabled
        if is_grad_enabled():
            raise ShapeError("in-place assignment to a leaf tensor that requires grad; "
                             "do it under ournn.no_grad() or on .data")
    self.data[_index_arg(index)] = value.data if isinstance(value, Tensor) else value


def _astype(self, dtype):
    if np.dtype(dtype) == self.dtype:
        return self
    return Cast.apply(self, dtype=np.dtype(dtype))


def _pow(self, exponent):
    return Pow.apply(self, _lift(exponent, self))


def _rpow(self, base):
    return Pow.apply(_lift(base, self), self)


def _clip(self, min=None, max=None):
    return Clip.apply(self, low=min, high=max)


def _argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    return Tensor._make(self.data.argmax(axis=axis, keepdims=keepdims))


def _argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    return Tensor._make(self.data.argmin(axis=axis, keepdims=keepdims))


def _expand(self, *shape):
    return BroadcastTo.apply(self, shape=_shape_args(shape))


def _clone(self):
    return Mul.apply(self, _lift(1, self)) if self.requires_grad else Tensor._make(self.data.copy())


_METHODS = {
    "__add__": _binary(Add), "__radd__": _rbinary(Add),
    "__sub__": _binary(Sub), "__rsub__": _rbinary(Sub),
    "__mul__": _binary(Mul), "__rmul__": _rbinary(Mul),
    "__truediv__": _binary(Div), "__rtruediv__": _rbinary(Div),
    "__pow__": _pow, "__rpow__": _rpow,
    "__matmul__": lambda a, b: _matmul(a, _lift(b, a)),
    "__rmatmul__": lambda a, b: _matmul(as_tensor(b), a),
    "__neg__": lambda a: Neg.apply(a),
    "__abs__": lambda a: Abs.apply(a),
    "__getitem__": _getitem, "__setitem__": _setitem,
    "__lt__": _compare("less"), "__le__": _compare("less_equal"),
    "__gt__": _compare("greater"), "__ge__": _compare("greater_equal"),
    "__eq__": _compare("equal"), "__ne__": _compare("not_equal"),
    "exp": lambda a: Exp.apply(a), "log": lambda a: Log.apply(a),
    "sqrt": lambda a: Sqrt.apply(a), "abs": lambda a: Abs.apply(a),
    "tanh": lambda a: Tanh.apply(a), "sigmoid": lambda a: Sigmoid.apply(a),
    "relu": lambda a: ReLU.apply(a),
    "softmax": lambda a, dim=-1: Softmax.apply(a, axis=dim),
    "log_softmax": lambda a, dim=-1: LogSoftmax.apply(a, axis=dim),
    "sum": _reduction(Sum), "mean": _reduction(Mean), "max": _reduction(Max),
    "min": _reduction(Min), "var": _var, "std": _std,
    "argmax": _argmax, "argmin": _argmin,
    "reshape": _reshape, "view": _reshape, "transpose": _transpose, "permute": _permute,
    "flatten": _flatten, "unsqueeze": _unsqueeze, "squeeze": _squeeze, "expand": _expand,
    "T": property(lambda a: Transpose.apply(a, axes=None)),
    "astype": _astype, "float": lambda a: _astype(a, np.float32),
    "double": lambda a: _astype(a, np.float64), "long": lambda a: Tensor._make(a.data.astype(np.int64)),
    "clip": _clip, "clamp": _clip, "matmul": lambda a, b: _matmul(a, _lift(b, a)),
    "maximum": lambda a, b: Maximum.apply(a, _lift(b, a)),
    "minimum": lambda a, b: Minimum.apply(a, _lift(b, a)),
    "clone": _clone,
}


def install_tensor_methods():
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)


install_tensor_methods()
