"""Recurrent layers, cells, Embedding and the sequence utilities: gradients by finite
differences, and (with torch installed) forward and backward equal to PyTorch's in float64;
state dicts move both ways."""
import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.nn import functional as F
from ournn.nn.utils import rnn as U

try:
    import torch
except ImportError:     # the PyTorch comparisons are skipped
    torch = None

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections")
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")
rng = np.random.default_rng(0)

LAYERS = {"RNN": ("RNN", {}), "RNNrelu": ("RNN", {"nonlinearity": "relu"}),
          "LSTM": ("LSTM", {}), "GRU": ("GRU", {}), "LSTMproj": ("LSTM", {"proj_size": 2})}


def _pair(name, I, H, **kw):
    """The same layer in ournn and in PyTorch (float64), ournn's weights from PyTorch's."""
    cls, extra = LAYERS[name]
    kw = dict(extra, **kw)
    tm = getattr(torch.nn, cls)(I, H, dtype=torch.float64, **kw)
    om = getattr(nn, cls)(I, H, dtype="float64", **kw)
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return om, tm


def _states(name, om, B, unbatched=False):
    D = om.num_layers * (2 if om.bidirectional else 1)
    Hout = om.proj_size or om.hidden_size
    shape = (D, Hout) if unbatched else (D, B, Hout)
    h = rng.standard_normal(shape)
    if LAYERS[name][0] != "LSTM":
        return h
    return h, rng.standard_normal(shape[:-1] + (om.hidden_size,))


def _as(lib, a, grad=True):
    if isinstance(a, tuple):
        return tuple(_as(lib, x, grad) for x in a)
    if lib is torch:
        return torch.tensor(a, requires_grad=grad)
    return ournn.tensor(a, requires_grad=grad)


def _loss(out, h):
    """A loss that weighs every output differently (so each gradient is checked)."""
    hs = h if isinstance(h, tuple) else (h,)
    total = (out * out).sum()
    for k, s in enumerate(hs):
        total = total + (s * s * s).sum() * (k + 1)
    return total


def _grads(xs):
    out = []
    for x in xs:
        if isinstance(x, tuple):
            out += _grads(x)
        else:
            out.append(x.grad.numpy())
    return out


def _close(a, b, tol=1e-10):
    a = a.detach().numpy() if hasattr(a, "detach") else a.numpy() if hasattr(a, "numpy") else a
    b = b.detach().numpy() if hasattr(b, "detach") else b.numpy() if hasattr(b, "numpy") else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _compare(name, om, tm, x, hx=None):
    tx, ox = _as(torch, x), _as(ournn, x)
    targs, oargs = [tx], [ox]
    if hx is not None:
        targs.append(_as(torch, hx))
        oargs.append(_as(ournn, hx))
    to, th = tm(*targs)
    oo, oh = om(*oargs)
    _close(oo, to)
    for a, b in zip(oh if isinstance(oh, tuple) else (oh,), th if isinstance(th, tuple) else (th,)):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b)
    _loss(to, th).backward()
    _loss(oo, oh).backward()
    for a, b in zip(_grads(oargs), _grads(targs)):
        _close(a, b, 1e-9)
    tp = dict(tm.named_parameters())
    for n, p in om.named_parameters():
        _close(p.grad, tp[n].grad, 1e-9)


@needs_torch
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_layers_equal_pytorch(name, num_layers, bidirectional, with_state, batch_first):
    if num_layers == 3 and (with_state or batch_first):
        pytest.skip("covered by the other shapes")
    T, B, I, H = 5, 3, 4, 6
    om, tm = _pair(name, I, H, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=batch_first)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    _compare(name, om, tm, x, _states(name, om, B) if with_state else None)


@needs_torch
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_no_bias_and_unbatched_equal_pytorch(name):
    om, tm = _pair(name, 3, 5, bias=False, num_layers=2, bidirectional=True)
    assert not any("bias" in n for n, _ in om.named_parameters())
    _compare(name, om, tm, rng.standard_normal((4, 3)))
    om, tm = _pair(name, 3, 5, num_layers=2, batch_first=True)
    _compare(name, om, tm, rng.standard_normal((4, 3)), _states(name, om, 1, unbatched=True))


