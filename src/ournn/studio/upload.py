"""What an uploaded checkpoint declares, checked before a byte of it is unpacked or a layer
built.

A checkpoint is a zip (``.npz``) archive: a JSON document (``__meta__.json``) with the model's
architecture, and ``.npy`` arrays. A hostile file can be tiny and still declare a huge model
(``Linear(784, 400000)`` in 403 bytes) or a huge array, or be a zip bomb (2 MB that unpack to
2 GB). ``inspect_checkpoint`` reads only the zip's directory, the JSON and the arrays' headers,
and refuses (``UploadError``: a status and one line naming the limit) when:

- the bytes are not a zip archive, or it has too many members, encrypted or oddly compressed
  ones, or declares more unpacked bytes than the studio reads;
- an array's header is not a plain NumPy header, holds Python objects, or declares more (or
  fewer) bytes than its member holds;
- the architecture is not a Sequential of the studio's layers, a layer argument is not a plain
  bounded number, or the layers add up to more parameters than the studio's limit.
"""
import io
import json
import math
import zipfile

import numpy as np

META = "__meta__.json"
MAX_MEMBERS = 4096
MAX_META_BYTES = 8 * 1024 * 1024
MAX_META_DEPTH = 64
MAX_INT = 2 ** 31 - 1
ZOO_KWARGS = {"num_classes": (1, 1000)}
# the character model's arguments, bounded so that it stays under the studio's parameter limit
# (at most about 17 million at these bounds)
ZOO_KWARGS_BY_NAME = {"charlstm": {"vocab_size": (1, 256), "embed_dim": (1, 256),
                                   "hidden_size": (1, 1024), "num_layers": (1, 2)}}


class UploadError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _mb(n):
    return f"{n / 2 ** 20:,.0f} MB" if n >= 2 ** 20 else f"{n:,} bytes"


def inspect_checkpoint(raw, max_params, max_unpacked, zoo_names=()):
    """Check the bytes of an uploaded checkpoint; returns the number of parameters its model
    declares. Raises ``UploadError`` on anything the studio will not build."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError,
            NotImplementedError):
        raise UploadError(400, "the file is not an ournn checkpoint: a .ckpt file is a zip "
                               "(.npz) archive, and this is not one") from None
    if len(infos) > MAX_MEMBERS:
        raise UploadError(400, f"the archive has {len(infos):,} members; an ournn checkpoint "
                               f"has at most {MAX_MEMBERS:,}")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UploadError(400, f"the archive member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadError(400, f"the archive member {info.filename!r} uses a compression "
                                   "ournn does not write")
        total += info.file_size
    if total > max_unpacked:
        raise UploadError(413, f"the archive declares {_mb(total)} once unpacked; the studio "
                               f"reads checkpoints of at most {_mb(max_unpacked)}")
    names = {info.filename: info for info in infos}
    if META not in names:
        raise UploadError(400, f"the file is not an ournn checkpoint (no {META} entry)")
    if names[META].file_size > MAX_META_BYTES:
        raise UploadError(413, f"the checkpoint's {META} declares {_mb(names[META].file_size)}; "
                               f"at most {_mb(MAX_META_BYTES)}")
    try:
        for info in infos:
            if info.filename.endswith(".npy"):
                _check_array(archive, info)
        meta_text = archive.read(META).decode("utf-8")
    except UploadError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, UnicodeDecodeError,
            NotImplementedError) as e:
        raise UploadError(400, f"the checkpoint is corrupt ({_plain(e)})") from None
    meta = parse_json(meta_text, MAX_META_DEPTH, what=f"the checkpoint's {META}")
    if not isinstance(meta, dict) or "tree" not in meta:
        raise UploadError(400, f"the checkpoint's {META} is not an ournn description "
                               "(no 'tree')")
    params = 0
    for where, config in _model_configs(meta["tree"]):
        params += _config_params(config, where, zoo_names)
        if params > max_params:
            raise UploadError(413, f"the checkpoint declares a model of {params:,} parameters "
                                   f"(at {where}); the studio allows {max_params:,}")
    return params


def _plain(error):
    text = str(error) or type(error).__name__
    if "pickle" in text.lower():
        return "it holds something other than plain arrays"
    return text[:200]


def _check_array(archive, info):
    """The ``.npy`` member's header must describe exactly the bytes the member holds."""
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except (ValueError, SyntaxError, TypeError, EOFError, OSError, zipfile.BadZipFile) as e:
            raise UploadError(400, f"the checkpoint's array {info.filename!r} has no valid "
                                   f"header ({_plain(e)})") from None
        offset = f.tell() if hasattr(f, "tell") else None
    if dtype.hasobject:
        raise UploadError(400, f"the checkpoint's array {info.filename!r} holds Python objects; "
                               "ournn checkpoints hold plain numbers only")
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * dtype.itemsize
    if offset is not None and offset + nbytes != info.file_size:
        raise UploadError(400, f"the checkpoint's array {info.filename!r} declares shape "
                               f"{tuple(int(d) for d in shape)} of {dtype} ({_mb(nbytes)}) but "
                               f"holds {_mb(max(0, info.file_size - offset))}: the file is "
                               "corrupt or forged")


