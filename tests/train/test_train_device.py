"""``ournn train --device``: cpu by default; ``cuda`` without CuPy or without a GPU is one
line naming what is missing (exit 2, no traceback, nothing written). The runs on a device
are tested on the stand-in device (tests/device/test_device_train_command.py)."""
import json

import pytest

import ournn
from ournn.cli import main


def test_cuda_without_cupy_or_a_gpu_is_one_line(tmp_path, capsys):
    if ournn.cuda.is_available():
        pytest.skip("a GPU is present here")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        main(["train", "--device", "cuda", "--epochs", "1", "--limit", "100", "--out",
              str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "device 'cuda' is not available" in err and ("CuPy" in err or "GPU" in err)
    assert not out.exists()


def test_device_cpu_is_the_default_and_bad_names_are_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "mlp", "--model-kwargs", '{"hidden": [8]}', "--epochs",
                 "1", "--limit", "100", "--out", str(out), "--verbose", "0"]) == 0
    assert json.loads((out / "config.json").read_text())["device"] == "cpu"
    with pytest.raises(SystemExit) as e:
        main(["train", "--device", "tpu", "--out", str(out)])
    assert e.value.code == 2 and "--device" in capsys.readouterr().err
