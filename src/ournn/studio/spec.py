"""A studio setup as data: the layers a person builds in the page, checked and turned into an
``nn.Sequential``.

A layer is a flat dict, ``{"type": "Linear", "out_features": 128}``; input sizes are inferred
from the layer before (as in Keras), so the page never asks for them. Every number is bounded
(``LIMITS``) so that a request cannot ask the server for an absurd amount of memory or time.
Anything wrong raises ``SpecError`` naming the field, which the server turns into a 400.
"""
import inspect
import math

import numpy as np

from .. import nn
from ..errors import OurnnError
from ..optim.registry import optimizer_arguments
from ..train import options as options_

LIMITS = {
    "max_layers": 64, "max_units": 4096, "max_channels": 512, "max_epochs": 500,
    "max_batch_size": 4096, "max_params": 20_000_000,
    # activations of one training batch (forward values, float32), a guard on memory
    "max_batch_activation_bytes": 2 * 1024 ** 3,
}

# The layers the editor offers: the name the page shows -> the ournn layer (BatchNorm is
# BatchNorm1d or BatchNorm2d, chosen by the input's shape). Their parameters are not listed
# here: they are the layer's constructor arguments (``ournn.nn.config``: what ``get_config``
# gives and ``from_config`` takes) that ``BOUNDS`` bounds, in the constructor's order, with
# the constructor's defaults; the input size (``in_features``, ``in_channels``,
# ``num_features``) is inferred from the layer before.
OFFERED = {"Linear": (nn.Linear,), "Conv2d": (nn.Conv2d,), "MaxPool2d": (nn.MaxPool2d,),
           "AvgPool2d": (nn.AvgPool2d,), "BatchNorm": (nn.BatchNorm1d, nn.BatchNorm2d),
           "Dropout": (nn.Dropout,), "Flatten": (nn.Flatten,), "ReLU": (nn.ReLU,),
           "LeakyReLU": (nn.LeakyReLU,), "Sigmoid": (nn.Sigmoid,), "Tanh": (nn.Tanh,),
           "GELU": (nn.GELU,)}
INPUT_ARGUMENTS = ("in_features", "in_channels", "num_features")
# What the page may set, and within which bounds: param -> (kind, min, max, default for an
# argument without one); kind is "int", "float", "bool" or "int?" (an int or null: the
# layer's own choice). Bounds are inclusive except Dropout's p < 1. They keep a request from
# asking the server for an absurd amount of memory or time.
BOUNDS = {"out_features": ("int", 1, LIMITS["max_units"], 128),
          "out_channels": ("int", 1, LIMITS["max_channels"], 16),
          "kernel_size": ("int", 1, 15, 3), "stride": ("int", 1, 8, 1),
          "padding": ("int", 0, 7, 0), "bias": ("bool", 0, 1, True),
          "p": ("float", 0.0, 0.99, 0.5), "negative_slope": ("float", 0.0, 1.0, 0.01)}
_POOL = {"kernel_size": ("int", 1, 8, 2), "stride": ("int?", 1, 8, None), "padding": None}
# where a layer's bounds differ from BOUNDS (None: not offered)
LAYER_BOUNDS = {"MaxPool2d": _POOL, "AvgPool2d": _POOL}


def _signature(cls):
    return inspect.signature(cls.__init__).parameters


def layer_params(kind):
    """``{param: (kind, min, max, default)}`` the page may set for layer ``kind``: the
    constructor arguments of its class that are bounded, with the constructor's defaults."""
    cls = OFFERED[kind][0]
    bounds = {**BOUNDS, **LAYER_BOUNDS.get(kind, {})}
    out = {}
    for name, param in _signature(cls).items():
        spec = bounds.get(name)
        if spec is None or name in INPUT_ARGUMENTS:
            continue
        p_kind, lo, hi, default = spec
        if param.default is not inspect.Parameter.empty:
            default = param.default
        out[name] = (p_kind, lo, hi, default)
    return out


LAYERS = {kind: layer_params(kind) for kind in OFFERED}


# the names `ournn train` takes (--optimizer, --schedule, --augment: images only)
OPTIMIZERS, SCHEDULES, AUGMENTS = options_.OPTIMIZERS, options_.SCHEDULES, options_.AUGMENTS

