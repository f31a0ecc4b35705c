"""ournn: deep learning on NumPy, with PyTorch's names.

    >>> import ournn
    >>> x = ournn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
import sys as _sys
import types as _types

import numpy as np

from .tensor import Size, Tensor
from . import ops as _ops  # installs the Tensor operators  # noqa: F401
from .autograd import (Function, enable_grad, gradcheck, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .errors import CheckpointError, DTypeError, GradcheckError, GraphError, OurnnError, ShapeError
from . import functions as _functions
from .functions import *  # noqa: F401,F403 - the top-level functions (see functions.py)
from .functions import (abs, cat, clamp, clip, concatenate, exp, flatten, log, log_softmax,
                        matmul, max, maximum, mean, min, minimum, pad, permute,
                        relu, reshape, sigmoid, softmax, split, sqrt, stack, sum, tanh,
                        tensor_split, transpose, var, where)
from .ops.factories import (arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy,
                            full, full_like, get_default_dtype, is_tensor, linspace, logspace,
                            multinomial, normal, numel, ones, ones_like, rand, rand_like, randint,
                            randint_like, randn, randn_like, randperm, set_default_dtype, tensor,
                            zeros, zeros_like)
from .ops.tensor_api import return_types
from .random import Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state
from .io import load, save
from . import data, models, nn, optim, train, utils, viz  # noqa: E402
from .device import DeviceError, accelerator, backends, cuda, device  # noqa: E402
from .legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,  # noqa: E402
                     HalfTensor, IntTensor, LongTensor, ShortTensor)

__version__ = "0.1.0"

# ``ournn.linalg``, as ``torch.linalg`` (importable as ``import ournn.linalg``)
linalg = _types.ModuleType("ournn.linalg", "Norms, as ``torch.linalg``.")
linalg.norm = _functions.linalg_norm
linalg.vector_norm = _functions.vector_norm
linalg.matrix_norm = _functions.matrix_norm
_sys.modules["ournn.linalg"] = linalg


def finfo(type=None):  # noqa: A002 - PyTorch's name
    """Machine limits of a float dtype (NumPy's ``finfo``); the default dtype's if omitted."""
    return np.finfo(get_default_dtype() if type is None else type)


def iinfo(type):  # noqa: A002
    """Machine limits of an integer dtype (NumPy's ``iinfo``)."""
    return np.iinfo(type)


def __getattr__(name):
    if name == "onnx":              # imported when first used, as torch.onnx (it needs no extra
        import importlib            # to import; export() asks for the onnx package)
        return importlib.import_module("ournn.onnx")
    if name == "bfloat16":
        raise AttributeError("ournn.bfloat16: bfloat16 is not supported (NumPy has no such "
                             "type); use ournn.float16 or ournn.float32")
    raise AttributeError(f"module 'ournn' has no attribute {name!r}")


# The dtypes, with PyTorch's names (NumPy types). Last in this file, through globals(), as
# ``float``, ``int`` and ``bool`` would otherwise hide the builtins in the code above.
globals().update({
    "float16": np.float16, "half": np.float16, "float32": np.float32, "float": np.float32,
    "float64": np.float64, "double": np.float64, "complex64": np.complex64,
    "cfloat": np.complex64, "complex128": np.complex128, "cdouble": np.complex128,
    "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "short": np.int16,
    "int32": np.int32, "int": np.int32, "int64": np.int64, "long": np.int64,
    "bool": np.bool_, "bool_": np.bool_, "dtype": np.dtype,
})
