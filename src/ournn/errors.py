"""Errors raised by ournn. Each message names the op or layer and the shapes involved."""


class OurnnError(Exception):
    """Base class of every error ournn raises on purpose."""


class ShapeError(OurnnError, ValueError):
    """An input has the wrong shape for an op or layer (the message names both)."""


class DTypeError(OurnnError, TypeError):
    """An input has a dtype an op cannot work with (e.g. a gradient asked of an integer tensor)."""


class GraphError(OurnnError, RuntimeError):
    """The autograd graph cannot be used as asked (freed graph, non-scalar backward, ...)."""


class CheckpointError(OurnnError, ValueError):
    """A checkpoint file is corrupt, of another architecture or of mismatched shapes."""


class GradcheckError(OurnnError, AssertionError):
    """An analytical gradient disagrees with central differences."""


class DatasetError(OurnnError, ValueError):
    """A dataset file is missing, corrupt, truncated or fails its checksum (the message names it)."""
