"""``fit``, ``evaluate`` and ``predict`` with a model on the stand-in device, against the same
on the CPU: the same losses, metrics and weights; batches moved once each; nothing but
scalars read back during the training steps; a checkpoint written during ``fit`` on the
device resumes onto either device."""
import importlib

import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
from ournn import nn  # noqa: E402
from ournn.data import ArrayDataset, DataLoader  # noqa: E402
from ournn.train import callbacks as C  # noqa: E402
from ournn.train.loop import evaluate, fit, predict  # noqa: E402

D = importlib.import_module("ournn.device")


def _data(n=96, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    return x, y


def _model():
    ournn.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def _weights(model):
    return {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}


def _fit(dev, epochs=2, callbacks=(), resume=None, model=None):
    x, y = _data()
    model = (model or _model()).to(dev)
    hist = fit(model, (x, y), epochs=epochs, batch_size=16, validation_data=_data(40, 2),
               optimizer="adam", lr=0.01, verbose=0, seed=5, callbacks=list(callbacks),
               resume=resume)
    return model, hist


def test_fit_on_the_device_gives_the_cpu_losses_and_weights():
    m_c, h_c = _fit("cpu")
    m_d, h_d = _fit("cuda")
    assert all(p.device == "cuda" for p in m_d.parameters())
    assert len(h_d.steps["loss"]) == 12
    np.testing.assert_allclose(h_d.steps["loss"], h_c.steps["loss"], rtol=1e-5)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h_d.history[key], h_c.history[key], rtol=1e-5, err_msg=key)
    w_c, w_d = _weights(m_c), _weights(m_d)
    for k in w_c:
        np.testing.assert_allclose(w_d[k], w_c[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_each_batch_moves_once_and_only_scalars_come_back():
    entry = D._BACKENDS["cuda"]
    moved, back = [], []
    to_device, to_host = entry.to_device, entry.to_host
    entry.to_device = lambda a, i: (moved.append(a.shape), to_device(a, i))[1]
    entry.to_host = lambda a: (back.append(a.shape), to_host(a))[1]
    try:
        model = _model().to("cuda")
        moved.clear()
        x, y = _data()
        loader = DataLoader(ArrayDataset(x, y), batch_size=32, shuffle=True, pin_memory=True)
        fit(model, loader, epochs=2, verbose=0)
    finally:
        entry.to_device, entry.to_host = to_device, to_host
    assert back == []                  # no array copied to the host during training
    assert moved == [(32, 6), (32,)] * 6     # inputs and targets of each batch, once


def test_evaluate_and_predict_on_the_device_equal_the_cpu():
    x, y = _data(50, 3)
    results = {}
    for dev in ("cpu", "cuda"):
        model = _model().to(dev)
        result, outs = evaluate(model, (x, y), batch_size=16, return_outputs=True)
        results[dev] = result, outs, predict(model, x, batch_size=16), \
            predict(model, ArrayDataset(x, y), batch_size=16)
    (r_c, o_c, p_c, q_c), (r_d, o_d, p_d, q_d) = results["cpu"], results["cuda"]
    assert r_d.keys() == r_c.keys()
    for k in r_c:
        np.testing.assert_allclose(r_d[k], r_c[k], rtol=1e-5, err_msg=k)
    for a, b in ((o_c, o_d), (p_c, p_d), (q_c, q_d)):
        assert type(b) is np.ndarray
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_device_tensors_as_training_data():
    x, y = _data()
    losses = []
    for dev in ("cpu", "cuda"):
        hist = fit(_model().to(dev), (ournn.tensor(x).to(dev), ournn.tensor(y).to(dev)),
                   epochs=1, batch_size=32, verbose=0, seed=5)
        losses.append(hist.steps["loss"])
    assert len(losses[1]) == 3
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


@pytest.mark.parametrize("onto", ["cpu", "cuda"])
def test_a_checkpoint_written_during_fit_on_the_device_resumes_onto_either(tmp_path, onto):
    whole, h_whole = _fit("cuda", epochs=3)
    _fit("cuda", epochs=2, callbacks=[C.ModelCheckpoint(str(tmp_path))])
    state = ournn.load(tmp_path / "last.ckpt", map_location=onto)["trainer"]
    again, h_again = _fit(onto, epochs=3, resume=state)
    assert all(p.device == onto for p in again.parameters())
    np.testing.assert_allclose(h_again.steps["loss"], h_whole.steps["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_again.history["val_loss"], h_whole.history["val_loss"],
                               rtol=1e-5)
    w_a, w_b = _weights(whole), _weights(again)
    for k in w_a:
        np.testing.assert_allclose(w_b[k], w_a[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_early_stopping_keeps_the_best_weights_of_a_device_model():
    x, y = _data()
    model = _model().to("cuda")
    stop = C.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    fit(model, (x, y), epochs=4, batch_size=16, validation_data=_data(40, 2), lr=0.5,
        optimizer="sgd", verbose=0, seed=5, callbacks=[stop])
    assert all(p.device == "cuda" for p in model.parameters())
    assert all(type(v) is np.ndarray for v in stop.best_weights.values())
