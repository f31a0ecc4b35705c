"""Every differentiable op: gradcheck (float64 central differences) and PyTorch's forward and
backward where PyTorch is installed."""
import numpy as np
import pytest

import ournn
import ournn.nn.functional as F
from helpers import check_op, torch

T = torch  # the oracle, or None

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1)), ((1, 4), (3, 1)),
                 ((), (2, 3)), ((5,), ())]


@pytest.mark.parametrize("sa,sb", BINARY_SHAPES)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_binary_arithmetic_with_broadcasting(name, sa, sb):
    ours = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
            "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[name]
    check_op([sa, sb], ours, ours, positive=(name == "div"))


@pytest.mark.parametrize("sa,sb", BINARY_SHAPES[:4])
def test_pow_tensor_exponent(sa, sb):
    check_op([sa, sb], lambda a, b: a ** b, lambda a, b: a ** b, positive=True)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5])
def test_pow_scalar(exponent):
    check_op([(3, 5)], lambda a: a ** exponent, lambda a: a ** exponent, positive=True)


def test_rpow_and_reflected_ops():
    check_op([(4,)], lambda a: 2.0 ** a, lambda a: 2.0 ** a)
    check_op([(4,)], lambda a: 3 - a, lambda a: 3 - a)
    check_op([(4,)], lambda a: 3 / a, lambda a: 3 / a, positive=True)
    check_op([(4,)], lambda a: 1.5 * a + 2, lambda a: 1.5 * a + 2)


@pytest.mark.parametrize("name", ["neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"])
def test_unary(name):
    positive = name in ("log", "sqrt")
    ours = {"neg": lambda a: -a, "exp": lambda a: a.exp(), "log": lambda a: a.log(),
            "sqrt": lambda a: a.sqrt(), "abs": lambda a: abs(a), "tanh": lambda a: a.tanh(),
            "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu()}[name]
    theirs = {"neg": lambda a: -a, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt,
              "abs": torch.abs, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
              "relu": torch.relu}[name] if T else None
    check_op([(3, 7)], ours, theirs, positive=positive)


def test_leaky_relu_and_gelu():
    check_op([(4, 6)], lambda a: F.leaky_relu(a, 0.1),
             (lambda a: T.nn.functional.leaky_relu(a, 0.1)) if T else None)
    check_op([(4, 6)], F.gelu, T.nn.functional.gelu if T else None)
    check_op([(4, 6)], lambda a: F.gelu(a, approximate="tanh"),
             (lambda a: T.nn.functional.gelu(a, approximate="tanh")) if T else None)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    check_op([(3, 4, 5)], lambda a: F.softmax(a, dim),
             (lambda a: T.softmax(a, dim)) if T else None)
    check_op([(3, 4, 5)], lambda a: F.log_softmax(a, dim),
             (lambda a: T.log_softmax(a, dim)) if T else None)


def test_softmax_is_stable_for_huge_logits():
    x = ournn.tensor([[1e4, 0.0, -1e4]])
    assert np.all(np.isfinite(F.softmax(x).numpy()))
    assert np.all(np.isfinite(F.log_softmax(x).numpy()))


AXES = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean(name, axis, keepdims):
    def theirs(a):
        dim = tuple(range(a.ndim)) if axis is None else axis
        return getattr(T, name)(a, dim=dim, keepdim=keepdims)
    check_op([(2, 3, 4)], lambda a: getattr(a, name)(axis=axis, keepdims=keepdims),
             theirs if T else None)


@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min(name, axis, keepdims):
    def theirs(a):
        if axis is None:
            r = getattr(T, "amax" if name == "max" else "amin")(a)
            return r.reshape((1,) * a.ndim) if keepdims else r
        return getattr(T, "amax" if name == "max" else "amin")(a, dim=axis, keepdim=keepdims)
    check_op([(3, 4, 5)], lambda a: getattr(a, name)(axis=axis, keepdims=keepdims),
             theirs if T else None)


def test_max_ties_share_gradient_like_torch_amax():
    x = ournn.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("correction", [0, 1])
def test_var(axis, correction):
    def theirs(a):
        dim = None if axis is None else axis
        return T.var(a, dim=dim, correction=correction)
    check_op([(4, 5)], lambda a: a.var(axis=axis, correction=correction),
             theirs if T else None)


def test_torch_style_dim_keyword():
    x = ournn.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.mean(dim=0).shape == (3,)


def test_reshape_view_flatten_transpose_permute():
    check_op([(2, 3, 4)], lambda a: a.reshape(6, 4), lambda a: a.reshape(6, 4))
    check_op([(2, 3, 4)], lambda a: a.view(-1), lambda a: a.view(-1))
    check_op([(2, 3, 4)], lambda a: a.flatten(1), lambda a: a.flatten(1))
    check_op([(2, 3, 4)], lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2))
    check_op([(2, 3, 4)], lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1))
    check_op([(3, 4)], lambda a: a.T, lambda a: a.T)
    check_op([(2, 1, 3)], lambda a: a.squeeze(1).unsqueeze(0),
             lambda a: a.squeeze(1).unsqueeze(0))


