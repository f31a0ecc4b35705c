"""What every picture of ``ournn.viz`` shares: matplotlib imported on first use (with the
install hint), figures made without ``pyplot``, saving atomically by extension, and the checks
that turn arrays, Tensors and lists into arrays with a clear error."""
import io
import math
import os

import numpy as np

from ..files import atomic_write_bytes
from ..tensor import Tensor

INSTALL_HINT = "plotting needs matplotlib: pip install 'ournn[viz]'"
DPI = 100
_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


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
