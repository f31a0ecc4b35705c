"""Saving and loading: ``ournn.save(obj, path)`` / ``ournn.load(path)``.

The format is a NumPy ``.npz`` archive read with ``allow_pickle=False`` (loading runs no code)
holding every array, plus one JSON document (entry ``__meta__.json``) with the structure:
nested dicts, lists, numbers and strings, where arrays appear as ``{"__array__": key}``.
What can be saved: state dicts, optimizer and scheduler state, whole models built from
ournn layers (their architecture goes in the JSON, so ``ournn.load`` rebuilds them without
the user's code), and any nesting of these (a training checkpoint).

Writes are atomic: the archive is written to a temporary file beside the target and renamed
over it, so a crash or Ctrl-C never leaves a half-written file. The atomic writer and its
helpers live on the ground floor, in :mod:`ournn.files`; they are importable from here too.

A path ending in ``.safetensors`` is written and read in the safetensors format instead
(:mod:`ournn.io.safetensors`: a flat dict of tensors, such as a state dict, readable by
PyTorch and the Hugging Face tools).
"""
import io as _io
import json
import os
import zipfile

import numpy as np

from ..errors import CheckpointError
# The ground-floor file helpers, importable from here as before (``ournn.io.atomic_write_bytes``).
from ..files import (LIMITS, atomic_write_bytes, atomic_write_text, check_save_path,  # noqa: F401
                     read_toml, remove_partial_writes, remove_stale_partial_writes,
                     temporary_file)
from ..tensor import Tensor

FORMAT = "ournn-checkpoint"
VERSION = 1
_META = "__meta__.json"


# ---------------------------------------------------------------- encoding
def _encode(obj, arrays):
    """Turn ``obj`` into JSON-able data, moving arrays into ``arrays``."""
    from ..nn.module import Module
    if isinstance(obj, Tensor):
        obj = obj._data
    if not isinstance(obj, np.ndarray) and hasattr(obj, "__array_namespace__"):
        from ..device import to_host
        obj = to_host(obj)                 # saved from a device: one copy to the host
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise CheckpointError("cannot save an array of Python objects (dtype=object)")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, Module):
        from ..nn.config import module_config
        return {"__module__": module_config(obj), "state_dict": _encode(obj.state_dict(), arrays)}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"cannot save a dict with key {k!r} of type "
                                      f"{type(k).__name__} (str or int keys only)")
        out = {str(k): _encode(v, arrays) for k, v in obj.items()}
        int_keys = [str(k) for k in obj if isinstance(k, int)]
        if int_keys:
            out["__int_keys__"] = int_keys
        return out
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays) for v in obj]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    raise CheckpointError(f"cannot save an object of type {type(obj).__name__}: save its "
                          "state_dict() instead")


def _decode(data, arrays, rebuild, where="tree"):
    """Rebuild what ``_encode`` wrote. Anything malformed raises ``CheckpointError`` naming
    the field (``where``, a path like ``tree.trainer.model``)."""
    if isinstance(data, list):
        return [_decode(v, arrays, rebuild, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict):
        return data
    if "__array__" in data:
        key = data["__array__"]
        if not isinstance(key, str) or key not in arrays:
            raise CheckpointError(f"field {where}: refers to array {key!r}, which the file "
                                  "does not hold")
        return arrays[key]
    if "__tuple__" in data:
        items = data["__tuple__"]
        if not isinstance(items, list):
            raise CheckpointError(f"field {where}.__tuple__: expected a list, got "
                                  f"{type(items).__name__}")
        return tuple(_decode(v, arrays, rebuild, f"{where}[{i}]") for i, v in enumerate(items))
    if "__module__" in data:
        if not isinstance(data.get("state_dict"), dict):
            raise CheckpointError(f"field {where}.state_dict: a saved model needs a dict of "
                                  "weights")
        state = _decode(data["state_dict"], arrays, rebuild, f"{where}.state_dict")
        if not rebuild:
            return {"config": data["__module__"], "state_dict": state}
        return build_model(data["__module__"], state, f"{where}.__module__")
    int_keys = data.get("__int_keys__", [])
    if not (isinstance(int_keys, list) and all(isinstance(k, str) and k.lstrip("-").isdigit()
                                               and len(k) < 30 for k in int_keys)):
        raise CheckpointError(f"field {where}.__int_keys__: expected a list of integer "
                              f"strings, got {str(int_keys)[:80]}")
    int_keys = set(int_keys)
    return {(int(k) if k in int_keys else k): _decode(v, arrays, rebuild, f"{where}.{k}")
            for k, v in data.items() if k != "__int_keys__"}


def _count_elements(obj):
    if isinstance(obj, Tensor):
        return obj.numel()
    if isinstance(obj, np.ndarray):
        return obj.size
    if isinstance(obj, dict):
        return sum(_count_elements(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_count_elements(v) for v in obj)
    return 0


def build_model(config, state, where="model"):
    """Build the model ``config`` describes and load ``state`` (its state dict) into it,
    checking first that the parameters the config declares fit in the numbers ``state``
    holds and under ``LIMITS['parameters']``: a small file cannot make us allocate a huge
    model. Errors are ``CheckpointError`` naming ``where``."""
    from ..nn.config import module_from_config
    if not isinstance(state, dict):
        raise CheckpointError(f"field {where}: the model's weights are "
                              f"{type(state).__name__}, not a state dict")
    held = _count_elements(state)
    try:
        model = module_from_config(config, max_parameters=held, held_by="the file")
    except CheckpointError as e:
        raise CheckpointError(f"field {where}: {e}") from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"field {where}: bad model config ({e})") from None
    try:
        model.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"field {where}: {e}") from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"field {where}: weights do not fit the model ({e})") from None
    return model


