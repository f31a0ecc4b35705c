"""A strict stand-in for a GPU, so the device paths run in CI without one.

CuPy gives NumPy's API on GPU arrays and refuses three things: turning a GPU array into a NumPy
array implicitly (``np.asarray``), mixing a GPU array with a NumPy array in one operation, and
mixing arrays of two GPUs. ``StandInArray`` behaves the same way on the virtual devices of
``array_api_strict`` (``Device("device1")``, ``Device("device2")``): its namespace ``xp`` has
NumPy's function names and dtypes, as CuPy does, and

* ``np.asarray(a)``, ``np.exp(a)``, ``np.concatenate([a])``, ``ndarray + a`` raise TypeError:
  any NumPy function called on device data fails;
* a NumPy array given to a device function or operator raises TypeError (a Python or NumPy
  scalar is fine, as in CuPy); only ``xp.asarray`` / ``xp.array`` copy host data to the device
  and only ``xp.asnumpy`` / ``a.get()`` copy it back;
* two devices in one operation raise ValueError naming both;
* reductions give 0-d device arrays, never NumPy scalars (as CuPy);
* what CuPy does not share with NumPy is absent: ufunc methods (``xp.add.at``,
  ``xp.maximum.reduce``), ``xp.lib`` (``as_strided``), ``xp.vectorize`` of Python functions,
  ``flags.writeable``.

Inside, the numbers are computed by NumPy on the host, so the stand-in's results equal the
CPU path's to the bit whenever the same operations are done. This is test code: ournn only sees
an array type with ``__array_namespace__`` (see ``backend.get_array_module``) and a device
entry registered through ``ournn.device._register_backend``.
"""
import numbers

import numpy as np

try:
    import array_api_strict
except ImportError:  # the tests skip without it
    array_api_strict = None

DEVICES = () if array_api_strict is None else (array_api_strict.Device("device1"),
                                                 array_api_strict.Device("device2"))


class _Current:
    device = DEVICES[0] if DEVICES else None


class StandInArray:
    """An array on a virtual device: NumPy's methods, none of NumPy's conversions."""

    __slots__ = ("_a", "device")
    __array_ufunc__ = None          # np.exp(a), ndarray + a: TypeError (NumPy defers to us)

    def __init__(self, array, device):
        self._a = array
        self.device = device

    # ----- refusals
    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"implicit conversion of an array on {self.device} to a NumPy array "
                        "is not allowed (use .get() or xp.asnumpy)")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on an array on {self.device}")

    def __array_namespace__(self, api_version=None):
        return xp

    def __dlpack__(self, *a, **k):
        raise TypeError(f"no DLPack export from the stand-in device {self.device}")

    # ----- what CuPy gives
    def get(self):
        """A NumPy copy on the host (CuPy's ``ndarray.get``)."""
        return self._a.copy()

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: StandInArray(self._a.T, self.device))
    mT = property(lambda self: StandInArray(np.swapaxes(self._a, -1, -2), self.device))
    real = property(lambda self: StandInArray(self._a.real, self.device))
    imag = property(lambda self: StandInArray(self._a.imag, self.device))

    @property
    def flags(self):
        return _Flags(self._a.flags)

    @property
    def base(self):
        return None if self._a.base is None else StandInArray(self._a.base, self.device)

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield StandInArray(self._a[i], self.device)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return f"StandInArray({np.array2string(self._a, separator=', ')}, device={self.device})"

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else repr(self), spec)

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap(index, [self.device])], self.device)

    def __setitem__(self, index, value):
        devs = [self.device]
        self._a[_unwrap(index, devs)] = _unwrap(value, devs)

    def __getattr__(self, name):          # the remaining ndarray methods, wrapped
        if name in _NO_METHOD or name.startswith("_"):
            raise AttributeError(f"the stand-in device array has no attribute {name!r}")
        method = getattr(self._a, name)
        dev = self.device

        def call(*args, **kwargs):
            devs = [dev]
            result = method(*_unwrap(args, devs), **_unwrap(kwargs, devs))
            return _wrap(result, devs[0], out=kwargs.get("out"))
        return call

    def __reduce__(self):
        raise TypeError(f"an array on {self.device} cannot be pickled (move it to the host)")


