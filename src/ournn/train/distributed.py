"""Training on several processes: what ``fit`` and ``ournn train`` do when started by an MPI
launcher (``mpirun -n 4 ournn train ...``), with nothing else changed.

- ``world_size()`` joins the process group when the environment says an MPI launcher started
  this process (``ournn.distributed.launched_by_mpi``), and is 1 otherwise: mpi4py is never
  imported by a run on one process.
- The training data is split (``split_loader``): each process reads its share of every batch
  through a ``DistributedSampler``, in batches of ``batch_size / N``, so the *global* batch
  is the ``batch_size`` asked for and N processes take the steps one process would (the
  samples of each step dealt among them, gradients averaged by
  ``DistributedDataParallel``).
- Evaluation is split too (``shard``: contiguous, disjoint shares, no padding) and the sums
  of loss and metrics are added over the processes (``sum_over_processes``), so every sample
  counts exactly once whatever the sizes.
- Only rank 0 writes (checkpoints, logs, progress): ``is_main()``.
"""
import functools

import numpy as np

from .. import distributed as dist


def world_size():
    """The number of processes training together: joins the process group first when
    launched by MPI; 1 without a launcher (nothing imported)."""
    if not dist.is_initialized():
        if not dist.launched_by_mpi():
            return 1
        dist.init_process_group("mpi")
    return dist.get_world_size()


def stop_every_process_on_error(function):
    """``function``, which in a run on several processes turns any error into the end of
    the whole job (a message naming this rank and the error, then MPI Abort): the other
    processes would otherwise wait for this one in their next collective, for ever."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except BaseException as e:
            if not dist.is_initialized() or dist.get_world_size() == 1:
                raise
            from ..distributed.process_group import abort_job
            abort_job(f"rank {dist.get_rank()} failed: {type(e).__name__}: {e}")
    return run


def rank():
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main():
    """Whether this process writes the run's files and prints its progress (rank 0)."""
    return rank() == 0


def per_process_batch(batch_size, world):
    """The share of a global batch each of ``world`` processes computes."""
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} does not divide among {world} processes "
                         f"(the batch is the global one, split evenly): use a multiple of "
                         f"{world}, or another number of processes")
    return batch_size // world


def split_loader(loader, world):
    """A DataLoader that reads this process's share of ``loader``'s batches: same dataset,
    order seed (rank 0's), transform and batch collation; ``batch_size / world`` samples per
    batch, chosen by a ``DistributedSampler``. A loader that already has one is kept."""
    from ..data import DataLoader, DistributedSampler
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    if loader.sampler is not None or loader.batch_sampler is not None or \
            loader.batch_size is None:
        raise ValueError("fit under MPI: cannot split a DataLoader that has its own sampler or "
                         "batch_sampler; give it a DistributedSampler (ournn.data) instead")
    seed = [int(loader.seed) if loader.seed is not None else 0]
    dist.broadcast_object_list(seed, src=0)       # one order for every process
    sampler = DistributedSampler(loader.dataset, world, rank(), shuffle=loader.shuffle,
                                 seed=seed[0])
    return DataLoader(loader.dataset, batch_size=per_process_batch(loader.batch_size, world),
                      sampler=sampler, collate_fn=loader.collate_fn,
                      drop_last=loader.drop_last, transform=loader.transform)


def shard(loader, world):
    """This process's contiguous share of ``loader``'s samples (shares differ by at most one
    sample; none is repeated), batched as ``loader``."""
    from ..data import DataLoader, Subset
    n = len(loader.dataset)
    r = rank()
    lo, hi = n * r // world, n * (r + 1) // world
    return DataLoader(Subset(loader.dataset, range(lo, hi)), batch_size=loader.batch_size,
                      collate_fn=loader.collate_fn, transform=loader.transform)


def sum_over_processes(values):
    """``values`` (floats) added over every process, in float64 (one ``Allreduce``)."""
    total = np.asarray(values, dtype=np.float64)
    dist.all_reduce(total)
    return total.tolist()


def any_process(*flags):
    """For each flag, whether it is true in any process (one ``Allreduce``), so that every
    process stops at the same step."""
    values = np.array([1 if f else 0 for f in flags], dtype=np.int64)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(v) for v in values]


def all_gather_outputs(arrays):
    """Every process's list of output arrays, in rank order (pickled: once per evaluation)."""
    gathered = []
    dist.all_gather_object(gathered, list(arrays))
    return gathered


def gather_to_main(obj):
    """Every process's ``obj``, as a list on rank 0 (None elsewhere). Pickled: for
    checkpoints, not steps."""
    gathered = [None] * world_size() if is_main() else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_from_main(obj):
    """Rank 0's ``obj`` in every process (pickled: for set-up and resuming)."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_model(model):
    """``model`` inside a ``DistributedDataParallel`` (itself if it already is one)."""
    from ..nn.parallel import DistributedDataParallel
    return model if isinstance(model, DistributedDataParallel) else \
        DistributedDataParallel(model)


def unwrap_model(model):
    """The model a ``DistributedDataParallel`` wraps (checkpoints hold it, without the
    ``module.`` prefix, so they load on any number of processes)."""
    from ..nn.parallel import DistributedDataParallel
    return model.module if isinstance(model, DistributedDataParallel) else model
