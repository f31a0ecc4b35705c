#!/usr/bin/env python
"""The workloads of BENCHMARKS.md, ournn and PyTorch side by side in one process.

    python benchmarks/run.py                      # W1-W6 and M1: JSON lines on stdout, a table on stderr
    python benchmarks/run.py --only W1,W3 --reps 7
    python benchmarks/run.py --quick              # a smoke run with tiny repetition counts
    python benchmarks/run.py --accuracy-race      # W3 to 99.2% MNIST test accuracy (long)
    python benchmarks/run.py --load 1             # the same beside one busy process
    python benchmarks/run.py --device cuda        # both on an NVIDIA GPU (CuPy; PyTorch CUDA)

Method: each framework warms up, then the repetitions alternate (ournn, torch, ournn, torch,
...) so that noise from the machine falls on both alike; a repetition is a fixed number of
steps timed with ``time.perf_counter``; we report the median, min and max over repetitions
and the ratio of the medians, ours / torch. Both frameworks get the same real MNIST batches,
the same shapes, float32, and the same initial weights (ournn's, copied into the torch model).
W6 trains on Shakespeare text (``ournn.data.Shakespeare``, or synthetic ids without it).
See benchmarks/README.md for every field.
"""
import argparse
import functools
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import threads  # noqa: E402

if __name__ == "__main__":
    threads.apply_from_argv()

import numpy as np  # noqa: E402

import flops as flopcount  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, os.pardir, os.pardir, "shared", "data")
FRAMEWORKS = ("ournn", "torch")
MNIST_TRAIN_SIZE = 60000
RACE_TARGET = 0.992

# ---------------------------------------------------------------- the workloads
# steps: training steps per repetition; warmup: steps before the first repetition;
# infer: (batch, forward calls per repetition) for the latency measurements.
WORKLOADS = {
    "W1": dict(model="mlp", batch=128, optimizer=("SGD", dict(lr=0.01, momentum=0.9)),
               steps=40, warmup=10, infer=[(1, 200), (128, 40)]),
    "W2": dict(model="seedcnn", batch=64, optimizer=("SGD", dict(lr=0.01, momentum=0.9)),
               steps=10, warmup=4, infer=[(1, 100), (64, 20)]),
    "W3": dict(model="kerascnn", batch=128, optimizer=("Adam", dict(lr=1e-3)),
               steps=3, warmup=2, infer=[]),
    "W4": dict(model="deepmlp", batch=32, optimizer=("SGD", dict(lr=0.01)),
               steps=100, warmup=20, infer=[]),
    # sequential MNIST: 28 rows of 28 pixels, the last output classified
    "W5": dict(model="lstm", batch=128, optimizer=("Adam", dict(lr=1e-3)),
               steps=10, warmup=3, infer=[]),
    # character LM: 128-character chunks, gradient norm clipped at 5 (a step is ~163 GFLOP)
    "W6": dict(model="charlm", batch=64, seq_len=128, vocab=84, clip=5.0,
               optimizer=("Adam", dict(lr=2e-3)), steps=1, warmup=1, infer=[]),
}
SEQUENCE_WORKLOADS = ("W6",)     # batches of text, not of images
DEVICE = ["cpu"]                 # --device: where both frameworks compute
QUICK = dict(reps=2, steps=2, warmup=1, calls=3, m1_steps=2)
M1_STEPS = 8


def build_model(nn, name):
    """The model ``name`` from ``nn`` (``ournn.nn`` or ``torch.nn``: the same names)."""
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(),
                             nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if name == "seedcnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2048, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if name == "kerascnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, 10))
    if name == "deepmlp":
        layers = []
        for _ in range(20):
            layers += [nn.Linear(256, 256), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(256, 10))
    if name == "lstm":
        return _lstm_classifier(nn)
    if name == "charlm":
        return _char_lm(nn, WORKLOADS["W6"]["vocab"])
    raise ValueError(f"unknown model {name!r}")


def _lstm_classifier(nn):
    """W5: LSTM(28, 128) over (N, 28 rows, 28 pixels), its last output -> Linear(128, 10)."""
    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, batch_first=True)
            self.fc = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])
    return LSTMClassifier()


def _char_lm(nn, vocab):
    """W6: Embedding(vocab, 64) -> LSTM(64, 512, 2 layers) -> Linear(512, vocab) at every
    position; the logits come out as (batch * time, vocab) for the cross-entropy."""
    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, 64)
            self.lstm = nn.LSTM(64, 512, num_layers=2, batch_first=True)
            self.head = nn.Linear(512, vocab)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.head(out.reshape(-1, 512))
    return CharLM()


