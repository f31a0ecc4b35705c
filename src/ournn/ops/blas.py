"""How many BLAS threads a matrix product gets: ``matmul(a, b)`` for NumPy arrays.

NumPy's OpenBLAS splits every product across all cores. That pays on a quiet machine for big
products and costs nothing much for small ones, but when other processes use the cores a
split product waits for its second thread to be scheduled: on this 2-core machine at load
average 6.6, a (32, 784) @ (784, 512) product (26 MFLOP) took 0.18 ms on one thread and a
median of 24 ms on two; a (128, 512) @ (512, 1024) one 0.71 ms against 4.5 ms. The load
average cannot tell in time, and our own threads raise it too, so the choice is measured:

- products under ``SMALL_FLOPS`` always run on one thread: two gain at most 13% there on a
  quiet machine (16.8 MFLOP: 0.078 ms on one thread, 0.068 ms on two) and risk 100x; the
  deep narrow MLP (W4, 4.2 MFLOP products) went from 235 to 351 steps/s;
- bigger ones, and matrix-vector products (fewer than ``FEW_ROWS`` rows), run as a
  ``Chooser`` measures faster now, per size class (the FLOPs' power of two): NumPy's threads
  to start with, and every ``PERIOD`` products a probe of the other setting; it is kept when
  its mean time per FLOP is 5% lower.

Without NumPy's OpenBLAS (another BLAS, a device array) nothing changes: ``matmul`` is ``@``.
``POLICY`` ("auto", "one", "default") fixes the choice for tests and benchmarks; while
``ops.parallel`` splits work, products run on one thread whatever it says (``pin_one_thread``).

The setting stays as the last product left it (restoring it after every product would cost
1.8 us a time, 5% of the deep narrow MLP's step): NumPy code of your own between training
steps may then run its products on one thread. ``set_threads(n)`` (or threadpoolctl) sets
it back; ``POLICY = "default"`` leaves NumPy's threads alone.
"""
import contextlib
import ctypes
import glob
import math
import os
import time

import numpy as np


def find_openblas_threads():
    """``(get, set)`` for the number of threads of the OpenBLAS that NumPy bundles (wheels:
    ``numpy.libs/libscipy_openblas64_*.so``, symbols ``scipy_openblas_*64_``; older wheels:
    ``numpy.libs/libopenblas*.so``, symbols ``openblas_*``), or None when there is no such
    library (another BLAS, Windows, a source build): then nothing is changed."""
    try:
        root = os.path.dirname(np.__file__)
        libs = sorted(glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*"))
                      + glob.glob(os.path.join(root, ".libs", "*openblas*")))
        for path in libs:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"),
                                   ("openblas_", "")):
                get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, get.argtypes = ctypes.c_int, []
                    put.restype, put.argtypes = None, [ctypes.c_int]
                    if get() >= 1:
                        return get, put
    except (OSError, AttributeError, ValueError):
        pass
    return None


BLAS = find_openblas_threads()
DEFAULT_THREADS = BLAS[0]() if BLAS is not None else 1   # OPENBLAS_NUM_THREADS or every core
POLICY = "auto"
SMALL_FLOPS = 8e6
# products of so few rows are matrix-vector products, bound by memory, not arithmetic: two
# threads read the matrix twice as fast even when small (an MLP's batch-1 inference: 57 us
# with two threads, 69 us with one), so the chooser measures them whatever their size
FEW_ROWS = 8


_SET = [DEFAULT_THREADS]      # what OpenBLAS was last set to through this module

# While ``ops.parallel`` splits big work over the cores in threads of its own, every product
# runs on one thread: OpenBLAS's second thread spins for a while after each two-thread
# product, and on a 2-core machine it then takes a core from the split work. The W3 step
# (MNIST CNN, batch 128) took 84 ms split beside two-thread products, 56.5 ms split with
# one-thread products, 81 ms unsplit. The pin holds for ``PIN_SECONDS`` after the last split.
PIN_SECONDS = 1.0
_PINNED_UNTIL = [0.0]
_SPLITS = [0]                 # splits running now: pinned, whatever the clock says


