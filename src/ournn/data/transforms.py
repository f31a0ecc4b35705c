"""Transforms on whole batches of images, vectorised in NumPy.

Every transform is a callable taking an array (usually a float32 batch (N, C, H, W)) and
returning a new one. Random transforms own a ``numpy.random.Generator`` (``seed=None`` draws
its seed from ``ournn``'s generator, so ``ournn.manual_seed`` makes them reproducible) and have
``state_dict()`` / ``load_state_dict()`` for resuming a run. Pass them to ``DataLoader(...,
transform=...)`` or a dataset's ``transform``.
"""
import copy

import numpy as np

from ..errors import ShapeError
from ..random import get_generator


def _check_batch(x, name):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ShapeError(f"{name} expects a batch of images (N, C, H, W), got shape {x.shape}")
    return x


class _Random:
    """Mixin: a transform with its own generator and a saveable state."""

    def _init_rng(self, seed):
        if seed is None:
            seed = int(get_generator().integers(2**63))
        self.rng = np.random.default_rng(seed)

    def state_dict(self):
        return {"rng": copy.deepcopy(self.rng.bit_generator.state)}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])


class Compose:
    """Apply ``transforms`` one after the other: ``Compose([ToFloat(), Normalize(0.5, 0.5)])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    def state_dict(self):
        return {"transforms": [t.state_dict() if hasattr(t, "state_dict") else None
                               for t in self.transforms]}

    def load_state_dict(self, state):
        for transform, sub in zip(self.transforms, state["transforms"]):
            if sub is not None:
                transform.load_state_dict(sub)

    def __repr__(self):
        return f"Compose([{', '.join(repr(t) for t in self.transforms)}])"


class ToFloat:
    """``x * scale`` as float32 (uint8 pixels 0..255 -> [0, 1] with the default scale)."""

    def __init__(self, scale=1 / 255):
        self.scale = scale

    def __call__(self, x):
        return np.asarray(x).astype(np.float32) * np.float32(self.scale)

    def __repr__(self):
        return f"ToFloat(scale={self.scale})"


class Normalize:
    """``(x - mean) / std`` with scalars or per-channel sequences (length C of (N, C, ...))."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must not be zero, got {std}")

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float32)
        mean, std = self.mean, self.std
        if mean.ndim == 1 or std.ndim == 1:  # per channel: broadcast along axis 1
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean, std = mean.reshape(shape), std.reshape(shape)
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """(N, C, H, W) -> (N, C*H*W): every dimension after the first joined into one."""

    def __call__(self, x):
        x = np.asarray(x)
        return x.reshape(len(x), -1)

    def __repr__(self):
        return "Flatten()"


class RandomShift(_Random):
    """Shift each image of a batch (N, C, H, W) by its own random whole number of pixels,
    ``dy, dx`` in ``[-max_shift, max_shift]``; uncovered pixels become ``fill``.

    Vectorised: the batch is padded once and each image's window read through one strided view
    and one fancy index, no loop over samples."""

    def __init__(self, max_shift=2, fill=0.0, seed=None):
        self.max_shift = int(max_shift)
        self.fill = fill
        self._init_rng(seed)

    def __call__(self, x):
        x = _check_batch(x, "RandomShift")
        m, n = self.max_shift, len(x)
        dy = self.rng.integers(-m, m + 1, size=n)
        dx = self.rng.integers(-m, m + 1, size=n)
        if m == 0:
            return x.copy()
        height, width = x.shape[2:]
        padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=self.fill)
        # windows[i, c, a, b] is the (H, W) window whose top-left corner is (a, b), shape
        # (N, C, 2m+1, 2m+1, H, W). Content moved down by dy is read from the window at m - dy.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))
        return windows[np.arange(n), :, m - dy, m - dx]

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift})"


