"""``Tensor``: a NumPy array that remembers how it was computed.

``t.data`` is the array itself (read it, change it in place), ``t.grad`` an array of the same
shape after ``backward()`` (or ``None``). The arithmetic operators and methods (``t + u``,
``t.sum()``, ``t.reshape(...)``) are installed from one table in ``ournn.ops`` (see
``_install_methods``), each a thin call to an op's ``Function.apply``.
"""
import numpy as np

from .backend import get_array_module
from .errors import DTypeError

_FLOAT_KINDS = "fc"
_ndarray = np.ndarray
_new_tensor = object.__new__


def _default_array(data, dtype=None):
    """Convert ``data`` to an array: Python floats become float32, ints int64; arrays keep
    their dtype (a float64 array stays float64) unless ``dtype`` is given."""
    if isinstance(data, Tensor):
        data = data.data
    xp = get_array_module(data)
    if dtype is not None:
        return xp.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)) or xp is not np:
        return xp.asarray(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return arr


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
        array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "_requires_grad", "_ctx", "_out_index", "name", "__weakref__")
    __array_ufunc__ = None      # ndarray + Tensor -> Tensor.__radd__, not an object array
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _default_array(data, dtype)
        self.grad = None
        self._ctx = None
        self._out_index = 0
        self.name = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, array):
        """Wrap an op's output array (no checks, no copy)."""
        t = _new_tensor(Tensor)
        if type(array) is not _ndarray and not hasattr(array, "ndim"):
            array = np.asarray(array)
        t.data = array
        t.grad = None
        t._requires_grad = False
        t._ctx = None
        t._out_index = 0
        t.name = None
        return t

    # ----- autograd state -----
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self.data.dtype.kind not in _FLOAT_KINDS:
            raise DTypeError(f"only floating-point tensors can require gradients, got dtype "
                             f"{self.data.dtype} (shape {self.data.shape})")
        if not value and self._ctx is not None:
            raise DTypeError("requires_grad cannot be turned off on a non-leaf tensor; "
                             "use .detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, value=True):
        self.requires_grad = value
        return self

    @property
    def is_leaf(self):
        return self._ctx is None

    @property
    def grad_fn(self):
        """The op (Function node) that produced this tensor, or None for a leaf."""
        return self._ctx

    def backward(self, gradient=None, retain_graph=False):
        """Compute gradients of this tensor w.r.t. every leaf that requires grad.

        ``gradient`` is dLoss/dSelf; it may be omitted for a one-element tensor.
        The graph is freed afterwards unless ``retain_graph=True``."""
        from .autograd.engine import backward
        backward(self, gradient, retain_graph)

    def detach(self):
        """A new leaf Tensor sharing this one's data, outside the graph."""
        return Tensor._make(self.data)

    def zero_grad(self):
        self.grad = None

    # ----- array-like properties -----
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The underlying array (no copy), as ``torch.Tensor.numpy()``."""
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __iter__(self):
        for i in range(len(self.data)):
            yield self[i]


def _lift(value, like):
    """A constant operand for an op with tensor ``like``: Python and NumPy scalars take the
    tensor's float dtype (no silent float64 upcast); arrays are used as they are."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool, np.generic)):
        dtype = like.data.dtype
        if dtype.kind not in _FLOAT_KINDS and isinstance(value, (float, np.floating)):
            dtype = np.float32
        xp = get_array_module(like.data)
        return xp.asarray(value, dtype=dtype)
    return value
