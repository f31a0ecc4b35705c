"""The engine: ordering, accumulation, broadcasting, no_grad, freeing, errors, custom ops."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ournn
from ournn import Function
from helpers import requires_torch, torch


def test_tensor_basics_and_defaults():
    t = ournn.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.dtype == np.float32 and t.shape == (2, 2) and t.ndim == 2 and t.numel() == 4
    assert t.size() == (2, 2) and t.size(1) == 2 and t.size(-1) == 2
    assert ournn.tensor([1, 2]).dtype == np.int64
    assert ournn.tensor(np.zeros(3)).dtype == np.float64      # a float64 array stays float64
    assert ournn.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert ournn.tensor(3.5).item() == 3.5
    assert isinstance(t.numpy(), np.ndarray) and t.numpy() is t.numpy()
    a = np.ones(3, dtype=np.float32)
    assert ournn.from_numpy(a).numpy() is a          # shares memory
    assert ournn.tensor(a).numpy() is not a          # copies, as torch.tensor


def test_numpy_is_the_writable_array_and_data_shares_it():
    w = ournn.tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    w.numpy()[1] = 5
    w.data[2] = 7                        # .data: a tensor on the same memory, outside the graph
    assert w.numpy()[2] == 7 and not w.data.requires_grad
    (w * 2).sum().backward()
    assert w.numpy()[1] == 5 and w.grad.dtype == np.float32


def test_scalars_do_not_upcast_float32():
    x = ournn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + np.float64(1.0)) / 3 - x ** 2 + 0.1
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_ndarray_plus_tensor_gives_tensor():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([1.0, 1.0], dtype=np.float32) + x
    assert isinstance(y, ournn.Tensor) and y.requires_grad
    z = np.ones((2, 2), dtype=np.float32) @ x
    assert isinstance(z, ournn.Tensor)


def test_reuse_accumulates_gradients():
    x = ournn.tensor(3.0, requires_grad=True)
    y = x * x + x            # x used three times
    y.backward()
    assert x.grad == pytest.approx(7.0)
    # a second graph accumulates into .grad, as in PyTorch
    (x * 2).backward()
    assert x.grad == pytest.approx(9.0)


def test_diamond_graph_visits_each_node_once():
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            calls.append(1)
            return grad

    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    h = Spy.apply(x)
    out = (h * 2 + h * 3).sum()
    out.backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad, [5, 5])


def test_broadcast_gradients_are_reduced_to_operand_shape():
    a = ournn.tensor(np.ones((4, 1, 3)), requires_grad=True)
    b = ournn.tensor(np.ones((2, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (2, 1)
    np.testing.assert_allclose(a.grad, 2)
    np.testing.assert_allclose(b.grad, 12)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_broadcasting_property(data):
    """For any broadcastable pair of shapes, the gradient of sum(a op b) w.r.t. each operand
    has the operand's shape and equals the count of broadcast copies (times the other value)."""
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    sa, sb = shapes.input_shapes
    a_np = data.draw(hnp.arrays(np.float64, sa, elements=st.floats(-3, 3)))
    b_np = data.draw(hnp.arrays(np.float64, sb, elements=st.floats(-3, 3)))
    a = ournn.tensor(a_np, requires_grad=True)
    b = ournn.tensor(b_np, requires_grad=True)
    out = a * b + a - b
    assert out.shape == np.broadcast_shapes(sa, sb)
    out.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    expected_a = np.broadcast_to(b_np + 1, shapes.result_shape)
    expected_b = np.broadcast_to(a_np - 1, shapes.result_shape)
    from ournn.ops._util import unbroadcast
    np.testing.assert_allclose(a.grad, unbroadcast(np.array(expected_a), sa))
    np.testing.assert_allclose(b.grad, unbroadcast(np.array(expected_b), sb))


def test_long_chain_backprops_iteratively():
    x = ournn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_no_grad_records_nothing():
    x = ournn.tensor([1.0], requires_grad=True)
    with ournn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert ournn.is_grad_enabled()

    @ournn.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    with ournn.no_grad():
        with ournn.enable_grad():
            assert (x * 2).requires_grad


def test_graph_is_freed_and_second_backward_raises():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(ournn.GraphError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [4.0, 8.0])


def test_non_scalar_backward_needs_gradient():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(ournn.GraphError, match="scalar"):
        y.backward()
    y.backward(np.array([1.0, 0.5]))
    np.testing.assert_allclose(x.grad, [2.0, 1.0])


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(ournn.DTypeError, match="int64"):
        ournn.tensor([1, 2], requires_grad=True)
    assert isinstance(ournn.DTypeError("x"), TypeError)


def test_backward_on_constant_raises():
    with pytest.raises(ournn.GraphError):
        ournn.tensor([1.0]).sum().backward()


def test_matmul_shape_error_names_shapes():
    a, b = ournn.tensor(np.ones((2, 3))), ournn.tensor(np.ones((4, 5)))
    with pytest.raises(ournn.ShapeError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    assert issubclass(ournn.ShapeError, ValueError)


def test_reshape_error_names_shapes():
    with pytest.raises(ournn.ShapeError, match=r"\(2, 3\)"):
        ournn.tensor(np.ones((2, 3))).reshape(4, 2)


def test_detach_and_leaf():
    x = ournn.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.numpy() is y.numpy()


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad


def test_custom_function_is_usable_like_a_builtin():
    x = ournn.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    assert ournn.gradcheck(Cube.apply, [x])
    y = Cube.apply(x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 3 * x.numpy() ** 2)


def test_custom_function_wrong_gradient_shape_is_named():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad  # should be broadcast to x's shape

    x = ournn.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ournn.ShapeError, match="Bad.backward"):
        Bad.apply(x).backward()


def test_gradcheck_reports_input_index_and_values():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad  # missing the factor 2x

    x = ournn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(ournn.GradcheckError, match=r"input 0.*index \(0,\).*analytical"):
        ournn.gradcheck(Wrong.apply, [x])


def test_gradcheck_direction_mode_on_big_input():
    x = ournn.tensor(np.random.default_rng(0).standard_normal((50, 40)), requires_grad=True)
    assert ournn.gradcheck(lambda t: (t.tanh() * t).sum(axis=1), [x], mode="direction")


def test_gradcheck_warns_on_float32():
    x = ournn.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        ournn.gradcheck(lambda t: t * 2, [x])


@requires_torch
def test_mixed_graph_matches_torch():
    rng = np.random.default_rng(1)
    a_np, b_np = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    a, b = ournn.tensor(a_np, requires_grad=True), ournn.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    out = ((a @ b).tanh() * a[:, :2]).log_softmax(dim=1).mean() + a.var() * b.max()
    tout = ((ta @ tb).tanh() * ta[:, :2]).log_softmax(1).mean() + ta.var() * tb.max()
    out.backward()
    tout.backward()
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-10)


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    import threading
    inside, release = threading.Event(), threading.Event()

    def other():
        with ournn.no_grad():
            inside.set()
            release.wait(10)
    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    try:
        assert ournn.is_grad_enabled()
        x = ournn.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        assert np.allclose(x.grad, [2.0, 4.0])
    finally:
        release.set()
        t.join()
