"""Tensor factories with PyTorch's signatures: ``zeros ones empty full eye arange linspace
logspace``, the ``*_like`` forms, the random ones (``rand randn randint randperm normal
bernoulli multinomial``), ``tensor``/``as_tensor``/``from_numpy``, and the default dtype.

Every factory takes ``dtype=``, ``device=`` (the CPU; another device is one clear error) and
``requires_grad=``; the random ones take ``generator=`` (an ``ournn.Generator``) and otherwise
draw from ournn's generator, so ``ournn.manual_seed(n)`` makes them repeatable. For a GPU
they draw there, from the device's generator (seeded by ``manual_seed`` too; only the methods
CuPy's generator has: ``random``, ``standard_normal``, ``integers``); with ``generator=`` they
draw on the host and copy once.
"""
import builtins

import numpy as np

from .. import random as _random
from ..device import CPU, DEFAULT, array_module, check_device, device_of, to_device
from ..errors import DTypeError
from ..tensor import Tensor, _as_dtype

_default = [np.dtype(np.float32)]


def get_default_dtype():
    """The dtype of floating-point tensors made from Python numbers (``float32`` unless
    changed by ``set_default_dtype``)."""
    return _default[0]


def set_default_dtype(dtype):
    """Make ``dtype`` (``ournn.float32`` or ``ournn.float64``, or ``float16``) the default
    floating-point dtype of the factories and of ``ournn.tensor`` on Python floats."""
    dt = _as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {dt}")
    _default[0] = dt


def _dtype(dtype, default=None):
    if dtype is None:
        return default if default is not None else _default[0]
    return _as_dtype(dtype)


def _size(size):
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(ournn.Size(...))`` as a shape tuple."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    elif len(size) == 1 and isinstance(size[0], Tensor):
        size = size[0].tolist()
        size = size if isinstance(size, list) else [size]
    try:
        return tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"a size must be integers (as separate arguments or one tuple), got "
                        f"{size!r}") from None


def _new(array, requires_grad, device):
    dev = check_device(device) if device is not None else DEFAULT[0]
    if dev is not CPU:           # made on the host, copied once (random numbers as the CPU's)
        array = to_device(array, dev)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _gen(generator):
    """The NumPy generator to draw from: ``generator``'s or ournn's."""
    if generator is None:
        return _random.get_generator()
    if isinstance(generator, _random.Generator):
        return generator.numpy_generator
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be an ournn.Generator, got {type(generator).__name__}")


def _rng(generator, device):
    """The generator a random factory for ``device`` draws from: the device's own for a GPU
    without ``generator``, else ``_gen(generator)`` (the host's; ``_new`` copies once)."""
    if generator is None:
        dev = check_device(device) if device is not None else DEFAULT[0]
        if dev is not CPU:
            return _random.get_generator(array_module(dev))
    return _gen(generator)


def _on_host(rng):
    return isinstance(rng, np.random.Generator)


# ---------------------------------------------------------------- filled
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _new(np.zeros(_size(size), _dtype(dtype)), requires_grad, device)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _new(np.ones(_size(size), _dtype(dtype)), requires_grad, device)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
    return _new(np.empty(_size(size), _dtype(dtype)), requires_grad, device)


def _fill_dtype(value):
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, complex):
        return np.dtype(np.complex64)
    return _default[0]


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value (bool,
    int64, or the default float) unless given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = _dtype(dtype, _fill_dtype(fill_value))
    return _new(np.full(_size((size,)), fill_value, dt), requires_grad, device)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _new(np.eye(int(n), None if m is None else int(m), dtype=_dtype(dtype)),
                requires_grad, device)


def _like_dtype(input, dtype):
    if dtype is not None:
        return _as_dtype(dtype)
    a = _arr(input)
    return a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _shape_of(x):
    a = _arr(x)
    return tuple(a.shape) if hasattr(a, "shape") else np.shape(a)


def _like_device(input, device):
    """``device`` if given, else the device ``input`` lives on (as PyTorch's ``*_like``)."""
    if device is not None:
        return device
    a = _arr(input)
    return CPU if type(a) is np.ndarray else device_of(a)


def _like(fill):
    def make(input, *, dtype=None, layout=None, device=None, requires_grad=False,
             memory_format=None, generator=None):
        shape = _shape_of(input)
        dt = _like_dtype(input, dtype)
        return _new(fill(shape, dt, generator), requires_grad, _like_device(input, device))
    return make


zeros_like = _like(lambda shape, dt, g: np.zeros(shape, dt))
ones_like = _like(lambda shape, dt, g: np.ones(shape, dt))
empty_like = _like(lambda shape, dt, g: np.empty(shape, dt))


