"""Data-parallel training over MPI, with two real processes (``mpiexec -n 2``), and the world
of one process that needs no MPI.

The two-process checks run in few launches (each start of MPI costs a second or two):
``mpi_checks.py`` holds those of the library (collectives, DistributedDataParallel against
one process with the whole batch, SyncBatchNorm, DistributedSampler, ``fit``, an interrupted
run resumed); the command line and a failing process get their own launches. Every launch
has a timeout (``mpi_launch.TIMEOUT``): a hang fails, it never blocks the run.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ournn
import ournn.distributed as dist
from ournn import nn
from mpi_launch import ROOT, mpiexec, show

HERE = Path(__file__).resolve().parent


def test_two_processes_train_as_one_with_the_whole_batch():
    result = mpiexec([HERE / "mpi_checks.py", "all"])
    assert result.returncode == 0, show(result)
    import mpi_checks_names
    for name in mpi_checks_names.NAMES:
        assert f"ok {name}" in result.stdout, show(result)


def test_a_failing_process_stops_the_job_with_a_clear_message():
    start = time.monotonic()
    result = mpiexec([HERE / "mpi_failing_rank.py"], timeout=60)
    assert result.returncode != 0, show(result)
    assert time.monotonic() - start < 60
    assert "rank 1 fails on purpose" in result.stderr, show(result)
    assert "rank 1 of 2 failed" in result.stderr, show(result)
    assert "went past" not in result.stdout


def _train(out, *more):
    return mpiexec(["-m", "ournn.cli", "train", "--model", "mlp", "--limit", "512",
                    "--out", out, *more])


def test_the_command_line_trains_on_two_processes_and_resumes(tmp_path):
    out = tmp_path / "run"
    result = _train(out, "--epochs", "1")
    assert result.returncode == 0, show(result)
    # the progress, the closing line and the run folder are rank 0's alone
    assert result.stdout.count("Test accuracy") == 1, show(result)
    assert result.stdout.count("val_accuracy") == 1, show(result)      # one epoch line
    assert sorted(p.name for p in out.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    assert not list(out.glob("*.part*")) and not list(out.glob(".*tmp*"))
    results = json.loads((out / "results.json").read_text())
    assert results["processes"] == 2 and results["epochs"] == 1
    state = ournn.load(str(out / "last.ckpt"), rebuild=False)["trainer"]
    assert state["world_size"] == 2 and len(state["ranks"]) == 2 and state["epoch"] == 1
    # 512 training images, 128 a step (64 in each process): the steps of one process
    assert len(state["history"]["steps"]["loss"]) == 4
    # the checkpoint holds the bare model: `ournn eval` reads it as any other
    from ournn.train.checkpoints import load_model
    model, meta = load_model(str(out / "last.ckpt"))
    assert not any(k.startswith("module.") for k in model.state_dict())

    result = _train(out, "--epochs", "2", "--resume")
    assert result.returncode == 0, show(result)
    state = ournn.load(str(out / "last.ckpt"), rebuild=False)["trainer"]
    assert state["epoch"] == 2 and len(state["history"]["epoch"]) == 2
    assert len(state["history"]["steps"]["loss"]) == 8
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == [1, 2]


# ---------------------------------------------------------------- one process, no MPI
@pytest.fixture
def world_of_one(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE",
                 "OURNN_MPI"):
        monkeypatch.delenv(name, raising=False)
    dist.destroy_process_group()
    dist.init_process_group(backend="mpi")
    yield
    dist.destroy_process_group()


def test_a_world_of_one_needs_no_mpi(world_of_one):
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, True)
    t = ournn.tensor([1.0, 2.0])
    dist.all_reduce(t)
    dist.broadcast(t, src=0)
    assert dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True).wait()
    assert t.tolist() == [1.0, 2.0]
    parts = [ournn.zeros(2)]
    dist.all_gather(parts, t)
    assert parts[0].tolist() == [1.0, 2.0]
    dist.barrier()
    # DDP is the model itself: same outputs and gradients
    ournn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    ddp = nn.parallel.DistributedDataParallel(model)
    x = ournn.randn(5, 4)
    ddp(x).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters()):
        assert np.array_equal(g, p.grad.numpy())
    assert sorted(ddp.state_dict()) == sorted("module." + k for k in model.state_dict())


def test_importing_ournn_does_not_start_mpi():
    code = ("import sys, ournn, ournn.distributed, ournn.nn.parallel; "
            "from ournn.train import fit; "
            "print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_clear_errors():
    dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group(backend="nccl")
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        ournn.data.DistributedSampler(range(4))
    with pytest.raises(ValueError, match="invalid rank 2"):
        ournn.data.DistributedSampler(range(4), num_replicas=2, rank=2)
    from ournn.train.distributed import per_process_batch
    with pytest.raises(ValueError, match="batch_size 10 does not divide among 4 processes"):
        per_process_batch(10, 4)
    assert per_process_batch(128, 4) == 32


def test_launch_detection_reads_the_environment(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE",
                 "OURNN_MPI"):
        monkeypatch.delenv(name, raising=False)
    assert not dist.launched_by_mpi()
    monkeypatch.setenv("PMI_SIZE", "4")
    assert dist.launched_by_mpi()
    monkeypatch.setenv("OURNN_MPI", "0")
    assert not dist.launched_by_mpi()


def test_sync_batchnorm_on_one_process_is_batchnorm(world_of_one):
    ournn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12)))
    weight = model[1].weight
    reference = {k: np.array(v) for k, v in model.state_dict().items()}
    x = ournn.randn(4, 1, 4, 4)
    expected = model(x).numpy().copy()
    model.load_state_dict(reference)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(sync[1], nn.SyncBatchNorm) and isinstance(sync[3][1], nn.SyncBatchNorm)
    assert sync[1].weight is weight               # the same parameters, not copies
    np.testing.assert_allclose(sync(x).numpy(), expected, rtol=1e-6)
    assert sorted(sync.state_dict()) == sorted(reference)


def test_the_example_runs_on_two_processes():
    result = mpiexec([ROOT / "examples" / "distributed_mnist.py", "--limit", "512"])
    assert result.returncode == 0, show(result)
    assert result.stdout.count("test accuracy") == 1, show(result)       # rank 0 prints
    assert "2 processes" in result.stdout
    for rank in (0, 1):
        assert f"rank {rank}: the same weights as every process: True" in result.stdout


def test_the_example_runs_on_one_process_without_mpi(monkeypatch):
    import runpy
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE",
                 "OURNN_MPI"):
        monkeypatch.delenv(name, raising=False)
    dist.destroy_process_group()
    main = runpy.run_path(str(ROOT / "examples" / "distributed_mnist.py"))["main"]
    result = main(limit=256)
    assert result["world_size"] == 1 and result["same_weights"] and not dist.is_initialized()


def test_the_benchmark_runs_every_setup():
    """benchmarks/distributed.py (timings are never asserted): one tiny repetition of W1
    for 1 x 1, 1 x 2 and 2 x 1, each a JSON line; the 2-process one with the traffic."""
    from mpi_launch import skip_without_mpi
    skip_without_mpi()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "distributed.py"),
                          "--only", "W1", "--reps", "1", "--steps", "1", "--warmup", "0"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["processes"], r["threads"]) for r in lines] == [(1, 1), (1, 2), (2, 1)] * 2
    assert [r.get("summary", False) for r in lines] == [False] * 3 + [True] * 3
    two = lines[-1]
    params = 784 * 512 + 512 + 512 * 1024 + 1024 + 1024 * 10 + 10
    assert two["bytes_per_step"] == 4 * params and two["allreduce_ms"] > 0
    assert "speed-up" in out.stderr