def pin_one_thread():
    """Run every product on one thread for the next ``PIN_SECONDS`` (``ops.parallel`` calls
    this each time it splits work)."""
    _PINNED_UNTIL[0] = time.perf_counter() + PIN_SECONDS
    set_threads(1)


def unpin():
    _PINNED_UNTIL[0] = 0.0


def pinned():
    """Whether products are pinned to one thread now (work is being split, or was less than
    ``PIN_SECONDS`` ago)."""
    return _SPLITS[0] > 0 or (bool(_PINNED_UNTIL[0]) and time.perf_counter() < _PINNED_UNTIL[0])


@contextlib.contextmanager
def pinned_split():
    """Around work split over threads (``ops.parallel``): products on one thread during it,
    even a split that outlasts ``PIN_SECONDS``, and for ``PIN_SECONDS`` after it."""
    pin_one_thread()
    _SPLITS[0] += 1
    try:
        yield
    finally:
        _SPLITS[0] -= 1
        pin_one_thread()


# Set by ``ops.parallel``: ``split_rows(a, b, out)`` runs a big 2-D product with its rows shared
# out to the threads that split the work, each on one BLAS thread. While products are pinned,
# that gives a big product both cores back without OpenBLAS's own threads (a W3 step's
# Linear(9216, 128) took 5.7 ms pinned to one thread, 3.4 ms on two).
split_rows = None


def threads():
    """The number of threads OpenBLAS uses now (1 without it)."""
    return BLAS[0]() if BLAS is not None else 1


def set_threads(n):
    """Let OpenBLAS use ``n`` threads (nothing without it). The last setting is remembered,
    so setting it again costs no call into the library; code that changes it behind this
    module's back (threadpoolctl) should set it back when done, as ``one_thread`` does."""
    if BLAS is not None and _SET[0] != n:
        BLAS[1](n)
        _SET[0] = n


def limit_threads(n):
    """From now on use at most ``n`` threads (processes sharing a machine give each one its
    share of the cores: ``ournn.distributed`` calls this)."""
    global DEFAULT_THREADS
    DEFAULT_THREADS = max(1, int(n))
    _SET[0] = None
    set_threads(min(threads(), DEFAULT_THREADS))


@contextlib.contextmanager
def one_thread():
    """Run the block with one OpenBLAS thread, then restore the setting before it."""
    before = _SET[0]
    set_threads(1)
    try:
        yield
    finally:
        if before is not None:
            set_threads(before)


class Chooser:
    """One thread or ``DEFAULT_THREADS`` for the products of each size class, by measurement.

    The products run with ``choice``; every ``PERIOD`` products a probe runs the next
    ``WINDOW`` with the other setting (the first ``WARM`` not counted: sleeping threads wake
    up). Then, over the size classes timed both ways, the mean seconds per FLOP of the probe
    and of the last ``WINDOW`` products before it are compared, and the other setting is
    kept if it is 5% faster. A probe that loses doubles the period (up to ``MAX_PERIOD``),
    one that wins resets it. Means, not minima: under load a split product is fast now and
    then and very slow often, and the total is what a training step pays."""

    WINDOW, WARM, PERIOD, MAX_PERIOD = 16, 2, 200, 6400

    def __init__(self, choice="default"):
        self.choice = choice
        self.period = self.PERIOD
        self.calls = 0
        self.probe = None         # products left in the probe, or None
        self.recent = {}          # size class -> [(seconds, flops)] with ``choice``
        self.probed = {}          # size class -> [(seconds, flops)] in this probe

    def pick(self):
        self.calls += 1
        if self.probe is None and self.calls % self.period == 0:
            self.probe, self.probed = self.WINDOW, {}
        if self.probe is None:
            return self.choice
        return "default" if self.choice == "one" else "one"

    KEEP = WINDOW             # samples kept per size class with the current choice

    def score(self, samples):
        """What a size class's samples cost: the mean seconds per FLOP."""
        return _per_flop(samples)

    def record(self, key, used, sample):
        """What a product (or loop) that ``pick`` chose took: ``sample`` as ``score`` reads
        it, here ``(seconds, flops)``."""
        if self.probe is None or used == self.choice:
            last = self.recent.setdefault(key, [])
            last.append(sample)
            del last[:-self.KEEP]
            return
        if self.probe <= self.WINDOW - self.WARM:
            self.probed.setdefault(key, []).append(sample)
        self.probe -= 1
        if self.probe > 0:
            return
        self.probe = None
        keys = [k for k in self.probed if self.recent.get(k)]
        if not keys:
            return
        now = sum(self.score(self.recent[k]) for k in keys)
        other = sum(self.score(self.probed[k]) for k in keys)
        if other < 0.95 * now:
            self.choice, self.period = used, self.PERIOD
            self.recent = {k: v[-self.KEEP:] for k, v in self.probed.items()}
        else:
            self.period = min(2 * self.period, self.MAX_PERIOD)


