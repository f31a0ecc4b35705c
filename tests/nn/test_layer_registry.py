"""One description of an architecture: every layer of ``ournn.nn`` describes itself with
``get_config`` and is rebuilt with ``from_config``; the checkpoint format, the zoo and the
studio's layer editor all use that description. A layer that misses a step (not exported
from ``ournn.nn``, no config, a config its constructor does not take back) fails here."""
import inspect

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.nn import config as C

# sample values of required constructor arguments; a new layer with another required
# argument needs one here (the test says which)
SAMPLES = {"in_features": 3, "out_features": 2, "in_channels": 2, "out_channels": 4,
           "kernel_size": 2, "num_features": 2, "normalized_shape": (4,), "num_groups": 1,
           "num_channels": 2, "output_size": 2, "dim": 1, "unflattened_size": (2, 2),
           "threshold": 0.1, "value": 0.0, "embed_dim": 4, "num_heads": 2, "d_model": 4,
           "nhead": 2, "num_layers": 2, "input_size": 3, "hidden_size": 4,
           "num_embeddings": 5, "embedding_dim": 2,
           "encoder_layer": nn.TransformerEncoderLayer(4, 2, dim_feedforward=8),
           "decoder_layer": nn.TransformerDecoderLayer(4, 2, dim_feedforward=8)}
# layers whose arguments depend on each other
ARGUMENTS = {"Upsample": {"scale_factor": 2}, "UpsamplingNearest2d": {"scale_factor": 2},
             "UpsamplingBilinear2d": {"scale_factor": 2}}
CONTAINERS = ("Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
              "ParameterDict")


def _public_layer_classes():
    return {name: cls for name, cls in C.layer_classes().items() if name not in CONTAINERS}


def registry_problems(cls):
    """What keeps layer class ``cls`` from being a complete layer: the steps a new layer
    needs, each as a sentence (empty when none is missing)."""
    problems = []
    name = cls.__name__
    if getattr(nn, name, None) is not cls or name not in nn.__all__:
        problems.append(f"{name} is not exported by ournn.nn (nn.__all__)")
    if C.layer_classes().get(name) is not cls:
        problems.append(f"{name} is not found by ournn.nn.config.layer_classes()")
    if cls.config_keys is None and cls.get_config is nn.Module.get_config:
        problems.append(f"{name} has neither config_keys nor its own get_config")
        return problems
    signature = inspect.signature(cls.__init__).parameters
    missing = [p for p, v in signature.items() if p != "self" and v.default is v.empty
               and v.kind is v.POSITIONAL_OR_KEYWORD and p not in SAMPLES]
    if missing:
        problems.append(f"{name}: add a sample value of {missing} to SAMPLES")
        return problems
    args = {p: SAMPLES[p] for p, v in signature.items() if p != "self" and
            v.default is v.empty and v.kind is v.POSITIONAL_OR_KEYWORD}
    layer = cls(**args, **ARGUMENTS.get(name, {}))
    try:
        config = C.module_config(layer)
    except Exception as e:  # noqa: BLE001 - the problem is the answer
        return problems + [f"{name}: get_config fails: {e}"]
    unknown = set(config["config"]) - set(signature)
    if unknown and not any(v.kind is v.VAR_KEYWORD for v in signature.values()):
        problems.append(f"{name}: get_config gives {sorted(unknown)}, which the constructor "
                        "does not take")
        return problems
    try:
        again = C.module_from_config(config)
    except Exception as e:  # noqa: BLE001
        return problems + [f"{name}: from_config fails on its own config: {e}"]
    if type(again) is not cls or C.module_config(again) != config:
        problems.append(f"{name}: from_config(get_config()) is not the same layer")
    if sorted(again.state_dict()) != sorted(layer.state_dict()):
        problems.append(f"{name}: the rebuilt layer has other parameters")
    return problems


@pytest.mark.parametrize("name", sorted(_public_layer_classes()))
def test_every_layer_is_complete(name):
    assert registry_problems(_public_layer_classes()[name]) == []


def test_the_registry_is_every_public_layer_of_ournn_nn():
    classes = C.layer_classes()
    exported = {n for n in nn.__all__ if isinstance(getattr(nn, n), type) and
                issubclass(getattr(nn, n), nn.Module)}
    assert set(classes) == exported
    for name, cls in classes.items():
        assert cls.__module__.startswith("ournn.nn") and cls.__name__ == name


