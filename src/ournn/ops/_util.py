"""Helpers shared by ops: undoing broadcasting, normalising axes."""


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the gradient of a broadcast operand."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def normalize_axis(axis, ndim):
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim if ndim else 0 for a in axis))


def expand_reduced(grad, shape, axis, keepdims):
    """Reshape the gradient of a reduction so it broadcasts against the input of ``shape``."""
    if keepdims:
        return grad
    axes = normalize_axis(axis, len(shape))
    new_shape = list(grad.shape)
    for a in axes:
        new_shape.insert(a, 1)
    return grad.reshape(new_shape)
