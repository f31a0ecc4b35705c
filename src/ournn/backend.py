"""Which array module a tensor lives on: NumPy, or CuPy when it is installed and used.

Ops never write ``np.`` on data directly: they ask ``xp = get_array_module(x)`` so the same
code runs on a GPU array. Nothing here imports CuPy unless CuPy is installed.
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


def get_array_module(*arrays):
    """The namespace of the first of ``arrays`` whose type is in ``NAMESPACES``; else ``cupy``
    if any of them is a CuPy array; else ``numpy``."""
    for a in arrays:
        if type(a) is not _ndarray:
            ns = NAMESPACES.get(type(a))
            if ns is not None:
                return ns
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np
