"""ops/parallel.py: big work split by samples over threads, and the channels-last memory of
convolutions. The split must give exactly what one thread gives, to the last bit (partial
sums are added in the same order; the products here are small, so one BLAS thread each)."""
import threading

import numpy as np
import pytest

import ournn
import ournn.nn.functional as F
from ournn.ops import conv as conv_ops
from ournn.ops import parallel


@pytest.fixture
def split_everything(monkeypatch):
    """Run every op in parts, whatever its size; yields a function that sets the policy."""
    monkeypatch.setattr(parallel, "MIN_SIZE", 0)
    monkeypatch.setattr(parallel, "MIN_SIZE_PINNED", 0)
    monkeypatch.setattr(parallel, "workers", lambda: 3)    # 3 parts even on a 2-core machine

    def use(policy):
        monkeypatch.setattr(parallel, "POLICY", policy)
    return use


def test_parts_cover_the_range_in_order():
    assert parallel.parts(10, 3) == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert parallel.parts(2, 3) == [slice(0, 1), slice(1, 2)]
    for n in range(0, 20):
        for k in range(1, 5):
            covered = [i for s in parallel.parts(n, k) for i in range(n)[s]]
            assert covered == list(range(n))


def test_run_splits_and_returns_each_parts_result(split_everything):
    split_everything("split")
    names = parallel.run(lambda s: (s, threading.current_thread().name), 9, 9)
    assert [s for s, _ in names] == parallel.parts(9, 3)
    assert names[0][1] == threading.current_thread().name       # the caller runs part one
    assert all(name.startswith("ournn-parallel") for _, name in names[1:])


def test_a_nested_run_stays_in_its_thread(split_everything):
    split_everything("split")
    inner = parallel.run(lambda s: parallel.run(lambda t: t, 4, 4), 6, 6)
    assert inner == [[slice(0, 4)]] * 3


def test_an_error_in_a_part_is_raised_after_every_part_ended(split_everything):
    split_everything("split")
    finished = []

    def work(s):
        if s.start == 0:
            raise ValueError("part one failed")
        threading.Event().wait(0.05)
        finished.append(s)

    with pytest.raises(ValueError, match="part one failed"):
        parallel.run(work, 9, 9)
    assert len(finished) == 2


def test_serial_policy_runs_in_the_calling_thread(split_everything):
    split_everything("serial")
    assert parallel.run(lambda s: s, 9, 9) == [slice(0, 9)]


CASES = [  # (N, C, O, H, kernel, stride, padding, pool)
    (5, 1, 8, 12, 3, 1, 0, 2),      # the first conv of an MNIST net: channels-first columns
    (5, 8, 16, 11, 3, 1, 0, 2),     # channels-last columns, on a channels-last input
    (4, 6, 5, 9, 3, 2, 1, 3),       # stride, padding, odd sizes
    (3, 3, 4, 8, 2, 1, 1, 2),
]


def _cnn(x, w, b, w2, stride, padding, pool, avg=False):
    """conv-ReLU-conv-ReLU-pool: the second conv reads the first's channels-last output."""
    y = F.relu(F.conv2d(x, w, b, stride=stride, padding=padding))
    y = F.relu(F.conv2d(y, w2, None, padding=1))
    return F.avg_pool2d(y, pool) if avg else F.max_pool2d(y, pool)


def _grads(case, avg, rng):
    n, c, o, h, k, stride, padding, pool = case
    arrays = [rng.standard_normal((n, c, h, h)), rng.standard_normal((o, c, k, k)),
              rng.standard_normal(o), rng.standard_normal((o, o, 3, 3))]
    tensors = [ournn.tensor(a, requires_grad=True) for a in arrays]
    out = _cnn(*tensors, stride, padding, pool, avg)
    weights = np.arange(out.numel(), dtype=np.float64).reshape(out.shape) % 5 - 2
    (out * ournn.tensor(weights)).sum().backward()
    return [out.numpy().copy()] + [t.grad.numpy().copy() for t in tensors]


