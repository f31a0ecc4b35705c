"""Pooling layers on NCHW input."""
from . import functional as F
from .config import check_pair
from .module import Module


class _Pool2d(Module):
    config_keys = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0):
        layer = type(self).__name__
        kernel = check_pair(layer, "kernel_size", kernel_size)
        if stride is not None:
            check_pair(layer, "stride", stride)
        pad = check_pair(layer, "padding", padding, minimum=0)
        if pad[0] * 2 > kernel[0] or pad[1] * 2 > kernel[1]:
            raise ValueError(f"{layer}: padding must be at most half of kernel_size "
                             f"{kernel_size}, got {padding}")
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over windows: (N, C, H, W) -> (N, C, (H + 2p - k) // s + 1, ...)."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over windows (zero padding counted)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
