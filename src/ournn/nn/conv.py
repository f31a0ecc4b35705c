"""Convolution layers on NCHW input."""
import math

import numpy as np

from ..errors import ShapeError
from . import functional as F
from . import init
from .linear import _as_input
from .config import check_dtype, check_int, check_pair, reserve
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution. Input (N, C_in, H, W) -> (N, C_out, H_out, W_out) with
    H_out = (H + 2*padding - kernel) // stride + 1.

    Weight (C_out, C_in, kH, kW) and bias initialised as PyTorch (kaiming_uniform_, a=sqrt(5))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32):
        in_channels = check_int("Conv2d", "in_channels", in_channels)
        out_channels = check_int("Conv2d", "out_channels", out_channels)
        kh, kw = check_pair("Conv2d", "kernel_size", kernel_size)
        check_pair("Conv2d", "stride", stride)
        check_pair("Conv2d", "padding", padding, minimum=0)
        check_dtype("Conv2d", dtype)
        reserve(f"Conv2d({in_channels}, {out_channels}, {kh}x{kw})",
                (in_channels * kh * kw + bool(bias)) * out_channels)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = F._pair(padding, "padding")
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size,
                                         dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "bias": self.bias is not None}

    def forward(self, x):
        x = _as_input(x, self.weight, self)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{self!r}: expected input (N, {self.in_channels}, H, W), got "
                             f"shape {tuple(x.shape)}")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s
