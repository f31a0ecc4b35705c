"""Hyperparameter search on tiny slices of real MNIST: spaces, studies, processes, the CLI."""
import csv
import io
import json
import math
import os
import pathlib
import runpy
import shlex
import sys

import numpy as np
import pytest
from helpers import assert_png

from ournn.cli import build_parser, main
from ournn.tune import (
    Budget,
    Choice,
    IntUniform,
    LogUniform,
    Study,
    Uniform,
    grid_points,
    load_space,
    random_search,
    run_study,
    sample_space,
    space_from_dict,
)
from ournn.tune.plot import write_scatter

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
TINY = {"epochs": 1, "limit": 600, "val_split": 200}
BASE = {"model": "mlp", "model_kwargs": {"hidden": [32]}}     # small and quick
SPACE = {"lr": LogUniform(1e-3, 1e-2), "batch_size": Choice([32, 64]),
         "dropout": Uniform(0.0, 0.3)}


# ---------------------------------------------------------------- spaces
def test_loguniform_is_in_range_and_log_distributed():
    values = np.array([p["lr"] for p in sample_space({"lr": LogUniform(1e-4, 1e-2)}, 2000, 1)])
    assert values.min() >= 1e-4 and values.max() <= 1e-2
    # each decade equally likely: about half below 1e-3 (a uniform draw: 9%)
    assert 0.44 < np.mean(values < 1e-3) < 0.56
    assert abs(np.median(np.log10(values)) + 3) < 0.1


def test_sampling_is_reproducible_with_a_seed_and_typed():
    space = {"lr": LogUniform(1e-4, 1e-2), "p": Uniform(0, 0.5), "n": IntUniform(1, 3),
             "hidden": Choice([[64], [128, 64]]), "batch_size": [64, 128]}
    a, b = sample_space(space, 20, seed=3), sample_space(space, 20, seed=3)
    assert a == b and a != sample_space(space, 20, seed=4)
    for p in a:
        assert 0 <= p["p"] <= 0.5 and p["n"] in (1, 2, 3) and type(p["n"]) is int
        assert p["hidden"] in ([64], [128, 64]) and p["batch_size"] in (64, 128)
        assert type(p["lr"]) is float and p["lr"] == float(f"{p['lr']:.4g}")


def test_grid_enumerates_the_product():
    points = grid_points({"lr": [0.1, 0.01], "batch_size": Choice([32, 64, 128]),
                          "optimizer": ["sgd"]})
    assert len(points) == 6
    assert points[0] == {"lr": 0.1, "batch_size": 32, "optimizer": "sgd"}
    assert {(p["lr"], p["batch_size"]) for p in points} == {
        (lr, b) for lr in (0.1, 0.01) for b in (32, 64, 128)}
    with pytest.raises(ValueError, match="grid"):
        grid_points({"lr": LogUniform(1e-4, 1e-2)})


def test_space_from_toml_and_its_errors(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[train]\noptimizer = "sgd"\n[space]\nlr = {loguniform = [1e-4, 1e-2]}\n'
                    'batch_size = {choice = [64, 128]}\ndropout = {uniform = [0.0, 0.5]}\n'
                    'width = [16, 32]\nn = {intuniform = [1, 4]}\n')
    space, settings = load_space(path)
    assert settings == {"optimizer": "sgd"}
    assert isinstance(space["lr"], LogUniform) and space["lr"].low == 1e-4
    assert space["batch_size"].values == [64, 128] and space["width"].values == [16, 32]
    assert isinstance(space["dropout"], Uniform) and isinstance(space["n"], IntUniform)
    for bad, match in (({"lr": {"loguniform": [0, 1]}}, "low must be > 0"),
                       ({"lr": {"normal": [0, 1]}}, "unknown distribution"),
                       ({"lr": {"uniform": [1]}}, r"\[low, high\]"),
                       ({"lr": 0.1}, "expected a list"),
                       ({"lr": {"uniform": [2, 1]}}, "low <= high")):
        with pytest.raises(ValueError, match=match):
            space_from_dict(bad)
    with pytest.raises(ValueError, match="neither a training setting"):
        Study("random", {"widht": [1, 2]}, {"model": "cnn"}, TINY, tmp_path)
    with pytest.raises(ValueError, match="fixed by the study"):
        Study("random", {"epochs": [1, 2]}, {"model": "cnn"}, TINY, tmp_path)
    with pytest.raises(ValueError, match="never on the test set"):
        Study("random", SPACE, BASE, {"epochs": 1, "limit": 600, "val_split": 0}, tmp_path)


