"""Big array work split over the cores, in threads: ``run(work, n, size)``.

NumPy lets go of Python's global lock inside its copies, ufuncs and BLAS calls, so two Python
threads that each work on one half of a batch really run at the same time. The products of
a convolution are already split over the cores by the BLAS, but the rest of its work (the
im2col copies, adding the column gradient back, the bias) and the elementwise passes of the
layers around it (ReLU, max-pool) would run on one core. Split by samples instead, every
part runs on all cores, each thread with its own one-thread products: ``blas.matmul`` keeps
products on one thread while work is split (figures in docs/performance.md).

A part is a contiguous slice of range(n) (samples, or batch slices); ``work(part)`` must only
write what belongs to its part, or return a partial result for the caller to add up. A
``run`` inside a part runs in that part's thread. Callers that sum partial results keep the
sum's order independent of the split (see ``conv._in_parts``): then split and unsplit runs
give the same bits, and a resumed training run is exact whichever the chooser picked.

Work under ``MIN_SIZE`` elements runs in the calling thread. Handing a part to another thread
costs about 20-50 us, but the real price of a split is that products everywhere then run on
one thread (see ``blas.pin_one_thread``): that pays only where the split work dominates the
step. The seed CNN (W2, batch 64, convolutions of 0.2-0.9M elements) took 14.5 ms a step
split at 256K elements and 11.8 ms unsplit; the Keras-style CNN (W3, 4.7-21M) 54-55 ms with
the limit at 1M, 2M or 4M elements. Arrays that are not NumPy's (a GPU) never come here.
``POLICY = "serial"`` runs everything in the calling thread, ``"split"`` always splits (tests
compare the two), and ``"auto"`` (the default) splits when ``CHOOSER`` measures it faster.
"""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import blas

MIN_SIZE = 1 << 21          # elements (8 MB of float32): below this, one thread
# while products are pinned to one thread anyway (work of MIN_SIZE was split less than a
# second ago), work down to this size is split too: the first convolution of the MNIST CNN
# (0.78M elements of columns) took 3.6 ms a step on one thread
MIN_SIZE_PINNED = 1 << 18
POLICY = "auto"             # or "serial", "split"

_pool = [None, 0]           # the executor and its number of threads
_inside = threading.local()  # set in the workers: a nested run stays in its thread


def workers():
    """How many threads share big work: the cores this process may use (``blas``'s setting,
    which ``limit_threads`` lowers when processes share a machine)."""
    return max(1, blas.DEFAULT_THREADS)


def parts(n, k):
    """range(n) cut into k contiguous slices of nearly equal length (the first ones longer)."""
    step, extra = divmod(n, k)
    bounds = [0]
    for i in range(k):
        bounds.append(bounds[-1] + step + (i < extra))
    return [slice(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _executor(k):
    if _pool[1] < k:
        if _pool[0] is not None:
            _pool[0].shutdown(wait=False)
        _pool[0] = ThreadPoolExecutor(max_workers=k, thread_name_prefix="ournn-parallel",
                                      initializer=_mark_worker)
        _pool[1] = k
    return _pool[0]


def _mark_worker():
    _inside.active = True


def _forget_pool():
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    _pool[0], _pool[1] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


# Whether to split: measured, as ``blas`` measures its threads. On a busy machine a split
# waits for its slowest part, whose thread may be waiting for a core (and a part holding
# Python's lock holds up the others). "default" splits, "one" does not.
CHOOSER = blas.Chooser("default")


def run(work, n, size):
    """[work(samples) for each part of range(n)], the parts run at once in threads when
    ``size`` (elements touched) is large enough and splitting is measured faster; the calling
    thread runs the first part. While parts run, ``blas.matmul`` keeps products on one thread
    each (the pin)."""
    k = min(workers(), n)
    if (k <= 1 or size < MIN_SIZE_PINNED or POLICY == "serial"
            or getattr(_inside, "active", False)
            or (size < MIN_SIZE and not blas.pinned())):
        return [work(slice(0, n))]
    use = CHOOSER.pick() if POLICY == "auto" else "default"
    start = time.perf_counter()
    if use == "one":
        blas.unpin()
        results = [work(slice(0, n))]
    else:
        results = _split(work, parts(n, k))
    CHOOSER.record(size.bit_length(), use, (time.perf_counter() - start, size))
    return results


def _split(work, pieces):
    """The parts at once, every product on one thread during and for a second after (the
    products elsewhere too: see ``blas.pinned_split``)."""
    with blas.pinned_split():
        futures = [_executor(len(pieces) - 1).submit(_in_worker, work, s) for s in pieces[1:]]
        try:
            first = _in_worker(work, pieces[0])
        finally:            # never leave a part writing after an error in another
            results = [f.exception() or f.result() for f in futures]
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [first] + results


def elementwise(f, *arrays):
    """``f(*arrays, out=out)`` (elementwise, arrays of one shape) computed part by part along
    the first axis when large; ``out`` is new, in the first array's memory layout."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.size < MIN_SIZE_PINNED or first.ndim == 0:
        return f(*arrays, out=None)
    out = np.empty_like(first)

    def work(samples):
        f(*(a[samples] for a in arrays), out=out[samples])

    run(work, len(first), first.size)
    return out


def _split_rows(a, b, out=None):
    """``a @ b`` (2-D, one dtype) with the rows of ``a`` shared out to the threads, each row
    block a one-thread product (``blas.split_rows``: used while products are pinned)."""
    if getattr(_inside, "active", False):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)

    def rows(block):
        np.matmul(a[block], b, out=out[block])

    _split(rows, parts(a.shape[0], min(workers(), a.shape[0])))
    return out


blas.split_rows = _split_rows


def _in_worker(work, samples):
    before = getattr(_inside, "active", False)
    _inside.active = True
    try:
        return work(samples)
    finally:
        _inside.active = before
