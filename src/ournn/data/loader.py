"""DataLoader: batches as tensors on NumPy arrays (no copy), shuffled reproducibly, resumable.

Batches are made on the host, as PyTorch's are. For a model on a GPU, ``fit`` moves each
batch to the model's device (``move_batch``: one copy per tensor of the batch); a loop of
one's own does what a PyTorch loop does: ``x, y = x.to(device), y.to(device)``.
"""
import copy
import numbers

import numpy as np

from ..random import seed_from as _seed_from
from ..tensor import Tensor
from .dataset import collate


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a Dataset (or anything with ``len`` and ``[i]``). One with ``get_batch(indices)``
            (:class:`ArrayDataset`, ``MNIST``, :class:`Subset` of those) is batched by fancy
            indexing of its whole arrays; other datasets have their samples stacked.
        batch_size: samples per batch B; None yields the samples one by one, unbatched.
        shuffle: a new random order every epoch.
        sampler, batch_sampler: iterables of indices (or of lists of indices), as PyTorch's.
        num_workers, pin_memory, timeout, worker_init_fn, multiprocessing_context,
            prefetch_factor, persistent_workers, pin_memory_device: accepted for PyTorch code
            and without effect: batches are fancy-indexed in this process (no worker processes;
            a batch of MNIST costs microseconds) and copied to a GPU from ordinary memory.
        collate_fn: builds a batch from a list of samples (its result is passed on as is);
            default: stack the samples field by field into tensors.
        drop_last: skip the last batch if it has fewer than ``batch_size`` samples.
        generator: seeds the loader's order (an ``ournn.Generator`` or a NumPy Generator).
        seed: seeds the loader's own generator; None draws the seed from ``generator`` or from
            ``ournn``'s generator, so ``ournn.manual_seed(n)`` before building the loader makes
            it reproducible.
        transform: applied to the first array of every batch (the inputs), e.g. a batched
            ``RandomAffine``.

    Each iteration is one epoch and yields tuples such as ``(X (B, ...), y (B,))`` of tensors
    that wrap the batch's arrays (no copy; ``x.numpy()`` is the array).
    ``state_dict()`` / ``load_state_dict()`` save and restore the generator (and the position
    within an epoch), so a resumed run sees exactly the batches the uninterrupted one would.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None, transform=None):
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be an integer >= 1 (or None), got "
                             f"{batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an integer >= 0, got "
                             f"{num_workers!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True cannot be used together "
                             "(the sampler decides the order)")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler gives whole batches; do not also set "
                             "batch_size, shuffle, sampler or drop_last")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.transform = transform
        if seed is None:
            seed = _seed_from(generator)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.epoch = 0  # epochs completed
        self._epoch_start_state = None  # generator state before this epoch's shuffle
        self._batches_done = 0  # batches yielded in the epoch in progress
        self._resume_from = None  # batches to skip on the next iteration (after a load)

    def __len__(self):
        """Batches per epoch."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is not None or self.batch_sampler is not None \
                or self.batch_size is None:
            yield from self._iter_sampled()
            return
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

    def _iter_sampled(self):
        """Batches in the order a sampler or batch sampler gives (or unbatched samples)."""
        if self.batch_sampler is not None:
            groups = iter(self.batch_sampler)
        elif self.batch_size is None:
            order = self.sampler if self.sampler is not None else (
                self.rng.permutation(len(self.dataset)) if self.shuffle
                else range(len(self.dataset)))
            for i in order:
                yield _as_tensors(self.dataset[int(i)])
            self.epoch += 1
            return
        else:
            groups = _chunks(iter(self.sampler), self.batch_size, self.drop_last)
        for indices in groups:
            yield self._fetch(np.asarray(list(indices), dtype=np.int64))
        self.epoch += 1

    def _fetch(self, indices):
        """The batch at ``indices`` (shape (B,)): a tuple of tensors, transform applied."""
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[int(i)] for i in indices])
        if hasattr(self.dataset, "get_batch"):
            batch = self.dataset.get_batch(indices)
        else:
            batch = collate([self.dataset[int(i)] for i in indices])
        if isinstance(batch, dict):
            return _as_tensors(batch)
        if not isinstance(batch, tuple):
            batch = (batch,)
        if self.transform is not None:
            batch = (self.transform(batch[0]),) + tuple(batch[1:])
        return _as_tensors(batch)

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


def _as_tensors(batch):
    """Arrays (in tuples, lists and dicts) wrapped as tensors, without copies."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (np.ndarray, np.generic)):
        return Tensor._make(batch)
    if isinstance(batch, tuple):
        return tuple(_as_tensors(b) for b in batch)
    if isinstance(batch, list):
        return [_as_tensors(b) for b in batch]
    if isinstance(batch, dict):
        return {k: _as_tensors(v) for k, v in batch.items()}
    return batch


def move_batch(batch, device):
    """``batch`` (tensors or arrays, in tuples, lists and dicts, as a DataLoader yields it)
    on ``device``: each tensor copied there once, one already there kept as it is, other
    values unchanged. ``fit`` calls it on every batch for a model on a GPU."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (np.ndarray, np.generic)):
        return Tensor._make(batch).to(device)
    if isinstance(batch, tuple):
        return tuple(move_batch(b, device) for b in batch)
    if isinstance(batch, list):
        return [move_batch(b, device) for b in batch]
    if isinstance(batch, dict):
        return {k: move_batch(v, device) for k, v in batch.items()}
    return batch


def _chunks(indices, size, drop_last):
    batch = []
    for i in indices:
        batch.append(int(i))
        if len(batch) == size:
            yield batch
            batch = []
    if batch and not drop_last:
        yield batch
