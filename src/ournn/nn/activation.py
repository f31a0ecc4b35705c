"""Activation layers: thin modules over ``ournn.nn.functional``."""
import numpy as np

from . import functional as F
from .config import check_factory, check_float, check_int, reserve
from .module import Module, Parameter, with_dtype


class ReLU(Module):
    config_keys = ()

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    config_keys = ("negative_slope",)
    def __init__(self, negative_slope=0.01, inplace=False):
        check_float("LeakyReLU", "negative_slope", negative_slope)
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    config_keys = ()

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    config_keys = ()

    def forward(self, x):
        return F.tanh(x)


class GELU(Module):
    config_keys = ("approximate",)

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}" if self.approximate != "none" else ""


class Softmax(Module):
    config_keys = ("dim",)

    def __init__(self, dim=-1):
        check_int(type(self).__name__, "dim", dim, minimum=-64)
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim)


class _Elementwise(Module):
    """An activation without arguments but ``inplace`` (accepted; computed out of place)."""
    config_keys = ()
    fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        return type(self).fn(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class SiLU(_Elementwise):
    """x * sigmoid(x)."""
    fn = staticmethod(F.silu)


class Mish(_Elementwise):
    """x * tanh(softplus(x))."""
    fn = staticmethod(F.mish)


class SELU(_Elementwise):
    """scale * elu(x, alpha), the self-normalising constants."""
    fn = staticmethod(F.selu)


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""
    fn = staticmethod(F.relu6)


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6."""
    fn = staticmethod(F.hardsigmoid)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6."""
    fn = staticmethod(F.hardswish)


class _NoArgs(Module):
    config_keys = ()
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class Softsign(_NoArgs):
    """x / (1 + |x|)."""
    fn = staticmethod(F.softsign)


class Tanhshrink(_NoArgs):
    """x - tanh(x)."""
    fn = staticmethod(F.tanhshrink)


class LogSigmoid(_NoArgs):
    """log(sigmoid(x))."""
    fn = staticmethod(F.logsigmoid)


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    config_keys = ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        check_float(type(self).__name__, "alpha", alpha)
        super().__init__()
        self.alpha, self.inplace = alpha, bool(inplace)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(alpha, inplace)
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0")

    def forward(self, x):
        return F.celu(x, self.alpha)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta; x itself where beta * x > threshold."""
    config_keys = ("beta", "threshold")

    def __init__(self, beta=1.0, threshold=20.0):
        check_float("Softplus", "beta", beta)
        if beta == 0:
            raise ValueError("Softplus: beta must not be 0")
        check_float("Softplus", "threshold", threshold)
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """clip(x, min_val, max_val)."""
    config_keys = ("min_val", "max_val")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        check_float("Hardtanh", "min_val", min_val)
        check_float("Hardtanh", "max_val", max_val)
        if max_val < min_val:
            raise ValueError(f"Hardtanh: max_val must be >= min_val, got min_val={min_val} "
                             f"and max_val={max_val}")
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, bool(inplace)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Threshold(Module):
    """x where x > threshold, else value."""
    config_keys = ("threshold", "value")

    def __init__(self, threshold, value, inplace=False):
        check_float("Threshold", "threshold", threshold)
        check_float("Threshold", "value", value)
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, bool(inplace)

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}"


class GLU(Module):
    """a * sigmoid(b), a and b the halves of the input along ``dim``."""
    config_keys = ("dim",)

    def __init__(self, dim=-1):
        check_int("GLU", "dim", dim, minimum=-64)
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Softmax):
    def forward(self, x):
        return F.softmin(x, self.dim)


class PReLU(Module):
    """x if x > 0 else a * x with a learnable ``a``: one for all channels, or one per channel
    (``num_parameters`` = C, channels on dim 1), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        num_parameters = check_int("PReLU", "num_parameters", num_parameters)
        check_float("PReLU", "init", init)
        dtype = check_factory("PReLU", device, dtype)
        reserve(f"PReLU({num_parameters})", num_parameters)
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))

    def get_config(self):
        return with_dtype(self, {"num_parameters": self.num_parameters, "init": self.init})

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
