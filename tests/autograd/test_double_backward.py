"""Gradients of gradients: create_graph, autograd.grad, gradgradcheck, hooks, retain_grad.

Every op that declares ``double_backward`` is checked by ``gradgradcheck`` (second derivatives
against central differences of the first) and, with torch installed, its second derivatives
are compared with PyTorch's in float64.
"""
import numpy as np
import pytest

import ournn
import ournn.nn.functional as F
from ournn.autograd import grad, gradgradcheck
from ournn.errors import GraphError
from tests.helpers import assert_hvp_equals_torch, requires_torch, torch


def _setitem(L, a, b):
    y = a * a
    y[0:1] = b * b
    return y


def _functional(L):
    return ournn.nn.functional if L is ournn else torch.nn.functional


# name: (function of the library L and the inputs, input shapes, positive inputs); each is
# written once and runs on ournn and on torch alike
CASES = {
    "add": (lambda L, a, b: a * b + a, [(3, 4), (4,)], False),
    "sub": (lambda L, a, b: (a - b) * a, [(3, 4), (3, 1)], False),
    "mul": (lambda L, a, b: a * b, [(3, 4), (4,)], False),
    "div": (lambda L, a, b: a / b, [(3, 4), (4,)], True),
    "pow": (lambda L, a, b: a ** b, [(3,), (3,)], True),
    "pow_const": (lambda L, a: a ** 3, [(3, 2)], False),
    "maximum": (lambda L, a, b: L.maximum(a * a, b), [(5,), (5,)], False),
    "exp": (lambda L, a: a.exp(), [(3,)], False),
    "log": (lambda L, a: a.log(), [(3,)], True),
    "sqrt": (lambda L, a: a.sqrt(), [(3,)], True),
    "tanh": (lambda L, a: a.tanh(), [(3,)], False),
    "abs": (lambda L, a: a.abs() * a, [(4,)], False),
    "clamp": (lambda L, a: a.clamp(-0.5, 0.5) * a, [(5,)], False),
    "where": (lambda L, a, b: L.where(a > 0, a * a, b * b), [(4,), (4,)], False),
    "sum": (lambda L, a: (a * a).sum(dim=1), [(3, 4)], False),
    "mean": (lambda L, a: (a * a).mean(dim=0, keepdim=True), [(3, 4)], False),
    "amax": (lambda L, a: (a * a).amax(dim=1), [(3, 4)], False),
    "var": (lambda L, a: a.var(dim=1), [(3, 4)], False),
    "reshape": (lambda L, a: (a * a).reshape(4, 3), [(3, 4)], False),
    "permute": (lambda L, a: (a * a).permute(2, 0, 1), [(2, 3, 4)], False),
    "getitem": (lambda L, a: (a * a)[1:, ::2], [(3, 4)], False),
    "getitem_repeated": (lambda L, a: (a * a)[[0, 0, 2]], [(3, 4)], False),
    "expand": (lambda L, a: (a * a).expand(2, 3, 4), [(3, 4)], False),
    "cat": (lambda L, a, b: L.cat([a * a, b * b], 0), [(2, 3), (1, 3)], False),
    "stack": (lambda L, a, b: L.stack([a * a, b], 0), [(2, 3), (2, 3)], False),
    "split": (lambda L, a: (a * a).split(2, dim=1)[0], [(3, 4)], False),
    "matmul": (lambda L, a, b: (a @ b) * (a @ b), [(3, 4), (4, 2)], False),
    "matmul_1d": (lambda L, a, b: (a @ b) ** 2, [(4,), (4, 2)], False),
    "bmm": (lambda L, a, b: (a @ b) ** 2, [(2, 3, 4), (4, 2)], False),
    "linear": (lambda L, x, w, b: _functional(L).linear(x, w, b) ** 2,
               [(3, 4), (2, 4), (2,)], False),
    "setitem": (_setitem, [(3,), (1,)], False),
}


def _inputs(shapes, positive, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s)
        out.append(np.abs(a) + 0.5 if positive else a)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, shapes, positive = CASES[name]
    inputs = [ournn.tensor(a, requires_grad=True) for a in _inputs(shapes, positive)]
    assert gradgradcheck(lambda *xs: fn(ournn, *xs), inputs)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_equal_pytorchs(name):
    """Hessian-vector products of sum(fn(x) * w) equal PyTorch's in float64."""
    fn, shapes, positive = CASES[name]
    arrays = _inputs(shapes, positive)
    assert_hvp_equals_torch(fn, arrays)


def test_third_derivative_of_tanh_as_dezero():
    x = ournn.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x.tanh()
    (g1,) = grad(y, x, create_graph=True)
    (g2,) = grad(g1, x, create_graph=True)
    (g3,) = grad(g2, x)
    t = np.tanh(1.0)
    np.testing.assert_allclose(g1.item(), 1 - t * t, rtol=1e-12)
    np.testing.assert_allclose(g2.item(), -2 * t * (1 - t * t), rtol=1e-12)
    np.testing.assert_allclose(g3.item(), -2 * (1 - t * t) * (1 - 3 * t * t), rtol=1e-12)


