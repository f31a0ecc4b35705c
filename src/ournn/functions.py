"""Array functions at the top level (``ournn.exp(t)``, ``ournn.gather(t, 1, idx)``...).

Most are the tensor method of the same name called on ``input`` (one implementation, in
``ournn.ops.tensor_api``); where PyTorch's function takes ``out=``, so does ours: the result
is written into the given tensor (resized if its shape differs), which is returned. As in
PyTorch, ``out=`` refuses a result that requires grad.
"""
import numpy as np

from .errors import ShapeError
from .ops import as_tensor
from .ops import elementwise as _el
from .ops import shape as _shape
from .ops import tensor_api as _api
from .autograd.function import is_grad_enabled
from .tensor import Tensor, _lift, bump_version


def _write_out(result, out):
    """Write ``result`` into ``out`` (a tensor, or a tuple of them for (values, indices))."""
    if out is None:
        return result
    if isinstance(result, tuple):
        outs = tuple(_write_out(r, o) for r, o in zip(result, out))
        return type(result)(*outs) if hasattr(result, "_fields") else outs
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a tensor, got {type(out).__name__}")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad; call it "
                           "under `with ournn.no_grad():` or drop out=")
    data = result._data
    if out._data.shape != data.shape:
        out._data = data.astype(out._data.dtype, copy=True)     # resized, as PyTorch
    else:
        try:
            np.copyto(out._data, data, casting="same_kind")
        except TypeError as e:
            raise RuntimeError(f"out=: a result of dtype {data.dtype} cannot be written into a "
                               f"tensor of dtype {out._data.dtype}") from e
    bump_version(out)
    return out


def softmax(input, dim=-1, dtype=None):
    return as_tensor(input).softmax(dim, dtype)


def log_softmax(input, dim=-1, dtype=None):
    return as_tensor(input).log_softmax(dim, dtype)


def matmul(input, other, *, out=None):
    return _write_out(as_tensor(input) @ other, out)


def sum(input, *args, out=None, **kw):  # noqa: A001
    return _write_out(as_tensor(input).sum(*args, **kw), out)


def mean(input, *args, out=None, **kw):
    return _write_out(as_tensor(input).mean(*args, **kw), out)


def max(input, *args, out=None, **kw):  # noqa: A001
    """``max(t)``, ``max(t, dim, keepdim)`` (values, indices) or ``max(t, other)``."""
    return _write_out(as_tensor(input).max(*args, **kw), out)


def min(input, *args, out=None, **kw):  # noqa: A001
    return _write_out(as_tensor(input).min(*args, **kw), out)


def var(input, *args, out=None, **kw):
    return _write_out(as_tensor(input).var(*args, **kw), out)


def reshape(input, shape):
    return as_tensor(input).reshape(shape)


def transpose(input, *axes):
    return as_tensor(input).transpose(*axes)


def permute(x, dims):
    return as_tensor(x).permute(dims)


def flatten(x, start_dim=0, end_dim=-1):
    return as_tensor(x).flatten(start_dim, end_dim)


def _check_same_except(tensors, axis, name, stacking):
    shapes = [tuple(t.shape) for t in tensors]
    if not shapes:
        raise ValueError(f"{name}: expected a non-empty sequence of tensors")
    ref = shapes[0]
    for s in shapes[1:]:
        same = s == ref if stacking else (
            len(s) == len(ref) and all(a == b for i, (a, b) in enumerate(zip(s, ref))
                                       if i != axis % len(ref)))
        if not same:
            raise ShapeError(f"{name}: shapes {shapes} do not fit along axis {axis}")


def concatenate(tensors, axis=0, *, dim=None, out=None):
    """Join tensors along an existing axis (``torch.cat``)."""
    axis = axis if dim is None else dim
    tensors = [as_tensor(t) for t in tensors]
    _check_same_except(tensors, axis, "concatenate", stacking=False)
    return _write_out(_shape.Concatenate.apply(*tensors, axis=axis), out)


def cat(tensors, dim=0, *, axis=None, out=None):
    """Join tensors along an existing dimension; empty 1-D tensors are skipped, as PyTorch's
    legacy rule allows."""
    tensors = [as_tensor(t) for t in tensors]
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    return concatenate(tensors, dim if axis is None else axis, out=out)


concat = cat


