"""The training recipe: one function builds a run from a plain config, and everything that
trains a network the way ``ournn train`` does calls it.

``build_run(config, model, (x, y), validation_data, out)`` turns a config (the keys of
``ournn.train.settings.SETTINGS``: batch size, seed, augmentation, optimizer, learning rate,
weight decay, momentum, schedule, warm-up, label smoothing, epochs) into a ``Run``: the data
loader, the optimizer, the schedule, the loss and the callbacks that keep the run folder
(``last.ckpt``/``best.ckpt``, and with ``logs``, ``metrics.csv`` and ``history.json``).
``Run.fit()`` trains it with ``ournn.train.fit``.

Its callers:

- ``run_training(config)`` (here): ``ournn train`` and every trial of ``ournn tune``; it also
  loads the dataset, builds the zoo model, resumes, and writes ``config.json``,
  ``summary.txt``, ``results.json`` and the plots.
- the studio's training jobs (``ournn.studio.jobs``), with the network built in the page.

Launched by MPI (``mpirun -n 4 ournn train ...``), ``run_training`` trains on every process
(``ournn.train.distributed``; ``fit`` splits the data and averages the gradients): rank 0
reads a resumed checkpoint and hands it to the others, and writes every file of the run
folder; the test set is evaluated in shares. An error in one process stops the whole job.
"""
import json
import os
import time

import numpy as np

from .. import random as _random
from ..errors import CheckpointError
from . import distributed as _distributed
from ..io import atomic_write_text, load
from ..optim.registry import make_optimizer
from .callbacks import CSVLogger, JSONLogger, ModelCheckpoint
from .loop import evaluate, fit
from .options import make_augmentation, make_loss, schedule_callbacks
from .settings import (DEFAULTS, SettingError, _show, build_zoo_model, check_config,
                       check_data_sizes)

# the keys of a config the recipe reads (what a caller without the whole of SETTINGS, like
# the studio, gives; the rest take their defaults)
RECIPE_KEYS = ("epochs", "batch_size", "seed", "augment", "optimizer", "lr", "weight_decay",
               "momentum", "schedule", "warmup_epochs", "label_smoothing")


class Run:
    """A training run, built and ready: ``model``, ``loader``, ``validation_data``,
    ``optimizer``, ``loss``, ``callbacks`` (the checkpoint, logs and schedule), ``checkpoint``
    (its ``ModelCheckpoint``) and ``config``. ``fit`` trains it."""

    def __init__(self, config, model, loader, validation_data, optimizer, loss, callbacks,
                 checkpoint):
        self.config, self.model, self.loader = config, model, loader
        self.validation_data, self.optimizer, self.loss = validation_data, optimizer, loss
        self.callbacks, self.checkpoint = callbacks, checkpoint

    def fit(self, extra_callbacks=(), verbose=0, resume=None, seed=None, progress=None):
        """Train for ``config["epochs"]``: ``fit`` with this run's pieces and
        ``extra_callbacks`` (called after the run's own callbacks of the same priority;
        ``progress``, a progress bar, before them). ``resume``: a trainer state to continue
        from; ``seed``: seed the generator again before training (the studio does;
        ``ournn train`` seeds once, before the model is built)."""
        return fit(self.model, self.loader, epochs=self.config["epochs"],
                   optimizer=self.optimizer, loss=self.loss,
                   validation_data=self.validation_data,
                   callbacks=[*([progress] if progress else []), *self.callbacks,
                              *extra_callbacks], verbose=verbose,
                   resume=resume, seed=seed)


def recipe_config(config):
    """The recipe's keys of ``config``, with the defaults of those it lacks."""
    return {k: config.get(k, DEFAULTS[k]) if config.get(k) is not None else DEFAULTS[k]
            for k in RECIPE_KEYS}


def build_run(config, model, train_data, validation_data, out, extra=None, logs=True,
              val_batch_size=None):
    """The run ``config`` describes for ``model`` on ``train_data`` = ``(x, y)`` arrays,
    validated on ``validation_data`` = ``(vx, vy)`` after every epoch (in batches of
    ``val_batch_size``; None: ``fit``'s choice). Its checkpoints go into folder ``out``
    with ``extra`` (what the checkpoint says beside the model, e.g. the classes); ``logs``
    adds ``metrics.csv`` and ``history.json``. Nothing is written until it trains."""
    from ..data import ArrayDataset, DataLoader
    cfg = recipe_config(config)
    x, y = train_data
    # (on several processes each draws its own augmentations: seed + rank)
    loader = DataLoader(ArrayDataset(x, y), batch_size=cfg["batch_size"], shuffle=True,
                        seed=cfg["seed"], transform=make_augmentation(
                            cfg["augment"], cfg["seed"] + _distributed.rank()))
    if val_batch_size is not None:
        validation_data = DataLoader(ArrayDataset(*validation_data), batch_size=val_batch_size)
    optimizer = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"],
                               cfg["weight_decay"], cfg["momentum"])
    checkpoint = ModelCheckpoint(out, monitor="val_accuracy", extra=extra)
    callbacks = [checkpoint]
    if logs:
        callbacks += [CSVLogger(os.path.join(out, "metrics.csv")),
                      JSONLogger(os.path.join(out, "history.json"))]
    callbacks += schedule_callbacks(cfg, optimizer, len(loader))
    return Run(cfg, model, loader, validation_data, optimizer,
               make_loss(cfg["label_smoothing"]), callbacks, checkpoint)


