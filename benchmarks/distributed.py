#!/usr/bin/env python
"""Data-parallel training over MPI on this machine: 2 processes x 1 thread against 1 process x
2 threads (and 1 x 1), the same global batch, on W1 (mlp) and W3 (kerascnn) of BENCHMARKS.md.

    python benchmarks/distributed.py                    # W1 and W3, every set-up: JSON lines,
                                                        # a summary and the W3 projection
    python benchmarks/distributed.py --only W3 --reps 5 --steps 6
    python benchmarks/distributed.py --worker W1 ...    # one set-up in this process (what the
                                                        # driver runs, under mpiexec for 2)

A set-up runs in a fresh process (BLAS reads its thread count when NumPy loads). Each
process takes its share of every global batch (the same real MNIST batches for every set-up),
warms up, then times ``--reps`` repetitions of ``--steps`` steps, each started together
(a barrier) and as long as the slowest process. Reported, medians over repetitions: time per
step and per MNIST epoch (60,000 samples); for 2 processes, the time each step waited at the
end of backward for the gradient allreduce (``wait``: what communication cost beyond the
overlap), the time one blocking allreduce of all the gradients takes alone (``allreduce``),
and the bytes averaged per step. Speed-up and efficiency are against 1 process x 1 thread.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MNIST_TRAIN_SIZE = 60000
SETUPS = (("1x1", 1, 1), ("1x2", 1, 2), ("2x1", 2, 1))     # (name, processes, threads)
STEPS = {"W1": 30, "W3": 4}                                  # steps per repetition
# for the projection: a latency per message and the bandwidths of the cluster's network
LATENCY_S = 5e-6
BANDWIDTHS_GBIT = (10, 100)


def worker(args):
    import numpy as np

    import ournn
    import ournn.distributed as dist
    import run as bench                # benchmarks/run.py: the workloads, models and batches
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    spec = bench.WORKLOADS[args.worker]
    batch = spec["batch"]
    share = batch // world
    steps, reps, warmup = args.steps or STEPS[args.worker], args.reps, args.warmup
    batches = bench.make_batches(bench.load_mnist(), batch, steps)
    mine = [(ournn.tensor(bench.model_input(spec["model"], x[rank * share:(rank + 1) * share])),
             ournn.tensor(y[rank * share:(rank + 1) * share])) for x, y in batches]
    ournn.manual_seed(0)
    model = bench.build_model(ournn.nn, spec["model"])
    ddp = None
    if world > 1 and not args.no_ddp:
        ddp = ournn.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=args.bucket_cap_mb)
    net = ddp or model
    name, kwargs = spec["optimizer"]
    optimizer = getattr(ournn.optim, name)(model.parameters(), **kwargs)
    F = ournn.nn.functional

    def step(i):
        x, y = mine[i % len(mine)]
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return ddp.last_wait_seconds if ddp else 0.0

    for i in range(warmup):
        step(i)
    times, waits = [], []
    for _ in range(reps):
        dist.barrier()
        start = time.perf_counter()
        wait = sum(step(i) for i in range(steps))
        took = np.array([time.perf_counter() - start, wait])
        dist.all_reduce(took, op=dist.ReduceOp.MAX)       # the slowest process sets the pace
        times.append(took[0] / steps)
        waits.append(took[1] / steps)
    line = {"workload": args.worker, "model": spec["model"], "processes": world,
            "threads": int(os.environ.get("OPENBLAS_NUM_THREADS") or 0) or None,
            "global_batch": batch, "steps": steps, "reps": reps,
            "step_ms": 1e3 * statistics.median(times), "step_ms_min": 1e3 * min(times),
            "step_ms_max": 1e3 * max(times),
            "epoch_s": statistics.median(times) * MNIST_TRAIN_SIZE / batch,
            "step_ms_all": [1e3 * t for t in times]}
    if ddp is not None:
        line.update(wait_ms=1e3 * statistics.median(waits), wait_ms_all=[1e3 * w for w in waits],
                    bytes_per_step=ddp.bucket_bytes,
                    buckets=len(ddp._reducer.buckets),
                    allreduce_ms=1e3 * _allreduce_alone(ddp, reps=max(10, reps)),
                    latency_us=1e6 * _allreduce_alone(None, reps=200))
    if rank == 0:
        print(json.dumps(line), flush=True)
    dist.destroy_process_group()


def _allreduce_alone(ddp, reps):
    """Median seconds of one blocking allreduce of every gradient bucket (``ddp``), or of
    one float (None: the latency)."""
    import numpy as np

    import ournn.distributed as dist
    arrays = [np.zeros(1, np.float64)] if ddp is None else \
        [b.buffer.copy() for b in ddp._reducer.buckets]
    seconds = []
    for _ in range(reps):
        dist.barrier()
        start = time.perf_counter()
        for a in arrays:
            dist.all_reduce(a)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def find_mpiexec():
    for name in ("mpiexec", "mpirun"):
        beside = os.path.join(os.path.dirname(sys.executable), name)
        if os.access(beside, os.X_OK):
            return beside
    from shutil import which
    return which("mpiexec")


def run_setup(workload, processes, threads, args):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [sys.executable, os.path.abspath(__file__), "--worker", workload,
               "--reps", str(args.reps), "--warmup", str(args.warmup),
               "--bucket-cap-mb", str(args.bucket_cap_mb)]
    if args.steps:
        command += ["--steps", str(args.steps)]
    if processes > 1:
        launcher = [find_mpiexec(), "-n", str(processes), "--oversubscribe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            launcher.append("--allow-run-as-root")
        command = launcher + command
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = json.loads(out.stdout.strip().splitlines()[-1])
    line["threads"] = threads
    return line


def merge(lines):
    """One line for the repetitions of every round of a set-up: medians over all of them."""
    line = dict(lines[-1])
    times = [t for r in lines for t in r["step_ms_all"]]
    line.update(step_ms=statistics.median(times), step_ms_min=min(times),
                step_ms_max=max(times), reps=len(times), step_ms_all=times,
                epoch_s=statistics.median(times) / 1e3 * MNIST_TRAIN_SIZE / line["global_batch"])
    if "wait_ms_all" in line:
        waits = [w for r in lines for w in r["wait_ms_all"]]
        line.update(wait_ms=statistics.median(waits), wait_ms_all=waits,
                    allreduce_ms=statistics.median(r["allreduce_ms"] for r in lines),
                    latency_us=statistics.median(r["latency_us"] for r in lines))
    return line


def projection(w3_one_thread, bytes_per_step, processes=(2, 8, 64)):
    """W3 on a cluster, one process per core, on paper: ring allreduce time
    2(p-1)/p * bytes / bandwidth + 2(p-1) * latency, against the compute of one step."""
    compute = w3_one_thread["step_ms"] / 1e3        # 128 samples on one core
    rows = []
    for p in processes:
        for gbit in BANDWIDTHS_GBIT:
            bandwidth = gbit * 1e9 / 8
            comm = 2 * (p - 1) / p * bytes_per_step / bandwidth + 2 * (p - 1) * LATENCY_S
            for scaling, per_process in (("weak", compute), ("strong", compute / p)):
                rows.append({"processes": p, "gbit_s": gbit, "scaling": scaling,
                             "compute_ms": 1e3 * per_process, "allreduce_ms": 1e3 * comm,
                             "efficiency_no_overlap": per_process / (per_process + comm),
                             "efficiency_full_overlap": min(1.0, per_process / comm)})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="W1,W3")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=None, help="steps per repetition")
    p.add_argument("--bucket-cap-mb", type=float, default=25.0)
    p.add_argument("--rounds", type=int, default=1,
                   help="runs of every set-up, alternating (medians over all repetitions)")
    p.add_argument("--no-ddp", action="store_true",
                   help="(with --worker) the processes train apart: their compute alone")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    results = {}
    for workload in args.only.split(","):
        for round_ in range(args.rounds):        # the set-ups alternate: drift falls on all
            for name, processes, threads in SETUPS:
                line = run_setup(workload, processes, threads, args)
                print(json.dumps({"round": round_ + 1, **line}), flush=True)
                results.setdefault((workload, name), []).append(line)
        for name, _, _ in SETUPS:
            results[(workload, name)] = line = merge(results[(workload, name)])
            print(json.dumps({"summary": True, **line}), flush=True)
    for workload in args.only.split(","):
        one = results[(workload, "1x1")]["step_ms"]
        for name in ("1x2", "2x1"):
            r = results[(workload, name)]
            speedup = one / r["step_ms"]
            extra = ""
            if name == "2x1":
                extra = (f"  wait {r['wait_ms']:.2f} ms/step, allreduce alone "
                         f"{r['allreduce_ms']:.2f} ms, {r['bytes_per_step'] / 1e6:.2f} MB/step"
                         f" in {r['buckets']} buckets, 8-byte latency {r['latency_us']:.1f} us")
            print(f"{workload} {name}: {r['step_ms']:.1f} ms/step ({r['epoch_s']:.1f} s/epoch),"
                  f" speed-up {speedup:.2f}x over 1x1, efficiency {speedup / 2:.0%}{extra}",
                  file=sys.stderr)
    if ("W3", "2x1") in results:
        for row in projection(results[("W3", "1x1")], results[("W3", "2x1")]["bytes_per_step"]):
            print(json.dumps({"projection": "W3", **row}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
