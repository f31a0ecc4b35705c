"""Random and grid search: many short training runs, one table.

Each trial is ``run_training`` with the study's budget (few epochs on a slice of the
training set), validated on the last ``val_split`` TRAINING images: trials are compared on
held-out training data, never on the test set. A trial that fails (a diverging loss, a bad
model argument) becomes a "failed" row with its error; the study goes on.
"""
import contextlib
import csv
import dataclasses
import io
import json
import math
import multiprocessing
import os
import shlex
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

from ..io import atomic_write_text
from .space import (
    check_space,
    describe_space,
    format_value,
    grid_points,
    sample_space,
    split_params,
)
from .trial import BLAS_THREAD_VARIABLES, init_worker, run_trial

SELECTION = ("highest validation accuracy (best epoch) on the last val_split training "
             "images; ties: lower validation loss. The test set is never used to select.")


@dataclasses.dataclass
class Budget:
    """How long each trial trains: ``epochs`` on the first ``limit`` training images (0: all
    60,000), of which the last ``val_split`` are held out for validation."""
    epochs: int = 1
    limit: int = 5000
    val_split: int = 1000

    def check(self):
        if int(self.epochs) < 1:
            raise ValueError(f"budget: epochs must be >= 1, got {self.epochs}")
        if int(self.val_split) < 1:
            raise ValueError("budget: val_split must be >= 1: trials are compared on held-out "
                             "training images, never on the test set")
        if int(self.limit) < 0 or (self.limit and int(self.val_split) >= int(self.limit)):
            raise ValueError(f"budget: val_split ({self.val_split}) must be smaller than "
                             f"limit ({self.limit})")
        self.epochs, self.limit, self.val_split = (int(self.epochs), int(self.limit),
                                                   int(self.val_split))
        return self


def _budget(budget, base):
    if isinstance(budget, Budget):
        return dataclasses.replace(budget).check()
    if budget is None:
        budget = {k: base[k] for k in ("epochs", "limit", "val_split") if base.get(k)}
    if not isinstance(budget, dict):
        raise TypeError(f"budget must be a Budget or a dict, got {type(budget).__name__}")
    unknown = set(budget) - {"epochs", "limit", "val_split"}
    if unknown:
        raise ValueError(f"budget: unknown key(s) {', '.join(sorted(unknown))}; known: "
                         "epochs, limit, val_split")
    return Budget(**budget).check()


