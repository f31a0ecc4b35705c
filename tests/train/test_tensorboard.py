"""The TensorBoard callback and ``ournn train --tensorboard``, checked by reading the event
files back with TensorBoard's own ``EventAccumulator`` (or, with only tensorboardX installed,
its protobuf classes over the record framing)."""
import glob
import os
import struct
import sys

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.cli import main
from ournn.train import TensorBoard, fit
from ournn.train.callbacks import LRSchedulerCallback

try:
    import tensorboardX
except ImportError:
    tensorboardX = None
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    EventAccumulator = None

needs_writer = pytest.mark.skipif(tensorboardX is None, reason="needs tensorboardX: pip "
                                  "install 'ournn[tensorboard]'")


# ---------------------------------------------------------------- reading the files back
class _Events:
    """The scalars ``{tag: [(step, value)]}`` and histograms ``{tag: [(step, histo)]}`` (histo:
    with ``min``, ``max``, ``num``, ``sum``) of the event files in a folder."""

    def __init__(self, folder):
        if EventAccumulator is not None:
            acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
            acc.Reload()
            tags = acc.Tags()
            self.scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)]
                            for t in tags["scalars"]}
            self.histograms = {t: [(e.step, e.histogram_value) for e in acc.Histograms(t)]
                               for t in tags["histograms"]}
            return
        from tensorboardX.proto.event_pb2 import Event
        self.scalars, self.histograms = {}, {}
        for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
            for record in _records(path):
                event = Event.FromString(record)
                for v in event.summary.value:
                    if v.HasField("histo"):
                        self.histograms.setdefault(v.tag, []).append((event.step, v.histo))
                    elif v.HasField("simple_value"):
                        self.scalars.setdefault(v.tag, []).append((event.step, v.simple_value))


def _records(path):
    data = open(path, "rb").read()
    i = 0
    while i < len(data):
        (n,) = struct.unpack("<Q", data[i:i + 8])
        yield data[i + 12:i + 12 + n]
        i += 12 + n + 4


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0)
    return x, y


def _model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