@needs_torch
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequences_equal_pytorch(name, bidirectional, enforce_sorted):
    lengths = [5, 4, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4, 3]
    B, T, I, H = len(lengths), 5, 3, 4
    om, tm = _pair(name, I, H, num_layers=2, bidirectional=bidirectional, batch_first=True)
    x = rng.standard_normal((B, T, I))
    hx = _states(name, om, B)
    tx, ox = _as(torch, x), _as(ournn, x)
    th0, oh0 = _as(torch, hx), _as(ournn, hx)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True,
                                                 enforce_sorted=enforce_sorted)
    op = U.pack_padded_sequence(ox, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    _close(op.data, tp.data)
    assert op.batch_sizes.numpy().tolist() == tp.batch_sizes.tolist()
    to, th = tm(tp, th0)
    oo, oh = om(op, oh0)
    assert isinstance(oo, U.PackedSequence)
    _close(oo.data, to.data)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True)
    opad, olen = U.pad_packed_sequence(oo, batch_first=True)
    assert olen.numpy().tolist() == tlen.tolist() == lengths
    _close(opad, tpad)
    for k, n in enumerate(lengths):             # zeros past each length
        assert not opad.numpy()[k, n:].any()
    for a, b in zip(oh if isinstance(oh, tuple) else (oh,), th if isinstance(th, tuple) else (th,)):
        _close(a, b)
    _loss(tpad, th).backward()
    _loss(opad, oh).backward()
    _close(ox.grad, tx.grad, 1e-9)
    for a, b in zip(_grads([oh0]), _grads([th0])):
        _close(a, b, 1e-9)
    tparams = dict(tm.named_parameters())
    for n, p in om.named_parameters():
        _close(p.grad, tparams[n].grad, 1e-9)


def test_h_n_is_the_state_at_each_last_valid_step():
    """Run one by one, each sequence gives the packed batch's h_n and outputs."""
    lstm = nn.LSTM(3, 4, bidirectional=True, dtype="float64")
    lengths = [3, 5, 2]
    seqs = [ournn.tensor(rng.standard_normal((n, 3))) for n in lengths]
    packed = U.pack_sequence(seqs, enforce_sorted=False)
    out, (h, c) = lstm(packed)
    padded, _ = U.pad_packed_sequence(out)
    for k, s in enumerate(seqs):
        o1, (h1, c1) = lstm(s)
        _close(padded[:lengths[k], k], o1)
        _close(h[:, k], h1)
        _close(c[:, k], c1)


@needs_torch
@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells_equal_pytorch(cls, unbatched):
    I, H, B = 3, 5, 4
    tc = getattr(torch.nn, cls)(I, H, dtype=torch.float64)
    oc = getattr(nn, cls)(I, H, dtype="float64")
    assert sorted(oc.state_dict()) == sorted(tc.state_dict())
    oc.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    shape = (I,) if unbatched else (B, I)
    hs = (H,) if unbatched else (B, H)
    x = rng.standard_normal(shape)
    h = rng.standard_normal(hs)
    hx = (h, rng.standard_normal(hs)) if cls == "LSTMCell" else h
    for state in (None, hx):
        tx, ox = _as(torch, x), _as(ournn, x)
        targs, oargs = [tx], [ox]
        if state is not None:
            targs.append(_as(torch, state))
            oargs.append(_as(ournn, state))
        to, oo = tc(*targs), oc(*oargs)
        to, oo = (to if isinstance(to, tuple) else (to,)), (oo if isinstance(oo, tuple) else (oo,))
        for a, b in zip(oo, to):
            _close(a, b)
        sum(((t * t * (k + 1)).sum() for k, t in enumerate(to))).backward()
        sum(((t * t * (k + 1)).sum() for k, t in enumerate(oo))).backward()
        for a, b in zip(_grads(oargs), _grads(targs)):
            _close(a, b, 1e-9)
        tparams = dict(tc.named_parameters())
        for n, p in oc.named_parameters():
            _close(p.grad, tparams[n].grad, 1e-9)
        tc.zero_grad()
        oc.zero_grad()


