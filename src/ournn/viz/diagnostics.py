"""Training diagnostics: the gradient norm of every parameter, step by step.

    >>> logger = GradientNormLogger(every=10)
    >>> model.fit((x, y), epochs=3, callbacks=[logger])
    >>> plot_gradient_norms(logger, "grad_norms.png")

Vanishing gradients show as the lines of the first layers sinking decades below the last
ones; exploding gradients as lines shooting up (then clip with ``clip_grad_norm_`` or lower
the learning rate).
"""
import math

import numpy as np

from . import plots


def _norm(grad):
    """The L2 norm of a gradient array (NumPy or CuPy) as a Python float, computed in float64
    so that large gradients do not overflow float32 on the way."""
    return math.sqrt(float((grad.astype("float64") ** 2).sum()))


class GradientNormLogger:
    """Record the L2 norm of each parameter's gradient every ``every`` steps.

    A training callback (pass it in ``fit(callbacks=[...])``): the trainer calls the hooks a
    callback has, so it needs only ``on_batch_end`` and does not subclass
    ``ournn.train.Callback`` (viz sits below train and never imports it).

    The Trainer zeroes gradients just before each backward, so at ``on_batch_end`` the
    gradients of the step just taken are still in ``p.grad``.

    Attributes:
        steps: the global step numbers recorded (1-based).
        norms: {parameter name: [norm at each recorded step]}; NaN where a parameter had no
            gradient (frozen, or unused in that step).
    """

    priority = 200   # ournn.train.callbacks.PRIORITY_DEFAULT, as a Callback subclass has

    def __init__(self, every=1):
        if int(every) < 1:
            raise ValueError(f"GradientNormLogger: every must be >= 1, got {every}")
        self.every = int(every)
        self.steps = []
        self.norms = {}

    def on_batch_end(self, trainer, loss):
        if trainer.global_step % self.every:
            return
        self.record(trainer.model, trainer.global_step)

    def record(self, model, step):
        """Append the gradient norms of ``model``'s parameters as those of ``step`` (also
        usable in a hand-written loop, after ``loss.backward()``)."""
        for values in self.norms.values():
            values.append(math.nan)  # overwritten below for parameters that have gradients
        for name, p in model.named_parameters():
            value = math.nan if p.grad is None else _norm(p.grad)
            if name not in self.norms:
                self.norms[name] = [math.nan] * len(self.steps) + [value]
            else:
                self.norms[name][-1] = value
        self.steps.append(int(step))

    def __repr__(self):
        return (f"GradientNormLogger(every={self.every}, steps={len(self.steps)}, "
                f"parameters={len(self.norms)})")


def plot_gradient_norms(logger_or_dict, path, steps=None, smooth=0.0):
    """Gradient norms over training on a log scale: one line per parameter, one colour per
    layer (weights solid, biases and other parameters dotted), and the norm over all
    parameters as a dashed black line.

    Args:
        logger_or_dict: a ``GradientNormLogger`` or a dict {parameter name: [norms]}.
        path: where to save (.png, .svg or .pdf), or None.
        steps: the x values when a dict is given (default 1, 2, ...).
        smooth: an EMA factor in [0, 1) to calm noisy lines (0: the raw norms).

    Returns the Figure."""
    path = plots._check_path(path)
    if isinstance(logger_or_dict, GradientNormLogger):
        norms, steps = logger_or_dict.norms, logger_or_dict.steps
    elif isinstance(logger_or_dict, dict):
        norms = logger_or_dict
    else:
        raise TypeError(f"logger_or_dict: expected a GradientNormLogger or a dict, got "
                        f"{type(logger_or_dict).__name__}")
    if not 0.0 <= smooth < 1.0:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    series = {str(k): plots._series(v, f"norms[{k!r}]") for k, v in norms.items()}
    if not series or not any(len(v) for v in series.values()):
        raise ValueError("logger_or_dict: no gradient norms recorded (train for at least "
                         "`every` steps)")
    length = len(next(iter(series.values())))
    for name, values in series.items():
        if len(values) != length:
            raise ValueError(f"norms[{name!r}]: {len(values)} values, expected {length} like "
                             "the others")
    x = np.arange(1, length + 1) if steps is None else plots._series(steps, "steps")
    if len(x) != length:
        raise ValueError(f"steps: {len(x)} values for {length} recorded norms")
    plots._matplotlib()  # the install hint when matplotlib is missing
    from matplotlib import colormaps

    layers = list(dict.fromkeys(name.rpartition(".")[0] for name in series))
    if len(layers) <= 10:
        palette = [colormaps["tab10"](i) for i in range(len(layers))]
    else:
        palette = [colormaps["viridis"](0.85 * i / (len(layers) - 1))
                   for i in range(len(layers))]
    colour = dict(zip(layers, palette))
    fig = plots._new_figure(10.0, 5.5)
    ax = fig.subplots()
    for name, values in series.items():
        if smooth:
            values = plots.exponential_moving_average(values, smooth)
        layer, _, kind = name.rpartition(".")
        ax.plot(x, np.where(values > 0, values, np.nan),  # a log axis cannot show zeros
                color=colour[layer], lw=1.3, ls="-" if kind == "weight" else ":", label=name)
    stacked = np.stack(list(series.values()))
    total = np.sqrt(np.nansum(stacked ** 2, axis=0))
    total[np.all(np.isnan(stacked), axis=0)] = np.nan
    if smooth:
        total = plots.exponential_moving_average(total, smooth)
    ax.plot(x, np.where(total > 0, total, np.nan), color="black", lw=2.0, ls="--",
            label="all parameters")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient L2 norm")
    smoothed = f", EMA {smooth:g}" if smooth else ""
    ax.set_title(f"Gradient norm per parameter ({len(series)} parameters, {length:,} "
                 f"recorded steps{smoothed})")
    ax.grid(alpha=0.3, which="both")
    ncol = 1 if len(series) <= 20 else 2
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, ncol=ncol,
              frameon=False)
    return plots._save(fig, path)