class RandomAffine(_Random):
    """Random rotation, translation and scaling of each image of a batch (N, C, H, W).

    Per image: a counter-clockwise angle in ``[-degrees, degrees]`` (or in ``degrees=(lo, hi)``),
    a shift up to ``translate = (fx, fy)`` times the width and height, a zoom in
    ``scale = (lo, hi)``, all about the image's centre. Each output pixel is mapped back through
    the inverse transform and read with bilinear (or ``interpolation='nearest'``) interpolation;
    pixels from outside the image are ``fill``. Vectorised over the whole batch: (N, C, H, W)
    float32 in, the same shape out.
    """

    def __init__(self, degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1),
                 interpolation="bilinear", fill=0.0, seed=None):
        self.degrees = (-degrees, degrees) if np.isscalar(degrees) else tuple(degrees)
        self.translate = tuple(translate) if translate is not None else (0.0, 0.0)
        self.scale = tuple(scale) if scale is not None else (1.0, 1.0)
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"RandomAffine: interpolation must be 'bilinear' or 'nearest', "
                             f"got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = fill
        self._init_rng(seed)

    def _source_coords(self, n, height, width):
        """Where each output pixel comes from: (src_y, src_x), each float32 (N, H, W)."""
        f32 = np.float32
        angle = np.deg2rad(self.rng.uniform(*self.degrees, size=n)).astype(f32)
        zoom = self.rng.uniform(*self.scale, size=n).astype(f32)
        shift_x = self.rng.uniform(-1, 1, size=n).astype(f32) * f32(self.translate[0] * width)
        shift_y = self.rng.uniform(-1, 1, size=n).astype(f32) * f32(self.translate[1] * height)
        cy, cx = f32((height - 1) / 2), f32((width - 1) / 2)
        rows = np.arange(height, dtype=f32)[None, :, None]
        cols = np.arange(width, dtype=f32)[None, None, :]
        per_image = (slice(None), None, None)
        # forward: p' = zoom * R(angle) (p - c) + c + shift, a positive angle turning the image
        # counter-clockwise as displayed (rows grow downwards); we apply its inverse to p'
        u = cols - cx - shift_x[per_image]
        v = rows - cy - shift_y[per_image]
        cos, sin, zoom = np.cos(angle)[per_image], np.sin(angle)[per_image], zoom[per_image]
        src_x = (cos * u - sin * v) / zoom + cx
        src_y = (sin * u + cos * v) / zoom + cy
        return src_y, src_x

    def __call__(self, x):
        x = _check_batch(x, "RandomAffine")
        n, channels, height, width = x.shape
        src_y, src_x = self._source_coords(n, height, width)
        flat = np.asarray(x, dtype=np.float32).reshape(n, channels, height * width)
        if self.interpolation == "nearest":
            corners = [(np.rint(src_y), np.rint(src_x), np.ones_like(src_x))]
        else:
            y0, x0 = np.floor(src_y), np.floor(src_x)
            wy, wx = src_y - y0, src_x - x0
            corners = [(y0, x0, (1 - wy) * (1 - wx)), (y0, x0 + 1, (1 - wy) * wx),
                       (y0 + 1, x0, wy * (1 - wx)), (y0 + 1, x0 + 1, wy * wx)]
        out = np.zeros_like(flat)
        outside = np.zeros((n, 1, height * width), dtype=np.float32)
        for yi, xi, weight in corners:
            inside = (yi >= 0) & (yi <= height - 1) & (xi >= 0) & (xi <= width - 1)
            index = (np.clip(yi, 0, height - 1) * width + np.clip(xi, 0, width - 1))
            index = index.astype(np.int64).reshape(n, 1, -1)
            weight = weight.reshape(n, 1, -1)
            inside = inside.reshape(n, 1, -1)
            out += np.take_along_axis(flat, index, axis=2) * (weight * inside)
            outside += weight * ~inside
        if self.fill:
            out += np.float32(self.fill) * outside
        return out.reshape(x.shape)

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, interpolation={self.interpolation!r})")

