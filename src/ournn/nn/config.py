"""Architectures as data: a model built from ournn layers <-> a JSON-able dict.

``module_config(model)`` describes it; ``module_from_config(config)`` builds it again. This is
what lets ``ournn.load`` (and ``ournn predict``/``eval``) rebuild a saved model without the
user's code. It is the one description of an architecture: the zoo's models and the studio's
layer editor use it too.

Every layer describes itself the same way, as Keras layers do: ``layer.get_config()`` is a
dict of constructor arguments (by default the attributes named in ``config_keys``) and
``type(layer).from_config(config)`` builds it again. The layers are found by class name in
``layer_classes()``: every public ``Module`` subclass defined in ``ournn.nn``, so a new layer
is added by defining it there (``tests/nn/test_layer_registry.py`` checks that each one
round-trips, and that the studio can describe the ones it offers). Zoo models are described by
their zoo name and arguments; ``ournn.models`` registers the names (``register_zoo``) when it
is imported, so this module never imports the zoo.
"""
import contextvars
import numbers

import numpy as np

from ..errors import CheckpointError
from . import module as module_mod

# ---------------------------------------------------------------- constructor arguments
# Every layer checks its arguments at the top of ``__init__`` with these, so a bad value is a
# ValueError naming the layer and the argument (never a ZeroDivisionError later), and a layer
# built from a file's config reserves its parameters before allocating them.


def check_int(layer, name, value, minimum=1):
    """``value`` as an int >= ``minimum`` (bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{layer}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{layer}: {name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_pair(layer, name, value, minimum=1):
    """An int or a pair of ints, each >= ``minimum``, as a tuple of two ints."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{layer}: {name} must be an integer or a pair, got {value!r}")
        return tuple(check_int(layer, name, v, minimum) for v in value)
    v = check_int(layer, name, value, minimum)
    return (v, v)


def check_float(layer, name, value, low=None, high=None):
    """A finite real number in [low, high]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
            not np.isfinite(value) or (low is not None and value < low) or \
            (high is not None and value > high):
        rng = f" in [{low}, {high}]" if low is not None and high is not None else \
            f" >= {low}" if low is not None else ""
        raise ValueError(f"{layer}: {name} must be a finite number{rng}, got {value!r}")
    return value


def check_dtype(layer, dtype):
    """A floating dtype for parameters (float16/32/64)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{layer}: dtype must be a floating dtype, got {dtype!r}") from None
    if dt.kind != "f":
        raise ValueError(f"{layer}: dtype must be a floating dtype, got {dt}")
    return dtype


def check_factory(layer, device=None, dtype=None):
    """A layer's ``device=`` and ``dtype=`` as PyTorch takes them: the device must be the CPU
    (a clear error otherwise), the dtype a floating one (default float32). Returns the NumPy
    dtype for the parameters."""
    if device is not None:
        from ..device import DeviceError, check_device
        try:
            check_device(device)
        except (DeviceError, ValueError, TypeError) as e:
            raise type(e)(f"{layer}: {e}") from None
    if dtype is None:
        return np.dtype(np.float32)
    check_dtype(layer, dtype)
    return np.dtype(dtype)


_BUDGET = contextvars.ContextVar("ournn_layer_budget", default=None)


class _Budget:
    def __init__(self, max_parameters, held_by):
        from ..files import LIMITS
        self.limits = LIMITS
        self.max_parameters = max_parameters
        self.held_by = held_by
        self.parameters = 0
        self.layers = 0