def model_input(name, images):
    """The input array of model ``name`` for MNIST ``images`` (N, 1, 28, 28): the images
    themselves, or for deepmlp their central 16x16 pixels flattened to 256 features."""
    if name == "deepmlp":
        return np.ascontiguousarray(images[:, 0, 6:22, 6:22].reshape(len(images), 256))
    if name == "lstm":
        return np.ascontiguousarray(images.reshape(len(images), 28, 28))
    return np.ascontiguousarray(images)


# ---------------------------------------------------------------- frameworks
def import_torch():
    """torch with ``threads.count()`` threads, or None if it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads.count())
    return torch


def load_mnist(train=True):
    from ournn.data import MNIST
    root = os.environ.get("OURNN_DATA") or (DEFAULT_DATA if os.path.isdir(DEFAULT_DATA) else None)
    return MNIST(root=root, train=train)


def make_text_batches(batch, seq_len, count, vocab, seed=0):
    """``count`` batches of ``batch`` chunks of ``seq_len`` characters of the Shakespeare
    training text (int64 ids) and their targets (the next characters, flattened), and where
    they came from; random ids when the corpus is not found (no download)."""
    rng = np.random.default_rng(seed)
    try:
        from ournn.data import Shakespeare
        root = os.environ.get("OURNN_DATA") or (DEFAULT_DATA if os.path.isdir(DEFAULT_DATA)
                                                else None)
        ids = np.asarray(Shakespeare("train", root=root, download=False).data)
        source = "shakespeare"
    except Exception as e:    # noqa: BLE001 - no corpus: the timing needs only the shapes
        print(f"W6: Shakespeare corpus not available ({type(e).__name__}: {e}); "
              "training on random character ids", file=sys.stderr)
        ids = rng.integers(0, vocab, size=batch * (seq_len + 1) * count * 4)
        source = "synthetic"
    ids = ids[ids < vocab].astype(np.int64)
    batches = []
    for _ in range(count):
        starts = rng.integers(0, len(ids) - seq_len - 1, size=batch)
        chunk = np.stack([ids[s:s + seq_len + 1] for s in starts])
        batches.append((np.ascontiguousarray(chunk[:, :-1]),
                        np.ascontiguousarray(chunk[:, 1:].reshape(-1))))
    return batches, source


def make_batches(dataset, batch, count, seed=0):
    """``count`` batches of ``batch`` samples, the same for every framework: (images, labels)."""
    order = np.random.default_rng(seed).permutation(len(dataset))
    return [dataset.get_batch(order[i * batch:(i + 1) * batch]) for i in range(count)]


class Side:
    """One framework's model, optimizer and batches for one workload; ``train(n, start)`` runs
    n training steps, ``infer(x, n)`` n forward passes in eval mode without a graph."""

    def __init__(self, framework, spec, batches, torch=None, init_from=None):
        self.framework = framework
        name, kwargs = spec["optimizer"]
        device = DEVICE[0]
        if framework == "ournn":
            import ournn
            self.nn, self.F, self.optim, self.no_grad = (
                ournn.nn, ournn.nn.functional, ournn.optim, ournn.no_grad)
            self.model = build_model(ournn.nn, spec["model"])
            self.batches = [(model_input(spec["model"], x), y) for x, y in batches]
            if device != "cpu":      # the model and the batches on the GPU before timing
                self.model.to(device)
                self.batches = [(ournn.tensor(x).to(device), ournn.tensor(y).to(device))
                                for x, y in self.batches]
            self.synchronize = ournn.cuda.synchronize
        else:
            self.nn, self.F, self.optim, self.no_grad = (
                torch.nn, torch.nn.functional, torch.optim, torch.no_grad)
            self.model = build_model(torch.nn, spec["model"])
            if init_from is not None:
                copy_weights(init_from, self.model, torch)
            self.batches = [(torch.from_numpy(model_input(spec["model"], x)),
                             torch.from_numpy(y)) for x, y in batches]
            if device != "cpu":
                self.model.to(device)
                self.batches = [(x.to(device), y.to(device)) for x, y in self.batches]
            self.synchronize = torch.cuda.synchronize if device != "cpu" else None
        self.optimizer = getattr(self.optim, name)(self.model.parameters(), **kwargs)
        self.clip = spec.get("clip")
        self.torch = torch

    def train(self, n, start=0):
        model, F, opt, batches = self.model, self.F, self.optimizer, self.batches
        model.train()
        for i in range(start, start + n):
            x, y = batches[i % len(batches)]
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            if self.clip:
                self.nn.utils.clip_grad_norm_(model.parameters(), self.clip)
            opt.step()
        return float(loss.item())

    def input(self, batch):
        """The first ``batch`` samples of the first batch, in this framework's array type."""
        return self.batches[0][0][:batch]

    def infer(self, x, n):
        self.model.eval()
        with self.no_grad():
            for _ in range(n):
                out = self.model(x)
        if DEVICE[0] != "cpu":
            self.synchronize()       # the GPU's work is done when timing stops
        return out


