"""The process group: who the processes are (rank, world size) and the collectives between
them, on MPI through mpi4py's buffer calls (``Allreduce``, ``Iallreduce``, ``Bcast``,
``Allgather`` on contiguous NumPy arrays: no pickling on the hot path).

One group exists, the world (PyTorch's default group); ``group=None`` everywhere means it.
Without an MPI launcher the world is one process and every collective leaves its tensor
as it is.

**When a process fails.** MPI collectives have no timeout: a process waiting in
``all_reduce`` for a partner that died would wait for ever. So once the world has more than
one process, an exception that ends a process (``sys.excepthook``) prints its traceback and
calls ``MPI.COMM_WORLD.Abort``, which makes the launcher stop every process of the job; a
process killed by a signal is noticed by ``mpirun`` itself, which then stops the others.
What neither covers is a process that hangs without dying (a deadlock in user code): give the
launcher a time limit for that (``mpirun --timeout SECONDS`` with Open MPI, the batch
system's limit on a cluster). ``init_process_group(timeout=...)`` is accepted for PyTorch
code and not enforced.
"""
import importlib.util
import os
import sys

import numpy as np

from ..errors import OurnnError
from ..tensor import Tensor

# What MPI launchers put in the environment of each process they start: Open MPI, MPICH's
# and Intel MPI's Hydra, PMIx (srun --mpi=pmix), MVAPICH. OURNN_MPI=1 forces MPI (another
# launcher), OURNN_MPI=0 turns it off.
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE")

INSTALL_HINT = "pip install 'ournn[mpi]' (mpi4py and Open MPI; on a cluster, the site's MPI " \
               "with its mpi4py)"


class DistributedError(OurnnError, RuntimeError):
    """The process group is missing, or a collective was called wrongly."""


