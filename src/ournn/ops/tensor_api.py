"""PyTorch's tensor methods beyond the arithmetic operators: the wrappers and their table.

``METHODS`` is merged into ``ournn.ops._METHODS`` (one table installs every method), and the
top-level functions (``ournn.gather(t, ...)``) call these same wrappers. Arguments are
PyTorch's (``dim``, ``keepdim``); the reductions also take NumPy's ``axis``/``keepdims``.
Integer results (indices, comparisons, counts) are outside the graph.
"""
import builtins
import types
from collections import namedtuple

import numpy as np

from ..backend import get_array_module
from ..errors import ShapeError
from ..tensor import Tensor, _lift
from . import index as _ix
from .compat import on_device_of
from . import inplace as _inplace
from . import math as _m
from . import scan as _scan
from .activation import LogSoftmax, Softmax
from .elementwise import Add, Clip, Div, Maximum, Minimum, Mul, Sub, Where
from .linalg import Einsum, MatMul, parse_einsum
from .reduce import Max, Mean, Min, Sum, Var
from .shape import BroadcastTo, GetItem, Reshape, Split, Transpose

# ---------------------------------------------------------------- result types
return_types = types.SimpleNamespace(**{
    name: namedtuple(name, ["values", "indices"])
    for name in ("max", "min", "sort", "topk", "median", "kthvalue", "cummax", "cummin")})
"""``(values, indices)`` named tuples, as ``torch.return_types``."""


