"""Search spaces: what each hyperparameter may be, and how to draw or enumerate values.

A space is a dict ``{name: distribution}``. A plain list is a ``Choice`` (in a grid search:
the grid values of that axis). Names are either training settings of ``ournn train`` (``lr``,
``weight_decay``, ``batch_size``, ``optimizer``, ...) or keyword arguments of the zoo model
(``width``, ``hidden``, ``dropout`` ...), which reach the model through ``model_kwargs``.

Samples of continuous distributions are rounded to 4 significant digits, so the value in the
results table, in ``results.json`` and in the printed ``ournn train`` command is exactly the
value the trial trained with.
"""
import inspect
import itertools
import json
import math

import numpy as np

# Settings of ``run_training`` that a study fixes itself (the budget, the folders) and that
# therefore cannot be searched over.
NOT_SEARCHABLE = ("model", "dataset", "out", "data_dir", "verbose", "epochs", "limit",
                  "val_split", "model_kwargs")


def _round(value, low, high):
    """4 significant digits, kept inside [low, high]."""
    value = float(f"{value:.4g}")
    return min(max(value, low), high)


class Distribution:
    """Base class: ``sample(rng)`` draws one value; ``scale`` tells the plots how to draw it
    ("log", "linear" or "categorical")."""
    scale = "linear"

    def sample(self, rng):
        raise NotImplementedError

    def grid(self):
        raise ValueError(f"{self!r} has no grid values: a grid search needs a list or a "
                         "Choice for every hyperparameter (or use a random search)")

    def describe(self):
        """The TOML/JSON form, e.g. ``{"loguniform": [0.0001, 0.01]}``."""
        raise NotImplementedError


class _Range(Distribution):
    keyword = ""

    def __init__(self, low, high):
        if isinstance(low, bool) or isinstance(high, bool) or \
                not all(isinstance(v, (int, float, np.integer, np.floating)) for v in (low, high)):
            raise ValueError(f"{type(self).__name__}: low and high must be numbers, got "
                             f"{low!r} and {high!r}")
        self.low, self.high = float(low), float(high)
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"{type(self).__name__}: need finite low <= high, got "
                             f"[{low}, {high}]")

    def describe(self):
        return {self.keyword: [self.low, self.high]}

    def __repr__(self):
        return f"{type(self).__name__}({self.low:g}, {self.high:g})"


class Uniform(_Range):
    """A float drawn uniformly from [low, high] (e.g. dropout)."""
    keyword = "uniform"

    def sample(self, rng):
        return _round(rng.uniform(self.low, self.high), self.low, self.high)


class LogUniform(_Range):
    """A float whose logarithm is uniform in [log low, log high] (learning rates, weight
    decay): each decade is equally likely. Needs 0 < low <= high."""
    keyword = "loguniform"
    scale = "log"

    def __init__(self, low, high):
        super().__init__(low, high)
        if self.low <= 0:
            raise ValueError(f"LogUniform: low must be > 0, got {low}")

    def sample(self, rng):
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return _round(value, self.low, self.high)


class IntUniform(_Range):
    """An integer drawn uniformly from low..high, both included."""
    keyword = "intuniform"

    def __init__(self, low, high):
        super().__init__(low, high)
        if not (self.low.is_integer() and self.high.is_integer()):
            raise ValueError(f"IntUniform: low and high must be integers, got [{low}, {high}]")
        self.low, self.high = int(self.low), int(self.high)

    def sample(self, rng):
        return int(rng.integers(self.low, self.high + 1))

    def __repr__(self):
        return f"IntUniform({self.low}, {self.high})"


class Choice(Distribution):
    """One of ``values``, each equally likely; in a grid search, every one of them. Values
    may be anything JSON can hold: numbers, strings, lists (e.g. ``hidden`` layer sizes)."""
    scale = "categorical"

    def __init__(self, values):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"Choice: expected a list of values, got {values!r}")
        self.values = [_plain(v) for v in values]
        if not self.values:
            raise ValueError("Choice: needs at least one value")

    def sample(self, rng):
        return self.values[int(rng.integers(len(self.values)))]

    def grid(self):
        return list(self.values)

    def describe(self):
        return {"choice": list(self.values)}

    def __repr__(self):
        return f"Choice({self.values!r})"


