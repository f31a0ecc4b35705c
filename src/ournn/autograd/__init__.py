"""Automatic differentiation: Function (the op interface), the backward engine, gradcheck."""
from .function import Function, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .engine import backward
from .gradcheck import gradcheck, gradgradcheck
from .grad import grad
from . import functional



def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - PyTorch's name
    """``torch.autograd.Variable``, kept by PyTorch for old code: a tensor (the given one if
    ``data`` is a Tensor, else a new one) with ``requires_grad`` set when asked."""
    from ..tensor import Tensor
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


__all__ = ["Variable", "grad", "gradgradcheck", "functional", "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "backward", "gradcheck"]
