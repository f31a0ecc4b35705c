"""The datasets the studio trains on: MNIST and Fashion-MNIST (from ournn.data), the 2-D toy
sets, and CSV files a person uploads (kept in memory for their session)."""
import csv
import io
import re
import threading

import numpy as np

from ..data import toy
from .spec import FEATURE_NAMES, REGRESSION_SETS, TOY_POINTS, SpecError

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

    def __init__(self, name, label, kind, x, y, tx, ty, classes, loader_code, file_stem,
                 raw=None, features=None, columns=None, label_column=None, scale=None,
                 task="classification"):
        self.name, self.label, self.kind = name, label, kind
        self.x, self.y, self.tx, self.ty = x, y, tx, ty
        self.classes = [str(c) for c in classes]
        self._loader_code = loader_code
        self.file_stem = file_stem
        # 2-D toys with input features (x1^2, sin x1...): the points before the features
        # (what the page draws and clicks), and the feature names
        self.raw_x, self.raw_tx = raw if raw is not None else (x, tx)
        self.features = list(features or [])
        # CSV files: the user's column names, and the standardisation (mean, std) that turns
        # their values (raw_x, in their units) into the network's inputs (x)
        self.columns, self.label_column, self.scale = columns, label_column, scale
        self.task = task            # "classification" or "regression" (y: values (n, 1))

    @property
    def outputs(self):
        """The network's output size: one per class, or one value."""
        return 1 if self.task == "regression" else len(self.classes)

    def text_samples(self, n=600):
        return {"kind": "text", "text": self.vocab.decode(self.x[:n]),
                "characters": len(self.classes)}

    def featurize(self, points):
        """The network's inputs for points in the data's own units ((n, d) as raw_x holds
        them): a toy's features of them, a CSV file's standardisation, or the points."""
        if self.features:
            return featurize(points, self.features)
        if self.scale is not None:
            mean, std = self.scale
            return ((np.asarray(points, dtype=np.float64) - mean) / std).astype(np.float32)
        return points

    @property
    def input_shape(self):
        return list(self.x.shape[1:])         # [] for text: a stream of character ids

    @property
    def train_size(self):
        return len(self.x)

    def info(self):
        return {"name": self.name, "label": self.label, "kind": self.kind,
                "input_shape": self.input_shape, "classes": self.classes,
                "task": self.task, "outputs": self.outputs,
                "train_size": len(self.x), "test_size": len(self.tx)}

    def python_loader(self):
        """Python lines that define x, y, test_x, test_y for an exported script."""
        return self._loader_code

    def samples(self, n):
        if self.kind == "text":
            return self.text_samples()
        if self.kind == "image":
            n = max(1, min(int(n), 200))
            images = image_bytes(self.x[:n, 0])
            return {"kind": "image", "images": images.reshape(n, -1).tolist(),
                    "labels": self.y[:n].tolist(), "classes": self.classes}
        if self.kind == "points":
            m, k = min(len(self.x), 1000), min(len(self.tx), 1000)
            y, ty = self.y[:m], self.ty[:k]
            if self.task == "regression":         # values, not class indices
                y, ty = np.round(y[:, 0], 3), np.round(ty[:, 0], 3)
            return {"kind": "points", "x": np.round(self.raw_x[:m], 4).tolist(),
                    "y": y.tolist(), "classes": self.classes, "task": self.task,
                    "test_x": np.round(self.raw_tx[:k], 4).tolist(),
                    "test_y": ty.tolist(), "columns": self.columns,
                    "label": self.label_column}
        m = min(len(self.x), 24)
        return {"kind": "table", "x": self.raw_x[:m].tolist(), "y": self.y[:m].tolist(),
                "classes": self.classes, "columns": self.columns, "label": self.label_column}


