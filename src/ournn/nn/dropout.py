"""Dropout (elementwise and by channel), Flatten and Unflatten."""
from ..errors import ShapeError
from . import functional as F
from .config import check_float, check_int
from .module import Module


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training; identity in eval mode."""

    config_keys = ("p",)

    def __init__(self, p=0.5, inplace=False):
        check_float("Dropout", "p", p, 0, 1)
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    config_keys = ("start_dim", "end_dim")

    def __init__(self, start_dim=1, end_dim=-1):
        check_int("Flatten", "start_dim", start_dim, minimum=-64)
        check_int("Flatten", "end_dim", end_dim, minimum=-64)
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) input with probability ``p`` in training (scaled by
    1/(1-p)); identity in eval mode."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) input with probability ``p`` in training (scaled
    by 1/(1-p)); identity in eval mode."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: (N, 12) -> (N, 3, 4) with
    ``Unflatten(1, (3, 4))`` (one size may be -1)."""
    config_keys = ("dim", "unflattened_size")

    def __init__(self, dim, unflattened_size):
        check_int("Unflatten", "dim", dim, minimum=-64)
        if not isinstance(unflattened_size, (list, tuple)) or not unflattened_size:
            raise ValueError(f"Unflatten: unflattened_size must be a non-empty tuple of ints, "
                             f"got {unflattened_size!r}")
        sizes = tuple(check_int("Unflatten", "unflattened_size", s, minimum=-1)
                      for s in unflattened_size)
        if 0 in sizes or sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: unflattened_size must hold sizes >= 1 (one may be "
                             f"-1), got {unflattened_size!r}")
        super().__init__()
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x):
        shape = tuple(x.shape)
        d = self.dim % len(shape) if shape else 0
        new = shape[:d] + self.unflattened_size + shape[d + 1:]
        known = 1
        for s in self.unflattened_size:
            known *= s if s != -1 else 1
        if (-1 not in self.unflattened_size and known != shape[d]) or shape[d] % known:
            raise ShapeError(f"{self!r}: cannot unflatten dim {self.dim} of size {shape[d]} "
                             f"(input shape {shape}) into {self.unflattened_size}")
        return x.reshape(new)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
