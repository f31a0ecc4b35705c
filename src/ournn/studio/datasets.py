"""The datasets the studio trains on: MNIST and Fashion-MNIST (from ournn.data), the 2-D toy
sets, and CSV files a person uploads (kept in memory for their session)."""
import csv
import io
import re
import threading

import numpy as np

from ..data import toy
from .spec import SpecError

CSV_MAX_BYTES = 20 * 1024 * 1024
CSV_MAX_ROWS = 200_000
CSV_MAX_FEATURES = 1024
CSV_MAX_CLASSES = 100


def image_bytes(images):
    """Images (..., 28, 28) in [0, 1] as uint8 0..255, how the page receives them."""
    return np.clip(images * 255 + 0.5, 0, 255).astype(np.uint8)


class StudioDataset:
    """Arrays and what the page needs to know about them.

    ``kind`` is "image" (N, 1, 28, 28), "points" (N, 2) or "table" (N, D)."""

    def __init__(self, name, label, kind, x, y, tx, ty, classes, loader_code, file_stem):
        self.name, self.label, self.kind = name, label, kind
        self.x, self.y, self.tx, self.ty = x, y, tx, ty
        self.classes = [str(c) for c in classes]
        self._loader_code = loader_code
        self.file_stem = file_stem

    @property
    def input_shape(self):
        return list(self.x.shape[1:])

    @property
    def train_size(self):
        return len(self.x)

    def info(self):
        return {"name": self.name, "label": self.label, "kind": self.kind,
                "input_shape": self.input_shape, "classes": self.classes,
                "train_size": len(self.x), "test_size": len(self.tx)}

    def python_loader(self):
        """Python lines that define x, y, test_x, test_y for an exported script."""
        return self._loader_code

    def samples(self, n):
        if self.kind == "image":
            n = max(1, min(int(n), 200))
            images = image_bytes(self.x[:n, 0])
            return {"kind": "image", "images": images.reshape(n, -1).tolist(),
                    "labels": self.y[:n].tolist(), "classes": self.classes}
        if self.kind == "points":
            m = min(len(self.x), 1000)
            return {"kind": "points", "x": np.round(self.x[:m], 4).tolist(),
                    "y": self.y[:m].tolist(), "classes": self.classes}
        m = min(len(self.x), 24)
        return {"kind": "table", "x": self.x[:m].tolist(), "y": self.y[:m].tolist(),
                "classes": self.classes}


# ---------------------------------------------------------------- built-in sets
_TOYS = {
    "moons": ("Two moons", lambda n, s: toy.make_moons(n, noise=0.15, seed=s), "make_moons"),
    "circles": ("Circles", lambda n, s: toy.make_circles(n, noise=0.08, seed=s), "make_circles"),
    "spirals": ("Spirals (3 classes)", lambda n, s: toy.make_spirals(n, classes=3, noise=0.15,
                                                                     seed=s), "make_spirals"),
    "xor": ("XOR", lambda n, s: toy.make_xor(n, noise=0.1, seed=s), "make_xor"),
}
_TOY_ARGS = {"moons": "noise=0.15", "circles": "noise=0.08",
             "spirals": "classes=3, noise=0.15", "xor": "noise=0.1"}
_IMAGES = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("Fashion-MNIST", "FashionMNIST")}


def _toy(name):
    label, make, fn = _TOYS[name]
    x, y = make(1000, 1)
    tx, ty = make(500, 2)
    classes = [str(c) for c in range(int(y.max()) + 1)]
    code = (f"from ournn.data import toy\n\nx, y = toy.{fn}(1000, {_TOY_ARGS[name]}, seed=1)\n"
            f"test_x, test_y = toy.{fn}(500, {_TOY_ARGS[name]}, seed=2)\n")
    return StudioDataset(name, label, "points", x, y, tx, ty, classes, code, name)


def _image(name, data_dir):
    from ..data import MNIST, FashionMNIST
    label, cls_name = _IMAGES[name]
    cls = {"MNIST": MNIST, "FashionMNIST": FashionMNIST}[cls_name]
    train, test = cls(root=data_dir, train=True), cls(root=data_dir, train=False)
    x, y = train.arrays()
    tx, ty = test.arrays()
    code = (f"from ournn.data import {cls_name}\n\n"
            f"x, y = {cls_name}(train=True).arrays()\n"
            f"test_x, test_y = {cls_name}(train=False).arrays()\n")
    return StudioDataset(name, label, "image", x, y, tx, ty, train.classes, code, name)


class Registry:
    """Built-in datasets, loaded on first use and shared by every session."""

    NAMES = ("mnist", "fashion-mnist", "moons", "circles", "spirals", "xor")

    def __init__(self, data_dir=None):
        self.data_dir = data_dir
        self._cache = {}
        self._lock = threading.Lock()

    def get(self, name):
        if name not in self.NAMES:
            return None
        with self._lock:
            if name not in self._cache:
                self._cache[name] = (_toy(name) if name in _TOYS
                                     else _image(name, self.data_dir))
            return self._cache[name]

    def describe(self, name):
        """Dataset info without loading the images (for the options list)."""
        if name in _TOYS:
            return self.get(name).info()
        label = _IMAGES[name][0]
        if name == "mnist":
            classes = [str(i) for i in range(10)]
        else:
            from ..data import FashionMNIST
            classes = list(FashionMNIST.classes)
        return {"name": name, "label": label, "kind": "image", "input_shape": [1, 28, 28],
                "classes": classes, "train_size": 60000, "test_size": 10000}


