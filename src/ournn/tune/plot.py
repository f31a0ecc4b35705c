"""scatter.png: validation accuracy against each hyperparameter, one panel per
hyperparameter (log x-axis for LogUniform, one slot per value for Choice and grid values),
the best trial highlighted, failed trials as crosses along the bottom.

Needs matplotlib (the ``viz`` extra); drawn with ``matplotlib.figure.Figure`` and the Agg
canvas, never pyplot, so it works without a display and in worker threads.
"""
import io
import json
import math
import warnings

from ..io import atomic_write_bytes
from .space import format_value

VIZ_HINT = "pip install 'ournn[viz]'"


def write_scatter(study, path):
    """Draw the study's scatter plot into ``path`` (atomically). Returns ``path``, or None
    with a warning when matplotlib is missing or no trial finished."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.transforms import blended_transform_factory
    except ImportError:
        warnings.warn(f"scatter.png skipped: plotting needs matplotlib: {VIZ_HINT}",
                      stacklevel=2)
        return None
    records = study.sorted_records()
    if not records or not study.params:
        return None
    names = study.params
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    ok = [r for r in records if r["status"] == "ok" and r["val_accuracy_best"] is not None]
    failed = [r for r in records if r not in ok]
    best = study.best
    for k, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        dist = study.space[name]
        x_of = _axis(ax, dist)
        xs = [x_of(r["params"][name], r["trial"]) for r in ok]
        ax.scatter(xs, [100 * r["val_accuracy_best"] for r in ok], s=28, color="tab:blue",
                   alpha=0.8, label="trial")
        if best is not None:
            ax.scatter([x_of(best["params"][name], best["trial"])], [100 * best["val_accuracy_best"]],
                       s=180, marker="*", color="tab:red", zorder=3,
                       label=f"best (trial {best['trial']})")
        if failed:
            bottom = blended_transform_factory(ax.transData, ax.transAxes)
            ax.scatter([x_of(r["params"][name], r["trial"]) for r in failed],
                       [0.04] * len(failed), transform=bottom, marker="x", color="0.45",
                       label="failed")
        ax.set_xlabel(name + (" (log scale)" if dist.scale == "log" else ""))
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"{study.search} search: {len(records)} trials"
                 + (f", {len(failed)} failed" if failed else "")
                 + f" ({study.budget.epochs} epoch(s), {study.budget.val_split} validation "
                   "images)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _axis(ax, dist):
    """Set up the x-axis for ``dist``; returns ``value, trial -> x position``."""
    if dist.scale == "log":
        ax.set_xscale("log")
        ax.set_xlim(dist.low / 1.3, dist.high * 1.3)
        return lambda value, trial: value
    if dist.scale == "categorical":
        keys = [json.dumps(v) for v in dist.values]
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([format_value(v) for v in dist.values],
                           rotation=30 if len(keys) > 4 else 0)
        ax.set_xlim(-0.5, len(keys) - 0.5)

        def position(value, trial):
            # a small fixed offset per trial keeps equal values from hiding each other
            jitter = ((trial * 0.618) % 1.0 - 0.5) * 0.2
            return keys.index(json.dumps(value)) + jitter
        return position
    span = (dist.high - dist.low) or 1.0
    ax.set_xlim(dist.low - 0.05 * span, dist.high + 0.05 * span)
    return lambda value, trial: value