def parse_json(text, max_depth, what="the body", finite=True):
    """JSON nested at most ``max_depth`` deep; UploadError (400) otherwise. With ``finite``,
    NaN, Infinity and numbers beyond float64 are refused here; without, they are read as
    float NaN or infinity, for the checks of each field to refuse naming the field."""
    def constant(name):
        if finite:
            raise ValueError(f"{name} is not a JSON number")
        return float(name)

    def number(token):
        value = float(token)
        if finite and not math.isfinite(value):
            raise ValueError(f"{token[:40]} is too large a number")
        return value
    try:
        value = json.loads(text, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise UploadError(400, f"{what} is nested too deeply (at most {max_depth} levels)") \
            from None
    except ValueError as e:      # JSONDecodeError, a NaN, an int of thousands of digits
        message = str(e)
        if "digits" in message:
            message = "a number has too many digits"
        raise UploadError(400, f"{what} is not valid JSON: {message[:200]}") from None
    depth = json_depth(value)
    if depth > max_depth:
        raise UploadError(400, f"{what} is nested {depth} levels deep; at most {max_depth}")
    return value


def json_depth(value):
    """How deeply lists and dicts nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return deepest


def _model_configs(tree):
    """(where, config) for every model architecture in a checkpoint's tree."""
    stack = [(tree, "tree")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in ("__module__", "model_config") and value is not None:
                    yield f"{where}.{key}", value
                else:
                    stack.append((value, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


# parameters (and buffers) each layer type holds, from its config; every other key must be a
# bounded plain value
def _int(cfg, key, where, lo=0, hi=MAX_INT, default=None):
    value = cfg.get(key, default)
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        value = max(value)
    if type(value) is not int or not lo <= value <= hi:
        raise UploadError(400, f"the checkpoint's model is malformed: {where}.{key} must be a "
                               f"whole number from {lo} to {hi:,}, got {_short(value)}")
    return value


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


_PLAIN_LAYERS = ("Flatten", "ReLU", "Sigmoid", "Tanh", "GELU", "Dropout", "LeakyReLU",
                 "MaxPool2d", "AvgPool2d")


def _config_params(config, where, zoo_names, depth=0):
    if not isinstance(config, dict):
        raise UploadError(400, f"the checkpoint's model is malformed: {where} must be an object")
    if "zoo" in config:
        spec = config["zoo"]
        if not isinstance(spec, dict) or spec.get("name") not in zoo_names:
            raise UploadError(400, f"the checkpoint's model ({where}) is a zoo model the studio "
                                   f"does not show; it shows {', '.join(zoo_names)}")
        kwargs = spec.get("kwargs") or {}
        allowed = ZOO_KWARGS_BY_NAME.get(spec["name"], ZOO_KWARGS)
        if not isinstance(kwargs, dict) or set(kwargs) - set(allowed):
            raise UploadError(400, f"the checkpoint's model is malformed: {where}.zoo.kwargs "
                                   f"may only hold {', '.join(allowed)}")
        for key, (lo, hi) in allowed.items():
            if key in kwargs:
                _int(kwargs, key, f"{where}.zoo.kwargs", lo, hi)
        return 0          # a zoo architecture: its size is fixed by the zoo
    kind = config.get("class")
    cfg = config.get("config", {})
    if not isinstance(kind, str) or not isinstance(cfg, dict):
        raise UploadError(400, f"the checkpoint's model is malformed: {where} needs a 'class' "
                               "name and a 'config' object")
    if kind == "Sequential":
        layers = cfg.get("layers", [])
        if not isinstance(layers, list) or depth > 0:
            raise UploadError(400, f"the checkpoint's model is malformed: {where}.config.layers "
                                   "must be a list of layers")
        from .spec import LIMITS
        if len(layers) > LIMITS["max_layers"]:
            raise UploadError(413, f"the checkpoint's model has {len(layers)} layers; the studio "
                                   f"shows at most {LIMITS['max_layers']}")
        names = cfg.get("names")
        if names is not None and (not isinstance(names, list) or len(names) != len(layers) or
                                  not all(isinstance(n, str) and len(n) <= 64 for n in names)):
            raise UploadError(400, f"the checkpoint's model is malformed: {where}.config.names "
                                   "must list one short name per layer")
        return sum(_config_params(c, f"{where}.config.layers[{i}]", zoo_names, depth + 1)
                   for i, c in enumerate(layers))
    for key, value in cfg.items():
        plain = (value is None or type(value) in (bool, int, float, str) or
                 (isinstance(value, list) and len(value) <= 4 and
                  all(type(v) is int for v in value)))
        if not plain or (type(value) is int and abs(value) > MAX_INT) or \
                (type(value) is float and not math.isfinite(value)) or \
                (type(value) is str and len(value) > 64):
            raise UploadError(400, f"the checkpoint's model is malformed: {where}.config.{key} "
                                   f"is {_short(value)}")
    at = f"{where}.config"
    if kind == "Linear":
        n_in, n_out = _int(cfg, "in_features", at, 1), _int(cfg, "out_features", at, 1)
        return n_in * n_out + (n_out if cfg.get("bias", True) else 0)
    if kind == "Conv2d":
        c_in, c_out = _int(cfg, "in_channels", at, 1), _int(cfg, "out_channels", at, 1)
        k = _int(cfg, "kernel_size", at, 1, 64)
        _int(cfg, "stride", at, 1, 64, 1)
        _int(cfg, "padding", at, 0, 64, 0)
        return c_in * c_out * k * k + (c_out if cfg.get("bias", True) else 0)
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return 4 * _int(cfg, "num_features", at, 1)      # weight, bias, running mean and var
    if kind in ("MaxPool2d", "AvgPool2d"):
        _int(cfg, "kernel_size", at, 1, 64)
        if cfg.get("stride") is not None:
            _int(cfg, "stride", at, 1, 64)
        return 0
    if kind in _PLAIN_LAYERS:
        return 0
    raise UploadError(400, f"the checkpoint's model has a {_short(kind)} layer ({where}), "
                           "which the studio does not show")
