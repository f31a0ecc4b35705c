"""Run by ``mpiexec -n 2`` (tests/distributed/test_distributed.py): every check of the
collectives, DistributedDataParallel, DistributedSampler, SyncBatchNorm and ``fit`` that needs
two real processes, in one launch (each start of MPI costs a second or two).

Usage: mpi_checks.py CHECK [CHECK ...] (or "all"). Each check asserts; a failed assertion
ends this process with an error, which aborts the job (ournn.distributed's excepthook), so
the test sees a non-zero exit and the traceback. Rank 0 prints "ok CHECK" for each.
"""
import sys

import numpy as np

import ournn
import ournn.distributed as dist
from ournn import nn
from ournn.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group(backend="mpi")
RANK, WORLD = dist.get_rank(), dist.get_world_size()
assert WORLD == 2, WORLD


def say(text):
    if RANK == 0:
        print(text, flush=True)


def checksum_is_the_same_everywhere(model):
    """All processes hold identical parameters: a checksum of them, reduced with MAX and
    with MIN, is the same number (a cheap test, exact for identical arrays)."""
    flat = np.concatenate([p.numpy().astype(np.float64).ravel() for p in model.parameters()])
    weights = np.arange(1, flat.size + 1, dtype=np.float64) % 977
    mine = np.array([flat.sum(), (flat * weights).sum()])
    high, low = mine.copy(), mine.copy()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    assert np.array_equal(high, low), (high, low)


# ---------------------------------------------------------------- collectives
def check_collectives():
    t = ournn.tensor([1.0, 2.0]) * (RANK + 1)
    dist.all_reduce(t)
    assert t.tolist() == [3.0, 6.0]
    m = ournn.tensor([float(RANK)])
    dist.all_reduce(m, op=dist.ReduceOp.MAX)
    assert m.item() == 1.0
    a = ournn.tensor([2.0, 4.0]) * (RANK + 1)
    dist.all_reduce(a, op=dist.ReduceOp.AVG, async_op=True).wait()
    assert a.tolist() == [3.0, 6.0]
    # a non-contiguous tensor is reduced in place all the same
    base = ournn.tensor(np.arange(12.0).reshape(3, 4)) * (RANK + 1)
    view = base.t()
    dist.all_reduce(view)
    assert np.array_equal(base.numpy(), 3 * np.arange(12.0).reshape(3, 4))
    b = ournn.tensor([float(RANK + 5)] * 3)
    dist.broadcast(b, src=1)
    assert b.tolist() == [6.0] * 3
    parts = [ournn.zeros(2), ournn.zeros(2)]
    dist.all_gather(parts, ournn.tensor([RANK, RANK * 10.0]))
    assert [p.tolist() for p in parts] == [[0.0, 0.0], [1.0, 10.0]]
    objs = [None]
    if RANK == 0:
        objs = [{"seed": 7}]
    dist.broadcast_object_list(objs)
    assert objs == [{"seed": 7}]
    everyone = []
    dist.all_gather_object(everyone, RANK * 2)
    assert everyone == [0, 2]
    dist.barrier()


# ---------------------------------------------------------------- DDP = one big batch
class Net(nn.Module):
    """A layer used twice in one forward (two deliveries of its gradients) and a layer the
    forward never uses (no gradient, in both runs)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 16)
        self.fc2 = nn.Linear(16, 16)
        self.unused = nn.Linear(3, 3)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        h = ournn.tanh(self.fc1(x))
        h = ournn.tanh(self.fc2(h))
        h = ournn.tanh(self.fc2(h))
        return self.out(h)


class ParentReadsChild(nn.Module):
    """``mix``'s weight is read by this module's own code, never by ``mix``'s forward."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(10, 3)
        self.mix = nn.Linear(3, 3, bias=False)

    def forward(self, x):
        out = self.body(x)
        return out + nn.functional.linear(ournn.tanh(out), self.mix.weight)


def conv_bn_net():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 5 * 5, 3))


