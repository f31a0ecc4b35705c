#!/usr/bin/env python
"""Where one W3 training step (kerascnn, batch 128, Adam 1e-3) spends its time in ournn.

    python benchmarks/profile_w3.py                 # markdown on stdout, for docs/performance.md
    python benchmarks/profile_w3.py --steps 10 --threads 1 --no-torch

Four views of the same step, on real MNIST batches:

1. the step's wall time without any profiler (the figure the others are shares of);
2. time by op, forward and backward apart: every ``Function``'s forward and backward, the
   dropout mask, the layers' Python, the autograd engine and the optimizer are wrapped in
   ``perf_counter`` timers for the run (this script only; nothing in ournn changes), and each
   region counts its *exclusive* time, so the rows add up to the step;
3. pyinstrument's call tree if it is installed (``pip install pyinstrument``), and cProfile's
   top functions by their own time (this is where NumPy's C functions show up by name);
4. for comparison, PyTorch's profiler on the same step, grouped the same way (if installed).
"""
import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import threads  # noqa: E402

if __name__ == "__main__":
    threads.apply_from_argv()

import numpy as np  # noqa: E402

import run  # noqa: E402

# The clock of every timer: wall time, or with --cpu-time the calling thread's CPU time, which
# other processes on a busy machine do not inflate (meaningful with --threads 1 only, since
# BLAS worker threads are not counted).
CLOCK = time.perf_counter

# ---------------------------------------------------------------- exclusive op timers
GROUP_OF_FUNCTION = {"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "maxpool",
                     "Mul": "dropout", "Reshape": "flatten", "Linear": "linear",
                     "CrossEntropy": "loss"}


class ExclusiveTimer:
    """Nested named regions; each region's time minus its sub-regions' goes to its name."""

    def __init__(self):
        self.totals = defaultdict(float)
        self.stack = []                  # [name, start, time spent in sub-regions]

    def enter(self, name):
        self.stack.append([name, CLOCK(), 0.0])

    def leave(self):
        name, start, inner = self.stack.pop()
        elapsed = CLOCK() - start
        self.totals[name] += elapsed - inner
        if self.stack:
            self.stack[-1][2] += elapsed

    def wrap(self, name, fn):
        """``fn`` timed as region ``name`` (a str, or a function of the call's arguments)."""
        def timed(*args, **kwargs):
            self.enter(name(*args) if callable(name) else name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.leave()
        timed.__wrapped__ = fn
        return timed


def _label(cls_name, arrays):
    """A row name for a Function's forward: per layer for conv and linear (by weight shape)."""
    group = GROUP_OF_FUNCTION.get(cls_name, cls_name)
    if cls_name == "Conv2d" and len(arrays) > 1:
        o, c, kh, kw = arrays[1].shape
        return f"conv {c}->{o} {kh}x{kw}"
    if cls_name == "Linear" and len(arrays) > 1:
        o, i = arrays[1].shape
        return f"linear {i}->{o}"
    if cls_name == "Mul":
        return "dropout: multiply by mask"
    return group


def _function_classes(base):
    found, todo = [], [base]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


class Instrumented:
    """Installs the timers on ournn's classes for the duration of a ``with`` block."""

    def __init__(self, timer, optimizer):
        self.timer, self.optimizer, self.undo = timer, optimizer, []

    def _patch(self, owner, attr, value):
        self.undo.append((owner, attr, vars(owner).get(attr)))   # None: was inherited
        setattr(owner, attr, value)

    def __enter__(self):
        import ournn
        import ournn.autograd.engine as engine
        import ournn.nn.functional as F
        timer = self.timer
        for cls in _function_classes(ournn.Function):
            fwd, bwd = cls.__dict__.get("forward"), cls.__dict__.get("backward")
            if not isinstance(fwd, staticmethod) or not isinstance(bwd, staticmethod):
                continue
            self._patch(cls, "forward", staticmethod(self._forward(cls.__name__, fwd.__func__)))
            self._patch(cls, "backward", staticmethod(self._backward(cls.__name__,
                                                                     bwd.__func__)))
        self._patch(F, "dropout", timer.wrap("dropout: random mask", F.dropout))
        self._patch(engine, "backward", timer.wrap("autograd engine (graph walk, sums)",
                                                   engine.backward))
        self._patch(ournn.nn.Module, "__call__",
                    timer.wrap("layers' Python + Function.apply", ournn.nn.Module.__call__))
        self._patch(self.optimizer, "step", timer.wrap("adam step", self.optimizer.step))
        self._patch(self.optimizer, "zero_grad", timer.wrap("zero_grad",
                                                            self.optimizer.zero_grad))
        return self

    def _forward(self, cls_name, fn):
        timer = self.timer

        def forward(ctx, *arrays, **kwargs):
            label = _label(cls_name, arrays)
            ctx._profile_label = label
            timer.enter(label + " | forward")
            try:
                return fn(ctx, *arrays, **kwargs)
            finally:
                timer.leave()
        return forward

    def _backward(self, cls_name, fn):
        timer = self.timer

        def backward(ctx, *grads):
            label = getattr(ctx, "_profile_label", cls_name)
            timer.enter(label + " | backward")
            try:
                return fn(ctx, *grads)
            finally:
                timer.leave()
        return backward

    def __exit__(self, *exc):
        for owner, attr, value in reversed(self.undo):
            if value is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, value)
        return False