# ---------------------------------------------------------------- helpers
def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _int_index(index):
    """An index tensor, list or array as an int64 array (a constant)."""
    a = _arr(index)
    a = a if hasattr(a, "dtype") else np.asarray(a)
    if a.dtype.kind not in "iu":
        if a.size == 0:
            return a.astype(np.int64)
        raise TypeError(f"expected an integer index tensor, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _dim(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"dimension {dim} out of range for a tensor with {ndim} dimensions")
    return dim % n


def _dims(dim, keepdim, axis, keepdims):
    """PyTorch's ``dim``/``keepdim`` with NumPy's ``axis``/``keepdims`` accepted too."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, list):
        dim = tuple(dim)
    if dim == ():
        dim = None
    return dim, bool(keepdim)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _operand(x, like):
    """``x`` as an op operand next to tensor ``like`` (scalars take its dtype)."""
    return x if isinstance(x, Tensor) else _lift(x, like)


def _plain(array):
    return Tensor._make(array)


def _cast_for(self, dtype):
    return self if dtype is None else self.to(dtype)


def _small_int(x):
    k = x._data.dtype.kind
    return k == "b" or (k in "iu" and x._data.dtype != np.int64)


def _default_float():
    from .factories import get_default_dtype
    return get_default_dtype()


# ---------------------------------------------------------------- arithmetic, named
def add(self, other, *, alpha=1):
    if alpha != 1:
        other = other * alpha
    return Add.apply(self, _operand(other, self))


def sub(self, other, *, alpha=1):
    if alpha != 1:
        other = other * alpha
    return Sub.apply(self, _operand(other, self))


def mul(self, other):
    return Mul.apply(self, _operand(other, self))


def div(self, other, *, rounding_mode=None):
    """``/``; ``rounding_mode='trunc'`` or ``'floor'`` rounds the quotient (zero gradient).
    Two integer tensors divide to the default float dtype, as PyTorch."""
    other = _operand(other, self)
    if rounding_mode is None:
        a, b = self._data, _arr(other)
        b_arr = b if hasattr(b, "dtype") and hasattr(b, "ndim") else np.asarray(b)
        if a.dtype.kind in "iub" and (b_arr.dtype.kind in "iub" or b_arr.ndim == 0):
            # an integer tensor divided by an integer tensor or a number: the default float
            # dtype, as PyTorch (NumPy would give float64)
            return _plain((a / b).astype(_default_float()))
        return Div.apply(self, other)
    if rounding_mode == "trunc":
        def fn(a, b):
            q = get_array_module(a).trunc(a / b)
            return q.astype(np.result_type(a, b)) if q.dtype != np.result_type(a, b) else q
    elif rounding_mode == "floor":
        def fn(a, b):
            return get_array_module(a).floor_divide(a, b)
    else:
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    return _m.ZeroGrad.apply(self, other, fn=fn)


def floor_divide(self, other):
    return div(self, other, rounding_mode="floor")


def _rfloordiv(self, other):
    return div(_t(_lift(other, self)), self, rounding_mode="floor")


def remainder(self, other):
    return _m.Remainder.apply(self, _operand(other, self))


def _rmod(self, other):
    return _m.Remainder.apply(_t(_lift(other, self)), self)


def fmod(self, other):
    return _m.Fmod.apply(self, _operand(other, self))


def atan2(self, other):
    return _m.Atan2.apply(self, _operand(other, self))


def lerp(self, end, weight):
    return _m.Lerp.apply(self, _operand(end, self), _operand(weight, self))


def addcmul(self, tensor1, tensor2, *, value=1):
    return self + value * (tensor1 * tensor2) if value != 1 else self + tensor1 * tensor2


def addcdiv(self, tensor1, tensor2, *, value=1):
    return self + value * (tensor1 / tensor2) if value != 1 else self + tensor1 / tensor2


def square(self):
    return Mul.apply(self, self)


def _rounding(ufunc_name):
    def op(self):
        if self._data.dtype.kind not in "fc":
            return self if ufunc_name != "sign" else _plain(get_array_module(self._data).sign(self._data))
        return _m.ZeroGrad.apply(self, fn=getattr(get_array_module(self._data), ufunc_name))
    op.__name__ = ufunc_name
    return op


def round(self, decimals=0):  # noqa: A001
    if self._data.dtype.kind not in "fc":
        return self
    return _m.ZeroGrad.apply(self, fn=lambda a: get_array_module(a).round(a, decimals))


def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    return _m.NanToNum.apply(self, nan=nan, posinf=posinf, neginf=neginf)


def _predicate(name):
    def op(self):
        return _plain(getattr(get_array_module(self._data), name)(self._data))
    op.__name__ = name
    return op


def _unary(fn):
    def op(self):
        return fn.apply(self)
    op.__name__ = fn.__name__.lower()
    return op


def clamp(self, min=None, max=None):  # noqa: A002 - PyTorch's names
    """``clamp`` with scalar or tensor bounds; tensor bounds get their gradient where they
    bind, as PyTorch."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return Clip.apply(self, low=min, high=max)
    out = self
    if min is not None:
        lo = _operand(min, self)
        out = Where.apply(out._data < _arr(lo), lo, out)
    if max is not None:
        hi = _operand(max, self)
        out = Where.apply(out._data > _arr(hi), hi, out)
    return out


def clamp_min(self, min):  # noqa: A002
    return clamp(self, min, None)


def clamp_max(self, max):  # noqa: A002
    return clamp(self, None, max)


def _bitwise(ufunc_name, reflected=False):
    def op(self, other):
        xp = get_array_module(self._data)
        other = _arr(other)
        if isinstance(other, Tensor) or not isinstance(other, (int, bool, np.ndarray,
                                                                np.generic)):
            return NotImplemented
        for a in (self._data, np.asarray(other)):
            if a.dtype.kind not in "iub":
                raise TypeError(f"{ufunc_name} is only for integer and bool tensors, got "
                                f"dtype {a.dtype}")
        a, b = (other, self._data) if reflected else (self._data, other)
        return _plain(getattr(xp, ufunc_name)(a, b))
    return op


def _invert(self):
    if self._data.dtype.kind not in "iub":
        raise TypeError(f"~ is only for integer and bool tensors, got dtype {self._data.dtype}")
    return _plain(get_array_module(self._data).invert(self._data))


def _logical(name):
    def op(self, *other):
        return _plain(getattr(np, name)(self._data, *[_arr(o) for o in other]))
    op.__name__ = name
    return op


def _compare(ufunc_name):
    def op(self, other):
        return _plain(getattr(get_array_module(self._data), ufunc_name)(self._data, _arr(other)))
    op.__name__ = ufunc_name
    return op


# ---------------------------------------------------------------- reductions
def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):  # noqa: A001
    dim, keepdim = _dims(dim, keepdim, axis, keepdims)
    x = _cast_for(self, dtype)
    if _small_int(x):
        x = x.to(np.int64)      # PyTorch sums bools and small integers as int64
    return Sum.apply(x, axis=dim, keepdims=keepdim)


def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _dims(dim, keepdim, axis, keepdims)
    x = _cast_for(self, dtype)
    if x._data.dtype.kind not in "fc":
        raise TypeError(f"mean: a floating-point tensor is needed, got dtype {x._data.dtype}; "
                        "pass dtype=ournn.float32 or call .float() first")
    return Mean.apply(x, axis=dim, keepdims=keepdim)


