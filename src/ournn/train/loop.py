"""The one training engine: ``fit``, ``evaluate`` and ``predict``.

``Module.fit/evaluate/predict``, the ``ournn train`` command and the studio all call these.
Everything that is not the loop itself (progress bar, logs, checkpoints, early stopping, LR
schedules) is a callback (``ournn.train.callbacks``). The plain PyTorch loop keeps working:
the engine adds nothing to modules or optimizers.

A training run's position (model, optimizer, schedulers, loader position, random generator,
history) is ``Trainer.state_dict()``; saving it between steps and loading it back continues
the run exactly as if it had not stopped.

On a GPU (``model.to("cuda")``), the steps compute on the model's device: each batch is
moved there once (``ournn.data.loader.move_batch``; the loader makes it on the host), and only
scalars come back (the loss of each step, the metrics' sums). ``evaluate`` and ``predict`` do
the same and return their outputs on the host.

Launched by MPI (``mpirun -n N``), ``fit`` trains on N processes by itself
(``ournn.train.distributed``): each reads its share of every batch, the gradients are
averaged (``DistributedDataParallel``), validation is split and its sums added, and only rank
0 prints and writes files.
"""
import math
import signal
import threading
import time

import numpy as np

from .. import random as _random
from ..autograd.function import no_grad
from ..device import CPU, device_of, to_host
from ..errors import OurnnError
from ..optim.registry import make_optimizer  # noqa: F401  (fit takes optimizer names)
from ..tensor import Tensor
from . import distributed as _distributed
from .metrics import resolve_metrics


class NonFiniteLossError(OurnnError, FloatingPointError):
    """The loss became NaN or infinite during training."""


class History:
    """What ``fit`` returns: ``history.history["val_accuracy"]`` is one value per epoch.

    ``epoch`` lists the epoch numbers; ``steps`` keeps the loss (and lr) of every step for
    per-step curves."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.steps = {"loss": [], "lr": []}
        self.interrupted = False

    def append(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def state_dict(self):
        return {"history": self.history, "epoch": self.epoch, "steps": self.steps}

    def load_state_dict(self, state):
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epoch = list(state["epoch"])
        self.steps = {k: list(v) for k, v in state["steps"].items()}

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


# ---------------------------------------------------------------- inputs
def _as_array(a):
    """The NumPy array of a Tensor (a copy on the host for one on a device) or of anything
    array-like."""
    return to_host(a._data) if isinstance(a, Tensor) else np.asarray(a)


def model_device(model):
    """The device of ``model``'s first parameter (or buffer); the CPU for a model without
    either."""
    for t in model.parameters():
        return device_of(t._data)
    for t in model.buffers():
        return device_of(t._data)
    return CPU


def _batches_on(loader, device):
    """``loader``'s batches, each moved to ``device`` (as they are on the CPU)."""
    if device.type == "cpu":
        return loader
    from ..data.loader import move_batch
    return (move_batch(batch, device) for batch in loader)


def _to_loader(data, batch_size, shuffle, name):
    from ..data import ArrayDataset, DataLoader
    if data is None:
        return None
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (_as_array(a) for a in data)
        if len(x) != len(y):
            raise ValueError(f"{name}: inputs and targets differ in length ({len(x)} vs "
                             f"{len(y)})")
        return DataLoader(ArrayDataset(x, y), batch_size=batch_size, shuffle=shuffle)
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    raise TypeError(f"{name}: expected a DataLoader, a Dataset or a tuple (x, y) of arrays, "
                    f"got {type(data).__name__}")


def _loss_fn(loss):
    from ..nn import functional as F
    if callable(loss):
        return loss
    table = {"cross_entropy": F.cross_entropy, "crossentropy": F.cross_entropy,
             "mse": F.mse_loss, "mse_loss": F.mse_loss, "nll": F.nll_loss,
             "bce": F.binary_cross_entropy, "bce_with_logits": F.binary_cross_entropy_with_logits}
    if loss not in table:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(table)} or pass a "
                         "callable (output, target) -> scalar Tensor")
    return table[loss]


