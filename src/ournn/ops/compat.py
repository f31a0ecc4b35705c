"""The few NumPy-only helpers ops use, each with a portable path for a device's module.

On NumPy (``xp is np``) every function here is the NumPy call it replaces, so the CPU path is
unchanged. On another module (CuPy on a GPU, the stand-in device of the tests) only functions
that NumPy and CuPy share are used: no ``np.add.at``, no ``as_strided``, no ``np.vectorize``
of Python functions, no ``np.shape``/``np.asarray`` on device arrays.
"""
import contextlib
import math

import numpy as np

from ..backend import get_array_module
from ..device import device_of, to_device


def errstate(xp, **kwargs):
    """``xp.errstate`` (silence a warning) where the module has it (NumPy); nothing on a
    device without it (CuPy does not warn)."""
    fn = getattr(xp, "errstate", None)
    return fn(**kwargs) if fn is not None else contextlib.nullcontext()


def shape_of(x):
    """The shape of an array, a tensor's array or a nested list (never converts a device
    array)."""
    x = getattr(x, "_data", x)
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def on_device_of(value, ref, dtype=None):
    """``value`` (a tensor's array, an array, a list or a number) as an array on the device of
    array ``ref``, of ``dtype`` if given: NumPy's ``asarray`` on the CPU, one copy to the
    device for host data given to a device op."""
    value = getattr(value, "_data", value)
    if type(ref) is np.ndarray or get_array_module(ref) is np:
        return np.asarray(value, dtype=dtype)
    if type(value) is np.ndarray or not hasattr(value, "shape"):
        value = to_device(np.asarray(value, dtype=dtype), device_of(ref))
    return value if dtype is None or value.dtype == dtype else value.astype(dtype)


def index_on_device_of(index, ref):
    """An index for device array ``ref`` with its NumPy arrays (and lists of ints) moved to
    that device (slices, ints, None and Ellipsis as they are)."""
    if isinstance(index, tuple):
        return tuple(index_on_device_of(i, ref) for i in index)
    if type(index) is np.ndarray:
        return to_device(index, device_of(ref))
    return index


def add_at(target, index, values):
    """``target[index] += values`` with repeated indices accumulating (``np.add.at``)."""
    xp = get_array_module(target)
    if xp is np:
        np.add.at(target, index, values)
        return target
    # portable: the flat position of every value, then one bincount (a scatter-add)
    positions = xp.arange(target.size).reshape(target.shape)[index]
    values = xp.broadcast_to(xp.asarray(values, dtype=target.dtype), positions.shape)
    sums = xp.bincount(positions.reshape(-1), weights=values.reshape(-1),
                       minlength=target.size)
    target += sums.reshape(target.shape).astype(target.dtype)
    return target


def windows(x, kernel, stride):
    """(N, C, kH, kW, H_out, W_out) windows of a padded (N, C, H, W) array: a view through
    ``as_strided`` on NumPy; on a device, the kH*kW strided slices stacked (one copy)."""
    xp = get_array_module(x)
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    if xp is np:
        sn, sc, sy, sx = x.strides
        return np.lib.stride_tricks.as_strided(
            x, shape=x.shape[:2] + (kh, kw, ho, wo), strides=(sn, sc, sy, sx, sy * sh, sx * sw))
    rows = [xp.stack([x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                      for j in range(kw)], axis=2) for i in range(kh)]
    return xp.stack(rows, axis=2)


def erf(x):
    """The error function, elementwise, in ``x``'s dtype: SciPy's (or math.erf's) on NumPy,
    CuPy's special function on a GPU, else a series (|x| < 3) and a continued fraction."""
    xp = get_array_module(x)
    if xp is np:
        try:
            from scipy.special import erf as _erf
        except ImportError:  # exact but slower without SciPy
            _erf = np.vectorize(math.erf, otypes=[np.float64])
        return _erf(x).astype(x.dtype, copy=False)
    if getattr(xp, "__name__", "") == "cupy":
        from cupyx.scipy.special import erf as _erf
        return _erf(x).astype(x.dtype, copy=False)
    return _portable_erf(xp, x)


def _portable_erf(xp, x):
    a = xp.abs(x.astype(np.float64))
    small = xp.minimum(a, 3.0)
    term = small.copy()
    total = small.copy()
    sq = small * small
    for n in range(1, 80):                   # Taylor series: sum (-1)^n x^(2n+1) / (n! (2n+1))
        term = term * (-sq) / n
        total = total + term / (2 * n + 1)
    series = total * (2 / math.sqrt(math.pi))
    big = xp.maximum(a, 3.0)
    frac = xp.zeros_like(big)
    for k in range(60, 0, -1):               # erfc(x) = e^-x^2/sqrt(pi) / (x + (1/2)/(x + 1/(x + ...)))
        frac = (k / 2) / (big + frac)
    tail = 1 - xp.exp(-big * big) / math.sqrt(math.pi) / (big + frac)
    out = xp.where(a < 3.0, series, tail)
    return (xp.sign(x.astype(np.float64)) * out).astype(x.dtype)
