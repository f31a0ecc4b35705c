"""Architectures as data: a model built from ournn layers <-> a JSON-able dict.

``module_config(model)`` describes it; ``module_from_config(config)`` builds it again. This is
what lets ``ournn.load`` (and ``ournn predict``/``eval``) rebuild a saved model without the
user's code. Zoo models are described by their zoo name and arguments.
"""
from ..errors import CheckpointError


def _layer_classes():
    from .. import nn
    return {name: getattr(nn, name) for name in nn.__all__
            if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)}


def module_config(module):
    """``{"class": name, "config": {...}}`` for a layer or Sequential, or ``{"zoo": ...}``."""
    spec = module.__dict__.get("zoo_spec")
    if spec is not None:
        return {"zoo": spec}
    name = type(module).__name__
    classes = _layer_classes()
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


def module_from_config(config):
    """Build the module ``config`` describes (inverse of ``module_config``)."""
    if not isinstance(config, dict):
        raise CheckpointError(f"model config must be a dict, got {type(config).__name__}")
    if "zoo" in config:
        from ..models import get_model
        spec = config["zoo"]
        return get_model(spec["name"], **spec.get("kwargs", {}))
    name = config.get("class")
    classes = _layer_classes()
    if name not in classes:
        raise CheckpointError(f"unknown layer type {name!r} in model config")
    kwargs = dict(config.get("config", {}))
    if name == "Sequential":
        from collections import OrderedDict
        layers = [module_from_config(c) for c in kwargs.get("layers", [])]
        names = kwargs.get("names") or [str(i) for i in range(len(layers))]
        return classes[name](OrderedDict(zip(names, layers)))
    try:
        return classes[name](**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in kwargs.items()})
    except TypeError as e:
        raise CheckpointError(f"bad arguments for {name} in model config: {e}") from e
