"""Training jobs and sessions.

A ``Job`` trains one network in a background thread with the recipe of ``ournn train``
(``ournn.train.recipe.build_run``: the same loader, augmentation, optimizer, schedule and
``ModelCheckpoint``). ``StudioCallback`` is the only studio-specific piece: it
turns the trainer's events into messages for the page, and between two steps it pauses, stops,
or runs work the server asks of the model (a prediction, a save), so the weights are never read
half-updated.

A ``Session`` (one per browser, by cookie) holds at most one job, the model it trained or
loaded, the CSV datasets it uploaded and its stream of events.
"""
import collections
import concurrent.futures
import itertools
import os
import threading
import time
import uuid

import numpy as np

from .datasets import image_bytes
from ..errors import OurnnError
from ..ops.activation import softmax_array
from ..train.callbacks import Callback
from ..train.loop import NonFiniteLossError, fit
from ..train.recipe import build_run

# seconds between "batch" events (each carries every step's loss since the last one, so the
# charts lose nothing): at 0.2 s the open page cost an MNIST MLP's epoch 8-13% (median 11%,
# 3 runs of 5-7 on a quiet machine), at 0.5 s 7-9%
BATCH_EVENT_INTERVAL = 0.5
BOUNDARY_INTERVAL = 0.5         # seconds between decision-boundary redraws
BOUNDARY_GRID = 60
LAYER_STATS_INTERVAL = 1.0      # seconds between per-layer weight/gradient statistics
MAX_STEP_POINTS = 2000
MAX_RUNS_KEPT = 20          # a session's runs listed for comparison
MAX_EPOCHS_UNTIL_PAUSED = 100_000     # "until paused" ends here at the latest
CONFUSION_SAMPLES = 2000
VAL_SIZE = 10000
RUNNING_STATES = ("running", "paused", "stopping")
EPOCH_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")   # kept per epoch


class Channel:
    """An append-only list of (id, event, data) that any number of readers poll."""

    def __init__(self, keep=500):   # readers poll every 0.1 s; a new tab starts from a snapshot
        self._events = collections.deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.last_id = 0

    def publish(self, event, data):
        with self._lock:
            self.last_id = next(self._ids)
            self._events.append((self.last_id, event, data))

    def since(self, last_id):
        with self._lock:
            return [e for e in self._events if e[0] > last_id]


