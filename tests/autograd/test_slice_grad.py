"""The gradient of basic-index slices (``x[:, t]``) is lazy: the engine adds the slices of one
tensor into one buffer. These check that the sums are exact in every way gradients meet:
many slices, overlapping slices, a slice plus a dense use, slices reaching a leaf, a hook,
``autograd.grad`` targets, dtype casts, and gradients of gradients (the tensor branch)."""
import numpy as np
import pytest

import ournn
from ournn.autograd import grad, gradcheck, gradgradcheck
from ournn.autograd.engine import GradBuffer, SliceGrad
from tests.helpers import requires_torch, torch

RNG = np.random.default_rng(3)


def _x(shape=(3, 5, 4), dtype=np.float64):
    return ournn.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def test_loop_over_time_matches_the_dense_gradient():
    x = _x()
    w = RNG.standard_normal((4, 4))
    h = None
    for t in range(5):
        v = (x[:, t] @ ournn.tensor(w)) * float(t + 1)
        h = v if h is None else h + v
    h.sum().backward()
    expected = np.stack([np.ones((3, 4)) @ w.T * (t + 1) for t in range(5)], axis=1)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_overlapping_slices_and_a_dense_use_add_up():
    x = _x()
    a = x[:, 1:4]            # overlaps b on steps 2-3
    b = x[:, 2:]
    c = x[0]                 # overlaps both
    loss = (a * 2).sum() + (b * 3).sum() + (c * 5).sum() + (x * 7).sum() + x[:, 2].sum()
    loss.backward()
    expected = np.full((3, 5, 4), 7.0)
    expected[:, 1:4] += 2
    expected[:, 2:] += 3
    expected[0] += 5
    expected[:, 2] += 1
    np.testing.assert_allclose(x.grad.numpy(), expected)


@pytest.mark.parametrize("order", ["dense_first", "slices_first"])
def test_dense_gradient_is_never_written_in_place(order):
    # y feeds a dense op whose gradient array is also handed elsewhere; adding slices must not
    # change that array (the engine copies it into a buffer it owns)
    x = _x((4, 3))
    y = x * 1.0
    parts = [y.sum() * 2.0, y[1].sum(), y[2:].sum()]
    loss = parts[0] + parts[1] + parts[2] if order == "dense_first" else \
        parts[2] + parts[1] + parts[0]
    loss.backward()
    expected = np.full((4, 3), 2.0)
    expected[1] += 1
    expected[2:] += 1
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_slices_of_a_leaf_a_hook_and_retain_grad():
    x = _x((4, 3))
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 1.0
    y.retain_grad()
    (x[0].sum() + x[1:3].sum() * 2 + y[3].sum()).backward()
    expected = np.array([[1.0] * 3, [2.0] * 3, [2.0] * 3, [1.0] * 3])
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(seen[0], expected)
    assert isinstance(y.grad.numpy(), np.ndarray)
    np.testing.assert_allclose(y.grad.numpy(), [[0] * 3, [0] * 3, [0] * 3, [1] * 3])
    # a second backward accumulates into .grad
    x[0].sum().backward()
    expected[0] += 1
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_autograd_grad_targets_are_arrays_not_lazy():
    x = _x((4, 3))
    y = x * 1.0
    gx, gy = grad(y[0].sum() + y[1:].sum() * 3, [x, y])
    for g in (gx, gy):
        assert isinstance(g, ournn.Tensor) and isinstance(g.numpy(), np.ndarray)
        np.testing.assert_allclose(g.numpy(), [[1] * 3, [3] * 3, [3] * 3, [3] * 3])
    (gx1,) = grad(x[2].sum(), [x])
    np.testing.assert_allclose(gx1.numpy(), [[0] * 3, [0] * 3, [1] * 3, [0] * 3])


def test_ints_none_ellipsis_and_steps():
    x = _x((4, 5, 3))
    (x[1, ::2].sum() * 2 + x[..., None, 1].sum() + x[:, 4:0:-2, 2].sum() * 3).backward()
    expected = np.zeros((4, 5, 3))
    expected[1, ::2] += 2
    expected[..., 1] += 1
    expected[:, 4:0:-2, 2] += 3
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_the_lazy_sum_keeps_the_input_dtype():
    x = _x((3, 4), np.float32)
    (x[0].sum() + x[1:].sum()).backward()
    assert x.grad.dtype == ournn.float32 or x.grad.numpy().dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 4)))


def test_slice_grad_arithmetic():
    s1 = SliceGrad(np.ones(3), (2, 3), (0,))
    s2 = SliceGrad(np.full(2, 2.0), (2, 3), (slice(None), 1))
    total = s1 + s2
    assert isinstance(total, GradBuffer)
    total = total + np.ones((2, 3))
    total = SliceGrad(np.ones(3), (2, 3), (1,)) + total
    np.testing.assert_allclose(total.dense(), [[2, 4, 2], [2, 4, 2]])
    dense = np.zeros((2, 3))
    out = dense + s1
    assert isinstance(out, GradBuffer)
    np.testing.assert_allclose(dense, 0)      # the dense term itself is untouched


def test_gradcheck_and_gradgradcheck_through_slices():
    x = _x((3, 4, 2))

    def f(x):
        h = x[:, 0] * x[:, 1]
        for t in range(1, 4):
            h = h * 0.5 + x[:, t] * x[:, t - 1]
        return (h * h).sum() + x[1:, 1:3].sum()

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


@requires_torch
def test_matches_pytorch_on_a_loop_over_time():
    xs = RNG.standard_normal((3, 6, 4))
    w = RNG.standard_normal((4, 4))

    def run(L, x, w):
        h = L.zeros((3, 4), dtype=x.dtype)
        for t in range(6):
            h = (x[:, t] + h @ w).tanh()
        return (h * h).sum() + x[:, 2:5].sum()

    x = ournn.tensor(xs, requires_grad=True)
    run(ournn, x, ournn.tensor(w)).backward()
    tx = torch.tensor(xs, requires_grad=True)
    run(torch, tx, torch.tensor(w)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
