"""In-place operations (``add_``, ``+=``, ``x[i] = v``, ``zero_``...) with PyTorch's rules.

One function, ``inplace``, applies every rule, so each op below is one line:

- **A leaf that requires grad** (a parameter) may be changed in place only where no graph is
  recorded (``with ournn.no_grad():``, as an optimizer step is) or through ``.data``;
  otherwise the error says so. This is what makes the tutorial's manual update
  ``with torch.no_grad(): w -= lr * w.grad`` change ``w`` itself.
- **A tensor in the graph** (it, or the operand, requires grad, and grad mode is on): the op is
  recorded. The result is computed out of place by the ordinary ops from a snapshot of the
  tensor's current state, and the tensor then *becomes* that result (its array, its node, a
  fresh version counter). The old array is left untouched, so nodes that saved it still
  compute their gradients from the right numbers, and ``y = x * 2; y[0] = 5`` gives PyTorch's
  ``x.grad``. In-place ops on a *view* of a tensor in the graph are refused (PyTorch rewires
  the base; here the message says to index the base instead).
- **Otherwise** (no grad wanted): the op writes into the tensor's memory, so every alias
  (``.data``, ``.detach()``, views, ``.numpy()``) sees it, and bumps the shared version
  counter: if an op recorded earlier saved that memory, its backward will refuse to run
  instead of giving a wrong gradient.
"""
import numpy as np

from ..autograd.function import Function, is_grad_enabled
from ..backend import get_array_module
from ..errors import DTypeError, GraphError, ShapeError
from ..tensor import Tensor, bump_version
from ._util import unbroadcast


class SetItem(Function):
    """``out = x.copy(); out[index] = value``: the gradient reaches ``x`` everywhere but the
    overwritten positions, and ``value`` from exactly those."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, value, index=None):
        ctx.index = index
        ctx.value_shape = np.shape(value)
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = gv = None
        if ctx.needs_input_grad[0]:
            if isinstance(grad, Tensor):     # gradients of gradients: recorded
                gx = SetItem.apply(grad, np.zeros((), grad.dtype), index=ctx.index)
            else:
                gx = grad.copy()
                gx[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gv = unbroadcast(grad[ctx.index], ctx.value_shape)
        return gx, gv


def _snapshot(t):
    """A tensor standing for ``t`` as it is now: same array, node and version counter."""
    s = Tensor._make(t._data)
    s._ctx, s._out_index, s._requires_grad = t._ctx, t._out_index, t._requires_grad
    s._version, s._base = t._version, t._base
    return s


def _check_leaf(t, name):
    if t._requires_grad and t._ctx is None and is_grad_enabled():
        raise GraphError(
            f"{name}: a leaf tensor that requires grad (a parameter) cannot be changed in place "
            "while gradients are recorded. Put the update under `with ournn.no_grad():` (as an "
            "optimizer step is), or change `.data`.")


def inplace(t, name, compute, write=None, operands=()):
    """Change ``t`` in place to ``compute(t)`` and return ``t``.

    ``compute(s)`` builds the new value from tensor ``s`` with ordinary (recorded) ops;
    ``operands`` are its other inputs. ``write(array)``, optional, writes the new value into
    ``array`` directly (a ufunc with ``out=``): the fast path when nothing is recorded."""
    _check_leaf(t, name)
    if is_grad_enabled() and (t._requires_grad or any(
            isinstance(o, Tensor) and o._requires_grad for o in operands)):
        result = compute(_snapshot(t))
        if result._requires_grad:
            return _become(t, result, name)
        return _write(t, result._data, name)
    if write is None:
        return _write(t, compute(t.detach())._data, name)
    try:
        write(t._data)
    except (TypeError, ValueError) as e:    # numpy's UFuncTypeError is a TypeError
        raise _write_error(t, name, e) from None
    bump_version(t)
    return t


def _write_error(t, name, e):
    text = str(e)
    if "cast" in text:
        return DTypeError(f"{name}: the result cannot be stored in a tensor of dtype "
                          f"{t._data.dtype} ({text})")
    return ShapeError(f"{name}: the result does not fit a tensor of shape "
                      f"{tuple(t._data.shape)} in place ({text})")


def _write(t, array, name):
    xp = get_array_module(t._data)
    if array.shape != t._data.shape and xp.broadcast_shapes(array.shape, t._data.shape) \
            != t._data.shape:
        raise ShapeError(f"{name}: a result of shape {tuple(array.shape)} does not fit a "
                         f"tensor of shape {tuple(t._data.shape)} in place")
    try:
        xp.copyto(t._data, array, casting="same_kind")
    except TypeError as e:
        raise _write_error(t, name, e) from None
    bump_version(t)
    return t


def _become(t, result, name):
    """``t`` takes over ``result``'s array and place in the graph (the recorded path)."""
    if t._base is not None:
        raise GraphError(
            f"{name}: in-place change of a view of a tensor in the graph (for example "
            "y[0].add_(1) or y.view(-1).zero_()); index the tensor itself instead "
            "(y[0] += 1, y[0] = 0), or .clone() the view first.")
    if result._data.shape != t._data.shape:
        if np.broadcast_shapes(result._data.shape, t._data.shape) != t._data.shape:
            raise ShapeError(f"{name}: a result of shape {tuple(result._data.shape)} does not "
                             f"fit a tensor of shape {tuple(t._data.shape)} in place")
        result = result.expand(t._data.shape) * 1
    if result._data.dtype != t._data.dtype:
        if not np.can_cast(result._data.dtype, t._data.dtype, "same_kind"):
            raise DTypeError(f"{name}: a result of dtype {result._data.dtype} cannot be stored in "
                             f"a tensor of dtype {t._data.dtype}")
        result = result.to(t._data.dtype)
    t._data = result._data
    t._ctx, t._out_index, t._requires_grad = result._ctx, result._out_index, True
    t._version = result._version
    return t


