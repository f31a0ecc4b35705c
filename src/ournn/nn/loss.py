"""Loss modules: wrappers over the functional losses, with PyTorch's arguments."""
import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    config_keys = ("reduction",)

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction,
                                             type(self).__name__)

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    """A loss with optional class weights, kept as the buffer ``weight`` (as PyTorch)."""
    config_keys = ("reduction", "weight")

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        if isinstance(weight, str):     # the older positional reduction
            weight, reduction = None, weight
        super().__init__(size_average, reduce, reduction)
        if weight is not None:
            arr = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
            if arr.ndim != 1 or arr.dtype.kind not in "fiu":
                raise ValueError(f"{type(self).__name__}: weight must be a 1-D tensor of "
                                 f"numbers (one per class), got shape {arr.shape} and dtype "
                                 f"{arr.dtype}")
            weight = Tensor(arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float32))
        self.register_buffer("weight", weight)

    def get_config(self):
        config = super().get_config()
        if self.weight is not None:
            config["weight"] = self.weight._data.tolist()
        return config


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (N, C) against class indices (N,) or class probabilities
    (N, C); see ``F.cross_entropy``."""
    config_keys = ("reduction", "weight", "ignore_index", "label_smoothing")

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        if isinstance(weight, str) and isinstance(size_average, (int, float)) \
                and not isinstance(size_average, bool):     # older (reduction, smoothing)
            weight, reduction, label_smoothing, size_average = None, weight, size_average, None
        super().__init__(weight, size_average, reduce, reduction)
        if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing!r}")
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """NLL of log-probabilities (N, C) at class indices (N,); see ``F.nll_loss``."""
    config_keys = ("reduction", "weight", "ignore_index")

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; see ``F.l1_loss``."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared below ``beta``, absolute above; see ``F.smooth_l1_loss``."""
    config_keys = ("reduction", "beta")

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be a number >= 0, got {beta!r}")
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared below ``delta``, linear above; see ``F.huber_loss``."""
    config_keys = ("reduction", "delta")

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be a number > 0, got {delta!r}")
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities against a target; ``reduction='batchmean'`` gives
    the mathematical KL per sample. See ``F.kl_div``."""
    config_keys = ("reduction", "log_target")

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        if reduction == "batchmean":
            Module.__init__(self)
            self.reduction = "batchmean"
        else:
            super().__init__(size_average, reduce, reduction)
        self.log_target = bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_WeightedLoss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    config_keys = ("reduction", "weight", "pos_weight")

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        if isinstance(weight, str):     # the older (reduction, pos_weight)
            weight, reduction, pos_weight = None, weight, size_average
            size_average = None
        super().__init__(None, size_average, reduce, reduction)
        for name, value in (("weight", weight), ("pos_weight", pos_weight)):
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(np.asarray(value, dtype=np.float32))
            self.register_buffer(name, value)

    def get_config(self):
        config = {"reduction": self.reduction}
        for name in ("weight", "pos_weight"):
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)._data.tolist()
        return config

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