def test_backward_create_graph_makes_grad_differentiable():
    x = ournn.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_default_backward_builds_no_graph():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


def test_autograd_grad_leaves_dot_grad_alone_and_allow_unused():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    z = ournn.tensor([3.0], requires_grad=True)
    y = (x * x).sum()
    (gx,) = grad(y, x, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert x.grad is None
    with pytest.raises(GraphError, match="allow_unused"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None
    gx, gz = grad(y, [x, z], materialize_grads=True)
    np.testing.assert_array_equal(gz.numpy(), [0.0])


def test_autograd_grad_of_non_scalar_outputs_and_intermediates():
    x = ournn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 2
    y = h * h
    gh, gx = grad(y, [h, x], grad_outputs=ournn.tensor([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(gh.numpy(), [4.0, 0.0, 12.0])
    np.testing.assert_allclose(gx.numpy(), [8.0, 0.0, 24.0])
    with pytest.raises(GraphError, match="scalar"):
        grad(x * 2, x)


def test_an_op_without_double_backward_says_so():
    x = ournn.tensor(np.random.default_rng(0).standard_normal((1, 1, 4, 4)),
                     requires_grad=True)
    w = ournn.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    out = F.max_pool2d(F.conv2d(x, w), 2).sum()
    (g,) = grad(out, x, create_graph=True) if _supports(out) else (None,)
    if g is None:
        with pytest.raises(GraphError, match="gradients of gradients"):
            grad(out, x, create_graph=True)


def _supports(out):
    node, stack = out.grad_fn, [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or not hasattr(node, "inputs"):
            continue
        if not node.double_backward:
            return False
        stack.extend(t.grad_fn for t in node.inputs if t is not None)
    return True


# ---------------------------------------------------------------- hooks and retain_grad
def test_register_hook_sees_and_replaces_gradients():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    h = x * 3
    h.register_hook(lambda g: g * 10)          # replaces the gradient flowing into h
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_leaf_hook_runs_once_with_the_summed_gradient():
    x = ournn.tensor([1.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.item()))
    (x * 2 + x * 3).sum().backward()
    assert calls == [5.0]


def test_retain_grad():
    x = ournn.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    assert h.retains_grad and not x.retains_grad
    (h * 3).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


@requires_torch
def test_hooks_match_pytorch():
    def program(lib):
        x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        h = x * x
        h.retain_grad()
        h.register_hook(lambda g: g * 2)
        y = (h * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum()
        y.backward()
        return h.grad.detach().numpy(), x.grad.detach().numpy()

    for a, b in zip(program(ournn), program(torch)):
        np.testing.assert_allclose(a, b)


# ---------------------------------------------------------------- functional
def test_hvp_jacobian_hessian_against_closed_forms():
    from ournn.autograd.functional import hessian, hvp, jacobian

    def rosenbrock(p):
        return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2

    p = ournn.tensor([0.5, -0.3], dtype=np.float64)
    x0, x1 = 0.5, -0.3
    h_exact = np.array([[2 - 400 * (x1 - x0 ** 2) + 800 * x0 ** 2, -400 * x0],
                        [-400 * x0, 200.0]])
    np.testing.assert_allclose(hessian(rosenbrock, p).numpy(), h_exact, rtol=1e-12)
    v = ournn.tensor([1.0, 2.0], dtype=np.float64)
    _, hv = hvp(rosenbrock, p, v)
    np.testing.assert_allclose(hv.numpy(), h_exact @ [1.0, 2.0], rtol=1e-12)
    jac = jacobian(lambda t: t ** 2, ournn.tensor([1.0, 2.0, 3.0], dtype=np.float64))
    np.testing.assert_allclose(jac.numpy(), np.diag([2.0, 4.0, 6.0]))


def test_hvp_matches_finite_differences_on_a_small_net():
    from ournn.autograd.functional import hvp
    rng = np.random.default_rng(0)
    x = ournn.tensor(rng.standard_normal((5, 3)))
    w0 = rng.standard_normal(3 * 4 + 4 * 2)

    def loss(w):
        w1, w2 = w[:12].reshape(3, 4), w[12:].reshape(4, 2)
        return ((x @ w1).tanh() @ w2).pow(2).sum() if hasattr(w, "pow") else None

    v = rng.standard_normal(w0.shape)
    _, hv = hvp(loss, ournn.tensor(w0), ournn.tensor(v))
    eps = 1e-5

    def gradient(w):
        t = ournn.tensor(w, requires_grad=True)
        (g,) = grad(loss(t), t)
        return g.numpy()

    fd = (gradient(w0 + eps * v) - gradient(w0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.numpy(), fd, rtol=1e-5, atol=1e-7)


def test_a_users_function_is_differentiated_twice_through_its_saved_tensors():
    class Cube(ournn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = ournn.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, 12.0])