def stack(tensors, axis=0, *, dim=None, out=None):
    """Join same-shaped tensors along a new axis."""
    axis = axis if dim is None else dim
    tensors = [as_tensor(t) for t in tensors]
    _check_same_except(tensors, axis, "stack", stacking=True)
    return _write_out(_shape.Stack.apply(*tensors, axis=axis), out)


def _atleast(t, n):
    while t.ndim < n:
        t = t.unsqueeze(0) if n < 3 or t.ndim < 2 else t.unsqueeze(-1)
    return t


def hstack(tensors, *, out=None):
    tensors = [_atleast(as_tensor(t), 1) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    return cat([_atleast(as_tensor(t), 2) for t in tensors], 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    ts = []
    for t in map(as_tensor, tensors):
        t = t.reshape(1, -1, 1) if t.ndim <= 1 else t.unsqueeze(-1) if t.ndim == 2 else t
        ts.append(t)
    return cat(ts, 2, out=out)


def column_stack(tensors, *, out=None):
    return cat([as_tensor(t).reshape(-1, 1) if as_tensor(t).ndim <= 1 else as_tensor(t)
                for t in tensors], 1, out=out)


def split(tensor, split_size_or_sections, dim=0, **kw):
    """PyTorch's ``split``: an int is the SIZE of each piece (the last may be smaller), a list
    the sizes of the pieces. Returns a tuple of tensors. NumPy's ``np.split``/``array_split``
    meaning (a number of pieces, or the indices where to cut) is ``ournn.tensor_split``."""
    if "axis" in kw:
        raise TypeError("split(tensor, split_size_or_sections, dim=0) takes PyTorch's "
                        "arguments: an int is the size of each piece. For NumPy's meaning (a "
                        "number of pieces or cut points) use ournn.tensor_split(x, n, dim=...)")
    if kw:
        raise TypeError(f"split() got unexpected keyword arguments {sorted(kw)}")
    return as_tensor(tensor).split(split_size_or_sections, dim)


def tensor_split(input, indices_or_sections, dim=0):
    """NumPy's ``array_split`` meaning, as ``torch.tensor_split``: an int is the number of
    pieces (sizes differing by at most one), a list the indices where to cut."""
    return as_tensor(input).tensor_split(indices_or_sections, dim)


def pad(x, pad_width, value=0.0):
    """Constant padding with ``pad_width`` as ``np.pad`` (an int, or a pair per axis)."""
    x = as_tensor(x)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    return _shape.Pad.apply(x, pad_width=tuple(map(tuple, width.tolist())), value=value)


def where(condition, input=None, other=None, *, out=None):
    """``where(cond, x, y)``: ``x`` where ``cond`` else ``y``, differentiable in x and y;
    ``where(cond)`` is ``nonzero(cond, as_tuple=True)``."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if input is None and other is None:
        return as_tensor(cond).nonzero(as_tuple=True)
    x, y = input, other
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else as_tensor(x)
    return _write_out(_el.Where.apply(cond.astype(bool, copy=False), _lift(x, like),
                                      _lift(y, like)), out)


def clamp(input, min=None, max=None, *, out=None):  # noqa: A002
    return _write_out(as_tensor(input).clamp(min, max), out)


clip = clamp


def maximum(input, other, *, out=None):
    a = as_tensor(input)
    return _write_out(_el.Maximum.apply(a, _lift(other, a)), out)


def minimum(input, other, *, out=None):
    a = as_tensor(input)
    return _write_out(_el.Minimum.apply(a, _lift(other, a)), out)




# ---------------------------------------------------------------- the method-backed functions
def _from_method(name, with_out):
    if with_out:
        def fn(input, *args, out=None, **kwargs):
            return _write_out(getattr(as_tensor(input), name)(*args, **kwargs), out)
    else:
        def fn(input, *args, **kwargs):
            return getattr(as_tensor(input), name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)`` (see ``ournn.Tensor.{name}``)."
    return fn


# functions that take ``out=`` in PyTorch
_WITH_OUT = """exp log sqrt abs absolute tanh sigmoid neg negative add sub subtract mul multiply
div divide true_divide floor_divide remainder fmod pow atan2 arctan2 lerp addcmul addcdiv square
sign floor ceil trunc fix round nan_to_num clamp_min clamp_max sin cos tan asin acos atan
arcsin arccos arctan sinh cosh asinh acosh atanh arcsinh arccosh arctanh log1p expm1 log2
log10 exp2 rsqrt reciprocal frac prod std logsumexp norm cumsum cumprod all any median
kthvalue sort topk gather scatter scatter_add index_select masked_select nonzero argwhere
amax amin argmax argmin eq ne lt le gt ge greater less greater_equal less_equal not_equal
logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not
isclose mm bmm mv dot outer ger addmm baddbmm addmv diag triu tril signbit
""".split()
# functions without it
_WITHOUT_OUT = """relu isnan isinf isfinite isposinf isneginf count_nonzero
argsort masked_fill unique bincount allclose equal repeat_interleave chunk unbind narrow
select squeeze unsqueeze movedim moveaxis swapaxes swapdims t flip fliplr flipud roll diagonal
tile is_floating_point is_complex is_signed numel
""".split()
for _name in _WITH_OUT:
    globals()[_name] = _from_method(_name, True)
for _name in _WITHOUT_OUT:
    globals()[_name] = _from_method(_name, False)
absolute = globals()["abs"]


def var_mean(input, *args, **kwargs):
    """``(var, mean)`` over the same dimensions (``var``'s arguments)."""
    return _api.var_mean(as_tensor(input), *args, **kwargs)


def std_mean(input, *args, **kwargs):
    return _api.std_mean(as_tensor(input), *args, **kwargs)


def einsum(equation, *operands):
    """``einsum("ij,jk->ik", a, b)``, operands also as one list; differentiable."""
    return _api.einsum(equation, *operands)


def broadcast_to(input, size):
    return as_tensor(input).expand(*size)


def broadcast_shapes(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def broadcast_tensors(*tensors):
    tensors = [as_tensor(t) for t in tensors]
    shape = np.broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(*shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-D tensors (``indexing='ij'`` by default, or ``'xy'``)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    tensors = [as_tensor(t).reshape(-1) for t in tensors]
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    shape = tuple(t.shape[0] for t in tensors)
    grids = []
    for i, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[i] = -1
        grids.append(t.reshape(view).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def trace(input):
    return as_tensor(input).diagonal().sum()


def is_tensor(obj):
    return isinstance(obj, Tensor)


# ---------------------------------------------------------------- linalg
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """``ournn.linalg.vector_norm``: the ``ord``-norm over ``dim`` (all elements by default)."""
    return _write_out(as_tensor(x).norm(ord, dim, keepdim, dtype=dtype), out)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """``ournn.linalg.matrix_norm``: ``'fro'``, or ``1``, ``-1``, ``inf``, ``-inf`` (the
    largest or smallest column or row sum of absolute values)."""
    A = as_tensor(A)
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = dim
    if ord == "fro":
        res = A.norm(2, dim=tuple(dim), keepdim=keepdim)
    elif ord in (1, -1, float("inf"), -float("inf")):
        summed, reduce_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(dim=summed, keepdim=True)
        res = sums.amax(reduce_dim, keepdim=True) if ord > 0 else sums.amin(reduce_dim,
                                                                            keepdim=True)
        if not keepdim:
            res = res.squeeze(tuple(sorted({d0 % A.ndim, d1 % A.ndim})))
    else:
        raise NotImplementedError(f"matrix_norm: ord={ord!r} is not supported (singular "
                                  "values are not computed): use 'fro', 1, -1, inf or -inf")
    return _write_out(res, out)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """``ournn.linalg.norm``: a vector norm, or a matrix norm when ``dim`` is a pair or the
    input is 2-D with a matrix ``ord``; ``ord=None`` is the 2-norm of all elements."""
    A = as_tensor(A)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype, out=out)
    if isinstance(dim, (tuple, list)) and len(dim) == 2 or (dim is None and A.ndim == 2):
        return matrix_norm(A, ord, tuple(dim) if dim is not None else (-2, -1), keepdim,
                           dtype=dtype, out=out)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype, out=out)


def set_default_device(device):
    """As ``torch.set_default_device``: the device the factories and ``ournn.tensor`` make
    new tensors on when not given ``device=`` (None: the CPU again)."""
    from .device import DEFAULT, check_device
    DEFAULT[0] = check_device(device)


def get_default_device():
    """The device new tensors are made on (the CPU unless ``set_default_device`` said
    otherwise)."""
    from .device import DEFAULT
    return DEFAULT[0]


__all__ = [_n for _n, _v in list(globals().items()) if not _n.startswith("_") and callable(_v)
           and getattr(_v, "__module__", None) == __name__]