@pytest.mark.parametrize("avg", [False, True], ids=["maxpool", "avgpool"])
@pytest.mark.parametrize("case", CASES)
def test_split_equals_one_thread(split_everything, case, avg):
    results = {}
    for policy in ("serial", "split"):
        split_everything(policy)
        results[policy] = _grads(case, avg, np.random.default_rng(0))
    for one, split in zip(results["serial"], results["split"]):
        np.testing.assert_array_equal(split, one)


@pytest.mark.parametrize("case", CASES)
def test_split_equals_pytorch(split_everything, case):
    torch = pytest.importorskip("torch")
    split_everything("split")
    ours = _grads(case, False, np.random.default_rng(1))
    rng = np.random.default_rng(1)
    n, c, o, h, k, stride, padding, pool = case
    arrays = [rng.standard_normal((n, c, h, h)), rng.standard_normal((o, c, k, k)),
              rng.standard_normal(o), rng.standard_normal((o, o, 3, 3))]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    tf = torch.nn.functional
    y = tf.relu(tf.conv2d(tensors[0], tensors[1], tensors[2], stride=stride, padding=padding))
    out = tf.max_pool2d(tf.relu(tf.conv2d(y, tensors[3], None, padding=1)), pool)
    weights = torch.arange(out.numel(), dtype=torch.float64).reshape(out.shape) % 5 - 2
    (out * weights).sum().backward()
    theirs = [out.detach().numpy()] + [t.grad.numpy() for t in tensors]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_convolutions_return_channels_last_memory_and_chain_without_copies():
    rng = np.random.default_rng(0)
    x = ournn.tensor(rng.standard_normal((2, 1, 10, 10)).astype(np.float32))
    y = F.conv2d(x, ournn.tensor(rng.standard_normal((4, 1, 3, 3)).astype(np.float32)))
    assert y.shape == (2, 4, 8, 8)
    assert conv_ops.channels_last(y.numpy()) is not None
    r = F.relu(y)
    assert conv_ops.channels_last(r.numpy()) is not None          # elementwise keeps it
    layer = conv_ops._ChannelsLast(r.numpy(), (3, 3), (1, 1), (0, 0))
    assert np.shares_memory(layer.input, r.numpy())               # no transposing copy
    p = F.max_pool2d(r, 2)
    assert conv_ops.channels_last(p.numpy()) is not None
    # what a user sees is NCHW: shape, indexing, flatten order
    flat = p.flatten(1).numpy()
    np.testing.assert_array_equal(flat, np.ascontiguousarray(p.numpy()).reshape(2, -1))


def test_like_layout_copies_only_when_layouts_differ():
    a = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    last = conv_ops.to_channels_last(a)
    assert conv_ops.channels_last(last) is not None
    np.testing.assert_array_equal(last, a)
    assert conv_ops.like_layout(last, last) is last
    assert conv_ops.like_layout(a, a) is a                        # NCHW reference: unchanged
    moved = conv_ops.like_layout(a, last)
    assert conv_ops.channels_last(moved) is not None
    np.testing.assert_array_equal(moved, a)


def test_a_channels_last_input_keeps_channels_last_columns():
    """Wide images with few channels take NCHW columns, unless their memory is channels-last
    already (NCHW windows on it would gather single values)."""
    nchw = np.zeros((2, 4, 40, 40), np.float32)
    assert conv_ops._choose_layout(4, 3, 38, np, nchw) is conv_ops._ChannelsFirst
    last = conv_ops.to_channels_last(nchw)
    assert conv_ops._choose_layout(4, 3, 38, np, last) is conv_ops._ChannelsLast


