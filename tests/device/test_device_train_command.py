"""``ournn train --device cuda`` on the stand-in device: the recipe moves the model there and
fit moves every batch; the test loss and accuracy are the CPU run's, and a run's checkpoint
resumes on either device."""
import json

import numpy as np
import pytest

pytest.importorskip("array_api_strict")

from ournn.cli import main  # noqa: E402
from ournn.train.recipe import run_training  # noqa: E402

SMALL = {"model": "mlp", "model_kwargs": {"hidden": [16]}, "limit": 300, "batch_size": 50,
         "verbose": 0}


def _run(out, device, epochs, resume=False):
    return run_training({**SMALL, "epochs": epochs, "out": str(out), "device": device},
                        resume=resume, plots=False)


def test_train_on_the_device_gives_the_cpu_results(tmp_path):
    cpu = _run(tmp_path / "cpu", "cpu", 2)
    dev = _run(tmp_path / "cuda", "cuda", 2)
    assert all(p.device == "cuda" for p in dev["model"].parameters())
    assert dev["test"]["accuracy"] == cpu["test"]["accuracy"]
    np.testing.assert_allclose(dev["test"]["loss"], cpu["test"]["loss"], rtol=1e-5)
    np.testing.assert_allclose(dev["history"].steps["loss"], cpu["history"].steps["loss"],
                               rtol=1e-5)
    assert json.loads((tmp_path / "cuda" / "config.json").read_text())["device"] == "cuda"


@pytest.mark.parametrize("first,then", [("cuda", "cpu"), ("cpu", "cuda")])
def test_a_run_resumes_on_the_other_device(tmp_path, first, then):
    whole = _run(tmp_path / "whole", "cpu", 2)
    _run(tmp_path / "r", first, 1)
    again = _run(tmp_path / "r", then, 2, resume=True)
    assert all(p.device == then for p in again["model"].parameters())
    np.testing.assert_allclose(again["history"].steps["loss"][-6:],
                               whole["history"].steps["loss"][-6:], rtol=1e-5)
    np.testing.assert_allclose(again["test"]["loss"], whole["test"]["loss"], rtol=1e-5)


def test_the_command_line_flag(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--device", "cuda", "--model", "mlp", "--model-kwargs",
                 '{"hidden": [8]}', "--epochs", "1", "--limit", "200", "--out", str(out),
                 "--verbose", "0"]) == 0
    assert "Test accuracy" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["device"] == "cuda"


def test_a_language_model_says_it_trains_on_the_cpu(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--device", "cuda", "--model", "charlstm", "--dataset", "shakespeare",
              "--out", str(tmp_path / "lm")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--device cpu" in err and len(err.strip().splitlines()) == 1
