"""One trial: a short ``run_training`` turned into a row of the results table. Also what the
worker processes of a parallel study run first (their BLAS thread count).

Everything here is a top-level function of plain data in and out, so it pickles for a
``ProcessPoolExecutor`` with the "spawn" start method.
"""
import ctypes
import os
import time
import warnings

from ..train.callbacks import Callback

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_trial(index, params, config):
    """Train with ``config`` (a complete ``run_training`` config) and return the trial's
    record: the hyperparameters ``params``, validation accuracy (last epoch and best) and
    loss, seconds, and ``status`` "ok", "failed" (with ``error``: the exception's type and
    message; a diverging run raises ``NonFiniteLossError``) or "interrupted" (Ctrl-C)."""
    import numpy as np

    from ..train.recipe import run_training
    if _stop is not None and _stop.is_set():     # the study was interrupted: don't start
        return {"trial": index, "params": params, "status": "cancelled"}
    record = {"trial": index, "params": params, "status": "ok", "error": "",
              "val_accuracy": None, "val_accuracy_best": None, "val_loss": None,
              "best_epoch": None, "epochs": 0, "seconds": None, "out": config.get("out"),
              "pid": os.getpid()}
    start = time.perf_counter()
    try:
        # a diverging trial overflows before its loss turns NaN: the error says it, once
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            stop = [_StopWhenAsked()] if _stop is not None else []
            # no per-trial pictures: drawing them takes longer than a short trial trains,
            # and the study draws its own scatter.png
            result = run_training(config, extra_callbacks=stop, plots=False)
        logs = result["history"].history
        acc, loss = logs.get("val_accuracy", []), logs.get("val_loss", [])
        if acc:
            best = max(range(len(acc)), key=lambda i: acc[i])
            record.update(val_accuracy=float(acc[-1]), val_accuracy_best=float(acc[best]),
                          val_loss=float(loss[-1]) if loss else None, best_epoch=best + 1)
        record["epochs"] = len(acc)
        if result["results"].get("interrupted"):
            record["status"] = "interrupted"
            if _stop is not None:       # tell the other workers
                _stop.set()
    except Exception as e:  # noqa: BLE001 - a trial's failure is a result, not the study's end
        record["status"] = "failed"
        record["error"] = f"{type(e).__name__}: {e}"
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["blas_threads"] = blas_threads()
    record["blas_threads_at_start"] = _threads_at_start
    return record


_stop = None     # in a worker process: the study's "stop" event (set on Ctrl-C)
_threads_at_start = None    # in a worker: OpenBLAS's thread count as NumPy loaded it


class _StopWhenAsked(Callback):
    """Ends a trial after its current step once the study's stop event is set."""

    def on_batch_end(self, trainer, loss):
        if _stop is not None and _stop.is_set():
            trainer.stop_training = True
            trainer.stop_reason = "interrupt"


def _on_sigint(signum, frame):
    if _stop is not None:
        _stop.set()


def init_worker(env, stop=None):
    """Initializer of a worker process. The BLAS thread count must be known before NumPy
    loads OpenBLAS, which a spawned child does while unpickling this very function (it lives
    in ``ournn``, which imports NumPy); so the parent puts ``env`` in its own environment
    while it starts the workers (they inherit it: see ``search._worker_pool``). Here we set
    it again for anything that reads it later and ask the loaded OpenBLAS to use that many
    threads in case it was started otherwise.

    Ctrl-C reaches every process of the terminal's process group: inside a trial, ``fit``'s
    own handler stops it after the current step; then, or on a SIGINT while idle, the worker
    sets the shared ``stop`` event, so every other worker stops its trial too
    (``_StopWhenAsked``) and trials already queued return "cancelled" untrained."""
    import signal
    global _stop, _threads_at_start
    _stop = stop
    _threads_at_start = blas_threads()      # what the inherited environment achieved
    os.environ.update(env)
    threads = int(env.get("OPENBLAS_NUM_THREADS", "0") or 0)
    if threads:
        _openblas_call("set_num_threads", threads)
    signal.signal(signal.SIGINT, _on_sigint)


def blas_threads():
    """Threads the OpenBLAS that NumPy loaded will use (None if unknown: another BLAS,
    or not Linux)."""
    return _openblas_call("get_num_threads")


def _openblas_call(name, *args):
    """Call ``openblas_<name>`` in the OpenBLAS loaded by this process (NumPy's wheels bundle
    it with a prefix and a suffix: ``scipy_openblas_get_num_threads64_``)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f
                            if "openblas" in line.split()[-1].lower()})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in (f"openblas_{name}", f"openblas_{name}64_",
                       f"scipy_openblas_{name}64_", f"scipy_openblas_{name}"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                result = fn(*[ctypes.c_int(a) for a in args])
                return None if args else int(result)
    return None
