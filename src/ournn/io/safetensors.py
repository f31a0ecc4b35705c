"""The safetensors format, read and written by ournn itself (no dependency).

``ournn.save(model.state_dict(), "m.safetensors")`` and ``ournn.load("m.safetensors")`` come
here (the extension chooses the format). A state dict's keys and layouts are PyTorch's, so
the file loads into the same model written in PyTorch (``safetensors.torch.load_file``, then
``load_state_dict``), and a file PyTorch wrote loads into ournn.

The format: 8 bytes, the little-endian length N of a JSON header; N bytes of JSON,
``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}`` plus an
optional ``"__metadata__"`` table of strings; then the raw little-endian bytes of every
tensor, ``data_offsets`` counted from the end of the header. The tensors cover that buffer
exactly, without gaps or overlaps.

Reading checks, before allocating anything large: the header's length against the file and
``LIMITS["meta_bytes"]``, the JSON's shape (every field's type), each dtype, that shape x
itemsize equals the byte length, that the offsets are inside the file, contiguous and
non-overlapping, and the total against ``LIMITS["archive_bytes"]``. Nothing is unpickled:
the file is only numbers. Errors are ``CheckpointError`` naming the file and the field.

bfloat16 and the 8-bit float types are refused (NumPy has no such dtype): convert the tensors
to float32 in PyTorch (``{k: v.float() for k, v in sd.items()}``) before saving.
"""
import io as _io
import json
import os
import struct
import sys

import numpy as np

from ..errors import CheckpointError
from ..files import LIMITS, atomic_write, check_save_path

__all__ = ["save_file", "load_file", "read_metadata", "DTYPES"]

# safetensors dtype name -> NumPy dtype (little-endian)
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U64": np.dtype("<u8"), "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}
# dtypes of the format that NumPy cannot hold
_REFUSED = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3", "F8_E5M2": "float8_e5m2",
            "F8_E8M0": "float8_e8m0", "F4": "float4", "F6_E2M3": "float6_e2m3",
            "F6_E3M2": "float6_e3m2", "C64": "complex64"}
# the safetensors package's order of dtypes in a file
_ORDER = ["U64", "I64", "F64", "F32", "U32", "I32", "F16", "U16", "I16", "I8", "U8", "BOOL"]
_MAX_NDIM = 64
_ALIGN = 8           # the header is padded with spaces to a multiple of 8 bytes


# ---------------------------------------------------------------- writing
def _as_array(name, value):
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        value = value.numpy()
    if not isinstance(value, np.ndarray):
        if isinstance(value, (bool, int, float, np.generic)):
            value = np.asarray(value)
        else:
            raise CheckpointError(
                f"cannot save {name!r} to safetensors: it is a {type(value).__name__}; a "
                ".safetensors file holds a flat dict of tensors (a state dict). Save a "
                "model's or anything nested with ournn.save(obj, 'file.ckpt')")
    key = (value.dtype.kind, value.dtype.itemsize)
    if value.dtype.fields or key not in _NAMES:
        raise CheckpointError(f"cannot save {name!r} to safetensors: dtype {value.dtype} has "
                              f"no safetensors equivalent (these do: "
                              f"{', '.join(str(d) for d in DTYPES.values())})")
    little = value.dtype.newbyteorder("<") if value.dtype.itemsize > 1 else value.dtype
    return _NAMES[key], np.asarray(value, dtype=little, order="C")   # keeps 0-d shapes


def _layout(tensors, metadata):
    """(header bytes, [arrays in file order])."""
    from ..nn.module import Module
    if isinstance(tensors, Module):
        raise CheckpointError("a .safetensors file holds tensors only, not a model's "
                              "architecture: save model.state_dict() (and build the model in "
                              "code to load it), or save the model to a .ckpt file")
    if not isinstance(tensors, dict):
        raise CheckpointError(f"a .safetensors file holds a dict of tensors (a state dict), "
                              f"not a {type(tensors).__name__}")
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise CheckpointError(f"cannot save key {name!r} to safetensors: keys must be "
                                  "strings")
        if name == "__metadata__":
            raise CheckpointError("cannot save a tensor named '__metadata__' (the format "
                                  "reserves that name)")
        dtype, arr = _as_array(name, value)
        entries.append((name, dtype, arr))
    # as the safetensors package orders them (so the files are byte for byte its files):
    # by dtype, larger items first (each tensor's offset is a multiple of its item size),
    # then by name
    entries.sort(key=lambda e: (_ORDER.index(e[1]), e[0]))
    header = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise CheckpointError("safetensors metadata must be a dict of strings to strings")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, arr in entries:
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-(len(raw) + 8) % _ALIGN)
    return struct.pack("<Q", len(raw)) + raw, [arr for _, _, arr in entries]


