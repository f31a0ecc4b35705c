"""Batch normalisation layers with running statistics, as PyTorch."""
import numpy as np

from ..errors import ShapeError
from . import functional as F
from .config import check_factory, check_float, check_int, reserve
from .module import Module, Parameter, with_dtype


class _BatchNorm(Module):
    config_keys = ("num_features", "eps", "momentum", "affine", "track_running_stats")
    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        layer = type(self).__name__
        num_features = check_int(layer, "num_features", num_features)
        check_float(layer, "eps", eps, low=0)
        if eps <= 0:
            raise ValueError(f"{layer}: eps must be a finite number > 0, got {eps!r}")
        check_float(layer, "momentum", momentum, 0, 1)
        dtype = check_factory(layer, device, dtype)
        reserve(f"{layer}({num_features})", 2 * num_features * bool(affine) +
                (2 * num_features + 1) * bool(track_running_stats))
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x):
        # the number of dims is this layer's to check (F.batch_norm takes any (N, C, *));
        # F.batch_norm checks the channels
        if x.ndim not in self.expected_dims:
            c = self.num_features
            want = " or ".join(f"({', '.join(('N', str(c)) + d)})" for d in self.expected_rest)
            raise ShapeError(f"{self!r}: expected input {want}, got shape {tuple(x.shape)}")
        use_batch = self.training or not self.track_running_stats
        try:
            out = F.batch_norm(x, self.running_mean if self.track_running_stats else None,
                               self.running_var if self.track_running_stats else None,
                               self.weight, self.bias, use_batch, self.momentum, self.eps)
        except ShapeError as e:
            raise F._in_layer(self, e) from None
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalise (N, C) or (N, C, L) input per channel."""
    expected_dims = (2, 3)
    expected_rest = ((), ("L",))


class BatchNorm2d(_BatchNorm):
    """Normalise (N, C, H, W) input per channel."""
    expected_dims = (4,)
    expected_rest = (("H", "W"),)


def _check_eps(layer, eps):
    check_float(layer, "eps", eps, low=0)
    if eps <= 0:
        raise ValueError(f"{layer}: eps must be a finite number > 0, got {eps!r}")
    return eps


class LayerNorm(Module):
    """Normalise over the last dims given by ``normalized_shape`` (per sample), then scale and
    shift elementwise (``elementwise_affine``): as ``torch.nn.LayerNorm``."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        shape = (normalized_shape,) if not isinstance(normalized_shape, (list, tuple)) \
            else tuple(normalized_shape)
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must not be empty")
        shape = tuple(check_int("LayerNorm", "normalized_shape", d) for d in shape)
        _check_eps("LayerNorm", eps)
        dtype = check_factory("LayerNorm", device, dtype)
        size = int(np.prod(shape))
        reserve(f"LayerNorm({shape})", 2 * size if elementwise_affine else 0)
        super().__init__()
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(np.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=dtype)) \
            if elementwise_affine and bias else None
        self._has_bias = bool(bias)

    def get_config(self):
        return with_dtype(self, {"normalized_shape": list(self.normalized_shape),
                                 "eps": self.eps,
                                 "elementwise_affine": self.elementwise_affine,
                                 "bias": self._has_bias})

    def forward(self, x):
        try:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        except ShapeError as e:                 # F.layer_norm checks the shape
            raise F._in_layer(self, e) from None

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Normalise (N, C, *) input over groups of C / num_groups channels, then scale and shift
    per channel (``affine``): as ``torch.nn.GroupNorm``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None):
        num_groups = check_int("GroupNorm", "num_groups", num_groups)
        num_channels = check_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        _check_eps("GroupNorm", eps)
        dtype = check_factory("GroupNorm", device, dtype)
        reserve(f"GroupNorm({num_groups}, {num_channels})", 2 * num_channels if affine else 0)
        super().__init__()
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.affine = bool(affine)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dtype))
            self.bias = Parameter(np.zeros(num_channels, dtype=dtype))
        else:
            self.weight = self.bias = None

    def get_config(self):
        return with_dtype(self, {"num_groups": self.num_groups,
                                 "num_channels": self.num_channels, "eps": self.eps,
                                 "affine": self.affine})

    def forward(self, x):
        # F.group_norm checks the channels against the weight; without one (affine=False)
        # the count is this layer's to check
        if self.weight is None and (x.ndim < 2 or x.shape[1] != self.num_channels):
            raise ShapeError(f"{self!r}: expected input (N, {self.num_channels}, *), got "
                             f"shape {tuple(x.shape)}")
        try:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        except ShapeError as e:
            raise F._in_layer(self, e) from None

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
