from ..conv import Conv1d, Conv2d, ConvTranspose2d, _ConvNd  # noqa: F401