def test_a_half_registered_layer_is_caught():
    """A layer defined in ournn.nn but not exported, without config_keys: the checks name
    both missing steps (and a user's layer outside ournn.nn is not a registry layer)."""
    ns = {"__name__": "ournn.nn.scratch", "nn": nn}
    exec("class Scaled(nn.Module):\n"
         "    def __init__(self, factor=2.0):\n"
         "        super().__init__()\n"
         "        self.factor = factor\n", ns)
    cls = ns["Scaled"]
    try:
        problems = registry_problems(cls)
        assert any("not exported" in p for p in problems)
        assert any("neither config_keys" in p for p in problems)
        # with config_keys and exported it is complete
        cls.config_keys = ("factor",)
        nn.Scaled = cls
        nn.__all__.append("Scaled")
        assert registry_problems(cls) == []
        model = nn.Sequential(nn.Linear(2, 2), cls(3.0))
        again = C.module_from_config(C.module_config(model))
        assert again[1].factor == 3.0
        # a config its constructor does not take back
        cls.config_keys = ("factor", "training")
        assert any("does not take" in p for p in registry_problems(cls))
    finally:
        nn.__all__.remove("Scaled") if "Scaled" in nn.__all__ else None
        if hasattr(nn, "Scaled"):
            del nn.Scaled
        cls.__module__ = "scratch"          # out of ournn.nn: out of the registry
    assert "Scaled" not in C.layer_classes()


def test_from_config_is_the_inverse_of_get_config():
    layer = nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), bias=False)
    again = nn.Conv2d.from_config(layer.get_config())
    assert (again.kernel_size, again.stride, again.padding) == ((3, 5), (2, 2), (1, 2))
    assert again.bias is None and again.get_config() == layer.get_config()


def test_zoo_names_resolve_through_the_registry_and_the_old_name_loads(tmp_path):
    from ournn import models
    assert set(models.list_models()) <= set(C.zoo_names())
    assert "seed_alexnet" in C.zoo_names() and "seed_alexnet" not in models.list_models()
    old = C.module_from_config({"zoo": {"name": "seed_alexnet", "kwargs": {}}})
    new = models.get_model("strided_cnn")
    assert C.module_config(old) == C.module_config(new) == \
        {"zoo": {"name": "strided_cnn", "kwargs": {}}}
    assert sum(p.numel() for p in old.parameters()) == 2_201_322
    # a checkpoint that names the old model loads
    ournn.save({"config": {"zoo": {"name": "seed_alexnet", "kwargs": {}}},
                "state_dict": new.state_dict()}, str(tmp_path / "old.ckpt"))
    from ournn.train.checkpoints import load_model
    model, _ = load_model(str(tmp_path / "old.ckpt"))
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(x), new.predict(x))
    with pytest.raises(ournn.CheckpointError, match="unknown model 'nope'"):
        C.module_from_config({"zoo": {"name": "nope", "kwargs": {}}})


def test_the_config_module_does_not_import_the_zoo():
    src = inspect.getsource(C)
    assert "from ..models" not in src and "import models" not in src


def test_the_old_model_name_is_a_deprecated_cli_alias():
    from ournn.train.settings import SETTINGS
    with pytest.warns(FutureWarning, match="strided_cnn"):
        assert SETTINGS["model"].check("seed_alexnet") == "strided_cnn"


# ---------------------------------------------------------------- the studio's editor
def test_the_studio_layer_table_comes_from_the_layers():
    from ournn.studio import spec
    for kind, params in spec.LAYERS.items():
        for cls in spec.OFFERED[kind]:
            signature = inspect.signature(cls.__init__).parameters
            for name, (p_kind, lo, hi, default) in params.items():
                assert name in signature, (kind, name)
                if signature[name].default is not signature[name].empty:
                    assert default == signature[name].default
    assert spec.LAYERS["Linear"] == {"out_features": ("int", 1, 4096, 128),
                                     "bias": ("bool", 0, 1, True)}
    assert spec.LAYERS["MaxPool2d"] == {"kernel_size": ("int", 1, 8, 2),
                                        "stride": ("int?", 1, 8, None)}
    assert spec.LAYERS["Dropout"] == {"p": ("float", 0.0, 0.99, 0.5)}
    assert spec.LAYERS["BatchNorm"] == {} and spec.LAYERS["GELU"] == {}


@pytest.mark.parametrize("zoo", ["mlp", "lenet5", "cnn", "strided_cnn", "kerascnn"])
def test_studio_layers_build_export_and_read_back(zoo):
    """A zoo model as the studio's layers, built again, has the zoo model's architecture;
    the exported code of each layer builds the same layer."""
    from ournn.models import get_model
    from ournn.studio import spec
    model = get_model(zoo)
    layers = spec.check_layers(spec.layers_of(model))
    built, rows, error = spec.build(layers, (1, 28, 28), 10)
    assert error is None
    assert [C.module_config(m) for m in built] == [C.module_config(m) for m in model]
    assert spec.layers_of(built) == layers
    shapes = [(1, 28, 28)] + [tuple(r["shape"]) for r in rows]
    for layer, shape, module in zip(layers, shapes, built):
        code = spec._layer_code(layer, shape)
        assert C.module_config(eval(code, {"nn": nn})) == C.module_config(module), code
