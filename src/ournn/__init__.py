"""ournn: deep learning on NumPy, with PyTorch's names.

    >>> import ournn
    >>> x = ournn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    array([2., 4., 6.], dtype=float32)
"""
import numpy as np

from .tensor import Tensor
from . import ops as _ops  # installs the Tensor operators  # noqa: F401
from .autograd import (Function, enable_grad, gradcheck, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .errors import CheckpointError, DTypeError, GradcheckError, GraphError, OurnnError, ShapeError
from .functions import (abs, cat, clamp, clip, concatenate, exp, flatten, log, log_softmax,
                        matmul, max, maximum, mean, min, minimum, ones, pad, permute, rand,
                        randn, relu, reshape, sigmoid, softmax, split, sqrt, stack, sum, tanh,
                        transpose, var, where, zeros)
from .random import manual_seed
from .io import load, save
from . import data, models, nn, optim, train, utils, viz  # noqa: E402
from .device import DeviceError, accelerator, backends, cuda, device  # noqa: E402
from .tensor import Size  # noqa: E402

__version__ = "0.1.0"

float32, float64, int64, int32, bool_ = np.float32, np.float64, np.int64, np.int32, np.bool_


def tensor(data, requires_grad=False, dtype=None):
    """A new Tensor holding a copy of ``data`` (as ``torch.tensor``).

    Python floats become float32, ints int64; a NumPy array keeps its dtype (float64 stays
    float64). Use ``ournn.from_numpy`` to share an array's memory instead of copying it."""
    data = data._data if isinstance(data, Tensor) else data
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    if isinstance(data, np.ndarray) and np.shares_memory(t._data, data):
        t._data = t._data.copy()
    return t


def from_numpy(array):
    """A Tensor sharing ``array``'s memory (no copy), as ``torch.from_numpy``."""
    return Tensor(np.asarray(array))


as_tensor = from_numpy
