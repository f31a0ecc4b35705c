"""Samplers, as ``torch.utils.data``: iterables of indices that decide a DataLoader's order."""
import numpy as np

from ..random import seed_from


class Sampler:
    """Base class: an iterable of dataset indices (``__iter__``), with ``__len__``."""

    def __init__(self, data_source=None):
        self.data_source = data_source

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _rng(generator):
    return np.random.default_rng(seed_from(generator))


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order each epoch (``replacement=True``: ``num_samples`` draws with
    replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        super().__init__(data_source)
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        if num_samples is not None and (int(num_samples) != num_samples or num_samples < 1):
            raise ValueError(f"RandomSampler: num_samples must be a positive integer, got "
                             f"{num_samples!r}")
        self.rng = _rng(generator)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        n = len(self.data_source)
        if self.replacement:
            return iter(self.rng.integers(0, n, self.num_samples).tolist())
        order = np.concatenate([self.rng.permutation(n)
                                for _ in range(-(-self.num_samples // n))])
        return iter(order[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order each epoch."""

    def __init__(self, indices, generator=None):
        super().__init__(None)
        self.indices = list(indices)
        self.rng = _rng(generator)

    def __iter__(self):
        return iter([self.indices[i] for i in self.rng.permutation(len(self.indices))])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        super().__init__(None)
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(w)} non-zero weights")
        self.weights, self.num_samples = w / w.sum(), int(num_samples)
        self.replacement = bool(replacement)
        self.rng = _rng(generator)

    def __iter__(self):
        draws = self.rng.choice(len(self.weights), self.num_samples, replace=self.replacement,
                                p=self.weights)
        return iter(draws.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        super().__init__(None)
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """The share of ``dataset`` one process of a data-parallel job reads, as
    ``torch.utils.data.DistributedSampler``: every epoch the indices (shuffled with
    ``seed + epoch`` when ``shuffle``) are dealt round-robin to the ``num_replicas``
    processes, rank r taking places r, r + num_replicas, ...

    Every process gets the same number of indices: unless ``drop_last``, the list is padded
    by repeating its start until it divides evenly (so a few samples count twice in an
    epoch); with ``drop_last``, the tail that does not divide is dropped. Call
    ``set_epoch(epoch)`` before each epoch for a new order (``ournn.train.fit`` does).
    ``num_replicas`` and ``rank`` default to the process group's (``ournn.distributed``).

    ``state_dict()`` holds the epoch and how many indices this epoch has handed out, so a
    run resumed in the middle of an epoch continues with the same indices."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        super().__init__(dataset)
        if num_replicas is None or rank is None:
            from .. import distributed
            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "ournn.distributed.init_process_group() first")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if isinstance(num_replicas, bool) or int(num_replicas) != num_replicas or \
                num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be an integer >= 1, got "
                             f"{num_replicas!r}")
        if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in "
                             f"the interval [0, {int(num_replicas) - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)   # ceil
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self._served = 0          # indices handed out in the epoch in progress
        self._skip = 0            # indices to skip on the next iteration (after a load)

    def indices(self):
        """This rank's indices for the current epoch, as a NumPy array."""
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) \
            if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:       # pad by repeating the start (several times if needed)
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        mine = self.indices()
        start, self._skip = self._skip, 0
        self._served = start
        for i in mine[start:].tolist():
            self._served += 1
            yield i
        self._served = 0

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """The epoch whose order the next iteration gives (the shuffle's seed is
        ``seed + epoch``, the same in every process)."""
        self.epoch = int(epoch)

    def state_dict(self):
        return {"epoch": self.epoch, "served": self._served}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        self._skip = self._served = int(state.get("served", 0))
