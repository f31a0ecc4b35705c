"""NumPy's functions on tensors, as differentiable ops: the ``xp`` of a backward run on tensors.

An op's ``backward`` is written once, against ``xp = get_array_module(grad)``. On the fast path
``grad`` is an array and ``xp`` is NumPy. For gradients of gradients (``create_graph=True``)
the engine passes tensors, ``get_array_module`` returns this module, and the same code builds
a graph: ``xp.where(mask, grad, 0)`` here is ``ournn.where``, recorded and differentiable.

Only what has a differentiable meaning is here, plus the functions that only read shapes or
give integer or boolean results (they run on the arrays). Anything else raises, naming the
function, so an op whose backward relies on it fails clearly instead of giving a wrong
second derivative.
"""
import numpy as _np

from ..tensor import Tensor

_PASS = {  # read shapes or give integers/booleans: computed on the arrays, outside the graph
    "shape", "ndim", "size", "arange", "result_type", "errstate", "broadcast_shapes",
    "isfinite", "isnan", "isinf", "argsort", "argmax", "argmin", "nonzero", "unravel_index",
    "ravel_multi_index", "dtype", "finfo", "iinfo", "float16", "float32", "float64", "int8",
    "int16", "int32", "int64", "uint8", "bool_", "newaxis", "pi", "e", "inf", "nan",
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_not", "ndarray", "intp", "sort", "argwhere", "flatnonzero",
    "prod_shape",
}


def _a(x):
    return x._data if isinstance(x, Tensor) else x


def _t(x, like=None):
    if isinstance(x, Tensor):
        return x
    return Tensor._make(_np.asarray(x))


def __getattr__(name):
    if name in _PASS:
        value = getattr(_np, name)
        if callable(value) and not isinstance(value, type):
            def run(*args, **kwargs):
                return value(*[_a(a) for a in args], **{k: _a(v) for k, v in kwargs.items()})
            return run
        return value
    raise NotImplementedError(
        f"xp.{name} has no differentiable version for tensors, so this op's backward cannot "
        "be run with create_graph=True")


# ---------------------------------------------------------------- constants
def zeros(shape, dtype=_np.float32):
    return Tensor._make(_np.zeros(shape, dtype))


def ones(shape, dtype=_np.float32):
    return Tensor._make(_np.ones(shape, dtype))


def empty(shape, dtype=_np.float32):
    return zeros(shape, dtype)


def full(shape, value, dtype=None):
    return Tensor._make(_np.full(shape, _a(value), dtype))


def zeros_like(x, dtype=None):
    return Tensor._make(_np.zeros(_a(x).shape, dtype or _a(x).dtype))


def ones_like(x, dtype=None):
    return Tensor._make(_np.ones(_a(x).shape, dtype or _a(x).dtype))


def empty_like(x, dtype=None):
    return zeros_like(x, dtype)


def asarray(x, dtype=None):
    x = _t(x)
    return x if dtype is None or _np.dtype(dtype) == x.dtype else x.to(dtype)


def ascontiguousarray(x, dtype=None):
    return asarray(x, dtype)


# ---------------------------------------------------------------- elementwise
def _binary(name):
    def op(a, b, out=None, **kwargs):
        if out is not None or kwargs:
            raise NotImplementedError(f"xp.{name} with out= has no tensor version")
        if not isinstance(a, Tensor):
            return getattr(_t(_np.asarray(a, dtype=_a(b).dtype)), _METHOD[name])(b)
        return getattr(a, _METHOD[name])(b)
    op.__name__ = name
    return op


_METHOD = {"add": "__add__", "subtract": "__sub__", "multiply": "__mul__",
           "divide": "__truediv__", "true_divide": "__truediv__", "power": "__pow__",
           "matmul": "__matmul__", "maximum": "maximum", "minimum": "minimum"}
add, subtract, multiply, divide, true_divide, power, matmul, maximum, minimum = (
    _binary(n) for n in ("add", "subtract", "multiply", "divide", "true_divide", "power",
                         "matmul", "maximum", "minimum"))


def _unary(method):
    def op(x, out=None):
        if out is not None:
            raise NotImplementedError(f"xp.{method} with out= has no tensor version")
        return getattr(_t(x), method)()
    op.__name__ = method
    return op


