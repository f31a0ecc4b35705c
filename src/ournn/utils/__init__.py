"""``ournn.utils``, as ``torch.utils``: ``ournn.utils.data`` holds the data pipeline."""
from . import data

__all__ = ["data"]