def _float_only(name, dt):
    if dt.kind != "f":
        raise DTypeError(f"{name}: expected a floating-point dtype, got {dt}")
    return dt


def _random_like(name, draw):
    def make(input, *, dtype=None, layout=None, device=None, requires_grad=False,
             memory_format=None, generator=None):
        dev = _like_device(input, device)
        data = draw(_rng(generator, dev), _shape_of(input))
        return _new(data.astype(_float_only(name, _like_dtype(input, dtype))), requires_grad,
                    dev)
    make.__name__ = make.__qualname__ = name
    return make


rand_like = _random_like("rand_like", lambda g, shape: g.random(shape))
randn_like = _random_like("randn_like", lambda g, shape: g.standard_normal(shape))


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    shape = _shape_of(input)
    return _new(np.full(shape, fill_value, _like_dtype(input, dtype)), requires_grad,
                _like_device(input, device))


# ---------------------------------------------------------------- ranges
def _scalar(v):
    return v.item() if isinstance(v, Tensor) else v


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """``arange(end)``, ``arange(start, end, step)``: int64 when every bound is an integer,
    else the default float dtype (as PyTorch)."""
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = builtins.all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                        for v in (start, end, step))
    dt = _dtype(dtype, np.dtype(np.int64) if ints else None)
    if ints:
        data = np.arange(start, end, step, dtype=np.int64).astype(dt, copy=False)
    else:   # count as PyTorch does: ceil((end - start) / step), computed in float64
        n = builtins.max(0, int(np.ceil((end - start) / step)))
        data = (start + step * np.arange(n, dtype=np.float64)).astype(dt)
    return _new(data, requires_grad, device)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    data = np.linspace(_scalar(start), _scalar(end), int(steps), dtype=np.float64)
    return _new(data.astype(_dtype(dtype)), requires_grad, device)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    data = np.logspace(_scalar(start), _scalar(end), int(steps), base=base, dtype=np.float64)
    return _new(data.astype(_dtype(dtype)), requires_grad, device)


# ---------------------------------------------------------------- random
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    dt = _float_only("rand", _dtype(dtype))
    data = _rng(generator, device).random(_size(size), dtype=np.float32 if dt == np.float32
                                          else np.float64)
    return _new(data.astype(dt, copy=False), requires_grad, device)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
    dt = _float_only("randn", _dtype(dtype))
    data = _rng(generator, device).standard_normal(
        _size(size), dtype=np.float32 if dt == np.float32 else np.float64)
    return _new(data.astype(dt, copy=False), requires_grad, device)


def randint(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False):
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high),
    int64 unless ``dtype`` says otherwise."""
    args = list(args)
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise TypeError("randint: give the size as a tuple: randint(low, high, (n, m))")
        size = args.pop()
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint expects (high, size) or (low, high, size)")
    data = _rng(generator, device).integers(int(_scalar(low)), int(_scalar(high)),
                                            _size((size,)))
    return _new(data.astype(_dtype(dtype, np.dtype(np.int64))), requires_grad, device)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    dev = _like_device(input, device)
    data = _rng(generator, dev).integers(int(low), int(high), _shape_of(input))
    return _new(data.astype(_like_dtype(input, dtype)), requires_grad, dev)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    rng = _rng(generator, device)
    if _on_host(rng):
        data = rng.permutation(int(n))
    else:       # a device generator has no permutation: the order of n uniform numbers
        data = array_module(device or DEFAULT[0]).argsort(rng.random(int(n)))
    return _new(data.astype(_dtype(dtype, np.dtype(np.int64))), requires_grad, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False):
    """Normal samples: ``normal(mean_tensor, std_tensor)`` elementwise, or
    ``normal(mean, std, size)`` with numbers."""
    m, s = _arr(mean), _arr(std)
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    if size is not None:
        shape = _size((size,))
    else:
        shape = np.broadcast_shapes(_shape_of(m), _shape_of(s))
    dt = _dtype(dtype, like._data.dtype if like is not None else None)
    if device is None and like is not None:
        device = _like_device(like, None)      # as PyTorch: where the mean or std tensor is
    rng = _rng(generator, device)
    if _on_host(rng):
        data = np.asarray(rng.normal(_host(m), _host(s), shape))
    else:       # a device generator has no normal: mean + std * standard normal
        z = rng.standard_normal(shape)
        data = _on(m, z) + _on(s, z) * z
    return _new(data.astype(dt), requires_grad, device)


def _host(a):
    """``a`` (a number or array) on the host: the host generator draws with it."""
    return a if type(a) is np.ndarray or not hasattr(a, "shape") else to_device(a, CPU)


def _on(a, ref):
    """``a`` (a number, or an array on any device) ready to combine with device array ``ref``."""
    from .compat import on_device_of
    return a if not hasattr(a, "shape") else on_device_of(a, ref)


def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples with the probabilities in ``input`` (or the number ``p``), of its dtype."""
    a, dev = _arr(input), _like_device(input, None)
    rng = _rng(generator, dev)
    if not _on_host(rng):       # drawn where the probabilities are
        probs = a if p is None else p
        return Tensor._make((rng.random(tuple(a.shape)) < probs).astype(a.dtype))
    a = _host(a)
    probs = a if p is None else np.full(np.shape(a), p)
    data = rng.random(np.shape(probs)) < probs
    return _new(data.astype(np.asarray(a).dtype), False, dev)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """``num_samples`` category indices per row of the (unnormalised) weights ``input``."""
    dev = _like_device(input, None)
    rng = _rng(generator, dev)
    if not _on_host(rng):
        return Tensor._make(_multinomial_on_device(_arr(input), num_samples, replacement, rng))
    w = np.asarray(_host(_arr(input)), dtype=np.float64)
    rows = w.reshape(-1, w.shape[-1])
    g = _gen(generator)
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise ValueError("multinomial: weights must be finite and non-negative")
    out_rows = []
    for r in rows:
        total = r.sum()
        if total <= 0:
            raise ValueError("multinomial: a row of weights sums to zero")
        if not replacement and num_samples > np.count_nonzero(r):
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(r)} non-zero weights")
        out_rows.append(g.choice(len(r), size=num_samples, replace=replacement, p=r / total))
    data = np.asarray(out_rows, dtype=np.int64)
    return _new(data.reshape(w.shape[:-1] + (num_samples,)), False, dev)


