"""Keep freed array memory in the process instead of handing it back to the system each step.

A training step allocates and frees the same arrays again and again. With glibc's malloc, an
array of 128 KiB or more is first given fresh pages of its own (mmap), and freed memory at
the top of the heap is handed back as soon as it exceeds twice the largest array freed so far.
glibc raises both limits as it sees big arrays freed (to at most 32 and 64 MiB), so a model
with big activations soon runs from recycled memory, but a deep narrow one never does: the
deep narrow MLP (W4) frees 21 weight gradients of 256 KiB at every ``zero_grad``, the heap
shrinks, and the next backward takes ~1,300 page faults to get the memory back. That was
1.5 ms of its 4.0 ms step here (backward 2.6 -> 1.3 ms, the step 3.99 -> 2.46 ms, measured
side by side at load average 3). A process that has already freed one big array (16 MiB:
loading a dataset does it, and so does ``benchmarks/run.py``) has had the limits raised by
glibc and gains nothing more here: W4's step took 2.55 ms there with this setting and
2.56 ms without it.

``keep_freed_memory()`` sets the two limits where glibc's own raising ends (32 MiB: arrays
under it come from recycled memory; 64 MiB: freed memory kept for reuse), once, when the
engine is imported. It changes no result, only where arrays live; the process may keep up to
64 MiB of freed memory. Nothing happens without glibc (macOS, Windows, musl) or when
``OURNN_KEEP_FREED_MEMORY=0`` is set.
"""
import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 * 2 ** 20                    # glibc's own ceiling for the dynamic limits
TRIM_THRESHOLD = 64 * 2 ** 20

_done = []


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def keep_freed_memory():
    """Set glibc's malloc to recycle freed arrays (see the module's docstring). Returns True
    when the settings were applied (now or before), False where they cannot be."""
    if _done:
        return _done[0]
    ok = False
    if (os.environ.get("OURNN_KEEP_FREED_MEMORY", "1") != "0"
            and _glibc()):
        try:
            mallopt = ctypes.CDLL(None).mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                  and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
        except (OSError, AttributeError):
            ok = False
    _done.append(ok)
    return ok
