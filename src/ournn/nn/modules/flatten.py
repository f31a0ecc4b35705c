from ..dropout import Flatten, Unflatten  # noqa: F401
