"""Training runs as the command line does them: a config in, a run folder out.

``run_training(config)`` builds the data, model, optimizer and schedule from a plain dict
(what ``ournn train`` parses from flags or a TOML file), trains with ``fit`` and leaves in
``config["out"]``: ``config.json``, ``last.ckpt``/``best.ckpt``, ``metrics.csv``,
``history.json``, ``summary.txt`` and ``results.json`` (plus plots when matplotlib is there).
"""
import json
import math
import numbers
import os
import time

import numpy as np

from .. import random as _random
from ..errors import CheckpointError
from ..io import atomic_write_text, load
from ..nn.config import module_from_config
from .callbacks import CSVLogger, JSONLogger, LRScheduler, ModelCheckpoint
from .loop import evaluate, fit, make_optimizer

DATASETS = ("mnist", "fashion-mnist")
DATASET_ALIASES = {"fashion": "fashion-mnist", "fashion_mnist": "fashion-mnist",
                   "fashionmnist": "fashion-mnist"}
SCHEDULES = ("none", "cosine", "onecycle", "step")
AUGMENTS = ("none", "shift", "affine")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop")


class SettingError(ValueError):
    """A setting (a command-line flag or a key of a TOML file) has a value outside what it
    accepts; the message names the setting and the accepted range. ``ournn`` exits with 2."""


class Setting:
    """What one training setting accepts: its kind ("int", "float", "choice", "path",
    "json", "verbose"), range and default. The one place the command line's flags (through
    ``Setting.parse``, an argparse type) and TOML keys (``check_config``) are checked."""

    def __init__(self, kind, default, low=None, high=None, open_low=False, choices=None,
                 aliases=None, flag=None):
        self.kind, self.default, self.low, self.high = kind, default, low, high
        self.open_low, self.choices, self.aliases = open_low, choices, aliases or {}
        self.flag = flag
        self.name = None

    def accepted(self):
        """The accepted values, in words."""
        if self.kind == "int":
            return (f"an integer from {self.low} to {self.high}" if self.high is not None
                    else f"an integer >= {self.low}")
        if self.kind == "float":
            low = f"> {self.low}" if self.open_low else f">= {self.low}"
            return (f"a finite number {low} and <= {self.high}" if self.high is not None
                    else f"a finite number {low}")
        if self.kind == "choice":
            return "one of " + ", ".join(self._choices())
        if self.kind == "verbose":
            return "0, 1, 2 or \"auto\""
        if self.kind == "json":
            return "a JSON object / TOML table of the model's arguments"
        return "a non-empty path without control characters"

    def _choices(self):
        return self.choices() if callable(self.choices) else self.choices

    def check(self, value):
        """``value`` (already of a Python type: from TOML or code) normalised; SettingError
        naming the setting otherwise."""
        def bad(why=""):
            return SettingError(f"{self.label()} must be {self.accepted()}, got "
                                f"{_show(value)}{why}")
        k = self.kind
        if k == "int":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise bad()
            if value < self.low or (self.high is not None and value > self.high):
                raise bad()
            return int(value)
        if k == "float":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise bad()
            value_f = float(value)
            if not math.isfinite(value_f) or value_f < self.low or \
                    (self.open_low and value_f <= self.low) or \
                    (self.high is not None and value_f > self.high):
                raise bad()
            return value_f
        if k == "choice":
            if not isinstance(value, str):
                raise bad()
            v = value.strip().lower()
            v = self.aliases.get(v, v)
            if v not in self._choices():
                raise bad()
            return v
        if k == "verbose":
            if isinstance(value, str) and value == "auto":
                return value
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
                    or value not in (0, 1, 2):
                raise bad()
            return int(value)
        if k == "json":
            if not isinstance(value, dict) or not all(isinstance(x, str) for x in value):
                raise bad()
            return dict(value)
        if not isinstance(value, str) or not value or \
                any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise bad()
        return value

    def parse(self, text):
        """argparse ``type``: the text of a flag -> a checked value (ArgumentTypeError)."""
        import argparse
        import json as _json
        try:
            if self.kind == "int":
                try:
                    value = int(text.strip())
                except ValueError:
                    raise SettingError(f"must be {self.accepted()}, got {text!r}") from None
            elif self.kind == "float":
                try:
                    value = float(text)
                except ValueError:
                    raise SettingError(f"must be {self.accepted()}, got {text!r}") from None
            elif self.kind == "verbose":
                value = text if text == "auto" else (int(text) if text.strip().isdigit()
                                                     else text)
            elif self.kind == "json":
                try:
                    value = _json.loads(text)
                except ValueError as e:
                    raise SettingError(f"not valid JSON ({getattr(e, 'msg', e)}): "
                                       f"{text!r}") from None
            else:
                value = text
            return self.check(value)
        except SettingError as e:
            msg = str(e)
            prefix = f"{self.label()} must"
            raise argparse.ArgumentTypeError(msg[len(self.label()) + 1:]
                                             if msg.startswith(prefix) else msg) from None

    def label(self):
        return self.name if self.flag is None else f"{self.name} ({self.flag})"