# ---------------------------------------------------------------- the engine
def _by_priority(callbacks):
    """The callbacks in the order the trainer calls them: highest ``priority`` first, equal
    priorities in the order given (see ``ournn.train.callbacks``)."""
    from .callbacks import PRIORITY_DEFAULT
    return sorted(callbacks, key=lambda cb: -getattr(cb, "priority", PRIORITY_DEFAULT))


class Trainer:
    """Runs the training loop and fires callbacks. Usually reached through ``fit``.

    ``callbacks`` are called by ``priority`` (highest first; see ``ournn.train.callbacks``),
    so the updates of a step or epoch (schedules) come before what records it (checkpoints,
    logs). ``schedulers`` are the schedulers whose state ``state_dict()`` saves, in order."""

    def __init__(self, model, optimizer, loss, train_loader, val_loader=None, callbacks=(),
                 metrics=("accuracy",), schedulers=()):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = _loss_fn(loss)
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.callbacks = _by_priority(callbacks)
        self.metrics = resolve_metrics(metrics)     # (name, function) pairs, resolved once
        self.schedulers = list(schedulers)
        self.history = History()
        self.epoch = 0           # the epoch in progress (0-based)
        self.step = 0            # steps done in this epoch
        self.global_step = 0
        self.epochs = 0
        self.stop_training = False
        self.stop_reason = None
        self._running = {}
        self.network = model     # what the steps call: the model, or a DDP around it
        self.world = 1           # processes training together (see ``distribute``)

    def distribute(self, world):
        """Train with ``world`` processes (``fit`` calls it under MPI): the steps call the
        model through ``DistributedDataParallel`` (``self.model`` stays the bare model, which
        checkpoints hold); the loader must give this process's share (``fit`` splits it)."""
        self.world = world
        self.network = _distributed.wrap_model(self.model)
        self.model = _distributed.unwrap_model(self.model)

    # ----- callbacks -----
    def _fire(self, event, *args):
        # A callback is any object with some of the hooks (``Callback`` gives no-ops for the
        # rest): ``ournn.viz.diagnostics.GradientNormLogger`` is one without importing train.
        for cb in self.callbacks:
            hook = getattr(cb, event, None)
            if hook is not None:
                hook(self, *args)

    # ----- state -----
    def _sampler(self):
        return getattr(self.train_loader, "sampler", None)

    def _own_state(self):
        """What differs between the processes of a distributed run."""
        state = {"loader": self.train_loader.state_dict(), "rng": _random.get_state(),
                 "running": dict(self._running)}
        if hasattr(self._sampler(), "state_dict"):
            state["sampler"] = self._sampler().state_dict()
        return state

    def state_dict(self):
        """Everything needed to continue this run exactly (to save with ``ournn.save``).

        In a distributed run every process must call it (it gathers each process's loader
        position and generator into ``"ranks"``, on rank 0), and the weights are rank 0's
        (the same in every process)."""
        from ..nn.config import module_config
        try:
            model_config = module_config(self.model)
        except OurnnError:
            model_config = None
        if self.world > 1:
            self.network.sync_buffers()
            ranks = _distributed.gather_to_main(self._own_state())
        state = {
            "model": self.model.state_dict(),
            "model_config": model_config,
            "optimizer": self.optimizer.state_dict(),
            "schedulers": [s.state_dict() for s in self.schedulers],
            "loader": self.train_loader.state_dict(),
            "rng": _random.get_state(),
            "epoch": self.epoch,
            "step": self.step,
            "global_step": self.global_step,
            "running": dict(self._running),
            "history": self.history.state_dict(),
        }
        if hasattr(self._sampler(), "state_dict"):
            state["sampler"] = self._sampler().state_dict()
        if self.world > 1:
            state["world_size"] = self.world
            state["ranks"] = ranks
        return state

    def load_state_dict(self, state):
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.world:
            raise ValueError(f"resume: this training state was saved by {saved_world} "
                             f"process(es) and is resumed by {self.world}; the data order and "
                             f"random streams of each process are saved, so resume with the "
                             f"same number of processes (or start a new run)")
        if self.world > 1:
            state = {**state, **state["ranks"][_distributed.rank()]}
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for s, st in zip(self.schedulers, state.get("schedulers", [])):
            s.load_state_dict(st)
        self.train_loader.load_state_dict(state["loader"])
        _random.set_state(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.global_step = int(state["global_step"])
        self._running = dict(state.get("running", {}))
        self.history.load_state_dict(state["history"])
        if "sampler" in state and hasattr(self._sampler(), "load_state_dict"):
            self._sampler().load_state_dict(state["sampler"])

    # ----- one step -----
    def train_step(self, x, y):
        output = self.network(x)
        loss = self.loss_fn(output, y)
        value = loss.item()         # on a GPU: the one number read back per step
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"loss became {value} at epoch {self.epoch + 1}, step {self.step + 1}: training "
                "stopped (try a lower learning rate); the last good checkpoint is kept")
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return value, output

    def _accumulate(self, value, output, y, n):
        r = self._running
        r["loss_sum"] = r.get("loss_sum", 0.0) + value * n
        r["count"] = r.get("count", 0) + n
        for name, fn in self.metrics:
            s, c = fn(output, y)
            r[name + "_sum"] = r.get(name + "_sum", 0.0) + s
            r[name + "_count"] = r.get(name + "_count", 0) + c

    def running_logs(self, everywhere=False):
        """The epoch's mean loss and metrics so far (``everywhere``: over every process, a
        collective call; else this process's samples)."""
        r = self._running
        if everywhere and self.world > 1:
            keys = sorted(r)
            r = dict(zip(keys, _distributed.sum_over_processes([r[k] for k in keys])))
        logs = {}
        if r.get("count"):
            logs["loss"] = r["loss_sum"] / r["count"]
        for name, _ in self.metrics:
            if r.get(name + "_count"):
                logs[name] = r[name + "_sum"] / r[name + "_count"]
        return logs

    def current_lr(self):
        return float(self.optimizer.param_groups[0]["lr"])

    # ----- the loop -----
    def fit(self, epochs):
        self.epochs = epochs
        self.stop_training = False
        self._fire("on_train_begin")
        with _GracefulInterrupt(self):
            while self.epoch < epochs and not self.stop_training:
                self._run_epoch()
            if self.stop_reason == "interrupt":
                self.history.interrupted = True
                self._fire("on_interrupt")
        self._fire("on_train_end")
        return self.history

    def _run_epoch(self):
        self.model.train()
        if self.step == 0:
            self._running = {}
            self.epoch_start_time = time.perf_counter()
            self._fire("on_epoch_begin")
        else:  # resumed mid-epoch
            self.epoch_start_time = time.perf_counter()
        self.samples_this_session = 0
        if hasattr(self._sampler(), "set_epoch"):
            self._sampler().set_epoch(self.epoch)
        for batch in _batches_on(self.train_loader, model_device(self.model)):
            x, y = batch[0], batch[1]
            value, output = self.train_step(x, y)
            n = len(y)
            self._accumulate(value, output, y, n)
            self.samples_this_session += n
            self.step += 1
            self.global_step += 1
            self.history.steps["loss"].append(value)
            self.history.steps["lr"].append(self.current_lr())
            self._fire("on_batch_end", value)
            if self.world > 1:      # every process stops after the same step, for one reason
                self.stop_training, interrupted = _distributed.any_process(
                    self.stop_training, self.stop_reason == "interrupt")
                if interrupted:
                    self.stop_reason = "interrupt"
            if self.stop_training:
                return
        logs = self.running_logs(everywhere=True)
        logs["lr"] = self.current_lr()
        if self.val_loader is not None:
            if self.world > 1:
                self.network.sync_buffers()     # rank 0's running statistics everywhere
            val = evaluate(self.model, self.val_loader, self.loss_fn, self.metrics,
                           distributed=self.world > 1)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs["time"] = time.perf_counter() - self.epoch_start_time
        self.history.append(self.epoch + 1, logs)
        self.epoch += 1
        self.step = 0
        self._running = {}
        self._fire("on_epoch_end", logs)


