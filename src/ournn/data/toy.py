"""Two-dimensional toy datasets for quick experiments and the studio.

Each returns ``(X, y)``: X float32 (n, 2) and y int64 (n,), in a random order. ``seed=None``
draws from ``ournn``'s generator, so ``ournn.manual_seed`` makes them reproducible.
"""
import numpy as np

from ..random import get_generator


def _rng(seed):
    return get_generator() if seed is None else np.random.default_rng(seed)


def _finish(x, y, rng, noise):
    """Add Gaussian noise of std ``noise``, shuffle, and cast to float32 / int64."""
    x = x + rng.normal(scale=noise, size=x.shape) if noise else x
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def _split(n, parts):
    """``n`` as ``parts`` counts differing by at most one (the first ones larger)."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def make_moons(n=200, noise=0.1, seed=None):
    """Two interleaving half circles: class 0 the upper arc, class 1 the lower one.

    Returns X float32 (n, 2), y int64 (n,)."""
    rng = _rng(seed)
    n0, n1 = _split(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([upper, lower])
    y = np.repeat([0, 1], [n0, n1])
    return _finish(x, y, rng, noise)


def make_circles(n=200, noise=0.05, factor=0.5, seed=None):
    """A small circle (class 1, radius ``factor``) inside a large one (class 0, radius 1).

    Returns X float32 (n, 2), y int64 (n,)."""
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = _rng(seed)
    n0, n1 = _split(n, 2)
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    x = np.concatenate([outer, inner])
    y = np.repeat([0, 1], [n0, n1])
    return _finish(x, y, rng, noise)


def make_spirals(n=300, classes=3, noise=0.2, turns=1.0, seed=None):
    """``classes`` interleaved spiral arms from the origin, one class per arm (CS231n's toy).

    ``noise`` jitters the angle (radians, more towards the rim); each arm winds through
    ``4 * turns`` radians. Returns X float32 (n, 2) with radius <= 1, y int64 (n,)."""
    rng = _rng(seed)
    xs, ys = [], []
    for label, count in enumerate(_split(n, classes)):
        radius = np.linspace(0.0, 1.0, count)
        angle = (np.linspace(0, 4 * turns, count) + label * 2 * np.pi / classes
                 + rng.normal(scale=noise, size=count) * radius)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(count, label))
    return _finish(np.concatenate(xs), np.concatenate(ys), rng, 0.0)


def make_xor(n=200, noise=0.0, margin=0.05, seed=None):
    """Points uniform in [-1, 1]^2, class 1 where exactly one coordinate is positive.

    Points within ``margin`` of an axis are pushed out of it so the classes do not touch;
    ``noise`` adds Gaussian jitter afterwards. Returns X float32 (n, 2), y int64 (n,)."""
    rng = _rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    x = np.sign(x) * (margin + np.abs(x) * (1 - margin))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return _finish(x, y, rng, noise)
