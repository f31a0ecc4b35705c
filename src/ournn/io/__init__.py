"""Saving and loading: ``ournn.save(obj, path)`` / ``ournn.load(path)``.

The format is a NumPy ``.npz`` archive read with ``allow_pickle=False`` (loading runs no code)
holding every array, plus one JSON document (entry ``__meta__.json``) with the structure:
nested dicts, lists, numbers and strings, where arrays appear as ``{"__array__": key}``.
What can be saved: state dicts, optimizer and scheduler state, whole models built from
ournn layers (their architecture goes in the JSON, so ``ournn.load`` rebuilds them without
the user's code), and any nesting of these (a training checkpoint).

Writes are atomic: the archive is written to a temporary file beside the target and renamed
over it, so a crash or Ctrl-C never leaves a half-written file.
"""
import io as _io
import json
import os
import tempfile
import zipfile

import numpy as np

from ..errors import CheckpointError
from ..tensor import Tensor

FORMAT = "ournn-checkpoint"
VERSION = 1
_META = "__meta__.json"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Temporary files of atomic writes: ``.tmp-XXXXXXXX.part`` beside the file being written.
_TMP_PREFIX, _TMP_SUFFIX = ".tmp-", ".part"


def temporary_file(folder):
    """``(fd, path)`` of a new temporary file in ``folder``, named as atomic writes name
    theirs (so ``remove_partial_writes`` cleans it up if a killed process leaves it)."""
    return tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)


def remove_partial_writes(folder):
    """Delete the temporary files that killed processes left under ``folder`` (an atomic
    write renames its file only when complete, so these are never a finished file)."""
    for root, _, files in os.walk(folder):
        for name in files:
            if name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX):
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = temporary_file(folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes it owner-only; use normal rights
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def read_toml(path):
    """A TOML file as a dict (``tomllib``; ``tomli`` on Python 3.10). Invalid TOML raises a
    ValueError naming the file."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError as e:
            raise RuntimeError("reading TOML on Python 3.10 needs: pip install tomli") from e
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from None


# ---------------------------------------------------------------- encoding
def _encode(obj, arrays):
    """Turn ``obj`` into JSON-able data, moving arrays into ``arrays``."""
    from ..nn.module import Module
    if isinstance(obj, Tensor):
        obj = obj.data
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


def _decode(data, arrays, rebuild):
    if isinstance(data, list):
        return [_decode(v, arrays, rebuild) for v in data]
    if not isinstance(data, dict):
        return data
    if "__array__" in data:
        return arrays[data["__array__"]]
    if "__tuple__" in data:
        return tuple(_decode(v, arrays, rebuild) for v in data["__tuple__"])
    if "__module__" in data:
        state = _decode(data["state_dict"], arrays, rebuild)
        if not rebuild:
            return {"config": data["__module__"], "state_dict": state}
        from ..nn.config import module_from_config
        model = module_from_config(data["__module__"])
        model.load_state_dict(state)
        return model
    int_keys = set(data.get("__int_keys__", ()))
    return {(int(k) if k in int_keys else k): _decode(v, arrays, rebuild)
            for k, v in data.items() if k != "__int_keys__"}


# ---------------------------------------------------------------- public API
def save(obj, path):
    """Save ``obj`` (state dict, model, optimizer state, or a dict of these) to ``path``.

    The file is a ``.npz`` archive; nothing in it is pickled."""
    arrays = {}
    tree = _encode(obj, arrays)
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)
        zf.writestr(_META, meta)
    atomic_write_bytes(path, buffer.getvalue())


def load(path, rebuild=True):
    """Load what ``save`` wrote. Models are rebuilt from their architecture (set
    ``rebuild=False`` to get ``{"config", "state_dict"}`` instead).

    Raises ``CheckpointError`` naming the file when it is missing, corrupt or not ours."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META not in archive.files:
                raise CheckpointError(f"{path}: not an ournn checkpoint (no {_META} entry)")
            meta = json.loads(bytes(archive[_META]).decode("utf-8"))
            arrays = {name: archive[name] for name in archive.files if name != _META}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError,
            UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint ({e})") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an ournn checkpoint (format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: written by a newer ournn (format version "
                              f"{meta['version']}); upgrade ournn to read it")
    try:
        return _decode(meta["tree"], arrays, rebuild)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from e
    except KeyError as e:
        raise CheckpointError(f"{path}: corrupt checkpoint (missing array {e})") from e