# ---------------------------------------------------------------- reading archives safely
# ``LIMITS`` (in ournn.files, the same dict here): what a checkpoint may make ``load``
# allocate, checked from the archive's directory and the arrays' headers before any array
# is read.
_ALLOWED_KINDS = "biufcUS"           # bool, ints, floats, complex, strings: never objects


def _limit(name):
    return f"ournn.io.LIMITS[{name!r}] = {LIMITS[name]:,}"


def _size(n):
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000


def _what_file_is(path, head):
    """A few words on what a file that is not a zip archive is (for the error message)."""
    if not head:
        return "an empty file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    if head[:1] == b"\x80":
        return "a Python pickle (which ournn never loads)"
    if head.startswith((b"\x1f\x8b",)):
        return "a gzip file"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "an image"
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "a binary file of another format"


def _read_member_array(zf, info, path, budget):
    """One .npy member as an array, after checking its header (dtype, shape) against the
    member's size, and the size against what is left of ``budget`` (a one-item list)."""
    name = info.filename
    with zf.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, TypeError) as e:
            raise CheckpointError(f"{path}: member {name}: not a valid .npy array header "
                                  f"({str(e)[:120]})") from None
        if dtype.hasobject or dtype.kind not in _ALLOWED_KINDS or dtype.fields:
            raise CheckpointError(f"{path}: member {name} declares an array of dtype "
                                  f"{dtype}; ournn checkpoints hold only numbers and strings "
                                  "(arrays of Python objects are never loaded)")
        count = 1
        for d in shape:
            count *= int(d)
        nbytes = count * dtype.itemsize
        data_size = info.file_size - f.tell()
        if nbytes != data_size:
            raise CheckpointError(f"{path}: member {name} declares shape {tuple(shape)} of "
                                  f"{dtype} ({_size(nbytes)}) but holds {_size(max(0, data_size))}")
        if nbytes > budget[0]:
            raise CheckpointError(f"{path}: the arrays exceed {_limit('archive_bytes')} bytes")
        budget[0] -= nbytes
        raw = bytearray(nbytes)
        got = f.readinto(raw) if nbytes else 0
        if got != nbytes:
            raise CheckpointError(f"{path}: member {name} is truncated")
    order = "F" if fortran and len(shape) > 1 else "C"
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order)


