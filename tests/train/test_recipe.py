"""The one training recipe: the names of its choices live once, every caller builds runs with
``ournn.train.recipe.build_run``, and each choice trains, resumes and exports."""
import numpy as np
import pytest
from helpers import assert_png

import ournn
from ournn import nn, optim
from ournn.optim import lr_scheduler as S
from ournn.train import options, recipe, settings
from ournn.train.callbacks import LRScheduler


def test_the_names_live_once():
    from ournn.studio import spec
    from ournn.train import run
    assert options.OPTIMIZERS == optim.optimizer_names() == tuple(optim.OPTIMIZERS)
    assert spec.OPTIMIZERS is options.OPTIMIZERS and run.OPTIMIZERS is options.OPTIMIZERS
    assert spec.SCHEDULES is options.SCHEDULES and spec.AUGMENTS is options.AUGMENTS
    assert settings.SETTINGS["optimizer"].choices is options.OPTIMIZERS
    assert settings.SETTINGS["schedule"].choices is options.SCHEDULES
    assert settings.SETTINGS["augment"].choices is options.AUGMENTS
    opts = spec.options()
    assert opts["optimizers"] == list(options.OPTIMIZERS)
    assert opts["schedules"] == list(options.SCHEDULES)


@pytest.mark.parametrize("name, cls, lr", [
    ("adadelta", optim.Adadelta, 1.0), ("adamax", optim.Adamax, 2e-3),
    ("nadam", optim.NAdam, 2e-3), ("radam", optim.RAdam, 1e-3), ("asgd", optim.ASGD, 1e-2),
    ("sgd", optim.SGD, 1e-2), ("rmsprop", optim.RMSprop, 1e-3), ("adam", optim.Adam, 1e-3)])
def test_make_optimizer_by_name_with_its_default_lr(name, cls, lr):
    params = nn.Linear(3, 2).parameters()
    opt = optim.make_optimizer(name, params)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == lr
    assert optim.default_lr(name) == lr


def test_make_optimizer_arguments():
    p = list(nn.Linear(3, 2).parameters())
    nest = optim.make_optimizer("nesterov", p, lr=0.5, weight_decay=1e-3, momentum=0.8)
    g = nest.param_groups[0]
    assert (g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]) == (0.5, 0.8, True, 1e-3)
    assert optim.make_optimizer("adamw", p).param_groups[0]["weight_decay"] == 1e-2
    assert optim.make_optimizer("adam", p, betas=(0.8, 0.9)).param_groups[0]["betas"] == \
        (0.8, 0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim.make_optimizer("lbfgs", p)
    from ournn.train import make_optimizer
    assert make_optimizer is optim.make_optimizer


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1, 4, 4)).astype(np.float32)
    return x, (x.reshape(n, -1).sum(1) > 0).astype(np.int64)


def _model():
    ournn.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))


@pytest.mark.parametrize("schedule", options.SCHEDULES)
def test_every_schedule_trains_and_resumes_exactly(schedule, tmp_path):
    """Every schedule, with warm-up: a run stopped after its first epoch and resumed from
    last.ckpt ends with the weights and learning rates of the run that never stopped."""
    x, y = _data()
    cfg = {"epochs": 3, "batch_size": 16, "optimizer": "momentum", "lr": 0.05,
           "schedule": schedule, "warmup_epochs": 1 if schedule != "onecycle" else 0}
    full = recipe.build_run(cfg, _model(), (x, y), (x, y), tmp_path / "full", logs=False)
    h_full = full.fit(seed=1)
    resumed = recipe.build_run(cfg, _model(), (x, y), (x, y), tmp_path / "res", logs=False)
    stop = ournn.train.LambdaCallback(on_epoch_end=lambda t, logs: setattr(
        t, "stop_training", True))
    cut3 = recipe.build_run(cfg, _model(), (x, y), (x, y), tmp_path / "cut3", logs=False)
    cut3.fit([stop], seed=1)
    state = ournn.load(str(tmp_path / "cut3" / "last.ckpt"), rebuild=False)
    h_res = resumed.fit(resume=state["trainer"])
    assert h_res.history["lr"] == h_full.history["lr"]
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    scheds = [c for c in full.callbacks if isinstance(c, LRScheduler)]
    assert len(scheds) == (0 if schedule == "none" and not cfg["warmup_epochs"] else 1)


