"""``DistributedDataParallel``: one copy of the model per process, gradients averaged.

Every process (``mpirun -n N``) holds the same model and trains it on its own share of each
batch. Before the first step the weights are copied from rank 0 to everyone; in every
backward the gradients are averaged over the processes, so each process takes exactly the
same optimizer step and the copies stay identical. N processes with B samples each then
compute what one process computes with N*B samples (the loss being a mean over the batch).

**Buckets, started as soon as they are ready.** The parameters are grouped, in the reverse
of their order in the model (roughly the order backward reaches them), into buckets of up to
``bucket_cap_mb`` (the first one 1 MiB, as PyTorch). Each bucket is one contiguous array, and
its average is one non-blocking ``Iallreduce``, started as soon as every gradient in it is
known, while backward goes on with the layers below; the requests are waited for at the end
of backward, before ``.grad`` is written, so ``optimizer.step()`` sees averaged gradients.

**How a gradient is known to be complete.** The engine adds a parameter's gradient into
``.grad`` (and runs the parameter's own hooks) only once the whole backward is over, which
would be too late to overlap anything. So while DDP runs the forward, every module that owns
parameters sees, for the length of its own forward, its parameters (and its tensor
arguments) through one identity op (``_GradientsReady``), the way a module's backward hooks
see its arguments (``ournn.ops.hooks``). The engine runs that op's backward after every op
that used its outputs and before the layers that produced the module's arguments: at that
moment the module's parameter gradients are complete, and they are added into their bucket.
A parameter hook (``Tensor.register_hook``) on each parameter then waits for the requests at
the end of backward and hands the engine the averaged gradient to put in ``.grad``.

Limits, as PyTorch's DDP: every process must run the same graph (the same layers, in the
same order, each step), one forward before each backward. A parameter read only by code
outside its own module's forward (a parent using a child's weight) gets no early start: it is
averaged alone at the end of backward. One read both inside and outside its module's forward
in the same step is not supported (the outside part would not be averaged).

A started request moves on only inside MPI calls (with an MPI that has no progress thread, as
Open MPI over shared memory): DDP polls the started requests each time a module's gradients
are ready, which is where the overlap comes from.
"""
import contextlib
import time

import numpy as np

from ...autograd.function import Function, is_grad_enabled
from ...distributed.process_group import DistributedError, world
from ...tensor import Tensor
from ..module import Module

FIRST_BUCKET_BYTES = 1 << 20       # as PyTorch: a small first bucket starts communication early
DEFAULT_BUCKET_CAP_MB = 25


class _GradientsReady(Function):
    """The identity on a module's tensor arguments and its own parameters. Its backward runs
    when the gradients w.r.t. all of them are complete and hands the parameters' gradients
    to the reducer (``_Reducer.add``); it returns every gradient unchanged."""

    @staticmethod
    def forward(ctx, *arrays, reducer=None, params=(), n_args=0):
        ctx.reducer, ctx.params, ctx.n_args = reducer, params, n_args
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        ctx.reducer.add(ctx.params, grads[ctx.n_args:])
        return grads


class _Bucket:
    """Parameters whose gradients are averaged together, in one contiguous array."""

    def __init__(self, params):
        self.params = params
        sizes = [p._data.size for p in params]
        self.stops = np.cumsum(sizes)
        self.starts = self.stops - sizes
        self.buffer = np.zeros(int(self.stops[-1]), params[0]._data.dtype)
        self.expected = self.arrived = 0      # gradient deliveries, counted in forward
        self.request = None


def _make_buckets(params, cap_bytes):
    """``params`` (already in the order backward reaches them) cut into buckets: the first of
    up to 1 MiB, the others of up to ``cap_bytes``; one dtype per bucket."""
    buckets, current, size, limit = [], [], 0, min(FIRST_BUCKET_BYTES, cap_bytes)
    for p in params:
        nbytes = p._data.nbytes
        if current and (size + nbytes > limit or p._data.dtype != current[0]._data.dtype):
            buckets.append(_Bucket(current))
            current, size, limit = [], 0, cap_bytes
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