def prod(self, dim=None, keepdim=False, *, dtype=None):
    x = _cast_for(self, dtype)
    if x._data.dtype.kind not in "fc":
        return _plain(get_array_module(x._data).prod(x._data, axis=dim, keepdims=keepdim, dtype=np.int64
                              if x._data.dtype.kind in "iub" else None))
    return _scan.Prod.apply(x, axis=dim, keepdims=bool(keepdim))


def _values_indices(self, indices, dim, keepdim, kind):
    """The values at ``indices`` (taken along ``dim``, in the graph) with the indices."""
    idx = indices if keepdim else get_array_module(indices).expand_dims(indices, dim)
    values = _ix.Gather.apply(self, index=idx, axis=dim)
    if not keepdim:
        values = values.squeeze(dim)
    return getattr(return_types, kind)(values, _plain(indices))


def _extremum(kind, reducer, elementwise, argfn):
    def op(self, dim=None, keepdim=False, *, axis=None, keepdims=None, out=None):
        if isinstance(dim, Tensor):                  # max(other): elementwise
            return elementwise.apply(self, dim)
        if axis is not None or dim is None:          # NumPy's axis, or all: a tensor
            a, k = _dims(dim, keepdim, axis, keepdims)
            return reducer.apply(self, axis=a, keepdims=k)
        if keepdims is not None:
            keepdim = keepdims
        d = _dim(dim, self._data.ndim)
        if self._data.ndim == 0:
            return getattr(return_types, kind)(self * 1 if self._requires_grad else self,
                                               _plain(np.zeros((), np.int64)))
        indices = argfn(self._data, axis=d, keepdims=bool(keepdim))
        return _values_indices(self, indices, d, bool(keepdim), kind)
    op.__name__ = kind
    return op


def _amax(reducer):
    def op(self, dim=(), keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, keepdim, axis, keepdims)
        return reducer.apply(self, axis=dim, keepdims=keepdim)
    return op


def _arg(fn_name):
    def op(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, keepdim, axis, keepdims)
        a = self._data
        if dim is None and keepdim:
            return _plain(getattr(a.reshape(-1), fn_name)().reshape((1,) * a.ndim))
        return _plain(getattr(a, fn_name)(axis=dim, keepdims=keepdim))
    op.__name__ = fn_name
    return op


def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):
    """Variance: ``correction=1`` (unbiased, the default) or ``unbiased=False`` (NumPy's).
    Positional arguments are PyTorch's: ``var(dim, unbiased, keepdim)``."""
    dim, keepdim = _dims(dim, keepdim, axis, keepdims)
    if correction is None:
        correction = 1 if unbiased is None else int(bool(unbiased))
    return Var.apply(self, axis=dim, keepdims=keepdim, correction=correction)


def std(self, *args, **kwargs):
    return var(self, *args, **kwargs).sqrt()


def var_mean(self, *args, **kwargs):
    keep = {k: kwargs[k] for k in ("keepdim", "axis", "keepdims") if k in kwargs}
    dim = args[0] if args else kwargs.get("dim")
    if len(args) > 2:
        keep["keepdim"] = args[2]
    return var(self, *args, **kwargs), mean(self, dim, **keep)


def std_mean(self, *args, **kwargs):
    v, m = var_mean(self, *args, **kwargs)
    return v.sqrt(), m


def logsumexp(self, dim=None, keepdim=False):
    return _scan.LogSumExp.apply(self, axis=_dims(dim, keepdim, None, None)[0],
                                 keepdims=bool(keepdim))


def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    """``torch.norm``: the vector ``p``-norm over ``dim`` (all elements by default);
    ``'fro'`` is the 2-norm, ``'nuc'`` is not supported."""
    x = _cast_for(self, dtype)
    if p is None or p == "fro":
        p = 2
    if isinstance(p, str):
        raise NotImplementedError(f"norm: p={p!r} is not supported (use 'fro' or a number)")
    dim, keepdim = _dims(dim, keepdim, None, None)
    return _scan.Norm.apply(x, p=float(p), axis=dim, keepdims=keepdim)


def cumsum(self, dim, *, dtype=None):
    x = _cast_for(self, dtype)
    if _small_int(x):
        x = x.to(np.int64)
    return _scan.Cumsum.apply(x, axis=_dim(dim, x._data.ndim))


def cumprod(self, dim, *, dtype=None):
    x = _cast_for(self, dtype)
    if x._data.dtype.kind not in "fc":
        return _plain(get_array_module(x._data).cumprod(x._data.astype(np.int64), axis=_dim(dim, x._data.ndim)))
    return _scan.Cumprod.apply(x, axis=_dim(dim, x._data.ndim))