def _show(value):
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_names():
    from ..models import list_models
    return list_models()


SETTINGS = {
    "model": Setting("choice", "mlp", choices=_model_names, flag="--model"),
    "dataset": Setting("choice", "mnist", choices=DATASETS, aliases=DATASET_ALIASES,
                       flag="--dataset"),
    "epochs": Setting("int", 5, 1, 100_000, flag="--epochs"),
    "batch_size": Setting("int", 128, 1, 1_000_000, flag="--batch-size"),
    "optimizer": Setting("choice", "adam", choices=OPTIMIZERS, flag="--optimizer"),
    "lr": Setting("float", 1e-3, 0, open_low=True, flag="--lr"),
    "weight_decay": Setting("float", 0.0, 0, flag="--weight-decay"),
    "momentum": Setting("float", 0.9, 0, 1, flag="--momentum"),
    "schedule": Setting("choice", "none", choices=SCHEDULES, flag="--schedule"),
    "warmup_epochs": Setting("int", 0, 0, 100_000, flag="--warmup-epochs"),
    "augment": Setting("choice", "none", choices=AUGMENTS, flag="--augment"),
    "label_smoothing": Setting("float", 0.0, 0, 1, flag="--label-smoothing"),
    "seed": Setting("int", 0, 0, 2**63 - 1, flag="--seed"),
    "out": Setting("path", None, flag="--out"),
    "data_dir": Setting("path", None, flag="--data-dir"),
    "val_split": Setting("int", 0, 0, flag="--val-split"),
    "verbose": Setting("verbose", "auto", flag="--verbose"),
    "limit": Setting("int", 0, 0, flag="--limit"),
    # keyword arguments of the zoo model, e.g. {"width": 32} for cnn
    "model_kwargs": Setting("json", {}, flag="--model-kwargs"),
}
for _name, _setting in SETTINGS.items():
    _setting.name = _name
DEFAULTS = {k: (dict(v.default) if isinstance(v.default, dict) else v.default)
            for k, v in SETTINGS.items()}


def check_config(config, source=None):
    """Fill defaults and validate every value against ``SETTINGS``; returns a new dict.
    Raises ``SettingError`` (a ValueError) naming the key (and ``source``, e.g. the TOML
    file) and the accepted range."""
    if not isinstance(config, dict):
        raise SettingError(f"{source or 'config'}: expected a table of settings, got "
                           f"{type(config).__name__}")
    where = f"{source}: " if source else ""
    unknown = sorted(str(k) for k in set(config) - set(SETTINGS))
    if unknown:
        raise SettingError(f"{where}unknown setting(s) {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(SETTINGS))}")
    cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    for key, value in config.items():
        if value is None:
            continue
        try:
            cfg[key] = SETTINGS[key].check(value)
        except SettingError as e:
            raise SettingError(f"{where}{e}") from None
    if cfg["warmup_epochs"] > cfg["epochs"]:
        raise SettingError(f"{where}warmup_epochs (--warmup-epochs) must be from 0 to epochs "
                           f"({cfg['epochs']}), got {cfg['warmup_epochs']}")
    if cfg["out"] is None:
        cfg["out"] = os.path.join("runs", f"{cfg['model']}-{cfg['dataset']}")
    return cfg


