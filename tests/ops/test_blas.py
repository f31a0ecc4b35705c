"""The BLAS threads of a product (ournn.ops.blas): the same results as NumPy's matmul, one
thread for small products, and the chooser keeping whichever setting measures faster."""
import numpy as np
import pytest

from ournn.ops import blas

needs_openblas = pytest.mark.skipif(blas.BLAS is None or blas.DEFAULT_THREADS < 2,
                                    reason="needs NumPy's OpenBLAS with 2 or more threads")


@pytest.fixture
def restore_threads():
    blas.unpin()        # work split by an earlier test pins products to one thread for a second
    before = blas.threads()
    yield
    blas.set_threads(before)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((1, 3, 4), (2, 4, 2)), ((256, 512), (512, 384))])
def test_results_equal_numpy_matmul(sa, sb, restore_threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))
    out = np.empty(np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]))
    assert blas.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, np.matmul(a, b))


@pytest.mark.parametrize("m,k,n,dtype", [(32, 256, 256, np.float32), (8, 64, 100, np.float32),
                                         (32, 256, 10, np.float32), (3, 5, 7, np.float32),
                                         (32, 256, 256, np.float64), (300, 40, 50, np.float32)])
def test_matmul_nt_is_a_times_b_transposed_and_contiguous(m, k, n, dtype, restore_threads):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    r = blas.matmul_nt(a, b)
    assert r.shape == (m, n) and r.dtype == dtype and r.flags.c_contiguous
    np.testing.assert_allclose(r, a @ b.T, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def test_other_arrays_use_their_own_matmul():
    xp = pytest.importorskip("array_api_strict")
    a, b = xp.ones((2, 3)), xp.ones((3, 4))
    r = blas.matmul(a, b)
    assert type(r) is type(a) and r.shape == (2, 4) and bool(xp.all(r == 3.0))


@needs_openblas
def test_a_small_product_runs_on_one_thread_and_a_fixed_policy_is_kept(restore_threads,
                                                                      monkeypatch):
    a, b = np.ones((32, 256), np.float32), np.ones((256, 256), np.float32)   # 4.2 MFLOP
    blas.set_threads(blas.DEFAULT_THREADS)
    blas.matmul(a, b)
    assert blas.threads() == 1
    monkeypatch.setattr(blas, "POLICY", "default")
    blas.matmul(a, b)
    assert blas.threads() == blas.DEFAULT_THREADS
    monkeypatch.setattr(blas, "POLICY", "one")
    big = np.ones((512, 512), np.float32)
    blas.matmul(big, big)
    assert blas.threads() == 1


def _feed(chooser, seconds, key=20, flops=1e6, n=None):
    """Run ``n`` products through ``chooser`` taking ``seconds[setting]`` each."""
    for _ in range(n or chooser.PERIOD):
        used = chooser.pick()
        chooser.record(key, used, (seconds[used], flops))


def test_the_chooser_switches_when_the_other_setting_is_faster():
    chooser = blas.Chooser("default")
    # a busy machine: the split product waits for its second thread
    _feed(chooser, {"default": 5e-3, "one": 1e-3}, n=chooser.PERIOD + chooser.WINDOW)
    assert chooser.choice == "one" and chooser.period == chooser.PERIOD
    # quiet again: the next probe goes back to all threads
    _feed(chooser, {"default": 0.5e-3, "one": 1e-3}, n=chooser.PERIOD + chooser.WINDOW)
    assert chooser.choice == "default"


def test_a_probe_that_loses_doubles_the_period():
    chooser = blas.Chooser("default")
    _feed(chooser, {"default": 1e-3, "one": 1.02e-3}, n=chooser.PERIOD + chooser.WINDOW)
    assert chooser.choice == "default" and chooser.period == 2 * chooser.PERIOD
    for _ in range(20):
        _feed(chooser, {"default": 1e-3, "one": 2e-3}, n=chooser.period + chooser.WINDOW)
    assert chooser.period == chooser.MAX_PERIOD
