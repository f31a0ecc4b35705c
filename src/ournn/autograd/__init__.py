"""Automatic differentiation: Function (the op interface), the backward engine, gradcheck."""
from .function import Function, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from .engine import backward
from .gradcheck import gradcheck

__all__ = ["Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "backward", "gradcheck"]