def check_data_sizes(cfg, n_train):
    """``limit`` and ``val_split`` against the ``n_train`` images there are: training on
    zero images or validating on more than there are is a SettingError."""
    if cfg["limit"] > n_train:
        raise SettingError(f"limit (--limit) must be from 0 (all) to {n_train} (the "
                           f"{cfg['dataset']} training images), got {cfg['limit']}")
    available = cfg["limit"] or n_train
    if cfg["val_split"] >= available:
        raise SettingError(f"val_split (--val-split) must be from 0 to {available - 1} (it "
                           f"holds out part of the {available} training images"
                           f"{' after --limit' if cfg['limit'] else ''}; at least one must "
                           f"be left to train on), got {cfg['val_split']}")


def build_zoo_model(name, kwargs):
    """Zoo model ``name`` with ``kwargs`` (``--model-kwargs``), built under the same limits
    as a checkpoint's model (``ournn.io.LIMITS``: parameters, layers) so that a typo like
    ``{"hidden": [1000000, 1000000]}`` is refused before allocating; bad arguments are a
    SettingError naming model_kwargs."""
    from ..nn.config import module_from_config
    try:
        return module_from_config({"zoo": {"name": name, "kwargs": dict(kwargs)}},
                                  held_by="--model-kwargs")
    except (ValueError, TypeError) as e:
        msg = str(e).replace(f"bad zoo model {name!r}: ", "")
        raise SettingError(f"model_kwargs (--model-kwargs) {_show(kwargs)} for {name}: "
                           f"{msg}") from None


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


def make_augmentation(kind, seed):
    """The batch transform for ``augment`` = 'none' (None), 'shift' or 'affine'."""
    from ..data import transforms
    if kind == "shift":
        return transforms.RandomShift(2, seed=seed)
    if kind == "affine":
        return transforms.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1),
                                       seed=seed)
    return None