# ---------------------------------------------------------------- ournn train
def load_dataset(name, data_dir=None):
    """(train_x, train_y, test_x, test_y, classes): float32 (N, 1, 28, 28) in [0, 1].
    A ``data_dir`` that is not a folder is a SettingError (never silently searched past)."""
    if data_dir is not None and not os.path.isdir(data_dir):
        raise SettingError(f"data_dir (--data-dir) must be a folder with the dataset files; "
                           f"{data_dir!r} is {'a file' if os.path.exists(data_dir) else 'missing'}")
    from ..data import MNIST, FashionMNIST
    cls = {"mnist": MNIST, "fashion-mnist": FashionMNIST}[name]
    train, test = cls(root=data_dir, train=True), cls(root=data_dir, train=False)
    x, y = train.arrays()
    tx, ty = test.arrays()
    return x, y, tx, ty, list(train.classes)


# Settings a resumed run may change freely (where it is, how long, how it talks) ...
RESUME_FREE = ("epochs", "out", "data_dir", "verbose", "tensorboard", "device")
# ... and those it may change only with ``override=True`` (``--override``): they take effect
# from the next step. The others are fixed by what the checkpoint holds (weights, optimizer
# state, data order) and can never change on resume.
RESUME_OVERRIDABLE = ("lr", "weight_decay", "momentum", "label_smoothing", "augment")


def _resume_config(config, saved_cfg, ckpt_path, override):
    """The run config of a resumed run: the saved one, with the settings given now compared
    to it. A difference is refused (naming each) unless ``override`` and overridable."""
    if not isinstance(saved_cfg, dict):
        raise CheckpointError(f"{ckpt_path}: field run_config: missing or not a table (not a "
                              "checkpoint of `ournn train`)")
    saved = check_config(saved_cfg, source=f"{ckpt_path} (run_config)")
    given = check_config(config)      # validates what was given now
    differ = [k for k in config if config[k] is not None and k not in RESUME_FREE
              and given[k] != saved[k]]
    if differ:
        shown = "; ".join(f"{k}: saved {_show(saved[k])}, given {_show(given[k])}"
                          for k in differ)
        fixed = [k for k in differ if k not in RESUME_OVERRIDABLE or
                 (k == "lr" and saved["schedule"] != "none")]
        if fixed:
            raise SettingError(f"--resume: {', '.join(fixed)} cannot change when a run "
                               f"continues (the checkpoint's weights, optimizer state or data "
                               f"order depend on them); differing: {shown}. Drop those "
                               f"settings to continue as saved, or start a new run with "
                               f"another --out")
        if not override:
            raise SettingError(f"--resume: settings differ from the run's saved config: "
                               f"{shown}. Drop them to continue as saved, or add --override "
                               f"to continue with the new values")
    return check_config({**saved, **{k: v for k, v in config.items() if v is not None}})


def _training_device(cfg, world):
    """The device ``cfg["device"]`` names, checked before anything is read or written: where
    it is not available, the device module's one line (a SettingError: exit 2)."""
    from ..device import CPU, DeviceError, check_device
    if cfg["device"] == "cpu":
        return CPU
    try:
        device = check_device(cfg["device"])
    except DeviceError as e:
        raise SettingError(str(e)) from None
    if world > 1:
        raise SettingError(f"device (--device) {cfg['device']}: training on several "
                           f"processes runs on the CPU; use --device cpu with mpirun")
    return device


def _override_optimizer(trainer_state, cfg):
    """Put overridden lr / weight_decay / momentum into the saved optimizer's groups (what
    the resumed optimizer will read)."""
    for group in trainer_state.get("optimizer", {}).get("param_groups", []):
        for key in ("lr", "weight_decay", "momentum"):
            if key in group and not (key == "momentum" and not group[key]):
                group[key] = cfg[key]