def _multinomial_on_device(w, num_samples, replacement, rng):
    """``multinomial`` on a GPU, drawn there: with replacement by the inverse of each row's
    cumulative distribution, without by the ``num_samples`` largest ``log w + Gumbel noise``
    (the same distribution as drawing one at a time). The checks read back scalars only."""
    xp = array_module(device_of(w))
    w = w.astype(np.float64)
    rows = w.reshape(-1, w.shape[-1])
    if bool((rows < 0).any()) or not bool(xp.isfinite(rows).all()):
        raise ValueError("multinomial: weights must be finite and non-negative")
    total = rows.sum(axis=1, keepdims=True)
    if bool((total <= 0).any()):
        raise ValueError("multinomial: a row of weights sums to zero")
    if not replacement:
        least = int((rows > 0).sum(axis=1).min())
        if num_samples > least:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from {least} non-zero weights")
    if replacement:
        u = rng.random((rows.shape[0], num_samples))
        cdf = xp.cumsum(rows / total, axis=1)
        idx = (u[:, :, None] >= cdf[:, None, :-1]).sum(axis=2)
    else:
        keys = xp.log(xp.where(rows > 0, rows, 1)) - xp.log(-xp.log(rng.random(rows.shape)))
        keys = xp.where(rows > 0, keys, -xp.inf)       # a zero weight is never drawn
        idx = xp.argsort(-keys, axis=1)[:, :num_samples]
    return idx.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))


# ---------------------------------------------------------------- from data
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new Tensor holding a copy of ``data`` (as ``torch.tensor``).

    Python floats become the default dtype (float32), ints int64, bools bool; a NumPy array
    keeps its dtype (float64 stays float64). ``ournn.from_numpy``/``as_tensor`` share an
    array's memory instead of copying it."""
    dev = check_device(device)
    src = data._data if isinstance(data, Tensor) else data
    t = Tensor(src, dtype=dtype)
    if dtype is None and t._data.dtype == np.float32 and _default[0] != np.float32 \
            and not isinstance(src, (np.ndarray, np.generic)) and type(t._data) is np.ndarray:
        t._data = np.asarray(src, dtype=_default[0])        # Python floats: the default
    if t._data is src or (isinstance(src, np.ndarray) and np.shares_memory(t._data, src)):
        t._data = t._data.copy()
    if device is not None or DEFAULT[0] is not CPU:
        t._data = to_device(t._data, dev if device is not None else DEFAULT[0])
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory where it can (a tensor or an array of the right
    dtype is not copied), as ``torch.as_tensor``."""
    dev = check_device(device)
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
    elif isinstance(data, np.ndarray):
        out = Tensor._make(data if dtype is None else data.astype(_as_dtype(dtype), copy=False))
    else:
        out = tensor(data, dtype=dtype)
    if device is None:
        if DEFAULT[0] is CPU or type(out._data) is not np.ndarray:
            return out
        dev = DEFAULT[0]
    return out.to(dev)


def from_numpy(array):
    """A Tensor sharing ``array``'s memory (no copy), as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()