def schedule_callbacks(cfg, optimizer, steps_per_epoch):
    """LRScheduler callbacks (stepped per step) for ``cfg['schedule']`` ('none', 'cosine',
    'onecycle', 'step') over ``cfg['epochs']``, after ``cfg['warmup_epochs']`` of warm-up."""
    from ..optim import lr_scheduler as S
    epochs, warm = cfg["epochs"], int(cfg["warmup_epochs"])
    if cfg["schedule"] == "onecycle":
        return [LRScheduler(S.OneCycleLR(optimizer, max_lr=cfg["lr"], epochs=epochs,
                                         steps_per_epoch=steps_per_epoch), interval="step")]
    main = None
    if cfg["schedule"] == "cosine":
        main = S.CosineAnnealingLR(optimizer, T_max=max(1, (epochs - warm) * steps_per_epoch))
    elif cfg["schedule"] == "step":
        main = S.StepLR(optimizer, step_size=max(1, epochs // 3) * steps_per_epoch, gamma=0.1)
    if warm:
        warmup = S.LinearLR(optimizer, start_factor=0.1, total_iters=warm * steps_per_epoch)
        main = warmup if main is None else S.SequentialLR(
            optimizer, [warmup, main], milestones=[warm * steps_per_epoch])
    return [LRScheduler(main, interval="step")] if main is not None else []


# Settings a resumed run may change freely (where it is, how long, how it talks) ...
RESUME_FREE = ("epochs", "out", "data_dir", "verbose")
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


def _override_optimizer(trainer_state, cfg):
    """Put overridden lr / weight_decay / momentum into the saved optimizer's groups (what
    the resumed optimizer will read)."""
    for group in trainer_state.get("optimizer", {}).get("param_groups", []):
        for key in ("lr", "weight_decay", "momentum"):
            if key in group and not (key == "momentum" and not group[key]):
                group[key] = cfg[key]


def run_training(config, resume=False, extra_callbacks=(), stream=None, plots=True,
                 override=False):
    """Train as ``ournn train`` does. Returns ``{"history", "test", "out", ...}``.

    ``plots=False`` skips the pictures (curves, confusion matrix) in the run folder.
    ``resume`` continues ``out/last.ckpt``; settings given in ``config`` that differ from
    the saved run's are refused unless ``override`` (and overridable: RESUME_OVERRIDABLE)."""
    from ..data import ArrayDataset, DataLoader
    from ..io import remove_stale_partial_writes
    cfg = check_config(config)
    out = cfg["out"]
    ckpt_path = os.path.join(out, "last.ckpt")
    state = None
    if resume:
        if os.path.isdir(out):
            remove_stale_partial_writes(out)      # what a killed save left behind
        if not os.path.exists(ckpt_path):
            raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
        state = load(ckpt_path, rebuild=False)
        if not isinstance(state, dict) or not isinstance(state.get("trainer"), dict):
            raise CheckpointError(f"{ckpt_path}: field trainer: missing (not a checkpoint of "
                                  "`ournn train`)")
        cfg = _resume_config(config, state.get("run_config"), ckpt_path, override)
        _override_optimizer(state["trainer"], cfg)
        out = cfg["out"]

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
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg, indent=2))
    loader = DataLoader(ArrayDataset(x, y), batch_size=cfg["batch_size"], shuffle=True,
                        seed=cfg["seed"], transform=make_augmentation(cfg["augment"], cfg["seed"]))
    val_loader = DataLoader(ArrayDataset(vx, vy), batch_size=1000)
    optimizer = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"],
                               cfg["weight_decay"], cfg["momentum"])

    from ..viz.summary import summary
    atomic_write_text(os.path.join(out, "summary.txt"),
                      summary(model, x.shape[1:], print_fn=None) + "\n")
    extra = {"run_config": cfg, "dataset": cfg["dataset"], "classes": classes,
             "input_shape": list(x.shape[1:])}
    checkpoint = ModelCheckpoint(out, monitor="val_accuracy", extra=extra)
    callbacks = [checkpoint, CSVLogger(os.path.join(out, "metrics.csv")),
                 JSONLogger(os.path.join(out, "history.json"))]
    callbacks += schedule_callbacks(cfg, optimizer, len(loader))
    callbacks += list(extra_callbacks)
    resume_state = None
    if state is not None:
        resume_state = state["trainer"]
        checkpoint.best = state.get("best")
    if stream is not None:
        from .callbacks import ProgressBar
        callbacks.insert(0, ProgressBar(stream=stream, mode=cfg["verbose"]))
    loss = _smoothed_loss(cfg["label_smoothing"])
    start = time.perf_counter()
    history = fit(model, loader, epochs=cfg["epochs"], optimizer=optimizer, loss=loss,
                  validation_data=val_loader, callbacks=callbacks, verbose=cfg["verbose"],
                  resume=resume_state)
    wall = time.perf_counter() - start
    test = evaluate(model, (tx, ty), batch_size=1000)
    times = history.history.get("time", [])
    results = {"model": cfg["model"], "dataset": cfg["dataset"],
               "epochs": len(history.epoch), "test_loss": test["loss"],
               "test_accuracy": test["accuracy"],
               "seconds_per_epoch": float(np.median(times)) if times else None,
               "wall_seconds_this_session": wall, "interrupted": history.interrupted}
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    if plots:
        _write_plots(out, history, model, tx, ty, classes)
    return {"history": history, "test": test, "out": out, "results": results, "model": model}


def _smoothed_loss(smoothing):
    from ..nn import functional as F
    if not smoothing:
        return "cross_entropy"

    def loss(output, target):
        return F.cross_entropy(output, target, label_smoothing=smoothing)
    return loss


