"""``--threads N`` for the benchmark scripts: NumPy's BLAS reads its thread count when NumPy is
loaded, so the scripts call ``apply_from_argv()`` before they import NumPy."""
import os
import sys

VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def from_argv(argv):
    """The value of ``--threads`` in ``argv``, or None."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


def apply_from_argv(argv=None):
    """Export ``--threads`` to the BLAS/OpenMP variables (also seen by M1's subprocesses)."""
    value = from_argv(sys.argv[1:] if argv is None else argv)
    if value:
        for name in VARIABLES:
            os.environ[name] = value


def count():
    """Threads for both frameworks: ``--threads`` if given, else every core (BENCHMARKS.md)."""
    return int(os.environ.get("OPENBLAS_NUM_THREADS") or os.cpu_count() or 1)