SETUP_DEFAULTS = {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 3,
                  "train_size": None, "seed": 0, "weight_decay": 0.0, "schedule": "none",
                  "augment": "none", "l1": 0.0, "l2": 0.0, "until_paused": False}
# The data controls of the 2-D toy sets: how noisy, how much of TOY_POINTS to train on, which
# draw (seed), and the input features the network takes (TensorFlow Playground's)
TOY_SETS = ("moons", "circles", "spirals", "xor", "gauss", "reg-plane", "reg-gauss")
REGRESSION_SETS = ("reg-plane", "reg-gauss")     # a value to predict (MSE), not a class
TOY_POINTS = 1500
FEATURE_NAMES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin x1", "sin x2")

# what a running or paused job may change (POST /api/train/settings): they take effect from
# the next step
LIVE_SETTINGS = ("lr", "weight_decay", "l1", "l2")


class SpecError(OurnnError, ValueError):
    """A setup or layer that is malformed or out of bounds; ``field`` says where."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def options():
    """What the page may choose from: layer types with their parameters, and the limits."""
    layers = {}
    for name, params in LAYERS.items():
        layers[name] = {p: {"type": kind, "min": lo, "max": hi, "default": default}
                        for p, (kind, lo, hi, default) in params.items()}
    return {"layers": layers, "optimizers": list(OPTIMIZERS), "schedules": list(SCHEDULES),
            "augments": list(AUGMENTS), "limits": dict(LIMITS)}


# ---------------------------------------------------------------- checking values
def _number(value, kind, lo, hi, field):
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(f"{field} must be true or false, got {_short(value)}", field)
        return value
    if kind == "int?" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{field} must be a number, got {_short(value)}", field)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{field} must be a finite number, got {value!r}", field)
    if not lo <= value <= hi:         # exact for ints of any size: no float conversion
        raise SpecError(f"{field} must be between {lo} and {hi}, got {_short(value)}", field)
    if kind in ("int", "int?"):
        if isinstance(value, float) and not value.is_integer():
            raise SpecError(f"{field} must be a whole number, got {value!r}", field)
        return int(value)
    return float(value)


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_layer(layer, index):
    """A clean copy of one layer dict, with defaults filled in."""
    where = f"layers[{index}]"
    if not isinstance(layer, dict):
        raise SpecError(f"{where} must be an object like {{\"type\": \"Linear\", ...}}", where)
    kind = layer.get("type")
    if not isinstance(kind, str) or kind not in LAYERS:
        raise SpecError(f"{where}: unknown layer type {_short(kind)}; known: "
                        f"{', '.join(LAYERS)}",
                        f"{where}.type")
    params = LAYERS[kind]
    unknown = sorted(set(layer) - set(params) - {"type"})
    if unknown:
        raise SpecError(f"{where} ({kind}): unknown parameter(s) "
                        f"{', '.join(_short(u) for u in unknown[:5])}; "
                        f"{kind} takes {', '.join(params) or 'none'}",
                        f"{where}.{unknown[0][:64]}")
    clean = {"type": kind}
    for name, (p_kind, lo, hi, default) in params.items():
        value = layer.get(name, default)
        clean[name] = _number(value, p_kind, lo, hi, f"{where}.{name}")
    return clean


def check_layers(layers):
    if not isinstance(layers, list):
        raise SpecError("layers must be a list", "layers")
    if not layers:
        raise SpecError("the network has no layers: add at least one Linear layer", "layers")
    if len(layers) > LIMITS["max_layers"]:
        raise SpecError(f"at most {LIMITS['max_layers']} layers, got {len(layers)}", "layers")
    return [check_layer(layer, i) for i, layer in enumerate(layers)]


def check_setup(setup, datasets):
    """A clean setup dict; ``datasets`` maps names to dataset descriptions (``info()``: the
    kind and the training-set size are checked against)."""
    if not isinstance(setup, dict):
        raise SpecError("the setup must be a JSON object", None)
    known = {"dataset", "layers", "data"} | set(SETUP_DEFAULTS)
    unknown = sorted(set(setup) - known)
    if unknown:
        raise SpecError(f"unknown setting(s) {', '.join(_short(u) for u in unknown[:5])}; "
                        f"known: {', '.join(sorted(known))}", unknown[0][:64])
    name = setup.get("dataset")
    if not isinstance(name, str) or name not in datasets:
        raise SpecError(f"unknown dataset {_short(name)}; choose one of {', '.join(datasets)}",
                        "dataset")
    clean = dict(SETUP_DEFAULTS)
    clean.update({k: v for k, v in setup.items() if v is not None})
    clean["dataset"] = name
    text = datasets[name]["kind"] == "text"
    if text:          # a character LSTM learns text: the layer editor does not apply
        if setup.get("layers") not in (None, []):
            raise SpecError(f"{name} is text: the studio trains its character LSTM on it "
                            "(layers must be empty)", "layers")
        clean["layers"] = []
    else:
        clean["layers"] = check_layers(setup.get("layers"))
    if not isinstance(clean["optimizer"], str) or clean["optimizer"] not in OPTIMIZERS:
        raise SpecError(f"unknown optimizer {_short(clean['optimizer'])}; choose one of "
                        f"{', '.join(OPTIMIZERS)}", "optimizer")
    for key, allowed in (("schedule", SCHEDULES), ("augment", AUGMENTS)):
        if not isinstance(clean[key], str) or clean[key] not in allowed:
            raise SpecError(f"unknown {key} {_short(clean[key])}; choose one of "
                            f"{', '.join(allowed)}", key)
    if clean["augment"] != "none" and datasets[name]["kind"] != "image":
        raise SpecError(f"augment={clean['augment']!r} moves images; {name} is not an image "
                        "dataset (use augment='none')", "augment")
    clean.update(check_live_settings({k: clean[k] for k in LIVE_SETTINGS}))
    clean["until_paused"] = _number(clean["until_paused"], "bool", 0, 1, "until_paused")
    if clean["until_paused"] and clean["schedule"] != "none":
        raise SpecError(f"schedule={clean['schedule']!r} needs a number of epochs; training "
                        "until paused uses a constant learning rate (schedule 'none')",
                        "schedule")
    clean["batch_size"] = _number(clean["batch_size"], "int", 1, LIMITS["max_batch_size"],
                                  "batch_size")
    clean["epochs"] = _number(clean["epochs"], "int", 1, LIMITS["max_epochs"], "epochs")
    clean["seed"] = _number(clean["seed"], "int", 0, 2 ** 31 - 1, "seed")
    size = datasets[name]["train_size"] or 2 ** 31 - 1      # text: characters, unknown yet
    if setup.get("data") is not None:
        clean["data"] = check_data(setup["data"], name)
        size = toy_train_size(clean["data"])
    else:
        clean.pop("data", None)
    if clean["train_size"] is not None:
        clean["train_size"] = _number(clean["train_size"], "int", 1, size, "train_size")
    return clean


def check_data(data, dataset):
    """The data controls of a toy set, checked and completed: ``{"noise": None (the set's
    own) or 0..2, "train_share": 0.1..0.9, "seed": int, "features": [names, no repeats]}``."""
    if dataset not in TOY_SETS:
        raise SpecError(f"data controls (noise, split, features) are for the 2-D toy sets "
                        f"({', '.join(TOY_SETS)}), not {_short(dataset)}", "data")
    if not isinstance(data, dict):
        raise SpecError("data must be an object like {\"noise\": 0.2, \"features\": "
                        "[\"x1\", \"x2\"]}", "data")
    unknown = sorted(set(data) - {"noise", "train_share", "seed", "features"})
    if unknown:
        raise SpecError(f"data: unknown setting {_short(unknown[0])}; known: noise, "
                        "train_share, seed, features", f"data.{unknown[0][:64]}")
    clean = {"noise": None, "train_share": 2 / 3, "seed": 1, "features": ["x1", "x2"]}
    if data.get("noise") is not None:
        clean["noise"] = _number(data["noise"], "float", 0.0, 2.0, "data.noise")
    if data.get("train_share") is not None:
        clean["train_share"] = _number(data["train_share"], "float", 0.1, 0.9,
                                       "data.train_share")
    if data.get("seed") is not None:
        clean["seed"] = _number(data["seed"], "int", 0, 2 ** 31 - 2, "data.seed")
    features = data.get("features", clean["features"])
    if (not isinstance(features, list) or not features or len(set(map(str, features))) !=
            len(features) or not all(isinstance(f, str) and f in FEATURE_NAMES
                                     for f in features)):
        raise SpecError(f"data.features must be a list of distinct names from "
                        f"{', '.join(FEATURE_NAMES)}, got {_short(features)}", "data.features")
    clean["features"] = list(features)
    return clean


def toy_train_size(data):
    return int(round(TOY_POINTS * data["train_share"]))


def check_live_settings(settings):
    """The settings a job may change as it runs (``LIVE_SETTINGS``), checked: a clean dict of
    those given. L1 and L2 are penalties on the weights of Linear and Conv2d layers, added
    to the training loss (``l1 * sum |w| + l2 * sum w^2``), beside the optimizer's weight
    decay."""
    if not isinstance(settings, dict):
        raise SpecError("the settings must be a JSON object", None)
    unknown = sorted(set(settings) - set(LIVE_SETTINGS))
    if unknown:
        raise SpecError(f"{_short(unknown[0])} cannot change during a run; these can: "
                        f"{', '.join(LIVE_SETTINGS)}", unknown[0][:64])
    bounds = {"lr": (1e-8, 10.0), "weight_decay": (0.0, 1.0), "l1": (0.0, 1.0),
              "l2": (0.0, 1.0)}
    return {k: _number(v, "float", *bounds[k], k) for k, v in settings.items()}


# ---------------------------------------------------------------- building
def _layer_class(kind, shape):
    classes = OFFERED[kind]
    if len(classes) == 1:
        return classes[0]
    by_rank = {1: classes[0], 3: classes[1]}            # BatchNorm1d, BatchNorm2d
    if len(shape) not in by_rank:
        raise SpecError(f"{kind} needs a flat or image input, gets shape {_fmt(shape)}")
    return by_rank[len(shape)]


def _build_one(layer, shape, num_classes):
    """The ``nn`` module for ``layer`` given the input ``shape`` (without the batch): its
    class built from its config (``from_config``), the input size taken from ``shape``."""
    kind = layer["type"]
    cls = _layer_class(kind, shape)
    signature = _signature(cls)
    config = {k: layer[k] for k in LAYERS[kind]}
    if "in_features" in signature and len(shape) != 1:
        raise SpecError(f"{kind} needs a flat input but gets shape {_fmt(shape)}: add a "
                        "Flatten layer before it")
    if cls.__name__.endswith("2d") and len(shape) != 3:
        raise SpecError(f"{kind} needs an image input (channels, height, width) but gets "
                        f"shape {_fmt(shape)}")
    if len(shape) == 3 and "kernel_size" in layer:
        _check_window(layer, shape)
    for name in INPUT_ARGUMENTS:
        if name in signature:
            config[name] = shape[0]
    return cls.from_config(config)


def _check_window(layer, shape):
    """A conv or pool window must fit the image it slides over: said in the page's terms
    (the layer, its kernel, the image it gets), not in the terms of the function under it."""
    k, p = layer["kernel_size"], layer.get("padding") or 0
    _, h, w = shape
    if min(h, w) + 2 * p >= k:
        return
    size = f"{h}x{w}" + (f" (with padding {p}: {h + 2 * p}x{w + 2 * p})" if p else "")
    fix = ("remove a pooling layer before it or use a smaller kernel"
           if layer["type"] in ("MaxPool2d", "AvgPool2d") else
           "use a smaller kernel, add padding, or remove a pooling layer before it")
    raise SpecError(f"{layer['type']}: its {k}x{k} window does not fit the {size} image it "
                    f"gets ({shape[0]} channels): {fix}")


def _fmt(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _title(layer, module, shape_in):
    kind = layer["type"]
    if kind == "Linear":
        return f"Linear {shape_in[0]} -> {layer['out_features']}"
    if kind == "Conv2d":
        k, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
        extra = (f" /{s}" if s != 1 else "") + (f" pad {p}" if p else "")
        return f"Conv2d {shape_in[0]} -> {layer['out_channels']}, {k}x{k}{extra}"
    if kind in ("MaxPool2d", "AvgPool2d"):
        return f"{kind} {layer['kernel_size']}x{layer['kernel_size']}"
    if kind == "Dropout":
        return f"Dropout p={layer['p']:g}"
    return type(module).__name__


def build(layers, input_shape, num_classes, batch_size=1, regression=False):
    """Build the layers for ``input_shape``, checking shapes layer by layer.

    Returns ``(model, rows, error)``: ``rows`` describe the layers that fit; ``error`` is None
    or ``{"index", "message"}`` for the first layer where shapes stop fitting (then ``model`` is
    None). Each layer is traced once on zeros (``ournn.tracing``, eval mode, no graph), as
    ``model.summary`` traces a whole model: the trace gives its output shape and parameters."""
    from ..tensor import Tensor
    from ..tracing import trace_model
    rows, modules = [], []
    shape = tuple(input_shape)
    x = Tensor(np.zeros((1,) + shape, dtype=np.float32))
    total = 0
    act_elems = int(np.prod(shape))
    for i, layer in enumerate(layers):
        try:
            module = _build_one(layer, shape, num_classes)
            call = trace_model(module, x).modules[0]
        except (SpecError, OurnnError, ValueError) as e:
            message = str(e)
            if not message.startswith(layer["type"]):
                message = f"{layer['type']}: {message}"
            return None, rows, {"index": i, "message": message}
        new_shape = call.output_shapes[0][1:]
        if 0 in new_shape:
            return None, rows, {"index": i, "message":
                                f"{layer['type']}: the output would be empty {_fmt(new_shape)}; "
                                f"the input {_fmt(shape)} is too small"}
        params = call.num_params()
        total += params
        act_elems += int(np.prod(new_shape))
        row = {"index": i, "type": layer["type"], "title": _title(layer, module, shape),
               "shape": list(new_shape), "params": int(params)}
        if total > LIMITS["max_params"]:
            # blame the biggest layer (the one to make smaller), not the one that tipped over
            big = max(rows + [row], key=lambda r: r["params"])
            return None, rows, {"index": big["index"], "message":
                                f"{big['type']}: the network would have at least {total:,} "
                                f"parameters, over the studio's {LIMITS['max_params']:,}; "
                                f"this layer ({big['title']}) has {big['params']:,}: make it "
                                "smaller"}
        rows.append(row)
        modules.append(module)
        shape, x = new_shape, call.outputs[0]
    if shape != (num_classes,):
        last = len(layers) - 1
        what = "classes" if regression is False else "value to predict (regression)"
        return None, rows, {"index": last, "message":
                            f"the network ends with shape {_fmt(shape)}, but the dataset has "
                            f"{num_classes} {what}: end with Linear(out_features="
                            f"{num_classes})"}
    need = act_elems * 4 * batch_size
    if need > LIMITS["max_batch_activation_bytes"]:
        return None, rows, {"index": len(layers) - 1, "message":
                            f"one batch of {batch_size} would need {need / 2 ** 30:.1f} GiB of "
                            "activations; use a smaller batch or smaller layers"}
    model = nn.Sequential(*modules)
    return model, rows, None


# ---------------------------------------------------------------- back to layers
def layers_of(model):
    """The studio layer list of an ``nn.Sequential`` of supported layers (for zoo models and
    loaded checkpoints); raises SpecError for anything else."""
    if not isinstance(model, nn.Sequential):
        raise SpecError(f"the studio edits Sequential models; this is {type(model).__name__}")
    kinds = {cls: kind for kind, classes in OFFERED.items() for cls in classes}
    out = []
    for m in model:
        kind = kinds.get(type(m))
        if kind is None:
            raise SpecError(f"the studio has no {type(m).__name__} layer")
        config = m.get_config()
        layer = {"type": kind}
        for name, (p_kind, _, _, _) in LAYERS[kind].items():
            value = config[name]
            if isinstance(value, (list, tuple)):
                if len(set(value)) > 1:
                    raise SpecError("the studio supports square kernels, strides and "
                                    "paddings")
                value = value[0]
            if p_kind == "int?" and value == _pair(config.get("kernel_size"))[0]:
                value = None                    # a pool's stride: the kernel size
            layer[name] = float(value) if p_kind == "float" else value
        out.append(layer)
    return out


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ---------------------------------------------------------------- export
def _layer_code(layer, shape):
    """``nn.Class(...)`` of ``layer``: the input size and the required arguments by
    position, the others by name when they differ from the constructor's default."""
    cls = _layer_class(layer["type"], shape)
    signature = _signature(cls)
    args = [str(shape[0]) for name in INPUT_ARGUMENTS if name in signature]
    for name in LAYERS[layer["type"]]:
        default = signature[name].default
        if default is inspect.Parameter.empty:
            args.append(repr(layer[name]))
        elif layer[name] != default:
            args.append(f"{name}={layer[name]!r}")
    return f"nn.{cls.__name__}({', '.join(args)})"