# ---------------------------------------------------------------- the step
def make_side(framework, batches, torch=None, init_from=None):
    spec = run.WORKLOADS["W3"]
    return run.Side(framework, spec, batches, torch, init_from=init_from)


def wall_times(side, steps, start):
    times = []
    for i in range(steps):
        t0 = CLOCK()
        side.train(1, start + i)
        times.append(CLOCK() - t0)
    return times


def op_table(side, steps, start):
    """Median exclusive ms per step of each region, over ``steps`` instrumented steps."""
    per_step = []
    for i in range(steps):
        timer = ExclusiveTimer()
        with Instrumented(timer, side.optimizer):
            timer.enter("training loop (batch fetch, loss.item)")
            side.train(1, start + i)
            timer.leave()
        per_step.append(dict(timer.totals))
    names = list(dict.fromkeys(name for step in per_step for name in step))
    rows = {name: statistics.median(step.get(name, 0.0) for step in per_step) * 1e3
            for name in names}
    total = statistics.median(sum(step.values()) for step in per_step) * 1e3
    return rows, total


def print_op_table(rows, total):
    """Rows 'layer | forward/backward' folded into one line per layer, then group totals."""
    layers = {}
    for name, ms in rows.items():
        layer, _, phase = name.partition(" | ")
        entry = layers.setdefault(layer, {"forward": 0.0, "backward": 0.0, "": 0.0})
        entry[phase] += ms
    print("| op | forward ms | backward ms | total ms | share of step |")
    print("|---|---:|---:|---:|---:|")
    ordered = sorted(layers.items(), key=lambda kv: -sum(kv[1].values()))
    for layer, ms in ordered:
        both = sum(ms.values())
        fwd = f"{ms['forward']:.1f}" if ms["forward"] else ""
        bwd = f"{ms['backward']:.1f}" if ms["backward"] else ""
        if not fwd and not bwd:
            fwd = bwd = ""
        print(f"| {layer} | {fwd} | {bwd} | {both:.1f} | {both / total:.1%} |")
    print(f"| **step** | | | **{total:.1f}** | 100% |")
    groups = defaultdict(float)
    for layer, ms in layers.items():
        groups[_group(layer)] += sum(ms.values())
    print()
    print("By group: " + ", ".join(f"{g} {ms:.1f} ms ({ms / total:.0%})" for g, ms in
                                   sorted(groups.items(), key=lambda kv: -kv[1])))


def _group(layer):
    for prefix, group in (("conv", "conv"), ("linear", "linear"), ("dropout", "dropout"),
                          ("maxpool", "maxpool"), ("relu", "relu"), ("adam", "adam"),
                          ("loss", "loss")):
        if layer.startswith(prefix):
            return group
    return "other"


# ---------------------------------------------------------------- cProfile / pyinstrument
def cprofile_top(side, steps, start, top):
    profiler = cProfile.Profile()
    profiler.enable()
    side.train(steps, start)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    print("| function | calls/step | own ms/step | cumulative ms/step |")
    print("|---|---:|---:|---:|")
    for (filename, line, name), (cc, nc, tottime, cumtime, _) in rows:
        where = _short(filename, line, name)
        print(f"| `{where}` | {nc / steps:g} | {tottime / steps * 1e3:.1f} | "
              f"{cumtime / steps * 1e3:.1f} |")


def _short(filename, line, name):
    if filename == "~":
        return name                                    # a C function: {method 'x' of ...}
    marker = os.sep + "ournn" + os.sep
    if marker in filename:
        filename = "ournn/" + filename.split(marker, 1)[1]
    else:
        filename = os.path.basename(filename)
    return f"{filename}:{line} {name}"


def pyinstrument_tree(side, steps, start):
    try:
        from pyinstrument import Profiler
    except ImportError:
        return False
    profiler = Profiler(interval=0.0005)
    profiler.start()
    side.train(steps, start)
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    print("```")
    print(text.strip())
    print("```")
    return True