@needs_torch
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_state_dict_moves_both_ways(name):
    cls, extra = LAYERS[name]
    kw = dict(extra, num_layers=2, bidirectional=True)
    om = getattr(nn, cls)(3, 5, **kw)
    tm = getattr(torch.nn, cls)(3, 5, **kw)
    assert list(om.state_dict()) == list(tm.state_dict())
    for k, v in om.state_dict().items():
        assert tuple(v.shape) == tuple(tm.state_dict()[k].shape), k
    # ournn -> PyTorch
    tm.load_state_dict({k: torch.tensor(np.asarray(v.numpy())) for k, v in om.state_dict().items()})
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    o1, _ = om(ournn.tensor(x))
    o2, _ = tm(torch.tensor(x))
    np.testing.assert_allclose(o1.numpy(), o2.detach().numpy(), atol=1e-5)
    # PyTorch -> ournn
    tm2 = getattr(torch.nn, cls)(3, 5, **kw)
    om.load_state_dict({k: v.numpy() for k, v in tm2.state_dict().items()})
    o1, _ = om(ournn.tensor(x))
    o2, _ = tm2(torch.tensor(x))
    np.testing.assert_allclose(o1.numpy(), o2.detach().numpy(), atol=1e-5)


def test_initialisation_is_uniform_in_one_over_sqrt_hidden():
    lstm = nn.LSTM(10, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    for n, p in lstm.named_parameters():
        a = p.numpy()
        assert a.dtype == np.float32
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound, n


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradcheck(name):
    cls, extra = LAYERS[name]
    m = getattr(nn, cls)(2, 3, num_layers=2, bidirectional=True, dtype="float64", **extra)
    x = ournn.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    hx = _as(ournn, _states(name, m, 2))
    hs = hx if isinstance(hx, tuple) else (hx,)
    w = m.weight_hh_l1_reverse

    def f(x, w, *hs):
        out, h = m(x, hs if len(hs) == 2 else hs[0])
        return out, *(h if isinstance(h, tuple) else (h,))
    assert ournn.gradcheck(f, (x, w, *hs))


def test_gradcheck_packed():
    gru = nn.GRU(2, 3, bidirectional=True, dtype="float64")
    x = ournn.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)

    def f(x):
        packed = U.pack_padded_sequence(x, [2, 4, 1], batch_first=True, enforce_sorted=False)
        out, h = gru(packed)
        return U.pad_packed_sequence(out, batch_first=True)[0], h
    assert ournn.gradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradgradcheck(name):
    cls, extra = LAYERS[name]
    m = getattr(nn, cls)(2, 4, dtype="float64", bidirectional=True, num_layers=2, **extra)
    x = ournn.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    w = m.weight_ih_l0

    def f(x, w):
        out, h = m(x)
        return out, *(h if isinstance(h, tuple) else (h,))
    assert ournn.autograd.gradgradcheck(f, (x, w))


def test_gradgradcheck_packed_and_cells():
    lstm = nn.LSTM(2, 3, dtype="float64")
    x = ournn.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)
    h0 = ournn.tensor(rng.standard_normal((1, 3, 3)), requires_grad=True)
    c0 = ournn.tensor(rng.standard_normal((1, 3, 3)), requires_grad=True)

    def f(x, h0, c0):
        packed = U.pack_padded_sequence(x, [1, 3, 2], enforce_sorted=False)
        out, (h, c) = lstm(packed, (h0, c0))
        return h, c
    assert ournn.autograd.gradgradcheck(f, (x, h0, c0))
    cell = nn.GRUCell(2, 3, dtype="float64")
    xc = ournn.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    hc = ournn.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert ournn.autograd.gradgradcheck(lambda a, b: cell(a, b), (xc, hc))


def test_shapes_and_errors():
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True, bidirectional=True, proj_size=2)
    out, (h, c) = lstm(ournn.randn(3, 5, 4))
    assert out.shape == (3, 5, 4) and h.shape == (4, 3, 2) and c.shape == (4, 3, 6)
    with pytest.raises(Exception, match="input_size"):
        lstm(ournn.randn(3, 5, 3))
    with pytest.raises(Exception, match="hidden state"):
        lstm(ournn.randn(3, 5, 4), (ournn.zeros(4, 3, 6), ournn.zeros(4, 3, 6)))
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    gru = nn.GRU(4, 6, dropout=0.5, num_layers=2)
    gru.eval()
    a, _ = gru(ournn.randn(5, 2, 4))
    assert a.shape == (5, 2, 6)
    assert "LSTM(4, 6, proj_size=2" in repr(lstm)


