"""fit / evaluate / predict, callbacks, checkpoints and exact resume, on real MNIST slices."""
import json
import os

import numpy as np
import pytest

import ournn
import ournn.nn as nn
from ournn.data import MNIST, ArrayDataset, DataLoader
from ournn.train import (CSVLogger, EarlyStopping, LambdaCallback, LRSchedulerCallback,
                         ModelCheckpoint, NonFiniteLossError)


@pytest.fixture(scope="module")
def mnist_slice():
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    return x[:1200], y[:1200], tx[:500], ty[:500]


def small_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, 10))


def test_fit_learns_and_returns_history(mnist_slice):
    x, y, tx, ty = mnist_slice
    ournn.manual_seed(0)
    model = small_mlp()
    history = model.fit((x, y), epochs=3, batch_size=64, optimizer="adam", lr=2e-3,
                        validation_data=(tx, ty), verbose=0)
    assert history.epoch == [1, 2, 3]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.8
    assert len(history.steps["loss"]) == 3 * 19
    result = model.evaluate((tx, ty))
    assert result["accuracy"] == pytest.approx(history.history["val_accuracy"][-1])
    logits = model.predict(tx)
    assert logits.shape == (500, 10) and logits.dtype == np.float32
    again, outputs = ournn.train.evaluate(model, (tx, ty), return_outputs=True)
    assert again == result
    np.testing.assert_array_equal(outputs, logits)
    assert np.mean(logits.argmax(1) == ty) == pytest.approx(result["accuracy"])
    assert model.training   # evaluate/predict restore the mode


def test_plain_pytorch_style_loop(mnist_slice):
    x, y, tx, ty = mnist_slice
    ournn.manual_seed(0)
    model = small_mlp()
    opt = ournn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(ArrayDataset(x, y), batch_size=64, shuffle=True)
    for _ in range(3):
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with ournn.no_grad():
        acc = (model(tx).numpy().argmax(1) == ty).mean()
    assert acc > 0.8


def test_progress_bar_one_line_per_epoch_when_not_a_terminal(mnist_slice, capsys):
    x, y, _, _ = mnist_slice
    small_mlp().fit((x[:256], y[:256]), epochs=2, batch_size=64)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "samples/s" in lines[0]


def test_progress_bar_on_a_terminal_shows_eta():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True
    stream = Tty()
    x = np.random.default_rng(0).random((256, 784), dtype=np.float32)
    y = np.zeros(256, dtype=np.int64)
    bar = ournn.train.ProgressBar(stream=stream, min_interval=0)
    small_mlp().fit((x, y), epochs=1, batch_size=32, callbacks=[bar])
    text = stream.getvalue()
    assert "ETA" in text and "samples/s" in text and "\r" in text and "[" in text


def test_callbacks_csv_checkpoint_early_stopping(tmp_path, mnist_slice):
    x, y, tx, ty = mnist_slice
    seen = []
    cbs = [CSVLogger(tmp_path / "m.csv"), ModelCheckpoint(tmp_path),
           EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0),
           LambdaCallback(on_epoch_end=lambda t, logs: seen.append(logs["val_loss"]))]
    history = small_mlp().fit((x, y), epochs=5, validation_data=(tx, ty), callbacks=cbs,
                              verbose=0)
    assert len(history.epoch) == 2        # nothing improves by 10: stops after patience
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,loss,accuracy") and len(rows) == 3
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
    assert len(seen) == 2
    # last.ckpt holds the last epoch, best.ckpt the one with the best monitored value
    # (ModelCheckpoint's default: val_accuracy)
    last = ournn.load(tmp_path / "last.ckpt", rebuild=False)
    best = ournn.load(tmp_path / "best.ckpt", rebuild=False)
    assert last["logs"]["val_loss"] == pytest.approx(seen[-1])
    top = max(history.history["val_accuracy"])
    assert best["best"] == pytest.approx(top) == best["logs"]["val_accuracy"]


def test_lr_scheduler_callback_steps_per_step():
    model = small_mlp()
    opt = ournn.optim.SGD(model.parameters(), lr=1.0)
    sched = ournn.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x = np.zeros((64, 784), dtype=np.float32)
    y = np.zeros(64, dtype=np.int64)
    h = model.fit((x, y), epochs=1, batch_size=16, optimizer=opt, verbose=0,
                  callbacks=[LRSchedulerCallback(sched, interval="step")])
    assert h.steps["lr"] == [1.0, 0.5, 0.25, 0.125]


