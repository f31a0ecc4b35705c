"""Processes that train together, as ``torch.distributed``, over MPI (``mpi4py``).

Launch the same script N times with ``mpirun -n N python script.py``; each copy calls
``init_process_group(backend="mpi")`` and learns its ``get_rank()`` (0 .. N-1) and
``get_world_size()`` (N). The collectives work on tensors in place, as PyTorch's:
``all_reduce(t)`` leaves in every process the sum (or ``op=ReduceOp.MAX``, ...) of everyone's
``t``; ``broadcast(t, src=0)`` copies rank ``src``'s ``t`` into everyone's.
``ournn.nn.parallel.DistributedDataParallel`` and ``ournn.data.DistributedSampler`` stand on
this, and ``ournn train`` / ``ournn.train.fit`` use it by themselves when launched by
``mpirun`` (``launched_by_mpi()``).

Without a launcher, ``init_process_group()`` makes a world of one process (rank 0, size 1)
without importing MPI, so the same script runs as a plain ``python script.py``.

mpi4py is imported only when the process was started by an MPI launcher or when
``init_process_group`` asks for MPI; ``pip install 'ournn[mpi]'`` installs it with Open MPI.
"""
from .process_group import (ReduceOp, Work, all_gather, all_gather_object, all_reduce,
                            barrier, broadcast, broadcast_object_list, destroy_process_group,
                            gather_object, get_backend, get_rank, get_world_size, group,
                            init_process_group, is_available, is_initialized, is_mpi_available,
                            launched_by_mpi)

__all__ = ["ReduceOp", "Work", "all_gather", "all_gather_object", "all_reduce", "barrier",
           "broadcast", "broadcast_object_list", "destroy_process_group", "gather_object",
           "get_backend", "get_rank", "get_world_size", "group", "init_process_group",
           "is_available", "is_initialized", "is_mpi_available", "launched_by_mpi"]