class _Flags:
    """CuPy's flags: contiguity and ownership; no ``writeable``."""

    def __init__(self, flags):
        self.c_contiguous = self.C_CONTIGUOUS = flags.c_contiguous
        self.f_contiguous = self.F_CONTIGUOUS = flags.f_contiguous
        self.owndata = self.OWNDATA = flags.owndata


_NO_METHOD = {"tofile", "dump", "dumps", "ctypes", "data", "setflags", "resize", "getfield",
              "setfield", "__array_interface__", "__array_struct__"}


def _operator(name, reflected=False):
    def op(self, other):
        if isinstance(other, StandInArray) or isinstance(other, (numbers.Number, np.generic)):
            devs = [self.device]
            other = _unwrap(other, devs)
            result = getattr(self._a, name)(other)
            return NotImplemented if result is NotImplemented else _wrap(result, self.device)
        if isinstance(other, np.ndarray):
            raise TypeError(f"an operand is a NumPy array and the other is on {self.device}: "
                            "move one of them first")
        return NotImplemented
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
    for _n in (f"__{_name}__", f"__r{_name}__", f"__i{_name}__"):
        if hasattr(np.ndarray, _n):
            setattr(StandInArray, _n, _operator(_n))
for _n in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(StandInArray, _n, (lambda n: lambda self: _wrap(getattr(self._a, n)(),
                                                             self.device))(_n))
StandInArray.__hash__ = None


def _unwrap(x, devs):
    """The NumPy array inside ``x`` (recursively in lists, tuples, dicts, slices), checking
    that every stand-in array is on ``devs[0]`` (set to the first one seen when None) and
    refusing NumPy arrays."""
    if isinstance(x, StandInArray):
        if devs[0] is None:
            devs[0] = x.device
        elif x.device != devs[0]:
            raise ValueError(f"arrays on two devices in one operation: {devs[0]} and "
                             f"{x.device}")
        return x._a
    if isinstance(x, np.ndarray):
        where = "the device" if devs[0] is None else devs[0]
        raise TypeError(f"a NumPy array of shape {x.shape} was given to an operation on "
                        f"{where}: move it to the device first")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, devs) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v, devs) for k, v in x.items()}
    if isinstance(x, slice):
        return slice(_unwrap(x.start, devs), _unwrap(x.stop, devs), _unwrap(x.step, devs))
    return x


def _wrap(result, device, out=None):
    if out is not None:
        return out
    if isinstance(result, np.ndarray):
        return StandInArray(result, device if device is not None else _Current.device)
    if isinstance(result, np.generic):                  # reductions: 0-d device arrays
        return StandInArray(np.asarray(result), device if device is not None else
                            _Current.device)
    if isinstance(result, (tuple, list)):
        return type(result)(_wrap(r, device) for r in result)
    return result


def _function(fn, name):
    def call(*args, **kwargs):
        devs = [None]
        a, k = _unwrap(args, devs), _unwrap(kwargs, devs)
        return _wrap(fn(*a, **k), devs[0], out=kwargs.get("out"))
    call.__name__ = call.__qualname__ = name
    return call


# NumPy's names that CuPy lacks or that ournn must not use on a device (they go through
# ournn.ops.compat): the stand-in refuses them.
_ABSENT = {"lib", "vectorize", "frompyfunc", "fromfunction", "piecewise", "apply_along_axis",
           "apply_over_axes", "nditer", "ndenumerate", "ndindex", "save", "load", "savez",
           "fromfile", "memmap", "testing", "ctypeslib", "ma", "char", "rec", "polynomial",
           "asnumpy_", "errstate", "seterr", "geterr"}