# ---------------------------------------------------------------- a study
class _CsvWatcher(io.StringIO):
    """A stream that notes how many rows results.csv has whenever the table grows."""

    def __init__(self, folder):
        super().__init__()
        self.folder, self.rows_seen = folder, []

    def write(self, text):
        path = self.folder / "results.csv"
        if text.strip() and path.exists():
            self.rows_seen.append(len(path.read_text().strip().splitlines()) - 1)
        return super().write(text)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune") / "study"
    watcher = _CsvWatcher(out)
    result = random_search(SPACE, 3, BASE, seed=0, budget=TINY, out=out, stream=watcher)
    result.watcher = watcher
    return result


def test_random_search_writes_results_table_json_and_scatter(study):
    out = pathlib.Path(study.out)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    assert all(r["status"] == "ok" for r in rows)
    for row, record in zip(rows, study.sorted_records()):
        assert float(row["lr"]) == record["params"]["lr"]
        assert 0 < float(row["val_accuracy"]) <= 1 and float(row["seconds"]) > 0
        assert float(row["val_accuracy_best"]) >= float(row["val_accuracy"])
        assert (out / f"trial-{int(row['trial']):03d}" / "last.ckpt").exists()
    assert study.watcher.rows_seen[-1] == 3 and {1, 2} <= set(study.watcher.rows_seen)
    data = json.loads((out / "results.json").read_text())
    assert len(data["trials"]) == 3 and data["best"]["trial"] == study.best["trial"]
    assert data["space"]["lr"] == {"loguniform": [1e-3, 1e-2]}
    assert data["budget"] == TINY and "test set is never used" in data["selection"]
    assert (out / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = study.table()
    assert len(table.splitlines()) == 4 and "best_val_acc" in table.splitlines()[0]


def test_trials_validate_on_held_out_training_images(study):
    config = json.loads((pathlib.Path(study.out) / "trial-000" / "config.json").read_text())
    assert config["val_split"] == 200 and config["limit"] == 600 and config["epochs"] == 1
    assert config["model_kwargs"]["hidden"] == [32]
    assert "dropout" in config["model_kwargs"] and "dropout" not in config


def test_best_command_parses_back_through_the_cli(study):
    best = study.best
    assert best["val_accuracy_best"] == max(r["val_accuracy_best"] for r in study.records)
    command = study.best_command(reproduce=True)
    argv = shlex.split(command)
    assert argv[:2] == ["ournn", "train"]
    args = build_parser().parse_args(argv[1:])
    assert args.command == "train" and args.model == "mlp" and args.seed == 0
    assert args.lr == best["params"]["lr"] and args.batch_size == best["params"]["batch_size"]
    assert args.model_kwargs == {"hidden": [32], "dropout": best["params"]["dropout"]}
    assert (args.epochs, args.limit, args.val_split) == (1, 600, 200)
    plain = build_parser().parse_args(shlex.split(study.best_command())[1:])
    assert plain.epochs is None and plain.limit is None and plain.val_split is None


def test_parallel_workers_run_in_processes_and_agree_with_one_worker(study, tmp_path):
    before = os.environ.get("OPENBLAS_NUM_THREADS")
    parallel = random_search(SPACE, 3, BASE, seed=0, budget=TINY, out=tmp_path, workers=2)
    assert os.environ.get("OPENBLAS_NUM_THREADS") == before      # parent env restored
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.threads_per_worker == max(1, cores // 2)
    pids = {r["pid"] for r in parallel.records}
    assert os.getpid() not in pids
    for a, b in zip(study.sorted_records(), parallel.sorted_records()):
        assert a["params"] == b["params"] and b["status"] == "ok"
        assert abs(a["val_accuracy"] - b["val_accuracy"]) <= 0.01
        assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-3)
        if b["blas_threads"] is not None:            # what the worker's OpenBLAS reports
            assert b["blas_threads"] == parallel.threads_per_worker
            # ... already when NumPy was imported, before the initializer ran
            assert b["blas_threads_at_start"] == parallel.threads_per_worker


def test_failing_trials_are_recorded_not_raised(tmp_path):
    study = Study("grid", {"lr": [0.05, 1e9], "dropout": [0.0, 1.5]},
                  {**BASE, "optimizer": "sgd"}, TINY, tmp_path)
    study = run_study(study, [{"lr": 0.05, "dropout": 0.0}, {"lr": 1e9, "dropout": 0.0},
                              {"lr": 0.05, "dropout": 1.5}])
    ok, nan, bad = study.sorted_records()
    assert ok["status"] == "ok"
    assert nan["status"] == "failed" and nan["error"].startswith("NonFiniteLossError")
    assert bad["status"] == "failed" and "Dropout" in bad["error"]
    assert study.best["trial"] == 0
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["status"] for r in rows] == ["ok", "failed", "failed"]
    assert "NonFiniteLossError" in rows[1]["error"]
    assert_png(tmp_path / "scatter.png")