def _read_archive(path):
    """(meta, arrays) of a checkpoint file, every declared size checked before reading."""
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: not a regular file (a device, pipe or socket), not a "
                              "checkpoint")
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(b"PK"):
        raise CheckpointError(f"{path}: not an ournn checkpoint: it is "
                              f"{_what_file_is(path, head)}, not a zip (.npz) archive")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > LIMITS["members"]:
            raise CheckpointError(f"{path}: {len(infos):,} entries, over {_limit('members')}")
        names = {i.filename for i in infos}
        if _META not in names:
            raise CheckpointError(f"{path}: not an ournn checkpoint (no {_META} entry)")
        if sum(i.compress_size for i in infos) > file_size:
            raise CheckpointError(f"{path}: corrupt archive (its entries claim more bytes than "
                                  "the file has)")
        total = 0
        for info in infos:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise CheckpointError(f"{path}: member {info.filename} uses compression "
                                      f"method {info.compress_type}; only stored or deflated "
                                      "entries are read")
            if info.flag_bits & 0x1:
                raise CheckpointError(f"{path}: member {info.filename} is encrypted")
            if info.file_size > max(2**20, LIMITS["compression_ratio"] * info.compress_size):
                raise CheckpointError(
                    f"{path}: member {info.filename} would expand from "
                    f"{_size(info.compress_size)} to {_size(info.file_size)}, over "
                    f"{_limit('compression_ratio')} (uncompressed : compressed)")
            if info.filename != _META and not info.filename.endswith(".npy"):
                raise CheckpointError(f"{path}: unexpected member {info.filename!r} (an ournn "
                                      "checkpoint holds .npy arrays and one JSON document)")
            total += info.file_size
        if total > LIMITS["archive_bytes"]:
            raise CheckpointError(f"{path}: the archive expands to {_size(total)}, over "
                                  f"{_limit('archive_bytes')} bytes")
        meta_info = zf.getinfo(_META)
        if meta_info.file_size > LIMITS["meta_bytes"]:
            raise CheckpointError(f"{path}: {_META} is {_size(meta_info.file_size)}, over "
                                  f"{_limit('meta_bytes')} bytes")
        with zf.open(meta_info) as f:
            raw_meta = f.read(LIMITS["meta_bytes"] + 1)
        try:
            meta = json.loads(raw_meta.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CheckpointError(f"{path}: field {_META}: not valid JSON ({str(e)[:120]})") \
                from None
        except RecursionError:
            raise CheckpointError(f"{path}: field {_META}: nested too deeply") from None
        budget = [LIMITS["archive_bytes"]]
        arrays = {info.filename[:-4]: _read_member_array(zf, info, path, budget)
                  for info in infos if info.filename != _META}
    return meta, arrays


# ---------------------------------------------------------------- public API
def save(obj, f, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization=True):
    """Save ``obj`` (a state dict, a model built from ournn layers, an optimizer's state, or a
    dict or list of these) to ``f``: a path, or a binary file object opened for writing, as
    ``torch.save``.

    The file is a ``.npz`` archive of arrays plus one JSON document; nothing in it is pickled
    (``pickle_module`` is refused). A path is written atomically: to a temporary file beside
    it, then renamed.

    A name ending in ``.safetensors`` writes the safetensors format: ``obj`` must then be a
    flat dict of tensors (``model.state_dict()``), loadable by ``safetensors.torch``."""
    if pickle_module is not None:
        raise TypeError("ournn.save never pickles: pickle_module is not supported (leave it "
                        "out; tensors, arrays, numbers, strings, lists and dicts are saved "
                        "without pickle)")
    if _is_safetensors_name(f):
        from .safetensors import save_file
        save_file(obj, f, metadata={"format": "pt"})
        return
    arrays = {}
    tree = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asarray(arr), allow_pickle=False)
        zf.writestr(_META, meta)
    if hasattr(f, "write"):
        f.write(buffer.getvalue())
        return
    atomic_write_bytes(f, buffer.getvalue())


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         rebuild=True, tensors=True):
    """Load what ``save`` wrote, from a path or a binary file object, as ``torch.load``.

    Arrays come back as tensors (``tensors=False``: NumPy arrays); models built from ournn
    layers are rebuilt from their architecture (``rebuild=False`` gives
    ``{"config", "state_dict"}`` instead). PyTorch's ``map_location`` (a CPU device, a dict
    or a function) and ``weights_only`` are accepted: a file is only ever read as arrays and
    JSON, never unpickled, whatever they say. ``map_location="cuda"`` (a device) puts the
    tensors there; a dict or function map reads onto the CPU.

    Before anything large is allocated, the archive's entries (uncompressed sizes, array
    shapes and dtypes) are checked against the file's size and ``LIMITS``, and a model's
    declared parameters against the numbers the file holds. Raises ``CheckpointError``
    naming the file (and the field or limit) when it is missing, corrupt, not ours or too
    large.

    A safetensors file (a name ending in ``.safetensors``, or a file that starts as one)
    gives a dict of tensors, its header checked the same way (``ournn.io.safetensors``)."""
    if pickle_module is not None:
        raise TypeError("ournn.load never unpickles: pickle_module is not supported")
    target = None
    if isinstance(map_location, (str, int)) or type(map_location).__name__ == "device":
        from ..device import CPU, check_device
        target = check_device(map_location)
        target = None if target is CPU or not tensors else target
    if target is not None:
        return _onto(load(f, None, rebuild=rebuild, tensors=True), target)
    if hasattr(f, "read"):
        return _load_file_object(f, rebuild, tensors)
    path = os.fspath(f)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if _is_safetensors_name(path) or _sniff_safetensors(path):
        from .safetensors import load_file
        return load_file(path, tensors=tensors)
    out = _load_path(path, rebuild)
    return _as_tensors(out) if tensors else out


