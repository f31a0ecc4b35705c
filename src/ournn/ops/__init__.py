"""The ops, one ``Function`` subclass each, and the table that installs them on ``Tensor``.

``install_tensor_methods()`` gives ``Tensor`` its operators and methods in one place, each
a thin wrapper over ``Function.apply``.
"""
import numpy as np

from ..backend import get_array_module
from ..errors import ShapeError
from ..device import (CPU as _CPU, check_device as _check_device, device as _device_cls,
                      device_of as _device_of, to_device as _to_device)
from ..tensor import Tensor, _as_dtype, _lift
from . import (activation, elementwise, index, inplace, linalg, math, reduce, scan, shape,
               tensor_api)
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .elementwise import (Abs, Add, Cast, Clip, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow,
                          Sqrt, Sub, Where)
from .linalg import Linear, MatMul
from .reduce import Max, Mean, Min, Sum, Var
from .shape import BroadcastTo, Concatenate, GetItem, Pad, Reshape, Split, Stack, Transpose
from .transfer import ToDevice

__all__ = ["activation", "elementwise", "index", "linalg", "math", "reduce", "scan", "shape",
           "tensor_api"]


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
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _binary(fn):
    def op(self, other):
        return fn.apply(self, _lift(other, self))
    return op


def _truediv(self, other):
    """``/``: an integer tensor divides to the default float dtype, as PyTorch."""
    if self._data.dtype.kind in "fc":
        return Div.apply(self, _lift(other, self))
    return tensor_api.div(self, other)


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
        if isinstance(other, Tensor):
            other = other._data
        elif not isinstance(other, (int, float, complex, bool, np.generic, np.ndarray, list,
                                    tuple)) and not hasattr(other, "__array__"):
            return NotImplemented       # e.g. pytest.approx: let the other side compare
        xp = get_array_module(self._data)
        return Tensor._make(getattr(xp, ufunc_name)(self._data, other))
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
                         f"({self.numel()} elements) into {shape}") from e


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
    return inplace.setitem(self, _index_arg(index), value)


def _astype(self, dtype):
    dtype = _as_dtype(dtype)
    if dtype == self._data.dtype:
        return self
    if dtype.kind not in "fc":      # an integer or boolean result is outside the graph
        return Tensor._make(self._data.astype(dtype))
    return Cast.apply(self, dtype=dtype)


def _to(self, *args, **kwargs):
    """``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)``, ``t.to(other)``, with the
    keywords ``dtype``, ``device``, ``non_blocking``, ``copy``: as PyTorch, the tensor itself
    when nothing changes."""
    dtype, dev = kwargs.pop("dtype", None), kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a._data.dtype
        elif isinstance(a, (str, _device_cls)) or (isinstance(a, int)
                                                       and not isinstance(a, bool)):
            dev = a
        elif a is not None:
            dtype = a
    out = self
    if dev is not None:
        dev = _check_device(dev)
        here = _device(self)
        if (here.type, here.index) != (dev.type, dev.index):
            out = ToDevice.apply(self, dev) if self._requires_grad else Tensor._make(
                _to_device(self._data, dev))
    if dtype is not None:
        out = _astype(out, dtype)
    if copy and out is self:
        out = _clone(self)
    return out


def _type(self, dtype=None, non_blocking=False):
    """``t.type()`` names the type (``'ournn.FloatTensor'``); ``t.type(dtype)`` converts."""
    if dtype is None:
        return "ournn." + _TYPE_NAMES.get(self._data.dtype.name, self._data.dtype.name) + "Tensor"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        names = {v: k for k, v in _TYPE_NAMES.items()}
        key = dtype.rsplit(".", 1)[-1][:-len("Tensor")]
        if key not in names:
            raise TypeError(f"type(): unknown tensor type {dtype!r}")
        dtype = names[key]
    return _astype(self, dtype)


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool"}


def _device(self):
    """The device the tensor's array lives on (``cpu``, ``cuda:0``)."""
    return _CPU if type(self._data) is np.ndarray else _device_of(self._data)


def _on(self, data, device):
    """``data`` on ``device`` if given, else on ``self``'s device (the ``new_*`` methods)."""
    return _to_device(data, _check_device(device) if device is not None else _device(self))


