"""Learning curves: the history of a training run, several runs compared, a learning-rate
schedule."""
import math

import numpy as np

from .figure import _matplotlib, _new_figure, _check_path, _save, _grid, _series


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