def _write_plots(out, history, model, tx, ty, classes):
    """Learning curves and the confusion matrix, when matplotlib is installed."""
    try:
        from ..viz import plots
    except ImportError:
        return
    try:
        plots.write_run_plots(out, history, model, tx, ty, classes)
    except ImportError:
        pass


# What a checkpoint may say beside the model: what `ournn eval`/`predict` and the studio read.
META_KEYS = ("dataset", "classes", "input_shape", "run_config", "studio_setup")


def load_model(path):
    """The model stored in a checkpoint (a training checkpoint from ``ournn train`` or a
    model saved with ``ournn.save(model, path)``), and the checkpoint's metadata.

    The architecture's declared parameters are checked against the numbers the file holds
    (and ``ournn.io.LIMITS``) before the model is built."""
    from ..io import build_model
    obj = load(path, rebuild=False)
    meta = {}
    if isinstance(obj, dict) and "trainer" in obj:
        trainer = obj["trainer"]
        if not isinstance(trainer, dict):
            raise CheckpointError(f"{path}: field trainer: expected a table, got "
                                  f"{type(trainer).__name__}")
        config = trainer.get("model_config")
        if config is None:
            raise CheckpointError(f"{path}: the checkpoint has weights but no architecture "
                                  "(a user-defined model); rebuild it in code and use "
                                  "load_state_dict")
        model = _build(build_model, config, trainer.get("model"), path, "trainer.model")
        meta = {k: obj.get(k) for k in META_KEYS}
    elif isinstance(obj, dict) and "config" in obj and "state_dict" in obj:
        model = _build(build_model, obj["config"], obj["state_dict"], path, "tree")
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict) and \
            "config" in obj["model"]:
        model = _build(build_model, obj["model"]["config"], obj["model"].get("state_dict"),
                       path, "model")
        meta = {k: obj.get(k) for k in META_KEYS}
    else:
        raise CheckpointError(f"{path}: holds no model (a state dict alone has no "
                              "architecture; save the model itself: ournn.save(model, path))")
    _check_meta(meta, path)
    model.eval()
    return model, meta


def _build(build_model, config, state, path, where):
    try:
        return build_model(config, state, where)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _check_meta(meta, path):
    """The metadata ``eval``/``predict`` read must have the types they expect."""
    checks = {"dataset": lambda v: isinstance(v, str),
              "classes": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
              "input_shape": lambda v: isinstance(v, list) and 0 < len(v) <= 4 and all(
                  isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v),
              "run_config": lambda v: isinstance(v, dict),
              "studio_setup": lambda v: isinstance(v, dict)}
    for key, ok in checks.items():
        if meta.get(key) is not None and not ok(meta[key]):
            raise CheckpointError(f"{path}: field {key}: malformed ({_show(meta[key])})")


IMAGE_INPUT = [1, 28, 28]


def expected_data(meta):
    """``(dataset, input_shape)`` a checkpoint's model was trained on: an MNIST-like image
    set ``ournn eval``/``predict`` can feed, or (for studio models of toy or CSV data) the
    name of what it needs. ``dataset`` is None when the checkpoint does not say."""
    setup = meta.get("studio_setup") or {}
    name = meta.get("dataset") or (setup.get("dataset") if isinstance(
        setup.get("dataset"), str) else None)
    return name, meta.get("input_shape")


def require_images(meta, command, path):
    """Refuse, naming what the model expects, a checkpoint trained on anything but 28x28
    grayscale images (a studio model of a toy set or a CSV file)."""
    name, shape = expected_data(meta)
    if (shape is not None and list(shape) != IMAGE_INPUT) or \
            (name is not None and name not in DATASETS and name not in DATASET_ALIASES):
        what = f"inputs of shape {shape}" if shape is not None else "other inputs"
        raise ValueError(f"{path}: this model was trained on {name or 'unknown data'!r} "
                         f"({what}), not on 28x28 images; `ournn {command}` feeds MNIST-like "
                         f"images. Open it in `ournn studio` with that data, or call it from "
                         f"Python on arrays of shape (N, {', '.join(map(str, shape or []))})")
