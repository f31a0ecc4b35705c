"""Layers, optimizers and checkpoints on the stand-in device, against the CPU: every layer of
the config examples of tests/nn (forward and backward), every optimizer of the registry (a
few steps), a short training loop and a checkpoint saved from the device and loaded onto
either device."""
import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
from ournn import nn  # noqa: E402
from ournn.optim.registry import make_optimizer, optimizer_names  # noqa: E402

import replay  # noqa: E402
import standin  # noqa: E402

_LAYERS = replay._module("nn/test_nn_layers_more.py")
EXAMPLES, INPUT = _LAYERS.EXAMPLES, _LAYERS.INPUT
# the recurrent layers, attention and embeddings (tested on the CPU in tests/nn) are not
# examples there; here they have their own inputs
MORE = {"LSTM": (lambda: nn.LSTM(4, 5, batch_first=True), (2, 3, 4)),
        "GRU": (lambda: nn.GRU(4, 5, batch_first=True), (2, 3, 4)),
        "RNN": (lambda: nn.RNN(4, 5, batch_first=True), (2, 3, 4)),
        "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True),
                               (2, 3, 4))}


def _run(make, x, dev):
    ournn.manual_seed(3)
    layer = make().to(dev)
    layer.train(False) if hasattr(layer, "p") else None      # dropout: masks differ by device
    xt = ournn.tensor(x, requires_grad=x.dtype.kind == "f").to(dev)
    out = layer(xt, xt, xt) if isinstance(layer, nn.MultiheadAttention) else layer(xt)
    out = out[0] if isinstance(out, tuple) else out
    assert out.device.type == ournn.device(dev).type
    w = ournn.tensor(np.random.default_rng(5).standard_normal(out.shape), dtype=out.dtype)
    if out.dtype.kind == "f" and out.requires_grad:
        (out * w.to(dev)).sum().backward()
    grads = {n: p.grad.cpu().numpy().copy() for n, p in layer.named_parameters()
             if p.grad is not None}
    return out.detach().cpu().numpy().copy(), grads


LAYER_CASES = [pytest.param(n, m, s, id=n) for n, m, s in
               [(n, EXAMPLES[n][0], INPUT[EXAMPLES[n][1]]) for n in sorted(EXAMPLES)]
               + [(n, m, s) for n, (m, s) in sorted(MORE.items())]]


@pytest.mark.parametrize("name,make,shape", LAYER_CASES)
def test_layer_forward_backward_on_device_equals_cpu(name, make, shape):
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    out_c, g_c = _run(make, x, "cpu")
    out_d, g_d = _run(make, x, "cuda")
    np.testing.assert_allclose(out_d, out_c, rtol=2e-5, atol=2e-6)
    assert g_c.keys() == g_d.keys()
    for k in g_c:
        np.testing.assert_allclose(g_d[k], g_c[k], rtol=2e-4, atol=2e-5, err_msg=k)


def _model():
    ournn.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3))


def _train(dev, name, steps=3):
    model = _model().to(dev)
    opt = make_optimizer(name, model.parameters())
    sched = ournn.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    rng = np.random.default_rng(1)
    x = ournn.tensor(rng.standard_normal((16, 6)), dtype=np.float32).to(dev)
    y = ournn.tensor(rng.integers(0, 3, 16)).to(dev)
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)
        sched.step()
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    for state in opt.state.values():
        for v in state.values():
            if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
                assert ournn.Tensor(v).device.type == ournn.device(dev).type if not \
                    isinstance(v, ournn.Tensor) else v.device.type == ournn.device(dev).type
    return model, opt


@pytest.mark.parametrize("name", optimizer_names())
def test_optimizer_steps_on_device_equal_cpu(name):
    m_c, _ = _train("cpu", name)
    m_d, _ = _train("cuda", name)
    for (k, a), b in zip(m_c.state_dict().items(), m_d.state_dict().values()):
        assert b.device.type == "cuda", k
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_checkpoint_saved_from_the_device_loads_onto_either(tmp_path):
    model, opt = _train("cuda", "adam")
    path = tmp_path / "m.pt"
    ournn.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    for dev in ("cpu", "cuda"):
        ck = ournn.load(path, map_location=dev)
        again = _model().to(dev)
        again.load_state_dict(ck["model"])
        assert all(p.device.type == dev for p in again.parameters())
        opt2 = make_optimizer("adam", again.parameters())
        opt2.load_state_dict(ck["optimizer"])
        for (k, a), b in zip(model.state_dict().items(), again.state_dict().values()):
            np.testing.assert_array_equal(b.cpu().numpy(), a.cpu().numpy(), err_msg=k)


def test_dropout_on_the_device_draws_from_the_device_generator():
    x = ournn.ones(1000, device="cuda")
    ournn.manual_seed(4)
    a = nn.functional.dropout(x, 0.5)
    ournn.manual_seed(4)
    b = nn.functional.dropout(x, 0.5)
    assert a.device == "cuda" and np.array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert 350 < int((a.cpu().numpy() == 0).sum()) < 650
    cpu_state = ournn.random.get_state()
    nn.functional.dropout(x, 0.5)
    assert ournn.random.get_state() == cpu_state        # the CPU's stream is untouched
