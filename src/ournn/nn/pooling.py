"""Pooling layers: windows on (N, C, H, W) and (N, C, L), adaptive (output size given) and
global pooling (``AdaptiveAvgPool2d(1)``).

The functional op checks the input's shape; a layer only puts its repr in front of the
ShapeError, so the message names the layer the user built."""
from ..errors import ShapeError
from . import functional as F
from .config import check_int, check_pair
from .module import Module


def _refuse(layer, dilation=1, ceil_mode=False, return_indices=False, count_include_pad=True,
            divisor_override=None):
    if dilation not in (1, (1, 1), [1, 1], (1,), [1]):
        raise ValueError(f"{layer}: dilation other than 1 is not supported, got {dilation!r}")
    if ceil_mode:
        raise ValueError(f"{layer}: ceil_mode=True is not supported")
    if return_indices:
        raise ValueError(f"{layer}: return_indices=True is not supported")
    if not count_include_pad:
        raise ValueError(f"{layer}: count_include_pad=False is not supported")
    if divisor_override is not None:
        raise ValueError(f"{layer}: divisor_override is not supported")


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

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        _refuse("MaxPool2d", dilation, ceil_mode, return_indices)
        super().__init__(kernel_size, stride, padding)

    def forward(self, x):
        try:
            return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class AvgPool2d(_Pool2d):
    """Mean over windows (zero padding counted)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        _refuse("AvgPool2d", 1, ceil_mode, False, count_include_pad, divisor_override)
        super().__init__(kernel_size, stride, padding)

    def forward(self, x):
        try:
            return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


def _single(layer, name, value, minimum=1):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{layer}: {name} must be an integer or a 1-tuple, got {value!r}")
        value = value[0]
    return check_int(layer, name, value, minimum)


class _Pool1d(Module):
    config_keys = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=None, padding=0):
        layer = type(self).__name__
        k = _single(layer, "kernel_size", kernel_size)
        s = k if stride is None else _single(layer, "stride", stride)
        p = _single(layer, "padding", padding, minimum=0)
        if 2 * p > k:
            raise ValueError(f"{layer}: padding must be at most half of kernel_size {k}, "
                             f"got {p}")
        super().__init__()
        self.kernel_size, self.stride, self.padding = k, s, p

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_Pool1d):
    """Max over windows of (N, C, L) input: L_out = (L + 2p - k) // s + 1."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        _refuse("MaxPool1d", dilation, ceil_mode, return_indices)
        super().__init__(kernel_size, stride, padding)

    def forward(self, x):
        try:
            return F.max_pool1d(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class AvgPool1d(_Pool1d):
    """Mean over windows of (N, C, L) input (zero padding counted)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        _refuse("AvgPool1d", 1, ceil_mode, False, count_include_pad)
        super().__init__(kernel_size, stride, padding)

    def forward(self, x):
        try:
            return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


def _check_output_size(layer, output_size, dims):
    values = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * dims
    if len(values) != dims:
        raise ValueError(f"{layer}: output_size must be an integer or {dims} integers, got "
                         f"{output_size!r}")
    for v in values:
        if v is not None:
            check_int(layer, "output_size", v)
    return tuple(output_size) if isinstance(output_size, (list, tuple)) else output_size


class _Adaptive(Module):
    config_keys = ("output_size",)
    dims = 2

    def __init__(self, output_size):
        output_size = _check_output_size(type(self).__name__, output_size, self.dims)
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_Adaptive):
    """Average pooling to a given (H_out, W_out) whatever the input size;
    ``AdaptiveAvgPool2d(1)`` (or ``(1, 1)``) is global average pooling. ``None`` in
    ``output_size`` keeps that input size."""

    def forward(self, x):
        try:
            return F.adaptive_avg_pool2d(x, self.output_size)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class AdaptiveMaxPool2d(_Adaptive):
    """Max pooling to a given (H_out, W_out) whatever the input size."""

    def __init__(self, output_size, return_indices=False):
        _refuse("AdaptiveMaxPool2d", return_indices=return_indices)
        super().__init__(output_size)

    def forward(self, x):
        try:
            return F.adaptive_max_pool2d(x, self.output_size)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class AdaptiveAvgPool1d(_Adaptive):
    """Average pooling of (N, C, L) to a given length."""
    dims = 1

    def forward(self, x):
        try:
            return F.adaptive_avg_pool1d(x, self.output_size)
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class AdaptiveMaxPool1d(_Adaptive):
    """Max pooling of (N, C, L) to a given length."""
    dims = 1

    def __init__(self, output_size, return_indices=False):
        _refuse("AdaptiveMaxPool1d", return_indices=return_indices)
        super().__init__(output_size)

    def forward(self, x):
        try:
            return F.adaptive_max_pool1d(x, self.output_size)
        except ShapeError as e:
            raise F._in_layer(self, e) from None
