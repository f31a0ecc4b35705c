"""Callbacks: everything around the training loop that is not the loop itself.

A callback subclasses ``Callback`` and overrides any of its hooks (``on_train_begin``,
``on_epoch_begin``, ``on_batch_end``, ``on_epoch_end``, ``on_interrupt``, ``on_train_end``);
each receives the ``Trainer`` (its ``model``, ``optimizer``, ``epoch``, ``step``, ``history``;
set ``trainer.stop_training`` to stop). The names follow Keras.

The trainer calls the callbacks of one event in the order of their ``priority`` (highest
first; equal priorities in the order given), as Chainer orders its extensions:

- ``PRIORITY_UPDATE`` (300): callbacks that change the state of the run: ``LRSchedulerCallback``.
- ``PRIORITY_DEFAULT`` (200): everything else, such as ``EarlyStopping`` and
  ``LambdaCallback``.
- ``PRIORITY_RECORD`` (100): callbacks that only read the run and write it out:
  ``ModelCheckpoint``, ``CSVLogger``, ``JSONLogger``, ``ProgressBar``.

So a checkpoint written at the end of a step or an epoch holds the state after every update
of that step or epoch (a schedule's epoch step included), and resuming from it continues the
run exactly, whatever order the callbacks were listed in.

In a run on several processes (``mpirun``; ``ournn.train.distributed``) every process runs
the callbacks, and those that print or write files do it in rank 0 only.
"""
import csv
import io
import json
import os
import sys
import time

import numpy as np

from ..files import atomic_write_bytes, atomic_write_text
from ..io import save
from .distributed import is_main

PRIORITY_UPDATE = 300
PRIORITY_DEFAULT = 200
PRIORITY_RECORD = 100


