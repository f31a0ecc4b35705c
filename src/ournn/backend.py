"""Which array module an array belongs to: NumPy, CuPy on a GPU, or another device's.

Ops never write ``np.`` on data directly: they ask ``xp = get_array_module(x)`` and compute
with ``xp``, so the same code runs on a GPU array (CuPy gives NumPy's API there). The answer
comes from the array itself: a NumPy array first (one type test, the fast path), then ournn's
Tensor types (``NAMESPACES``: the tensor namespace of gradients of gradients), then CuPy's
array type, then any array that names its module (the array API's ``__array_namespace__``).
The answer is cached per type, so a step on the CPU pays the same as before: one ``type(a) is
ndarray`` per argument. Nothing here imports CuPy unless CuPy is installed.
"""
import numpy as np

try:  # CuPy is optional; without it everything is NumPy.
    import cupy as _cupy  # type: ignore
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None


# Array-like types with a namespace of their own: ournn's Tensor (and its subclasses) map to
# ``ournn.ops.tensor_namespace``, so an op's backward run on tensors builds a graph.
NAMESPACES = {}
_ndarray = np.ndarray
_FOUND = {}          # type -> its module, or None for NumPy (scalars, lists, NumPy subclasses)


def _module_of(a):
    """The module of an array of a type not seen before (cached by type)."""
    t = type(a)
    ns = None
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        ns = _cupy
    elif not isinstance(a, (np.ndarray, np.generic, int, float, complex, bool, list, tuple)):
        get = getattr(t, "__array_namespace__", None)
        if get is not None:
            ns = get(a)
            if ns is np or getattr(ns, "__name__", "") == "numpy":
                ns = None
    _FOUND[t] = ns
    return ns


def get_array_module(*arrays):
    """The module to compute on ``arrays`` with: that of the first one that is not NumPy's
    (an ournn Tensor's namespace, CuPy, or the array's ``__array_namespace__()``), else
    ``numpy``."""
    for a in arrays:
        t = type(a)
        if t is not _ndarray:
            ns = NAMESPACES.get(t)
            if ns is not None:
                return ns
            ns = _FOUND[t] if t in _FOUND else _module_of(a)
            if ns is not None:
                return ns
    return np
