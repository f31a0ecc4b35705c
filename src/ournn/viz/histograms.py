"""Distributions: histograms of weights, gradients and activations, in a grid."""
import math

import numpy as np

from .feature_maps import _layer_label, _record_outputs, _select_layers
from .figure import _matplotlib, _new_figure, _check_path, _save, _grid, _blank, _array

_ACTIVATION_TYPES = ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU")


# ---------------------------------------------------------------- distributions
def weight_histograms(model):
    """{parameter name: values} for every parameter of ``model`` (for ``plot_histograms``)."""
    return {name: np.array(_array(p, name), copy=True) for name, p in model.named_parameters()}


def gradient_histograms(model):
    """{parameter name: gradient} for every parameter with a gradient: call after
    ``loss.backward()`` (before ``zero_grad``)."""
    grads = {name: np.array(_array(p.grad, name), copy=True)
             for name, p in model.named_parameters() if p.grad is not None}
    if not grads:
        raise ValueError("gradient_histograms: no parameter has a gradient; call "
                         "loss.backward() first")
    return grads


def activation_histograms(model, x, layers=None):
    """{"layer 2 (Tanh)": output} of layers of ``model`` for the batch ``x``, from one forward
    pass in eval mode with forward hooks (no graph is built).

    ``layers``: names, layer objects or layer classes; by default the activation layers
    (ReLU, Tanh, Sigmoid, ...), or every Linear and Conv2d when the model has none. With a
    deep net these show what initialisation does: with too small weights the activations
    shrink layer after layer, with too large ones they saturate (tanh) or explode (ReLU);
    Xavier (tanh) and He (ReLU) keep their spread steady."""
    chosen = _select_layers(model, layers, _ACTIVATION_TYPES)
    if layers is None and not chosen:
        chosen = _select_layers(model, None, ("Linear", "Conv2d"))
    if not chosen:
        raise ValueError("layers: nothing to record; name the layers to show")
    labels = {name: _layer_label(name, m) for name, m in chosen}
    outputs = _record_outputs(model, _array(x, "x"), chosen)
    return {labels[name]: out for name, out in outputs.items()}


def plot_histograms(arrays_by_name, path, title="Histograms", bins=50, sharex=False,
                    log=False):
    """One histogram per array, in a grid, each with its mean and standard deviation (and
    the share of exact zeros and of non-finite values when there are any).

    Args:
        arrays_by_name: {name: array}, e.g. from ``weight_histograms``,
            ``activation_histograms`` or ``gradient_histograms``.
        sharex: one value range and one set of bins for all panels (to compare layers).
        log: a logarithmic count axis.

    Returns the Figure (each panel's bars are ``ax.patches[0]``, a ``StepPatch``)."""
    path = _check_path(path)
    if not isinstance(arrays_by_name, dict) or not arrays_by_name:
        raise ValueError("arrays_by_name: expected a non-empty dict {name: array}")
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    arrays = {}
    for name, a in arrays_by_name.items():
        a = _array(a, f"arrays_by_name[{name!r}]").ravel()
        if a.dtype.kind not in "iufb":
            raise ValueError(f"arrays_by_name[{name!r}]: expected numbers, got dtype {a.dtype}")
        arrays[str(name)] = a.astype(np.float64)
    _, _, ticker = _matplotlib()
    shared = None
    if sharex:
        finite = [a[np.isfinite(a)] for a in arrays.values()]
        finite = [f for f in finite if f.size]
        if finite:
            lo = min(float(f.min()) for f in finite)
            hi = max(float(f.max()) for f in finite)
            shared = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
    cols = min(len(arrays), 4)
    rows = math.ceil(len(arrays) / cols)
    fig = _new_figure(3.4 * cols, 2.5 * rows + 0.5)
    axes = _grid(fig, len(arrays), cols, sharex=bool(sharex and shared))
    for ax, (name, a) in zip(axes, arrays.items()):
        finite = a[np.isfinite(a)]
        ax.set_title(name, fontsize=9)
        if finite.size == 0:
            ax.text(0.5, 0.5, "no finite values", ha="center", va="center",
                    transform=ax.transAxes)
            _blank(ax)
            continue
        counts, edges = np.histogram(finite, bins=int(bins), range=shared)
        ax.stairs(counts, edges, fill=True, alpha=0.75, color="tab:blue")
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1.4 * max(int(counts.max()), 1))  # headroom for the statistics box
        lines = [f"mean {finite.mean():.3g}", f"std {finite.std():.3g}"]
        zeros = float(np.mean(finite == 0))
        if zeros >= 0.01:
            lines.append(f"zeros {zeros:.0%}")
        if finite.size < a.size:
            lines.append(f"non-finite {a.size - finite.size:,}")
        ax.text(0.98, 0.95, "\n".join(lines), transform=ax.transAxes, ha="right", va="top",
                fontsize=8, bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8,
                                  "ec": "0.8"})
        ax.xaxis.set_major_locator(ticker.MaxNLocator(4))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)