class Callback:
    """The training loop's extension point: override the hooks you need (each does nothing
    here). The trainer calls a hook only if the callback has it, so an object of a lower
    floor (``ournn.viz.diagnostics.GradientNormLogger``) can be a callback without
    subclassing this class.

    Every hook receives the running ``Trainer`` first: ``trainer.model``,
    ``trainer.optimizer``, ``trainer.epoch`` (0-based; the epoch in progress, or after
    ``on_epoch_end`` the number of epochs done), ``trainer.step`` (steps done in this epoch),
    ``trainer.global_step``, ``trainer.epochs`` (the epochs asked of ``fit``),
    ``trainer.history``. Setting ``trainer.stop_training = True`` ends the run after the
    current step (from ``on_batch_end``) or epoch (from ``on_epoch_end``).

    Attributes:
        priority: the order in which the trainer calls the callbacks of each event, highest
            first; callbacks of equal priority are called in the order they were given. Use
            ``PRIORITY_UPDATE`` (300) for a callback that changes the state of the run (the
            learning rate, the weights), ``PRIORITY_RECORD`` (100) for one that only reads it
            and writes it somewhere (checkpoints, logs, progress), so that what is written
            includes every update of that step or epoch. The default is
            ``PRIORITY_DEFAULT`` (200), between the two.
    """

    priority = PRIORITY_DEFAULT

    def on_train_begin(self, trainer):
        """Called once by ``Trainer.fit`` before the first step, after a resumed state has
        been loaded (``trainer.epoch``, ``trainer.step`` and ``trainer.history`` already show
        where the run continues)."""

    def on_epoch_begin(self, trainer):
        """Called at the start of each epoch, before its first step (``trainer.step`` is 0).
        Not called for an epoch resumed in its middle."""

    def on_batch_end(self, trainer, loss):
        """Called after each training step: the optimizer has stepped, ``trainer.step`` and
        ``trainer.global_step`` count it, and ``trainer.history.steps`` has its loss and lr.

        Args:
            trainer: the Trainer.
            loss: the step's loss, a Python float.
        """

    def on_epoch_end(self, trainer, logs):
        """Called at the end of each epoch, after validation; ``trainer.epoch`` is already
        the number of epochs done and ``logs`` is already in ``trainer.history``.

        Args:
            trainer: the Trainer.
            logs: the epoch's values, a dict: ``loss`` and each metric (mean over the
                epoch), ``lr`` (the rate at the end of the epoch, before any per-epoch
                schedule step), ``val_loss`` and ``val_<metric>`` when there is validation
                data, ``time`` (seconds).
        """

    def on_interrupt(self, trainer):
        """Called once when the run stops on Ctrl-C (or a callback sets
        ``trainer.stop_reason = "interrupt"``), after the step in progress, possibly in the
        middle of an epoch; before ``on_train_end``. ``trainer.state_dict()`` then resumes
        the run exactly."""

    def on_train_end(self, trainer):
        """Called once when ``Trainer.fit`` ends: all epochs done, stopped early or
        interrupted (not when an exception such as ``NonFiniteLossError`` ends it)."""


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda t, logs: ...)``;
    ``priority=`` sets its priority (default ``PRIORITY_DEFAULT``)."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _format_logs(logs):
    parts = []
    for k, v in logs.items():
        if k in ("time", "lr"):
            continue
        if "accuracy" in k:
            parts.append(f"{k} {100 * v:.2f}%")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressBar(Callback):
    """A progress bar per epoch (loss, accuracy, samples/s, time left) on a terminal; one line
    per epoch when the output is not a terminal (a log file, CI). ``mode``: 'auto', 1 (bar),
    2 (one line per epoch)."""

    priority = PRIORITY_RECORD

    def __init__(self, stream=None, mode="auto", width=24, min_interval=0.1):
        self.stream = stream or sys.stdout
        self.mode = mode
        self.width = width
        self.min_interval = min_interval
        self._last_draw = 0.0

    def _bar_mode(self):
        if self.mode == "auto":
            return hasattr(self.stream, "isatty") and self.stream.isatty()
        return self.mode == 1

    def on_epoch_begin(self, trainer):
        self._last_draw = 0.0

    def on_batch_end(self, trainer, loss):
        if not self._bar_mode() or not is_main():
            return
        now = time.perf_counter()
        total = len(trainer.train_loader)
        if now - self._last_draw < self.min_interval and trainer.step < total:
            return
        self._last_draw = now
        elapsed = now - trainer.epoch_start_time
        # (every process of a distributed run reads as many samples as this one)
        rate = trainer.samples_this_session * getattr(trainer, "world", 1) / max(elapsed, 1e-9)
        steps_left = total - trainer.step
        eta = elapsed / max(trainer.samples_this_session, 1) * steps_left * (
            trainer.train_loader.batch_size)
        done = int(self.width * trainer.step / max(total, 1))
        bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") + \
            "." * (self.width - done)
        line = (f"\rEpoch {trainer.epoch + 1}/{trainer.epochs} [{bar}] {trainer.step}/{total}"
                f"  {_format_logs(trainer.running_logs())}  {rate:,.0f} samples/s"
                f"  ETA {_duration(eta)}")
        self.stream.write(line + "\033[K")
        self.stream.flush()

    def on_epoch_end(self, trainer, logs):
        if not is_main():
            return
        n = len(trainer.train_loader.dataset) if hasattr(trainer.train_loader, "dataset") else 0
        rate = n / logs["time"] if logs.get("time") else 0
        line = (f"Epoch {trainer.epoch}/{trainer.epochs}  {_format_logs(logs)}  "
                f"lr {logs['lr']:.3g}  {_duration(logs['time'])} ({rate:,.0f} samples/s)")
        prefix = "\r" if self._bar_mode() else ""
        self.stream.write(prefix + line + ("\033[K" if self._bar_mode() else "") + "\n")
        self.stream.flush()

    def on_interrupt(self, trainer):
        if not is_main():
            return
        self.stream.write(f"\nInterrupted at epoch {trainer.epoch + 1}, step {trainer.step}\n")
        self.stream.flush()


class CSVLogger(Callback):
    """Write one row of metrics per epoch to a CSV file (rewritten atomically each epoch)."""

    priority = PRIORITY_RECORD

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, trainer, logs):
        if not is_main():
            return
        history = trainer.history
        keys = list(history.history)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["epoch"] + keys)
        for i, epoch in enumerate(history.epoch):
            writer.writerow([epoch] + [_fmt(history.history[k][i]) for k in keys])
        atomic_write_text(self.path, buf.getvalue())


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v


class JSONLogger(Callback):
    """Write the whole history (per epoch and per step) to a JSON file after every epoch."""

    priority = PRIORITY_RECORD

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, trainer, logs):
        if is_main():
            atomic_write_text(self.path, json.dumps(trainer.history.state_dict(), indent=1))