# ---------------------------------------------------------------- built-in sets
def make_gauss(n, noise=0.5, seed=None):
    """Two Gaussian clusters (TensorFlow Playground's): class 0 around (1, 1), class 1 around
    (-1, -1), each coordinate with standard deviation ``noise`` (at least 0.05)."""
    rng = np.random.default_rng(seed)
    n0 = n - n // 2
    centres = np.repeat([[1.0, 1.0], [-1.0, -1.0]], [n0, n // 2], axis=0)
    x = centres + rng.normal(scale=max(0.05, noise), size=(n, 2))
    y = np.repeat([0, 1], [n0, n // 2])
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order].astype(np.int64)


def make_plane(n, noise=0.0, seed=None):
    """2-D regression (TensorFlow Playground's "plane"): points uniform in [-1, 1]^2 and the
    value (x1 + x2) / 2, with Gaussian noise of std ``noise``. Returns X float32 (n, 2), y
    float32 (n, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] + x[:, 1]) / 2 + rng.normal(scale=noise, size=n) if noise else \
        (x[:, 0] + x[:, 1]) / 2
    return x.astype(np.float32), y[:, None].astype(np.float32)


_BUMPS = ((-0.5, -0.5, 1.0), (0.5, 0.5, 1.0), (-0.5, 0.5, -1.0), (0.5, -0.5, -1.0))


def make_reg_gauss(n, noise=0.0, seed=None):
    """2-D regression (Playground's "multi gaussian"): points uniform in [-1, 1]^2 and the
    value of two positive and two negative Gaussian bumps, plus noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = sum(sign * np.exp(-((x[:, 0] - a) ** 2 + (x[:, 1] - b) ** 2) / (2 * 0.3 ** 2))
            for a, b, sign in _BUMPS)
    if noise:
        y = y + rng.normal(scale=noise, size=n)
    return x.astype(np.float32), y[:, None].astype(np.float32)


# The input features a toy network can take (TensorFlow Playground's): name -> (function of
# the two columns, the expression an exported script writes)
FEATURES = {"x1": (lambda a, b: a, "x[:, 0]"), "x2": (lambda a, b: b, "x[:, 1]"),
            "x1^2": (lambda a, b: a * a, "x[:, 0] ** 2"),
            "x2^2": (lambda a, b: b * b, "x[:, 1] ** 2"),
            "x1*x2": (lambda a, b: a * b, "x[:, 0] * x[:, 1]"),
            "sin x1": (lambda a, b: np.sin(a), "np.sin(x[:, 0])"),
            "sin x2": (lambda a, b: np.sin(b), "np.sin(x[:, 1])")}
assert tuple(FEATURES) == FEATURE_NAMES


def featurize(points, features):
    """The feature columns of 2-D points (float32 (n, len(features)))."""
    a, b = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    return np.stack([FEATURES[f][0](a, b) for f in features], axis=1).astype(np.float32)


_TOYS = {
    "moons": ("Two moons", lambda n, s: toy.make_moons(n, noise=0.15, seed=s), "make_moons"),
    "circles": ("Circles", lambda n, s: toy.make_circles(n, noise=0.08, seed=s), "make_circles"),
    "spirals": ("Spirals (3 classes)", lambda n, s: toy.make_spirals(n, classes=3, noise=0.15,
                                                                     seed=s), "make_spirals"),
    "xor": ("XOR", lambda n, s: toy.make_xor(n, noise=0.1, seed=s), "make_xor"),
    "gauss": ("Gaussian clusters", lambda n, s: make_gauss(n, noise=0.5, seed=s), None),
    "reg-plane": ("Plane (regression)", None, None),
    "reg-gauss": ("Gaussian bumps (regression)", None, None),
}
_TOY_ARGS = {"moons": "noise=0.15", "circles": "noise=0.08",
             "spirals": "classes=3, noise=0.15", "xor": "noise=0.1", "gauss": "noise=0.5"}
# each toy's noise (what the page's slider starts at) and how it makes a set of n points
TOY_NOISE = {"moons": 0.15, "circles": 0.08, "spirals": 0.15, "xor": 0.1, "gauss": 0.5,
             "reg-plane": 0.0, "reg-gauss": 0.0}
_MAKERS = {"moons": lambda n, noise, s: toy.make_moons(n, noise=noise, seed=s),
           "circles": lambda n, noise, s: toy.make_circles(n, noise=noise, seed=s),
           "spirals": lambda n, noise, s: toy.make_spirals(n, classes=3, noise=noise, seed=s),
           "xor": lambda n, noise, s: toy.make_xor(n, noise=noise, seed=s),
           "gauss": lambda n, noise, s: make_gauss(n, noise=noise, seed=s),
           "reg-plane": lambda n, noise, s: make_plane(n, noise=noise, seed=s),
           "reg-gauss": lambda n, noise, s: make_reg_gauss(n, noise=noise, seed=s)}
_OWN_MAKERS = {"gauss": "make_gauss", "reg-plane": "make_plane", "reg-gauss": "make_reg_gauss"}
TOY_DATA_DEFAULTS = {"noise": None, "train_share": 2 / 3, "seed": 1, "features": ["x1", "x2"]}


def toy_dataset(name, data):
    """A toy set made to ``data`` (checked by ``spec.check_data``): ``noise`` (None: the
    set's own), ``train_share`` of TOY_POINTS to train on (the rest to test), ``seed``
    (training points; the test points use seed + 1), ``features`` of the points the network
    takes. The defaults give the built-in set."""
    noise = TOY_NOISE[name] if data["noise"] is None else data["noise"]
    n = int(round(TOY_POINTS * data["train_share"]))     # spec.toy_train_size
    seed, features = data["seed"], data["features"]
    x, y = _MAKERS[name](n, noise, seed)
    tx, ty = _MAKERS[name](TOY_POINTS - n, noise, seed + 1)
    regression = name in REGRESSION_SETS
    classes = [] if regression else [str(c) for c in range(int(max(y.max(), ty.max())) + 1)]
    plain = features == ["x1", "x2"]
    fx, ftx = (x, tx) if plain else (featurize(x, features), featurize(tx, features))
    if name in _OWN_MAKERS:
        fn = _OWN_MAKERS[name]
        code = (f"from ournn.studio.datasets import {fn}\n\n"
                f"x, y = {fn}({n}, noise={noise!r}, seed={seed})\n"
                f"test_x, test_y = {fn}({TOY_POINTS - n}, noise={noise!r}, "
                f"seed={seed + 1})\n")
    else:
        fn = _TOYS[name][2]
        extra = "classes=3, " if name == "spirals" else ""
        code = (f"from ournn.data import toy\n\n"
                f"x, y = toy.{fn}({n}, {extra}noise={noise!r}, seed={seed})\n"
                f"test_x, test_y = toy.{fn}({TOY_POINTS - n}, {extra}noise={noise!r}, "
                f"seed={seed + 1})\n")
    if not plain:
        columns = ", ".join(FEATURES[f][1] for f in features)
        code = ("import numpy as np\n" + code +
                f"# the input features: {', '.join(repr(f) for f in features)}\n"
                f"x, test_x = (np.stack([{columns}], axis=1).astype(np.float32) "
                "for x in (x, test_x))\n")
    label = _TOYS[name][0]
    return StudioDataset(name, label, "points", fx, y, ftx, ty, classes, code, name,
                         raw=(x, tx), features=None if plain else features,
                         task="regression" if regression else "classification")
_IMAGES = {"mnist": ("MNIST", "MNIST"), "fashion-mnist": ("Fashion-MNIST", "FashionMNIST")}


def _toy(name):
    return toy_dataset(name, TOY_DATA_DEFAULTS)


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


TEXT_LABEL = "Shakespeare (characters)"


def _text(data_dir):
    """The Shakespeare corpus (ournn.data.Shakespeare): x and tx are the training and
    validation text as character ids, the classes its characters."""
    from ..data import Shakespeare
    train, valid = Shakespeare("train", root=data_dir), Shakespeare("valid", root=data_dir)
    ds = StudioDataset("shakespeare", TEXT_LABEL, "text", train.data, None, valid.data, None,
                       [train.vocab.decode([i]) for i in range(len(train.vocab))], "",
                       "shakespeare", task="text")
    ds.vocab = train.vocab
    return ds


class Registry:
    """Built-in datasets, loaded on first use and shared by every session."""

    NAMES = ("mnist", "fashion-mnist", "moons", "circles", "spirals", "xor", "gauss",
             "reg-plane", "reg-gauss", "shakespeare")
    MADE = 32                   # toy sets made to a page's data controls, kept at once

    def __init__(self, data_dir=None):
        self.data_dir = data_dir
        self._cache = {}
        self._made = {}             # (name, data as a key) -> StudioDataset, least recent first
        self._lock = threading.Lock()

    def toy(self, name, data):
        """The toy set ``name`` made to ``data`` (checked), kept for the next request."""
        if data == TOY_DATA_DEFAULTS or data is None:
            return self.get(name)
        key = (name, repr(sorted(data.items())))
        with self._lock:
            ds = self._made.pop(key, None)
            if ds is None:
                ds = toy_dataset(name, data)
            self._made[key] = ds
            while len(self._made) > self.MADE:
                del self._made[next(iter(self._made))]
            return ds

    def get(self, name):
        if name not in self.NAMES:
            return None
        with self._lock:
            if name not in self._cache:
                self._cache[name] = (_toy(name) if name in _TOYS else
                                     _text(self.data_dir) if name == "shakespeare" else
                                     _image(name, self.data_dir))
            return self._cache[name]

    def describe(self, name):
        """Dataset info without loading the images (for the options list)."""
        if name in _TOYS:
            return self.get(name).info()
        if name == "shakespeare":           # the corpus is read when first used
            return {"name": name, "label": TEXT_LABEL, "kind": "text", "input_shape": [],
                    "classes": [], "task": "text", "outputs": None, "train_size": None,
                    "test_size": None}
        label = _IMAGES[name][0]
        if name == "mnist":
            classes = [str(i) for i in range(10)]
        else:
            from ..data import FashionMNIST
            classes = list(FashionMNIST.classes)
        return {"name": name, "label": label, "kind": "image", "input_shape": [1, 28, 28],
                "classes": classes, "task": "classification", "outputs": len(classes),
                "train_size": 60000, "test_size": 10000}


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
    raw_x = x
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
                         classes, code, stem, raw=(raw_x[train], raw_x[test]),
                         columns=[header[j] for j in features], label_column=header[col],
                         scale=(mean, std))


def _natural_key(text):
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)
