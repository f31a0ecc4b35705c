"""Exact resume with every kind of learning-rate schedule.

A run stopped (mid-epoch or at an epoch's end) and resumed from ``last.ckpt`` must give the
same weights, bit for bit, and the same learning rates as the run that never stopped, whether
the schedule is stepped per step or per epoch, and whether it reaches ``fit`` as an
``LRScheduler`` callback listed before or after ``ModelCheckpoint`` or through
``fit(schedulers=...)``.
"""
import numpy as np
import pytest

import ournn
import ournn.nn as nn
from ournn.data import ArrayDataset, DataLoader
from ournn.optim import lr_scheduler as S
from ournn.train import LambdaCallback, LRScheduler, ModelCheckpoint

EPOCHS, N, BATCH = 3, 64, 16
STEPS = N // BATCH            # steps per epoch


def _halve_each(k):           # a module-level function: the same one is passed when resuming
    return 0.5 ** k


# name -> (scheduler from (optimizer, number of steps of the run)), intervals it works with)
KINDS = {
    "step": (lambda opt, n: S.StepLR(opt, step_size=max(1, n // 3), gamma=0.5),
             ("step", "epoch")),
    "multistep": (lambda opt, n: S.MultiStepLR(opt, milestones=[1, max(2, n // 2)], gamma=0.5),
                  ("step", "epoch")),
    "exponential": (lambda opt, n: S.ExponentialLR(opt, gamma=0.7), ("step", "epoch")),
    "cosine": (lambda opt, n: S.CosineAnnealingLR(opt, T_max=n), ("step", "epoch")),
    "onecycle": (lambda opt, n: S.OneCycleLR(opt, max_lr=0.5, total_steps=n),
                 ("step", "epoch")),
    "linear_warmup": (lambda opt, n: S.LinearLR(opt, start_factor=0.1, total_iters=n - 1),
                      ("step", "epoch")),
    "sequential": (lambda opt, n: S.SequentialLR(
        opt, [S.LinearLR(opt, start_factor=0.2, total_iters=max(1, n // 3)),
              S.CosineAnnealingLR(opt, T_max=n - max(1, n // 3))],
        milestones=[max(1, n // 3)]), ("step", "epoch")),
    "lambda": (lambda opt, n: S.LambdaLR(opt, _halve_each), ("step", "epoch")),
    # 'max' of the training loss with an absolute threshold beyond reach: the first epoch
    # improves on -inf, every later one is a plateau, so the rate halves each epoch after it.
    "plateau": (lambda opt, n: S.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0,
                                                   threshold=1e9, threshold_mode="abs"),
                ("epoch",)),
}

# how the scheduler reaches fit: a callback before the checkpoint, after it, or fit(schedulers=)
ROUTES = ("before", "after", "fit")
# where the first run stops: Ctrl-C at (epoch, step) mid-epoch, Ctrl-C (None) at the end of
# epoch 1, or "short": it ends normally after 2 epochs and the resumed run asks for 3
CUTS = ((0, 2), (1, 1), None, "short")

CASES = [(kind, interval, route)
         for kind, (_, intervals) in KINDS.items() for interval in intervals
         for route in ROUTES if not (route == "fit" and interval == "step")]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 8)).astype(np.float32)
    y = rng.integers(0, 3, N)
    return x, y


def _run(data, kind, interval, route, folder, cut="never", resume=False):
    """Train (or resume) one run; interrupt it after step ``cut`` = (epoch, step) of the loop,
    or at the end of epoch 1 for ``cut=None``; for ``cut="short"``, train 2 epochs of the 3."""
    x, y = data
    ournn.manual_seed(3)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 3))
    opt = ournn.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    make, _ = KINDS[kind]
    scheduler = make(opt, EPOCHS * STEPS if interval == "step" else EPOCHS)
    loader = DataLoader(ArrayDataset(x, y), batch_size=BATCH, shuffle=True, seed=5)
    # ReduceLROnPlateau reads the training loss (no validation data here; fit(schedulers=)
    # falls back to it when val_loss is absent)
    sched_cb = LRScheduler(scheduler, interval=interval, monitor="loss")
    checkpoint = ModelCheckpoint(folder, monitor="loss")
    callbacks, schedulers = [checkpoint], []
    if route == "before":
        callbacks.insert(0, sched_cb)
    elif route == "after":
        callbacks.append(sched_cb)
    else:
        schedulers = [scheduler]
    if cut not in ("never", "short"):
        def stop_mid(trainer, loss):
            if cut is not None and (trainer.epoch, trainer.step) == cut:
                trainer.stop_training, trainer.stop_reason = True, "interrupt"

        def stop_at_end(trainer, logs):
            if cut is None and trainer.epoch == 1:
                trainer.stop_training, trainer.stop_reason = True, "interrupt"
        callbacks.append(LambdaCallback(on_batch_end=stop_mid, on_epoch_end=stop_at_end))
    state = ournn.load(folder / "last.ckpt", rebuild=False)["trainer"] if resume else None
    history = model.fit(loader, epochs=EPOCHS - 1 if cut == "short" else EPOCHS, optimizer=opt, loss="cross_entropy",
                        callbacks=callbacks, schedulers=schedulers, verbose=0, resume=state)
    return model, history


@pytest.mark.parametrize("cut", CUTS, ids=["epoch0-step2", "epoch1-step1", "epoch1-end",
                                           "short"])
@pytest.mark.parametrize("kind,interval,route", CASES,
                         ids=[f"{k}-{i}-{r}" for k, i, r in CASES])
def test_resume_is_exact(data, tmp_path, kind, interval, route, cut):
    full, h_full = _run(data, kind, interval, route, tmp_path / "full")
    _, h_cut = _run(data, kind, interval, route, tmp_path / "cut", cut=cut)
    assert h_cut.interrupted == (cut != "short")
    resumed, h_res = _run(data, kind, interval, route, tmp_path / "cut", resume=True)

    lrs = h_full.steps["lr"]
    assert len(lrs) == EPOCHS * STEPS and len(set(lrs)) > 1, "the schedule must move"
    assert h_res.steps["lr"] == lrs
    assert h_res.history["lr"] == h_full.history["lr"]
    assert h_res.steps["loss"] == h_full.steps["loss"]
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    # the checkpoints written at the end agree too (optimizer and schedule state included)
    end_full = ournn.load(tmp_path / "full" / "last.ckpt", rebuild=False)["trainer"]
    end_res = ournn.load(tmp_path / "cut" / "last.ckpt", rebuild=False)["trainer"]
    assert end_res["schedulers"] == end_full["schedulers"]
    assert end_res["optimizer"]["param_groups"] == end_full["optimizer"]["param_groups"]


def test_the_reported_case_per_epoch_step_lr_through_fit(data, tmp_path):
    """Learning rates 1.0, 0.5, 0.25 uninterrupted; after stop and resume they were 1.0, 1.0,
    0.5, because the checkpoint was written before the schedule's epoch step."""
    x, y = data

    def run(folder, stop=False, resume=False):
        ournn.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 3))
        opt = ournn.optim.SGD(model.parameters(), lr=1.0)
        sched = S.StepLR(opt, step_size=1, gamma=0.5)
        cbs = [ModelCheckpoint(folder, monitor="loss")]
        if stop:
            def stop_after_first(trainer, logs):
                trainer.stop_training = True
            cbs.append(LambdaCallback(on_epoch_end=stop_after_first))
        state = ournn.load(folder / "last.ckpt", rebuild=False)["trainer"] if resume else None
        return model.fit((x, y), epochs=3, batch_size=BATCH, optimizer=opt, callbacks=cbs,
                         schedulers=[sched], verbose=0, resume=state)
    assert run(tmp_path / "a").history["lr"] == [1.0, 0.5, 0.25]
    run(tmp_path / "b", stop=True)
    assert run(tmp_path / "b", resume=True).history["lr"] == [1.0, 0.5, 0.25]
