from ..dropout import Dropout, Dropout1d, Dropout2d  # noqa: F401