def all(self, dim=None, keepdim=False):  # noqa: A001
    return _plain(get_array_module(self._data).all(self._data, axis=_dims(dim, keepdim, None, None)[0], keepdims=keepdim))


def any(self, dim=None, keepdim=False):  # noqa: A001
    return _plain(get_array_module(self._data).any(self._data, axis=_dims(dim, keepdim, None, None)[0], keepdims=keepdim))


def count_nonzero(self, dim=None):
    return _plain(np.asarray(get_array_module(self._data).count_nonzero(self._data, axis=dim), dtype=np.int64))


def median(self, dim=None, keepdim=False):
    """The lower median (PyTorch's): of all elements, or ``(values, indices)`` along ``dim``."""
    if dim is None:
        flat = self.reshape(-1)
        order = get_array_module(flat._data).argsort(flat._data, kind="stable")
        k = (flat._data.size - 1) // 2
        return _ix.Gather.apply(flat, index=order[k:k + 1], axis=0).reshape(())
    d = _dim(dim, self._data.ndim)
    order = get_array_module(self._data).argsort(self._data, axis=d, kind="stable")
    k = (self._data.shape[d] - 1) // 2
    idx = get_array_module(order).take(order, k, axis=d)
    if keepdim:
        idx = get_array_module(idx).expand_dims(idx, d)
    return _values_indices(self, idx, d, bool(keepdim), "median")


def kthvalue(self, k, dim=-1, keepdim=False):
    d = _dim(dim, self._data.ndim)
    order = get_array_module(self._data).argsort(self._data, axis=d, kind="stable")
    idx = get_array_module(order).take(order, k - 1, axis=d)
    if keepdim:
        idx = get_array_module(idx).expand_dims(idx, d)
    return _values_indices(self, idx, d, bool(keepdim), "kthvalue")


def softmax(self, dim=-1, dtype=None):
    return Softmax.apply(_cast_for(self, dtype), axis=dim)


def log_softmax(self, dim=-1, dtype=None):
    return LogSoftmax.apply(_cast_for(self, dtype), axis=dim)


# ---------------------------------------------------------------- sorting
def _order(a, dim, descending, stable):
    if descending:
        # a stable descending order: the reversed stable ascending order of the negation
        if a.dtype.kind == "b":
            a = a.astype(np.int8)
        key = -a if a.dtype.kind in "fi" else a.max() - a
        return get_array_module(a).argsort(key, axis=dim, kind="stable")
    return get_array_module(a).argsort(a, axis=dim, kind="stable" if stable else None)


def sort(self, dim=-1, descending=False, stable=False):
    d = _dim(dim, self._data.ndim)
    idx = _order(self._data, d, descending, stable)
    return _values_indices(self, idx, d, True, "sort")


def argsort(self, dim=-1, descending=False, stable=False):
    return _plain(_order(self._data, _dim(dim, self._data.ndim), descending, stable))


def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    d = _dim(dim, self._data.ndim)
    n = self._data.shape[d] if self._data.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k={k} is out of range for a dimension of size {n}")
    order = _order(self._data, d, largest, True)
    idx = get_array_module(order).take(order, get_array_module(order).arange(k), axis=d)
    return _values_indices(self, idx, d, True, "topk")


# ---------------------------------------------------------------- indexing
def gather(self, dim, index, *, sparse_grad=False):
    index = _int_index(index)
    d = _dim(dim, self._data.ndim)
    if index.ndim != self._data.ndim:
        raise ShapeError(f"gather: index has {index.ndim} dimensions, the input "
                         f"{self._data.ndim}; they must be equal")
    return _ix.Gather.apply(self, index=index, axis=d)


def scatter(self, dim, index, src=None, *, value=None, reduce=None):
    """``scatter(dim, index, src)`` or ``scatter(dim, index, value)`` (a number)."""
    if src is None:
        src = value
    index = _int_index(index)
    d = _dim(dim, self._data.ndim)
    if reduce == "add":
        return scatter_add(self, dim, index, src if isinstance(src, Tensor) else _plain(
            get_array_module(self._data).full(index.shape, src, dtype=self._data.dtype)))
    if reduce is not None:
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (only 'add')")
    if not isinstance(src, Tensor):
        src = on_device_of(src, self._data, self._data.dtype)
    return _ix.Scatter.apply(self, src, index=index, axis=d)


