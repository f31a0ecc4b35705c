"""Hyperparameter search: many short training runs compared on held-out training images.

Declare a space, run a search, read the table::

    from ournn.tune import Choice, LogUniform, Uniform, random_search

    space = {"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-3),
    "batch_size": Choice([64, 128, 256]), "width": Choice([16, 32, 64]),
    "dropout": Uniform(0, 0.5)}
    study = random_search(space, trials=8, base_config={"model": "cnn"}, seed=0,
    workers=2, budget={"epochs": 1, "limit": 5000, "val_split": 1000})
    print(study.table())
    print(study.best_command())      # ournn train --model cnn ... --model-kwargs '{...}'

A hyperparameter is a training setting of ``ournn train`` (``lr``, ``weight_decay``,
``batch_size``, ``optimizer``, ``momentum``, ``schedule``, ``label_smoothing``, ...) or an
argument of the zoo model (``width``/``hidden``/``dropout``), which reaches the model through
the ``model_kwargs`` setting. A plain list is a ``Choice``; ``grid_search`` tries every
combination of lists/Choices.

Every trial is ``run_training`` with the budget's epochs and ``limit``, validated on the
last ``val_split`` training images (never on the test set), in its own folder
``OUT/trial-NNN``. The study folder holds ``results.csv`` (rewritten after each trial),
``results.json`` and ``scatter.png`` (needs matplotlib: ``pip install 'ournn[viz]'``). A
trial that fails, e.g. a loss gone to NaN (``NonFiniteLossError``), is a "failed" row.
With ``workers > 1`` trials run in spawned processes with ``cores // workers`` BLAS threads
each. From the shell: ``ournn tune --model cnn --trials 8 --workers 2``.
"""
from .search import (
    Budget,
    Study,
    grid_search,
    print_summary,
    random_search,
    run_study,
    train_command,
)
from .space import (
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    Uniform,
    default_space,
    grid_points,
    load_space,
    sample_space,
    space_from_dict,
)

__all__ = [
    "Budget",
    "Choice",
    "Distribution",
    "IntUniform",
    "LogUniform",
    "Study",
    "Uniform",
    "default_space",
    "grid_points",
    "grid_search",
    "load_space",
    "print_summary",
    "random_search",
    "run_study",
    "sample_space",
    "space_from_dict",
    "train_command",
]
