"""The named choices of a training recipe, each defined once: datasets, augmentations,
learning-rate schedules and (from ``ournn.optim``) optimizers.

``ournn train`` (its flags and TOML keys), the tuner and the studio offer these names and
build them with the functions here, so a new choice is added in one place. Each schedule and
augmentation is described as a class name with keyword arguments (``schedule_arguments``,
``augmentation_arguments``); the functions that build them and the studio's script export
both read that description, so the exported script trains as the studio does.

Schedules are stepped once per training step (``LRScheduler(..., interval="step")``); their
lengths are counted in steps: epochs x ``steps_per_epoch``.
"""
from ..optim.registry import optimizer_names

DATASETS = ("mnist", "fashion-mnist", "shakespeare")   # shakespeare: text, for charlstm
DATASET_ALIASES = {"fashion": "fashion-mnist", "fashion_mnist": "fashion-mnist",
                   "fashionmnist": "fashion-mnist"}
OPTIMIZERS = optimizer_names()


# ---------------------------------------------------------------- augmentations
def _shift(seed):
    return "RandomShift", {"max_shift": 2, "seed": seed}


def _affine(seed):
    return "RandomAffine", {"degrees": 10, "translate": (0.1, 0.1), "scale": (0.9, 1.1),
                            "seed": seed}


# name -> (seed -> (class name in ournn.data.transforms, keyword arguments)); "none": no
# transform. Augmentations move images: they apply to image datasets only.
AUGMENTATIONS = {"none": None, "shift": _shift, "affine": _affine}
AUGMENTS = tuple(AUGMENTATIONS)


def augmentation_arguments(kind, seed):
    """``(class name, kwargs)`` of the batch transform ``kind`` (None for "none")."""
    make = AUGMENTATIONS[kind]
    return None if make is None else make(seed)


def make_augmentation(kind, seed):
    """The batch transform for ``augment`` = 'none' (None), 'shift' or 'affine'."""
    from ..data import transforms
    spec = augmentation_arguments(kind, seed)
    if spec is None:
        return None
    name, kwargs = spec
    return getattr(transforms, name)(**kwargs)


# ---------------------------------------------------------------- learning-rate schedules
# name -> (lr, epochs, warmup epochs, steps per epoch) -> (class name in
# ournn.optim.lr_scheduler, keyword arguments after the optimizer); "none": a constant rate.
# The schedule runs after the warm-up (``warmup_schedule``), except onecycle, which has its
# own warm-up and spans the whole run.
def _cosine(lr, epochs, warm, steps):
    return "CosineAnnealingLR", {"T_max": max(1, (epochs - warm) * steps)}


def _onecycle(lr, epochs, warm, steps):
    return "OneCycleLR", {"max_lr": lr, "epochs": epochs, "steps_per_epoch": steps}


def _step(lr, epochs, warm, steps):
    return "StepLR", {"step_size": max(1, epochs // 3) * steps, "gamma": 0.1}


def _cyclic(lr, epochs, warm, steps):
    # a triangle from lr/10 up to lr and back every two epochs; the momentum is left alone,
    # so it suits every optimizer
    return "CyclicLR", {"base_lr": lr / 10, "max_lr": lr, "step_size_up": steps,
                        "cycle_momentum": False}


def _warm_restarts(lr, epochs, warm, steps):
    # SGDR: three cosine decays, each restarting at lr
    return "CosineAnnealingWarmRestarts", {"T_0": max(1, (epochs - warm) // 3) * steps}


def _polynomial(lr, epochs, warm, steps):
    # linear decay to 0 at the end of the run
    return "PolynomialLR", {"total_iters": max(1, (epochs - warm) * steps), "power": 1.0}


SCHEDULE_ARGUMENTS = {"none": None, "cosine": _cosine, "onecycle": _onecycle, "step": _step,
                      "cyclic": _cyclic, "warm_restarts": _warm_restarts,
                      "polynomial": _polynomial}
SCHEDULES = tuple(SCHEDULE_ARGUMENTS)
WARMUP_START_FACTOR = 0.1      # warm-up: linear from lr/10 to lr


def schedule_arguments(name, lr, epochs, steps_per_epoch, warmup_epochs=0):
    """``(class name, kwargs)`` of schedule ``name`` for a run of ``epochs`` epochs of
    ``steps_per_epoch`` steps after ``warmup_epochs`` of warm-up (None for "none")."""
    make = SCHEDULE_ARGUMENTS[name]
    return None if make is None else make(lr, epochs, int(warmup_epochs), steps_per_epoch)


def make_schedule(name, optimizer, lr, epochs, steps_per_epoch, warmup_epochs=0):
    """The scheduler (stepped per step) of ``name`` after ``warmup_epochs`` of linear
    warm-up, or None for a constant rate."""
    from ..optim import lr_scheduler as S
    warm = int(warmup_epochs)
    spec = schedule_arguments(name, lr, epochs, steps_per_epoch, warm)
    if name == "onecycle":
        cls, kwargs = spec
        return getattr(S, cls)(optimizer, **kwargs)
    main = None if spec is None else getattr(S, spec[0])(optimizer, **spec[1])
    if warm:
        warmup = S.LinearLR(optimizer, start_factor=WARMUP_START_FACTOR,
                            total_iters=warm * steps_per_epoch)
        main = warmup if main is None else S.SequentialLR(
            optimizer, [warmup, main], milestones=[warm * steps_per_epoch])
    return main


def schedule_callbacks(cfg, optimizer, steps_per_epoch):
    """LRScheduler callbacks (stepped per step) for ``cfg['schedule']`` over
    ``cfg['epochs']``, after ``cfg.get('warmup_epochs', 0)`` of warm-up."""
    from .callbacks import LRScheduler
    scheduler = make_schedule(cfg["schedule"], optimizer, cfg["lr"], cfg["epochs"],
                              steps_per_epoch, cfg.get("warmup_epochs", 0))
    return [] if scheduler is None else [LRScheduler(scheduler, interval="step")]


# ---------------------------------------------------------------- loss
def make_loss(label_smoothing=0.0):
    """Cross-entropy, with ``label_smoothing`` when it is not 0."""
    from ..nn import functional as F
    if not label_smoothing:
        return "cross_entropy"

    def loss(output, target):
        return F.cross_entropy(output, target, label_smoothing=label_smoothing)
    return loss
