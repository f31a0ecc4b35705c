"""Optimizers by name: what ``ournn train --optimizer``, the tuner and the studio offer.

``OPTIMIZERS`` is the one list of those names. Each maps to an optimizer class, the learning
rate it uses when none is given, and the fixed arguments that make the name (``momentum`` is
SGD with momentum, ``nesterov`` SGD with Nesterov momentum)::

    opt = ournn.optim.make_optimizer("nesterov", model.parameters(), lr=0.05)

``optimizer_arguments`` gives the class and keyword arguments ``make_optimizer`` builds with,
so code that writes a training script (the studio's export) writes the very same call. LBFGS
is not listed: its ``step`` needs a closure, which a training loop of batches does not give.
"""
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD


class OptimizerEntry:
    """One name of ``OPTIMIZERS``: its class, default learning rate, whether it takes the
    ``momentum`` setting, fixed keyword arguments, and a weight decay used when the setting is
    0 (AdamW's decoupled decay is its point: 0.01 as in PyTorch)."""

    def __init__(self, cls, lr, uses_momentum=False, fixed=None, default_weight_decay=None):
        self.cls, self.lr, self.uses_momentum = cls, lr, uses_momentum
        self.fixed = dict(fixed or {})
        self.default_weight_decay = default_weight_decay


OPTIMIZERS = {
    "adam": OptimizerEntry(Adam, 1e-3),
    "adamw": OptimizerEntry(AdamW, 1e-3, default_weight_decay=1e-2),
    "sgd": OptimizerEntry(SGD, 1e-2),
    "momentum": OptimizerEntry(SGD, 1e-2, uses_momentum=True),
    "nesterov": OptimizerEntry(SGD, 1e-2, uses_momentum=True, fixed={"nesterov": True}),
    "rmsprop": OptimizerEntry(RMSprop, 1e-3),
    "adagrad": OptimizerEntry(Adagrad, 1e-2),
    "adadelta": OptimizerEntry(Adadelta, 1.0),
    "adamax": OptimizerEntry(Adamax, 2e-3),
    "nadam": OptimizerEntry(NAdam, 2e-3),
    "radam": OptimizerEntry(RAdam, 1e-3),
    "asgd": OptimizerEntry(ASGD, 1e-2),
}


def optimizer_names():
    """The names ``make_optimizer`` knows, in the order the lists show them."""
    return tuple(OPTIMIZERS)


def default_lr(name):
    """The learning rate ``make_optimizer(name, ...)`` uses when ``lr`` is None."""
    return _entry(name).lr


def _entry(name):
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of "
                         f"{', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[key]


def optimizer_arguments(name, lr=None, weight_decay=0.0, momentum=0.9, **hyper):
    """``(cls, kwargs)``: the class and keyword arguments (without the parameters) that
    ``make_optimizer`` builds optimizer ``name`` with. ``hyper`` are further arguments of
    the class (e.g. ``betas``)."""
    entry = _entry(name)
    kwargs = {"lr": entry.lr if lr is None else lr}
    if entry.uses_momentum:
        kwargs["momentum"] = momentum
    kwargs.update(entry.fixed)
    if weight_decay:
        kwargs["weight_decay"] = weight_decay
    elif entry.default_weight_decay is not None:
        kwargs["weight_decay"] = entry.default_weight_decay
    kwargs.update(hyper)
    return entry.cls, kwargs


def make_optimizer(name, params, lr=None, weight_decay=0.0, momentum=0.9, **hyper):
    """An optimizer by name (see ``OPTIMIZERS``) over ``params``. ``lr=None`` takes the
    name's default learning rate; ``momentum`` is used by ``momentum`` and ``nesterov``
    only; ``hyper`` goes to the class as is."""
    cls, kwargs = optimizer_arguments(name, lr, weight_decay, momentum, **hyper)
    return cls(params, **kwargs)
