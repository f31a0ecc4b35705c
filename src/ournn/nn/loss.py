"""Loss modules: wrappers over the functional losses, with ``reduction``."""
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) against class indices (N,); see ``F.cross_entropy``."""

    def __init__(self, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        super().__init__(reduction)
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction, self.label_smoothing,
                               self.ignore_index)


class NLLLoss(_Loss):
    def __init__(self, reduction="mean", ignore_index=-100):
        super().__init__(reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction, self.ignore_index)


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.pos_weight = pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction,
                                                  self.pos_weight)
