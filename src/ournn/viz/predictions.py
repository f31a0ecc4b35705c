"""What a classifier gets wrong: the confusion matrix and the worst predictions."""
import math

import numpy as np

from ..ops.activation import softmax_array
from .figure import (_matplotlib, _new_figure, _check_path, _save, _grid, _blank, _array, _labels,
                     _class_names, _images, _show_image)


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