# ---------------------------------------------------------------- PyTorch's side
# An aten op's group: the first keyword found in its own name, else in its callers' names
# (the dropout's bernoulli_ under aten::dropout, Adam's sqrt under Optimizer.step).
TORCH_GROUPS = (("adam", ("optimizer.step", "adam", "_foreach")),
                ("conv", ("conv",)), ("maxpool", ("max_pool",)),
                ("dropout", ("dropout", "bernoulli", "mulbackward")),
                ("linear", ("addmm", "aten::mm", "linear")),
                ("relu", ("relu", "threshold", "clamp_min")),
                ("loss", ("log_softmax", "nll_loss", "cross_entropy")))


def _torch_group(event):
    while event is not None:
        name = event.name.lower()
        for group, keys in TORCH_GROUPS:
            if any(k in name for k in keys):
                return group
        event = event.cpu_parent
    return "other"


def torch_profile(torch, side, steps, start, top):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        side.train(steps, start)
    groups = defaultdict(float)
    for event in prof.events():
        groups[_torch_group(event)] += event.self_cpu_time_total / 1e3 / steps
    total = sum(groups.values())
    print(f"Self CPU time per step under torch.profiler: {total:.1f} ms. By group: "
          + ", ".join(f"{g} {ms:.1f} ms ({ms / total:.0%})"
                      for g, ms in sorted(groups.items(), key=lambda kv: -kv[1])))
    print()
    print("| aten op | calls/step | self ms/step | share |")
    print("|---|---:|---:|---:|")
    rows = [(e.self_cpu_time_total / 1e3 / steps, e.key, e.count / steps)
            for e in prof.key_averages()]
    for ms, key, count in sorted(rows, reverse=True)[:top]:
        print(f"| `{key}` | {count:g} | {ms:.2f} | {ms / total:.1%} |")


# ---------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="profiled steps (default 5)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--top", type=int, default=20, help="rows of the cProfile/aten tables")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for NumPy's BLAS and torch (default: all cores)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch's profile")
    p.add_argument("--cpu-time", action="store_true",
                   help="time with the thread's CPU clock instead of the wall clock: steady on a "
                        "busy machine; use with --threads 1")
    p.add_argument("--no-pyinstrument", action="store_true", help="cProfile only")
    args = p.parse_args(argv)
    if args.cpu_time:
        global CLOCK
        CLOCK = time.thread_time

    import ournn
    spec = run.WORKLOADS["W3"]
    batches = run.make_batches(run.load_mnist(), spec["batch"], count=8)
    ournn.manual_seed(0)
    ours = make_side("ournn", batches)
    torch = None if args.no_torch else run.import_torch()
    theirs = (make_side("torch", batches, torch, init_from=ours.model)
              if torch is not None else None)

    print(f"## Profile of one W3 training step (kerascnn, batch {spec['batch']}, Adam 1e-3)")
    print()
    print(f"numpy {np.__version__}, BLAS threads {threads.count()}, "
          f"{'torch ' + torch.__version__ if torch else 'no torch'}, python "
          f"{platform.python_version()}, {os.cpu_count()} cores, load average "
          f"{[round(x, 2) for x in os.getloadavg()]}; {args.steps} steps after "
          f"{args.warmup} warm-up steps, medians.")
    print()
    ours.train(args.warmup, 0)
    start = args.warmup
    if theirs is not None:
        theirs.train(args.warmup, 0)

    print("### Wall time per step, no profiler")
    print()
    for name, side in (("ournn", ours), ("torch", theirs)):
        if side is None:
            continue
        times = wall_times(side, args.steps, start)
        print(f"- {name}: {statistics.median(times) * 1e3:.1f} ms "
              f"[{min(times) * 1e3:.1f}-{max(times) * 1e3:.1f}]")
    print()

    print("### ournn by op (exclusive time: the rows add up to the step)")
    print()
    rows, total = op_table(ours, args.steps, start)
    print_op_table(rows, total)
    print()

    if not args.no_pyinstrument:
        print("### ournn call tree (pyinstrument)")
        print()
        if not pyinstrument_tree(ours, args.steps, start):
            print("pyinstrument is not installed (pip install pyinstrument); cProfile below.")
        print()
    print(f"### ournn top {args.top} functions by own time (cProfile, per step)")
    print()
    cprofile_top(ours, args.steps, start, args.top)
    print()

    if theirs is not None:
        print(f"### PyTorch, same step (torch.profiler, {torch.get_num_threads()} threads)")
        print()
        torch_profile(torch, theirs, args.steps, start, min(args.top, 15))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
