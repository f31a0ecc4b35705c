"""The settings of a training run: what each key of a run config (a flag of ``ournn train``,
a key of its TOML file, a value the tuner searches) accepts, and ``check_config``, which
fills the defaults and checks every value. The names a choice accepts come from
``ournn.train.options``.
"""
import math
import numbers
import os
import warnings

import numpy as np

from ..models import ALIASES as _MODEL_ALIASES     # old zoo names (seed_alexnet)
from .options import AUGMENTS, DATASET_ALIASES, DATASETS, OPTIMIZERS, SCHEDULES


class SettingError(ValueError):
    """A setting (a command-line flag or a key of a TOML file) has a value outside what it
    accepts; the message names the setting and the accepted range. ``ournn`` exits with 2."""


class Setting:
    """What one training setting accepts: its kind ("int", "float", "choice", "path",
    "json", "verbose"), range and default. The one place the command line's flags (through
    ``Setting.parse``, an argparse type) and TOML keys (``check_config``) are checked."""

    def __init__(self, kind, default, low=None, high=None, open_low=False, choices=None,
                 aliases=None, flag=None, deprecated=()):
        self.kind, self.default, self.low, self.high = kind, default, low, high
        self.open_low, self.choices, self.aliases = open_low, choices, aliases or {}
        self.deprecated = tuple(deprecated)     # aliases accepted with a warning
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
            if v in self.deprecated:
                warnings.warn(f"{self.label()}: {v!r} is a deprecated name; use "
                              f"{self.aliases[v]!r}", FutureWarning, stacklevel=2)
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
    "model": Setting("choice", "mlp", choices=_model_names, aliases=_MODEL_ALIASES,
                     deprecated=tuple(_MODEL_ALIASES), flag="--model"),
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
    # language models (dataset shakespeare): characters per chunk of truncated BPTT
    "seq_len": Setting("int", 100, 1, 100_000, flag="--seq-len"),
    # keyword arguments of the zoo model, e.g. {"width": 32} for cnn
    "model_kwargs": Setting("json", {}, flag="--model-kwargs"),
    # a folder for TensorBoard event files (None: none written)
    "tensorboard": Setting("path", None, flag="--tensorboard"),
    # where the model and each batch compute: the CPU (NumPy) or the GPU (CuPy)
    "device": Setting("choice", "cpu", choices=("cpu", "cuda"), aliases={"gpu": "cuda"},
                      flag="--device"),
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