class _GracefulInterrupt:
    """First Ctrl-C: finish the current step, then stop (callbacks save a checkpoint).
    A second Ctrl-C interrupts at once. Only in the main thread.

    On several processes, SIGUSR1 does the same: ``mpirun`` stops the job at once on Ctrl-C
    but forwards SIGUSR1 to every process (``kill -USR1 <mpirun's pid>``; Slurm:
    ``scancel --signal=USR1``); the processes agree to stop after the same step."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = {}

    def _handler(self, signum, frame):
        if self.trainer.stop_reason == "interrupt":
            raise KeyboardInterrupt
        self.trainer.stop_training = True
        self.trainer.stop_reason = "interrupt"

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            signals = [signal.SIGINT]
            if self.trainer.world > 1 and hasattr(signal, "SIGUSR1"):
                signals.append(signal.SIGUSR1)
            for s in signals:
                self.previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, previous in self.previous.items():
            signal.signal(s, previous)
        return False


# ---------------------------------------------------------------- public functions
def fit(model, train_data, epochs=1, optimizer="adam", loss="cross_entropy",
        validation_data=None, batch_size=32, callbacks=None, metrics=("accuracy",), lr=None,
        verbose="auto", shuffle=True, seed=None, schedulers=(), resume=None):
    """Train ``model`` on ``train_data`` and return a ``History``.

    Args:
        train_data: a DataLoader, a Dataset, or a tuple ``(x, y)`` of arrays (batched by
            ``batch_size``, shuffled each epoch).
        optimizer: an ``ournn.optim`` optimizer, or a name ('adam', 'sgd', 'momentum', ...)
            with ``lr``.
        loss: a callable ``(output, target) -> scalar Tensor`` or a name ('cross_entropy').
        validation_data: like ``train_data``; evaluated after every epoch (``val_`` logs).
        callbacks: ``ournn.train.callbacks`` objects. A progress bar is added unless
            ``verbose=0``.
        schedulers: LR schedulers stepped once per epoch (``ReduceLROnPlateau`` on
            ``val_loss``, or ``loss`` without validation data); use the ``LRSchedulerCallback``
            callback for per-step schedules or another monitor. Like every update of the
            run, they step before checkpoints and logs are written (callbacks run by
            ``priority``).
        seed: seeds ``ournn``'s generator (init is already done; this fixes shuffling and
            dropout).
        resume: a training state (``Trainer.state_dict()``, e.g. from a checkpoint's
            ``"trainer"`` entry) to continue from.

    Ctrl-C stops cleanly after the current step (checkpoint callbacks save); a NaN or
    infinite loss raises ``NonFiniteLossError`` naming the epoch and step.

    Launched by MPI (``mpirun -n N python script.py``), it trains on the N processes:
    ``batch_size`` stays the global batch (N shares of ``batch_size / N``), the model is
    wrapped in ``DistributedDataParallel``, validation is split and averaged exactly, and
    only rank 0 prints and writes (``ournn.train.distributed``).
    """
    from .callbacks import LRSchedulerCallback, ProgressBar
    if seed is not None:
        _random.manual_seed(seed)
    train_loader = _to_loader(train_data, batch_size, shuffle, "train_data")
    val_loader = _to_loader(validation_data, max(batch_size, 256), False, "validation_data")
    world = _distributed.world_size()        # 1 unless launched by MPI
    if world > 1:
        train_loader = _distributed.split_loader(train_loader, world)
        if not _distributed.is_main():
            verbose = 0                       # one progress bar: rank 0's
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model.parameters(), lr)
    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.insert(0, ProgressBar(mode=verbose))
    for s in schedulers:
        callbacks.append(LRSchedulerCallback(s))
    all_schedulers = [c.scheduler for c in callbacks if isinstance(c, LRSchedulerCallback)]
    trainer = Trainer(model, optimizer, loss, train_loader, val_loader, callbacks, metrics,
                      all_schedulers)
    if world > 1:
        trainer.distribute(world)
    if resume is not None:
        trainer.load_state_dict(resume)
    return trainer.fit(epochs)


def _batches(data, batch_size):
    return _to_loader(data, batch_size, False, "data")


def evaluate(model, data, loss="cross_entropy", metrics=("accuracy",), batch_size=256,
             return_outputs=False, distributed=False):
    """Mean loss and metrics of ``model`` on ``data`` (eval mode, no graph).

    ``metrics``: names, callables ``(output, target) -> (sum, count)`` or ``(name,
    function)`` pairs (see ``ournn.train.metrics``). Returns a dict such as ``{"loss": 0.031,
    "accuracy": 0.991}``. With ``return_outputs=True``, returns ``(result, outputs)``:
    ``outputs`` is the model's outputs on ``data`` as one NumPy array (what ``predict``
    gives), so a caller that needs both does not run the model twice.

    ``distributed=True`` (every process of an MPI job calls it, on the same ``data``): each
    process evaluates a contiguous share of the samples, the sums are added over the
    processes, so each sample counts once; the outputs are gathered in order."""
    loss_fn = _loss_fn(loss)
    metric_fns = resolve_metrics(metrics)
    loader = _batches(data, batch_size)
    world = _distributed.world_size() if distributed else 1
    if world > 1:
        loader = _distributed.shard(loader, world)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    sums = {name: [0.0, 0] for name, _ in metric_fns}
    outputs = []
    try:
        with no_grad():
            for batch in _batches_on(loader, model_device(model)):
                x, y = batch[0], batch[1]
                out = model(x)
                if return_outputs:
                    outputs.append(to_host(out._data))
                n = len(y)
                total += loss_fn(out, y).item() * n
                count += n
                for name, fn in metric_fns:
                    s, c = fn(out, y)
                    sums[name][0] += s
                    sums[name][1] += c
    finally:
        model.train(was_training)
    if world > 1:
        names = [name for name, _ in metric_fns]
        added = _distributed.sum_over_processes(
            [total, count] + [v for name in names for v in sums[name]])
        total, count = added[0], added[1]
        sums = {name: added[2 + 2 * k: 4 + 2 * k] for k, name in enumerate(names)}
        if return_outputs:
            outputs = [o for part in _distributed.all_gather_outputs(outputs) for o in part]
    result = {"loss": total / max(count, 1)}
    result.update({name: s / max(c, 1) for name, (s, c) in sums.items()})
    if return_outputs:
        return result, (np.concatenate(outputs) if outputs else np.empty((0,)))
    return result


def predict(model, x, batch_size=256):
    """The model's outputs for inputs ``x`` (an array (N, ...), a Dataset or a DataLoader),
    as one NumPy array, computed in eval mode in batches (on the model's device)."""
    was_training = model.training
    model.eval()
    outputs = []
    device = model_device(model)
    try:
        with no_grad():
            if isinstance(x, (np.ndarray, Tensor, list)):
                arr = _as_array(x)
                for i in range(0, len(arr), batch_size):
                    part = arr[i:i + batch_size]
                    if device.type != "cpu":
                        part = Tensor._make(part).to(device)
                    outputs.append(to_host(model(part)._data))
            else:
                for batch in _batches_on(_batches(x, batch_size), device):
                    outputs.append(to_host(model(batch[0])._data))
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.empty((0,))