def _arr(v):
    return v._data if isinstance(v, Tensor) else v


# ---------------------------------------------------------------- the ops
def setitem(t, index, value):
    """``t[index] = value``."""
    _check_leaf(t, "index assignment")
    value_needs = isinstance(value, Tensor) and value._requires_grad
    if is_grad_enabled() and (t._requires_grad or value_needs):
        if not isinstance(value, Tensor):
            value = get_array_module(t._data).asarray(value, dtype=t._data.dtype)
        elif value._data.dtype != t._data.dtype:
            value = value.to(t._data.dtype)
        return _become(t, SetItem.apply(_snapshot(t), value, index=index), "index assignment")
    t._data[index] = _arr(value)
    bump_version(t)
    return t


def add_(t, other, *, alpha=1):
    xp = get_array_module(t._data)
    if alpha != 1:
        other = other * alpha if isinstance(other, Tensor) else xp.multiply(other, alpha)
    return inplace(t, "add_", lambda s: s + other,
                   lambda a: xp.add(a, _arr(other), out=a, casting="same_kind"), (other,))


def sub_(t, other, *, alpha=1):
    xp = get_array_module(t._data)
    if alpha != 1:
        other = other * alpha if isinstance(other, Tensor) else xp.multiply(other, alpha)
    return inplace(t, "sub_", lambda s: s - other,
                   lambda a: xp.subtract(a, _arr(other), out=a, casting="same_kind"), (other,))


def mul_(t, other):
    xp = get_array_module(t._data)
    return inplace(t, "mul_", lambda s: s * other,
                   lambda a: xp.multiply(a, _arr(other), out=a, casting="same_kind"), (other,))


def div_(t, other, *, rounding_mode=None):
    if rounding_mode is not None:
        return inplace(t, "div_", lambda s: s.div(other, rounding_mode=rounding_mode),
                       operands=(other,))
    xp = get_array_module(t._data)
    return inplace(t, "div_", lambda s: s / other,
                   lambda a: xp.divide(a, _arr(other), out=a, casting="same_kind"), (other,))


def pow_(t, exponent):
    xp = get_array_module(t._data)
    return inplace(t, "pow_", lambda s: s ** exponent,
                   lambda a: xp.power(a, _arr(exponent), out=a, casting="same_kind"), (exponent,))


def neg_(t):
    return inplace(t, "neg_", lambda s: -s, lambda a: get_array_module(a).negative(a, out=a))


def clamp_(t, min=None, max=None):  # noqa: A002 - PyTorch's names
    xp = get_array_module(t._data)
    return inplace(t, "clamp_", lambda s: s.clamp(min, max),
                   lambda a: xp.clip(a, _arr(min), _arr(max), out=a), (min, max))


def addcmul_(t, tensor1, tensor2, *, value=1):
    return inplace(t, "addcmul_", lambda s: s + value * (tensor1 * tensor2),
                   operands=(tensor1, tensor2))


