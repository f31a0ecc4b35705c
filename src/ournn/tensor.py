"""``Tensor``: a NumPy array that remembers how it was computed.

As in PyTorch, ``t.data`` is a Tensor sharing ``t``'s memory outside the graph and ``t.grad`` is
a Tensor (or ``None``); ``t.numpy()`` is the NumPy array itself, no copy, so a NumPy user
reads and writes every parameter and gradient as a plain array (``p.numpy()``,
``p.grad.numpy()``). The arithmetic operators and methods (``t + u``, ``t.sum()``,
``t.add_(u)``) are installed from one table in ``ournn.ops`` (see ``install_tensor_methods``),
each a thin call to an op's ``Function.apply``.

Internally the array lives in ``t._data``; ops read it directly (no property on the hot path).

**Versions.** Every tensor has a version counter (``t._version``, made on first use) shared
with the tensors that alias its memory (``.data``, ``.detach()``, views such as ``t[0]`` or
``t.view(...)``). An in-place operation that writes into that memory bumps it
(``bump_version(t)``), and the counter remembers when. Before a node's backward runs, the
engine checks that none of its inputs (nor its output, where backward reads it) was written
since the node was recorded, and refuses, naming the op, instead of computing a gradient from
overwritten numbers. Recording costs one integer per node: the check only looks at the
counters when some tensor was written in place since (rare: an optimizer step). See
docs/design.md.
"""
import numpy as np

from .backend import get_array_module
from .errors import DTypeError, GraphError, ShapeError

_FLOAT_KINDS = "fc"
_ndarray = np.ndarray
_new_tensor = object.__new__


def _default_array(data, dtype=None):
    """Convert ``data`` to an array: Python floats become float32, ints int64; arrays keep
    their dtype (a float64 array stays float64) unless ``dtype`` is given."""
    if isinstance(data, Tensor):
        data = data._data
    elif isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [_default_array(d) for d in data]   # a list of tensors, as torch.tensor takes
    xp = get_array_module(data)
    if dtype is not None:
        return xp.asarray(data, dtype=_as_dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)) or xp is not np:
        return xp.asarray(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr


class _Writes:
    """How many in-place writes into tensors' memory this process has made (``n``)."""
    n = 0


WRITES = _Writes()


def bump_version(t):
    """Note a write into ``t``'s memory: its version counter (``[version, write stamp]``,
    shared with its aliases) goes up and is stamped with the process's write count."""
    WRITES.n += 1
    vc = t._version
    vc[0] += 1
    vc[1] = WRITES.n


def _as_dtype(dtype):
    """A NumPy dtype from ``dtype`` (a NumPy dtype or type, a name, or a PyTorch-style alias)."""
    if dtype is float:        # torch.tensor(x, dtype=float) means float64 there too
        return np.dtype(np.float64)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"unknown dtype {dtype!r}: use a NumPy dtype or one of ournn.float32, "
                         "ournn.float64, ournn.int64, ournn.bool...") from None


class Size(tuple):
    """A shape, as ``torch.Size``: a tuple that also has ``numel()``."""

    __slots__ = ()

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"ournn.Size({list(self)})"


class _SizeMethod:
    """``t.size``: call it (``t.size()``, ``t.size(0)``) as in PyTorch. Used as a number (the
    NumPy spelling of the element count) it raises, naming ``t.numel()``."""

    __slots__ = ("_shape",)

    def __init__(self, shape):
        self._shape = shape

    def __call__(self, dim=None):
        if dim is None:
            return Size(self._shape)
        n = len(self._shape)
        if not -n <= dim < max(n, 1):
            raise IndexError(f"size(): dimension {dim} out of range for a tensor with "
                             f"{n} dimensions")
        return self._shape[dim]

    def _refuse(self, *_):
        raise TypeError("Tensor.size is a method, as in PyTorch: t.size() is the shape, "
                        "t.size(0) one dimension, t.numel() the number of elements "
                        "(NumPy's t.size)")

    __int__ = __index__ = __float__ = __bool__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __eq__(self, other):
        self._refuse()

    __hash__ = None

    def __repr__(self):
        return f"<method Tensor.size of shape {tuple(self._shape)}>"


