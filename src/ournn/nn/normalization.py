"""Batch normalisation layers with running statistics, as PyTorch."""
import numpy as np

from ..errors import ShapeError
from . import functional as F
from .config import check_dtype, check_float, check_int, reserve
from .module import Module, Parameter


class _BatchNorm(Module):
    config_keys = ("num_features", "eps", "momentum", "affine", "track_running_stats")
    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float32):
        layer = type(self).__name__
        num_features = check_int(layer, "num_features", num_features)
        check_float(layer, "eps", eps, low=0)
        if eps <= 0:
            raise ValueError(f"{layer}: eps must be a finite number > 0, got {eps!r}")
        check_float(layer, "momentum", momentum, 0, 1)
        check_dtype(layer, dtype)
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
        if x.ndim not in self.expected_dims or x.shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self.expected_dims)
            raise ShapeError(f"{self!r}: expected {dims} input with {self.num_features} "
                             f"channels in dim 1, got shape {tuple(x.shape)}")
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
        return F.batch_norm(x, self.running_mean if self.track_running_stats else None,
                            self.running_var if self.track_running_stats else None,
                            self.weight, self.bias, use_batch, self.momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalise (N, C) or (N, C, L) input per channel."""
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalise (N, C, H, W) input per channel."""
    expected_dims = (4,)