@pytest.mark.parametrize("index", [
    (slice(None), 1), (slice(1, 3), slice(None, None, 2)), (Ellipsis, 0), 2, (None, 1),
    (np.array([0, 2, 2]),), (np.array([0, 1]), np.array([2, 3])),
    (slice(None), np.array([3, 0, 3])), (np.array([[0, 1], [2, 2]]),),
])
def test_indexing(index):
    def theirs(a):
        idx = tuple(T.as_tensor(i) if isinstance(i, np.ndarray) else i
                    for i in (index if isinstance(index, tuple) else (index,)))
        return a[idx]
    check_op([(3, 4)], lambda a: a[index], theirs if T else None)


def test_boolean_mask_indexing():
    check_op([(3, 4)], lambda a: a[a.numpy() > 0], None)


def test_repeated_integer_index_accumulates():
    x = ournn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_allclose(x.grad, [2, 0, 1])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_stack_split(axis):
    check_op([(2, 3), (2, 3), (2, 3)], lambda a, b, c: ournn.concatenate([a, b, c], axis),
             (lambda a, b, c: T.cat([a, b, c], axis)) if T else None)
    check_op([(2, 3), (2, 3)], lambda a, b: ournn.stack([a, b], axis),
             (lambda a, b: T.stack([a, b], axis)) if T else None)
    check_op([(4, 6)], lambda a: ournn.tensor_split(a, 2, dim=axis),
             (lambda a: T.chunk(a, 2, axis)) if T else None)


def test_split_at_indices_and_unused_piece():
    check_op([(7, 2)], lambda a: ournn.tensor_split(a, [2, 5])[0] * 3, None)
    pieces = ournn.tensor_split(ournn.tensor(np.zeros((7, 2))), [2, 5])
    assert [p.shape for p in pieces] == [(2, 2), (3, 2), (2, 2)]


def test_pad():
    check_op([(2, 3)], lambda a: ournn.pad(a, ((1, 2), (0, 1)), value=0.5),
             (lambda a: T.nn.functional.pad(a, (0, 1, 1, 2), value=0.5)) if T else None)


def test_where_clip_maximum_minimum():
    arrays = [np.array([[-1.0, 0.3, 2.0], [0.7, -0.2, 1.4]]), np.array([[0.5, 0.1, -3.0],
                                                                          [1.0, 0.0, 2.0]])]
    check_op(None, lambda a, b: ournn.where(a.numpy() > 0, a, b),
             (lambda a, b: T.where(a > 0, a, b)) if T else None, arrays=arrays)
    check_op(None, lambda a, b: a.clip(-0.5, 1.0) + b,
             (lambda a, b: a.clamp(-0.5, 1.0) + b) if T else None, arrays=arrays)
    check_op(None, lambda a, b: ournn.maximum(a, b), T.maximum if T else None, arrays=arrays)
    check_op(None, lambda a, b: ournn.minimum(a, b), T.minimum if T else None, arrays=arrays)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                   ((1, 3, 4), (2, 4, 2))])
def test_matmul(sa, sb):
    check_op([sa, sb], lambda a, b: a @ b, lambda a, b: a @ b)


@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (4, 5)), ((2, 2, 3, 4), (4, 2))])
def test_stack_times_matrix_second_derivatives(sa, sb):
    """A stack times a matrix runs as one product of rows (forward and both gradients): its
    second derivatives stay right."""
    rng = np.random.default_rng(0)
    xs = [ournn.tensor(rng.standard_normal(s), requires_grad=True) for s in (sa, sb)]
    assert ournn.autograd.gradgradcheck(lambda a, b: (a @ b) ** 2, xs)
    assert ournn.autograd.gradgradcheck(lambda a, b: F.linear(a, b.T) ** 2, xs)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (1, 3), (1, 1, 3)])   # batch 1: an outer
def test_linear(shape):                                                        # product for W
    check_op([shape, (4, 3), (4,)], F.linear, T.nn.functional.linear if T else None)
    check_op([shape, (4, 3)], F.linear, T.nn.functional.linear if T else None)


def test_linear_weight_gradient_at_batch_one_is_the_matmul_exactly():
    rng = np.random.default_rng(0)
    x = ournn.tensor(rng.standard_normal((1, 784)).astype(np.float32))
    w = ournn.tensor(rng.standard_normal((512, 784)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((1, 512)).astype(np.float32)
    F.linear(x, w).backward(g)
    assert w.grad.dtype == np.float32
    assert np.array_equal(w.grad, g.T @ x.numpy())


def test_astype_is_differentiable():
    x = ournn.tensor(np.ones(3), requires_grad=True)
    (x.astype(np.float32) * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, 2)


def test_comparisons_are_not_differentiable():
    x = ournn.tensor([1.0, -1.0], requires_grad=True)
    for r in (x > 0, x >= 0, x < 0, x <= 0, x == 1, x != 1):
        assert not r.requires_grad and r.dtype == np.bool_
