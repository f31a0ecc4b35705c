"""Metrics computed per batch as (sum over the batch, number of samples).

A metric is named by a string (``"accuracy"``), given as a callable ``(output, target) ->
(sum, count)`` (named by its ``__name__``), or given already resolved as a pair ``(name,
callable)``. ``get_metric`` turns any of these into the pair; the training loop resolves its
metrics once and hands the pairs on (to ``evaluate`` as well), so a callable is never looked
up by name.
"""
import numpy as np


def _array(x):
    """The array of a Tensor (on its device) or of anything array-like (NumPy)."""
    data = getattr(x, "_data", None)
    if data is not None:
        return data
    return x.numpy() if hasattr(x, "numpy") and not isinstance(x, np.ndarray) else \
        np.asarray(x)


def accuracy(output, target):
    """Share of samples whose arg-max class equals the integer target.

    output (N, C) logits or probabilities, target (N,) ints. For one output column (binary
    logits), the class is ``output > 0``. On a GPU it is computed there; the sum alone is
    read back."""
    out = _array(output)
    target = _array(target)
    if type(out) is not type(target):       # host targets for a device output: moved there
        from ..ops.compat import on_device_of
        target = on_device_of(target, out)
    if out.ndim == 2 and out.shape[1] > 1:
        pred = out.argmax(axis=1)
    else:
        pred = (out.reshape(-1) > 0).astype(target.dtype)
        target = target.reshape(-1)
    return float((pred == target).sum()), len(target)


METRICS = {"accuracy": accuracy, "acc": accuracy}


def get_metric(metric):
    """``(name, function)`` for a metric name, a callable, or an already resolved pair."""
    if isinstance(metric, tuple) and len(metric) == 2 and isinstance(metric[0], str) \
            and callable(metric[1]):
        return metric
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)} or pass a "
                         "callable (output, target) -> (sum, count)")
    return ("accuracy" if metric == "acc" else metric), METRICS[metric]


def resolve_metrics(metrics):
    """Each of ``metrics`` as a ``(name, function)`` pair; a name given twice raises."""
    pairs = [get_metric(m) for m in metrics]
    names = [name for name, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"metric name(s) {', '.join(twice)} given twice; give each callable "
                         "its own __name__ or pass (name, function) pairs")
    return pairs
