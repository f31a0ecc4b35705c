"""Where the MNIST and Fashion-MNIST files are, and what their content must hash to.

Each of the four standard files is looked for, in this order, in

1. ``root`` (the argument), as ``<root>/<dataset>/<file>`` or ``<root>/<file>``;
2. ``$OURNN_DATA`` (a folder, or several joined by ``os.pathsep``), laid out the same way;
3. the cache ``$XDG_CACHE_HOME/ournn/<dataset>`` (``~/.cache/ournn/<dataset>`` by default);
4. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist`` (dataset-fashion-mnist).

(torchvision's ``<dir>/MNIST/raw/`` layout and uncompressed files are found as well.)
Every file is verified by the sha256 of its *decompressed* content, so a re-compressed copy
is as good as the official download. Nothing here touches the network (see
:mod:`ournn.data.download`) or writes a file.
"""
import hashlib
import os
from pathlib import Path

from ..errors import DatasetError

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

SYSTEM_DIRS = {"fashion-mnist": ["/usr/share/datasets/fashion-mnist"]}
TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}  # <dir>/<name>/raw/

ENV_VAR = "OURNN_DATA"

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


def candidates(dataset, filename, root=None):
    """Every path ``filename`` may have, in search order, as ``(path, is_cache)`` pairs."""
    names = [filename] + ([filename[:-3]] if filename.endswith(".gz") else [])
    return [(folder / name, is_cache) for folder, is_cache in search_dirs(dataset, root)
            for name in names]


def locate(dataset, filename, root=None):
    """The first existing copy of ``filename`` in the search order, or None (not verified)."""
    for path, _ in candidates(dataset, filename, root):
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

