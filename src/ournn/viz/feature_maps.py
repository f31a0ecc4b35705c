"""Inside a convolutional network: its filters, and the feature maps each layer makes of one
input (read from a trace of one forward pass, ``ournn.tracing``)."""
import math

import numpy as np

from ..tensor import Tensor
from ..tracing import trace_model
from .figure import _new_figure, _check_path, _save, _grid, _blank, _array, _show_image


# ---------------------------------------------------------------- inside the network
def _conv_weight(conv_weight):
    if hasattr(conv_weight, "weight") and not isinstance(conv_weight, (Tensor, np.ndarray)):
        conv_weight = conv_weight.weight  # a Conv2d layer
    w = _array(conv_weight, "conv_weight").astype(np.float32, copy=False)
    if w.ndim != 4:
        raise ValueError(f"conv_weight: expected (out_channels, in_channels, kh, kw), got "
                         f"shape {w.shape}")
    return w


def plot_filters(conv_weight, path, max_filters=64):
    """The kernels of a convolution (usually the first), one small image each.

    ``conv_weight``: a Conv2d layer or its weight (out_channels, in_channels, kh, kw). With one
    input channel the kernels share one diverging colour scale (red positive, blue negative,
    white zero); with three they are shown as colour images; otherwise each row is a filter
    and each column an input channel. At most ``max_filters`` filters (and 16 input channels)
    are drawn. Returns the Figure."""
    path = _check_path(path)
    w = _conv_weight(conv_weight)
    out_ch, in_ch, kh, kw = w.shape
    shown = w[:max(1, int(max_filters))]
    title = f"Convolution filters ({out_ch} x {in_ch} x {kh} x {kw})"
    if len(shown) < out_ch:
        title += f", first {len(shown)} shown"
    limit = float(np.abs(shown).max()) or 1.0
    if in_ch in (1, 3):
        cols = max(1, math.ceil(math.sqrt(len(shown))))
        rows = math.ceil(len(shown) / cols)
        fig = _new_figure(max(4.0, 1.1 * cols + 1.5), max(3.0, 1.1 * rows + 0.8))
        axes = _grid(fig, len(shown), cols)
        for number, (ax, kernel) in enumerate(zip(axes, shown)):
            if in_ch == 3:
                image = _show_image(ax, kernel.transpose(1, 2, 0))
            else:
                image = ax.imshow(kernel[0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(number), fontsize=8)
            _blank(ax)
    else:
        channels = shown[:, :16]
        rows, cols = channels.shape[:2]
        fig = _new_figure(max(4.0, 0.7 * cols + 2.0), max(3.0, 0.7 * rows + 1.0))
        axes = fig.subplots(rows, cols, squeeze=False)
        for r in range(rows):
            for c in range(cols):
                image = axes[r, c].imshow(channels[r, c], cmap="RdBu_r", vmin=-limit,
                                          vmax=limit)
                _blank(axes[r, c])
            axes[r, 0].set_ylabel(str(r), fontsize=7, rotation=0, ha="right", va="center")
        for c in range(cols):
            axes[0, c].set_title(f"in {c}", fontsize=7)
        if in_ch > cols:
            title += f", first {cols} input channels"
        fig.supylabel("filter (output channel)", fontsize=9)
        axes = axes.ravel()
    if in_ch != 3:
        fig.colorbar(image, ax=list(axes), shrink=0.7, label="weight")
    fig.suptitle(title, fontsize=12)
    return _save(fig, path)


def _layer_label(name, module):
    """``layer 3 (Conv2d)`` for a Sequential's numbered layer, ``fc (Linear)`` otherwise."""
    kind = type(module).__name__
    if name.replace(".", "").isdigit():
        return f"layer {name} ({kind})"
    return f"{name} ({kind})"


def _select_layers(model, layers, default_types):
    """[(name, module)] for ``layers`` (names, modules or layer classes), or the modules of
    ``default_types`` (class names) when ``layers`` is None."""
    named = [(name or type(model).__name__, m) for name, m in model.named_modules()]
    if layers is None:
        return [(n, m) for n, m in named if type(m).__name__ in default_types]
    if isinstance(layers, (str, type)) or not hasattr(layers, "__iter__"):
        layers = [layers]
    by_name = dict(named)
    chosen = []
    for item in layers:
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(f"layers: no layer named {item!r}; the model has "
                                 f"{', '.join(by_name)}")
            chosen.append((item, by_name[item]))
        elif isinstance(item, type):
            found = [(n, m) for n, m in named if isinstance(m, item)]
            if not found:
                raise ValueError(f"layers: the model has no {item.__name__} layer")
            chosen.extend(found)
        else:
            found = [(n, m) for n, m in named if m is item]
            if not found:
                raise ValueError(f"layers: {type(item).__name__} is not a layer of this model")
            chosen.append(found[0])
    return chosen


def _record_outputs(model, x, chosen):
    """Trace ``model(x)`` once (eval mode, no graph; ``ournn.tracing``) and return
    {name: output array} of the ``chosen`` layers, in the order their calls ended (the last
    call's output for a layer called twice), each as it was when the layer returned."""
    names = {}
    for name, module in chosen:
        names.setdefault(id(module), []).append(name)
    tr = trace_model(model, x, copy_outputs=True)
    outputs = {}
    for call in sorted(tr.modules, key=lambda c: c.end):
        if id(call.module) in names and isinstance(call.output, Tensor):
            for name in names[id(call.module)]:
                outputs[name] = _array(call.output_arrays[0], name)   # CuPy: to host
    return outputs


def plot_feature_maps(model, image, path, layers=None, max_channels=16):
    """What each convolution makes of ONE input: a block of channel images per layer.

    Args:
        model: the network; it is run once in eval mode with forward hooks.
        image: one input, (C, H, W), (H, W) or (1, C, H, W).
        layers: names (as in ``named_modules``), layer objects or layer classes to show;
            default every ``Conv2d``.
        max_channels: channels shown per layer (the first ones).

    Each map has its own colour scale (bright = strong). Returns the Figure."""
    path = _check_path(path)
    x = _array(image, "image").astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[None]
    elif x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"image: expected one input (C, H, W), (H, W) or (1, C, H, W), got "
                         f"shape {x.shape}")
    chosen = _select_layers(model, layers, ("Conv2d",))
    if not chosen:
        raise ValueError("layers: the model has no Conv2d layer; name the layers to show")
    outputs = _record_outputs(model, x, chosen)
    if not outputs:
        raise ValueError("layers: none of the chosen layers ran on this input")
    cols = 8
    blocks = [("input", x[0])]
    modules = dict(chosen)
    blocks += [(_layer_label(name, modules[name]), out[0]) for name, out in outputs.items()]
    heights = []
    for _, maps in blocks:
        rows = math.ceil(min(len(maps), max_channels) / cols) if maps.ndim == 3 else 0.4
        heights.append(rows + 0.45)
    fig = _new_figure(cols * 1.3, sum(heights) * 1.3 + 0.5)
    subfigs = fig.subfigures(len(blocks), 1, height_ratios=heights)
    for subfig, (label, maps) in zip(np.atleast_1d(subfigs), blocks):
        if maps.ndim == 3:
            shown = maps[:max_channels]
            axes = _grid(subfig, len(shown), cols)
            for channel, (ax, m) in enumerate(zip(axes, shown)):
                ax.imshow(m, cmap="gray" if label == "input" else "viridis")
                if len(maps) > 1:
                    ax.set_title(str(channel), fontsize=7, pad=2)
                _blank(ax)
            shape = " x ".join(str(d) for d in maps.shape)
            more = f", first {len(shown)} channels" if len(shown) < len(maps) else ""
            subfig.suptitle(f"{label}: {shape}{more}", fontsize=10, x=0.01, ha="left")
        else:
            ax = subfig.subplots()
            vector = maps.reshape(1, -1)
            ax.imshow(vector, cmap="viridis", aspect="auto")
            _blank(ax)
            subfig.suptitle(f"{label}: {vector.shape[1]} values", fontsize=10, x=0.01,
                            ha="left")
    return _save(fig, path)