@pytest.mark.parametrize("schedule", [s for s in options.SCHEDULES if s != "none"])
def test_schedule_arguments_build_the_scheduler(schedule):
    """What the studio's export writes (class and arguments) is what the recipe builds."""
    opt = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)
    built = options.make_schedule(schedule, opt, 0.1, 6, 10)
    name, kwargs = options.schedule_arguments(schedule, 0.1, 6, 10)
    assert type(built).__name__ == name and isinstance(built, getattr(S, name))
    lrs = []
    for _ in range(60):
        opt.step()
        built.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert all(np.isfinite(lrs)) and max(lrs) <= 0.1 + 1e-12 and len(set(lrs)) > 1


def test_the_studio_exports_the_calls_the_recipe_makes():
    """For every optimizer, schedule and augmentation, the exported script's optimizer is the
    recipe's (same class and hyperparameters) and its schedule and transform are the ones
    the recipe builds."""
    from ournn.studio.datasets import Registry
    from ournn.studio.spec import check_setup, export_script
    ds = Registry().get("mnist")
    layers = [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]
    rows = [{"shape": [784]}, {"shape": [10]}]
    for opt_name in options.OPTIMIZERS:
        for schedule in options.SCHEDULES:
            setup = check_setup({"dataset": "mnist", "layers": layers, "optimizer": opt_name,
                                 "schedule": schedule, "lr": 0.01, "weight_decay": 1e-4,
                                 "train_size": 100, "batch_size": 30, "augment": "shift"},
                                {"mnist": {"kind": "image", "train_size": 60000}})
            script = export_script(setup, ds, rows)
            cls, kwargs = optim.registry.optimizer_arguments(opt_name, 0.01, 1e-4)
            assert f"ournn.optim.{cls.__name__}(model.parameters(), " in script
            assert all(f"{k}={v!r}" in script for k, v in kwargs.items())
            assert "transforms.RandomShift(max_shift=2, seed=0)" in script
            if schedule != "none":
                name, kw = options.schedule_arguments(schedule, 0.01, setup["epochs"], 4)
                assert f"lr_scheduler.{name}(optimizer, " in script
                assert "assert len(loader) == 4" in script


def test_the_test_set_is_run_through_the_model_once(tmp_path, monkeypatch):
    """run_training evaluates the test set once and draws the confusion matrix from those
    outputs: the model never predicts the test set again for the plots."""
    pytest.importorskip("matplotlib")
    from ournn.train import loop
    calls = []
    real = loop.evaluate

    def counting(model, data, *args, **kwargs):
        calls.append(len(data[0]) if isinstance(data, tuple) else None)
        return real(model, data, *args, **kwargs)
    monkeypatch.setattr(recipe, "evaluate", counting)
    monkeypatch.setattr(nn.Module, "predict", lambda *a, **k: pytest.fail("predicted again"))
    result = recipe.run_training({"model": "mlp", "model_kwargs": {"hidden": [8]},
                                  "epochs": 1, "limit": 200, "verbose": 0,
                                  "out": str(tmp_path / "run")})
    assert calls == [200]
    assert_png(tmp_path / "run" / "confusion.png")     # drawn, not merely written
    assert_png(tmp_path / "run" / "worst.png")
    assert result["results"]["test_accuracy"] == result["test"]["accuracy"]


def test_the_callers_build_runs_with_the_recipe():
    """``ournn train`` (run_training), the tuner (through run_training) and the studio's
    jobs all reach build_run; none builds an optimizer or a schedule itself."""
    import inspect

    from ournn.studio import jobs
    from ournn.tune import trial
    assert "build_run(" in inspect.getsource(recipe.run_training)
    assert "build_run(" in inspect.getsource(jobs.Job._run)
    assert "run_training(" in inspect.getsource(trial.run_trial)
    for module in (jobs, trial):
        src = inspect.getsource(module)
        assert "make_optimizer" not in src and "schedule_callbacks" not in src
