from ..module import Module, Parameter  # noqa: F401
