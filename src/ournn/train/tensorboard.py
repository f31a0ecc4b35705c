"""``TensorBoard(log_dir)``: a training callback that writes TensorBoard event files.

    fit(model, data, epochs=5, callbacks=[TensorBoard("runs/tb")])
    ournn train --tensorboard runs/tb
    tensorboard --logdir runs/tb

Written with ``tensorboardX`` (an optional extra: ``pip install 'ournn[tensorboard]'``; it
needs only NumPy and protobuf). What it writes, as TensorBoard shows it:

- ``step/loss`` and ``step/lr``: every training step (every ``update_freq`` steps), at the
  run's global step;
- ``epoch/<name>`` for each value of the epoch's logs (``loss``, ``accuracy``, ``lr``,
  ``val_loss``, ``val_accuracy``, ``time``...), at the number of epochs done;
- ``weights/<parameter>`` and ``gradients/<parameter>`` histograms every
  ``histogram_freq`` epochs (0: none); the gradients are those of the epoch's last step.

A resumed run continues the same curves (the steps and epochs go on from the checkpoint's).
"""
import math
import os
import time
import uuid

import numpy as np

from . import distributed as _distributed
from .callbacks import PRIORITY_RECORD, Callback

INSTALL_HINT = "TensorBoard logging needs tensorboardX: pip install 'ournn[tensorboard]'"


def _writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return SummaryWriter


class _NoWriter:
    """What the processes other than rank 0 write to: nothing."""

    def add_scalar(self, *args, **kwargs):
        pass

    add_histogram = add_scalar
    flush = close = add_scalar


class TensorBoard(Callback):
    """Write the run's scalars (per step and per epoch) and its weight and gradient
    histograms (per epoch) to TensorBoard event files in ``log_dir``.

    Args:
        log_dir: the folder of the event files (created; point ``tensorboard --logdir`` at it
            or at a folder above it).
        update_freq: ``"batch"`` (every step, the default), ``"epoch"`` (no per-step
            scalars) or an integer N: every N steps.
        histogram_freq: write the histograms every N epochs (default 1; 0: never).
        flush_secs: how often the writer flushes to disk, in seconds (and at the end of
            each epoch and of the run).

    Raises ImportError with the install line when tensorboardX is missing (when the callback
    is made, before anything trains). Its priority is ``PRIORITY_RECORD``: it reads the run
    after every update of the step or epoch.
    """

    priority = PRIORITY_RECORD

    def __init__(self, log_dir="runs", update_freq="batch", histogram_freq=1, flush_secs=30):
        self._SummaryWriter = _writer_class()
        if not isinstance(log_dir, str) or not log_dir or \
                any(ord(c) < 32 or ord(c) == 127 for c in log_dir):
            raise ValueError(f"TensorBoard: log_dir must be a non-empty path without control "
                             f"characters, got {log_dir!r}")
        if update_freq == "batch":
            update_freq = 1
        elif update_freq == "epoch":
            update_freq = 0
        elif isinstance(update_freq, bool) or not isinstance(update_freq, int) or \
                update_freq < 1:
            raise ValueError(f"TensorBoard: update_freq must be 'batch', 'epoch' or an "
                             f"integer >= 1, got {update_freq!r}")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or \
                histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an integer >= 0, got "
                             f"{histogram_freq!r}")
        self.log_dir, self.update_freq = log_dir, update_freq
        self.histogram_freq, self.flush_secs = histogram_freq, flush_secs
        self.writer = None
        self._epochs_seen = 0

    def _open(self):
        if self.writer is None and not _distributed.is_main():
            self.writer = _NoWriter()       # in a distributed run, rank 0 writes the events
        if self.writer is None:
            # a suffix of our own: the writer names files by the second and the host, so a
            # resumed run started within the same second would replace the first one's file.
            # TensorBoard reads a folder's files in name order: the nanosecond clock first keeps
            # a resumed run's file after the first run's; the pid and a random tail keep two
            # processes that start together apart.
            suffix = f".{time.time_ns():020d}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            self.writer = self._SummaryWriter(logdir=self.log_dir, flush_secs=self.flush_secs,
                                              filename_suffix=suffix)
        return self.writer

    def _scalar(self, tag, value, step):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            return
        value = float(value)
        if math.isfinite(value):
            self.writer.add_scalar(tag, value, step)

    def on_train_begin(self, trainer):
        self._open()

    def on_batch_end(self, trainer, loss):
        if not self.update_freq or trainer.global_step % self.update_freq:
            return
        self._open()
        step = trainer.global_step
        self._scalar("step/loss", loss, step)
        lrs = trainer.history.steps.get("lr")     # the rate this step used
        self._scalar("step/lr", lrs[-1] if lrs else trainer.current_lr(), step)

    def on_epoch_end(self, trainer, logs):
        writer = self._open()
        if trainer is not None:
            epoch = trainer.epoch
        else:       # a loop without a Trainer (the text models' own): its logs say the epoch
            epoch = logs.get("epoch", self._epochs_seen + 1)
        self._epochs_seen = epoch
        for name, value in logs.items():
            if name != "epoch":
                self._scalar(f"epoch/{name}", value, epoch)
        if trainer is not None and self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, p in trainer.model.named_parameters():
                self._histogram(f"weights/{name}", p._data, epoch)
                if p.grad is not None:
                    self._histogram(f"gradients/{name}", p.grad._data, epoch)
        writer.flush()

    def _histogram(self, tag, values, step):
        from ..device import to_host
        values = np.asarray(to_host(values), dtype=np.float64).ravel()   # from a GPU: a copy
        values = values[np.isfinite(values)]
        if values.size:
            self.writer.add_histogram(tag, values, step)

    def on_interrupt(self, trainer):
        if self.writer is not None:
            self.writer.flush()

    def on_train_end(self, trainer):
        self.close()

    def close(self):
        """Flush and close the event file (a later ``fit`` opens a new one)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
