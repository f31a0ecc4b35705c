"""The command line end to end on a small slice of real MNIST."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ournn.cli import main
from ournn.data import MNIST


def run(*args):
    return subprocess.run([sys.executable, "-m", "ournn.cli", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mlp"
    code = main(["train", "--model", "mlp", "--epochs", "2", "--limit", "3000", "--batch-size",
                 "64", "--out", str(out), "--verbose", "0", "--seed", "1"])
    assert code == 0
    return out


def test_train_writes_the_run_folder(trained):
    for name in ("last.ckpt", "best.ckpt", "metrics.csv", "history.json", "summary.txt",
                 "config.json", "results.json"):
        assert (trained / name).exists(), name
    results = json.loads((trained / "results.json").read_text())
    assert results["epochs"] == 2 and results["test_accuracy"] > 0.8
    assert "Linear" in (trained / "summary.txt").read_text()


def test_eval_reproduces_the_training_figure(trained, capsys):
    assert main(["eval", "--ckpt", str(trained / "last.ckpt")]) == 0
    out = capsys.readouterr().out
    assert "mnist test: accuracy" in out and "10000 images" in out


def _digit_png(path, image, invert=True, scale=5, color=False, pad=30):
    from PIL import Image
    arr = image.astype(np.uint8)
    arr = np.pad(arr, pad)
    if invert:
        arr = 255 - arr                         # dark ink on white paper, as people draw
    img = Image.fromarray(arr).resize((arr.shape[1] * scale, arr.shape[0] * scale))
    if color:
        img = img.convert("RGB")
    img.save(path)


def test_predict_on_user_images(trained, tmp_path, capsys):
    test = MNIST(train=False)
    for i in range(6):
        _digit_png(tmp_path / f"digit{i}_label{test.targets[i]}.png", test.data[i],
                   invert=i % 2 == 0, color=i % 3 == 0)
    assert main(["predict", "--ckpt", str(trained / "best.ckpt"), str(tmp_path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6
    correct = sum(int(r["file"].split("label")[1][0]) == r["predictions"][0]["class"]
                  for r in lines)
    assert correct >= 5
    assert all(0 < r["predictions"][0]["probability"] <= 1 for r in lines)


def test_summary_and_list(capsys, tmp_path):
    assert main(["summary", "--model", "seed_alexnet"]) == 0
    assert "2,201,322" in capsys.readouterr().out
    assert main(["summary", "--model", "lenet5", "--graph", str(tmp_path / "g.svg")]) == 0
    # a well-formed SVG drawing every layer of lenet5 in order, with its output shape
    import xml.etree.ElementTree as ET
    root = ET.parse(tmp_path / "g.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(" ".join(root.itertext()).split())
    labels = ["Input (N, 1, 28, 28)", "Conv2d 1->6 5x5", "(N, 6, 28, 28)", "AvgPool2d 2x2",
              "(N, 6, 14, 14)", "Conv2d 6->16 5x5", "(N, 16, 10, 10)", "Flatten (N, 400)",
              "Linear W<120 x 400> (N, 120)", "Linear W<84 x 120> (N, 84)",
              "Linear W<10 x 84> (N, 10)", "Output (N, 10)"]
    at = [text.find(label) for label in labels]
    assert -1 not in at and at == sorted(at), list(zip(labels, at))
    assert main(["summary", "--list"]) == 0
    assert "cnn" in capsys.readouterr().out.split()


def test_exit_codes_and_one_line_errors(tmp_path):
    r = run("train", "--epochs", "zero")
    assert r.returncode == 2 and "--epochs" in r.stderr and "an integer" in r.stderr
    r = run("eval", "--ckpt", str(tmp_path / "nope.ckpt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "nope.ckpt" in r.stderr
    r = run("train", "--model", "nonet", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--model" in r.stderr and "lenet5" in r.stderr
    r = run("--debug", "eval", "--ckpt", str(tmp_path / "nope.ckpt"))
    assert r.returncode == 1 and "Traceback" in r.stderr
    r = run("summary", "--model", "mlp", "--input", "a,b")
    assert r.returncode == 2
    r = run("--version")
    assert r.returncode == 0 and "ournn" in r.stdout


def test_config_file_and_resume(tmp_path):
    cfg = tmp_path / "run.toml"
    out = tmp_path / "r"
    cfg.write_text(f'model = "lenet5"\nepochs = 1\nlimit = 600\nbatch-size = 100\n'
                   f'out = "{out.as_posix()}"\nverbose = 0\n')
    assert main(["train", "--config", str(cfg)]) == 0
    assert json.loads((out / "config.json").read_text())["model"] == "lenet5"
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--verbose", "0"]) == 0
    assert json.loads((out / "results.json").read_text())["epochs"] == 2


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(tmp_path):
    import signal
    import time
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ournn.cli", "train", "--model", "mlp", "--epochs", "200",
         "--limit", "2000", "--out", str(out), "--verbose", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()                    # the first epoch has ended
    assert line.startswith("Epoch 1/200"), line + proc.stderr.read()
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in rest and "Traceback" not in err
    assert (out / "last.ckpt").exists()
    assert not [p for p in os.listdir(out) if p.startswith(".tmp")]
    import ournn
    stopped_in = ournn.load(out / "last.ckpt", rebuild=False)["trainer"]["epoch"] + 1
    target = str(stopped_in + 1)
    code = main(["train", "--out", str(out), "--resume", "--epochs", target, "--verbose", "0"])
    assert code == 0
    assert json.loads((out / "results.json").read_text())["epochs"] == stopped_in + 1
