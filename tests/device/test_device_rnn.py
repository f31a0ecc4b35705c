"""The recurrent ops (ops/rnn.py: the LSTM, GRU and RNN loops over time and their BPTT, the
embedding's backward) on the stand-in device, against the CPU: every output and every
gradient (input, initial states, weights), several layers, both directions, projections,
gradients of gradients; the BLAS-thread chooser is not consulted for device arrays."""
import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
from ournn import nn  # noqa: E402
from ournn.autograd.grad import grad as autograd_grad  # noqa: E402
from ournn.ops import rnn as R  # noqa: E402

LAYERS = {"RNN": ("RNN", {}), "RNNrelu": ("RNN", {"nonlinearity": "relu"}),
          "LSTM": ("LSTM", {}), "GRU": ("GRU", {}), "LSTMproj": ("LSTM", {"proj_size": 3})}


def _layer(name, **kw):
    cls, extra = LAYERS[name]
    ournn.manual_seed(2)
    return getattr(nn, cls)(4, 5, **extra, **kw)


def _states(name, layer, B, rng):
    D = layer.num_layers * (2 if layer.bidirectional else 1)
    h = rng.standard_normal((D, B, layer.proj_size or layer.hidden_size))
    if LAYERS[name][0] != "LSTM":
        return (h,)
    return h, rng.standard_normal((D, B, layer.hidden_size))


def _run(name, dev, with_state, **kw):
    rng = np.random.default_rng(7)
    layer = _layer(name, **kw).to(dev)
    x = ournn.tensor(rng.standard_normal((3, 6, 4)), dtype="float32",
                     requires_grad=True).to(dev)
    x.retain_grad()
    states = None
    if with_state:
        states = [ournn.tensor(s, dtype="float32", requires_grad=True).to(dev)
                  for s in _states(name, layer, 6, rng)]
        for s in states:
            s.retain_grad()
    hx = None if states is None else (states[0] if len(states) == 1 else tuple(states))
    out, h = layer(x, hx)
    assert out.device == dev
    hs = h if isinstance(h, tuple) else (h,)
    w = np.random.default_rng(8)
    total = (out * ournn.tensor(w.standard_normal(out.shape), dtype="float32").to(dev)).sum()
    for k, s in enumerate(hs):
        total = total + (s * s).sum() * (k + 2)
    total.backward()
    got = {"out": out, **{f"h{k}": s for k, s in enumerate(hs)}, "dx": x.grad}
    for k, s in enumerate(states or []):
        got[f"dstate{k}"] = s.grad
    for n, p in layer.named_parameters():
        got["d" + n] = p.grad
    for k, v in got.items():
        assert v.device == dev, k
    return {k: v.detach().cpu().numpy().copy() for k, v in got.items()}


CASES = [(name, dict(num_layers=1)) for name in sorted(LAYERS)] + \
        [(name, dict(num_layers=2, bidirectional=True)) for name in sorted(LAYERS)]


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw['num_layers']}" for n, kw in CASES])
def test_recurrent_layers_on_the_device_equal_the_cpu(name, kw, with_state):
    cpu = _run(name, "cpu", with_state, **kw)
    dev = _run(name, "cuda", with_state, **kw)
    assert cpu.keys() == dev.keys()
    for k in cpu:
        np.testing.assert_allclose(dev[k], cpu[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_the_blas_thread_chooser_is_for_numpy_only():
    calls = [c.calls for c in R._choosers.values()]
    _run("LSTM", "cuda", False)
    _run("GRU", "cuda", True)
    assert [c.calls for c in R._choosers.values()] == calls


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_gradients_of_gradients_on_the_device(name):
    results = []
    for dev in ("cpu", "cuda"):
        layer = _layer(name).to(dev).double()
        x = ournn.tensor(np.random.default_rng(3).standard_normal((2, 3, 4)),
                         requires_grad=True).to(dev)
        out, _ = layer(x)
        (gx,) = autograd_grad([(out * out).sum()], [x], create_graph=True)
        (ggx,) = autograd_grad([(gx * gx).sum()], [x])
        assert ggx.device == dev
        results.append((gx.detach().cpu().numpy(), ggx.cpu().numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("V,padding_idx,scale,max_norm", [
    (10, None, False, None), (10, 2, True, None), (5000, 7, False, None),
    (5000, None, True, None), (10, None, False, 0.5), (10, 2, False, 1.0)])
def test_embedding_on_the_device_equals_the_cpu(V, padding_idx, scale, max_norm):
    idx = np.random.default_rng(4).integers(0, min(V, 12), (4, 6))
    results = []
    for dev in ("cpu", "cuda"):
        ournn.manual_seed(1)
        emb = nn.Embedding(V, 3, padding_idx=padding_idx, scale_grad_by_freq=scale,
                           max_norm=max_norm).to(dev)
        out = emb(ournn.tensor(idx).to(dev))
        w = ournn.tensor(np.random.default_rng(5).standard_normal(out.shape),
                         dtype="float32").to(dev)
        (out * w).sum().backward()
        assert out.device == dev and emb.weight.grad.device == dev
        results.append((out.detach().cpu().numpy(), emb.weight.grad.cpu().numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


def test_an_lstm_language_model_trains_on_the_device():
    """Embedding -> LSTM -> Linear, a few Adam steps: the same losses as on the CPU."""
    losses = {}
    ids = np.random.default_rng(6).integers(0, 11, (4, 9))
    for dev in ("cpu", "cuda"):
        ournn.manual_seed(0)
        emb, lstm, head = nn.Embedding(11, 6), nn.LSTM(6, 8, batch_first=True), \
            nn.Linear(8, 11)
        model = nn.ModuleList([emb, lstm, head]).to(dev)
        opt = ournn.optim.Adam(model.parameters(), lr=0.01)
        x, y = ournn.tensor(ids[:, :-1]).to(dev), ournn.tensor(ids[:, 1:]).to(dev)
        seen = []
        for _ in range(4):
            out, _ = lstm(emb(x))
            loss = nn.functional.cross_entropy(head(out).reshape(-1, 11), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            seen.append(loss.item())
        losses[dev] = seen
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-5)