class _Reducer:
    """Averages the gradients of a DDP's parameters, bucket by bucket, during backward."""

    def __init__(self, params, comm, mpi, cap_bytes):
        self.comm, self.MPI, self.size = comm, mpi, comm.Get_size()
        self.buckets = _make_buckets(params, cap_bytes)
        self.where = {}            # id(param) -> (bucket, start, stop)
        for bucket in self.buckets:
            for p, start, stop in zip(bucket.params, bucket.starts, bucket.stops):
                self.where[id(p)] = (bucket, int(start), int(stop))
        self.armed = False
        self.wait_seconds = 0.0    # the last backward's time spent waiting for the requests
        self.bytes_per_step = sum(b.buffer.nbytes for b in self.buckets)

    def prepare(self, fold_grads=False):
        """Before a forward whose backward is to be averaged. ``fold_grads``: the gradients
        accumulated locally (under ``no_sync``) join this step's, and ``.grad`` is emptied."""
        for bucket in self.buckets:
            if fold_grads:
                for p, start, stop in zip(bucket.params, bucket.starts, bucket.stops):
                    grad = p._grad
                    bucket.buffer[start:stop] = 0 if grad is None else grad._data.reshape(-1)
                    p._grad = None
            else:
                bucket.buffer.fill(0)
            bucket.expected = bucket.arrived = 0
            bucket.request = None
        self.delivered = dict.fromkeys(self.where, 0)
        self.served = set()
        self.next = 0              # buckets start in order, the same on every process
        self.started_early = 0     # buckets started while backward was still running
        self.finished = False
        self.armed = True

    def expect(self, params):
        """A forward used ``params`` through one ``_GradientsReady``: one delivery each."""
        for p in params:
            self.where[id(p)][0].expected += 1
            self.delivered[id(p)] += 1

    def add(self, params, grads):
        """Called from ``_GradientsReady.backward``: these gradients are complete."""
        if not self.armed or self.finished:
            return
        for p, g in zip(params, grads):
            bucket, start, stop = self.where[id(p)]
            if g is not None:
                bucket.buffer[start:stop] += g.reshape(-1)
            bucket.arrived += 1
        self._start_ready()

    def _start(self, bucket):
        bucket.request = self.comm.Iallreduce(self.MPI.IN_PLACE, bucket.buffer, op=self.MPI.SUM)

    def _start_ready(self):
        started = False
        while self.next < len(self.buckets) and \
                self.buckets[self.next].arrived >= self.buckets[self.next].expected:
            self._start(self.buckets[self.next])
            self.next += 1
            self.started_early += 1
            started = True
        if not started and self.next:       # let MPI move the started requests on
            self.MPI.Request.Testall([b.request for b in self.buckets[:self.next]])

    def finish(self):
        """At the end of backward (the first parameter hook): start what is left (buckets
        some of whose gradients never came: zeros there, on every process alike), wait for
        every request, divide by the number of processes."""
        if self.finished:
            return
        begin = time.perf_counter()
        while self.next < len(self.buckets):
            self._start(self.buckets[self.next])
            self.next += 1
        self.MPI.Request.Waitall([b.request for b in self.buckets])
        scale = 1.0 / self.size
        for bucket in self.buckets:
            bucket.buffer *= bucket.buffer.dtype.type(scale)
        self.finished = True
        self.wait_seconds = time.perf_counter() - begin

    def averaged(self, p, grad):
        """The parameter hook: the averaged gradient of ``p`` for the engine to store
        (``grad``: this process's, as the engine summed it)."""
        if not self.armed:
            return None
        key = id(p)
        if key in self.served:
            raise DistributedError("DistributedDataParallel: a second backward after one "
                                   "forward; run the forward again (one forward per "
                                   "backward, as PyTorch's DDP)")
        self.finish()
        self.served.add(key)
        if len(self.served) == len(self.where):
            self.armed = False
        if not self.delivered[key]:
            # read by code outside the forward of the module that owns it (a parent using a
            # child's weight): no bucket saw this gradient, so it is averaged here, alone and
            # blocking. Every process gets here for the same parameters in the same order
            # (the same graph), so the collectives match.
            alone = np.ascontiguousarray(grad._data)
            self.comm.Allreduce(self.MPI.IN_PLACE, alone, op=self.MPI.SUM)
            return alone * alone.dtype.type(1.0 / self.size)
        bucket, start, stop = self.where[key]
        return bucket.buffer[start:stop].reshape(p._data.shape)


