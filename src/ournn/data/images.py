"""Turning a user's picture of a digit (any size, colour, background) into an MNIST-like
28x28 image, the way MNIST itself was made: grayscale, digit bright on dark, cropped to the
digit, scaled to fit 20x20 keeping its aspect ratio, and centred by its centre of mass in a
28x28 field. Needs Pillow (``pip install 'ournn[image]'``)."""
import os
import warnings

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


MAX_IMAGE_PIXELS = 40_000_000     # a photo is ~12 Mpx; more is refused before decoding


def _gray_of(img):
    """An opened image as float32 grayscale in [0, 1], each mode scaled by its real range:
    8-bit modes by 255, 16-bit and 32-bit integer images and float images by their own
    minimum and maximum (a 16-bit scan uses 0..65535, a 12-bit one 0..4095, a float one
    0..1 or anything), palette images through their palette."""
    mode = img.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("the image holds non-finite values (NaN or infinity)")
        low, high = float(arr.min()), float(arr.max())
        if high <= low:
            return np.zeros(arr.shape, dtype=np.float32)
        return ((arr - low) / (high - low)).astype(np.float32)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0
        gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
        if alpha.min() < 0.99:
            # transparent background: the strokes are wherever it is opaque
            opaque_dark = np.median(gray[alpha > 0.5]) < 0.5 if (alpha > 0.5).any() \
                else True
            gray = alpha * (1 - gray) if opaque_dark else alpha * gray
        return gray
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def load_image(path):
    """Read an image file as MNIST-like float32 (28, 28) in [0, 1]. Images of more than
    ``MAX_IMAGE_PIXELS`` pixels, empty images and files that are not images are refused
    with a DatasetError naming the file."""
    Image = _pil()
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DatasetError(f"{path}: is a folder, not an image")
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file or folder")
    try:
        with warnings.catch_warnings():        # the size is checked here, against our limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            w, h = img.size
            if w < 1 or h < 1:
                raise DatasetError(f"{path}: the image is empty ({w}x{h} pixels)")
            if w * h > MAX_IMAGE_PIXELS:
                raise DatasetError(f"{path}: {w}x{h} pixels is over the limit of "
                                   f"{MAX_IMAGE_PIXELS:,} (ournn.data.images."
                                   "MAX_IMAGE_PIXELS); scale the image down")
            img.load()
            gray = _gray_of(img)
    except DatasetError:
        raise
    except Image.DecompressionBombError as e:
        raise DatasetError(f"{path}: refused: {e}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
        raise DatasetError(f"{path}: cannot read image ({e})") from None
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise DatasetError(f"{path}: cannot read image (unexpected shape {gray.shape})")
    try:
        return to_mnist_array(gray)
    except DatasetError as e:
        raise DatasetError(f"{path}: {e}") from e


def find_images(paths):
    """Expand files and folders into a sorted list of image files (a path that does not
    exist stays in the list: reading it fails on its own line)."""
    found = []
    for p in paths:
        if os.path.isdir(p):
            try:
                names = sorted(os.listdir(p))
            except OSError as e:
                raise DatasetError(f"{p}: cannot list the folder ({e.strerror})") from None
            for name in names:
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    found.append(os.path.join(p, name))
        else:
            found.append(p)
    return found