def _call(name, kwargs, first=None):
    """``name(first, k=v, ...)`` with each value written as a Python literal."""
    args = ([first] if first else []) + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(args)})"


def export_script(setup, dataset, rows):
    """A short, runnable ournn script that rebuilds the network of ``setup`` and trains it as
    the studio does (same loader, optimizer, schedule and augmentation)."""
    shapes = [tuple(dataset.input_shape)] + [tuple(r["shape"]) for r in rows]
    lines = [_layer_code(layer, shapes[i]) for i, layer in enumerate(setup["layers"])]
    body = ",\n    ".join(lines)
    limit = ""
    if setup.get("train_size"):
        limit = f"x, y = x[:{setup['train_size']}], y[:{setup['train_size']}]\n"
    epochs, seed = setup["epochs"], setup["seed"]
    # the calls the studio's recipe makes (ournn.train.recipe.build_run), written out
    cls, kwargs = optimizer_arguments(setup["optimizer"], setup["lr"],
                                      setup.get("weight_decay") or 0.0)
    optimizer = _call(cls.__name__, kwargs, "model.parameters()")
    augment = options_.augmentation_arguments(setup.get("augment", "none"), seed)
    transform = "" if augment is None else f", transform=transforms.{_call(*augment)}"
    n = setup.get("train_size") or len(dataset.x)
    steps = -(-n // setup["batch_size"])          # len(loader): the last batch may be short
    schedule = options_.schedule_arguments(setup.get("schedule", "none"), setup["lr"],
                                           epochs, steps)
    callbacks, imports = "", ["from ournn.data import ArrayDataset, DataLoader"]
    if transform:
        imports.append("from ournn.data import transforms")
    if schedule is not None:
        imports += ["from ournn.optim import lr_scheduler",
                    "from ournn.train.callbacks import LRScheduler"]
        code = "lr_scheduler." + _call(schedule[0], schedule[1], "optimizer")
        callbacks = (f"\nassert len(loader) == {steps}\n"
                     f"schedule = LRScheduler({code}, interval=\"step\")")
    fit_callbacks = ", callbacks=[schedule]" if schedule is not None else ""
    # the task's loss (MSE for a value, cross-entropy for classes) and the studio's L1/L2
    # penalty on the Linear and Conv2d weights, added while training only, as the studio does
    regression = getattr(dataset, "task", "classification") == "regression"
    base = "F.mse_loss" if regression else "F.cross_entropy"
    l1, l2 = setup.get("l1") or 0.0, setup.get("l2") or 0.0
    loss_code, fit_loss, eval_args = "", "", ""
    if l1 or l2:
        lines = ["", "weights = [m.weight for m in model.modules() if isinstance(m, (nn.Linear, "
                 "nn.Conv2d))]", "", "", "def loss(output, target):",
                 f"    value = {base}(output, target)", "    if model.training:",
                 "        for w in weights:"]
        if l1:
            lines.append(f"            value = value + {l1!r} * w.abs().sum()")
        if l2:
            lines.append(f"            value = value + {l2!r} * (w * w).sum()")
        lines += ["    return value", ""]
        imports.append("from ournn.nn import functional as F")
        loss_code = "\n".join(lines)
        fit_loss = ", loss=loss"
    elif regression:
        fit_loss = ", loss=\"mse\""
    if regression:
        fit_loss += ", metrics=()"
        eval_args = ", loss=\"mse\", metrics=()"
    # every text that came from a person (a file name, a column name) is written as a repr
    # literal, never as code or inside a docstring
    title = repr(f"{dataset.label}: the network built in ournn studio, trained as the studio "
                 "does.")
    return f'''{title}
import ournn
from ournn import nn
{chr(10).join(imports)}

{dataset.python_loader()}{limit}
ournn.manual_seed({seed})
model = nn.Sequential(
    {body},
)
model.summary(input_shape={tuple(dataset.input_shape)!r}){loss_code}

loader = DataLoader(ArrayDataset(x, y), batch_size={setup["batch_size"]}, shuffle=True, seed={seed}{transform})
optimizer = ournn.optim.{optimizer}{callbacks}
history = model.fit(loader, epochs={epochs}, optimizer=optimizer, validation_data=(test_x, test_y){fit_callbacks}{fit_loss})
print(model.evaluate((test_x, test_y){eval_args}))
ournn.save(model, {dataset.file_stem + "-model.ckpt"!r})
'''
