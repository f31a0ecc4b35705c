"""``ournn.utils.data``, as ``torch.utils.data``: the same objects as :mod:`ournn.data`, under
the import path PyTorch code uses (``from torch.utils.data import DataLoader, TensorDataset``).
"""
from ...data.dataset import ArrayDataset, Dataset, Subset, TensorDataset, random_split
from ...data.dataset import collate as default_collate
from ...data.loader import DataLoader
from ...data.sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                             SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)
from . import distributed  # noqa: F401 (torch.utils.data.distributed)


class IterableDataset(Dataset):
    """A dataset read by iterating it (``__iter__``), as PyTorch's. ``DataLoader`` batches it
    by taking ``batch_size`` samples at a time."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class ConcatDataset(Dataset):
    """Several datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} "
                             "samples")
        start = 0
        for d, end in zip(self.datasets, self.cumulative_sizes):
            if index < end:
                return d[index - start]
            start = end


__all__ = ["ArrayDataset", "BatchSampler", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
           "random_split"]
