"""Which array module a tensor lives on: NumPy, or CuPy when it is installed and used.

Ops never write ``np.`` on data directly: they ask ``xp = get_array_module(x)`` so the same
code runs on a GPU array. Nothing here imports CuPy unless CuPy is installed.
"""
import numpy as np

try:  # CuPy is optional; without it everything is NumPy.
    import cupy as _cupy  # type: ignore
except Exception:  # pragma: no cover - depends on the machine
    _cupy = None


def get_array_module(*arrays):
    """Return ``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy``."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(getattr(a, "data", a), _cupy.ndarray):
                return _cupy
    return np


def is_cupy_available():
    return _cupy is not None