def test_scatter_is_skipped_with_a_hint_without_matplotlib(study, tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg",
                 "matplotlib.transforms"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.warns(UserWarning, match=r"pip install 'ournn\[viz\]'"):
        assert write_scatter(study, tmp_path / "scatter.png") is None
    assert not (tmp_path / "scatter.png").exists()


# ---------------------------------------------------------------- command line and example
def test_cli_tune_end_to_end(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[train]\nmodel_kwargs = {hidden = [32]}\n[space]\n'
                     'lr = {loguniform = [1e-3, 1e-2]}\ndropout = [0.0, 0.2]\n')
    out = tmp_path / "tune-x"
    code = main(["tune", "--model", "mlp", "--dataset", "mnist", "--trials", "2", "--epochs",
                 "1", "--limit", "600", "--val-split", "200", "--workers", "1", "--search",
                 "random", "--space", str(space), "--out", str(out), "--seed", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "best_val_acc" in printed and "Best: trial" in printed
    command = next(line.strip() for line in printed.splitlines()
                   if line.strip().startswith("ournn train"))
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.model_kwargs["hidden"] == [32] and args.model_kwargs["dropout"] in (0.0, 0.2)
    assert len(list(csv.DictReader((out / "results.csv").open()))) == 2

    bad = tmp_path / "bad.toml"
    bad.write_text("[space]\nlr = {loguniform = [0, 1]}\n")
    assert main(["tune", "--space", str(bad), "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "low must be > 0" in err
    with pytest.raises(SystemExit) as usage:
        main(["tune", "--search", "bayes"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as usage:
        main(["tune", "--workers", "0"])
    assert usage.value.code == 2


def test_train_model_kwargs_flag_reaches_the_model_and_the_checkpoint(tmp_path, capsys,
                                                                       monkeypatch):
    from ournn.train import recipe
    from ournn.train.checkpoints import load_model
    monkeypatch.setattr(recipe, "_write_plots", lambda *args: None)    # not under test: slow
    out = tmp_path / "run"
    assert main(["train", "--model", "cnn", "--model-kwargs", '{"width": 4, "hidden": 16}',
                 "--epochs", "1", "--limit", "300", "--batch-size", "100", "--out", str(out),
                 "--verbose", "0"]) == 0
    model, meta = load_model(str(out / "last.ckpt"))
    assert model[0].out_channels == 4 and meta["run_config"]["model_kwargs"]["width"] == 4
    with pytest.raises(SystemExit) as usage:
        main(["train", "--model-kwargs", "[4]"])
    assert usage.value.code == 2


def test_example_runs_on_a_tiny_budget(tmp_path, capsys):
    ns = runpy.run_path(str(EXAMPLES / "hyperparameter_search.py"))
    study = ns["main"](trials=2, limit=600, out=str(tmp_path))
    assert len(study.records) == 2 and study.best is not None
    printed = capsys.readouterr().out
    assert "ournn train --model mlp" in printed and (tmp_path / "results.json").exists()


def test_budget_checks():
    assert Budget(2, 0, 100).check().limit == 0
    with pytest.raises(ValueError, match="smaller than limit"):
        Budget(1, 100, 100).check()