class ModelCheckpoint(Callback):
    """Save training checkpoints into ``folder``: ``last.ckpt`` after every epoch (and on
    Ctrl-C, mid-epoch), ``best.ckpt`` when ``monitor`` improves.

    A checkpoint holds the model (architecture and weights), the optimizer, schedulers, the
    data loader's position and the random state: ``fit(..., resume=load(path)["trainer"])``
    continues exactly. Writes are atomic; after a non-finite loss nothing is saved, so the last
    good checkpoint stays. It runs after the callbacks that update the run (its priority is
    ``PRIORITY_RECORD``), so what it saves includes the step's or the epoch's schedule step.

    In a distributed run every process builds the payload (``trainer.state_dict()`` gathers
    each process's position) and rank 0 alone writes it."""

    priority = PRIORITY_RECORD

    def __init__(self, folder, monitor="val_accuracy", mode="auto", save_best=True,
                 save_last=True, extra=None):
        self.folder = folder
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.save_best, self.save_last = save_best, save_last
        self.extra = extra or {}
        self.best = None
        self.last_path = os.path.join(folder, "last.ckpt")
        self.best_path = os.path.join(folder, "best.ckpt")

    def _payload(self, trainer, logs=None):
        payload = {"trainer": trainer.state_dict(), "best": self.best, "logs": logs or {}}
        payload.update(self.extra)
        return payload

    def on_epoch_end(self, trainer, logs):
        value = logs.get(self.monitor)
        improved = value is not None and (self.best is None or _better(value, self.best,
                                                                       self.mode))
        if improved:
            self.best = value
        if not (self.save_last or (self.save_best and improved)):
            return
        payload = self._payload(trainer, logs)      # (in every process: it gathers)
        if not is_main():
            return
        if self.save_last:
            save(payload, self.last_path)
        if self.save_best and improved:
            if self.save_last:      # the same payload: copy the file rather than encode again
                with open(self.last_path, "rb") as f:
                    atomic_write_bytes(self.best_path, f.read())
            else:
                save(payload, self.best_path)

    def on_interrupt(self, trainer):
        if self.save_last:
            payload = self._payload(trainer)
            if is_main():
                save(payload, self.last_path)

    def on_train_begin(self, trainer):
        if self.best is None and trainer.history.history.get(self.monitor):
            values = trainer.history.history[self.monitor]
            self.best = max(values) if self.mode == "max" else min(values)


def _host(value):
    """A tensor's or array's values as a NumPy array (copied from a GPU)."""
    from ..device import to_host
    return to_host(getattr(value, "_data", value))


def _resolve_mode(mode, monitor):
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _better(a, b, mode, min_delta=0.0):
    return a > b + min_delta if mode == "max" else a < b - min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    optionally put back the best weights."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _resolve_mode(mode, monitor)
        self.restore_best_weights = restore_best_weights
        self.best, self.wait, self.best_weights, self.stopped_epoch = None, 0, None, None

    def on_epoch_end(self, trainer, logs):
        value = logs.get(self.monitor)
        if value is None:
            raise KeyError(f"EarlyStopping: metric {self.monitor!r} not in logs "
                           f"{sorted(logs)} (validation_data missing?)")
        if self.best is None or _better(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = {k: np.array(_host(v))  # a copy, on the host
                                     for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            trainer.stop_reason = "early_stopping"
            self.stopped_epoch = trainer.epoch
            if self.best_weights is not None:
                trainer.model.load_state_dict(self.best_weights)


class LRSchedulerCallback(Callback):
    """Step an LR scheduler each epoch (``interval='epoch'``) or each step
    (``interval='step'``, e.g. OneCycleLR). ReduceLROnPlateau (per epoch only) gets
    ``monitor``'s value, or the training loss when ``monitor`` is not in the logs.

    Its priority is ``PRIORITY_UPDATE``: it steps before checkpoints and logs are written."""

    priority = PRIORITY_UPDATE

    def __init__(self, scheduler, interval="epoch", monitor="val_loss"):
        if interval not in ("epoch", "step"):
            raise ValueError(f"interval must be 'epoch' or 'step', got {interval!r}")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        if interval == "step" and self._is_plateau():
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau steps on a metric once per "
                             "epoch; use interval='epoch'")

    def _is_plateau(self):
        return type(self.scheduler).__name__ == "ReduceLROnPlateau"

    def on_batch_end(self, trainer, loss):
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer, logs):
        if self.interval != "epoch":
            return
        if self._is_plateau():
            value = logs.get(self.monitor, logs.get("loss"))
            self.scheduler.step(value)
        else:
            self.scheduler.step()


# The callback's old name, kept for existing code (``ournn.optim.lr_scheduler.LRScheduler`` is
# the schedulers' base class, another thing).
LRScheduler = LRSchedulerCallback


__all__ = ["PRIORITY_UPDATE", "PRIORITY_DEFAULT", "PRIORITY_RECORD", "Callback", "LambdaCallback",
           "ProgressBar", "CSVLogger", "JSONLogger", "ModelCheckpoint", "EarlyStopping",
           "LRSchedulerCallback", "LRScheduler"]