class Tensor:
    """An n-dimensional array with autograd.

    Args:
        data: array-like. A NumPy array is wrapped without a copy.
        requires_grad: record operations on it so ``backward()`` fills ``.grad``.
        dtype: NumPy dtype to convert to. Default: the array's own, float32 for Python floats.

    Example::

        >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([[2., 4.]])
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "_ctx", "_out_index", "_vc", "_base",
                 "_hooks", "name", "__weakref__")
    __array_priority__ = 1000   # __array_ufunc__ is installed by ournn.ops

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        from . import backend
        if Tensor in backend.NAMESPACES:      # Parameter and friends share Tensor's namespace
            backend.NAMESPACES[cls] = backend.NAMESPACES[Tensor]

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self._data = _default_array(data, dtype)
        if device is not None:
            from .device import check_device, to_device
            self._data = to_device(self._data, check_device(device))
        self._grad = None
        self._ctx = None
        self._out_index = 0
        self._vc = None
        self._base = None
        self._hooks = None
        self.name = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, array):
        """Wrap an op's output array (no checks, no copy)."""
        t = _new_tensor(Tensor)
        if type(array) is not _ndarray and (not hasattr(array, "ndim")
                                            or isinstance(array, np.generic)):
            array = np.asarray(array)      # NumPy scalars too: a 0-d array can be written into
        t._data = array
        t._grad = None
        t._requires_grad = False
        t._ctx = None
        t._out_index = 0
        t._vc = None
        t._base = None
        t._hooks = None
        t.name = None
        return t

    @property
    def _version(self):
        """The version counter, made on first use: a list ``[version, write stamp]`` (a list:
        the cheapest object to make, as every op output may need one)."""
        vc = self._vc
        if vc is None:
            vc = self._vc = [0, -1]
        return vc

    @_version.setter
    def _version(self, counter):
        self._vc = counter

    def _alias(self):
        """A new tensor outside the graph on the same memory and version counter."""
        t = Tensor._make(self._data)
        t._version = self._version
        return t

    def _host(self):
        """The array on the host: itself on the CPU, else one clear error (as PyTorch's)."""
        if type(self._data) is _ndarray:
            return self._data
        from .device import device_of
        dev = device_of(self._data)
        if dev.type == "cpu":
            return self._data
        raise TypeError(f"can't convert a {dev} tensor to a NumPy array: use .cpu() to copy "
                        "it to the host first")

    # ----- data and gradient -----
    @property
    def data(self):
        """A tensor sharing this one's memory, outside the graph (as ``torch.Tensor.data``).

        Writes into it (``p.data.add_(...)``) change this tensor. Assigning (``p.data = t``)
        replaces the array. For the NumPy array itself use ``.numpy()``."""
        return self._alias()

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else _default_array(value)
        self._data = array
        bump_version(self)

    @property
    def grad(self):
        """The gradient (a Tensor of this tensor's shape) after ``backward()``, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):       # a NumPy user may assign an array
            value = Tensor._make(get_array_module(value).asarray(value))
        if value._data.shape != self._data.shape:
            raise ShapeError(f"assigned grad has shape {tuple(value._data.shape)}, but the "
                             f"tensor has shape {tuple(self._data.shape)}")
        if value._data.dtype != self._data.dtype:
            value = Tensor._make(value._data.astype(self._data.dtype))
        self._grad = value

    # ----- autograd state -----
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self._data.dtype.kind not in _FLOAT_KINDS:
            raise DTypeError(f"only floating-point tensors can require gradients, got dtype "
                             f"{self._data.dtype} (shape {self._data.shape})")
        if not value and self._ctx is not None:
            raise DTypeError("requires_grad cannot be turned off on a non-leaf tensor; "
                             "use .detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        """The op (Function node) that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def _version_number(self):
        return 0 if self._vc is None else self._vc[0]

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a tensor it returns
        replaces the gradient. Returns a handle whose ``remove()`` takes the hook away."""
        if not self._requires_grad:
            raise GraphError("register_hook: the tensor does not require grad, so no gradient "
                             "will reach it")
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self._ctx.__dict__.setdefault("tensor_hooks", {}).setdefault(
                self._out_index, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (a leaf's is kept
        anyway)."""
        if self._ctx is None or self.retains_grad:
            return
        me = self

        def keep(grad):
            g = grad.detach().clone()
            me._grad = g if me._grad is None else me._grad + g
        keep._retains_grad = True
        self.register_hook(keep)

    @property
    def retains_grad(self):
        if self._ctx is None:
            return False
        hooks = self._ctx.__dict__.get("tensor_hooks", {}).get(self._out_index, ())
        return any(getattr(h, "_retains_grad", False) for h in hooks)

    def detach(self):
        """A new leaf Tensor sharing this one's data (and version counter), outside the graph."""
        return self._alias()

    def detach_(self):
        """Take this tensor out of the graph, in place (it becomes a leaf)."""
        if self._base is not None and self._requires_grad:
            raise GraphError("detach_() on a view of a tensor in the graph; use .detach()")
        self._ctx = None
        self._requires_grad = False
        return self

    def zero_grad(self):
        self._grad = None

    # ----- array-like properties -----
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        """``t.size()`` is the shape (an ``ournn.Size``), ``t.size(d)`` one dimension, as in
        PyTorch. The element count is ``t.numel()``."""
        return _SizeMethod(self._data.shape)

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def element_size(self):
        return self._data.itemsize

    def numel(self):
        return self._data.size

    def nelement(self):
        return self._data.size

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def numpy(self, force=False):
        """The underlying array itself (no copy), as ``torch.Tensor.numpy()``. Unlike PyTorch
        it is given for a tensor that requires grad too: every parameter and gradient is a
        plain array a NumPy user may read and change. Writes through it bypass the version
        counter (see docs/design.md). A tensor on a GPU raises: ``.cpu()`` first, as in
        PyTorch."""
        return self._data if type(self._data) is _ndarray else self._host()

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only a one-element tensor can be converted to a Python "
                             f"number, this one has shape {tuple(self._data.shape)}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        a = self._data if type(self._data) is _ndarray else np.asarray(self._host())
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a.copy() if copy else a
        return a.astype(dtype)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements "
                               "is ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self):
        return float(self._data.item() if self._data.size == 1 else self._data)

    def __int__(self):
        return int(self._data.item() if self._data.size == 1 else self._data)

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError(f"only an integer tensor with one element can be used as an index, "
                            f"got dtype {self._data.dtype} and shape {tuple(self._data.shape)}")
        return int(self._data.item())

    def __complex__(self):
        return complex(self._data.item())

    def __format__(self, spec):
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    __hash__ = object.__hash__

    def __repr__(self):
        from .device import device_of, to_host
        body = np.array2string(to_host(self._data), separator=", ", prefix="tensor(")
        extra = ""
        dev = device_of(self._data)
        if dev.type != "cpu":
            extra += f", device='{dev}'"
        if self._data.dtype not in (np.float32, np.int64, np.bool_):
            extra += f", dtype={self._data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self._data)):
            yield self[i]

    def __reduce_ex__(self, protocol):
        # Tensors pickle as their array and flags (DataLoader workers, multiprocessing); the
        # graph is not carried, as PyTorch refuses to pickle non-leaf tensors.
        from .device import device_of, to_host
        dev = device_of(self._data)
        return (_rebuild, (to_host(self._data), self._requires_grad and self._ctx is None)
                + (() if dev.type == "cpu" else (str(dev),)))


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook away."""

    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def zero_grad_(t, set_to_none=True):
    """Forget ``t``'s gradient (``set_to_none``) or set it to zero: in place when its array is
    writable, as PyTorch does, else a new array (a user may assign a read-only one)."""
    g = t._grad
    if g is None:
        return
    if set_to_none:
        t._grad = None
    elif getattr(g._data.flags, "writeable", True):        # CuPy's arrays are always
        g._data[...] = 0
        bump_version(g)
    else:
        t._grad = Tensor._make(get_array_module(g._data).zeros_like(g._data))


def _rebuild(array, requires_grad, device=None):
    return Tensor(array, requires_grad=requires_grad, device=device)


def _lift(value, like):
    """A constant operand for an op with tensor ``like``: Python and NumPy scalars take the
    tensor's float dtype (no silent float64 upcast); arrays are used as they are."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool, np.generic)):
        dtype = like._data.dtype
        if dtype.kind not in _FLOAT_KINDS and isinstance(value, (float, np.floating)):
            dtype = np.float32
        xp = get_array_module(like._data)
        return xp.asarray(value, dtype=dtype)
    return value

