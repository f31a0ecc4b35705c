"""Parameter utilities, as ``torch.nn.utils``: gradient clipping and parameters as one
vector. Gradient clipping lives here, as in PyTorch, and not with the optimizers: it works
on any parameters' gradients and needs no optimizer (``ournn.optim`` re-exports it)."""
import numpy as np

from ...backend import get_array_module
from ...tensor import Tensor, bump_version

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (a copy; as PyTorch's,
    it is in the graph, so gradients flow back to each parameter)."""
    from ...ops.shape import Concatenate
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    dtypes = {p.dtype for p in params}
    if len(dtypes) > 1:
        raise TypeError(f"parameters_to_vector: parameters of several dtypes "
                        f"{sorted(map(str, dtypes))}; cast the model first (model.float())")
    return Concatenate.apply(*[p.reshape(-1) for p in params], axis=0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place, as
    PyTorch)."""
    array = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    if array.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D vector, got shape "
                        f"{array.shape}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != array.size:
        raise ValueError(f"vector_to_parameters: the vector has {array.size} elements but "
                         f"the parameters hold {total}")
    start = 0
    for p in params:
        n = p.numel()
        p._data[...] = array[start:start + n].reshape(p.shape)
        bump_version(p)
        start += n


def _as_parameter_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _vector_norm(array, norm_type):
    """The ``norm_type``-norm of all elements of ``array``, as a Python float."""
    xp = get_array_module(array)
    flat = array.reshape(-1)
    if norm_type == float("inf"):
        return float(xp.max(xp.abs(flat))) if flat.size else 0.0
    if norm_type == 2:
        return float(xp.sqrt(xp.dot(flat, flat)))
    return float(xp.sum(xp.abs(flat) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients of ``parameters`` together so that their total norm is at most
    ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``::

        total = || (||g_1||, ..., ||g_n||) ||          (the norm of all gradients as one vector)
        g_i  <- g_i * min(1, max_norm / (total + 1e-6))

    Args:
        parameters: a Parameter or an iterable of them (those without a gradient are skipped).
        max_norm: the largest total norm allowed.
        norm_type: the p of the p-norm; ``float('inf')`` for the largest absolute value.
        error_if_nonfinite: raise RuntimeError when the total norm is nan or inf.

    Returns the total norm before clipping, as a Python float. A clipped gradient is a new
    array (gradients are never written into in place).
    """
    params = [p for p in _as_parameter_list(parameters) if p.grad is not None]
    if not params:
        return 0.0
    max_norm, norm_type = float(max_norm), float(norm_type)
    norms = np.array([_vector_norm(p._grad._data, norm_type) for p in params])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; "
                           "set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            p.grad = p.grad * coef
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]``, as
    ``torch.nn.utils.clip_grad_value_`` (new arrays; gradients are not written into)."""
    clip_value = float(clip_value)
    for p in _as_parameter_list(parameters):
        if p._grad is not None:
            g = p._grad._data
            p.grad = get_array_module(g).clip(g, -clip_value, clip_value)

from . import rnn  # noqa: E402,F401
