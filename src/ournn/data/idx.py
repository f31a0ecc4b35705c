"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a big-endian header followed by the raw array bytes::

    0x00 0x00 <type code> <ndim>    magic, e.g. 0x00000803 = uint8, 3 dimensions (images)
    <dim 0> ... <dim ndim-1>        uint32 each, e.g. 60000, 28, 28
    <payload>                       prod(dims) * itemsize bytes, row-major, big-endian

Files may be gzip-compressed; we tell by the gzip magic bytes, never by the extension.
Anything wrong with a file raises :class:`ournn.errors.DatasetError` naming the file.
"""
import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..files import atomic_write_bytes

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian dtype (the format's own table)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}


def read_bytes(path):
    """The content of ``path``, decompressed if it starts with the gzip magic bytes.

    Raises DatasetError for a missing file, a truncated or corrupt gzip stream."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DatasetError(f"{path}: truncated gzip file (the stream ends early; "
                           "an interrupted download?)") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DatasetError(f"{path}: corrupt gzip data ({exc})") from None


def parse_idx(content, name="<bytes>"):
    """Decode the bytes of an (uncompressed) IDX file into a native-endian array.

    ``name`` is only used in error messages. The array is a writable copy, shape = the header's
    dimensions, e.g. uint8 (60000, 28, 28) for MNIST's training images."""
    if len(content) < 4:
        raise DatasetError(f"{name}: too short for an IDX header ({len(content)} bytes)")
    zero0, zero1, code, ndim = content[:4]
    if zero0 or zero1 or code not in IDX_DTYPES or ndim == 0:
        raise DatasetError(f"{name}: bad IDX magic number 0x{content[:4].hex()} "
                           "(expected 0x000008NN for uint8 data, e.g. 0x00000803 for images)")
    header_len = 4 + 4 * ndim
    if len(content) < header_len:
        raise DatasetError(f"{name}: truncated IDX header: {ndim} dimensions need {header_len} "
                           f"bytes, the file has {len(content)}")
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    payload = len(content) - header_len
    if payload != expected:
        what = "truncated" if payload < expected else "too long"
        raise DatasetError(f"{name}: {what}: the header says shape {dims} of {dtype.name} "
                           f"({expected} bytes of data), the file holds {payload}")
    array = np.frombuffer(content, dtype=dtype, offset=header_len).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a native-endian, writable copy


def read_idx(path):
    """Read an IDX file (gzip or raw) into a NumPy array.

    Returns e.g. uint8 (N, 28, 28) for an image file (magic 0x00000803) or uint8 (N,) for a
    label file (0x00000801). Raises DatasetError naming the file if it is truncated, not gzip
    although it starts like gzip, has a bad magic number, or its length does not match its
    header exactly."""
    return parse_idx(read_bytes(path), name=str(path))


def idx_bytes(array):
    """The bytes of the uncompressed IDX file holding ``array`` (any shape, ndim >= 1)."""
    array = np.asarray(array)
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise DatasetError(f"write_idx: IDX has no type for dtype {array.dtype} (use uint8, "
                           "int8, int16, int32, float32 or float64)")
    if not 1 <= array.ndim <= 255:
        raise DatasetError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path, array):
    """Write ``array`` as an IDX file; gzip-compressed if ``path`` ends in ``.gz``.

    The write is atomic (a temporary file in the same folder, then a rename)."""
    content = idx_bytes(array)
    if str(path).endswith(".gz"):
        content = gzip.compress(content, compresslevel=6, mtime=0)
    atomic_write_bytes(path, content)
    return Path(path)