class Job:
    """One training run of a setup; ``start()`` runs it in a thread."""

    def __init__(self, setup, dataset, model, folder, channel, number=1, source=None,
                 optimizer_state=None):
        self.id = uuid.uuid4().hex[:12]
        self.number = number         # "run 3" of its session
        self.setup, self.dataset, self.model = setup, dataset, model
        self.folder = folder
        self.channel = channel
        # what the weights started from: None (new random weights) or a description of the
        # model continued ("run 2, epoch 5" or "the file lenet.ckpt"), and that model's
        # optimizer state (None: a fresh optimizer)
        self.source = source
        self._optimizer_state = optimizer_state
        self.optimizer_note = None   # why a given optimizer state could not be used
        self.optimizer_state = None  # this run's optimizer state at its end (to continue)
        self.state = "running"
        self.error = None
        self.epoch = 0
        self.step = 0
        self.global_step = 0
        self.steps_per_epoch = 0
        self.samples_per_sec = None
        self.history = {k: [] for k in ("epoch",) + EPOCH_LOGS}
        self.steps = {"step": [], "loss": [], "lr": []}
        self.boundary = None
        self.units = None
        self.confusion = None
        self.layer_stats = None
        self.checkpoint = None
        self._pause = threading.Event()
        self._stop = threading.Event()
        self._one_step = threading.Event()     # while paused: run one step, pause again
        self._settings = {}                    # live settings to apply before the next step
        self._lock = threading.Lock()
        self.optimizer = None
        self._arrays = None       # a toy set's own copies of its points (new noise: replaced)
        self._calls = collections.deque()
        self.thread = None

    # ----- control (called by the server) -----
    def start(self, paused=False):
        """Run in a thread; ``paused``: wait before the first step (for Step or Play)."""
        if paused:
            self._pause.set()
            self.state = "paused"
        self.thread = threading.Thread(target=self._main, name=f"ournn-studio-job-{self.id}",
                                       daemon=True)
        self.thread.start()

    @property
    def active(self):
        return self.state in RUNNING_STATES

    def pause(self):
        if self.state == "running":
            self._pause.set()
            self._set_state("paused")

    def resume(self):
        if self.state == "paused":
            self._pause.clear()
            self._set_state("running")

    def step_once(self):
        """While paused: train one step, then pause again."""
        if self.state == "paused":
            self._one_step.set()

    def change(self, settings):
        """Live settings (``spec.LIVE_SETTINGS``, checked): they apply from the next step."""
        with self._lock:
            self._settings.update(settings)
            self.setup = {**self.setup, **settings}
        self.channel.publish("status", self.status())

    def change_data(self, dataset, data):
        """New points of the same toy set, split and features (more noise, another draw):
        they replace the training and validation points before the next step."""
        with self._lock:
            self._settings["dataset"] = dataset
            self.setup = {**self.setup, "data": data}
        self.channel.publish("status", self.status())

    def _apply_settings(self):
        with self._lock:
            settings, self._settings = self._settings, {}
        new = settings.pop("dataset", None)
        if new is not None and self._arrays is not None:
            for mine, theirs in zip(self._arrays, (new.x, new.y, new.tx, new.ty)):
                mine[...] = theirs[:len(mine)]        # in place: the loaders read these
            self.dataset = new
        if not settings or self.optimizer is None:
            return
        for group in self.optimizer.param_groups:
            if "lr" in settings:
                group["lr"] = settings["lr"]
            if "weight_decay" in settings and "weight_decay" in group:
                group["weight_decay"] = settings["weight_decay"]

    def stop(self):
        if self.active:
            self._stop.set()
            self._set_state("stopping")

    def join(self, timeout=None):
        if self.thread is not None:
            self.thread.join(timeout)

    def call(self, fn, timeout=60):
        """Run ``fn()`` on the model between two training steps (or at once when the job
        is over) and return its result."""
        if not (self.thread and self.thread.is_alive() and self.active):
            return fn()
        future = concurrent.futures.Future()
        self._calls.append((fn, future))
        deadline = time.monotonic() + timeout
        while True:
            try:
                return future.result(0.1)
            except concurrent.futures.TimeoutError:
                if not self.thread.is_alive():      # the job ended after we queued the call
                    self._serve_calls()
                elif time.monotonic() > deadline:
                    raise

    def _serve_calls(self):
        while self._calls:
            fn, future = self._calls.popleft()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as e:          # handed to the waiting request
                    future.set_exception(e)

    # ----- descriptions -----
    def status(self):
        return {"id": self.id, "run": self.number, "source": self.source,
                "optimizer_note": self.optimizer_note,
                "state": self.state, "error": self.error, "setup": self.setup,
                "epoch": self.epoch,
                "epochs": None if self.setup.get("until_paused") else self.setup["epochs"],
                "step": self.step,
                "steps_per_epoch": self.steps_per_epoch, "global_step": self.global_step,
                "samples_per_sec": self.samples_per_sec, "checkpoint": self.checkpoint}

    def snapshot(self):
        out = self.status()
        out.update(history=self.history, steps=self.steps, boundary=self.boundary,
                   units=self.units,
                   confusion=self.confusion, layer_stats=self.layer_stats)
        return out

    def summary(self):
        """This run for the list of the session's runs: its settings, its last epoch's
        figures and its per-epoch history (the page compares two runs' curves)."""
        setup = self.setup
        last = {k: (v[-1] if v else None) for k, v in self.history.items()}
        return {"id": self.id, "run": self.number, "state": self.state,
                "source": self.source and self.source.get("text"),
                "settings": {k: setup.get(k) for k in (
                    "dataset", "optimizer", "lr", "batch_size", "epochs", "weight_decay",
                    "l1", "l2", "schedule", "until_paused", "data")},
                "layers": len(setup["layers"]), "samples_per_sec": self.samples_per_sec,
                "last": last, "history": self.history}

    def _set_state(self, state):
        self.state = state
        self.channel.publish("status", self.status())

    # ----- the run -----
    def _main(self):
        """The job's thread: the run, then its end state (done, stopped or failed)."""
        self.checkpoint_path = os.path.join(self.folder, "last.ckpt")
        callback = StudioCallback(self)
        try:
            self._run(callback)
        except NonFiniteLossError as e:
            self.error = str(e)
            self.state = "failed"
        except Exception as e:                      # shown on the page, never a dead thread
            self.error = f"{type(e).__name__}: {e}"
            self.state = "failed"
        else:
            self.state = "stopped" if self._stop.is_set() else "done"
        finally:
            if os.path.exists(self.checkpoint_path):
                self.checkpoint = os.path.abspath(self.checkpoint_path)
            if self.optimizer is not None and self.state != "failed":
                self.optimizer_state = self.optimizer.state_dict()
            self._serve_calls()
            self.channel.publish("done", self.status())

    def _run(self, callback):
        ds, setup = self.dataset, self.setup
        x, y = ds.x, ds.y
        if setup.get("train_size"):
            x, y = x[:setup["train_size"]], y[:setup["train_size"]]
        vx, vy = ds.tx[:VAL_SIZE], ds.ty[:VAL_SIZE]
        if ds.kind == "points":       # small: copied, so that new noise can replace them
            x, y, vx, vy = (np.array(a) for a in (x, y, vx, vy))
            self._arrays = (x, y, vx, vy)
        extra = {"classes": ds.classes, "input_shape": ds.input_shape, "studio_setup": setup}
        if ds.kind == "image":
            extra["dataset"] = ds.name            # what `ournn eval` reads
        # the recipe of `ournn train`: loader, augmentation, optimizer, schedule, checkpoint
        config = dict(setup)
        if setup.get("until_paused"):             # until paused (or this many epochs)
            config["epochs"] = MAX_EPOCHS_UNTIL_PAUSED
        run = build_run(config, self.model, (x, y), (vx, vy), self.folder, extra=extra,
                        logs=False)
        self.checkpoint_path = run.checkpoint.last_path
        self._restore_optimizer(run.optimizer)
        self.optimizer = run.optimizer
        regression = ds.task == "regression"
        loss = regularised("mse" if regression else run.loss, self.model, lambda: self.setup)
        if regression:                  # no accuracy: the best checkpoint by val_loss
            run.checkpoint.monitor, run.checkpoint.mode = "val_loss", "min"
        # what Run.fit does, with the loss and metrics of the task
        fit(run.model, run.loader, epochs=run.config["epochs"], optimizer=run.optimizer,
            loss=loss, validation_data=run.validation_data,
            callbacks=[*run.callbacks, callback], verbose=0, seed=setup["seed"],
            metrics=() if regression else ("accuracy",))

    def _restore_optimizer(self, optimizer):
        """Continue with the optimizer state of the model this run continues (Adam's moments,
        momentum...), with the learning rate and weight decay the page gives now. A state
        that does not fit (another optimizer was chosen) is left out, and the job says so."""
        state = self._optimizer_state
        if state is None:
            return
        try:
            optimizer.load_state_dict(state)
        except (OurnnError, ValueError, TypeError, KeyError) as e:
            self.optimizer_note = ("the optimizer starts afresh: the saved optimizer state "
                                   f"does not fit {self.setup['optimizer']} ({e})")[:300]
            return
        for group in optimizer.param_groups:
            group["lr"] = self.setup["lr"]
            if "weight_decay" in group:
                group["weight_decay"] = self.setup["weight_decay"]


