"""DataLoader: batches of NumPy arrays, shuffled reproducibly, resumable."""
import copy

import numpy as np

from ..random import get_generator
from .dataset import collate


class DataLoader:
    """Iterate over ``dataset`` in batches of NumPy arrays.

    Args:
        dataset: a Dataset (or anything with ``len`` and ``[i]``). One with ``get_batch(indices)``
            (:class:`ArrayDataset`, ``MNIST``, :class:`Subset` of those) is batched by fancy
            indexing of its whole arrays; other datasets have their samples stacked.
        batch_size: samples per batch B.
        shuffle: a new random order every epoch.
        drop_last: skip the last batch if it has fewer than ``batch_size`` samples.
        seed: seeds the loader's own generator; None draws the seed from ``ournn``'s generator,
            so ``ournn.manual_seed(n)`` before building the loader makes it reproducible.
        transform: applied to the first array of every batch (the inputs), e.g. a batched
            ``RandomAffine``.

    Each iteration is one epoch and yields tuples such as ``(X (B, ...), y (B,))``.
    ``state_dict()`` / ``load_state_dict()`` save and restore the generator (and the position
    within an epoch), so a resumed run sees exactly the batches the uninterrupted one would.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 transform=None):
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        if seed is None:
            seed = int(get_generator().integers(2**63))
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.epoch = 0  # epochs completed
        self._epoch_start_state = None  # generator state before this epoch's shuffle
        self._batches_done = 0  # batches yielded in the epoch in progress
        self._resume_from = None  # batches to skip on the next iteration (after a load)

    def __len__(self):
        """Batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self._resume_from is not None:  # re-draw the interrupted epoch's order, then skip
            self.rng.bit_generator.state = self._epoch_start_state
            skip, self._resume_from = self._resume_from, None
        else:
            self._epoch_start_state = copy.deepcopy(self.rng.bit_generator.state)
            skip = 0
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        self._batches_done = skip
        for b in range(skip, len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            batch = self._fetch(indices)
            self._batches_done = b + 1
            yield batch
        self._batches_done = 0
        self._epoch_start_state = None
        self.epoch += 1

    def _fetch(self, indices):
        """The batch at ``indices`` (shape (B,)) as a tuple of arrays, transform applied."""
        if hasattr(self.dataset, "get_batch"):
            batch = self.dataset.get_batch(indices)
        else:
            batch = collate([self.dataset[int(i)] for i in indices])
        if not isinstance(batch, tuple):
            batch = (batch,)
        if self.transform is not None:
            batch = (self.transform(batch[0]),) + tuple(batch[1:])
        return batch

    def state_dict(self):
        """The loader's position: generator state, epochs done, batches done in this epoch
        (and the transform's generator, if it has a ``state_dict``). Plain JSON-able data."""
        in_progress = self._epoch_start_state is not None and 0 < self._batches_done < len(self)
        state = {
            "rng": copy.deepcopy(self._epoch_start_state if in_progress
                                 else self.rng.bit_generator.state),
            "epoch": self.epoch + (self._batches_done >= len(self) and
                                   self._epoch_start_state is not None),
            "batches_done": self._batches_done if in_progress else 0,
        }
        if hasattr(self.transform, "state_dict"):
            state["transform"] = self.transform.state_dict()
        return state

    def load_state_dict(self, state):
        """Restore a position saved by :meth:`state_dict`: the next iteration continues the
        interrupted epoch (or starts the next one) with the same order of samples."""
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.epoch = int(state["epoch"])
        done = int(state.get("batches_done", 0))
        self._epoch_start_state = copy.deepcopy(state["rng"]) if done else None
        self._resume_from = done if done else None
        self._batches_done = done
        if "transform" in state and hasattr(self.transform, "load_state_dict"):
            self.transform.load_state_dict(state["transform"])

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