def test_non_finite_loss_stops_with_epoch_and_step(tmp_path, mnist_slice):
    x, y, _, _ = mnist_slice
    model = small_mlp()
    ckpt = ModelCheckpoint(tmp_path, monitor="loss")
    model.fit((x[:128], y[:128]), epochs=1, batch_size=64, callbacks=[ckpt], verbose=0)
    good = (tmp_path / "last.ckpt").read_bytes()

    def explode(t, loss):
        if t.epoch == 1 and t.step == 1:
            model[1].weight.numpy()[...] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 2"):
        model.fit((x[:128], y[:128]), epochs=2, batch_size=64, verbose=0, shuffle=False,
                  callbacks=[LambdaCallback(on_batch_end=explode), ckpt],
                  resume=ournn.load(tmp_path / "last.ckpt", rebuild=False)["trainer"])
    assert (tmp_path / "last.ckpt").read_bytes() == good


def _train_run(x, y, epochs, interrupt_at=None, resume=None, folder=None):
    ournn.manual_seed(42)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(32, 10))
    opt = ournn.optim.Adam(model.parameters(), lr=1e-3)
    sched = ournn.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * 8)
    from ournn.data.transforms import RandomShift
    loader = DataLoader(ArrayDataset(x, y), batch_size=50, shuffle=True, seed=7,
                        transform=RandomShift(2, seed=3))
    callbacks = [LRSchedulerCallback(sched, interval="step"), ModelCheckpoint(folder)]
    if interrupt_at is not None:
        def stop(trainer, loss):
            if (trainer.epoch, trainer.step) == interrupt_at:
                trainer.stop_training = True
                trainer.stop_reason = "interrupt"
        callbacks.append(LambdaCallback(on_batch_end=stop))
    state = ournn.load(resume, rebuild=False)["trainer"] if resume else None
    history = model.fit(loader, epochs=epochs, optimizer=opt, callbacks=callbacks, verbose=0,
                        resume=state)
    return model, history


def test_resume_mid_epoch_gives_exactly_the_uninterrupted_weights(tmp_path, mnist_slice):
    x, y = mnist_slice[0][:400], mnist_slice[1][:400]
    full, h_full = _train_run(x, y, 3, folder=tmp_path / "a")
    _, h_cut = _train_run(x, y, 3, interrupt_at=(1, 3), folder=tmp_path / "b")
    assert h_cut.interrupted and len(h_cut.epoch) == 1
    resumed, h_res = _train_run(x, y, 3, resume=tmp_path / "b" / "last.ckpt",
                                folder=tmp_path / "b")
    for (n, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=n)
    assert h_res.steps["loss"] == h_full.steps["loss"]
    assert h_res.history["loss"] == h_full.history["loss"]


def test_save_load_round_trips(tmp_path):
    ournn.manual_seed(0)
    model = ournn.models.get_model("lenet5")
    ournn.save(model, tmp_path / "m.ckpt")
    again = ournn.load(tmp_path / "m.ckpt")
    assert type(again) is nn.Sequential
    for (n, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=n)
    custom = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 14 * 14, 3))
    ournn.save({"model": custom, "step": 3, "opt": ournn.optim.Adam(custom.parameters())
                .state_dict(), "tuple": (1, 2.5, "x")}, tmp_path / "c.ckpt")
    back = ournn.load(tmp_path / "c.ckpt")
    assert back["step"] == 3 and back["tuple"] == (1, 2.5, "x")
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    custom.eval()
    back["model"].eval()
    np.testing.assert_array_equal(custom(x).numpy(), back["model"](x).numpy())
    sd = custom.state_dict()
    ournn.save(sd, tmp_path / "sd.npz")
    loaded = ournn.load(tmp_path / "sd.npz")
    assert list(loaded) == list(sd) and loaded["1.running_var"].dtype == np.float32


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(ournn.CheckpointError, match="no such"):
        ournn.load(tmp_path / "missing.ckpt")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ournn.CheckpointError, match="bad.ckpt"):
        ournn.load(bad)
    ournn.save(ournn.models.get_model("mlp"), tmp_path / "m.ckpt")
    data = (tmp_path / "m.ckpt").read_bytes()
    (tmp_path / "trunc.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ournn.CheckpointError, match="trunc.ckpt"):
        ournn.load(tmp_path / "trunc.ckpt")
    other = ournn.models.get_model("lenet5")
    with pytest.raises(ournn.CheckpointError, match="missing keys"):
        other.load_state_dict(ournn.load(tmp_path / "m.ckpt").state_dict())
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ournn.CheckpointError, match="not an ournn checkpoint"):
        ournn.load(tmp_path / "plain.npz")