class DistributedDataParallel(Module):
    # (defined under a private name, exported below as DistributedDataParallel: a wrapper,
    # not a layer a saved architecture can name, so ``nn.config.layer_classes`` skips it)
    """Wrap ``module`` for data-parallel training over the processes of the job, as
    ``torch.nn.parallel.DistributedDataParallel``.

    ``init_process_group()`` must have been called. Rank 0's parameters and buffers are
    copied to every process at construction. In each forward (with gradients recorded),
    the backward that follows averages the gradients over the processes, bucket by bucket,
    overlapping communication with the rest of backward (see the module's notes).

    Args:
        module: the model; ``ddp.module`` is it, and ``ddp.state_dict()`` has its keys with a
            ``module.`` prefix, as PyTorch's (save ``ddp.module.state_dict()`` to load the
            weights into an unwrapped model).
        broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every
            process at the start of each forward, as PyTorch.
        bucket_cap_mb: the size of the buckets after the first (1 MiB); default 25.
        init_sync: copy rank 0's parameters and buffers to everyone at construction.
        device_ids, output_device, dim, process_group, find_unused_parameters,
            check_reduction, gradient_as_bucket_view, static_graph: accepted for PyTorch
            code; a parameter that a step does not use gets a zero gradient averaged anyway.

    ``no_sync()`` skips the averaging inside its block (gradient accumulation); the first
    averaged backward after it averages the accumulated gradients too.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **unused):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an ournn.nn.Module, got "
                            f"{type(module).__name__}")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: ournn.distributed has one group, the "
                             "world: pass process_group=None")
        cap = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got "
                             f"{bucket_cap_mb!r}")
        w = world("DistributedDataParallel")
        self.module = module
        self._comm = None
        self.broadcast_buffers = bool(broadcast_buffers)
        self._sync = True
        self._accumulated = False       # gradients accumulated under no_sync, not averaged
        self._reducer = None
        if w.size == 1:
            return
        # a communicator of its own, so its requests never interleave with other collectives
        # (SyncBatchNorm's, the user's) in flight at the same time
        self._comm = w.comm.Dup()
        if init_sync:
            self._broadcast([p._data for p in module.parameters()])
            self._broadcast(list(module.buffers()))
        params = [p for p in module.parameters() if p.requires_grad]
        if params:
            self._reducer = _Reducer(list(reversed(params)), self._comm, w.MPI,
                                     int(cap * (1 << 20)))
        self._owners = []          # (module, names of its own parameters that need gradients)
        for m in module.modules():
            names = [n for n, p in m._parameters.items() if p is not None and p.requires_grad]
            if names:
                self._owners.append((m, names))
        for p in params:
            p.register_hook(self._hook_for(p))

    def _hook_for(self, p):
        reducer = self._reducer
        return lambda grad: reducer.averaged(p, grad)

    def _broadcast(self, arrays):
        for a in arrays:
            if a.flags.c_contiguous and a.flags.writeable:
                self._comm.Bcast(a, root=0)
            else:
                buf = np.ascontiguousarray(a)
                self._comm.Bcast(buf, root=0)
                a[...] = buf

    @property
    def bucket_bytes(self):
        """Bytes averaged per step (every gradient once)."""
        return 0 if self._reducer is None else self._reducer.bytes_per_step

    @property
    def last_wait_seconds(self):
        """Time the last backward spent waiting for the requests at its end (the part of
        the communication that did not overlap the computation)."""
        return 0.0 if self._reducer is None else self._reducer.wait_seconds

    @contextlib.contextmanager
    def no_sync(self):
        """Inside the block, backward accumulates local gradients without averaging."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def sync_buffers(self):
        """Copy rank 0's buffers to every process (done by each forward when
        ``broadcast_buffers``)."""
        if self._comm is not None:
            self._broadcast(list(self.module.buffers()))

    def forward(self, *inputs, **kwargs):
        reducer = self._reducer
        if self._comm is None:        # a world of one
            return self.module(*inputs, **kwargs)
        if self.broadcast_buffers:
            self.sync_buffers()
        if reducer is None or not is_grad_enabled() or not self._sync:
            if reducer is not None:
                reducer.armed = False
                self._accumulated = self._accumulated or (is_grad_enabled() and not self._sync)
            return self.module(*inputs, **kwargs)
        reducer.prepare(fold_grads=self._accumulated)
        self._accumulated = False
        handles = []
        for m, names in self._owners:
            handles.append(m.register_forward_pre_hook(self._pre_hook(names)))
            handles.append(m.register_forward_hook(self._post_hook(names), always_call=True))
        try:
            return self.module(*inputs, **kwargs)
        finally:
            for h in handles:
                h.remove()

    def _pre_hook(self, names):
        reducer = self._reducer

        def pre(module, args):
            params = [module._parameters[n] for n in names]
            index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a._requires_grad]
            outs = _GradientsReady.apply(*[args[i] for i in index], *params, reducer=reducer,
                                         params=params, n_args=len(index))
            reducer.expect(params)
            for name, out in zip(names, outs[len(index):]):
                object.__setattr__(module, name, out)       # this forward sees the identity
            if not index:
                return None
            args = list(args)
            for k, i in enumerate(index):
                args[i] = outs[k]
            return tuple(args)
        return pre

    @staticmethod
    def _post_hook(names):
        def post(module, args, output):
            for name in names:
                object.__setattr__(module, name, module._parameters[name])
        return post

    def extra_repr(self):
        if self._reducer is None:
            return "world_size=1"
        return (f"world_size={self._reducer.size}, buckets={len(self._reducer.buckets)}, "
                f"bucket_bytes={self.bucket_bytes}")


