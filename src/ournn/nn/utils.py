"""Gradient utilities, as ``torch.nn.utils``."""
from ..optim.optimizer import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