def _onto(obj, dev):
    """Every tensor in what ``load`` read moved to device ``dev`` (a model: ``.to(dev)``)."""
    from ..nn.module import Module
    if isinstance(obj, Tensor):
        return obj.to(dev)
    if isinstance(obj, Module):
        return obj.to(dev)
    if isinstance(obj, dict):
        return type(obj)((k, _onto(v, dev)) for k, v in obj.items()) if not hasattr(
            obj, "default_factory") else {k: _onto(v, dev) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_onto(v, dev) for v in obj)
    return obj


def _is_safetensors_name(f):
    """Whether ``f`` is a path (or a file object's name) ending in ``.safetensors``."""
    name = f if isinstance(f, (str, bytes, os.PathLike)) else getattr(f, "name", None)
    if not isinstance(name, (str, bytes, os.PathLike)):
        return False
    name = os.fsdecode(os.fspath(name))
    return name.lower().endswith(".safetensors")


def _sniff_safetensors(path):
    """Whether the file at ``path`` starts as a safetensors file does (another extension).
    Only a regular file is opened (opening a pipe would wait for a writer)."""
    from .safetensors import looks_like_safetensors
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as fh:
            return looks_like_safetensors(fh.read(10))
    except OSError:
        return False


def _load_file_object(f, rebuild, tensors):
    """Load from a file object: its bytes are checked as a file's would be (a temporary
    copy holds them, so the archive reader sees a regular file). A safetensors file (by its
    name or its first bytes) is read as one."""
    import tempfile
    name = getattr(f, "name", None) or "<file object>"
    data = f.read(LIMITS["archive_bytes"] + 1)
    if len(data) > LIMITS["archive_bytes"]:
        raise CheckpointError(f"{name}: more than {_limit('archive_bytes')} bytes")
    from .safetensors import load_file, looks_like_safetensors
    if _is_safetensors_name(f) or looks_like_safetensors(data[:10]):
        stream = _io.BytesIO(data)
        stream.name = str(name)
        return load_file(stream, tensors=tensors)
    with tempfile.TemporaryDirectory() as folder:
        tmp = os.path.join(folder, "checkpoint.npz")
        with open(tmp, "wb") as out:
            out.write(data)
        try:
            result = _load_path(tmp, rebuild)
        except CheckpointError as e:
            raise CheckpointError(str(e).replace(tmp, str(name))) from None
    return _as_tensors(result) if tensors else result


def _as_tensors(obj):
    """Arrays (in dicts, lists and tuples) as tensors on the same memory."""
    if isinstance(obj, np.ndarray):
        return Tensor._make(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _as_tensors(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_as_tensors(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_as_tensors(v) for v in obj)
    return obj


def _load_path(path, rebuild):
    try:
        meta, arrays = _read_archive(path)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, KeyError, EOFError,
            NotImplementedError, RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint "
                              f"({type(e).__name__}: {str(e)[:160]})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: field {_META}: expected a JSON object, got "
                              f"{type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an ournn checkpoint (field format: "
                              f"{str(meta.get('format'))[:40]!r})")
    version = meta.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CheckpointError(f"{path}: field version: expected a non-negative integer, got "
                              f"{str(version)[:40]!r}")
    if version > VERSION:
        raise CheckpointError(f"{path}: written by a newer ournn (format version "
                              f"{version}); upgrade ournn to read it")
    if "tree" not in meta:
        raise CheckpointError(f"{path}: field tree: missing")
    try:
        return _decode(meta["tree"], arrays, rebuild)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except RecursionError:
        raise CheckpointError(f"{path}: field tree: nested too deeply") from None
