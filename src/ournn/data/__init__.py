"""Data: datasets, loaders and batch transforms, all on NumPy arrays.

- :mod:`~ournn.data.idx`: ``read_idx`` / ``write_idx`` for the IDX format (gzip or raw).
- :mod:`~ournn.data.sources`: where MNIST / Fashion-MNIST files are found, downloaded, verified.
- :class:`MNIST`, :class:`FashionMNIST`: the datasets, with ``arrays()`` for the fast path.
- :class:`Dataset`, :class:`ArrayDataset`, :class:`Subset`, :func:`random_split`.
- :class:`DataLoader`: batches by fancy indexing, reproducible shuffling, resumable.
- :mod:`~ournn.data.transforms`: ``Compose``, ``ToFloat``, ``Normalize``, ``Flatten``,
  ``RandomShift``, ``RandomAffine`` on batches (N, C, H, W).
- :mod:`~ournn.data.toy`: ``make_moons``, ``make_circles``, ``make_spirals``, ``make_xor``.
- :class:`Shakespeare` (:mod:`~ournn.data.shakespeare`): the character corpus, its vocabulary
  (:class:`CharVocab`); :class:`ChunkLoader` (:mod:`~ournn.data.chunks`): contiguous
  (batch, time) chunks for truncated BPTT, and ``repackage_hidden`` to detach between them.
"""
from ..errors import DatasetError
from . import sources, transforms
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, collate, random_split
from .idx import read_idx, write_idx
from .loader import DataLoader
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .sampler import DistributedSampler
from .mnist import MNIST, FashionMNIST
from .shakespeare import CharVocab, Shakespeare
from .chunks import ChunkLoader, repackage_hidden
from .toy import make_circles, make_moons, make_spirals, make_xor
from .transforms import Compose, Flatten, Normalize, RandomAffine, RandomShift, ToFloat

__all__ = [
    "MNIST",
    "ArrayDataset",
    "Compose",
    "DataLoader",
    "Dataset",
    "DatasetError",
    "FashionMNIST",
    "Flatten",
    "Normalize",
    "RandomAffine",
    "RandomShift",
    "Subset",
    "TensorDataset",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "DistributedSampler",
    "ToFloat",
    "collate",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "random_split",
    "read_idx",
    "sources",
    "transforms",
    "write_idx",
    "Shakespeare",
    "CharVocab",
    "ChunkLoader",
    "repackage_hidden",
]