def _per_flop(samples):
    return sum(s for s, _ in samples) / max(sum(f for _, f in samples), 1.0)


CHOOSER = Chooser()


def matmul(a, b, out=None):
    """``a @ b`` (NumPy's matmul, batched and broadcasting as it) with the BLAS threads this
    module chooses for its size; any other array type goes to its own ``@``."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        if out is None:
            return a @ b
        from ..backend import get_array_module
        return get_array_module(a).matmul(a, b, out=out)
    if BLAS is None or DEFAULT_THREADS == 1 or a.ndim < 2 or b.ndim < 2:
        return np.matmul(a, b, out=out)
    if (_SPLITS[0] or _PINNED_UNTIL[0]) and pinned():
        if _SET[0] != 1:
            set_threads(1)
        if (split_rows is not None and a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype
                and a.shape[0] >= 2 * FEW_ROWS
                and 2.0 * a.shape[0] * a.shape[1] * b.shape[1] >= SMALL_FLOPS):
            return split_rows(a, b, out)
        return np.matmul(a, b, out=out)
    m, k = a.shape[-2:]
    if a.ndim == 2 and b.ndim == 2:
        flops = 2.0 * m * k * b.shape[1]
    else:
        n = b.shape[-1]
        flops = 2.0 * max(a.size // (m * k or 1), b.size // (k * n or 1), 1) * m * k * n
    policy = POLICY
    if policy == "auto":
        few_rows = m < FEW_ROWS
        if flops < SMALL_FLOPS and not few_rows:   # the common case first: no timing
            if _SET[0] != 1:
                set_threads(1)
            return np.matmul(a, b, out=out)
        use = CHOOSER.pick()
        set_threads(1 if use == "one" else DEFAULT_THREADS)
        start = time.perf_counter()
        r = np.matmul(a, b, out=out)
        CHOOSER.record((int(math.log2(flops + 1)), few_rows), use,
                       (time.perf_counter() - start, flops))
        return r
    set_threads(1 if policy == "one" else DEFAULT_THREADS)
    return np.matmul(a, b, out=out)


def matmul_nt(a, b):
    """``a @ b.T`` for matrices ``a`` (m, k) and ``b`` (n, k): a linear layer's forward.

    NumPy's OpenBLAS (SkylakeX kernels) runs a small float32 product with a transposed right
    operand at about half speed: (32, 256) @ (256, 256).T took 41 us on one thread, the same
    product as ``(b @ a.T).T`` made contiguous again 25 us; 0.47-0.84x for 8 to 64 rows and
    at least twice as many outputs, but 1.1-1.8x slower for square or narrow products and no
    gain in float64. So only those small float32 products are swapped (the deep narrow MLP,
    W4: 21 of them a step, ~0.3 ms); the result is C-contiguous either way."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and BLAS is not None
            and a.ndim == 2 and b.ndim == 2 and a.dtype == np.float32
            and b.dtype == np.float32):
        m, n = a.shape[0], b.shape[0]
        if FEW_ROWS <= m and 2 * m <= n and 2.0 * m * a.shape[1] * n < SMALL_FLOPS:
            return np.ascontiguousarray(matmul(b, a.T).T)
    return matmul(a, b.T)
