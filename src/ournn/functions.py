"""Array functions at the top level (``ournn.exp(t)``, ``ournn.concatenate([a, b])``...)."""
import numpy as np

from .errors import ShapeError
from .ops import activation as _act
from .ops import as_tensor
from .ops import elementwise as _el
from .ops import shape as _shape
from .tensor import Tensor, _lift


def exp(x):
    return _el.Exp.apply(as_tensor(x))


def log(x):
    return _el.Log.apply(as_tensor(x))


def sqrt(x):
    return _el.Sqrt.apply(as_tensor(x))


def abs(x):  # noqa: A001 - the NumPy/PyTorch name
    return _el.Abs.apply(as_tensor(x))


def tanh(x):
    return _act.Tanh.apply(as_tensor(x))


def sigmoid(x):
    return _act.Sigmoid.apply(as_tensor(x))


def relu(x):
    return _act.ReLU.apply(as_tensor(x))


def softmax(x, dim=-1):
    return _act.Softmax.apply(as_tensor(x), axis=dim)


def log_softmax(x, dim=-1):
    return _act.LogSoftmax.apply(as_tensor(x), axis=dim)


def matmul(a, b):
    return as_tensor(a) @ b


def sum(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).sum(axis, keepdims, **kw)


def mean(x, axis=None, keepdims=False, **kw):
    return as_tensor(x).mean(axis, keepdims, **kw)


def max(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).max(axis, keepdims, **kw)


def min(x, axis=None, keepdims=False, **kw):  # noqa: A001
    return as_tensor(x).min(axis, keepdims, **kw)


def var(x, axis=None, keepdims=False, correction=1, **kw):
    return as_tensor(x).var(axis, keepdims, correction, **kw)


def reshape(x, shape):
    return as_tensor(x).reshape(shape)


def transpose(x, *axes):
    return as_tensor(x).transpose(*axes)


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


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``torch.cat``)."""
    axis = axis if dim is None else dim
    tensors = [as_tensor(t) for t in tensors]
    _check_same_except(tensors, axis, "concatenate", stacking=False)
    return _shape.Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join same-shaped tensors along a new axis."""
    axis = axis if dim is None else dim
    tensors = [as_tensor(t) for t in tensors]
    _check_same_except(tensors, axis, "stack", stacking=True)
    return _shape.Stack.apply(*tensors, axis=axis)


def split(x, indices_or_sections, axis=0, *, dim=None):
    """Split into pieces: ``indices_or_sections`` as ``np.split`` (a count or cut points).

    Returns a tuple of tensors."""
    axis = axis if dim is None else dim
    x = as_tensor(x)
    try:
        out = _shape.Split.apply(x, indices_or_sections=indices_or_sections, axis=axis)
    except ValueError as e:
        raise ShapeError(f"split: cannot split shape {tuple(x.shape)} into "
                         f"{indices_or_sections} along axis {axis}") from e
    return out if isinstance(out, tuple) else (out,)


def pad(x, pad_width, value=0.0):
    """Constant padding with ``pad_width`` as ``np.pad`` (an int, or a pair per axis)."""
    x = as_tensor(x)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    return _shape.Pad.apply(x, pad_width=tuple(map(tuple, width.tolist())), value=value)


def where(condition, x, y):
    """Elementwise ``x`` where ``condition`` else ``y``; differentiable in x and y."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else as_tensor(x)
    return _el.Where.apply(cond.astype(bool, copy=False), _lift(x, like), _lift(y, like))


def clip(x, min=None, max=None):  # noqa: A002
    return as_tensor(x).clip(min, max)


clamp = clip


def maximum(a, b):
    a = as_tensor(a)
    return _el.Maximum.apply(a, _lift(b, a))


def minimum(a, b):
    a = as_tensor(a)
    return _el.Minimum.apply(a, _lift(b, a))


def zeros(*shape, dtype=np.float32, requires_grad=False):
    from .ops import _shape_args
    return Tensor(np.zeros(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    from .ops import _shape_args
    return Tensor(np.ones(_shape_args(shape), dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad=False):
    from . import random as _random
    from .ops import _shape_args
    data = _random.get_generator().standard_normal(_shape_args(shape), dtype=np.float32)
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, requires_grad=False):
    from . import random as _random
    from .ops import _shape_args
    data = _random.get_generator().random(_shape_args(shape), dtype=np.float32)
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)