def scatter_add(self, dim, index, src):
    return _ix.ScatterAdd.apply(self, _t(src), index=_int_index(index),
                                axis=_dim(dim, self._data.ndim))


def index_select(self, dim, index):
    index = _int_index(index).reshape(-1)
    return _ix.IndexSelect.apply(self, index=index, axis=_dim(dim, self._data.ndim))


def _mask(self, mask):
    m = on_device_of(mask, self._data)       # a host mask for a device tensor: moved there
    if m.dtype != np.bool_:
        raise TypeError(f"expected a bool mask, got dtype {m.dtype}")
    return m


def masked_fill(self, mask, value):
    return Where.apply(_mask(self, mask), _operand(value, self), self)


def masked_select(self, mask):
    m = _mask(self, mask)
    shape = np.broadcast_shapes(m.shape, self._data.shape)
    x = self if self._data.shape == shape else self.expand(shape)
    return _ix.MaskedSelect.apply(x, mask=get_array_module(m).broadcast_to(m, shape))


def nonzero(self, *, as_tuple=False):
    idx = get_array_module(self._data).nonzero(self._data)
    if as_tuple:
        return tuple(_plain(i.astype(np.int64)) for i in idx)
    return _plain(np.stack(idx, axis=-1).astype(np.int64) if idx else
                  np.zeros((int(bool(self._data)), 0), np.int64))


def argwhere(self):
    return nonzero(self)


def where(self, condition, other):
    """``self.where(condition, other)``: ``self`` where ``condition`` else ``other``."""
    return Where.apply(on_device_of(condition, self._data, bool), self, _operand(other, self))


def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    res = get_array_module(self._data).unique(self._data, return_inverse=return_inverse, return_counts=return_counts,
                    axis=dim)
    if not (return_inverse or return_counts):
        return _plain(res)
    out = [_plain(res[0])]
    if return_inverse:
        out.append(_plain(res[1].reshape(self._data.shape if dim is None else -1)
                          .astype(np.int64)))
    if return_counts:
        out.append(_plain(res[-1].astype(np.int64)))
    return tuple(out)


def bincount(self, weights=None, minlength=0):
    return _plain(get_array_module(self._data).bincount(self._data, None if weights is None else _arr(weights),
                              minlength))


def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(self._data, _arr(other), rtol, atol, equal_nan))


def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _plain(get_array_module(self._data).isclose(self._data, _arr(other), rtol, atol, equal_nan))


def equal(self, other):
    other = _arr(other)
    return self._data.shape == np.shape(other) and bool(np.array_equal(self._data, other))


# ---------------------------------------------------------------- shape
def view(self, *shape):
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        raise NotImplementedError("view(dtype) (reinterpreting the bytes) is not supported; "
                                  "use .to(dtype) to convert the values")
    return self.reshape(*shape)


def view_as(self, other):
    return self.reshape(other.shape)


def expand(self, *sizes):
    sizes = _shape(sizes)
    lead = len(sizes) - self._data.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes given for a tensor with "
                         f"{self._data.ndim} dimensions")
    shape = tuple(self._data.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(sizes))
    try:
        return BroadcastTo.apply(self, shape=shape)
    except ValueError as e:
        raise ShapeError(f"expand: a tensor of shape {tuple(self._data.shape)} cannot be "
                         f"expanded to {sizes}") from e


def expand_as(self, other):
    return expand(self, other.shape)


def repeat(self, *sizes):
    """PyTorch's ``repeat``: the tensor tiled ``sizes`` times (NumPy's ``tile``)."""
    sizes = _shape(sizes)
    if len(sizes) < self._data.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat counts given for a tensor with "
                         f"{self._data.ndim} dimensions (use repeat_interleave for NumPy's "
                         "np.repeat)")
    return _ix.Tile.apply(self, reps=sizes)


def tile(self, *dims):
    dims = _shape(dims)
    return _ix.Tile.apply(self, reps=(1,) * (self._data.ndim - len(dims)) + dims)


def repeat_interleave(self, repeats, dim=None, *, output_size=None):
    x = self
    if dim is None:
        x, dim = self.reshape(-1), 0
    reps = _arr(repeats)
    if np.ndim(reps):
        reps = np.asarray(reps, dtype=np.int64)
    return _ix.RepeatInterleave.apply(x, repeats=reps, axis=_dim(dim, x._data.ndim))


def _split_at(self, cuts, d):
    out = Split.apply(self, indices_or_sections=list(cuts), axis=d)
    return out if isinstance(out, tuple) else (out,)


