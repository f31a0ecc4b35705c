"""Pictures of training and of what a network computes, drawn with matplotlib (the ``viz``
extra: ``pip install 'ournn[viz]'``).

Every ``plot_*`` function draws one figure, saves it to ``path`` (PNG, SVG or PDF, chosen by the
extension; written atomically, so a crash never leaves half a file; ``path=None`` skips saving)
and returns the ``matplotlib.figure.Figure``, whose axes hold the plotted data (handy in tests
and notebooks). Figures are made with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: no global state, no window, safe in threads and on servers without a display.

    >>> history = model.fit((x, y), epochs=5, validation_data=(tx, ty))
    >>> plot_history(history, "curves.png")
    >>> plot_confusion_matrix(ty, model.predict(tx), "confusion.png", class_names=classes)

matplotlib is imported inside the functions, so ``import ournn`` works without it.
"""
import io
import math
import os

import numpy as np

from ..autograd.function import no_grad
from ..io import atomic_write_bytes
from ..ops.activation import softmax_array
from ..tensor import Tensor
from ..tracing import trace_model

INSTALL_HINT = "plotting needs matplotlib: pip install 'ournn[viz]'"
DPI = 100
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_ACTIVATION_TYPES = ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU")


# ---------------------------------------------------------------- figure plumbing
def _matplotlib():
    """Import matplotlib's ``Figure`` and ``colors``/``ticker`` modules, or explain how to
    install it."""
    try:
        import matplotlib  # noqa: F401  (imported first so a missing package is caught here)
        from matplotlib import colors, ticker
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return Figure, colors, ticker


def _new_figure(width, height):
    """A fresh Figure of ``width`` x ``height`` inches with constrained layout (no overlaps)."""
    Figure, _, _ = _matplotlib()
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _check_path(path):
    """``path`` as a string with a known image extension, or None (do not save)."""
    if path is None:
        return None
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in _FORMATS:
        raise ValueError(f"path: the file name must end in .png, .svg or .pdf, got {path!r}")
    return path


def _save(fig, path):
    """Render ``fig`` into memory, then write the file atomically; returns ``fig``."""
    if path is None:
        return fig
    fmt = _FORMATS[os.path.splitext(path)[1].lower()]
    # No dates in the files, so the same plot gives the same bytes.
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    atomic_write_bytes(path, buffer.getvalue())
    return fig


def _grid(fig, count, cols, **kwargs):
    """``count`` axes in a grid of ``cols`` columns; the unused cells are hidden."""
    rows = max(1, math.ceil(count / cols))
    axes = fig.subplots(rows, cols, squeeze=False, **kwargs).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return axes[:count]


def _blank(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ---------------------------------------------------------------- argument checks
def _array(x, name):
    """A NumPy array from an array, a Tensor/Parameter or a list (CuPy arrays are copied)."""
    if isinstance(x, Tensor):
        x = x.numpy()
    if type(x).__module__.startswith("cupy"):
        x = x.get()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be read as an array ({e})") from None


def _series(values, name):
    """A 1-D float array from a list of numbers (None becomes NaN)."""
    if isinstance(values, (list, tuple)):
        values = [np.nan if v is None else v for v in values]
    arr = _array(values, name)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D list of numbers, got shape {arr.shape}")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}") from None


def _labels(y, name):
    """Integer class labels (N,) from labels or from scores/logits (N, C) (argmax)."""
    arr = _array(y, name)
    if arr.ndim == 2:
        if arr.shape[1] < 2:
            raise ValueError(f"{name}: scores must have one column per class, got shape "
                             f"{arr.shape}")
        return arr.argmax(axis=1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected labels (N,) or scores (N, classes), got shape "
                         f"{arr.shape}")
    if arr.dtype.kind in "fc":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name}: labels must be whole numbers")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name}: labels must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name}: labels must be >= 0, got {arr.min()}")
    return arr


