"""benchmarks/: the runner's JSON lines and the FLOP counting (no timing is asserted)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def flops():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import flops
        yield flops
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_w1_flops_match_a_hand_count(flops):
    # Linear(784,512), Linear(512,1024), Linear(1024,10) at batch 128: 2*M*N*K per product
    forward = 2 * 128 * 784 * 512 + 2 * 128 * 512 * 1024 + 2 * 128 * 1024 * 10
    assert forward == 239_599_616
    weight_grads = forward
    input_grads = 2 * 128 * 512 * 1024 + 2 * 128 * 1024 * 10   # none for the images
    assert flops.flops("W1") == forward + weight_grads + input_grads == 616_038_400
    assert flops.flops("W1", training=False) == forward
    assert flops.flops("W1", batch=1, training=False) == 2 * (784 * 512 + 512 * 1024 + 1024 * 10)


def test_every_workload_costs_between_two_and_three_forwards(flops):
    for workload in ("W1", "W2", "W3", "W4", "W5", "W6"):
        forward = flops.flops(workload, training=False)
        assert 2 * forward < flops.flops(workload) <= 3 * forward, workload
    # W3: the two convs as im2col products (26x26 and 24x24 outputs), then 9216->128->10
    conv = 2 * 128 * 26 * 26 * 9 * 32 + 2 * 128 * 24 * 24 * 288 * 64
    linear = 2 * 128 * 9216 * 128 + 2 * 128 * 128 * 10
    assert flops.flops("W3", training=False) == conv + linear


def test_load_runs_busy_processes_beside_and_stops_them():
    """``--load 1``: one CPU-bound process runs beside the benchmark (recorded on the env
    line) and is gone when the runner exits."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "W4", "--threads",
         "1", "--frameworks", "ournn", "--load", "1"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = json.loads(proc.stdout.splitlines()[0])
    assert env["load_processes"] == 1 and "blas_core_forced" in env
    assert "--load 1: 1 busy process" in proc.stderr
    import glob
    left = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                if b"while True: pass" in f.read():
                    left.append(path)
        except OSError:
            pass
    assert not left, f"a busy process outlived the benchmark: {left}"
    bad = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--load", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--load must be from 0 to 64" in bad.stderr


def test_quick_run_prints_one_json_object_per_line():
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "W1,W4",
         "--threads", "1"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    env, results = lines[0], lines[1:]
    assert env["workload"] == "env" and env["gemm_gflops_1024"]["median"] > 0
    assert {(r["workload"], r["metric"]) for r in results} == {
        ("W1", "train_samples_per_s"), ("W1", "train_ms_per_step"),
        ("W1", "infer_latency_ms_b1"), ("W1", "infer_latency_ms_b128"),
        ("W4", "train_steps_per_s"), ("W4", "train_ms_per_step")}
    has_torch = env["torch"] is not None
    for r in results:
        assert r["better"] in ("higher", "lower")
        for fw in ("ournn", "torch") if has_torch else ("ournn",):
            stats = r[fw]
            assert stats["min"] <= stats["median"] <= stats["max"], r
            assert stats["median"] > 0
        if has_torch:
            assert r["ratio"] > 0
        else:
            assert r["torch"] is None and r["ratio"] is None
        if r["metric"] != "train_ms_per_step":
            assert r["floor"]["flops_per_step"] > 0 and r["floor"]["at_peak"] > 0
    w1 = next(r for r in results if r["metric"] == "train_samples_per_s")
    assert w1["floor"]["flops_per_step"] == 616_038_400
    assert "ournn median" in proc.stderr          # the table


def test_lstm_flops_match_a_hand_count(flops):
    # W5: LSTM(28, 128) over 28 steps at batch 128, then Linear(128, 10) of the last output
    B, T, I, H = 128, 28, 28, 128
    forward = 2 * B * T * I * 4 * H + T * 2 * B * H * 4 * H + 2 * B * 128 * 10
    assert flops.flops("W5", training=False) == forward
    weight_grads = 2 * 4 * H * I * B * T + 2 * 4 * H * H * B * T + 2 * 128 * 10 * B
    input_grads = T * 2 * B * 4 * H * H + 2 * B * 10 * 128     # none for the images
    assert flops.flops("W5") == forward + weight_grads + input_grads
    # W6: two LSTM layers of 512 over 128 characters at batch 64, the head at every position
    B, T, V = 64, 128, 84
    layer = (lambda n_in, h: 2 * B * T * n_in * 4 * h + T * 2 * B * h * 4 * h)
    assert flops.flops("W6", training=False) == (layer(64, 512) + layer(512, 512)
                                                 + 2 * B * T * 512 * V)


def test_quick_run_of_the_lstm_workload():
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "W5",
         "--threads", "1"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert {(r["workload"], r["metric"]) for r in lines[1:]} == {
        ("W5", "train_samples_per_s"), ("W5", "train_ms_per_step")}
    rate = lines[1]
    assert rate["ournn"]["median"] > 0 and rate["floor"]["flops_per_step"] == 1_615_790_080


def test_studio_benchmark_prints_its_json():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    out = subprocess.run([sys.executable, str(BENCHMARKS / "studio.py"), "--reps", "1",
                          "--train-size", "1000"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "studio_overhead"
    assert result["fit_epoch_s"]["median"] > 0 and result["studio_epoch_s"]["median"] > 0
    assert result["predict_while_training_ms"]["median"] > 0


def test_the_race_starts_both_frameworks_from_the_same_weights(tmp_path):
    """A few seconds of the character-LM race: one JSON line per evaluation, the same loss
    for both at the start (same weights), then a summary line each, and the plot."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, str(BENCHMARKS / "race_charlm.py"), "--minutes",
                          "0.02", "--eval-every", "0.5", "--valid-chars", "4000", "--hidden",
                          "32", "--out", str(tmp_path / "r.json"), "--plot",
                          str(tmp_path / "r.png")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    points = [p for p in lines if "framework" in p]
    summaries = {s["summary"]: s for s in lines if "summary" in s}
    assert set(summaries) == {"ournn", "torch"}
    start = {p["framework"]: p["valid_nats"] for p in points if p["train_s"] == 0}
    assert start["ournn"] == pytest.approx(start["torch"], rel=1e-5)
    assert all(s["steps"] > 0 for s in summaries.values())
    assert (tmp_path / "r.png").stat().st_size > 0


def test_accuracy_race_gives_a_line_per_seed_and_the_medians():
    """``--accuracy-race --seeds 0,1``: one line per seed, then the medians over the seeds (a
    smoke run: 256 training images, one epoch, ournn only)."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--accuracy-race", "--frameworks", "ournn",
         "--train-samples", "256", "--max-epochs", "1", "--seeds", "0,1", "--threads", "1"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    races = [line for line in lines if line.get("metric") == "wall_s_to_accuracy"]
    assert [line["seed"] for line in races] == [0, 1]
    assert all(line["ournn"]["epochs"] == 1 and line["torch"] is None for line in races)
    (median,) = [line for line in lines if line.get("metric") == "median_wall_s_to_accuracy"]
    walls = sorted(line["ournn"]["wall_s"] for line in races)
    assert median["seeds"] == [0, 1] and abs(median["ournn"]["wall_s"] - sum(walls) / 2) < 1e-3
    assert median["ratio"] is None
