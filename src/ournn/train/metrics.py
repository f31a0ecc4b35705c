"""Metrics computed per batch as (sum over the batch, number of samples)."""
import numpy as np


def accuracy(output, target):
    """Share of samples whose arg-max class equals the integer target.

    output (N, C) logits or probabilities, target (N,) ints. For one output column (binary
    logits), the class is ``output > 0``."""
    out = output.data if hasattr(output, "data") and not isinstance(output, np.ndarray) else output
    target = np.asarray(getattr(target, "data", target))
    if out.ndim == 2 and out.shape[1] > 1:
        pred = out.argmax(axis=1)
    else:
        pred = (out.reshape(-1) > 0).astype(target.dtype)
        target = target.reshape(-1)
    return float((pred == target).sum()), len(target)


METRICS = {"accuracy": accuracy, "acc": accuracy}


def get_metric(metric):
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)} or pass a "
                         "callable (output, target) -> (sum, count)")
    return ("accuracy" if metric == "acc" else metric), METRICS[metric]