def test_float32_input_and_training_step():
    model = nn.LSTM(3, 8)
    head = nn.Linear(8, 2)
    opt = ournn.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=0.05)
    x = ournn.tensor(rng.standard_normal((6, 16, 3)).astype(np.float32))
    y = ournn.tensor((x.numpy().sum(axis=(0, 2)) > 0).astype(np.int64))
    losses = []
    for _ in range(30):
        out, _ = model(x)
        loss = F.cross_entropy(head(out[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert out.dtype == np.float32
    assert losses[-1] < 0.5 * losses[0]


def test_save_and_load_an_lstm(tmp_path):
    model = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    path = tmp_path / "lstm.ckpt"
    ournn.save(model, path)
    again = ournn.load(path)
    assert type(again) is nn.LSTM and again.get_config() == model.get_config()
    x = ournn.randn(2, 4, 3)
    _close(again(x)[0], model(x)[0])
    seq = nn.Sequential(nn.Embedding(10, 3), nn.GRUCell(3, 4))
    ournn.save(seq, tmp_path / "s.ckpt")
    again = ournn.load(tmp_path / "s.ckpt")
    _close(again[0].weight, seq[0].weight)


# ---------------------------------------------------------------- Embedding
@needs_torch
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_equals_pytorch(padding_idx, scale_grad_by_freq):
    te = torch.nn.Embedding(7, 3, padding_idx=padding_idx, dtype=torch.float64,
                            scale_grad_by_freq=scale_grad_by_freq)
    oe = nn.Embedding(7, 3, padding_idx=padding_idx, dtype="float64",
                      scale_grad_by_freq=scale_grad_by_freq)
    if padding_idx is not None:
        assert not oe.weight.numpy()[padding_idx].any()
    oe.load_state_dict({"weight": te.weight.detach().numpy()})
    idx = np.array([[0, 2, 2, 6], [6, 1, 2, 0]])
    to, oo = te(torch.tensor(idx)), oe(ournn.tensor(idx))
    _close(oo, to)
    g = rng.standard_normal(to.shape)
    (to * torch.tensor(g)).sum().backward()
    (oo * ournn.tensor(g)).sum().backward()
    _close(oe.weight.grad, te.weight.grad)
    if padding_idx is not None:
        assert not oe.weight.grad.numpy()[padding_idx].any()


@needs_torch
def test_embedding_max_norm_renormalises_like_pytorch():
    w = rng.standard_normal((6, 4)) * 3
    te = torch.nn.Embedding.from_pretrained(torch.tensor(w), max_norm=1.5, freeze=False)
    oe = nn.Embedding.from_pretrained(w, max_norm=1.5, freeze=False)
    idx = np.array([1, 3, 3, 4])
    _close(oe(ournn.tensor(idx)), te(torch.tensor(idx)))
    _close(oe.weight, te.weight)           # the rows looked up, renormalised in place
    norms = np.linalg.norm(oe.weight.numpy(), axis=1)
    assert np.all(norms[[1, 3, 4]] <= 1.5 + 1e-6)
    _close(norms[[0, 2, 5]], np.linalg.norm(w, axis=1)[[0, 2, 5]])


def test_embedding_extras():
    e = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32))
    assert not e.weight.requires_grad
    assert e(ournn.tensor([2, 0])).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(IndexError):
        nn.Embedding(4, 2)(ournn.tensor([4]))
    w = ournn.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = ournn.tensor([[1, 1], [4, 0]])
    assert ournn.gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert ournn.autograd.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    big = nn.Embedding(5000, 2)
    out = big(ournn.tensor([3, 3, 4999]))
    out.sum().backward()
    assert big.weight.grad.numpy()[3].tolist() == [2, 2]


@needs_torch
def test_one_hot():
    a = np.array([[0, 3], [2, 1]])
    assert np.array_equal(F.one_hot(ournn.tensor(a)).numpy(),
                          torch.nn.functional.one_hot(torch.tensor(a)).numpy())
    assert F.one_hot(ournn.tensor([1]), 5).shape == (1, 5)
    with pytest.raises(ValueError):
        F.one_hot(ournn.tensor([5]), 3)


# ---------------------------------------------------------------- sequence utilities
@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_equals_pytorch(batch_first, padding_side):
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    tp = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=batch_first,
                                         padding_value=-1.0, padding_side=padding_side)
    osq = [ournn.tensor(s, requires_grad=True) for s in seqs]
    op = U.pad_sequence(osq, batch_first=batch_first, padding_value=-1.0,
                        padding_side=padding_side)
    _close(op, tp)
    (op * op).sum().backward()
    for s, t in zip(osq, seqs):
        _close(s.grad, 2 * t)