class Study:
    """The trials of one search and their results (``records``, one dict per finished
    trial). ``best`` is the best finished trial; ``best_command()`` the ``ournn train``
    command that trains its configuration; ``save()`` writes results.csv, results.json and
    scatter.png into ``out``."""

    def __init__(self, search, space, base_config=None, budget=None, out=None, seed=0):
        from ..train.settings import DEFAULTS, check_config
        base = dict(base_config or {})
        base.setdefault("model", DEFAULTS["model"])
        base.setdefault("seed", seed)
        if not isinstance(base.get("model_kwargs", {}), dict):
            raise TypeError("base_config: model_kwargs must be a dict, e.g. {'width': 32}")
        self.budget = _budget(budget, base)
        for key in ("epochs", "limit", "val_split", "verbose"):
            base.pop(key, None)
        self.out = os.fspath(out or base.pop("out", None) or os.path.join(
            "runs", f"tune-{base['model']}-{base.get('dataset', DEFAULTS['dataset'])}"))
        base.pop("out", None)
        self.search, self.seed, self.base_config = search, seed, base
        self.space = check_space(space, base["model"])
        self.records = []
        self.planned = 0
        self.interrupted = False
        self.workers = 1
        self.threads_per_worker = None
        check_config(self.trial_config(0, {}))   # unknown settings or models: fail now

    # ----- trials -----
    def trial_config(self, index, params):
        """The complete ``run_training`` config of trial ``index`` with ``params``."""
        settings, model_kwargs = split_params(params, self.base_config["model"])
        config = {k: v for k, v in self.base_config.items() if k != "model_kwargs"}
        config.update(settings)
        config["model_kwargs"] = {**self.base_config.get("model_kwargs", {}), **model_kwargs}
        config.update(epochs=self.budget.epochs, limit=self.budget.limit,
                      val_split=self.budget.val_split, verbose=0,
                      out=os.path.join(self.out, f"trial-{index:03d}"))
        return config

    @property
    def params(self):
        return list(self.space)

    @property
    def best(self):
        """The finished trial with the highest validation accuracy (None if none finished)."""
        done = [r for r in self.records if r["status"] == "ok"
                and r["val_accuracy_best"] is not None]
        if not done:
            return None
        return min(done, key=lambda r: (-r["val_accuracy_best"],
                                        r["val_loss"] if r["val_loss"] is not None
                                        and math.isfinite(r["val_loss"]) else math.inf,
                                        r["trial"]))

    def sorted_records(self):
        return sorted(self.records, key=lambda r: r["trial"])

    # ----- the command line of the best trial -----
    def best_command(self, reproduce=False):
        """``ournn train ...`` for the best trial's configuration (None if no trial
        finished). It trains for ``ournn train``'s default epochs on all the data; with
        ``reproduce=True`` it adds the study's ``--epochs/--limit/--val-split`` and retrains
        the trial exactly (same seed)."""
        best = self.best
        if best is None:
            return None
        return train_command(self.trial_config(best["trial"], best["params"]),
                             searched=best["params"], reproduce=reproduce,
                             out=os.path.join(self.out, "best"))

    # ----- the table -----
    def columns(self):
        return ["trial"] + self.params + ["val_acc", "best_val_acc", "val_loss", "seconds"]

    def _widths(self):
        return [5] + [max(len(p), 9) for p in self.params] + [8, 12, 8, 7]

    def header(self):
        return "  ".join(c.rjust(w) for c, w in zip(self.columns(), self._widths())) + \
            "  status"

    def row(self, record):
        def pct(v):
            return "" if v is None else f"{100 * v:.2f}%"
        status = record["status"]
        if record["error"]:
            status += ": " + _short(record["error"], 60)
        cells = ([str(record["trial"])] +
                 [format_value(record["params"].get(p)) for p in self.params] +
                 [pct(record["val_accuracy"]), pct(record["val_accuracy_best"]),
                  _loss_text(record["val_loss"]),
                  "" if record["seconds"] is None else f"{record['seconds']:.1f}"])
        widths = self._widths()
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths)) + "  " + status

    def table(self):
        """All finished trials, in trial order, as aligned text."""
        return "\n".join([self.header()] + [self.row(r) for r in self.sorted_records()])

    # ----- results on disk -----
    def csv_text(self):
        columns = (["trial", "status"] + self.params +
                   ["val_accuracy", "val_accuracy_best", "val_loss", "best_epoch", "epochs",
                    "seconds", "error", "out"])
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in self.sorted_records():
            row = {**r, **r["params"]}
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
        return buf.getvalue()

    def to_dict(self):
        best = self.best
        return {"search": self.search, "seed": self.seed, "space": describe_space(self.space),
                "base_config": self.base_config, "budget": dataclasses.asdict(self.budget),
                "selection": SELECTION, "planned_trials": self.planned,
                "finished_trials": len(self.records), "interrupted": self.interrupted,
                "workers": self.workers, "blas_threads_per_worker": self.threads_per_worker,
                "trials": self.sorted_records(), "best": best,
                "best_command": self.best_command(),
                "reproduce_command": self.best_command(reproduce=True)}

    def save(self, plot=True):
        """Write results.csv and results.json (atomically) and, with ``plot``, scatter.png.
        Returns the path of the plot or None."""
        os.makedirs(self.out, exist_ok=True)
        atomic_write_text(os.path.join(self.out, "results.csv"), self.csv_text())
        atomic_write_text(os.path.join(self.out, "results.json"),
                          json.dumps(self.to_dict(), indent=2, default=str))
        if plot:
            from .plot import write_scatter
            return write_scatter(self, os.path.join(self.out, "scatter.png"))
        return None

    def _add(self, record, stream):
        self.records.append(record)
        self.save(plot=False)          # results.csv is current after every trial
        if stream is not None:
            print(self.row(record), file=stream, flush=True)


def _loss_text(value):
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.3g}"