class _Random:
    """``xp.random``: ``default_rng(seed)`` gives a generator of device arrays."""

    @staticmethod
    def default_rng(seed=None):
        return _Generator(np.random.default_rng(seed))


# The methods of CuPy's ``cupy.random.Generator`` (no ``normal``, ``permutation`` or
# ``choice``): the stand-in's generator has these only.
_GENERATOR_METHODS = {"random", "uniform", "integers", "standard_normal", "standard_exponential",
                      "exponential", "standard_gamma", "gamma", "beta", "binomial", "poisson",
                      "geometric", "hypergeometric", "logseries", "chisquare", "dirichlet", "f",
                      "power", "bit_generator"}


class _Generator:
    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        if name not in _GENERATOR_METHODS:
            raise AttributeError(f"the device generator has no {name!r} (CuPy's has none)")
        fn = getattr(self._rng, name)
        if not callable(fn):
            return fn

        def call(*args, **kwargs):
            devs = [None]
            result = fn(*_unwrap(args, devs), **_unwrap(kwargs, devs))
            return _wrap(result, devs[0])
        return call


class _Namespace:
    """``xp``: NumPy's functions and dtypes, computing on stand-in arrays only."""

    ndarray = StandInArray
    random = _Random()

    def __init__(self, module=np, prefix="xp"):
        self._module, self._prefix = module, prefix
        self._cache = {}
        self.linalg = _Linalg() if module is np else None

    def __getattr__(self, name):
        if name.startswith("_") or name in _ABSENT:
            raise AttributeError(f"the stand-in device namespace has no {self._prefix}.{name}")
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = getattr(self._module, name)
        if isinstance(value, type) or not callable(value):     # dtypes, finfo, constants
            out = value
        elif name in ("result_type", "promote_types", "can_cast", "dtype", "issubdtype",
                      "isdtype", "broadcast_shapes", "shape", "ndim", "iinfo", "finfo"):
            out = _function(value, name)
        else:
            out = _function(value, name)
        self._cache[name] = out
        return out

    @staticmethod
    def asarray(a, dtype=None, order=None, copy=None):
        """Host data to the device (a copy); a device array as it is (or cast)."""
        if isinstance(a, StandInArray):
            if dtype is not None and np.dtype(dtype) != a.dtype:
                return StandInArray(a._a.astype(dtype), a.device)
            return StandInArray(a._a.copy(), a.device) if copy else a
        if hasattr(a, "_data") and hasattr(a, "requires_grad"):       # an ournn Tensor
            raise TypeError("xp.asarray was given a Tensor: pass its array (t._data)")
        return StandInArray(np.array(a, dtype=dtype, copy=True), _Current.device)

    @staticmethod
    def array(a, dtype=None, copy=True, ndmin=0):
        if isinstance(a, StandInArray):
            r = a._a.astype(dtype) if dtype is not None else a._a
            return StandInArray(np.array(r, copy=copy, ndmin=ndmin), a.device)
        return StandInArray(np.array(a, dtype=dtype, copy=True, ndmin=ndmin),
                            _Current.device)

    @staticmethod
    def asnumpy(a):
        """Device data to the host (CuPy's ``asnumpy``)."""
        if isinstance(a, StandInArray):
            return a._a.copy()
        return np.asarray(a)


class _Linalg:
    def __getattr__(self, name):
        return _function(getattr(np.linalg, name), "linalg." + name)


xp = _Namespace()


class use_device:
    """``with use_device(i):`` new arrays go to virtual device ``i`` (CuPy's
    ``cupy.cuda.Device(i)`` context)."""

    def __init__(self, index):
        self.device = DEVICES[index or 0]

    def __enter__(self):
        self.prev, _Current.device = _Current.device, self.device
        return self

    def __exit__(self, *exc):
        _Current.device = self.prev
        return False