def test_auto_follows_the_chooser_and_reports_to_it(split_everything, monkeypatch):
    from ournn.ops import blas
    split_everything("auto")
    chooser = blas.Chooser("one")                 # measured: one thread is faster now
    monkeypatch.setattr(parallel, "CHOOSER", chooser)
    assert parallel.run(lambda s: s, 9, 1000) == [slice(0, 9)]
    assert chooser.recent[(1000).bit_length()][0][1] == 1000     # (seconds, size) recorded
    chooser.choice = "default"
    assert parallel.run(lambda s: s, 9, 1000) == parallel.parts(9, 3)


def test_products_stay_on_one_thread_while_work_is_split(split_everything, monkeypatch):
    """OpenBLAS's second thread would spin beside the split work: after a split, even a big
    product runs on one thread, until ``PIN_SECONDS`` pass or work runs unsplit."""
    from ournn.ops import blas
    if blas.BLAS is None or blas.DEFAULT_THREADS < 2:
        pytest.skip("needs NumPy's OpenBLAS and two cores")
    monkeypatch.setattr(blas, "POLICY", "default")       # unpinned: NumPy's threads
    big = np.ones((512, 512), np.float32)
    split_everything("split")
    try:
        parallel.run(lambda s: s, 4, 4)
        blas.matmul(big, big)
        assert blas.threads() == 1
        blas.unpin()
        blas.matmul(big, big)
        assert blas.threads() == blas.DEFAULT_THREADS
    finally:
        blas.unpin()
        blas.set_threads(blas.DEFAULT_THREADS)


def test_a_pinned_big_product_is_split_by_rows_to_the_same_values(split_everything):
    from ournn.ops import blas
    if blas.BLAS is None or blas.DEFAULT_THREADS < 2:
        pytest.skip("needs NumPy's OpenBLAS and two cores")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((128, 300)), rng.standard_normal((300, 200))
    calls = []
    real = blas.split_rows
    try:
        blas.split_rows = lambda *args: calls.append(1) or real(*args)
        blas.pin_one_thread()
        out = blas.matmul(a, b)
    finally:
        blas.split_rows = real
        blas.unpin()
        blas.set_threads(blas.DEFAULT_THREADS)
    assert calls == [1]
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)   # rounding may differ


def test_smaller_work_is_split_only_while_products_are_pinned(monkeypatch):
    from ournn.ops import blas
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(parallel, "POLICY", "split")
    size = (parallel.MIN_SIZE + parallel.MIN_SIZE_PINNED) // 2
    try:
        blas.unpin()
        assert len(parallel.run(lambda s: s, 4, size)) == 1
        blas.pin_one_thread()
        assert len(parallel.run(lambda s: s, 4, size)) == 2
    finally:
        blas.unpin()
        blas.set_threads(blas.DEFAULT_THREADS)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_splits_work_with_a_pool_of_its_own(split_everything):
    """A child forked after a split (a data-loading process, say) has none of the parent's
    pool threads; splitting there must still finish (the executor starts threads again)."""
    import os
    split_everything("split")
    assert len(parallel.run(lambda s: s, 4, 4)) == 3           # the parent's pool exists
    threading.Event().wait(0.2)                                # and its threads are idle
    pid = os.fork()
    if pid == 0:                                               # the child
        code = 1
        try:
            code = 0 if len(parallel.run(lambda s: s, 4, 4)) == 3 else 2
        finally:
            os._exit(code)
    deadline = __import__("time").monotonic() + 10
    while __import__("time").monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        threading.Event().wait(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung on the parent's pool")


def test_products_stay_pinned_through_a_split_longer_than_the_pin(split_everything,
                                                                  monkeypatch):
    from ournn.ops import blas
    monkeypatch.setattr(blas, "PIN_SECONDS", 0.0)     # the clock alone would unpin at once
    split_everything("split")
    try:
        seen = parallel.run(lambda s: (threading.Event().wait(0.01), blas.pinned())[1], 3, 3)
        assert seen == [True, True, True]
    finally:
        blas.unpin()
        blas.set_threads(blas.DEFAULT_THREADS)