@_distributed.stop_every_process_on_error
def run_training(config, resume=False, extra_callbacks=(), stream=None, plots=True,
                 override=False):
    """Train as ``ournn train`` does. Returns ``{"history", "test", "out", ...}``.

    ``plots=False`` skips the pictures (curves, confusion matrix) in the run folder.
    ``resume`` continues ``out/last.ckpt``; settings given in ``config`` that differ from
    the saved run's are refused unless ``override`` (and overridable: RESUME_OVERRIDABLE).
    On several processes an error in one stops them all (the others would wait for it)."""
    from ..io import remove_stale_partial_writes
    cfg = check_config(config)
    main, world = _distributed.is_main(), _distributed.world_size()
    out = cfg["out"]
    ckpt_path = os.path.join(out, "last.ckpt")
    state = None
    if resume:
        if main:
            if os.path.isdir(out):
                remove_stale_partial_writes(out)      # what a killed save left behind
            if not os.path.exists(ckpt_path):
                raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
            state = load(ckpt_path, rebuild=False)
        if world > 1:                  # rank 0 reads the file; the others get it from rank 0
            state = _distributed.broadcast_from_main(state)
        if not isinstance(state, dict) or not isinstance(state.get("trainer"), dict):
            raise CheckpointError(f"{ckpt_path}: field trainer: missing (not a checkpoint of "
                                  "`ournn train`)")
        cfg = _resume_config(config, state.get("run_config"), ckpt_path, override)
        _override_optimizer(state["trainer"], cfg)
        out = cfg["out"]

    device = _training_device(cfg, world)
    if cfg.get("tensorboard"):      # made now: a missing tensorboardX stops us before training
        from .tensorboard import TensorBoard
        extra_callbacks = (*extra_callbacks, TensorBoard(cfg["tensorboard"]))
    from .sequence import check_sequence_config, run_sequence_training
    if check_sequence_config(cfg):      # a language model on text: its own loop (TBPTT)
        if world > 1:
            raise SettingError(f"model {cfg['model']!r} trains with its own loop on one "
                               f"process; run it without mpirun")
        if device.type != "cpu":
            raise SettingError(f"device (--device) {cfg['device']}: {cfg['model']} trains "
                               f"with its own loop, on the CPU only for now; use --device cpu")
        _random.manual_seed(cfg["seed"])     # (a resumed run restores the saved state)
        return run_sequence_training(cfg, state, extra_callbacks, stream)
    _random.manual_seed(cfg["seed"])
    x, y, tx, ty, classes = load_dataset(cfg["dataset"], cfg["data_dir"])
    check_data_sizes(cfg, len(x))
    if cfg["limit"]:
        n = int(cfg["limit"])
        x, y, tx, ty = x[:n], y[:n], tx[:n], ty[:n]
    if cfg["val_split"]:
        n = int(cfg["val_split"])
        x, y, vx, vy = x[:-n], y[:-n], x[-n:], y[-n:]
    else:
        vx, vy = tx, ty
    if len(x) == 0 or len(tx) == 0 or len(vx) == 0:
        raise SettingError(f"nothing to train or test on: {len(x)} training, {len(vx)} "
                           f"validation and {len(tx)} test images")
    model = build_zoo_model(cfg["model"], cfg["model_kwargs"])   # before anything is written
    if world > 1:        # the same weights everywhere; dropout draws its own masks per process
        _random.manual_seed(cfg["seed"] + 1_000_003 * _distributed.rank())
    if main:
        os.makedirs(out, exist_ok=True)
        atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg, indent=2))
    extra = {"run_config": cfg, "dataset": cfg["dataset"], "classes": classes,
             "input_shape": list(x.shape[1:])}
    run = build_run(cfg, model, (x, y), (vx, vy), out, extra=extra, val_batch_size=1000)

    from ..viz.summary import summary
    if main:
        atomic_write_text(os.path.join(out, "summary.txt"),
                          summary(model, x.shape[1:], print_fn=None) + "\n")
    if device.type != "cpu":
        model.to(device)     # in place: the optimizer holds the same parameters; fit moves
        #                      each batch there (``ournn.train.loop``)
    resume_state = None
    if state is not None:
        resume_state = state["trainer"]
        run.checkpoint.best = state.get("best")
    progress = None
    if stream is not None:
        from .callbacks import ProgressBar
        progress = ProgressBar(stream=stream, mode=cfg["verbose"])
    start = time.perf_counter()
    history = run.fit(extra_callbacks, verbose=cfg["verbose"], resume=resume_state,
                      progress=progress)
    wall = time.perf_counter() - start
    # one pass over the test set gives its loss, accuracy and the outputs the plots draw
    test, logits = evaluate(model, (tx, ty), batch_size=1000, return_outputs=True,
                            distributed=world > 1)
    times = history.history.get("time", [])
    results = {"model": cfg["model"], "dataset": cfg["dataset"],
               "epochs": len(history.epoch), "test_loss": test["loss"],
               "test_accuracy": test["accuracy"],
               "seconds_per_epoch": float(np.median(times)) if times else None,
               "wall_seconds_this_session": wall, "interrupted": history.interrupted}
    if world > 1:
        results["processes"] = world
    if not main:
        return {"history": history, "test": test, "out": out, "results": results,
                "model": model}
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    if plots:
        _write_plots(out, history, model, tx, ty, classes, logits)
    return {"history": history, "test": test, "out": out, "results": results, "model": model}


def _write_plots(out, history, model, tx, ty, classes, logits=None):
    """Learning curves and the confusion matrix, when matplotlib is installed."""
    try:
        from ..viz import plots
    except ImportError:
        return
    try:
        plots.write_run_plots(out, history, model, tx, ty, classes, logits=logits)
    except ImportError:
        pass