class ReduceOp:
    """How ``all_reduce`` combines the processes' values, as ``torch.distributed.ReduceOp``."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class group:                     # noqa: N801 - PyTorch's name (``dist.group.WORLD``)
    """``group.WORLD``: the default group (the only one; ``None`` means it too)."""
    WORLD = None


def is_available():
    """True: ``ournn.distributed`` is always there (a world of one needs no MPI)."""
    return True


def is_mpi_available():
    """Whether mpi4py can be imported (without importing it, which would start MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (``mpirun``, ``mpiexec``,
    ``srun``): read from the environment, without importing MPI."""
    forced = os.environ.get("OURNN_MPI", "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


class _World:
    """The default group: ``comm`` (mpi4py's COMM_WORLD, or None for a world of one)."""

    def __init__(self, comm, mpi, backend):
        self.comm, self.MPI, self.backend = comm, mpi, backend
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1


_WORLD = None
_previous_excepthook = None


def import_mpi():
    """mpi4py's ``MPI`` module (importing it starts MPI), or one clear error."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(f"ournn.distributed needs mpi4py to run on several processes: "
                          f"{INSTALL_HINT}") from None
    return MPI


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the processes of this job into the world group, as PyTorch's.

    ``backend``: "mpi" (or "gloo", PyTorch's CPU backend, which runs on MPI here). The ranks
    and size come from the MPI launcher; ``world_size`` and ``rank``, if given, must agree
    with them. Without a launcher the world is this one process. ``init_method``, ``store``
    and ``timeout`` are accepted for PyTorch code; MPI needs none of them (see the module's
    notes on timeouts)."""
    global _WORLD
    if _WORLD is not None:
        raise DistributedError("init_process_group: the process group is already initialized "
                               "(call destroy_process_group() first)")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in ("mpi", "gloo"):
        raise ValueError(f"init_process_group: backend must be 'mpi' (or 'gloo', run on MPI "
                         f"here); ournn computes on the CPU, got {backend!r}")
    if launched_by_mpi():
        mpi = import_mpi()
        world = _World(mpi.COMM_WORLD, mpi, name)
    else:
        world = _World(None, None, name)
    for what, given, actual in (("world_size", world_size, world.size), ("rank", rank, world.rank)):
        if given is not None and int(given) != -1 and int(given) != actual:
            raise ValueError(f"init_process_group: {what}={given} but the MPI launcher started "
                             f"this process with {what} {actual}")
    _WORLD = world
    if world.size > 1:
        _abort_job_on_uncaught_exception(world)
        _share_the_cores(world)


BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _share_the_cores(world):
    """Processes on one machine share its cores: unless the user chose the BLAS threads
    (OMP_NUM_THREADS, ...), each process gets cores / processes-on-this-machine of them, as
    torchrun sets OMP_NUM_THREADS=1. NumPy's BLAS reads those variables when it loads, which
    is before this call, so the limit is set through ``ournn.ops.blas`` (NumPy's OpenBLAS,
    whose threads ournn chooses per product) or threadpoolctl (another BLAS) where installed;
    without either, rank 0 of each machine says what to set. Returns the threads chosen (None: left)."""
    if any(os.environ.get(v) for v in BLAS_THREAD_VARIABLES):
        return None
    local = world.comm.Split_type(world.MPI.COMM_TYPE_SHARED)
    local_size, local_rank = local.Get_size(), local.Get_rank()
    local.Free()
    if local_size == 1:
        return None
    threads = max(1, (os.cpu_count() or 1) // local_size)
    from ..ops import blas
    if blas.BLAS is not None:        # NumPy's OpenBLAS: ournn sets its threads per product
        blas.limit_threads(threads)
        return threads
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if local_rank == 0:
            sys.stderr.write(
                f"ournn.distributed: {local_size} processes share this machine's "
                f"{os.cpu_count()} cores, and each one's BLAS may use them all; set "
                f"OMP_NUM_THREADS={threads} (mpirun -x OMP_NUM_THREADS={threads}) or install "
                f"threadpoolctl\n")
        return None
    threadpool_limits(threads)
    return threads


def _abort_job_on_uncaught_exception(world):
    """An exception that ends this process stops every process of the job (MPI Abort),
    instead of leaving the others waiting in a collective for ever."""
    global _previous_excepthook
    if _previous_excepthook is not None:
        return
    _previous_excepthook = previous = sys.excepthook

    def abort(kind, value, traceback):
        previous(kind, value, traceback)
        abort_job(f"rank {world.rank} of {world.size} failed ({kind.__name__})")

    sys.excepthook = abort


def abort_job(reason, code=1):
    """Print ``reason`` and stop every process of the job (MPI Abort); a plain exit when the
    world is one process."""
    sys.stderr.write(f"ournn.distributed: {reason}; stopping all processes of the job\n")
    sys.stderr.flush()
    if _WORLD is not None and _WORLD.comm is not None:
        _WORLD.comm.Abort(code)
    sys.exit(code)


def is_initialized():
    """Whether ``init_process_group`` has been called (and not destroyed)."""
    return _WORLD is not None


def destroy_process_group(group=None):
    """Forget the process group (MPI itself stays up until the process exits)."""
    global _WORLD, _previous_excepthook
    if _previous_excepthook is not None:
        sys.excepthook, _previous_excepthook = _previous_excepthook, None
    _WORLD = None


def world(what="this call"):
    """The world group, or an error naming ``what`` needed it."""
    if _WORLD is None:
        raise DistributedError(f"{what}: the default process group has not been initialized; "
                               "call ournn.distributed.init_process_group() first")
    return _WORLD


def _check_group(group_):
    if group_ is not None:
        raise ValueError("ournn.distributed has one group, the world: pass group=None")


def get_rank(group=None):
    """This process's number, 0 .. world size - 1."""
    _check_group(group)
    return world("get_rank").rank


def get_world_size(group=None):
    """How many processes the job has."""
    _check_group(group)
    return world("get_world_size").size


def get_backend(group=None):
    _check_group(group)
    return world("get_backend").backend


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every process has reached this call."""
    _check_group(group)
    w = world("barrier")
    if w.comm is not None:
        w.comm.Barrier()
    return Work(None) if async_op else None


class Work:
    """What a collective with ``async_op=True`` returns: ``wait()`` blocks until it is done
    (and the tensor holds the result), ``is_completed()`` asks without blocking."""

    def __init__(self, request, finish=None):
        self.request, self.finish = request, finish
        self._done = request is None
        if self._done and finish is not None:
            finish()

    def is_completed(self):
        if not self._done and self.request.Test():
            self._complete()
        return self._done

    def wait(self, timeout=None):
        if not self._done:
            self.request.Wait()
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self.finish is not None:
            self.finish()


def _array_of(tensor, what):
    if isinstance(tensor, Tensor):
        return tensor._data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"{what}: expected a Tensor (or a NumPy array), got {type(tensor).__name__}")


def _buffer(array):
    """A contiguous array to communicate in, and the function that puts its values back
    into ``array`` (nothing to do when ``array`` is contiguous already)."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array, None
    buf = np.ascontiguousarray(array)

    def put_back():
        array[...] = buf
    return buf, put_back


def _mpi_op(w, op):
    return {ReduceOp.SUM: w.MPI.SUM, ReduceOp.AVG: w.MPI.SUM, ReduceOp.PRODUCT: w.MPI.PROD,
            ReduceOp.MIN: w.MPI.MIN, ReduceOp.MAX: w.MPI.MAX}[op]


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine everyone's ``tensor`` (``op``: sum by default) and leave the result in
    everyone's ``tensor``, in place. ``async_op=True`` returns a ``Work`` at once."""
    _check_group(group)
    w = world("all_reduce")
    array = _array_of(tensor, "all_reduce")
    if op not in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX):
        raise ValueError(f"all_reduce: op must be one of ReduceOp.SUM, AVG, PRODUCT, MIN, "
                         f"MAX, got {op!r}")
    if op == ReduceOp.AVG and array.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {array.dtype}")
    if w.comm is None:
        return Work(None) if async_op else None
    buf, put_back = _buffer(array)

    def finish():
        if op == ReduceOp.AVG:
            buf[...] /= w.size
        if put_back is not None:
            put_back()
    if async_op:
        return Work(w.comm.Iallreduce(w.MPI.IN_PLACE, buf, op=_mpi_op(w, op)), finish)
    w.comm.Allreduce(w.MPI.IN_PLACE, buf, op=_mpi_op(w, op))
    finish()
    return None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into everyone's, in place."""
    _check_group(group)
    w = world("broadcast")
    array = _array_of(tensor, "broadcast")
    if not 0 <= int(src) < w.size:
        raise ValueError(f"broadcast: src must be a rank in 0..{w.size - 1}, got {src!r}")
    if w.comm is None:
        return Work(None) if async_op else None
    buf, put_back = _buffer(array)
    if async_op:
        return Work(w.comm.Ibcast(buf, root=int(src)), put_back)
    w.comm.Bcast(buf, root=int(src))
    if put_back is not None:
        put_back()
    return None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Everyone's ``tensor`` (all of one shape and dtype), into ``tensor_list[r]`` for each
    rank r, in every process."""
    _check_group(group)
    w = world("all_gather")
    array = np.ascontiguousarray(_array_of(tensor, "all_gather"))
    if len(tensor_list) != w.size:
        raise ValueError(f"all_gather: tensor_list must hold world size ({w.size}) tensors, "
                         f"got {len(tensor_list)}")
    if w.comm is None:
        gathered = array[None]
    else:
        gathered = np.empty((w.size,) + array.shape, array.dtype)
        w.comm.Allgather(array, gathered)
    for r, target in enumerate(tensor_list):
        out = _array_of(target, "all_gather")
        if out.shape != array.shape:
            raise ValueError(f"all_gather: tensor_list[{r}] has shape {out.shape}, the tensor "
                             f"{array.shape}")
        out[...] = gathered[r]
    return Work(None) if async_op else None


def gather_array(array):
    """Everyone's ``array`` (one shape and dtype) stacked along a new first axis, in every
    process (one ``Allgather``)."""
    w = world("gather_array")
    array = np.ascontiguousarray(array)
    if w.comm is None:
        return array[None].copy()
    out = np.empty((w.size,) + array.shape, array.dtype)
    w.comm.Allgather(array, out)
    return out


# Python objects (pickled): for set-up and checkpoints, never on a training step's path.
def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace the items of ``object_list`` by rank ``src``'s, in every process."""
    _check_group(group)
    w = world("broadcast_object_list")
    if w.comm is not None:
        object_list[:] = w.comm.bcast(list(object_list) if w.rank == src else None, root=src)


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` = rank r's ``obj``, in every process."""
    _check_group(group)
    w = world("all_gather_object")
    object_list[:] = [obj] if w.comm is None else w.comm.allgather(obj)


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    """On rank ``dst``, ``object_gather_list[r]`` = rank r's ``obj``."""
    _check_group(group)
    w = world("gather_object")
    gathered = [obj] if w.comm is None else w.comm.gather(obj, root=dst)
    if w.rank == dst:
        if object_gather_list is None:
            raise ValueError("gather_object: rank dst must pass object_gather_list")
        object_gather_list[:] = gathered