def _ddp_equals_one_process(make_model, make_optimizer, shape, steps=4, per_process=4,
                            sync_bn=False, bucket_cap_mb=None):
    """N=2 processes with B samples each give the parameters of one process with 2B, and
    hold identical parameters after every step."""
    rng = np.random.default_rng(123)                        # the same data everywhere
    xs = rng.standard_normal((steps, WORLD * per_process) + shape).astype(np.float32)
    ys = rng.integers(0, 3, (steps, WORLD * per_process))
    ournn.manual_seed(5)
    reference = make_model()
    ournn.manual_seed(5)
    model = make_model()
    if RANK != 0:              # DDP must copy rank 0's weights to everyone
        for p in model.parameters():
            p.numpy()[...] += 1.0
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    checksum_is_the_same_everywhere(model)
    ref_opt, opt = make_optimizer(reference), make_optimizer(model)
    mine = slice(RANK * per_process, (RANK + 1) * per_process)
    for step in range(steps):
        loss = nn.functional.cross_entropy(reference(ournn.tensor(xs[step])),
                                           ournn.tensor(ys[step]))
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
        loss = nn.functional.cross_entropy(ddp(ournn.tensor(xs[step][mine])),
                                           ournn.tensor(ys[step][mine]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        checksum_is_the_same_everywhere(model)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=2e-5, atol=2e-6, err_msg=name)
    for (name, b), c in zip(model.named_buffers(), reference.buffers()):
        np.testing.assert_allclose(b, c, rtol=2e-5, atol=2e-6, err_msg=name)
    return ddp


def check_ddp_sgd_and_adam():
    sgd = lambda m: ournn.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)   # noqa: E731
    adam = lambda m: ournn.optim.Adam(m.parameters(), lr=1e-2)             # noqa: E731
    for make_opt in (sgd, adam):
        # one bucket per parameter or so (tiny cap), and the default buckets
        ddp = _ddp_equals_one_process(Net, make_opt, (10,), bucket_cap_mb=1e-4)
        buckets = ddp._reducer.buckets
        assert len(buckets) > 3
        # started during backward, as soon as ready: all but the last (the first layer's,
        # complete only when backward ends) and the unused layer's, after it
        assert ddp._reducer.started_early >= len(buckets) - 2, ddp._reducer.started_early
        ddp = _ddp_equals_one_process(Net, make_opt, (10,))
        assert len(ddp._reducer.buckets) == 1
    # the PyTorch surface
    assert all(k.startswith("module.") for k in ddp.state_dict())
    assert isinstance(ddp.module, Net) and repr(ddp).startswith("DistributedDataParallel(")


def check_ddp_parameter_read_outside_its_module():
    sgd = lambda m: ournn.optim.SGD(m.parameters(), lr=0.3)     # noqa: E731
    _ddp_equals_one_process(ParentReadsChild, sgd, (10,), bucket_cap_mb=1e-4)


def check_sync_batchnorm_in_ddp():
    """With SyncBatchNorm, DDP on 2 x B equals BatchNorm on 2B, running statistics
    included (with plain BatchNorm each process would normalise by its own batch)."""
    sgd = lambda m: ournn.optim.SGD(m.parameters(), lr=0.1)     # noqa: E731
    _ddp_equals_one_process(conv_bn_net, sgd, (2, 5, 5), sync_bn=True)


def check_no_sync_accumulates_then_averages():
    rng = np.random.default_rng(9)
    xa, xb = (rng.standard_normal((4, 10)).astype(np.float32) for _ in range(2))
    ya, yb = (rng.integers(0, 3, 4) for _ in range(2))
    ournn.manual_seed(1)
    reference = Net()
    ournn.manual_seed(1)
    ddp = DDP(Net())
    ce = nn.functional.cross_entropy
    (ce(reference(ournn.tensor(xa)), ournn.tensor(ya)) +
     ce(reference(ournn.tensor(xb)), ournn.tensor(yb))).backward()
    mine = slice(2 * RANK, 2 * RANK + 2)
    with ddp.no_sync():
        ce(ddp(ournn.tensor(xa[mine])), ournn.tensor(ya[mine])).backward()
    ce(ddp(ournn.tensor(xb[mine])), ournn.tensor(yb[mine])).backward()
    for p, q in zip(ddp.module.parameters(), reference.parameters()):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- SyncBatchNorm alone
