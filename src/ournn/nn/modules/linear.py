from ..linear import Identity, Linear  # noqa: F401
