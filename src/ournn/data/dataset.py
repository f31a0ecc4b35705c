"""Datasets: anything with ``len(ds)`` and ``ds[i]``, plus a fast batched ``get_batch``.

A :class:`Dataset` returns one sample for an integer index. ``get_batch(indices)`` returns a
whole batch as a tuple of stacked arrays; the base class stacks samples one by one, datasets
backed by arrays (:class:`ArrayDataset`, ``MNIST``) override it with one fancy index per array,
which is what :class:`~ournn.data.DataLoader` calls.
"""
import itertools
import math
import numbers

import numpy as np

from ..errors import ShapeError
from ..random import seed_from
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(i)`` returning one sample
    (usually a tuple ``(x, y)``); they may override :meth:`get_batch` with a vectorised one."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def get_batch(self, indices):
        """The samples at ``indices`` (int array, shape (B,)), stacked field by field:
        a tuple of arrays each of shape (B, ...)."""
        return collate([self[int(i)] for i in np.asarray(indices).reshape(-1)])


def collate(samples):
    """Stack a list of samples into a batch.

    Samples that are tuples ``(x, y, ...)`` give a tuple of arrays ``(X (B, ...), Y (B, ...))``;
    samples that are single arrays or numbers give one array (B, ...)."""
    if not samples:
        raise ValueError("collate: no samples")
    first = samples[0]
    if isinstance(first, dict):
        return {k: collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(collate(list(fields)) if isinstance(fields[0], (dict, tuple, list))
                     else np.stack([_as_array(field) for field in fields])
                     for fields in zip(*samples))
    return np.stack([_as_array(s) for s in samples])


def _as_array(a):
    return a.numpy() if isinstance(a, Tensor) else np.asarray(a)    # a Tensor -> its array


class ArrayDataset(Dataset):
    """A dataset of equally long arrays, indexed together (like ``torch.utils.data.TensorDataset``).

    ``ArrayDataset(X, y)`` with X (N, ...) and y (N,): ``ds[i]`` is ``(X[i], y[i])``, and
    ``ds[idx]`` for an int array idx of shape (B,) is the batch ``(X[idx], y[idx])``.
    Tensors are accepted and stored as their arrays."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ShapeError(f"ArrayDataset: arrays differ in length (first dimension): {shapes}")

    @property
    def tensors(self):
        """The arrays (PyTorch's name)."""
        return self.arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        """``(a[indices] for each array)``: one fancy index per array, no per-sample loop."""
        return self[np.asarray(indices)]

    def __repr__(self):
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"{type(self).__name__}({shapes})"


class TensorDataset(ArrayDataset):
    """``torch.utils.data.TensorDataset``: an :class:`ArrayDataset` whose samples are tensors
    (``ds[i]`` is ``(x_i, y_i)`` as tensors sharing the arrays' memory)."""

    @property
    def tensors(self):
        return tuple(Tensor._make(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor._make(np.asarray(a[index])) for a in self.arrays)

    def get_batch(self, indices):
        return tuple(a[np.asarray(indices)] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (shape (M,)), in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral):
            return self.dataset[int(self.indices[index])]
        return self.get_batch(np.arange(len(self))[index])

    def get_batch(self, indices):
        """The parent's batch at ``self.indices[indices]`` (vectorised if the parent is)."""
        parent = self.indices[np.asarray(indices)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(parent)
        return collate([self.dataset[int(i)] for i in parent])

    def __repr__(self):
        return f"Subset({type(self.dataset).__name__}, {len(self)} samples)"


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (the
    remainder after flooring goes to the first parts, one each, as in PyTorch). ``seed`` seeds
    the permutation; None draws it from ``generator`` (an ``ournn.Generator`` or a NumPy one)
    or else from ``ournn``'s generator (see ``ournn.manual_seed``)."""
    n = len(dataset)
    lengths = list(lengths)
    if all(isinstance(x, numbers.Real) and 0 <= x <= 1 for x in lengths) and \
            math.isclose(sum(lengths), 1.0) and sum(lengths) != n:
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} must be counts summing to the "
                         f"dataset's length {n} (or fractions summing to 1)")
    if seed is None:
        seed = seed_from(generator)
    order = np.random.default_rng(seed).permutation(n)
    bounds = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, order[a:b]) for a, b in itertools.pairwise(bounds)]
