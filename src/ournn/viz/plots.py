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

The pictures live in files by topic: ``curves`` (learning curves and schedules),
``predictions`` (confusion matrix, worst predictions), ``feature_maps`` (filters and what each
layer makes of one input), ``histograms`` (weights, gradients, activations), with what they
share in ``figure``; their public names are importable from here too.
"""
import os

from ..autograd.function import no_grad
from .curves import (exponential_moving_average, plot_comparison, plot_history,  # noqa: F401
                     plot_lr_schedule, _history_parts)
from .feature_maps import plot_feature_maps, plot_filters  # noqa: F401
from .figure import (DPI, INSTALL_HINT, _array, _check_path, _matplotlib,  # noqa: F401
                     _new_figure, _save, _series)
from .histograms import (activation_histograms, gradient_histograms,  # noqa: F401
                         plot_histograms, weight_histograms)
from .predictions import (confusion_matrix, plot_confusion_matrix,  # noqa: F401
                          plot_worst_predictions, worst_predictions)


# ---------------------------------------------------------------- a training run's pictures
def write_run_plots(out, history, model, tx, ty, classes=None, batch_size=500, logits=None):
    """The pictures of a finished run, into folder ``out``: ``curves.png`` (``plot_history``),
    and when test data is given, ``confusion.png`` and ``worst.png`` from the model's
    predictions on ``tx`` (eval mode, no graph, in batches). ``ournn train`` calls this.
    ``logits``: the model's outputs on ``tx`` when the caller has them already (e.g. from
    ``evaluate(..., return_outputs=True)``), so the model does not run on ``tx`` again.

    Returns {"curves": path, "confusion": path, "worst": path} for the files written."""
    os.makedirs(out, exist_ok=True)
    written = {}
    _, per_epoch, steps = _history_parts(history)
    if per_epoch or any(len(v) for v in steps.values()):
        written["curves"] = os.path.join(out, "curves.png")
        plot_history(history, written["curves"])
    if tx is None or ty is None or len(tx) == 0:
        return written
    if logits is None:
        with no_grad():
            logits = model.predict(tx, batch_size=batch_size)
    if logits.ndim != 2 or logits.shape[1] < 2:
        return written  # not a classifier: no confusion matrix
    written["confusion"] = os.path.join(out, "confusion.png")
    plot_confusion_matrix(ty, logits, written["confusion"], class_names=classes)
    written["worst"] = os.path.join(out, "worst.png")
    plot_worst_predictions(tx, ty, logits, written["worst"], class_names=classes)
    return written