def regularised(loss, model, settings):
    """``loss`` plus the L1 and L2 penalties ``settings()`` gives (read at every step, so a
    change while paused applies on resume) on the weights of the Linear and Conv2d layers,
    while the model trains; validation losses stay the plain loss."""
    from .. import nn
    from ..train.loop import _loss_fn
    base = _loss_fn(loss)
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]

    def loss_fn(output, target):
        value = base(output, target)
        setup = settings()
        l1, l2 = setup.get("l1") or 0.0, setup.get("l2") or 0.0
        if model.training and (l1 or l2):
            for w in weights:
                if l1:
                    value = value + l1 * w.abs().sum()
                if l2:
                    value = value + l2 * (w * w).sum()
        return value
    return loss_fn


class StudioCallback(Callback):
    """Reports a job's progress to its channel and serves pause, stop and model calls."""

    def __init__(self, job):
        self.job = job
        self._last_batch = self._last_boundary = self._last_stats = 0.0
        self._window = (0.0, 0)     # (time, samples) at the start of the speed window
        self._samples = 0           # samples trained on in this run
        self._epoch_base = 0        # ... before the epoch in progress
        self._epoch_start = 0.0
        self._last_step = 0.0       # when the last training step ended
        self._train_time = 0.0      # seconds of training steps in finished epochs
        self._pending = []          # (global step, loss) not yet sent
        self._stepping = False      # a Step is under way (do not pause at the epoch's end)

    def on_train_begin(self, trainer):
        job = self.job
        job.steps_per_epoch = len(trainer.train_loader)
        self._window = (time.perf_counter(), 0)
        job.channel.publish("status", job.status())
        self._boundary(trainer, force=True)
        self._between_steps(trainer)          # a job started paused waits here

    def on_epoch_begin(self, trainer):
        # the speed is measured over training steps only: validation is not training
        self._epoch_start = self._last_step = time.perf_counter()
        self._epoch_base = self._samples
        self._window = (self._epoch_start, self._samples)

    def on_batch_end(self, trainer, loss):
        job = self.job
        job.step, job.global_step = trainer.step, trainer.global_step
        self._samples = self._epoch_base + trainer.samples_this_session
        lr = trainer.current_lr()
        job.steps["step"].append(trainer.global_step)
        job.steps["loss"].append(float(loss))
        job.steps["lr"].append(lr)
        if len(job.steps["step"]) > MAX_STEP_POINTS:          # keep every other point
            job.steps = {k: v[::2] for k, v in job.steps.items()}
        self._pending.append((trainer.global_step, float(loss), lr))
        now = self._last_step = time.perf_counter()
        if now - self._last_batch >= BATCH_EVENT_INTERVAL:
            self._publish_batch(trainer, now)
        if now - self._last_boundary >= BOUNDARY_INTERVAL:
            self._boundary(trainer)
        self._between_steps(trainer)

    def _publish_batch(self, trainer, now):
        """A "batch" event with the losses of every step since the last one. ``now`` is the
        end of the last training step (at an epoch's end: before validation ran)."""
        job = self.job
        self._last_batch = time.perf_counter()
        t0, n0 = self._window
        if now > t0 and self._samples > n0:       # training speed over the last 2 s or so
            job.samples_per_sec = (self._samples - n0) / (now - t0)
        if now - t0 > 2.0:
            self._window = (now, self._samples)
        if not self._pending:
            return
        logs = trainer.running_logs()
        event = {
            "global_step": trainer.global_step, "epoch": trainer.epoch, "step": trainer.step,
            "loss": self._pending[-1][1], "accuracy": logs.get("accuracy"),
            "samples_per_sec": job.samples_per_sec,
            "steps": [p[0] for p in self._pending], "losses": [p[1] for p in self._pending],
            "lrs": [p[2] for p in self._pending]}
        if self._last_batch - self._last_stats >= LAYER_STATS_INTERVAL:
            self._last_stats = self._last_batch
            job.layer_stats = event["layer_stats"] = layer_stats(job.model)
        job.channel.publish("batch", event)
        self._pending = []

    def average_speed(self):
        """Samples per second over the training steps of the whole run (validation, pauses
        and the epoch in progress's idle time excluded), or None before a step."""
        seconds = self._train_time + max(0.0, self._last_step - self._epoch_start)
        return self._samples / seconds if self._samples and seconds > 0 else None

    def _between_steps(self, trainer, epoch_end=False):
        """Serve the server's calls; wait here while paused. Step lets one training step
        through: it pauses again after that step, not at an epoch's end on the way."""
        job = self.job
        job._serve_calls()
        if job._pause.is_set() and not (epoch_end and self._stepping):
            self._stepping = False
            paused = time.perf_counter()
            while job._pause.is_set() and not job._stop.is_set():
                if job._one_step.is_set():     # Step: one more step, then pause again
                    job._one_step.clear()
                    self._stepping = True
                    break
                time.sleep(0.02)
                job._serve_calls()
            idle = time.perf_counter() - paused       # a pause is not training time
            self._epoch_start += idle
            self._window = (self._window[0] + idle, self._window[1])
        job._apply_settings()
        if job._stop.is_set():
            trainer.stop_training = True
            trainer.stop_reason = "interrupt"     # ModelCheckpoint saves last.ckpt on this

    def on_epoch_end(self, trainer, logs):
        job = self.job
        self._publish_batch(trainer, self._last_step)       # the steps, not the validation
        job.layer_stats = layer_stats(job.model)            # each epoch ends with fresh ones
        self._train_time += self._last_step - self._epoch_start
        self._epoch_start = self._last_step
        job.epoch, job.step = trainer.epoch, 0
        entry = {"epoch": trainer.epoch}
        for key in EPOCH_LOGS:
            value = logs.get(key)
            job.history[key].append(None if value is None else float(value))
            entry[key] = job.history[key][-1]
        job.history["epoch"].append(trainer.epoch)
        job.channel.publish("epoch", entry)
        self._boundary(trainer, force=True)
        self._confusion(trainer)
        self._between_steps(trainer, epoch_end=True)

    def on_train_end(self, trainer):
        self._publish_batch(trainer, self._last_step)
        speed = self.average_speed()
        if speed is not None:                 # the figure a finished run keeps: its average
            self.job.samples_per_sec = speed
        if os.path.exists(self.job.checkpoint_path):
            self.job.checkpoint = os.path.abspath(self.job.checkpoint_path)

    # ----- pictures of the model -----
    def _boundary(self, trainer, force=False):
        job = self.job
        if job.dataset.kind != "points":
            return
        now = time.perf_counter()
        if not force and now - self._last_boundary < BOUNDARY_INTERVAL:
            return
        self._last_boundary = now
        job.boundary = decision_boundary(job.model, job.dataset)
        job.channel.publish("boundary", job.boundary)
        units = unit_maps(job.model, job.dataset)
        if units is not None:
            job.units = units
            job.channel.publish("units", units)

    def _confusion(self, trainer):
        job = self.job
        ds = job.dataset
        if ds.task != "classification":
            return
        n = min(len(ds.tx), CONFUSION_SAMPLES)
        tx, ty = ds.tx[:n], ds.ty[:n]
        pred = job.model.predict(tx).argmax(axis=1)
        k = len(ds.classes)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (ty, pred), 1)
        wrong = np.flatnonzero(pred != ty)[:16]
        samples = []
        for i in wrong:
            pixels = None
            if ds.kind == "image":
                pixels = image_bytes(tx[i, 0]).ravel().tolist()
            samples.append({"pixels": pixels, "label": int(ty[i]), "pred": int(pred[i])})
        job.confusion = {"matrix": matrix.tolist(), "classes": ds.classes,
                         "misclassified": samples, "samples": n}
        job.channel.publish("confusion", job.confusion)


