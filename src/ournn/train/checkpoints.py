"""Reading a model back from a checkpoint, as ``ournn eval``, ``predict``, ``summary`` and the
studio do: ``load_model(path)`` gives the model and the checkpoint's metadata, checked;
``require_images`` refuses a model that was not trained on 28x28 images.
"""
from ..errors import CheckpointError
from ..io import load
from .options import DATASET_ALIASES, DATASETS
from .settings import _show


# What a checkpoint may say beside the model: what `ournn eval`/`predict` and the studio read.
META_KEYS = ("dataset", "classes", "input_shape", "run_config", "studio_setup")


def load_model(path):
    """The model stored in a checkpoint (a training checkpoint from ``ournn train`` or a
    model saved with ``ournn.save(model, path)``), and the checkpoint's metadata.

    The architecture's declared parameters are checked against the numbers the file holds
    (and ``ournn.io.LIMITS``) before the model is built."""
    from ..io import build_model
    obj = load(path, rebuild=False)
    meta = {}
    if isinstance(obj, dict) and "trainer" in obj:
        trainer = obj["trainer"]
        if not isinstance(trainer, dict):
            raise CheckpointError(f"{path}: field trainer: expected a table, got "
                                  f"{type(trainer).__name__}")
        config = trainer.get("model_config")
        if config is None:
            raise CheckpointError(f"{path}: the checkpoint has weights but no architecture "
                                  "(a user-defined model); rebuild it in code and use "
                                  "load_state_dict")
        model = _build(build_model, config, trainer.get("model"), path, "trainer.model")
        meta = {k: obj.get(k) for k in META_KEYS}
    elif isinstance(obj, dict) and "config" in obj and "state_dict" in obj:
        model = _build(build_model, obj["config"], obj["state_dict"], path, "tree")
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict) and \
            "config" in obj["model"]:
        model = _build(build_model, obj["model"]["config"], obj["model"].get("state_dict"),
                       path, "model")
        meta = {k: obj.get(k) for k in META_KEYS}
    else:
        raise CheckpointError(f"{path}: holds no model (a state dict alone has no "
                              "architecture; save the model itself: ournn.save(model, path))")
    _check_meta(meta, path)
    model.eval()
    return model, meta


def _build(build_model, config, state, path, where):
    try:
        return build_model(config, state, where)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _check_meta(meta, path):
    """The metadata ``eval``/``predict`` read must have the types they expect."""
    checks = {"dataset": lambda v: isinstance(v, str),
              "classes": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
              "input_shape": lambda v: isinstance(v, list) and 0 < len(v) <= 4 and all(
                  isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v),
              "run_config": lambda v: isinstance(v, dict),
              "studio_setup": lambda v: isinstance(v, dict)}
    for key, ok in checks.items():
        if meta.get(key) is not None and not ok(meta[key]):
            raise CheckpointError(f"{path}: field {key}: malformed ({_show(meta[key])})")


IMAGE_INPUT = [1, 28, 28]


def expected_data(meta):
    """``(dataset, input_shape)`` a checkpoint's model was trained on: an MNIST-like image
    set ``ournn eval``/``predict`` can feed, or (for studio models of toy or CSV data) the
    name of what it needs. ``dataset`` is None when the checkpoint does not say."""
    setup = meta.get("studio_setup") or {}
    name = meta.get("dataset") or (setup.get("dataset") if isinstance(
        setup.get("dataset"), str) else None)
    return name, meta.get("input_shape")


def require_images(meta, command, path):
    """Refuse, naming what the model expects, a checkpoint trained on anything but 28x28
    grayscale images (a studio model of a toy set or a CSV file)."""
    name, shape = expected_data(meta)
    if (shape is not None and list(shape) != IMAGE_INPUT) or \
            (name is not None and name not in DATASETS and name not in DATASET_ALIASES):
        what = f"inputs of shape {shape}" if shape is not None else "other inputs"
        raise ValueError(f"{path}: this model was trained on {name or 'unknown data'!r} "
                         f"({what}), not on 28x28 images; `ournn {command}` feeds MNIST-like "
                         f"images. Open it in `ournn studio` with that data, or call it from "
                         f"Python on arrays of shape (N, {', '.join(map(str, shape or []))})")