def _class_names(class_names, num_classes, name="class_names"):
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(c) for c in class_names]
    if len(names) < num_classes:
        raise ValueError(f"{name}: {len(names)} names for {num_classes} classes")
    return names


def _images(images, name="images"):
    """Images for ``imshow``: (N, H, W) grey or (N, H, W, 3) colour, from (N, H, W),
    (N, 1|3, H, W), (N, H, W, 1|3) or flattened square images (N, H*W)."""
    arr = _array(images, name).astype(np.float32, copy=False)
    if arr.ndim == 2:
        side = math.isqrt(arr.shape[1])
        if side * side != arr.shape[1]:
            raise ValueError(f"{name}: flattened images must be square, got shape {arr.shape}")
        return arr.reshape(len(arr), side, side)
    if arr.ndim == 3:
        return arr
    if arr.ndim == 4:
        if arr.shape[1] == 1:
            return arr[:, 0]
        if arr.shape[1] == 3:
            return arr.transpose(0, 2, 3, 1)
        if arr.shape[3] == 1:
            return arr[..., 0]
        if arr.shape[3] == 3:
            return arr
    raise ValueError(f"{name}: expected images (N, H, W), (N, C, H, W) with C = 1 or 3, or "
                     f"(N, H*W), got shape {arr.shape}")


def _show_image(ax, image, **kwargs):
    """Grey images with their own contrast; colour images stretched to [0, 1]."""
    if image.ndim == 3:
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
        return ax.imshow(image, **kwargs)
    return ax.imshow(image, cmap=kwargs.pop("cmap", "gray"), **kwargs)


# ---------------------------------------------------------------- learning curves
def exponential_moving_average(values, smooth=0.9):
    """The bias-corrected exponential moving average of ``values`` (as TensorBoard's
    smoothing): ``s_t = smooth * s_(t-1) + (1 - smooth) * x_t``, divided by
    ``1 - smooth ** t`` so the start is not pulled towards zero. Non-finite values are
    skipped (NaN in the output). Returns float64 (N,)."""
    values = _series(values, "values")
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    out = np.full(len(values), np.nan)
    average, weight = 0.0, 0.0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            continue
        average = smooth * average + (1.0 - smooth) * v
        weight = smooth * weight + (1.0 - smooth)
        out[i] = average / weight
    return out


def _history_parts(history):
    """(epoch numbers, per-epoch dict, per-step dict) from a ``History``, its
    ``state_dict()`` (what ``history.json`` holds) or a dict of per-epoch lists."""
    if isinstance(history, dict):
        if isinstance(history.get("history"), dict):
            per_epoch, epochs = history["history"], history.get("epoch")
            steps = history.get("steps") or {}
        else:
            per_epoch, epochs, steps = history, None, {}
    elif hasattr(history, "history") and isinstance(history.history, dict):
        per_epoch = history.history
        epochs = getattr(history, "epoch", None)
        steps = getattr(history, "steps", None) or {}
    else:
        raise TypeError(f"history: expected a History (what fit returns) or a dict, got "
                        f"{type(history).__name__}")
    per_epoch = {k: _series(v, f"history[{k!r}]") for k, v in per_epoch.items()}
    steps = {k: _series(v, f"history.steps[{k!r}]") for k, v in steps.items()}
    n = max((len(v) for v in per_epoch.values()), default=0)
    if epochs is not None and len(epochs) == n:
        x = np.asarray(epochs, dtype=np.float64)
    else:
        x = np.arange(1, n + 1, dtype=np.float64)
    return x, per_epoch, steps