# ---------------------------------------------------------------- CSV uploads
def parse_csv(data, name="upload.csv", label=None, seed=0):
    """A StudioDataset from the bytes of a CSV file: a header row, numeric feature columns and
    one label column (``label``, or the last column). Labels may be numbers or words; each
    distinct value is a class. A fifth of the rows (at random) is held out for validation.
    Raises SpecError with a message a person can act on."""
    if len(data) > CSV_MAX_BYTES:
        raise SpecError(f"the file is larger than {CSV_MAX_BYTES // 2 ** 20} MB", "file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError("the file is not text (UTF-8): upload a .csv file", "file") from None
    if "\x00" in text:
        raise SpecError("the file is binary, not a CSV text file", "file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), dialect)
                if any(c.strip() for c in r)]
    except csv.Error as e:
        raise SpecError(f"the file is not a valid CSV file ({e})", "file") from None
    if len(rows) < 3:
        raise SpecError("the CSV needs a header row and at least two data rows", "file")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if len(body) > CSV_MAX_ROWS:
        raise SpecError(f"at most {CSV_MAX_ROWS:,} rows, the file has {len(body):,}", "file")
    if len(header) < 2:
        raise SpecError("the CSV needs at least two columns: features and a label (is the "
                        "separator a comma, a semicolon or a tab?)", "file")
    if len(header) - 1 > CSV_MAX_FEATURES:
        raise SpecError(f"at most {CSV_MAX_FEATURES} feature columns, the file has "
                        f"{len(header) - 1}", "file")
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise SpecError(f"row {i + 2} has {len(r)} values but the header has "
                            f"{len(header)} columns", "file")
    col = len(header) - 1
    if label:
        if label not in header:
            raise SpecError(f"no column named {label!r}; the columns are "
                            f"{', '.join(header)}", "label")
        col = header.index(label)
    features = [j for j in range(len(header)) if j != col]
    x = np.empty((len(body), len(features)), dtype=np.float64)
    for i, r in enumerate(body):
        for k, j in enumerate(features):
            try:
                x[i, k] = float(r[j])
            except ValueError:
                raise SpecError(f"row {i + 2}, column {header[j]!r}: {r[j]!r} is not a number "
                                "(every column but the label must be numeric)", "file") from None
    if not np.isfinite(x).all():
        raise SpecError("the features contain NaN or infinite values", "file")
    if np.abs(x).max() > np.finfo(np.float32).max:
        i, k = np.unravel_index(np.abs(x).argmax(), x.shape)
        raise SpecError(f"row {i + 2}, column {header[features[k]]!r}: {x[i, k]:g} is too large "
                        "for float32", "file")
    raw = [r[col].strip() for r in body]
    classes = sorted(set(raw), key=_natural_key)
    if len(classes) < 2:
        raise SpecError(f"the label column {header[col]!r} has a single value; a classifier "
                        "needs at least two classes", "label")
    if len(classes) > CSV_MAX_CLASSES:
        raise SpecError(f"the label column {header[col]!r} has {len(classes)} distinct values "
                        f"(at most {CSV_MAX_CLASSES} classes): is it the right column?", "label")
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[v] for v in raw], dtype=np.int64)
    # standardise the features (in float64), so that a default learning rate works
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    x = ((x - mean) / std).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = max(1, len(x) // 5)
    test, train = order[:n_test], order[n_test:]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit(".", 1)[0])[:40] or "upload"
    kind = "points" if x.shape[1] == 2 else "table"
    code = (f"import csv\n\nimport numpy as np\n\n"
            f"# the file {name!r}: label column {header[col]!r}, features standardised, a fifth "
            "held out\n"
            f"with open({name!r}, newline='', encoding='utf-8-sig') as f:\n"
            f"    rows = [r for r in csv.reader(f, delimiter={dialect.delimiter!r})\n"
            "            if any(c.strip() for c in r)]\n"
            f"classes = {classes!r}\n"
            f"col = {col}\n"
            "x = np.array([[float(v) for j, v in enumerate(r) if j != col] for r in rows[1:]])\n"
            "y = np.array([classes.index(r[col].strip()) for r in rows[1:]], dtype=np.int64)\n"
            "std = x.std(axis=0)\n"
            "x = ((x - x.mean(axis=0)) / np.where(std == 0, 1, std)).astype(np.float32)\n"
            f"order = np.random.default_rng({seed}).permutation(len(x))\n"
            "test, train = order[:max(1, len(x) // 5)], order[max(1, len(x) // 5):]\n"
            "x, y, test_x, test_y = x[train], y[train], x[test], y[test]\n")
    return StudioDataset("csv:" + stem, name, kind, x[train], y[train], x[test], y[test],
                         classes, code, stem)


def _natural_key(text):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)