def _plain(value):
    """JSON types only (NumPy scalars -> Python numbers, tuples -> lists), so a value can go
    to a checkpoint, to results.json and onto a command line unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"a hyperparameter value must be a number, string or list, got "
                     f"{value!r}")


def as_distribution(name, spec):
    """``spec`` as a Distribution: a Distribution as is, a list as ``Choice``."""
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, (list, tuple)):
        return Choice(spec)
    raise ValueError(f"space: {name!r} must be a list of values or a distribution "
                     f"(LogUniform, Uniform, IntUniform, Choice), got {spec!r}")


_KEYWORDS = {"loguniform": LogUniform, "log_uniform": LogUniform, "uniform": Uniform,
             "intuniform": IntUniform, "int_uniform": IntUniform, "randint": IntUniform,
             "choice": Choice}


def space_from_dict(data):
    """A space from its TOML/JSON form: ``{"lr": {"loguniform": [1e-4, 1e-2]},
    "batch_size": {"choice": [64, 128]}, "width": [16, 32]}`` (a list: grid values)."""
    if not isinstance(data, dict) or not data:
        raise ValueError("space: expected a non-empty table of hyperparameters")
    space = {}
    for raw_name, spec in data.items():
        name = str(raw_name).replace("-", "_")
        if isinstance(spec, list):
            space[name] = Choice(spec)
            continue
        if not (isinstance(spec, dict) and len(spec) == 1):
            raise ValueError(f"space.{name}: expected a list of grid values or one of "
                             f"{{loguniform = [low, high]}}, {{uniform = [low, high]}}, "
                             f"{{intuniform = [low, high]}}, {{choice = [...]}}; got {spec!r}")
        (kind, args), = spec.items()
        cls = _KEYWORDS.get(str(kind).lower())
        if cls is None:
            raise ValueError(f"space.{name}: unknown distribution {kind!r}; use one of "
                             "loguniform, uniform, intuniform, choice")
        if cls is Choice:
            space[name] = Choice(args)
            continue
        if not (isinstance(args, list) and len(args) == 2):
            raise ValueError(f"space.{name}: {kind} needs [low, high], got {args!r}")
        try:
            space[name] = cls(*args)
        except ValueError as e:
            raise ValueError(f"space.{name}: {e}") from None
    return space


def load_space(path):
    """Read a TOML file with a ``[space]`` table (and optionally a ``[train]`` table of fixed
    settings such as ``optimizer = "sgd"``). Returns ``(space, settings)``.

    Example::

        [space]
        lr = {loguniform = [1e-4, 1e-2]}
        batch_size = {choice = [64, 128]}
        dropout = {uniform = [0.0, 0.5]}
        width = [16, 32]
    """
    from ..io import read_toml
    data = read_toml(path)
    if "space" not in data:
        raise ValueError(f"{path}: no [space] table (e.g. [space] lr = {{loguniform = "
                         "[1e-4, 1e-2]}})")
    try:
        space = space_from_dict(data["space"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    settings = data.get("train", {})
    if not isinstance(settings, dict):
        raise TypeError(f"{path}: [train] must be a table of settings")
    return space, {k.replace("-", "_"): v for k, v in settings.items()}


def model_arguments(model):
    """Keyword arguments the zoo model ``model`` accepts (``width``, ``dropout``, ...)."""
    from ..models import MODELS
    if model not in MODELS:
        from ..models import list_models
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(list_models())}")
    params = inspect.signature(MODELS[model]).parameters
    return [name for name in params if name not in ("in_channels", "in_features",
                                                    "num_classes")]


def check_space(space, model):
    """Normalize ``space`` (lists -> Choice) and check every name is a searchable training
    setting or an argument of ``model``. Returns the new dict."""
    from ..train.settings import DEFAULTS
    if not isinstance(space, dict) or not space:
        raise ValueError("space: expected a non-empty dict {name: distribution or list}")
    settings = [k for k in DEFAULTS if k not in NOT_SEARCHABLE]
    model_args = model_arguments(model)
    out = {}
    for name, spec in space.items():
        if name in NOT_SEARCHABLE:
            raise ValueError(f"space: {name!r} is fixed by the study (its budget or folders), "
                             "not searched")
        if name not in settings and name not in model_args:
            raise ValueError(f"space: {name!r} is neither a training setting "
                             f"({', '.join(settings)}) nor an argument of model {model!r} "
                             f"({', '.join(model_args) or 'none'})")
        out[name] = as_distribution(name, spec)
    return out


def split_params(params, model):
    """``(settings, model_kwargs)``: which values go to ``run_training`` and which to the
    model's constructor."""
    model_args = set(model_arguments(model))
    settings = {k: v for k, v in params.items() if k not in model_args}
    model_kwargs = {k: v for k, v in params.items() if k in model_args}
    return settings, model_kwargs


def sample_space(space, n, seed=0):
    """``n`` points drawn from ``space`` (a list of dicts), the same for the same seed."""
    space = {k: as_distribution(k, v) for k, v in space.items()}
    rng = np.random.default_rng(seed)
    return [{name: dist.sample(rng) for name, dist in space.items()} for _ in range(n)]


def grid_points(space):
    """Every combination of the grid values (the Cartesian product, first key slowest)."""
    space = {k: as_distribution(k, v) for k, v in space.items()}
    axes = []
    for name, dist in space.items():
        try:
            axes.append(dist.grid())
        except ValueError as e:
            raise ValueError(f"space: {name!r}: {e}") from None
    return [dict(zip(space, combo)) for combo in itertools.product(*axes)]


def describe_space(space):
    """The JSON form of a space (for results.json)."""
    return {k: as_distribution(k, v).describe() for k, v in space.items()}


def default_space(model, search="random"):
    """A sensible space for a zoo model: learning rate, weight decay and batch size for all;
    plus width and dropout for ``cnn``, dropout and hidden sizes for ``mlp``. For a grid
    search, a small grid (3 x 2 x 2 points at most)."""
    args = model_arguments(model)
    if search == "grid":
        space = {"lr": [3e-4, 1e-3, 3e-3], "batch_size": [64, 128]}
        if "width" in args:
            space["width"] = [16, 32]
        elif "dropout" in args:
            space["dropout"] = [0.0, 0.2]
        return space
    space = {"lr": LogUniform(1e-4, 1e-2), "weight_decay": LogUniform(1e-6, 1e-3),
             "batch_size": Choice([64, 128, 256])}
    if "width" in args:
        space["width"] = Choice([16, 32, 64])
    elif "hidden" in args:
        space["hidden"] = Choice([[256], [512], [512, 1024]])
    if "dropout" in args:
        space["dropout"] = Uniform(0.0, 0.5)
    return space


def format_value(value):
    """Short text for a table cell or a plot tick."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