def reserve(layer, parameters):
    """Account for a layer about to allocate ``parameters`` numbers (weights and buffers).
    Outside ``module_from_config`` this does nothing; inside, a config declaring more
    layers or parameters than the file holds or the limits allow is refused here, before
    the arrays exist."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.layers += 1
    budget.parameters += int(parameters)
    limits = budget.limits
    if budget.layers > limits["layers"]:
        raise CheckpointError(f"the model config declares more than {limits['layers']:,} "
                              f"layers (limit ournn.io.LIMITS['layers'])")
    if budget.parameters > limits["parameters"]:
        raise CheckpointError(f"the model config declares more than "
                              f"{limits['parameters']:,} parameters ({layer} alone has "
                              f"{int(parameters):,}; limit ournn.io.LIMITS['parameters'])")
    if budget.max_parameters is not None and budget.parameters > budget.max_parameters:
        raise CheckpointError(f"the model config declares at least {budget.parameters:,} "
                              f"parameters ({layer} alone has {int(parameters):,}) but "
                              f"{budget.held_by} holds only {budget.max_parameters:,} numbers")


def layer_classes():
    """``{name: class}`` of the layers a config may name: every public (not ``_``-prefixed)
    ``Module`` subclass defined in ``ournn.nn``, ``Module`` included. Wrappers that hold a
    model for a way of training (``nn.parallel.DistributedDataParallel``) are not layers: a
    checkpoint saves the model they wrap."""
    Module = module_mod.Module
    out, todo = {"Module": Module}, [Module]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("ournn.nn.") and not sub.__name__.startswith("_") \
                    and not sub.__module__.startswith("ournn.nn.parallel"):
                out.setdefault(sub.__name__, sub)
    return out


_layer_classes = layer_classes      # the older private name

# zoo model name -> builder(name, **kwargs); filled by ``ournn.models`` at import
_ZOO = {}


def register_zoo(name, builder):
    """Make zoo model ``name`` loadable from a config ``{"zoo": {"name": name, "kwargs":
    {...}}}``: ``builder(name, **kwargs)`` builds it (``ournn.models`` registers its models)."""
    _ZOO[name] = builder


def zoo_names():
    """The zoo names a config may name (deprecated aliases included)."""
    return sorted(_ZOO)


def module_config(module):
    """``{"class": name, "config": {...}}`` for a layer or Sequential, or ``{"zoo": ...}``."""
    spec = module.__dict__.get("zoo_spec")
    if spec is not None:
        return {"zoo": spec}
    name = type(module).__name__
    classes = layer_classes()
    if classes.get(name) is not type(module):
        raise CheckpointError(
            f"cannot describe the architecture of {name} (a user-defined Module): save "
            f"model.state_dict() and rebuild the model in code, or build it from ournn layers "
            f"with nn.Sequential")
    try:
        config = module.get_config()
    except NotImplementedError as e:
        raise CheckpointError(str(e)) from e
    return {"class": name, "config": config}


def module_from_config(config, max_parameters=None, held_by="the checkpoint"):
    """Build the module ``config`` describes (inverse of ``module_config``).

    Every layer reserves its parameters before allocating them (see ``reserve``): the total
    may not exceed ``ournn.io.LIMITS`` nor ``max_parameters`` (the numbers the file holds,
    ``held_by`` names it), so a tiny file declaring a huge layer is refused at once."""
    if _BUDGET.get() is None:
        token = _BUDGET.set(_Budget(max_parameters, held_by))
        try:
            return module_from_config(config, max_parameters, held_by)
        finally:
            _BUDGET.reset(token)
    if not isinstance(config, dict):
        raise CheckpointError(f"model config must be a dict, got {type(config).__name__}")
    if "zoo" in config:
        spec = config["zoo"]
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str) and
                isinstance(spec.get("kwargs", {}), dict)):
            raise CheckpointError("zoo: expected {\"name\": str, \"kwargs\": {...}}, got "
                                  f"{str(spec)[:80]}")
        builder = _ZOO.get(spec["name"])
        if builder is None:
            raise CheckpointError(f"bad zoo model {spec['name'][:40]!r}: unknown model "
                                  f"{spec['name'][:40]!r}; choose one of "
                                  f"{', '.join(zoo_names())}")
        try:
            return builder(spec["name"], **spec.get("kwargs", {}))
        except CheckpointError:
            raise
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"bad zoo model {spec['name'][:40]!r}: {e}") from None
    name = config.get("class")
    classes = layer_classes()
    if not isinstance(name, str) or name not in classes:
        raise CheckpointError(f"unknown layer type {str(name)[:40]!r} in model config")
    kwargs = config.get("config", {})
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{name}: config must be a dict, got {type(kwargs).__name__}")
    kwargs = dict(kwargs)
    if name == "Sequential":
        from collections import OrderedDict
        layers, names = kwargs.get("layers", []), kwargs.get("names")
        if not isinstance(layers, list):
            raise CheckpointError("Sequential: layers must be a list")
        if names is not None and not (isinstance(names, list) and len(names) == len(layers)
                                      and all(isinstance(n, str) and n and "." not in n
                                              for n in names)
                                      and len(set(names)) == len(names)):
            raise CheckpointError("Sequential: names must be distinct non-empty strings "
                                  "without '.', one per layer")
        reserve("Sequential", 0)
        layers = [module_from_config(c) for c in layers]
        names = names or [str(i) for i in range(len(layers))]
        return classes[name](OrderedDict(zip(names, layers)))
    if name in ("ModuleList", "ModuleDict"):
        return _container_from_config(name, classes[name], kwargs.get("modules"))
    if name in ("ParameterList", "ParameterDict"):
        return _parameters_from_config(name, classes[name], kwargs)
    budget = _BUDGET.get()
    counted = budget.layers
    try:
        layer = classes[name].from_config(kwargs)
    except (TypeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"bad arguments for {name} in model config: {e}") from None
    if budget.layers == counted:       # a layer without parameters: count it here
        reserve(name, 0)
    return layer


def _container_from_config(name, cls, modules):
    if name == "ModuleList":
        if not isinstance(modules, list):
            raise CheckpointError("ModuleList: modules must be a list")
        reserve(name, 0)
        return cls([module_from_config(c) for c in modules])
    if not (isinstance(modules, dict) and all(isinstance(k, str) and k and "." not in k
                                              for k in modules)):
        raise CheckpointError("ModuleDict: modules must be a dict of names without '.'")
    reserve(name, 0)
    return cls({k: module_from_config(c) for k, c in modules.items()})


def _parameters_from_config(name, cls, kwargs):
    Parameter = module_mod.Parameter
    shapes, dtypes = kwargs.get("shapes"), kwargs.get("dtypes")
    keys = None
    if name == "ParameterDict":
        if not (isinstance(shapes, dict) and isinstance(dtypes, dict) and
                set(shapes) == set(dtypes)):
            raise CheckpointError("ParameterDict: shapes and dtypes must be dicts with the "
                                  "same keys")
        keys = list(shapes)
        shapes, dtypes = [shapes[k] for k in keys], [dtypes[k] for k in keys]
    if not (isinstance(shapes, list) and isinstance(dtypes, list) and
            len(shapes) == len(dtypes)):
        raise CheckpointError(f"{name}: shapes and dtypes must be lists of the same length")
    total = 0
    for shape, dtype in zip(shapes, dtypes):
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                                and d >= 0 for d in shape)):
            raise CheckpointError(f"{name}: bad parameter shape {str(shape)[:40]}")
        try:
            check_dtype(name, dtype)
        except ValueError as e:
            raise CheckpointError(str(e)) from None
        total += int(np.prod(shape, dtype=object))
    reserve(name, total)
    params = [Parameter(np.zeros(tuple(s), dtype=d)) for s, d in zip(shapes, dtypes)]
    return cls(dict(zip(keys, params)) if keys is not None else params)


# Containers (Sequential, ModuleList, ModuleDict) describe their children with this; it is
# handed to module.py here because the config floor sits above it.
module_mod._describe = module_config