def addcdiv_(t, tensor1, tensor2, *, value=1):
    return inplace(t, "addcdiv_", lambda s: s + value * (tensor1 / tensor2),
                   operands=(tensor1, tensor2))


def lerp_(t, end, weight):
    return inplace(t, "lerp_", lambda s: s + weight * (end - s), operands=(end, weight))


def unary_(name, method):
    """An in-place version of a unary method (``relu_``, ``exp_``, ``sigmoid_``...)."""
    def op(t):
        return inplace(t, name, lambda s: getattr(s, method)())
    op.__name__ = name
    op.__doc__ = f"``{method}`` in place."
    return op


def zero_(t):
    return setitem(t, Ellipsis, 0)


def fill_(t, value):
    return setitem(t, Ellipsis, value)


def copy_(t, src, non_blocking=False):
    if isinstance(src, Tensor):
        src_shape = src._data.shape
    else:
        src = np.asarray(src)
        src_shape = src.shape
    if src_shape != t._data.shape and np.broadcast_shapes(src_shape, t._data.shape) \
            != t._data.shape:
        raise ShapeError(f"copy_: a source of shape {tuple(src_shape)} does not fit a tensor of "
                         f"shape {tuple(t._data.shape)}")
    return setitem(t, Ellipsis, src)


def _random_fill(t, draw, generator=None):
    """Overwrite ``t`` with ``draw(numpy_generator, shape)``: from ``generator`` (an
    ``ournn.Generator`` or a NumPy one) if given, else ournn's generator."""
    from .. import random as _random
    xp = get_array_module(t._data)
    rng = _random.get_generator(xp) if generator is None else getattr(
        generator, "numpy_generator", generator)
    values = draw(rng, t._data.shape)
    if type(values) is np.ndarray and xp is not np:     # an ournn.Generator draws on the host
        from ..device import device_of, to_device
        values = to_device(values, device_of(t._data))
    return setitem(t, Ellipsis, xp.asarray(values, dtype=t._data.dtype))


def _normal(g, mean, std, shape):
    """Normal numbers from generator ``g``; a device's (CuPy's) has no ``normal``."""
    if isinstance(g, np.random.Generator):
        return g.normal(mean, std, shape)
    return mean + std * g.standard_normal(shape)


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    return _random_fill(t, lambda g, shape: _normal(g, mean, std, shape), generator)


def uniform_(t, a=0.0, b=1.0, *, generator=None):
    return _random_fill(t, lambda g, shape: g.uniform(a, b, shape), generator)


def bernoulli_(t, p=0.5, *, generator=None):
    return _random_fill(t, lambda g, shape: g.random(shape) < _arr(p), generator)


def exponential_(t, lambd=1.0, *, generator=None):
    return _random_fill(t, lambda g, shape: g.exponential(1.0 / lambd, shape), generator)


def random_(t, low=0, high=None, *, generator=None):
    if high is None:
        low, high = 0, low if low else 2 ** 24
    return _random_fill(t, lambda g, shape: g.integers(low, high, shape), generator)


def masked_fill_(t, mask, value):
    mask = _arr(mask)
    mask = np.broadcast_to(mask, t._data.shape) if mask.shape != t._data.shape else mask
    return setitem(t, mask.astype(bool, copy=False), value)


METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "neg_": neg_,
    "clamp_": clamp_, "clip_": clamp_, "addcmul_": addcmul_, "addcdiv_": addcdiv_,
    "lerp_": lerp_, "zero_": zero_, "fill_": fill_, "copy_": copy_, "normal_": normal_,
    "uniform_": uniform_, "bernoulli_": bernoulli_, "exponential_": exponential_,
    "random_": random_, "masked_fill_": masked_fill_,
    "subtract_": sub_, "multiply_": mul_, "divide_": div_,
    "clamp_min_": lambda t, m: clamp_(t, m, None), "clamp_max_": lambda t, m: clamp_(t, None, m),
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
    "__ipow__": pow_, "__setitem__": setitem,
}
for _name, _method in [("relu_", "relu"), ("sigmoid_", "sigmoid"), ("tanh_", "tanh"),
                       ("exp_", "exp"), ("log_", "log"), ("sqrt_", "sqrt"), ("abs_", "abs")]:
    METHODS[_name] = unary_(_name, _method)
