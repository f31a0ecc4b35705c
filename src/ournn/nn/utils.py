"""Parameter utilities, as ``torch.nn.utils``."""
import numpy as np

from ..optim.optimizer import clip_grad_norm_, clip_grad_value_
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (a copy; as PyTorch's,
    it is in the graph, so gradients flow back to each parameter)."""
    from ..ops.shape import Concatenate
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
        p._version[0] += 1
        start += n
