"""safetensors both ways: ``ournn.save(sd, "m.safetensors")`` / ``ournn.load``.

Checked against the ``safetensors`` package (``pip install 'ournn[safetensors]'``) and
PyTorch: a state dict written by ournn loads into the same model written in PyTorch with
``load_state_dict(strict=True)``, and one trained and saved by PyTorch loads into ournn; the
outputs agree. The reader's checks on hostile headers need neither.
"""
import io
import json
import re
import struct

import numpy as np
import pytest

import ournn
from ournn.errors import CheckpointError
from ournn.io import LIMITS
from ournn.io.safetensors import load_file, read_metadata, save_file

try:
    import safetensors
    import safetensors.numpy as st_numpy
except ImportError:
    safetensors = st_numpy = None
try:
    import torch
except ImportError:
    torch = None

needs_safetensors = pytest.mark.skipif(safetensors is None, reason="needs the safetensors "
                                       "package: pip install 'ournn[safetensors]'")
needs_torch = pytest.mark.skipif(torch is None or safetensors is None,
                                 reason="needs PyTorch and safetensors")


# ---------------------------------------------------------------- twin models
# Each builder takes the library (ournn or torch) and builds the same architecture, so the
# state dicts have the same keys and layouts.
class _MLP:
    @staticmethod
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(),
                             nn.Linear(64, 10))

    @staticmethod
    def input(rng):
        return rng.random((16, 1, 28, 28), dtype=np.float32)

    @staticmethod
    def output(model, x):
        return model(x)


class _CNN:
    @staticmethod
    def build(lib):
        nn = lib.nn
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2), nn.BatchNorm2d(16),
                             nn.ReLU(), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))

    input = _MLP.input
    output = _MLP.output


class _LSTM:
    @staticmethod
    def build(lib):
        return lib.nn.LSTM(12, 20, num_layers=2, batch_first=True, bidirectional=True)

    @staticmethod
    def input(rng):
        return rng.standard_normal((4, 7, 12)).astype(np.float32)

    @staticmethod
    def output(model, x):
        out, (h, c) = model(x)
        return out


MODELS = {"mlp": _MLP, "cnn": _CNN, "lstm": _LSTM}


def _numpy(t):
    if hasattr(t, "detach"):
        t = t.detach()
    return np.asarray(t.numpy())