def check_sync_batchnorm_matches_batchnorm_on_the_whole_batch():
    """Uneven shares (3 and 5 samples), float64: outputs, input gradients and the sum of
    the parameter gradients equal BatchNorm's on the 8 samples; so do running statistics."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3, 4, 4)) * 3 + 2
    target = rng.standard_normal((8, 3, 4, 4))
    mine = slice(0, 3) if RANK == 0 else slice(3, 8)
    bn = nn.BatchNorm2d(3, dtype=ournn.float64)
    sync = nn.SyncBatchNorm(3, dtype=ournn.float64)
    for layer in (bn, sync):
        layer.weight.numpy()[...] = [0.5, 1.5, -2.0]
        layer.bias.numpy()[...] = [0.1, 0.2, 0.3]
    xa = ournn.tensor(x, requires_grad=True)
    (bn(xa) * ournn.tensor(target)).sum().backward()
    xs = ournn.tensor(x[mine], requires_grad=True)
    out = sync(xs)
    (out * ournn.tensor(target[mine])).sum().backward()
    np.testing.assert_allclose(out.numpy(), _bn_output(x, bn)[mine], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xa.grad.numpy()[mine], rtol=1e-9, atol=1e-12)
    for p, q in ((sync.weight, bn.weight), (sync.bias, bn.bias)):
        total = p.grad.numpy().copy()
        dist.all_reduce(total)
        np.testing.assert_allclose(total, q.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sync.running_mean, bn.running_mean, rtol=1e-12)
    np.testing.assert_allclose(sync.running_var, bn.running_var, rtol=1e-12)
    sync.eval()
    bn.eval()
    np.testing.assert_allclose(sync(ournn.tensor(x[mine])).numpy(),
                               bn(ournn.tensor(x)).numpy()[mine], rtol=1e-12)


def _bn_output(x, bn):
    """The training-mode output of ``bn`` on ``x`` computed by hand (bn's running statistics
    already moved once; this does not move them again)."""
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    w = bn.weight.numpy().reshape(1, -1, 1, 1)
    b = bn.bias.numpy().reshape(1, -1, 1, 1)
    return (x - mean) / np.sqrt(var + bn.eps) * w + b


# ---------------------------------------------------------------- DistributedSampler
def check_distributed_sampler_from_the_group():
    from ournn.data import DistributedSampler
    mine = DistributedSampler(range(11), shuffle=True, seed=3)
    assert (mine.num_replicas, mine.rank, len(mine)) == (2, RANK, 6)
    mine.set_epoch(2)
    everyone = []
    dist.all_gather_object(everyone, list(mine))
    order = np.random.default_rng(3 + 2).permutation(11).tolist()
    padded = order + order[:1]
    assert everyone == [padded[0::2], padded[1::2]]


# ---------------------------------------------------------------- fit, as a library user
def check_fit_splits_and_averages():
    """``fit`` under mpiexec by itself: batches split (the global batch stays 16), gradients
    averaged, validation on 37 samples (uneven shares) counted once, parameters identical
    after every step; the same run as one process's."""
    from ournn.data import ArrayDataset, DataLoader
    from ournn.train import LambdaCallback, Trainer, evaluate, fit
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    vx = rng.standard_normal((37, 10)).astype(np.float32)
    vy = rng.integers(0, 3, 37)
    ournn.manual_seed(2)
    reference = nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3))
    ournn.manual_seed(2)
    model = nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 3))
    one = Trainer(reference, ournn.optim.SGD(reference.parameters(), lr=0.2), "cross_entropy",
                  DataLoader(ArrayDataset(x, y), batch_size=16, shuffle=False),
                  DataLoader(ArrayDataset(vx, vy), batch_size=256))
    expected = one.fit(2)      # one process (a Trainer not distributed: no collectives)
    steps = []
    same = LambdaCallback(on_batch_end=lambda t, loss: (checksum_is_the_same_everywhere(
        model), steps.append(t.global_step)))
    history = fit(model, (x, y), epochs=2, batch_size=16, optimizer="sgd", lr=0.2,
                  shuffle=False, validation_data=(vx, vy), callbacks=[same], verbose=0)
    assert steps == list(range(1, 9)), steps          # 64 samples / 16 per step, 2 epochs
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5, atol=1e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history.history[key], expected.history[key], rtol=1e-5,
                                   err_msg=key)

    # each validation sample counted exactly once: a "metric" that sums the sample numbers
    def seen(output, target):
        return float(target.numpy().sum()), len(target)
    ids = np.arange(37)
    result = evaluate(model, (vx, ids), loss=lambda out, t: (out * 0).sum(), metrics=[seen],
                      batch_size=5, distributed=True)
    assert result["seen"] == ids.sum() / 37, result
    result, outputs = evaluate(model, (vx, vy), batch_size=5, distributed=True,
                               return_outputs=True)
    alone, alone_outputs = evaluate(model, (vx, vy), batch_size=5, return_outputs=True)
    np.testing.assert_allclose(outputs, alone_outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["loss"], alone["loss"], rtol=1e-6)


