from ..normalization import BatchNorm1d, BatchNorm2d, _BatchNorm  # noqa: F401