def _train_torch(spec, model, rng, steps=5):
    """A few SGD steps in PyTorch, so the weights (and BatchNorm's running statistics and
    step count) are not their initial values."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        x = torch.from_numpy(spec.input(rng))
        loss = spec.output(model, x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _train_ournn(spec, model, rng, steps=5):
    opt = ournn.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        x = ournn.tensor(spec.input(rng))
        loss = (spec.output(model, x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@needs_torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_an_ournn_state_dict_loads_strictly_into_the_pytorch_model(tmp_path, name):
    from safetensors.torch import load_file as torch_load_file
    spec, rng = MODELS[name], np.random.default_rng(0)
    ours = spec.build(ournn)
    _train_ournn(spec, ours, rng)
    path = tmp_path / "m.safetensors"
    ournn.save(ours.state_dict(), path)

    theirs = spec.build(torch)
    result = theirs.load_state_dict(torch_load_file(str(path)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    theirs.eval()
    x = spec.input(rng)
    with torch.no_grad():
        expected = _numpy(spec.output(theirs, torch.from_numpy(x)))
    with ournn.no_grad():
        got = _numpy(spec.output(ours, ournn.tensor(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    if name == "cnn":   # the buffers went across: running stats and the step count
        sd = theirs.state_dict()
        assert int(sd["1.num_batches_tracked"]) == 5
        np.testing.assert_array_equal(sd["1.running_var"].numpy(),
                                      ours.state_dict()["1.running_var"].numpy())


@needs_torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_pytorch_trained_state_dict_loads_strictly_into_ournn(tmp_path, name):
    from safetensors.torch import save_file as torch_save_file
    spec, rng = MODELS[name], np.random.default_rng(1)
    torch.manual_seed(0)
    theirs = spec.build(torch)
    _train_torch(spec, theirs, rng)
    path = tmp_path / "torch.safetensors"
    torch_save_file(theirs.state_dict(), str(path))

    ours = spec.build(ournn)
    state = ournn.load(path)
    assert set(state) == set(theirs.state_dict())
    ours.load_state_dict(state, strict=True)
    ours.eval()
    x = spec.input(rng)
    with torch.no_grad():
        expected = _numpy(spec.output(theirs, torch.from_numpy(x)))
    with ournn.no_grad():
        got = _numpy(spec.output(ours, ournn.tensor(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(expected).max() > 1e-3      # not a trivially zero output


# ---------------------------------------------------------------- the format, every dtype
ALL_DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8",
              "bool", "uint16", "uint32", "uint64"]


def _sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)


def _tensors():
    out = {f"t.{d}": _sample(d, (3, 4), i) for i, d in enumerate(ALL_DTYPES)}
    out["scalar"] = np.array(7, dtype=np.int64)
    out["empty"] = np.zeros((0, 5), dtype=np.float32)
    out["big.ünï"] = _sample("float32", (2, 3, 4, 5))
    return out


@needs_safetensors
def test_the_package_reads_what_we_write_every_dtype(tmp_path):
    tensors = _tensors()
    save_file(tensors, tmp_path / "a.safetensors", metadata={"who": "ournn"})
    back = st_numpy.load_file(str(tmp_path / "a.safetensors"))
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k], v)
    with safetensors.safe_open(str(tmp_path / "a.safetensors"), "np") as f:
        assert f.metadata() == {"who": "ournn"}


@needs_safetensors
def test_we_read_what_the_package_writes_every_dtype(tmp_path):
    tensors = _tensors()
    st_numpy.save_file(tensors, str(tmp_path / "b.safetensors"), metadata={"a": "b"})
    back = load_file(tmp_path / "b.safetensors")
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k], v)
    assert read_metadata(tmp_path / "b.safetensors") == {"a": "b"}
    assert back["t.float32"].flags.writeable       # arrays we own, not a view of the file


@needs_safetensors
def test_our_bytes_are_the_packages_bytes(tmp_path):
    tensors = _tensors()
    save_file(tensors, tmp_path / "ours.safetensors", metadata={"format": "pt"})
    st_numpy.save_file(tensors, str(tmp_path / "theirs.safetensors"),
                       metadata={"format": "pt"})
    ours = (tmp_path / "ours.safetensors").read_bytes()
    theirs = (tmp_path / "theirs.safetensors").read_bytes()
    # the same header (as JSON, in the same order) and the same data
    n, m = struct.unpack("<Q", ours[:8])[0], struct.unpack("<Q", theirs[:8])[0]
    assert list(json.loads(ours[8:8 + n]).items()) == list(json.loads(theirs[8:8 + m]).items())
    assert ours[8 + n:] == theirs[8 + m:]
    assert (8 + n) % 8 == 0
    assert ours == theirs            # header padding included: byte for byte the same file


def test_ournn_save_and_load_choose_the_format_by_extension(tmp_path):
    model = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.BatchNorm1d(4))
    path = tmp_path / "m.safetensors"
    ournn.save(model.state_dict(), path)
    raw = path.read_bytes()
    assert raw[8:9] == b"{" and not raw.startswith(b"PK")
    assert read_metadata(path) == {"format": "pt"}     # what Hugging Face tools expect
    state = ournn.load(path)
    assert list(state) and all(isinstance(v, ournn.Tensor) for v in state.values())
    arrays = ournn.load(str(path), tensors=False)
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(arrays[k], v.numpy())
        assert arrays[k].shape == tuple(v.size())
    fresh = ournn.nn.Sequential(ournn.nn.Linear(3, 4), ournn.nn.BatchNorm1d(4))
    fresh.load_state_dict(state, strict=True)
    # a file object, by its name or by its first bytes; another extension, by its bytes
    with open(path, "rb") as f:
        assert set(ournn.load(f)) == set(state)
    assert set(ournn.load(io.BytesIO(raw))) == set(state)
    other = tmp_path / "weights.bin"
    other.write_bytes(raw)
    assert set(ournn.load(other)) == set(state)
    # .ckpt stays ournn's own format
    ournn.save(model.state_dict(), tmp_path / "m.ckpt")
    assert (tmp_path / "m.ckpt").read_bytes().startswith(b"PK")


def test_saving_what_safetensors_cannot_hold_is_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    model = ournn.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match="state_dict"):
        ournn.save(model, path)
    with pytest.raises(CheckpointError, match="flat dict of tensors"):
        ournn.save({"a": {"b": np.zeros(2)}}, path)
    with pytest.raises(CheckpointError, match="dict of tensors"):
        ournn.save([np.zeros(2)], path)
    with pytest.raises(CheckpointError, match="complex128"):
        ournn.save({"a": np.zeros(2, complex)}, path)
    with pytest.raises(CheckpointError, match="strings"):
        ournn.save({1: np.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="__metadata__"):
        ournn.save({"__metadata__": np.zeros(2)}, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_big_endian_and_strided_arrays_are_written_little_endian_and_contiguous(tmp_path):
    a = np.arange(12, dtype=">f4").reshape(3, 4)
    b = np.arange(24, dtype=np.float64).reshape(4, 6)[::2, ::3]
    save_file({"a": a, "b": b}, tmp_path / "x.safetensors")
    back = load_file(tmp_path / "x.safetensors")
    np.testing.assert_array_equal(back["a"], a)
    np.testing.assert_array_equal(back["b"], b)


# ---------------------------------------------------------------- hostile files
def _file(header, data=b"", raw_header=None):
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _load_bytes(tmp_path, blob):
    path = tmp_path / "h.safetensors"
    path.write_bytes(blob)
    return ournn.load(path)


GOOD = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


HOSTILE = [
    (b"", "shorter than the 8-byte"),
    (b"\x01\x02", "shorter than the 8-byte"),
    (struct.pack("<Q", 2**62) + b"{}", "over ournn.io.LIMITS"),
    (struct.pack("<Q", 100) + b"{}", "truncated"),
    (_file(None, raw_header=b"\xff\xfe{"), "not UTF-8"),
    (_file(None, raw_header=b"[1, 2]"), "not a JSON object"),
    (_file(None, raw_header=b"{\"w\": "), "not valid JSON"),
    (_file(None, raw_header=b"{" * 100000 + b"}" * 100000), "JSON|nested"),
    (_file({"w": [1, 2]}), "expected {dtype, shape, data_offsets}"),
    (_file({"w": {"dtype": "F32", "shape": [2]}}), "expected {dtype, shape"),
    (_file({"w": {**GOOD["w"], "extra": 1}}), "expected {dtype, shape"),
    (_file({"w": {**GOOD["w"], "dtype": "BF16"}}, b"\0" * 8), "BF16.*bfloat16.*float32"),
    (_file({"w": {**GOOD["w"], "dtype": "F8_E4M3"}}, b"\0" * 8), "NumPy has no"),
    (_file({"w": {**GOOD["w"], "dtype": "Q7"}}, b"\0" * 8), "unknown dtype"),
    (_file({"w": {**GOOD["w"], "dtype": 3}}, b"\0" * 8), "unknown dtype"),
    (_file({"w": {**GOOD["w"], "shape": [-2]}}, b"\0" * 8), "shape must be"),
    (_file({"w": {**GOOD["w"], "shape": [True, 2]}}, b"\0" * 8), "shape must be"),
    (_file({"w": {**GOOD["w"], "shape": "2"}}, b"\0" * 8), "shape must be"),
    (_file({"w": {**GOOD["w"], "shape": [1] * 65}}, b"\0" * 8), "shape must be"),
    (_file({"w": {**GOOD["w"], "data_offsets": [8, 0]}}, b"\0" * 8), "data_offsets must"),
    (_file({"w": {**GOOD["w"], "data_offsets": [-8, 0]}}, b"\0" * 8), "data_offsets must"),
    (_file({"w": {**GOOD["w"], "data_offsets": [0, 8.0]}}, b"\0" * 8), "data_offsets must"),
    (_file({"w": {**GOOD["w"], "data_offsets": [0]}}, b"\0" * 8), "data_offsets must"),
    (_file({"w": {**GOOD["w"], "shape": [3]}}, b"\0" * 8), "12 bytes but"),
    (_file(GOOD, b"\0" * 4), "past the end"),
    (_file(GOOD, b"\0" * 12), "the file has 12 bytes of data"),
    (_file({**GOOD, "v": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
           b"\0" * 8), "overlaps"),
    (_file({**GOOD, "v": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}},
           b"\0" * 16), "gap"),
    (_file({"w": {**GOOD["w"], "data_offsets": [4, 12]}}, b"\0" * 12), "gap"),
    (_file({"__metadata__": {"a": 1}, **GOOD}, b"\0" * 8), "__metadata__"),
    (_file({"__metadata__": [], **GOOD}, b"\0" * 8), "__metadata__"),
    # a huge tensor declared in a small file: refused from the header, nothing allocated
    (_file({"w": {"dtype": "F64", "shape": [10**6, 10**6],
                  "data_offsets": [0, 8 * 10**12]}}, b"\0" * 8), "past the end"),
]


@pytest.mark.parametrize("blob, match", HOSTILE,
                         ids=[re.sub(r"\W+", "_", m).strip("_") for _, m in HOSTILE])
def test_a_malformed_header_is_refused_naming_what(tmp_path, blob, match):
    with pytest.raises(CheckpointError, match=match) as e:
        _load_bytes(tmp_path, blob)
    assert "h.safetensors" in str(e.value) and "\n" not in str(e.value)


def test_the_limits_bound_the_header_the_count_and_the_total(tmp_path, monkeypatch):
    blob = _file({f"w{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]}
                  for i in range(10)}, b"\0" * 10)
    assert len(_load_bytes(tmp_path, blob)) == 10
    monkeypatch.setitem(LIMITS, "members", 5)
    with pytest.raises(CheckpointError, match="10 tensors, over"):
        _load_bytes(tmp_path, blob)
    monkeypatch.setitem(LIMITS, "members", 100)
    monkeypatch.setitem(LIMITS, "archive_bytes", 9)
    with pytest.raises(CheckpointError, match="archive_bytes"):
        _load_bytes(tmp_path, blob)
    monkeypatch.setitem(LIMITS, "meta_bytes", 50)
    with pytest.raises(CheckpointError, match="meta_bytes"):
        _load_bytes(tmp_path, blob)


def test_a_folder_or_a_missing_file_is_one_clear_error(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    with pytest.raises(CheckpointError, match="folder"):
        ournn.load(tmp_path / "d.safetensors")
    with pytest.raises(CheckpointError, match="no such"):
        ournn.load(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        load_file(tmp_path / "d.safetensors")


def test_an_empty_state_dict_round_trips(tmp_path):
    ournn.save({}, tmp_path / "e.safetensors")
    assert ournn.load(tmp_path / "e.safetensors") == {}
    if st_numpy is not None:
        assert st_numpy.load_file(str(tmp_path / "e.safetensors")) == {}


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_refused_without_being_opened(tmp_path):
    """Looking at a file's first bytes (for a safetensors file under another name) must not
    open a pipe: that would wait forever for a writer."""
    import os
    for name in ("p.ckpt", "p.safetensors"):
        os.mkfifo(tmp_path / name)
        with pytest.raises(CheckpointError, match="not a regular file"):
            ournn.load(tmp_path / name)