exp, log, sqrt, tanh, log1p, expm1, sign, floor, trunc, abs, absolute, negative, sin, cos = (
    _unary(m) for m in ("exp", "log", "sqrt", "tanh", "log1p", "expm1", "sign", "floor",
                        "trunc", "abs", "abs", "__neg__", "sin", "cos"))
square = _unary("square")
reciprocal = _unary("reciprocal")
sinh, cosh = _unary("sinh"), _unary("cosh")


def where(cond, a, b):
    from ..tensor import _lift
    from .elementwise import Where
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if like is None:
        return Tensor._make(_np.where(_a(cond), a, b))
    cond = _a(cond)
    cond = cond if hasattr(cond, "dtype") else _np.asarray(cond)    # a device's: as it is
    return Where.apply(cond.astype(bool, copy=False), _lift(a, like), _lift(b, like))


def clip(x, low=None, high=None, out=None):
    if out is not None:
        raise NotImplementedError("xp.clip with out= has no tensor version")
    return _t(x).clamp(_a(low) if not isinstance(low, Tensor) else low,
                       _a(high) if not isinstance(high, Tensor) else high)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return _t(x).nan_to_num(nan=nan, posinf=posinf, neginf=neginf)


# ---------------------------------------------------------------- reductions and scans
def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A001 - NumPy's name
    return _t(x).sum(axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    return _t(x).mean(axis=axis, keepdims=keepdims)


def prod(x, axis=None, keepdims=False):
    return _t(x).prod(axis, keepdims) if axis is not None else _t(x).prod()


def cumsum(x, axis=None):
    x = _t(x)
    return x.reshape(-1).cumsum(0) if axis is None else x.cumsum(axis)


def cumprod(x, axis=None):
    x = _t(x)
    return x.reshape(-1).cumprod(0) if axis is None else x.cumprod(axis)


def einsum(equation, *operands, **kwargs):
    from .tensor_api import einsum as _einsum
    if kwargs.get("out") is not None:
        raise NotImplementedError("xp.einsum with out= has no tensor version")
    return _einsum(equation, *[_t(o) for o in operands])


def dot(a, b):
    return _t(a) @ b


# ---------------------------------------------------------------- shapes
def reshape(x, shape):
    return _t(x).reshape(shape)


def transpose(x, axes=None):
    x = _t(x)
    return x.permute(*axes) if axes is not None else x.permute(*reversed(range(x.ndim)))


def swapaxes(x, a, b):
    return _t(x).transpose(a, b)


def moveaxis(x, source, destination):
    return _t(x).movedim(source, destination)


def expand_dims(x, axis):
    x = _t(x)
    for a in sorted(axis) if isinstance(axis, (tuple, list)) else (axis,):
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None):
    return _t(x).squeeze() if axis is None else _t(x).squeeze(axis)


def broadcast_to(x, shape):
    return _t(x).expand(*shape)


def concatenate(arrays, axis=0):
    from .shape import Concatenate
    return Concatenate.apply(*[_t(a) for a in arrays], axis=axis)


def stack(arrays, axis=0):
    from .shape import Stack
    return Stack.apply(*[_t(a) for a in arrays], axis=axis)


def split(x, indices_or_sections, axis=0):
    return list(_t(x).tensor_split(indices_or_sections, axis))


def flip(x, axis=None):
    x = _t(x)
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, (tuple, list)) else (axis,)
    return x.flip(*axes)


def repeat(x, repeats, axis=None):
    return _t(x).repeat_interleave(repeats, dim=axis)


def tile(x, reps):
    return _t(x).tile(*(reps if isinstance(reps, (tuple, list)) else (reps,)))


def pad(x, pad_width, mode="constant", constant_values=0):
    from .shape import Pad
    if mode != "constant":
        raise NotImplementedError(f"xp.pad(mode={mode!r}) has no tensor version")
    x = _t(x)
    width = _np.broadcast_to(_np.asarray(pad_width, dtype=int), (x.ndim, 2))
    return Pad.apply(x, pad_width=tuple(map(tuple, width.tolist())), value=constant_values)


def triu(x, k=0):
    return _t(x).triu(k)


def tril(x, k=0):
    return _t(x).tril(k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    return _t(x).diagonal(offset, axis1, axis2)


def take_along_axis(x, indices, axis):
    return _t(x).gather(axis, Tensor._make(_np.asarray(_a(indices))))
