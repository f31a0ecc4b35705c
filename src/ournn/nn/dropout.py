"""Dropout and Flatten."""
from . import functional as F
from .config import check_float, check_int
from .module import Module


class Dropout(Module):
    config_keys = ("p",)
    """Inverted dropout with probability ``p`` in training; identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        check_float("Dropout", "p", p, 0, 1)
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    config_keys = ("start_dim", "end_dim")
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        check_int("Flatten", "start_dim", start_dim, minimum=-64)
        check_int("Flatten", "end_dim", end_dim, minimum=-64)
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