def split(self, split_size_or_sections, dim=0):
    """PyTorch's ``split``: an int is the size of each piece (the last may be smaller), a
    list the sizes of the pieces. NumPy's ``np.split`` meaning is ``tensor_split``."""
    d = _dim(dim, self._data.ndim)
    n = self._data.shape[d]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)):
        if s <= 0 and n:
            raise ValueError(f"split: the piece size must be positive, got {s}")
        cuts = list(range(s, n, s)) if n else []
    else:
        sizes = [int(v) for v in s]
        if builtins.sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} do not add up to {n}, the size of "
                             f"dimension {dim}")
        cuts = list(np.cumsum(sizes)[:-1])
    return _split_at(self, cuts, d)


def tensor_split(self, indices_or_sections, dim=0):
    """NumPy's ``array_split``: an int is the number of pieces (sizes differing by at most
    one), a list the indices where to cut."""
    d = _dim(dim, self._data.ndim)
    n = self._data.shape[d]
    s = _arr(indices_or_sections)
    if isinstance(s, (int, np.integer)) or np.ndim(s) == 0:
        k = int(s)
        if k <= 0:
            raise ValueError(f"tensor_split: the number of pieces must be positive, got {k}")
        q, r = divmod(n, k)
        cuts = list(np.cumsum([q + 1] * r + [q] * (k - r))[:-1])
    else:
        cuts = [int(v) for v in np.asarray(s).reshape(-1)]
    return _split_at(self, cuts, d)