def copy_weights(ours, theirs, torch):
    """Give the torch model ournn's initial parameters (same order, same shapes)."""
    src, dst = list(ours.parameters()), list(theirs.parameters())
    assert len(src) == len(dst), (len(src), len(dst))
    with torch.no_grad():
        for p, q in zip(src, dst):
            assert tuple(p.shape) == tuple(q.shape), (p.shape, q.shape)
            q.copy_(torch.from_numpy(np.ascontiguousarray(p.detach().cpu().numpy())))


# ---------------------------------------------------------------- timing
def interleaved(runs, steps, reps, warmup):
    """Seconds per step of each run in ``runs`` ({name: fn(n, start)}), one value per
    repetition; the repetitions of the runs alternate."""
    for fn in runs.values():
        if warmup:
            fn(warmup, 0)
    seconds = {name: [] for name in runs}
    for rep in range(reps):
        for name, fn in runs.items():
            start = warmup + rep * steps
            t0 = time.perf_counter()
            fn(steps, start)
            seconds[name].append((time.perf_counter() - t0) / steps)
    return seconds


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def rounded(obj, digits=4):
    """Floats to ``digits`` significant digits, recursively (readable JSON)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj


# ---------------------------------------------------------------- the floor
GEMM_MIN_SECONDS = [0.02]     # each timing of a GEMM lasts about this long (less with --quick)


def gemm_seconds(m, n, k, reps=5, min_seconds=None):
    """Median seconds of one float32 (m x k) @ (k x n) in NumPy."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    t0 = time.perf_counter()
    np.matmul(a, b, out=out)
    min_seconds = GEMM_MIN_SECONDS[0] if min_seconds is None else min_seconds
    inner = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=out)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def gemm_peak(size=1024, reps=5):
    """NumPy float32 GEMM GFLOP/s at size^3: one value per repetition."""
    return [2 * size ** 3 / gemm_seconds(size, size, size, reps=1) / 1e9 for _ in range(reps)]


def matmuls_alone(gemm_list, reps):
    """Seconds for the GEMMs of one step, at their real shapes, in NumPy alone (each shape
    timed once: a recurrent layer repeats one product per time step)."""
    counts = {}
    for g in gemm_list:
        counts[(g.m, g.n, g.k)] = counts.get((g.m, g.n, g.k), 0) + 1
    return sum(n * gemm_seconds(m, n_, k, reps=reps) for (m, n_, k), n in counts.items())


def floor(workload, batch, peak_gflops, reps, per="sample", training=True):
    """What the matrix products alone allow: at the GEMM peak, and timed at their shapes
    (NumPy's on the CPU: None with --device cuda)."""
    if DEVICE[0] != "cpu":
        return None
    gemm_list = flopcount.gemms(workload, batch, training)
    count = sum(g.flops for g in gemm_list)
    at_peak = count / (peak_gflops * 1e9)
    alone = matmuls_alone(gemm_list, reps)
    result = {"flops_per_step": count, "gemms_per_step": len(gemm_list),
              "gemm_gflops_peak": peak_gflops,
              "ms_at_peak": at_peak * 1e3, "ms_matmuls_alone": alone * 1e3,
              "matmuls_alone_gflops": count / alone / 1e9}
    if per == "sample":
        result.update(at_peak=batch / at_peak, matmuls_alone=batch / alone)
    elif per == "step":
        result.update(at_peak=1 / at_peak, matmuls_alone=1 / alone)
    else:   # latency in ms
        result.update(at_peak=at_peak * 1e3, matmuls_alone=alone * 1e3)
    return result