def layer_stats(model):
    """For each layer of the Sequential ``model``: None for a layer without weights, else the
    root mean square of its weight and of the weight's gradient from the last step (what
    shows a layer that stopped learning, or one whose gradients explode)."""
    from .. import nn
    if not isinstance(model, nn.Sequential):      # the character model: its own layers
        return None
    out = []
    for module in model:
        weight = getattr(module, "weight", None)
        if weight is None:
            out.append(None)
            continue
        w = weight.numpy().ravel()
        g = None if weight.grad is None else np.asarray(weight.grad).ravel()
        out.append({"weight_rms": float(np.sqrt(np.dot(w, w) / w.size)),
                    "grad_rms": None if g is None else float(np.sqrt(np.dot(g, g) / g.size))})
    return out


UNIT_GRID = 24             # each unit's picture: 24 x 24 values over the plane
MAX_UNITS_SHOWN = 32       # per layer; wider networks are not drawn unit by unit


def _grid(dataset, n):
    """An n x n grid over the 2-D data (with a margin): (points (n*n, 2), xrange, yrange),
    row 0 at the top (y = hi)."""
    x = dataset.raw_x
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-3
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], n, dtype=np.float32)
    ys = np.linspace(hi[1], lo[1], n, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return (np.stack([gx.ravel(), gy.ravel()], axis=1), [float(lo[0]), float(hi[0])],
            [float(lo[1]), float(hi[1])])


def unit_maps(model, dataset, n=UNIT_GRID):
    """What each unit computes over the plane, as TensorFlow Playground draws it: for the
    inputs and every hidden layer (the values after its activation, where the next Linear
    reads them), each unit's value on an n x n grid, in hundredths of the layer's largest
    magnitude (at least 1); and each Linear layer's weights, for the connections. None for
    data that is not 2-D points, or layers wider than MAX_UNITS_SHOWN."""
    from .. import nn
    if dataset.kind != "points" or dataset.raw_x.shape[1] != 2:
        return None
    modules = list(model)
    linear = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
    if not linear or any(modules[i].out_features > MAX_UNITS_SHOWN for i in linear[:-1]):
        return None
    grid, xrange, yrange = _grid(dataset, n)
    grid = dataset.featurize(grid)
    from ..tensor import Tensor
    from ..autograd import no_grad
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs, h = [], Tensor(grid)
            for m in modules:
                h = m(h)
                outputs.append(h.numpy())
    finally:
        model.train(was_training)
    # a hidden layer's units: the output just before the next Linear reads it
    ends = [nxt - 1 for nxt in linear[1:]]
    layers = [_unit_layer("input", grid)]
    for start, end in zip(linear, ends):
        layers.append(_unit_layer(f"layer {start + 1}", outputs[end]))
    weights = [np.round(modules[i].weight.numpy(), 3).tolist() for i in linear]
    return {"n": n, "xrange": xrange, "yrange": yrange, "layers": layers,
            "weights": weights}


def _unit_layer(name, values):
    scale = max(1.0, float(np.abs(values).max()))
    q = np.round(values.T / scale * 100).astype(np.int64)       # (units, n*n)
    return {"name": name, "scale": scale, "units": q.tolist()}


MAX_MAPS = 16              # filters and feature maps shown of an image model's first layer


def first_layer_maps(model, x):
    """What an image model's first weight layer looks for and what it sees in the image ``x``
    (1, 1, H, W): a Conv2d's filters (k x k) and its feature maps of ``x`` after the layers
    that follow up to the next weight layer (its activation), or a Linear's first units' weights
    as H x W pictures. Values in -100..100 of each picture's largest magnitude; at most
    MAX_MAPS of each. None when the model has no such layer."""
    from .. import nn
    from ..autograd import no_grad
    from ..tensor import Tensor
    modules = list(model)
    first = next((i for i, m in enumerate(modules) if isinstance(m, (nn.Conv2d, nn.Linear))),
                 None)
    if first is None:
        return None
    layer = modules[first]
    w = layer.weight.numpy()
    if isinstance(layer, nn.Linear):
        side = int(round(np.sqrt(w.shape[1])))
        if side * side != w.shape[1]:
            return None
        filters = w[:MAX_MAPS].reshape(-1, side, side)
        return {"kind": "linear", "layer": first + 1, "filters": _pictures(filters),
                "maps": None}
    filters = w[:MAX_MAPS, 0]                                 # one input channel: 28x28 images
    end = next((i for i in range(first + 1, len(modules))
                if isinstance(modules[i], (nn.Conv2d, nn.Linear, nn.Flatten,
                                           nn.MaxPool2d, nn.AvgPool2d))), len(modules))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            h = Tensor(np.asarray(x, dtype=np.float32))
            for m in modules[:end]:
                h = m(h)
    finally:
        model.train(was_training)
    maps = h.numpy()[0, :MAX_MAPS]
    return {"kind": "conv", "layer": first + 1, "filters": _pictures(filters),
            "maps": _pictures(maps)}


def _pictures(arrays):
    out = []
    for a in arrays:
        scale = float(np.abs(a).max()) or 1.0
        out.append({"h": a.shape[0], "w": a.shape[1],
                    "v": np.round(a / scale * 100).astype(np.int64).ravel().tolist()})
    return out


def decision_boundary(model, dataset, n=BOUNDARY_GRID):
    """The predicted class and its probability on an n x n grid over the 2-D data."""
    grid, xrange, yrange = _grid(dataset, n)
    out = model.predict(dataset.featurize(grid))
    if dataset.task == "regression":        # the output surface: a value per cell
        return {"n": n, "xrange": xrange, "yrange": yrange,
                "values": np.round(out[:, 0], 3).tolist()}
    probs = softmax_array(out, axis=1)
    return {"n": n, "xrange": xrange, "yrange": yrange,
            "pred": probs.argmax(axis=1).tolist(),
            "conf": np.round(probs.max(axis=1), 3).tolist()}


class Session:
    """What one browser works with."""

    def __init__(self, sid):
        self.id = sid
        self.job = None
        self.model = None            # the last trained or loaded model
        # {"setup", "dataset", "job" (the Job that trained it, or None), "file" (the name of
        # the checkpoint it was loaded from, or None), "optimizer" (a loaded optimizer state
        # or None)} of that model
        self.model_info = None
        self.runs = 0                # training runs started in this session
        self.past = collections.deque(maxlen=MAX_RUNS_KEPT)   # its jobs, the latest last
        self.datasets = {}           # CSV uploads, by name
        self.saved = set()           # names of the models this session saved (downloadable)
        self.channel = Channel()
        self.touched = time.time()
        self.requests = 0            # requests being handled (counted by the server)

    @property
    def empty(self):
        """Whether the session holds no work: no job, model, upload or saved model, and no
        request in flight that could add one (only such a session may be forgotten when the
        studio has too many)."""
        return (self.job is None and self.model is None and not self.datasets and
                not self.saved and self.requests == 0)
