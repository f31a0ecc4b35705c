"""``benchmarks/run.py --device cuda`` on the stand-in device (registered as "cuda" here): the
model and the batches are put on the device, every workload trains there, the env line says
which device, and no CPU floor or M1 line is made. Without CuPy or a GPU the runner says so
in one line (exit 2). No timing is asserted."""
import importlib.util
import json
import pathlib
import sys

import pytest

pytest.importorskip("array_api_strict")

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def run():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_run_device", BENCHMARKS / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_workloads_run_on_the_device(run, capsys, monkeypatch):
    import ournn
    seen = []
    train = run.Side.train

    def checked(side, n, start=0):
        seen.append(next(side.model.parameters()).device.type)
        seen.append(side.batches[0][0].device.type)
        return train(side, n, start)
    monkeypatch.setattr(run.Side, "train", checked)
    monkeypatch.setattr(ournn.cuda, "synchronize", lambda: None)
    try:
        assert run.main(["--quick", "--only", "W1,W5,M1", "--frameworks", "ournn",
                         "--device", "cuda"]) == 0
    finally:
        run.DEVICE[0] = "cpu"
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert lines[0]["device"] == "cuda"
    assert {x["workload"] for x in lines[1:]} == {"W1", "W5"}       # M1 skipped
    assert all("floor" not in x for x in lines[1:])
    assert set(seen) == {"cuda"}
    assert "M1 measures the host's memory" in err


def test_without_a_gpu_one_line(run, capsys, monkeypatch):
    import importlib
    D = importlib.import_module("ournn.device")
    D._register_backend("cuda", None)
    monkeypatch.setitem(D._BACKENDS, "cuda", "CuPy is not installed (pip install cupy-cuda12x)")
    try:
        assert run.main(["--quick", "--only", "W1", "--frameworks", "ournn", "--device",
                         "cuda"]) == 2
    finally:
        run.DEVICE[0] = "cpu"
    err = capsys.readouterr().err
    assert "--device cuda: device 'cuda' is not available: CuPy is not installed" in err