# ---------------------------------------------------------------- one workload
def record(workload, spec, metric, unit, better, values, extra=None, floor_info=None):
    """One JSON line: per framework median/min/max of ``values`` ({fw: [per rep]})."""
    line = {"workload": workload, "model": spec["model"], "metric": metric, "unit": unit,
            "better": better, "batch": spec.get("batch")}
    line.update(extra or {})
    for fw in FRAMEWORKS:
        line[fw] = summary(values[fw]) if values.get(fw) else None
    ours, theirs = line["ournn"], line["torch"]
    line["ratio"] = ours["median"] / theirs["median"] if ours and theirs else None
    if floor_info is not None:
        line["floor"] = floor_info
    return rounded(line)


def infer_run(side, x, n, start):
    """``n`` forward passes of ``x`` (the ``interleaved`` signature; ``start`` unused)."""
    side.infer(x, n)


def run_workload(workload, args, mnist, torch, peak_gflops):
    """The JSON lines of one workload: training rate, then inference latencies."""
    spec = dict(WORKLOADS[workload])
    reps = args.reps
    steps, warmup = (QUICK["steps"], QUICK["warmup"]) if args.quick else (spec["steps"],
                                                                         spec["warmup"])
    batch = spec["batch"]
    source = None
    if workload in SEQUENCE_WORKLOADS:
        batches, source = make_text_batches(batch, spec["seq_len"], 4, spec["vocab"])
    else:
        batches = make_batches(mnist, batch, count=8)
    import ournn
    ournn.manual_seed(0)
    sides = {"ournn": Side("ournn", spec, batches)}
    if torch is not None and "torch" in args.frameworks:
        torch.manual_seed(0)
        sides["torch"] = Side("torch", spec, batches, torch, init_from=sides["ournn"].model)
    if "ournn" not in args.frameworks:
        del sides["ournn"]
    floor_reps = 1 if args.quick else 3

    seconds = interleaved({fw: side.train for fw, side in sides.items()}, steps, reps, warmup)
    run_info = {"steps_per_rep": steps, "warmup_steps": warmup, "reps": reps}
    lines = []
    if workload in SEQUENCE_WORKLOADS:
        chars = batch * spec["seq_len"]
        run_info.update(seq_len=spec["seq_len"], data=source)
        per_s = {fw: [chars / s for s in v] for fw, v in seconds.items()}
        fl = floor(workload, batch, peak_gflops, floor_reps, per="step")
        if fl is not None:
            fl.update(at_peak=fl["at_peak"] * chars, matmuls_alone=fl["matmuls_alone"] * chars)
        lines.append(record(workload, spec, "train_chars_per_s", "chars/s", "higher", per_s,
                            run_info, fl))
    elif workload == "W4":
        per_s = {fw: [1 / s for s in v] for fw, v in seconds.items()}
        fl = floor(workload, batch, peak_gflops, floor_reps, per="step")
        lines.append(record(workload, spec, "train_steps_per_s", "steps/s", "higher", per_s,
                            run_info, fl))
    else:
        per_s = {fw: [batch / s for s in v] for fw, v in seconds.items()}
        fl = floor(workload, batch, peak_gflops, floor_reps, per="sample")
        lines.append(record(workload, spec, "train_samples_per_s", "samples/s", "higher",
                            per_s, run_info, fl))
    ms = {fw: [s * 1e3 for s in v] for fw, v in seconds.items()}
    lines.append(record(workload, spec, "train_ms_per_step", "ms", "lower", ms, run_info))
    if workload == "W3":   # one epoch of MNIST at the measured rate
        epoch = {fw: [MNIST_TRAIN_SIZE * s / batch for s in v] for fw, v in seconds.items()}
        lines.append(record(workload, spec, "epoch_s", "s", "lower", epoch,
                            dict(run_info, samples_per_epoch=MNIST_TRAIN_SIZE)))

    for infer_batch, calls in spec["infer"]:
        calls = QUICK["calls"] if args.quick else calls
        runs = {fw: functools.partial(infer_run, side, side.input(infer_batch))
                for fw, side in sides.items()}
        seconds = interleaved(runs, calls, reps, warmup=max(1, calls // 5))
        ms = {fw: [s * 1e3 for s in v] for fw, v in seconds.items()}
        fl = floor(workload, infer_batch, peak_gflops, floor_reps, per="latency", training=False)
        lines.append(record(workload, dict(spec, batch=infer_batch),
                            f"infer_latency_ms_b{infer_batch}", "ms", "lower", ms,
                            {"calls_per_rep": calls, "reps": reps}, fl))
    return lines


# ---------------------------------------------------------------- M1: memory
def maxrss_mb():
    """Peak resident memory of this process so far, in MB.

    On Linux from VmHWM in /proc/self/status: ``getrusage``'s ru_maxrss survives fork + exec,
    so a child started by a parent that had reached 450 MB reports at least 450 MB before it
    has done anything (measured here). Elsewhere ru_maxrss (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2 ** 10
    except OSError:
        pass
    scale = 1 / 2 ** 20 if sys.platform == "darwin" else 1 / 2 ** 10
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def m1_child(framework, data_path, steps):
    """In a fresh process: W3 training for ``steps`` steps; print peak RSS as one JSON line."""
    if framework == "ournn":
        import ournn  # noqa: F401
        torch = None
    else:
        torch = import_torch()
    baseline = maxrss_mb()            # interpreter + numpy + the framework, nothing else
    with np.load(data_path) as archive:
        images, labels = archive["images"], archive["labels"]
    spec = WORKLOADS["W3"]
    batch = spec["batch"]
    batches = [(images[i:i + batch], labels[i:i + batch]) for i in range(0, len(images), batch)]
    side = Side(framework, spec, batches, torch)
    loss = side.train(steps)
    peak = maxrss_mb()
    print(json.dumps({"framework": framework, "steps": steps, "baseline_mb": baseline,
                      "peak_mb": peak, "delta_mb": peak - baseline, "final_loss": loss}))


def run_m1(args, mnist, torch):
    """Run each framework's W3 training in its own subprocess and compare peak RSS."""
    steps = QUICK["m1_steps"] if args.quick else M1_STEPS
    spec = WORKLOADS["W3"]
    images, labels = zip(*make_batches(mnist, spec["batch"], count=min(steps, 4)))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w3_batches.npz")
        np.savez(path, images=np.concatenate(images), labels=np.concatenate(labels))
        for fw in args.frameworks:
            if fw == "torch" and torch is None:
                continue
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                                   f"m1-{fw}", "--child-data", path, "--child-steps",
                                   str(steps)], capture_output=True, text=True, timeout=900,
                                  check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"M1 child for {fw} failed:\n{proc.stderr}")
            results[fw] = json.loads(proc.stdout.strip().splitlines()[-1])
    line = {"workload": "M1", "model": spec["model"], "metric": "peak_rss_mb", "unit": "MB",
            "better": "lower", "batch": spec["batch"], "steps": steps}
    for fw in FRAMEWORKS:
        r = results.get(fw)
        line[fw] = (None if r is None else
                    {k: r[k] for k in ("peak_mb", "baseline_mb", "delta_mb")})
    ours, theirs = line["ournn"], line["torch"]
    both = ours is not None and theirs is not None
    line["ratio"] = ours["peak_mb"] / theirs["peak_mb"] if both else None
    line["ratio_delta"] = (ours["delta_mb"] / theirs["delta_mb"]
                           if both and theirs["delta_mb"] > 0 else None)
    return [rounded(line)]