def chunk(self, chunks, dim=0):
    n = self._data.shape[_dim(dim, self._data.ndim)]
    return split(self, max(1, -(-n // chunks)), dim)


def unbind(self, dim=0):
    d = _dim(dim, self._data.ndim)
    pieces = split(self, 1, d)
    return tuple(p.squeeze(d) for p in pieces)


def narrow(self, dim, start, length):
    d = _dim(dim, self._data.ndim)
    start = int(start) % self._data.shape[d] if int(start) < 0 else int(start)
    if start + length > self._data.shape[d]:
        raise IndexError(f"narrow: start {start} + length {length} exceeds dimension {dim} "
                         f"of size {self._data.shape[d]}")
    return GetItem.apply(self, index=(slice(None),) * d + (slice(start, start + length),))


def select(self, dim, index):
    d = _dim(dim, self._data.ndim)
    return GetItem.apply(self, index=(slice(None),) * d + (int(index),))


def squeeze(self, dim=None):
    shape = self._data.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = {_dim(d, len(shape)) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return Reshape.apply(self, shape=new)


def movedim(self, source, destination):
    nd = self._data.ndim
    src = [_dim(s, nd) for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [_dim(s, nd) for s in (destination if isinstance(destination, (tuple, list))
                                 else (destination,))]
    rest = [i for i in range(nd) if i not in src]
    perm = [None] * nd
    for s, t in zip(src, dst):
        perm[t] = s
    it = iter(rest)
    perm = [p if p is not None else next(it) for p in perm]
    return Transpose.apply(self, axes=tuple(perm))


def swapaxes(self, axis0, axis1):
    nd = self._data.ndim
    perm = list(range(nd))
    i, j = _dim(axis0, nd), _dim(axis1, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return Transpose.apply(self, axes=tuple(perm))


def t(self):
    if self._data.ndim < 2:
        return self
    if self._data.ndim > 2:
        raise ShapeError(f"t() expects a tensor with at most 2 dimensions, got "
                         f"{self._data.ndim}; use .mT or .transpose(a, b)")
    return Transpose.apply(self, axes=(1, 0))


def _mT(self):
    if self._data.ndim < 2:
        raise ShapeError("mT needs a tensor with at least 2 dimensions")
    return swapaxes(self, -2, -1)


def flip(self, *dims):
    dims = _shape(dims)
    return _ix.Flip.apply(self, axes=tuple(_dim(d, self._data.ndim) for d in dims))


def roll(self, shifts, dims=None):
    if dims is None:
        return _ix.Roll.apply(self.reshape(-1), shifts=int(shifts)).reshape(self._data.shape)
    if isinstance(shifts, (tuple, list)):
        return _ix.Roll.apply(self, shifts=tuple(shifts), axis=tuple(dims))
    return _ix.Roll.apply(self, shifts=int(shifts), axis=dims)


def diag(self, diagonal=0):
    if self._data.ndim == 1:
        return _ix.DiagEmbed.apply(self, offset=diagonal)
    if self._data.ndim != 2:
        raise ShapeError(f"diag expects a 1-D or 2-D tensor, got {self._data.ndim} dimensions")
    return _ix.Diagonal.apply(self, offset=diagonal, dim1=0, dim2=1)


def diagonal(self, offset=0, dim1=0, dim2=1):
    nd = self._data.ndim
    return _ix.Diagonal.apply(self, offset=offset, dim1=_dim(dim1, nd), dim2=_dim(dim2, nd))


def triu(self, diagonal=0):
    return _ix.Triangle.apply(self, diagonal=diagonal, lower=False)


def tril(self, diagonal=0):
    return _ix.Triangle.apply(self, diagonal=diagonal, lower=True)


def type_as(self, other):
    return self.to(other.dtype)


def contiguous(self, memory_format=None):
    return self


# ---------------------------------------------------------------- products
def _check_dims(name, **tensors):
    for arg, (t, n) in tensors.items():
        if t.ndim != n:
            raise ShapeError(f"{name}: {arg} must have {n} dimensions, got shape "
                             f"{tuple(t.shape)}")


def mm(self, mat2):
    _check_dims("mm", input=(self, 2), mat2=(mat2, 2))
    return self @ mat2


def bmm(self, mat2):
    _check_dims("bmm", input=(self, 3), mat2=(mat2, 3))
    if self.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: {tuple(self.shape)} and "
                         f"{tuple(mat2.shape)}")
    return self @ mat2


def mv(self, vec):
    _check_dims("mv", input=(self, 2), vec=(vec, 1))
    return self @ vec


def dot(self, other):
    _check_dims("dot", input=(self, 1), other=(other, 1))
    return self @ other


def outer(self, vec2):
    _check_dims("outer", input=(self, 1), vec2=(vec2, 1))
    return MatMul.apply(self.reshape(-1, 1), _t(vec2).reshape(1, -1))


def addmm(self, mat1, mat2, *, beta=1, alpha=1):
    prod_ = mm(mat1, mat2)
    return _scaled_sum(self, prod_, beta, alpha)


def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
    return _scaled_sum(self, bmm(batch1, batch2), beta, alpha)


def addmv(self, mat, vec, *, beta=1, alpha=1):
    return _scaled_sum(self, mv(mat, vec), beta, alpha)


def _scaled_sum(inp, product, beta, alpha):
    if alpha != 1:
        product = product * alpha
    if beta == 0:                      # PyTorch ignores input (even NaN) when beta is 0
        return product
    return (inp if beta == 1 else inp * beta) + product


def einsum(equation, *operands):
    """``einsum("ij,jk->ik", a, b)`` (operands also as one list), differentiable in each."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [_t(o) for o in operands]
    subs, out = parse_einsum(equation, [o._data.shape for o in operands])
    return Einsum.apply(*operands, subs=tuple(subs), out=out)


# ---------------------------------------------------------------- dtype queries
def is_floating_point(self):
    return self._data.dtype.kind == "f"


def is_complex(self):
    return self._data.dtype.kind == "c"


def is_signed(self):
    return self._data.dtype.kind in "fic"


# ---------------------------------------------------------------- in-place twins
def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    return _inplace.inplace(self, "scatter_",
                            lambda s: scatter(s, dim, index, src, value=value, reduce=reduce),
                            operands=(src,))


def scatter_add_(self, dim, index, src):
    return _inplace.inplace(self, "scatter_add_", lambda s: scatter_add(s, dim, index, src),
                            operands=(src,))


def index_fill_(self, dim, index, value):
    sl = (slice(None),) * _dim(dim, self._data.ndim) + (_int_index(index).reshape(-1),)
    return _inplace.setitem(self, sl, value)



# ---------------------------------------------------------------- the table
METHODS = {
    # arithmetic with PyTorch's names
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": lambda a, b: div(a, b), "floor_divide": floor_divide,
    "remainder": remainder, "fmod": fmod, "pow": lambda a, exponent: a.__pow__(exponent), "neg": lambda a: -a,
    "negative": lambda a: -a, "atan2": atan2, "arctan2": atan2, "lerp": lerp,
    "addcmul": addcmul, "addcdiv": addcdiv, "square": square,
    "__floordiv__": floor_divide, "__rfloordiv__": _rfloordiv,
    "__mod__": remainder, "__rmod__": _rmod,
    "__and__": _bitwise("bitwise_and"), "__or__": _bitwise("bitwise_or"),
    "__xor__": _bitwise("bitwise_xor"), "__rand__": _bitwise("bitwise_and", True),
    "__ror__": _bitwise("bitwise_or", True), "__rxor__": _bitwise("bitwise_xor", True),
    "__invert__": _invert, "bitwise_not": _invert,
    "bitwise_and": _bitwise("bitwise_and"), "bitwise_or": _bitwise("bitwise_or"),
    "bitwise_xor": _bitwise("bitwise_xor"),
    "logical_and": _logical("logical_and"), "logical_or": _logical("logical_or"),
    "logical_xor": _logical("logical_xor"), "logical_not": _logical("logical_not"),
    "eq": _compare("equal"), "ne": _compare("not_equal"), "lt": _compare("less"),
    "le": _compare("less_equal"), "gt": _compare("greater"), "ge": _compare("greater_equal"),
    "greater": _compare("greater"), "less": _compare("less"),
    "greater_equal": _compare("greater_equal"), "less_equal": _compare("less_equal"),
    "not_equal": _compare("not_equal"),
    # elementwise math
    "sign": _rounding("sign"), "floor": _rounding("floor"), "ceil": _rounding("ceil"),
    "trunc": _rounding("trunc"), "fix": _rounding("trunc"), "round": round,
    "isnan": _predicate("isnan"), "isinf": _predicate("isinf"),
    "isfinite": _predicate("isfinite"), "isposinf": _predicate("isposinf"),
    "isneginf": _predicate("isneginf"), "signbit": _predicate("signbit"),
    "nan_to_num": nan_to_num,
    "clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    # reductions
    "sum": sum, "mean": mean, "prod": prod, "var": var, "std": std, "logsumexp": logsumexp,
    "max": _extremum("max", Max, Maximum,
                     lambda a, **k: get_array_module(a).argmax(a, **k)),
    "min": _extremum("min", Min, Minimum,
                     lambda a, **k: get_array_module(a).argmin(a, **k)),
    "amax": _amax(Max), "amin": _amax(Min), "argmax": _arg("argmax"), "argmin": _arg("argmin"),
    "norm": norm, "cumsum": cumsum, "cumprod": cumprod, "all": all, "any": any,
    "count_nonzero": count_nonzero, "median": median, "kthvalue": kthvalue,
    "softmax": softmax, "log_softmax": log_softmax,
    # sorting
    "sort": sort, "argsort": argsort, "topk": topk,
    # indexing
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "index_select": index_select, "masked_fill": masked_fill, "masked_select": masked_select,
    "nonzero": nonzero, "argwhere": argwhere, "where": where, "unique": unique,
    "bincount": bincount, "allclose": allclose, "isclose": isclose, "equal": equal,
    # shape
    "view": view, "view_as": view_as, "reshape_as": view_as, "expand": expand,
    "expand_as": expand_as, "repeat": repeat, "tile": tile,
    "repeat_interleave": repeat_interleave, "split": split, "tensor_split": tensor_split,
    "chunk": chunk, "unbind": unbind, "narrow": narrow, "select": select, "squeeze": squeeze,
    "movedim": movedim, "moveaxis": movedim, "swapaxes": swapaxes, "swapdims": swapaxes,
    "t": t, "mT": property(_mT), "mH": property(_mT), "flip": flip,
    "fliplr": lambda a: flip(a, 1), "flipud": lambda a: flip(a, 0), "roll": roll,
    "diag": diag, "diagonal": diagonal, "triu": triu, "tril": tril, "type_as": type_as,
    "contiguous": contiguous, "is_contiguous": lambda a, memory_format=None: True,
    # products
    "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer, "ger": outer,
    "addmm": addmm, "baddbmm": baddbmm, "addmv": addmv,
    # dtype queries
    "is_floating_point": is_floating_point, "is_complex": is_complex, "is_signed": is_signed,
    # in-place twins
    "scatter_": scatter_, "scatter_add_": scatter_add_, "index_fill_": index_fill_,
}
for _name, _fn in _m.UNARY.items():
    METHODS[_name] = _unary(_fn)
for _alias, _name in [("arcsin", "asin"), ("arccos", "acos"), ("arctan", "atan"),
                      ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh")]:
    METHODS[_alias] = METHODS[_name]
for _name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "log1p", "expm1",
              "log2", "log10", "exp2", "rsqrt", "reciprocal", "square", "floor", "ceil",
              "trunc", "sign", "frac", "round", "nan_to_num"):
    METHODS[_name + "_"] = _inplace.unary_(_name + "_", _name)