def _write(f, head, arrays):
    f.write(head)
    for arr in arrays:
        if arr.nbytes:
            f.write(memoryview(arr.reshape(-1)).cast("B"))


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` (a dict of names to Tensors or arrays: a state dict) to
    ``filename`` (a path, written atomically, or a binary file object) in the safetensors
    format, as ``safetensors.numpy.save_file``. ``metadata``: a dict of strings stored in
    the header's ``__metadata__``."""
    head, arrays = _layout(tensors, metadata)
    if hasattr(filename, "write"):
        _write(filename, head, arrays)
        return
    atomic_write(check_save_path(filename), lambda f: _write(f, head, arrays))


# ---------------------------------------------------------------- reading
def _limit(name):
    return f"ournn.io.LIMITS[{name!r}] = {LIMITS[name]:,}"


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(raw, data_size, where):
    """The entries [(name, dtype, shape, begin, end)] sorted by offset, and the metadata,
    after checking everything the header says against the ``data_size`` bytes that follow
    it."""
    def bad(msg):
        return CheckpointError(f"{where}: {msg}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not a safetensors file: its header is not UTF-8 text") from None
    if not text.startswith("{"):
        raise bad("not a safetensors file: its header is not a JSON object")
    try:
        header = json.loads(text)
    except ValueError as e:
        raise bad(f"header: not valid JSON ({str(e)[:120]})") from None
    except RecursionError:
        raise bad("header: nested too deeply") from None
    if not isinstance(header, dict):
        raise bad("header: expected a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(v, str) for v in metadata.values())):
        raise bad("field __metadata__: expected a table of strings")
    if len(header) > LIMITS["members"]:
        raise bad(f"{len(header):,} tensors, over {_limit('members')}")
    entries = []
    for name, info in header.items():
        field = f"field {name[:80]!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"{field}: expected {{dtype, shape, data_offsets}}, got "
                      f"{str(info)[:80]}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype in _REFUSED:
            raise bad(f"{field}: dtype {dtype} ({_REFUSED[dtype]}) cannot be loaded: NumPy has "
                      f"no {_REFUSED[dtype]}. Convert the tensors to float32 before saving, "
                      f"e.g. in PyTorch: save_file({{k: v.float() for k, v in sd.items()}}, "
                      f"path)")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise bad(f"{field}: unknown dtype {str(dtype)[:40]!r} (known: "
                      f"{', '.join(DTYPES)})")
        if not (isinstance(shape, list) and len(shape) <= _MAX_NDIM and
                all(_is_int(d) and d >= 0 for d in shape)):
            raise bad(f"{field}: shape must be a list of at most {_MAX_NDIM} sizes >= 0, got "
                      f"{str(shape)[:80]}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and
                all(_is_int(o) for o in offsets) and 0 <= offsets[0] <= offsets[1]):
            raise bad(f"{field}: data_offsets must be [begin, end] with 0 <= begin <= end, "
                      f"got {str(offsets)[:80]}")
        count = 1
        for d in shape:
            count *= d
        nbytes = count * DTYPES[dtype].itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise bad(f"{field}: shape {shape} of {dtype} is {nbytes:,} bytes but its "
                      f"data_offsets {offsets} hold {offsets[1] - offsets[0]:,}")
        entries.append((name, DTYPES[dtype], tuple(shape), offsets[0], offsets[1]))
    entries.sort(key=lambda e: (e[3], e[4]))
    position = 0
    for name, _, _, begin, end in entries:
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else \
                "leaves a gap after the tensor before it"
            raise bad(f"field {name[:80]!r}: data_offsets [{begin}, {end}] {what} (the tensors "
                      "must cover the data contiguously)")
        if end > data_size:
            raise bad(f"field {name[:80]!r}: data_offsets [{begin}, {end}] reach past the end "
                      f"of the file ({data_size:,} bytes of data): truncated or corrupt")
        position = end
    if position != data_size:
        raise bad(f"the tensors hold {position:,} bytes but the file has {data_size:,} bytes "
                  "of data after the header (corrupt, or not a safetensors file)")
    if position > LIMITS["archive_bytes"]:
        raise bad(f"the tensors hold {position:,} bytes, over {_limit('archive_bytes')}")
    return entries, metadata


def _read(f, file_size, where):
    """(dict of arrays, metadata) from the binary file object ``f`` of ``file_size`` bytes."""
    if file_size < 8:
        raise CheckpointError(f"{where}: not a safetensors file ({file_size} bytes, shorter "
                              "than the 8-byte header length)")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > LIMITS["meta_bytes"]:
        raise CheckpointError(f"{where}: header of {n:,} bytes, over {_limit('meta_bytes')} "
                              "(corrupt, or not a safetensors file)")
    if 8 + n > file_size:
        raise CheckpointError(f"{where}: header of {n:,} bytes but the file has "
                              f"{file_size:,}: truncated, or not a safetensors file")
    raw = f.read(n)
    if len(raw) != n:
        raise CheckpointError(f"{where}: truncated header")
    entries, metadata = _parse_header(raw, file_size - 8 - n, where)
    arrays = {}
    for name, dtype, shape, begin, end in entries:
        buf = bytearray(end - begin)
        got = f.readinto(buf) if buf else 0
        if got != len(buf):
            raise CheckpointError(f"{where}: field {name[:80]!r}: truncated data")
        arr = np.frombuffer(buf, dtype=dtype).reshape(shape)
        if sys.byteorder != "little" and dtype.itemsize > 1:
            arr = arr.astype(dtype.newbyteorder("="))
        arrays[name] = arr
    return arrays, metadata


def _open(filename, fn):
    if hasattr(filename, "read"):
        where = getattr(filename, "name", None) or "<file object>"
        f = filename
        if not (hasattr(f, "seekable") and f.seekable()):
            data = f.read(LIMITS["archive_bytes"] + LIMITS["meta_bytes"] + 9)
            f = _io.BytesIO(data)
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
        return fn(f, size, str(where))
    path = os.fspath(filename)
    if os.path.isdir(path):
        raise CheckpointError(f"{path}: is a folder, not a safetensors file")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            return fn(f, os.fstat(f.fileno()).st_size, path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read it ({e.strerror or e})") from None


def load_file(filename, tensors=False):
    """The tensors of a safetensors file (a path or a binary file object), as a dict of
    NumPy arrays (``tensors=True``: ournn Tensors), in the order of their data in the file.
    Every size the header declares is checked before anything is allocated; malformed or
    oversized files raise ``CheckpointError``."""
    arrays, _ = _open(filename, _read)
    if tensors:
        from ..tensor import Tensor
        return {k: Tensor._make(v) for k, v in arrays.items()}
    return arrays


def read_metadata(filename):
    """The ``__metadata__`` table of a safetensors file (a dict of strings; {} without one),
    checked as ``load_file`` checks the header, without reading the tensors."""
    def header_only(f, size, where):
        if size < 8:
            raise CheckpointError(f"{where}: not a safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > LIMITS["meta_bytes"] or 8 + n > size:
            raise CheckpointError(f"{where}: header of {n:,} bytes does not fit the file or "
                                  f"{_limit('meta_bytes')}")
        _, metadata = _parse_header(f.read(n), size - 8 - n, where)
        return metadata or {}
    return _open(filename, header_only)


def looks_like_safetensors(head):
    """Whether the first 10 bytes of a file look like a safetensors file's."""
    return len(head) >= 10 and head[8:9] == b"{" and \
        struct.unpack("<Q", head[:8])[0] < 2**40