# ---------------------------------------------------------------- W3 accuracy race
def race_one(framework, init, data, args, torch, seed):
    """Train kerascnn until the test accuracy reaches the target or ``max_epochs``."""
    (x_train, y_train), (x_test, y_test) = data
    spec = WORKLOADS["W3"]
    batch = spec["batch"]
    side = Side(framework, spec, [], torch)
    if framework == "ournn":
        for p, value in zip(side.model.parameters(), init):
            p.numpy()[...] = value
        as_array = (lambda a: a)
    else:
        with torch.no_grad():
            for q, value in zip(side.model.parameters(), init):
                q.copy_(torch.from_numpy(value))
        as_array = torch.from_numpy
    order_rng = np.random.default_rng(seed)    # the same data order for every framework
    history, train_s, start = [], 0.0, time.perf_counter()
    for epoch in range(1, args.max_epochs + 1):
        order = order_rng.permutation(len(x_train))
        t0 = time.perf_counter()
        side.batches = [(as_array(np.ascontiguousarray(x_train[idx])), as_array(y_train[idx]))
                        for idx in (order[i:i + batch] for i in range(0, len(order), batch))]
        loss = side.train(len(side.batches))
        train_s += time.perf_counter() - t0
        correct = 0
        for i in range(0, len(x_test), 1000):
            out = side.infer(as_array(x_test[i:i + 1000]), 1)
            predicted = np.asarray(out.numpy()).argmax(1)
            correct += int((predicted == y_test[i:i + 1000]).sum())
        accuracy = correct / len(x_test)
        wall = time.perf_counter() - start
        history.append({"epoch": epoch, "test_accuracy": accuracy, "wall_s": wall,
                        "last_loss": loss})
        print(f"race {framework}: epoch {epoch} test accuracy {accuracy:.4f} "
              f"wall {wall:.1f} s", file=sys.stderr, flush=True)
        if accuracy >= args.target:
            break
    return {"reached": history[-1]["test_accuracy"] >= args.target, "epochs": len(history),
            "wall_s": history[-1]["wall_s"], "train_s": train_s,
            "final_accuracy": history[-1]["test_accuracy"],
            "accuracies": [h["test_accuracy"] for h in history]}


