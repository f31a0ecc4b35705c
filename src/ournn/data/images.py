"""Turning a user's picture of a digit (any size, colour, background) into an MNIST-like
28x28 image, the way MNIST itself was made: grayscale, digit bright on dark, cropped to the
digit, scaled to fit 20x20 keeping its aspect ratio, and centred by its centre of mass in a
28x28 field. Needs Pillow (``pip install 'ournn[image]'``)."""
import os

import numpy as np

from ..errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                    ".ppm")


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("reading images needs Pillow: pip install 'ournn[image]'") from e
    return Image


def to_mnist_array(gray, box=20, size=28):
    """A float array (H, W) in [0, 1] -> float32 (28, 28) in [0, 1], MNIST-style."""
    Image = _pil()
    gray = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 0.5:                      # dark ink on light paper: invert
        gray = 1.0 - gray
        background = 1.0 - background
    ink = np.clip(gray - background, 0, None)
    if ink.max() <= 1e-6:
        raise DatasetError("the image is blank (no digit found)")
    ink /= ink.max()
    rows = np.where(ink.max(axis=1) > 0.1)[0]
    cols = np.where(ink.max(axis=0) > 0.1)[0]
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = ink.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray((ink * 255).astype(np.uint8)).resize((new_w, new_h),
                                                                   Image.LANCZOS)
    digit = np.asarray(resized, dtype=np.float32) / 255.0
    canvas = np.zeros((size, size), dtype=np.float32)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = digit
    # shift so the centre of mass lands on the centre of the field
    total = canvas.sum()
    ys, xs = np.indices(canvas.shape)
    cy, cx = (ys * canvas).sum() / total, (xs * canvas).sum() / total
    dy, dx = int(round((size - 1) / 2 - cy)), int(round((size - 1) / 2 - cx))
    canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    return np.clip(canvas, 0, 1)


def load_image(path):
    """Read an image file as MNIST-like float32 (28, 28) in [0, 1]."""
    Image = _pil()
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0
                gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
                if alpha.min() < 0.99:
                    # transparent background: the strokes are wherever it is opaque
                    opaque_dark = np.median(gray[alpha > 0.5]) < 0.5 if (alpha > 0.5).any() \
                        else True
                    gray = alpha * (1 - gray) if opaque_dark else alpha * gray
            else:
                gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: cannot read image ({e})") from e
    try:
        return to_mnist_array(gray)
    except DatasetError as e:
        raise DatasetError(f"{path}: {e}") from e


def find_images(paths):
    """Expand files and folders into a sorted list of image files."""
    found = []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    found.append(os.path.join(p, name))
        elif os.path.exists(p):
            found.append(p)
        else:
            raise DatasetError(f"{p}: no such file or folder")
    return found