def _short(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


# ---------------------------------------------------------------- the command line
_FLAG_ORDER = ("model", "dataset", "optimizer", "lr", "weight_decay", "momentum", "batch_size",
               "schedule", "warmup_epochs", "augment", "label_smoothing", "seed", "data_dir")


def train_command(config, searched=(), reproduce=False, out=None):
    """The ``ournn train`` command line for a ``run_training`` config: its model, dataset
    and seed, every setting in ``searched`` or differing from the defaults, its model
    arguments as ``--model-kwargs '{...}'``; the budget flags only with ``reproduce``."""
    from ..train.settings import DEFAULTS
    args = ["ournn", "train"]
    for key in _FLAG_ORDER:
        value = config.get(key)
        if value is None:
            continue
        if key in ("model", "dataset", "seed") or key in searched or value != DEFAULTS[key]:
            args += ["--" + key.replace("_", "-"), _flag_value(value)]
    if config.get("model_kwargs"):
        args += ["--model-kwargs", json.dumps(config["model_kwargs"])]
    if reproduce:
        for key in ("epochs", "limit", "val_split"):
            args += ["--" + key.replace("_", "-"), str(config[key])]
    if out:
        args += ["--out", os.fspath(out)]
    return " ".join(shlex.quote(a) for a in args)


def _flag_value(value):
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------- running a study
def random_search(space, trials, base_config=None, seed=0, workers=1, budget=None, out=None,
                  stream=None):
    """Train ``trials`` configurations drawn from ``space`` and return the ``Study``.

    Args:
        space: ``{name: LogUniform(...) | Uniform(...) | IntUniform(...) | Choice([...]) |
            [values]}``; names are training settings (``lr``, ``batch_size``, ...) or
            arguments of the zoo model (``width``, ``dropout``, ``hidden``).
        base_config: fixed settings of every trial (``model``, ``dataset``, ``optimizer``,
            ``data_dir``, ``model_kwargs``, ``seed``: the training seed, default ``seed``).
        seed: draws the configurations: the same seed, the same trials.
        workers: trials run at once, in worker processes when > 1 (each with
            ``cores // workers`` BLAS threads).
        budget: ``Budget(epochs, limit, val_split)`` or a dict; default 1 epoch on 5,000
            images of which 1,000 validate.
        out: the study folder (default ``runs/tune-MODEL-DATASET``): one folder per trial,
            results.csv (rewritten after every trial), results.json, scatter.png.
        stream: a text stream to print the table to as trials finish (e.g. ``sys.stdout``).
    """
    if int(trials) < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    study = Study("random", space, base_config, budget, out, seed)
    points = sample_space(study.space, int(trials), seed)
    return run_study(study, points, workers, stream)


def grid_search(space, base_config=None, workers=1, budget=None, out=None, stream=None):
    """Train every combination of the grid values in ``space`` (lists or ``Choice``); the
    other arguments as in ``random_search``."""
    study = Study("grid", space, base_config, budget, out,
                  seed=(base_config or {}).get("seed", 0))
    return run_study(study, grid_points(study.space), workers, stream)


def run_study(study, points, workers=1, stream=None):
    """Run one trial per point of ``points`` (dicts of hyperparameters) and save the results.
    Ctrl-C stops the study after the running trials' current step; what finished is saved
    and ``KeyboardInterrupt`` is raised again."""
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    study.planned = len(points)
    study.workers = min(int(workers), len(points))
    jobs = [(i, p, study.trial_config(i, p)) for i, p in enumerate(points)]
    if stream is not None:
        print(study.header(), file=stream, flush=True)
    try:
        if study.workers <= 1:
            for job in jobs:
                record = run_trial(*job)
                study._add(record, stream)
                if record["status"] == "interrupted":
                    raise KeyboardInterrupt
        else:
            _run_in_processes(study, jobs, stream)
    except KeyboardInterrupt:
        study.interrupted = True
        study.save(plot=False)
        raise
    study.save(plot=True)
    return study


def _cores():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.contextmanager
def _environment(values):
    """``os.environ`` with ``values`` inside the block, as it was after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _worker_pool(workers, jobs):
    """Start ``workers`` spawned processes with ``cores // workers`` BLAS threads each and
    submit ``jobs``. A spawned child imports NumPy (loading OpenBLAS, which reads its thread
    count once) before any initializer can run, so the thread variables are put in this
    process's environment while the pool starts its workers, which inherit it (with "spawn"
    the workers start during ``submit``: all of them are submitted inside the block); the
    initializer sets them once more and tells OpenBLAS directly. Each trial's record
    carries ``blas_threads``, what its worker's OpenBLAS reported."""
    threads = max(1, _cores() // workers)
    env = {name: str(threads) for name in BLAS_THREAD_VARIABLES}
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    with _environment(env):
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                                   initargs=(env, stop))
        futures = {pool.submit(run_trial, *job): job for job in jobs}
    return pool, futures, threads, stop


def _run_in_processes(study, jobs, stream):
    from concurrent.futures.process import BrokenProcessPool
    pool, futures, study.threads_per_worker, stop = _worker_pool(study.workers, jobs)
    added = set()
    try:
        for future in as_completed(futures):
            index, params, config = futures[future]
            try:
                record = future.result()
            except BrokenProcessPool as e:   # a worker died (killed, out of memory)
                record = {"trial": index, "params": params, "status": "failed",
                          "error": f"worker process died: {e}", "val_accuracy": None,
                          "val_accuracy_best": None, "val_loss": None, "best_epoch": None,
                          "epochs": 0, "seconds": None, "out": config["out"]}
            added.add(future)
            study._add(record, stream)
            if record["status"] == "interrupted":
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        stop.set()                  # queued trials return "cancelled" at once
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)    # running trials stop after their current step
        for future in futures:
            if future not in added and future.done() and not future.cancelled() \
                    and future.exception() is None \
                    and future.result()["status"] != "cancelled":
                study._add(future.result(), stream)
        raise
    finally:
        pool.shutdown(wait=True)


def print_summary(study, stream=None):
    """The best trial and its ``ournn train`` command (what ``ournn tune`` prints last)."""
    stream = stream or sys.stdout
    best = study.best
    failed = sum(r["status"] == "failed" for r in study.records)
    print(f"\n{len(study.records)} trial(s), {failed} failed; results in "
          f"{os.path.join(study.out, 'results.csv')}", file=stream)
    if best is None:
        return
    params = ", ".join(f"{k}={format_value(v)}" for k, v in best["params"].items())
    print(f"Best: trial {best['trial']} ({params}): validation accuracy "
          f"{100 * best['val_accuracy_best']:.2f}%", file=stream)
    print(f"Train it:\n  {study.best_command()}", file=stream)
    print(f"Reproduce the trial:\n  {study.best_command(reproduce=True)}", file=stream,
          flush=True)