def accuracy_race(args, torch):
    """One line per seed (both frameworks from the same initial weights and data order, their
    dropout draws their own), then the medians over the seeds and their ratio: the epoch
    where the target is crossed depends on the dropout draws, so one seed says little."""
    import ournn
    train, test = load_mnist(True), load_mnist(False)
    x_train, y_train = train.arrays()
    x_test, y_test = test.arrays()
    if args.train_samples:
        x_train, y_train = x_train[:args.train_samples], y_train[:args.train_samples]
    lines = []
    for seed in args.seeds:
        ournn.manual_seed(seed)
        init = [p.numpy().copy() for p in build_model(ournn.nn, "kerascnn").parameters()]
        if torch is not None:
            torch.manual_seed(seed)
        results = {}
        for fw in args.frameworks:
            if fw == "torch" and torch is None:
                continue
            results[fw] = race_one(fw, init, ((x_train, y_train), (x_test, y_test)), args,
                                   torch, seed)
        ours, theirs = results.get("ournn"), results.get("torch")
        lines.append({"workload": "W3", "model": "kerascnn", "metric": "wall_s_to_accuracy",
                      "unit": "s", "better": "lower", "batch": WORKLOADS["W3"]["batch"],
                      "seed": seed, "target_accuracy": args.target,
                      "max_epochs": args.max_epochs, "train_samples": len(x_train),
                      "ournn": ours, "torch": theirs,
                      "ratio": ours["wall_s"] / theirs["wall_s"] if ours and theirs else None})
    if len(lines) > 1:
        def median_of(fw, key):
            values = [line[fw][key] for line in lines if line[fw]]
            return statistics.median(values) if values else None

        medians = {fw: {key: median_of(fw, key) for key in ("wall_s", "epochs", "train_s")}
                   for fw in ("ournn", "torch")}
        reached = {fw: sum(bool(line[fw] and line[fw]["reached"]) for line in lines)
                   for fw in ("ournn", "torch")}
        ours, theirs = medians["ournn"]["wall_s"], medians["torch"]["wall_s"]
        lines.append({"workload": "W3", "model": "kerascnn", "metric": "median_wall_s_to_accuracy",
                      "unit": "s", "better": "lower", "seeds": args.seeds,
                      "target_accuracy": args.target, "ournn": medians["ournn"],
                      "torch": medians["torch"], "reached": reached,
                      "ratio": ours / theirs if ours and theirs else None})
    return [rounded(line) for line in lines]