def _new_factory(fill):
    def op(self, *size, dtype=None, device=None, requires_grad=False, **_):
        shape = _shape_args(size)
        xp = get_array_module(self._data)
        data = fill(xp, shape, _as_dtype(dtype) if dtype is not None else self._data.dtype)
        return Tensor(_on(self, data, device), requires_grad=requires_grad)
    return op


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    xp = get_array_module(self._data)
    dtype = _as_dtype(dtype) if dtype is not None else self._data.dtype
    return Tensor(_on(self, xp.full(_shape_args((size,)), fill_value, dtype=dtype), device),
                  requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    data = data._data if isinstance(data, Tensor) else data
    dtype = _as_dtype(dtype) if dtype is not None else (
        None if isinstance(data, np.ndarray) else self._data.dtype)
    xp = get_array_module(data)
    data = xp.array(data, dtype=dtype, copy=True) if xp is not np else np.array(
        data, dtype=dtype, copy=True)
    return Tensor(_on(self, data, device), requires_grad=requires_grad)


def _storage(self):
    """The tensor's elements as a flat 1-D tensor on the same memory when it is contiguous (a
    copy otherwise): what PyTorch code reads from ``t.storage()`` (``.tolist()``, ``len``)."""
    return Tensor._make(self._data.reshape(-1))


def _cuda(self, device=None, non_blocking=False):
    return _to(self, "cuda" if device is None else device)


def _pow(self, exponent):
    if isinstance(exponent, Tensor) and exponent._data.dtype.kind not in "fc" \
            and self._data.dtype.kind in "fc":
        # a float tensor to an integer tensor's powers keeps its dtype, as PyTorch
        exponent = Tensor._make(exponent._data.astype(self._data.dtype))
    return Pow.apply(self, _lift(exponent, self))


def _rpow(self, base):
    return Pow.apply(_lift(base, self), self)


def _clip(self, min=None, max=None):
    return Clip.apply(self, low=min, high=max)


def _argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    return Tensor._make(self._data.argmax(axis=axis, keepdims=keepdims))


def _argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
    axis, keepdims = _axis_args(axis, keepdims, dim, keepdim)
    return Tensor._make(self._data.argmin(axis=axis, keepdims=keepdims))


def _expand(self, *shape):
    return BroadcastTo.apply(self, shape=_shape_args(shape))


def _clone(self):
    return Mul.apply(self, _lift(1, self)) if self._requires_grad else Tensor._make(
        self._data.copy())


_METHODS = {
    "__add__": _binary(Add), "__radd__": _rbinary(Add),
    "__sub__": _binary(Sub), "__rsub__": _rbinary(Sub),
    "__mul__": _binary(Mul), "__rmul__": _rbinary(Mul),
    "__truediv__": _truediv, "__rtruediv__": _rbinary(Div),
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
    "double": lambda a: _astype(a, np.float64), "half": lambda a: _astype(a, np.float16),
    "long": lambda a: _astype(a, np.int64), "int": lambda a: _astype(a, np.int32),
    "bool": lambda a: _astype(a, np.bool_), "to": _to, "type": _type,
    "cpu": lambda a: _to(a, "cpu"), "cuda": _cuda, "storage": _storage,
    "untyped_storage": _storage, "device": property(_device),
    "is_cuda": property(lambda a: _device(a).type == "cuda"),
    "new_zeros": _new_factory(lambda xp, shape, dtype: xp.zeros(shape, dtype=dtype)),
    "new_ones": _new_factory(lambda xp, shape, dtype: xp.ones(shape, dtype=dtype)),
    "new_empty": _new_factory(lambda xp, shape, dtype: xp.empty(shape, dtype=dtype)),
    "new_full": _new_full, "new_tensor": _new_tensor,
    "clip": _clip, "clamp": _clip, "matmul": lambda a, b: _matmul(a, _lift(b, a)),
    "maximum": lambda a, b: Maximum.apply(a, _lift(b, a)),
    "minimum": lambda a, b: Minimum.apply(a, _lift(b, a)),
    "clone": _clone,
}
_METHODS.update(inplace.METHODS)
# ---- PyTorch's tensor API (ops/tensor_api.py): named arithmetic, math, reductions with dim,
# sorting, gather/scatter, shape helpers, products. It replaces the NumPy-flavoured sum, mean,
# max, min, var, std, argmax, argmin, view, squeeze, expand, clamp above with wrappers that
# take both spellings (``max(dim)`` gives PyTorch's (values, indices); ``max(axis=)`` a tensor).
_METHODS.update(tensor_api.METHODS)

# NumPy ufuncs called on tensors (``np.exp(t)``, ``ndarray + t``, ``np.isfinite(t.grad)``): the
# ones that are ops here stay in the graph and give a Tensor; any other runs on the arrays and
# gives NumPy's result, so NumPy functions work on tensors as on arrays.
_UFUNC_OPS = {np.add: "__add__", np.subtract: "__sub__", np.multiply: "__mul__",
              np.true_divide: "__truediv__", np.power: "__pow__", np.matmul: "__matmul__",
              np.maximum: "maximum", np.minimum: "minimum", np.negative: "__neg__",
              np.exp: "exp", np.log: "log", np.sqrt: "sqrt", np.absolute: "abs",
              np.tanh: "tanh", np.less: "__lt__", np.less_equal: "__le__",
              np.greater: "__gt__", np.greater_equal: "__ge__", np.equal: "__eq__",
              np.not_equal: "__ne__", np.sin: "sin", np.cos: "cos", np.tan: "tan",
              np.arcsin: "asin", np.arccos: "acos", np.arctan: "atan", np.sinh: "sinh",
              np.cosh: "cosh", np.log1p: "log1p", np.expm1: "expm1", np.log2: "log2",
              np.log10: "log10", np.exp2: "exp2", np.square: "square", np.arctan2: "atan2", np.remainder: "__mod__",
              np.floor_divide: "__floordiv__"}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    name = _UFUNC_OPS.get(ufunc) if method == "__call__" and not kwargs else None
    if name is not None:
        if len(inputs) == 1:
            return getattr(inputs[0], name)()
        a, b = inputs
        if not isinstance(a, Tensor):
            a = Tensor._make(get_array_module(b._data).asarray(_lift(a, b)))
        return getattr(a, name)(b)
    arrays = [i._data if isinstance(i, Tensor) else i for i in inputs]
    if "out" in kwargs:
        kwargs["out"] = tuple(o._data if isinstance(o, Tensor) else o for o in kwargs["out"])
    return getattr(ufunc, method)(*arrays, **kwargs)


_METHODS["__array_ufunc__"] = _array_ufunc


def _unwrap(x):
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _array_function(self, func, types, args, kwargs):
    """NumPy functions given tensors (``np.all(t == 0)``, ``np.concatenate([t, u])``,
    ``np.mean(t, axis=0)``) run on their arrays and give NumPy's result, as for arrays."""
    return func(*_unwrap(args), **_unwrap(kwargs))


_METHODS["__array_function__"] = _array_function


def install_tensor_methods():
    from .. import backend
    from . import tensor_namespace
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    backend.NAMESPACES[Tensor] = tensor_namespace


install_tensor_methods()
