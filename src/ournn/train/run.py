"""Training runs as the command line does them: a config in, a run folder out.

``run_training(config)`` builds the data, model, optimizer and schedule from a plain dict
(what ``ournn train`` parses from flags or a TOML file), trains with ``fit`` and leaves in
``config["out"]``: ``config.json``, ``last.ckpt``/``best.ckpt``, ``metrics.csv``,
``history.json``, ``summary.txt`` and ``results.json`` (plus plots when matplotlib is there).
"""
import json
import os
import time

import numpy as np

from .. import random as _random
from ..errors import CheckpointError
from ..io import atomic_write_text, load
from ..nn.config import module_from_config
from .callbacks import CSVLogger, JSONLogger, LRScheduler, ModelCheckpoint
from .loop import evaluate, fit, make_optimizer

DEFAULTS = {
    "model": "mlp", "dataset": "mnist", "epochs": 5, "batch_size": 128, "optimizer": "adam",
    "lr": 1e-3, "weight_decay": 0.0, "momentum": 0.9, "schedule": "none", "warmup_epochs": 0,
    "augment": "none", "label_smoothing": 0.0, "seed": 0, "out": None, "data_dir": None,
    "val_split": 0, "verbose": "auto", "limit": 0,
    "model_kwargs": {},  # keyword arguments of the zoo model, e.g. {"width": 32} for cnn
}
DATASETS = ("mnist", "fashion-mnist")
SCHEDULES = ("none", "cosine", "onecycle", "step")
AUGMENTS = ("none", "shift", "affine")


def check_config(config):
    """Fill defaults and validate; returns a new dict. Raises ValueError naming the key."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(DEFAULTS))}")
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in config.items() if v is not None})
    from ..models import list_models
    if cfg["model"] not in list_models():
        raise ValueError(f"unknown model {cfg['model']!r}; choose one of "
                         f"{', '.join(list_models())}")
    cfg["dataset"] = cfg["dataset"].lower().replace("_", "-")
    if cfg["dataset"] == "fashion":
        cfg["dataset"] = "fashion-mnist"
    for key, allowed in (("dataset", DATASETS), ("schedule", SCHEDULES), ("augment", AUGMENTS)):
        if cfg[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {cfg[key]!r}")
    for key in ("epochs", "batch_size"):
        if int(cfg[key]) < 1:
            raise ValueError(f"{key} must be >= 1, got {cfg[key]}")
        cfg[key] = int(cfg[key])
    if float(cfg["lr"]) <= 0:
        raise ValueError(f"lr must be > 0, got {cfg['lr']}")
    if cfg["out"] is None:
        cfg["out"] = os.path.join("runs", f"{cfg['model']}-{cfg['dataset']}")
    return cfg


def load_dataset(name, data_dir=None):
    """(train_x, train_y, test_x, test_y, classes): float32 (N, 1, 28, 28) in [0, 1]."""
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


def run_training(config, resume=False, extra_callbacks=(), stream=None, plots=True):
    """Train as ``ournn train`` does. Returns ``{"history", "test", "out", ...}``.

    ``plots=False`` skips the pictures (curves, confusion matrix) in the run folder."""
    from ..data import ArrayDataset, DataLoader
    from ..models import get_model
    cfg = check_config(config)
    out = cfg["out"]
    ckpt_path = os.path.join(out, "last.ckpt")
    state = None
    if resume:
        if not os.path.exists(ckpt_path):
            raise CheckpointError(f"--resume: no checkpoint at {ckpt_path}")
        state = load(ckpt_path, rebuild=False)
        saved_cfg = state.get("run_config", {})
        cfg = check_config({**saved_cfg, **{k: v for k, v in config.items()
                                            if k in ("epochs", "out", "data_dir", "verbose")
                                            and v is not None}})
    os.makedirs(out, exist_ok=True)
    atomic_write_text(os.path.join(out, "config.json"), json.dumps(cfg, indent=2))

    _random.manual_seed(cfg["seed"])
    x, y, tx, ty, classes = load_dataset(cfg["dataset"], cfg["data_dir"])
    if cfg["limit"]:
        n = int(cfg["limit"])
        x, y, tx, ty = x[:n], y[:n], tx[:n], ty[:n]
    if cfg["val_split"]:
        n = int(cfg["val_split"])
        x, y, vx, vy = x[:-n], y[:-n], x[-n:], y[-n:]
    else:
        vx, vy = tx, ty
    model = get_model(cfg["model"], **cfg["model_kwargs"])
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
    model saved with ``ournn.save(model, path)``), and the checkpoint's metadata."""
    obj = load(path, rebuild=False)
    meta = {}
    if isinstance(obj, dict) and "trainer" in obj:
        trainer = obj["trainer"]
        config = trainer.get("model_config")
        if config is None:
            raise CheckpointError(f"{path}: the checkpoint has weights but no architecture "
                                  "(a user-defined model); rebuild it in code and use "
                                  "load_state_dict")
        model = module_from_config(config)
        model.load_state_dict(trainer["model"])
        meta = {k: obj.get(k) for k in META_KEYS}
    elif isinstance(obj, dict) and "config" in obj and "state_dict" in obj:
        model = module_from_config(obj["config"])
        model.load_state_dict(obj["state_dict"])
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict) and \
            "config" in obj["model"]:
        model = module_from_config(obj["model"]["config"])
        model.load_state_dict(obj["model"]["state_dict"])
        meta = {k: obj.get(k) for k in META_KEYS}
    else:
        raise CheckpointError(f"{path}: holds no model (a state dict alone has no "
                              "architecture; save the model itself: ournn.save(model, path))")
    model.eval()
    return model, meta