# ---------------------------------------------------------------- output
def blas_core():
    """The kernel set NumPy's OpenBLAS runs (e.g. "Haswell", "SkylakeX"), or None for another
    BLAS. OpenBLAS picks it from the CPU when NumPy loads, unless ``OPENBLAS_CORETYPE`` forces
    one: the machines here set ``OPENBLAS_CORETYPE=Haswell`` (for older OpenBLAS builds), which
    gives the AMD EPYC (AVX-512) the AVX2 kernels, half the float32 GEMM rate of the SkylakeX
    ones NumPy 2's OpenBLAS picks by itself (2048^3: 77 against 145 GFLOP/s in one run)."""
    import ctypes
    import glob
    root = os.path.dirname(np.__file__)
    for path in sorted(glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*"))
                       + glob.glob(os.path.join(root, ".libs", "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                     "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None


def env_line(args, torch, peak):
    return rounded({
        "workload": "env", "python": platform.python_version(), "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", f"default ({os.cpu_count()})"),
        "blas_core": blas_core(),
        "blas_core_forced": os.environ.get("OPENBLAS_CORETYPE"),
        "load_processes": args.load, "blas_policy": args.blas_policy, "device": args.device,
        "cpu_count": os.cpu_count(), "loadavg": list(os.getloadavg()),
        "machine": platform.machine(), "quick": args.quick, "reps": args.reps,
        "gemm_gflops_1024": summary(peak)})


def fmt(value, digits=4):
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(lines):
    """A plain-text table of the JSON lines."""
    head = ("workload", "metric", "unit", "ournn median [min-max]",
            "torch median [min-max]", "ours/torch", "better", "floor: peak | matmuls")
    rows = [head]
    for line in lines:
        if line["workload"] == "env":
            continue
        cells = [line["workload"], line["metric"], line["unit"]]
        for fw in FRAMEWORKS:
            r = line.get(fw)
            if r is None:
                cells.append("-")
            elif "median" in r:
                cells.append(f"{fmt(r['median'])} [{fmt(r['min'])}-{fmt(r['max'])}]")
            elif "peak_mb" in r:
                cells.append(f"{fmt(r['peak_mb'])} (+{fmt(r['delta_mb'])} over "
                             f"{fmt(r['baseline_mb'])})")
            elif "final_accuracy" in r:
                cells.append(f"{fmt(r['wall_s'])} s, {r['epochs']} ep, "
                             f"{r['final_accuracy']:.2%}")
            else:                    # the medians over the race's seeds
                cells.append(f"{fmt(r['wall_s'])} s, {fmt(r['epochs'])} ep "
                             f"(median of {len(line['seeds'])} seeds)")
        cells.append("-" if line.get("ratio") is None else f"{line['ratio']:.3f}")
        cells.append(line.get("better", ""))
        fl = line.get("floor")
        cells.append(f"{fmt(fl['at_peak'])} | {fmt(fl['matmuls_alone'])}" if fl else "")
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    text = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    text.insert(1, "  ".join("-" * w for w in widths))
    env = next((line for line in lines if line["workload"] == "env"), None)
    if env:
        g = env["gemm_gflops_1024"]
        end = [round(x, 2) for x in os.getloadavg()]
        torch = (f"torch {env['torch']} ({env['torch_threads']} threads)" if env["torch"]
                 else "no torch")
        text.append(f"numpy {env['numpy']} (BLAS threads: {env['blas_threads']}, kernels: "
                    f"{env.get('blas_core')}), {torch}, "
                    f"{env['cpu_count']} cores; "
                    f"load average at start {env['loadavg']}, at end {end}; sgemm 1024^3: "
                    f"{fmt(g['median'])} GFLOP/s [{fmt(g['min'])}-{fmt(g['max'])}]")
    return "\n".join(text)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="W1,W2,W3,W4,W5,W6,M1",
                   help="comma-separated workloads (W1,W2,W3,W4,W5,W6,M1); default all")
    p.add_argument("--reps", type=int, default=None,
                   help="timed repetitions per framework (default 7, 2 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 repetitions of 2 steps, for tests (numbers meaningless)")
    p.add_argument("--frameworks", default="ournn,torch", help="default: ournn,torch")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where both frameworks train and infer: the CPU (default), or an "
                        "NVIDIA GPU (ournn on CuPy, PyTorch with CUDA; the batches are put "
                        "there before timing, no floors, no M1)")
    p.add_argument("--blas-policy", choices=("auto", "one", "default"), default="auto",
                   help="ournn's BLAS threads per product (ournn.ops.blas.POLICY): auto "
                        "(one for small products, measured for big ones), one, or NumPy's "
                        "default")
    p.add_argument("--load", type=int, default=0, metavar="N",
                   help="run N CPU-bound processes beside the benchmark (a busy machine); "
                        "compare the ratios with a run without")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for NumPy's BLAS and torch (default: all cores)")
    p.add_argument("--table", action="store_true",
                   help="print the table on stdout after the JSON lines (default: stderr)")
    race = p.add_argument_group("W3 accuracy race (not part of the default run)")
    race.add_argument("--accuracy-race", action="store_true",
                      help="train kerascnn to the target MNIST test accuracy in each framework")
    race.add_argument("--max-epochs", type=int, default=12)
    race.add_argument("--target", type=float, default=RACE_TARGET)
    race.add_argument("--seeds", default="0",
                      help="comma-separated seeds, one race each, then the medians "
                           "(default 0; the issue's figure: 0,1,2)")
    race.add_argument("--train-samples", type=int, default=None,
                      help="train on the first N samples only (a smoke run of the race)")
    p.add_argument("--child", help=argparse.SUPPRESS)          # m1-ournn / m1-torch
    p.add_argument("--child-data", help=argparse.SUPPRESS)
    p.add_argument("--child-steps", type=int, default=M1_STEPS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in args.only if w not in WORKLOADS and w != "M1"]
    if unknown:
        p.error(f"unknown workload(s) {unknown}: choose from W1, W2, W3, W4, W5, W6, M1")
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    if not set(args.frameworks) <= set(FRAMEWORKS) or not args.frameworks:
        p.error(f"--frameworks: choose from {', '.join(FRAMEWORKS)}")
    if args.reps is None:
        args.reps = QUICK["reps"] if args.quick else 7
    if args.reps < 1:
        p.error("--reps must be >= 1")
    if args.load < 0 or args.load > 64:
        p.error(f"--load must be from 0 to 64 busy processes, got {args.load}")
    try:
        args.seeds = [int(v) for v in args.seeds.split(",") if v.strip()]
    except ValueError:
        p.error(f"--seeds: comma-separated whole numbers, got {args.seeds!r}")
    if not args.seeds:
        p.error("--seeds: give at least one seed")
    if args.device != "cpu" and args.accuracy_race:
        p.error("--accuracy-race runs on the CPU; drop --device")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        m1_child(args.child.split("-", 1)[1], args.child_data, args.child_steps)
        return 0
    if args.threads and args.threads != threads.count():
        print(f"--threads {args.threads}: NumPy was loaded before the option was read "
              "(run this file as a script)", file=sys.stderr)
    if args.quick:
        GEMM_MIN_SECONDS[0] = 0.002
    torch = import_torch() if "torch" in args.frameworks else None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if not args.accuracy_race and not args.load and load >= cores and threads.count() > 1:
        print(f"warning: load average {load:.1f} on {cores} cores: other processes are using "
              "the CPU, and multi-threaded BLAS calls stall waiting for their threads; the "
              "figures will be noisy (compare --threads 1)", file=sys.stderr)
    busy = start_load(args.load)
    try:
        return measure(args, torch)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def start_load(n):
    """``n`` CPU-bound processes (a Python loop each) that run until killed: a busy machine,
    the same for both frameworks since their repetitions alternate."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    if busy:
        time.sleep(1.0)            # let them start before the first timing
    return busy


def measure(args, torch):
    import ournn.ops.blas
    ournn.ops.blas.POLICY = args.blas_policy
    if args.load:
        print(f"--load {args.load}: {args.load} busy process(es) running beside the "
              "benchmark", file=sys.stderr)
    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"warning: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} forces NumPy's BLAS "
              "kernels instead of the ones OpenBLAS picks for this CPU (the env line shows "
              "which run); to measure what a user gets: env -u OPENBLAS_CORETYPE -u "
              "OPENBLAS_L2_SIZE python benchmarks/run.py", file=sys.stderr)
    if "torch" in args.frameworks and torch is None:
        print("PyTorch is not installed: its columns are skipped "
              "(pip install torch==2.13.0 for the comparison)", file=sys.stderr)
    DEVICE[0] = args.device
    if args.device != "cpu":
        import ournn
        try:
            ournn.zeros(1, device=args.device)
        except ournn.DeviceError as e:          # no CuPy or no GPU: the one line saying so
            print(f"--device {args.device}: {e}", file=sys.stderr)
            return 2
        if torch is not None and not torch.cuda.is_available():
            print("PyTorch has no CUDA here: its columns are skipped", file=sys.stderr)
            torch = None

    def emit(line):
        print(json.dumps(line), flush=True)
        lines.append(line)

    lines = []
    if args.accuracy_race:
        for line in accuracy_race(args, torch):
            emit(line)
    else:
        peak = gemm_peak(reps=2 if args.quick else 5)
        emit(env_line(args, torch, peak))
        peak_gflops = statistics.median(peak)
        mnist = load_mnist(train=True)
        for workload in args.only:
            if workload == "M1" and args.device != "cpu":
                print("M1 measures the host's memory: skipped with --device", file=sys.stderr)
                continue
            print(f"running {workload}...", file=sys.stderr, flush=True)
            found = (run_m1(args, mnist, torch) if workload == "M1"
                     else run_workload(workload, args, mnist, torch, peak_gflops))
            for line in found:
                emit(line)
    print(table(lines), file=sys.stdout if args.table else sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
