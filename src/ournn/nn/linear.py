"""Fully connected layers."""
import math

import numpy as np

from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .config import check_factory, check_int, reserve
from .module import Module, Parameter, with_dtype


class Linear(Module):
    """y = x @ W.T + b. Input (*, in_features) -> output (*, out_features).

    Weight (out_features, in_features) and bias initialised as PyTorch: U(-1/sqrt(in),
    1/sqrt(in)) (kaiming_uniform_ with a=sqrt(5))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        in_features = check_int("Linear", "in_features", in_features)
        out_features = check_int("Linear", "out_features", out_features)
        dtype = check_factory("Linear", device, dtype)
        reserve(f"Linear({in_features}, {out_features})",
                (in_features + bool(bias)) * out_features)
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def get_config(self):
        return with_dtype(self, {"in_features": self.in_features,
                                 "out_features": self.out_features,
                                 "bias": self.bias is not None})

    def forward(self, x):
        x = _as_input(x, self.weight, self)
        try:
            return F.linear(x, self.weight, self.bias)      # checks the shape
        except ShapeError as e:
            raise F._in_layer(self, e) from None

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """The input unchanged (any constructor arguments are ignored, as PyTorch)."""
    config_keys = ()

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


def _as_input(x, weight, layer):
    """Wrap arrays as Tensors and bring floating inputs to the layer's dtype (a float64 NumPy
    batch meets float32 weights without a silent float64 computation)."""
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x))
    if x.dtype != weight.dtype:
        if x.dtype.kind not in "fiub":
            raise DTypeError(f"{layer!r}: cannot take input of dtype {x.dtype}")
        x = x.astype(weight.dtype)
    return x
