"""Convolution layers: Conv1d on (N, C, L), Conv2d and ConvTranspose2d on (N, C, H, W)."""
import math

import numpy as np

from ..errors import ShapeError
from . import functional as F
from . import init
from .linear import _as_input
from .config import check_factory, check_int, check_pair, reserve
from .module import Module, Parameter, with_dtype


def _check_unsupported(layer, dilation, groups, padding_mode):
    if dilation not in (1, (1, 1), [1, 1], (1,), [1]):
        raise ValueError(f"{layer}: dilation other than 1 is not supported, got {dilation!r}")
    if groups != 1:
        raise ValueError(f"{layer}: groups other than 1 are not supported, got {groups!r}")
    if padding_mode != "zeros":
        raise ValueError(f"{layer}: padding_mode must be 'zeros' (the only one supported), "
                         f"got {padding_mode!r}")


def _single(layer, name, value, minimum=1):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{layer}: {name} must be an integer or a 1-tuple, got {value!r}")
        value = value[0]
    return check_int(layer, name, value, minimum)


class _ConvNd(Module):
    """Weight and bias allocation and PyTorch's initialisation (kaiming_uniform_, a=sqrt(5))."""

    def _make_parameters(self, weight_shape, fan_in_dims, bias, dtype):
        self.weight = Parameter(np.empty(weight_shape, dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self._fan_in = math.prod(weight_shape[1:]) if fan_in_dims is None else fan_in_dims
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self._fan_in) if self._fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if any(self.padding):
            s += f", padding={self.padding}"
        if any(getattr(self, "output_padding", ())):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution. Input (N, C_in, H, W) -> (N, C_out, H_out, W_out) with
    H_out = (H + 2*padding - kernel) // stride + 1.

    Weight (C_out, C_in, kH, kW) and bias initialised as PyTorch (kaiming_uniform_, a=sqrt(5)).
    ``dilation`` and ``groups`` must be 1."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        in_channels = check_int("Conv2d", "in_channels", in_channels)
        out_channels = check_int("Conv2d", "out_channels", out_channels)
        kh, kw = check_pair("Conv2d", "kernel_size", kernel_size)
        check_pair("Conv2d", "stride", stride)
        check_pair("Conv2d", "padding", padding, minimum=0)
        _check_unsupported("Conv2d", dilation, groups, padding_mode)
        dtype = check_factory("Conv2d", device, dtype)
        reserve(f"Conv2d({in_channels}, {out_channels}, {kh}x{kw})",
                (in_channels * kh * kw + bool(bias)) * out_channels)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = F._pair(padding, "padding")
        self._make_parameters((out_channels, in_channels) + self.kernel_size, None, bias, dtype)

    def get_config(self):
        return with_dtype(self, {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride),
            "padding": list(self.padding), "bias": self.bias is not None})

    def forward(self, x):
        x = _as_input(x, self.weight, self)
        try:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        except ShapeError as e:                 # F.conv2d checks the shape, this names us
            raise F._in_layer(self, e) from None


class Conv1d(_ConvNd):
    """1-D convolution. Input (N, C_in, L) (or (C_in, L)) -> (N, C_out, L_out) with
    L_out = (L + 2*padding - kernel) // stride + 1. Weight (C_out, C_in, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        in_channels = check_int("Conv1d", "in_channels", in_channels)
        out_channels = check_int("Conv1d", "out_channels", out_channels)
        k = _single("Conv1d", "kernel_size", kernel_size)
        s = _single("Conv1d", "stride", stride)
        p = _single("Conv1d", "padding", padding, minimum=0)
        _check_unsupported("Conv1d", dilation, groups, padding_mode)
        dtype = check_factory("Conv1d", device, dtype)
        reserve(f"Conv1d({in_channels}, {out_channels}, {k})",
                (in_channels * k + 1) * out_channels)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (k,), (s,), (p,)
        self._make_parameters((out_channels, in_channels, k), None, bias, dtype)

    def get_config(self):
        return with_dtype(self, {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": self.kernel_size[0], "stride": self.stride[0],
            "padding": self.padding[0], "bias": self.bias is not None})

    def forward(self, x):
        x = _as_input(x, self.weight, self)
        try:
            return F.conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0])
        except ShapeError as e:
            raise F._in_layer(self, e) from None


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input), used to
    upsample: (N, C_in, H, W) -> (N, C_out, (H - 1)*stride - 2*padding + kernel +
    output_padding, ...). Weight (C_in, C_out, kH, kW), initialised as PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        layer = "ConvTranspose2d"
        in_channels = check_int(layer, "in_channels", in_channels)
        out_channels = check_int(layer, "out_channels", out_channels)
        kh, kw = check_pair(layer, "kernel_size", kernel_size)
        sh, sw = check_pair(layer, "stride", stride)
        check_pair(layer, "padding", padding, minimum=0)
        oph, opw = check_pair(layer, "output_padding", output_padding, minimum=0)
        if oph >= sh or opw >= sw:
            raise ValueError(f"{layer}: output_padding must be smaller than stride "
                             f"{(sh, sw)}, got {output_padding!r}")
        _check_unsupported(layer, dilation, groups, padding_mode)
        dtype = check_factory(layer, device, dtype)
        reserve(f"{layer}({in_channels}, {out_channels}, {kh}x{kw})",
                (out_channels * kh * kw) * in_channels + out_channels)
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kh, kw)
        self.stride = (sh, sw)
        self.padding = F._pair(padding, "padding")
        self.output_padding = (oph, opw)
        # PyTorch's fan_in for this weight layout: dim 1 (C_out) times the kernel
        self._make_parameters((in_channels, out_channels, kh, kw), out_channels * kh * kw,
                              bias, dtype)

    def get_config(self):
        return with_dtype(self, {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size), "stride": list(self.stride),
            "padding": list(self.padding), "output_padding": list(self.output_padding),
            "bias": self.bias is not None})

    def forward(self, x, output_size=None):
        x = _as_input(x, self.weight, self)
        output_padding = self.output_padding
        if output_size is not None and x.ndim in (3, 4):   # (other inputs: F's error)
            output_padding = self._output_padding(x, output_size)
        try:
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                      output_padding)
        except ShapeError as e:
            raise F._in_layer(self, e) from None

    def _output_padding(self, x, output_size):
        size = tuple(output_size)[-2:]
        pads = []
        for d in range(2):
            smallest = ((x.shape[-2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.kernel_size[d])
            extra = size[d] - smallest
            if not 0 <= extra < self.stride[d]:
                raise ShapeError(f"{self!r}: output_size {tuple(output_size)} cannot be "
                                 f"reached from input {tuple(x.shape)}")
            pads.append(extra)
        return tuple(pads)
