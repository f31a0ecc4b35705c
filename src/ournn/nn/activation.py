"""Activation layers: thin modules over ``ournn.nn.functional``."""
from . import functional as F
from .config import check_float, check_int
from .module import Module


class ReLU(Module):
    config_keys = ()
    def __init__(self, inplace=False):
        super().__init__()

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