def _epoch_panel(ax, ticker, x, per_epoch, key, title, ylabel, better):
    """Train and validation curves of one metric; the best validation epoch is marked."""
    marker = "o" if len(x) <= 40 else None
    if key in per_epoch:
        values = per_epoch[key]
        ax.plot(x[:len(values)], values, marker=marker, ms=4, label="train", color="tab:blue")
    val_key = "val_" + key
    if val_key in per_epoch:
        values = per_epoch[val_key]
        xs = x[:len(values)]
        label = "validation"
        finite = np.isfinite(values)
        if finite.any():
            i = int(np.nanargmax(values) if better == "max" else np.nanargmin(values))
            best = f"{values[i]:.2%}" if key == "accuracy" else f"{values[i]:.4g}"
            label = f"validation (best {best}, epoch {xs[i]:g})"
            ax.plot([xs[i]], [values[i]], marker="*", ms=12, ls="", color="tab:orange",
                    label="_best")
        ax.plot(xs, values, marker=marker, ms=4, label=label, color="tab:orange")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    _epoch_ticks(ax, ticker, x)
    if key == "accuracy":
        ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1.0))
    ax.grid(alpha=0.3)
    ax.legend()


def _epoch_ticks(ax, ticker, x):
    """Whole epoch numbers on the x axis, also for a run of one or two epochs."""
    if 0 < len(x) <= 12:
        ax.set_xticks(x)
        if len(x) == 1:
            ax.set_xlim(x[0] - 1, x[0] + 1)
    else:
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))


def _looks_logarithmic(values):
    """True when positive values span more than ~1.5 decades (a log axis reads better)."""
    finite = values[np.isfinite(values)]
    return finite.size > 1 and finite.min() > 0 and finite.max() / finite.min() > 30


def plot_history(history, path, smooth=0.9):
    """Learning curves of a training run, in up to four panels: loss and accuracy per epoch
    (train and validation, best validation epoch starred), the loss of every step (faint)
    with its exponential moving average, and the learning rate of every step.

    Args:
        history: what ``fit`` returns (a ``History``), its ``state_dict()`` (the content of
            ``history.json``), or a dict of per-epoch lists such as ``{"loss": [...]}``.
        path: where to save (.png, .svg or .pdf), or None.
        smooth: the EMA factor in [0, 1) for the per-step loss (0: no smoothing line).

    Returns the Figure. Panels without data are left out; a history with no data at all is
    a ValueError.
    """
    path = _check_path(path)
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    x, per_epoch, steps = _history_parts(history)
    step_loss = steps.get("loss", np.empty(0))
    step_lr = steps.get("lr", np.empty(0))
    panels = []
    if "loss" in per_epoch or "val_loss" in per_epoch:
        panels.append("loss")
    if "accuracy" in per_epoch or "val_accuracy" in per_epoch:
        panels.append("accuracy")
    if len(step_loss):
        panels.append("step_loss")
    if len(step_lr) or "lr" in per_epoch:
        panels.append("lr")
    if not panels:
        raise ValueError("history: no loss, accuracy or learning rate recorded (train for at "
                         "least one step)")
    _, _, ticker = _matplotlib()
    cols = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / cols)
    fig = _new_figure(6.0 * cols, 4.0 * rows)
    axes = _grid(fig, len(panels), cols)
    for ax, panel in zip(axes, panels):
        if panel == "loss":
            _epoch_panel(ax, ticker, x, per_epoch, "loss", "Loss per epoch", "loss", "min")
        elif panel == "accuracy":
            _epoch_panel(ax, ticker, x, per_epoch, "accuracy", "Accuracy per epoch",
                         "accuracy", "max")
        elif panel == "step_loss":
            s = np.arange(1, len(step_loss) + 1)
            ax.plot(s, step_loss, color="tab:blue", alpha=0.25, lw=0.8, label="loss per step")
            if smooth > 0:
                ax.plot(s, exponential_moving_average(step_loss, smooth), color="tab:blue",
                        lw=1.8, label=f"smoothed (EMA {smooth:g})")
            if _looks_logarithmic(step_loss):
                ax.set_yscale("log")
            ax.set_title("Training loss per step")
            ax.set_xlabel("step")
            ax.set_ylabel("loss")
            ax.grid(alpha=0.3, which="both")
            ax.legend()
        else:
            if len(step_lr):
                ax.plot(np.arange(1, len(step_lr) + 1), step_lr, color="tab:green",
                        label="learning rate")
                ax.set_title("Learning rate per step")
                ax.set_xlabel("step")
            else:
                lr = per_epoch["lr"]
                ax.plot(x[:len(lr)], lr, color="tab:green", marker="o", ms=4,
                        label="learning rate")
                ax.set_title("Learning rate per epoch")
                ax.set_xlabel("epoch")
                _epoch_ticks(ax, ticker, x[:len(lr)])
            ax.set_ylabel("learning rate")
            ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
    n_epochs = max((len(v) for v in per_epoch.values()), default=0)
    title = f"Training history: {n_epochs} epoch{'s' * (n_epochs != 1)}"
    if len(step_loss):
        title += f", {len(step_loss):,} steps"
    fig.suptitle(title, fontsize=13)
    return _save(fig, path)