@needs_writer
def test_fit_writes_scalars_per_step_and_epoch_and_histograms_per_epoch(tmp_path):
    model, (x, y) = _model(), _data()
    opt = ournn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = ournn.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = fit(model, (x, y), epochs=2, optimizer=opt, batch_size=32, verbose=0,
                  validation_data=_data(32, 1),
                  callbacks=[TensorBoard(str(tmp_path)), LRSchedulerCallback(sched)])
    ev = _Events(tmp_path)
    # per step: the loss and the rate each step used, at the global step
    steps = ev.scalars["step/loss"]
    assert [s for s, _ in steps] == list(range(1, 7))
    np.testing.assert_allclose([v for _, v in steps], history.steps["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in ev.scalars["step/lr"]], [0.1] * 3 + [0.05] * 3)
    # per epoch: every value of the logs
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        got = ev.scalars[f"epoch/{key}"]
        assert [s for s, _ in got] == [1, 2], key
        np.testing.assert_allclose([v for _, v in got], history.history[key], rtol=1e-6,
                                   err_msg=key)
    # histograms of every parameter and its gradient, at each epoch; the last ones are the
    # final weights
    names = [n for n, _ in model.named_parameters()]
    assert set(ev.histograms) == {f"{kind}/{n}" for n in names
                                  for kind in ("weights", "gradients")}
    for name, p in model.named_parameters():
        hist = ev.histograms[f"weights/{name}"]
        assert [s for s, _ in hist] == [1, 2]
        last = hist[-1][1]
        w = p.numpy()
        assert last.num == w.size
        np.testing.assert_allclose([last.min, last.max, last.sum],
                                   [w.min(), w.max(), w.sum()], rtol=1e-5, atol=1e-6)
        g = ev.histograms[f"gradients/{name}"][-1][1]
        np.testing.assert_allclose([g.min, g.max], [p.grad.numpy().min(), p.grad.numpy().max()],
                                   rtol=1e-5, atol=1e-8)


@needs_writer
def test_update_and_histogram_frequencies(tmp_path):
    x, y = _data()
    fit(_model(), (x, y), epochs=3, batch_size=16, verbose=0,
        callbacks=[TensorBoard(str(tmp_path / "a"), update_freq=4, histogram_freq=2)])
    ev = _Events(tmp_path / "a")
    assert [s for s, _ in ev.scalars["step/loss"]] == [4, 8, 12, 16]
    assert {s for h in ev.histograms.values() for s, _ in h} == {2}
    fit(_model(), (x, y), epochs=1, batch_size=16, verbose=0,
        callbacks=[TensorBoard(str(tmp_path / "b"), update_freq="epoch", histogram_freq=0)])
    ev = _Events(tmp_path / "b")
    assert "step/loss" not in ev.scalars and not ev.histograms
    assert [s for s, _ in ev.scalars["epoch/loss"]] == [1]


@needs_writer
def test_a_loop_without_a_trainer_gets_its_epoch_scalars(tmp_path):
    """The text models' loop calls ``on_epoch_end(None, logs)`` with ``logs["epoch"]``."""
    cb = TensorBoard(str(tmp_path))
    cb.on_epoch_end(None, {"epoch": 1, "loss": 2.5, "val_bits": 3.0, "lr": 0.01})
    cb.on_epoch_end(None, {"epoch": 2, "loss": 2.0, "val_bits": float("nan"), "lr": 0.01})
    cb.close()
    ev = _Events(tmp_path)
    assert ev.scalars["epoch/loss"] == [(1, 2.5), (2, 2.0)]
    assert ev.scalars["epoch/val_bits"] == [(1, 3.0)]      # non-finite values are skipped
    assert "epoch/epoch" not in ev.scalars


@pytest.mark.parametrize("kwargs, match", [
    ({"update_freq": 0}, "update_freq"), ({"update_freq": "step"}, "update_freq"),
    ({"histogram_freq": -1}, "histogram_freq"), ({"log_dir": ""}, "log_dir"),
    ({"log_dir": "a\nb"}, "log_dir")])
@needs_writer
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TensorBoard(**{"log_dir": "x", **kwargs})


def test_without_the_writer_one_line_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'ournn\[tensorboard\]'"):
        TensorBoard(str(tmp_path))
    out = tmp_path / "run"
    code = main(["train", "--limit", "64", "--epochs", "1", "--out", str(out), "--verbose",
                 "0", "--tensorboard", str(tmp_path / "tb")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "pip install 'ournn[tensorboard]'" in err
    assert not out.exists()                         # refused before anything was written


def test_the_flag_is_checked_like_the_others(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--tensorboard", ""])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--tensorboard" in err and err.count("\n") == 1


@needs_writer
def test_ournn_train_tensorboard_end_to_end(tmp_path):
    out, tb = tmp_path / "run", tmp_path / "tb"
    assert main(["train", "--model", "mlp", "--limit", "256", "--epochs", "2", "--batch-size",
                 "64", "--out", str(out), "--verbose", "0", "--tensorboard", str(tb)]) == 0
    ev = _Events(tb)
    assert len(ev.scalars["step/loss"]) == 8
    assert [s for s, _ in ev.scalars["epoch/val_accuracy"]] == [1, 2]
    assert {"weights/1.weight", "gradients/1.weight", "weights/5.bias"} <= set(ev.histograms)
    # resuming for a third epoch continues the same curves
    assert main(["train", "--out", str(out), "--resume", "--epochs", "3", "--verbose",
                 "0"]) == 0
    ev = _Events(tb)
    assert [s for s, _ in ev.scalars["epoch/loss"]] == [1, 2, 3]
    assert [s for s, _ in ev.scalars["step/loss"]][-1] == 12


def test_two_runs_in_the_same_second_keep_both_event_files(tmp_path):
    """The writer names its file by the second and the host: a resumed run started within
    the same second must not replace the first run's events."""
    pytest.importorskip("tensorboardX")
    from ournn.train.tensorboard import TensorBoard
    files = set()
    for _ in range(2):
        cb = TensorBoard(str(tmp_path))
        cb._open()
        cb.writer.add_scalar("x", 1.0, 1)
        cb.close()
    files = set(os.listdir(tmp_path))
    assert len(files) == 2, files


def test_runs_in_the_same_second_sort_in_the_order_they_ran(tmp_path):
    """TensorBoard reads a folder's event files in name order: a resumed run's file must sort
    after the first run's even within the same second, or its epochs come first."""
    pytest.importorskip("tensorboardX")
    from ournn.train.tensorboard import TensorBoard
    made = []
    for i in range(8):
        cb = TensorBoard(str(tmp_path))
        cb._open()
        cb.writer.add_scalar("x", float(i), i)
        cb.close()
        made.append((set(os.listdir(tmp_path)) - set(made)).pop())
    assert sorted(made) == made