def test_user_defined_module_cannot_be_saved_whole_but_its_state_can(tmp_path):
    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x)
    with pytest.raises(ournn.CheckpointError, match="state_dict"):
        ournn.save(Mine(), tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()
    ournn.save(Mine().state_dict(), tmp_path / "x.ckpt")
    Mine().load_state_dict(ournn.load(tmp_path / "x.ckpt"))


def test_atomic_save_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.ckpt"
    ournn.save({"a": np.ones(3)}, path)
    before = path.read_bytes()
    import ournn.io as oio

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(oio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        ournn.save({"a": np.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.ckpt"]


def test_zoo_parameter_counts():
    counts = {n: sum(p.numel() for p in ournn.models.get_model(n).parameters())
              for n in ournn.models.list_models()}
    assert counts["strided_cnn"] == 2_201_322
    assert counts["mlp"] == 784 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 10 + 10
    for name in ournn.models.list_models():
        if name in ournn.models.SEQUENCE_MODELS:          # text models read character ids
            logits, _ = ournn.models.get_model(name).eval()(np.zeros((2, 5), np.int64))
            assert logits.shape[:2] == (2, 5), name
            continue
        out = ournn.models.get_model(name).eval()(np.zeros((2, 1, 28, 28), np.float32))
        assert out.shape == (2, 10), name
    with pytest.raises(ValueError, match="unknown model"):
        ournn.models.get_model("resnet1000")
    assert json.dumps(ournn.nn.config.module_config(ournn.models.get_model("cnn")))


def test_fit_with_a_callable_metric_validates_with_it():
    def error_rate(output, target):
        pred = output.numpy().argmax(axis=1)
        target = np.asarray(target)
        return float((pred != target).sum()), len(target)
    rng = np.random.default_rng(0)
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    ournn.manual_seed(0)
    model = small_mlp()
    history = model.fit((x, y), epochs=2, batch_size=16, metrics=[error_rate, "accuracy"],
                        validation_data=(x[:32], y[:32]), verbose=0)
    assert sorted(history.history) == sorted(["loss", "error_rate", "accuracy", "lr",
                                              "val_loss", "val_error_rate", "val_accuracy",
                                              "time"])
    for prefix in ("", "val_"):
        for e, a in zip(history.history[prefix + "error_rate"],
                        history.history[prefix + "accuracy"]):
            assert e == pytest.approx(1 - a)
    result = ournn.train.evaluate(model, (x[:32], y[:32]), metrics=[error_rate, "accuracy"])
    assert result["error_rate"] == pytest.approx(history.history["val_error_rate"][-1])


def test_callbacks_run_by_priority_whatever_order_they_are_listed_in(tmp_path):
    from ournn.train.callbacks import PRIORITY_DEFAULT, PRIORITY_RECORD, PRIORITY_UPDATE
    calls = []

    class Probe(ournn.train.Callback):
        def __init__(self, name, priority=None):
            self.name = name
            if priority is not None:
                self.priority = priority

        def on_batch_end(self, trainer, loss):
            calls.append(self.name)

    model = small_mlp()
    opt = ournn.optim.SGD(model.parameters(), lr=1.0)
    sched = ournn.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    lrs_seen_by_checkpoint = []

    class Checkpoint(ModelCheckpoint):
        def on_epoch_end(self, trainer, logs):
            lrs_seen_by_checkpoint.append(trainer.current_lr())
            super().on_epoch_end(trainer, logs)
    callbacks = [Checkpoint(tmp_path), Probe("record", PRIORITY_RECORD), Probe("a"),
                 LambdaCallback(on_batch_end=lambda t, loss: calls.append("lambda")),
                 Probe("update", PRIORITY_UPDATE), Probe("b"), Probe("first", 1000)]
    assert ModelCheckpoint.priority == PRIORITY_RECORD == ournn.train.CSVLogger.priority
    assert LRSchedulerCallback.priority == PRIORITY_UPDATE and Probe("x").priority == PRIORITY_DEFAULT
    x = np.zeros((16, 784), dtype=np.float32)
    y = np.zeros(16, dtype=np.int64)
    h = model.fit((x, y), epochs=2, batch_size=16, optimizer=opt, schedulers=[sched],
                  callbacks=callbacks, verbose=0)
    assert calls == ["first", "update", "a", "lambda", "b", "record"] * 2
    assert h.history["lr"] == [1.0, 0.5]
    assert lrs_seen_by_checkpoint == [0.5, 0.25]    # after the schedule's epoch step
    assert ournn.load(tmp_path / "last.ckpt", rebuild=False)["trainer"]["optimizer"][
        "param_groups"][0]["lr"] == 0.25


def test_plateau_schedule_cannot_be_stepped_per_step():
    opt = ournn.optim.SGD(small_mlp().parameters(), lr=0.1)
    plateau = ournn.optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="per epoch"):
        LRSchedulerCallback(plateau, interval="step")


def test_scheduler_callback_keeps_its_old_name():
    """``LRScheduler`` was the callback's name; it stays an alias (and is not the schedulers'
    base class ``ournn.optim.lr_scheduler.LRScheduler``)."""
    assert ournn.train.LRScheduler is LRSchedulerCallback
    assert ournn.train.callbacks.LRScheduler is LRSchedulerCallback
    assert ournn.train.LRScheduler is not ournn.optim.lr_scheduler.LRScheduler
    opt = ournn.optim.SGD(small_mlp().parameters(), lr=1.0)
    sched = ournn.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    assert isinstance(ournn.train.LRScheduler(sched), LRSchedulerCallback)


def test_reduce_lr_on_plateau_is_a_real_scheduler():
    """ReduceLROnPlateau shares the base's optimizer check, ``get_last_lr`` and state."""
    opt = ournn.optim.SGD(small_mlp().parameters(), lr=1.0)
    plateau = ournn.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    assert isinstance(plateau, ournn.optim.lr_scheduler.LRScheduler)
    assert plateau.get_last_lr() == [1.0]
    plateau.step(1.0)
    plateau.step(2.0)                               # worse: over patience 0, halved
    assert plateau.get_last_lr() == [0.5] and opt.param_groups[0]["lr"] == 0.5
    state = plateau.state_dict()
    assert "optimizer" not in state and state["best"] == 1.0
    with pytest.raises(TypeError, match="ReduceLROnPlateau: .* is not an Optimizer"):
        ournn.optim.lr_scheduler.ReduceLROnPlateau(object())


def test_early_stopping_puts_back_the_best_weights():
    rng = np.random.default_rng(1)
    x = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    model = small_mlp()
    after_epoch = []
    record = LambdaCallback(on_epoch_end=lambda t, logs: after_epoch.append(
        {k: np.array(v) for k, v in model.state_dict().items()}))
    stop = EarlyStopping(monitor="loss", patience=1, min_delta=10.0, restore_best_weights=True)
    history = model.fit((x, y), epochs=5, batch_size=16, optimizer="sgd", lr=0.1,
                        callbacks=[record, stop], verbose=0)
    assert len(history.epoch) == 2 and stop.stopped_epoch == 2
    assert not all(np.array_equal(a, after_epoch[1][k]) for k, a in after_epoch[0].items())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, after_epoch[0][name], err_msg=name)


def test_best_checkpoint_is_a_copy_of_last_encoded_once_per_epoch(tmp_path, monkeypatch):
    import ournn.train.callbacks as cbm
    saves = []
    real_save = cbm.save
    monkeypatch.setattr(cbm, "save", lambda obj, path: (saves.append(os.path.basename(path)),
                                                        real_save(obj, path)))
    x = np.random.default_rng(2).random((32, 784), dtype=np.float32)
    y = np.zeros(32, dtype=np.int64)
    ckpt = ModelCheckpoint(tmp_path, monitor="loss")
    small_mlp().fit((x, y), epochs=1, batch_size=16, optimizer="sgd", lr=0.1,
                    callbacks=[ckpt], verbose=0)
    assert saves == ["last.ckpt"]
    assert (tmp_path / "best.ckpt").read_bytes() == (tmp_path / "last.ckpt").read_bytes()
    assert ournn.load(tmp_path / "best.ckpt", rebuild=False)["best"] == ckpt.best
    only_best = ModelCheckpoint(tmp_path / "b", monitor="loss", save_last=False)
    small_mlp().fit((x, y), epochs=1, batch_size=16, callbacks=[only_best], verbose=0)
    assert os.listdir(tmp_path / "b") == ["best.ckpt"]