def plot_comparison(histories, path, keys=("loss",), per_step=False, panels="keys",
                    smooth=0.9, title=None):
    """Compare several training runs in one picture.

    Args:
        histories: ``{run name: History}`` (or what ``plot_history`` accepts).
        keys: the logged values to draw, e.g. ``("loss",)`` or ``("accuracy", "val_accuracy")``.
        per_step: draw ``history.steps[key]`` per step (EMA-smoothed) instead of per epoch.
        panels: ``"keys"`` gives one panel per key with a line per run (compare runs);
            ``"runs"`` gives one panel per run with a line per key (e.g. train vs val).
    """
    if not histories:
        raise ValueError("histories: expected at least one run")
    if panels not in ("keys", "runs"):
        raise ValueError(f"panels must be 'keys' or 'runs', got {panels!r}")
    path = _check_path(path)
    parts = {name: _history_parts(h) for name, h in histories.items()}

    def series(name, key):
        x, per_epoch, steps = parts[name]
        if per_step:
            if key not in steps:
                raise ValueError(f"histories[{name!r}] has no per-step {key!r}")
            y = exponential_moving_average(steps[key], smooth)
            return np.arange(1, len(y) + 1), y
        if key not in per_epoch:
            raise ValueError(f"histories[{name!r}] has no {key!r} (it has "
                             f"{sorted(per_epoch)})")
        return x, per_epoch[key]

    outer = list(keys) if panels == "keys" else list(histories)
    inner = list(histories) if panels == "keys" else list(keys)
    fig = _new_figure(min(4.2 * len(outer), 16), 3.6)
    axes = fig.subplots(1, len(outer), squeeze=False)[0]
    for ax, o in zip(axes, outer):
        for i in inner:
            name, key = (i, o) if panels == "keys" else (o, i)
            xs, ys = series(name, key)
            ax.plot(xs, ys, label=i, linewidth=1.6)
        ax.set_title(o)
        ax.set_xlabel("step" if per_step else "epoch")
        ax.set_ylabel(o if panels == "keys" else ", ".join(keys))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_lr_schedule(lrs, path):
    """The learning rate of every step, from a list of per-step values (for instance
    ``history.steps["lr"]``, or rates collected by stepping a scheduler). Returns the
    Figure."""
    path = _check_path(path)
    if hasattr(lrs, "steps") and isinstance(lrs.steps, dict):
        lrs = lrs.steps.get("lr", [])
    lrs = _series(lrs, "lrs")
    if lrs.size == 0:
        raise ValueError("lrs: empty (expected one learning rate per step)")
    if not np.all(np.isfinite(lrs)):
        raise ValueError("lrs: contains NaN or infinite values")
    _, _, ticker = _matplotlib()
    fig = _new_figure(8.0, 4.0)
    ax = fig.subplots()
    steps = np.arange(1, len(lrs) + 1)
    ax.plot(steps, lrs, color="tab:green", lw=1.8)
    peak = int(np.argmax(lrs))
    ax.set_title(f"Learning-rate schedule: {len(lrs):,} steps, peak {lrs[peak]:.3g} at step "
                 f"{peak + 1:,}, final {lrs[-1]:.3g}")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.3g"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return _save(fig, path)