def test_pack_errors_and_round_trip():
    x = ournn.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="enforce_sorted"):
        U.pack_padded_sequence(x, [1, 4, 2])
    packed = U.pack_padded_sequence(x, [1, 4, 2], enforce_sorted=False)
    back = U.unpack_sequence(packed)
    for k, n in enumerate([1, 4, 2]):
        _close(back[k], x[:n, k])
    padded, lengths = U.pad_packed_sequence(packed, padding_value=9.0, total_length=6)
    assert padded.shape == (6, 3, 2) and lengths.numpy().tolist() == [1, 4, 2]
    assert (padded.numpy()[1:, 0] == 9).all()


def test_utils_is_a_package_keeping_its_names():
    import ournn.nn.utils as utils
    for name in ("clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
                 "vector_to_parameters", "rnn"):
        assert hasattr(utils, name)
    from ournn.nn.modules.rnn import LSTM
    from ournn.nn.modules.sparse import Embedding
    assert LSTM is nn.LSTM and Embedding is nn.Embedding


# ---------------------------------------------------------------- BLAS threads, the zoo model
def test_one_blas_thread_restores_the_count_and_falls_back(monkeypatch):
    import ournn.ops.rnn as R
    if R._BLAS is not None:
        get, put = R._BLAS
        before = get()
        put(2)
        try:
            with R.one_blas_thread():
                assert get() == 1
            assert get() == 2
            with pytest.raises(ValueError):
                with R.one_blas_thread():
                    raise ValueError
            assert get() == 2
        finally:
            put(before)
    monkeypatch.setattr(R, "LOOP_THREADS", "default")
    x = ournn.randn(5, 2, 3)
    lstm = nn.LSTM(3, 4)
    out_default = lstm(x)[0].numpy()
    monkeypatch.setattr(R, "LOOP_THREADS", "one")
    np.testing.assert_allclose(lstm(x)[0].numpy(), out_default, rtol=1e-6, atol=1e-7)
    monkeypatch.setattr(R, "_BLAS", None)        # no OpenBLAS found: nothing changes
    with R.one_blas_thread():
        pass
    lstm = nn.LSTM(3, 4)
    lstm(ournn.randn(5, 2, 3))[0].sum().backward()
    assert lstm.weight_hh_l0.grad is not None


def test_loop_threads_chooser_follows_the_faster_setting():
    from ournn.ops.rnn import LoopThreads
    c = LoopThreads("one")
    speed = {"one": 2.0, "default": 1.0}       # seconds per step of each setting, now

    def run(loops):
        used = []
        for k in range(loops):
            setting = c.pick()
            used.append(setting)
            key = ("LSTM", "forward" if k % 2 == 0 else "backward", 128, 128)
            c.record(key, setting, speed[setting] * (1.5 if key[1] == "backward" else 1))
        return used

    run(c.PERIOD + c.WINDOW)         # one probe of "default": faster, kept
    assert c.choice == "default" and c.period == c.PERIOD
    speed.update(one=1.0, default=5.0)         # the machine got busy: one thread wins
    used = run(c.PERIOD + c.WINDOW)
    assert c.choice == "one"
    assert used[0] == "default" and "one" in used[-c.WINDOW:]   # after the probe: one thread
    period = c.period
    run(c.PERIOD * 2 + c.WINDOW)               # probes of "default" lose: rarer probes
    assert c.choice == "one" and c.period > period


def test_zoo_lstm_reads_images_row_by_row(tmp_path):
    from ournn.models import get_model
    model = get_model("lstm", hidden_size=16)
    x = ournn.tensor(np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32))
    logits = model(x)
    assert logits.shape == (3, 10)
    rows = x.reshape(3, 28, 28)
    _, (h, _) = model.lstm(rows)
    _close(logits, model.fc(h[-1]))
    assert sum(p.numel() for p in get_model("lstm").parameters()) == 82_186
    ournn.save(model, tmp_path / "m.ckpt")
    again = ournn.load(tmp_path / "m.ckpt")
    _close(again(x), logits)