def check_interrupted_fit_resumes_exactly():
    """A run stopped in the middle of an epoch (one process gets SIGUSR1: all stop after
    the same step, rank 0 writes the checkpoint) and resumed from that file ends with the
    weights of the run that was never stopped: each process's data position, augmentation
    and dropout streams come back."""
    import os
    import signal
    import tempfile
    from ournn.data import ArrayDataset, DataLoader
    from ournn.train import LambdaCallback, ModelCheckpoint, fit
    rng = np.random.default_rng(1)
    x = rng.standard_normal((80, 10)).astype(np.float32)
    y = rng.integers(0, 3, 80)

    def make():
        ournn.manual_seed(3)
        return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))

    def run(model, callbacks=(), resume=None):
        ournn.manual_seed(11 + RANK)          # dropout: each process its own stream
        loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=4)
        optimizer = ournn.optim.Adam(model.parameters(), lr=1e-2)
        return fit(model, loader, epochs=2, optimizer=optimizer, callbacks=list(callbacks),
                   verbose=0, resume=resume)

    whole = make()
    run(whole)
    folder = [tempfile.mkdtemp() if RANK == 0 else None]
    dist.broadcast_object_list(folder)
    stopped = make()

    def stop(trainer, loss):     # one process is asked to stop (mpirun forwards SIGUSR1)
        if RANK == 1 and trainer.epoch == 1 and trainer.step == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
    history = run(stopped, [LambdaCallback(on_batch_end=stop), ModelCheckpoint(folder[0])])
    assert history.interrupted and len(history.epoch) == 1
    dist.barrier()
    files = sorted(os.listdir(folder[0]))
    assert "last.ckpt" in files, files
    state = ournn.load(os.path.join(folder[0], "last.ckpt"), rebuild=False)["trainer"]
    assert state["world_size"] == 2 and len(state["ranks"]) == 2 and state["step"] == 2
    resumed = make()
    run(resumed, resume=state)
    for p, q in zip(resumed.parameters(), whole.parameters()):
        assert np.array_equal(p.numpy(), q.numpy())
    checksum_is_the_same_everywhere(resumed)


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items()
          if name.startswith("check_")}

if __name__ == "__main__":
    names = sys.argv[1:] or ["all"]
    for name in (list(CHECKS) if names == ["all"] else names):
        CHECKS[name]()
        say(f"ok {name}")