# ---------------------------------------------------------------- predictions
def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts (num_classes, num_classes) int64: ``m[t, p]`` is how many samples of true class
    ``t`` were predicted as ``p`` (rows true, columns predicted). ``y_pred`` may be labels
    (N,) or scores/logits (N, C); ``num_classes`` defaults to the largest label + 1 (or C)."""
    t = _labels(y_true, "y_true")
    p = _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length ({len(t)} vs {len(p)})")
    if num_classes is None:
        scores = _array(y_pred, "y_pred")
        num_classes = max(int(t.max(initial=-1)), int(p.max(initial=-1))) + 1
        if scores.ndim == 2:
            num_classes = max(num_classes, scores.shape[1])
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    for name, labels in (("y_true", t), ("y_pred", p)):
        if labels.size and labels.max() >= num_classes:
            raise ValueError(f"{name}: label {labels.max()} is out of range for "
                             f"{num_classes} classes")
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def plot_confusion_matrix(y_true, y_pred, path, class_names=None, normalize=False):
    """The confusion matrix as a heat map: rows are true classes, columns predictions.

    The colour of a cell is the fraction of its true class (on a square-root scale, so a
    handful of mistakes still shows against a full diagonal); the number written in it is
    the count, or with ``normalize=True`` the percentage of its true class. ``y_pred`` may
    be labels (N,) or logits (N, C). Returns the Figure (``fig.axes[0].images[0]`` holds the
    row fractions; ``confusion_matrix`` gives the counts)."""
    path = _check_path(path)
    counts = confusion_matrix(y_true, y_pred)
    names = _class_names(class_names, len(counts))
    if len(names) > len(counts):  # classes that never occur still get a row and a column
        counts = confusion_matrix(y_true, y_pred, len(names))
    k = len(counts)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    _, colors, _ = _matplotlib()
    side = min(max(6.0, 0.55 * k + 3.0), 30.0)
    fig = _new_figure(side + 1.2, side)
    ax = fig.subplots()
    norm = colors.PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    image = ax.imshow(rates, cmap="Blues", norm=norm)
    if k <= 30:
        fontsize = 10 if k <= 12 else 7
        for i in range(k):
            for j in range(k):
                if counts[i, j] == 0 and i != j:
                    continue
                text = f"{100 * rates[i, j]:.1f}" if normalize else f"{counts[i, j]:,}"
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                        color="white" if norm(rates[i, j]) > 0.6 else "black")
    long_names = max(len(n) for n in names) > 3
    ax.set_xticks(range(k), names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center",
                  rotation_mode="anchor" if long_names else "default")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    what = "% of each true class" if normalize else "counts"
    ax.set_title(f"Confusion matrix ({what})\naccuracy {accuracy:.2%} on {total:,} samples")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("fraction of the true class")
    return _save(fig, path)


def _percent(p):
    """A probability as a percentage that never rounds a near-certainty up to 100%."""
    text = f"{p:.1%}" if p >= 0.99 else f"{p:.0%}"
    return ">99.9%" if text == "100.0%" and p < 1 else text


def worst_predictions(y_true, logits, n=16):
    """The ``n`` most confidently wrong predictions, most confident first.

    Args:
        y_true: labels (N,).
        logits: class scores (N, C) (log-probabilities work too).

    Returns ``(indices, predicted, probability)``, three arrays of up to ``n`` entries:
    the sample indices, the predicted classes and the softmax probability given to them."""
    t = _labels(y_true, "y_true")
    scores = _array(logits, "logits")
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"logits: expected class scores (N, classes), got shape "
                         f"{scores.shape}")
    if len(scores) != len(t):
        raise ValueError(f"y_true and logits differ in length ({len(t)} vs {len(scores)})")
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    probs = softmax_array(scores.astype(np.float64), axis=1)
    predicted = probs.argmax(axis=1)
    confidence = probs[np.arange(len(probs)), predicted]
    wrong = np.flatnonzero(predicted != t)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:int(n)]
    return order, predicted[order], confidence[order]


def plot_worst_predictions(images, y_true, logits, path, class_names=None, n=16):
    """A grid of the ``n`` test images the model got wrong with the most confidence: each
    titled with its index and true class, the prediction and its probability in red below.

    Args:
        images: (N, H, W), (N, C, H, W) with C = 1 or 3, or flattened square images.
        y_true: labels (N,); logits: the model's outputs (N, classes).

    Returns the Figure."""
    path = _check_path(path)
    pictures = _images(images)
    t = _labels(y_true, "y_true")
    if len(pictures) != len(t):
        raise ValueError(f"images and y_true differ in length ({len(pictures)} vs {len(t)})")
    indices, predicted, probability = worst_predictions(t, logits, n)
    num_classes = _array(logits, "logits").shape[1]
    names = _class_names(class_names, num_classes)
    total_wrong = int(np.sum(_array(logits, "logits").argmax(axis=1) != t))
    if len(indices) == 0:
        fig = _new_figure(6.0, 2.0)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"No wrong predictions among {len(t):,} samples", ha="center",
                va="center", fontsize=13)
        return _save(fig, path)
    cols = min(len(indices), max(4, math.ceil(math.sqrt(len(indices)))))
    rows = math.ceil(len(indices) / cols)
    wide = max(len(names[i]) for i in np.concatenate([t[indices], predicted]))
    tile = 1.9 if wide <= 8 else 2.4
    fig = _new_figure(tile * cols, (tile + 0.55) * rows + 0.5)
    axes = _grid(fig, len(indices), cols)
    for ax, i, p, prob in zip(axes, indices, predicted, probability):
        _show_image(ax, pictures[i])
        _blank(ax)
        ax.set_title(f"#{i}  true {names[t[i]]}", fontsize=9)
        ax.set_xlabel(f"pred {names[p]} ({_percent(prob)})", fontsize=9, color="tab:red")
    fig.suptitle(f"Most confident mistakes: {len(indices)} of {total_wrong:,} wrong, "
                 f"{len(t):,} samples", fontsize=12)
    return _save(fig, path)


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


# ---------------------------------------------------------------- a training run's pictures
def write_run_plots(out, history, model, tx, ty, classes=None, batch_size=500):
    """The pictures of a finished run, into folder ``out``: ``curves.png`` (``plot_history``),
    and when test data is given, ``confusion.png`` and ``worst.png`` from the model's
    predictions on ``tx`` (eval mode, no graph, in batches). ``ournn train`` calls this.

    Returns {"curves": path, "confusion": path, "worst": path} for the files written."""
    os.makedirs(out, exist_ok=True)
    written = {}
    _, per_epoch, steps = _history_parts(history)
    if per_epoch or any(len(v) for v in steps.values()):
        written["curves"] = os.path.join(out, "curves.png")
        plot_history(history, written["curves"])
    if tx is None or ty is None or len(tx) == 0:
        return written
    with no_grad():
        logits = model.predict(tx, batch_size=batch_size)
    if logits.ndim != 2 or logits.shape[1] < 2:
        return written  # not a classifier: no confusion matrix
    written["confusion"] = os.path.join(out, "confusion.png")
    plot_confusion_matrix(ty, logits, written["confusion"], class_names=classes)
    written["worst"] = os.path.join(out, "worst.png")
    plot_worst_predictions(tx, ty, logits, written["worst"], class_names=classes)
    return written
