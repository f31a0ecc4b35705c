"""Gradients of gradients through convolution, pooling, normalisation, adaptive pooling,
interpolation and dropout.

Each case is written once as ``fn(L, *xs)`` with ``L`` the library (ournn or torch), checked by
``gradgradcheck`` (second derivatives against central differences of the first) and, with
torch installed, its Hessian-vector products compared with PyTorch's in float64. Small CNNs
are checked end to end with a gradient penalty (the gradient of the output with respect to
the input, squared, differentiated with respect to the parameters).
"""
import numpy as np
import pytest

import ournn
import ournn.nn.functional as F
from ournn.autograd import grad, gradgradcheck
from tests.helpers import requires_torch, torch

RUNNING_MEAN = np.array([0.1, -0.2, 0.3])
RUNNING_VAR = np.array([0.5, 1.5, 2.0])


def _f(L):
    return ournn.nn.functional if L is ournn else torch.nn.functional


def _const(L, a):
    """A constant argument: a NumPy array for ournn (as its running statistics are), a tensor
    for torch."""
    return a.copy() if L is ournn else torch.tensor(a)


def _cnn(L, x, w1, b1, w2, b2):
    """conv (padding 1) - relu - max pool 2 - linear."""
    f = _f(L)
    h = f.max_pool2d(f.relu(f.conv2d(x, w1, b1, padding=1)), 2)
    return f.linear(h.reshape(h.shape[0], -1), w2, b2)


def _cnn_bn(L, x, w1, g, b, w2):
    """strided conv - batch norm (training) - tanh - avg pool - linear, no biases."""
    f = _f(L)
    h = f.conv2d(x, w1, None, stride=2, padding=1)
    h = f.avg_pool2d(f.batch_norm(h, None, None, g, b, training=True).tanh(), 2)
    return f.linear(h.reshape(h.shape[0], -1), w2)


CNN_SHAPES = [(2, 2, 4, 4), (3, 2, 3, 3), (3,), (2, 12), (2,)]
CNN_BN_SHAPES = [(2, 2, 6, 6), (3, 2, 3, 3), (3,), (3,), (2, 3)]

# name: (function of the library L and the inputs, input shapes)
CASES = {
    "conv2d": (lambda L, x, w, b: _f(L).conv2d(x, w, b) ** 2,
               [(2, 2, 5, 4), (3, 2, 2, 2), (3,)]),
    "conv2d_stride_padding": (lambda L, x, w, b: _f(L).conv2d(x, w, b, stride=2,
                                                              padding=1) ** 2,
                              [(2, 3, 6, 5), (4, 3, 3, 2), (4,)]),
    "conv2d_stride_3x1": (lambda L, x, w: _f(L).conv2d(x * x, w, stride=(3, 1),
                                                       padding=(0, 2)),
                          [(1, 1, 7, 9), (2, 1, 2, 3)]),
    "conv2d_no_bias_wide": (lambda L, x, w: _f(L).conv2d(x, w, padding=2).tanh(),
                            [(2, 1, 3, 12), (2, 1, 3, 2)]),
    "conv1d": (lambda L, x, w, b: _f(L).conv1d(x, w, b, stride=2, padding=1) ** 2,
               [(2, 3, 7), (2, 3, 3), (2,)]),
    "conv_transpose2d": (lambda L, x, w, b: _f(L).conv_transpose2d(x, w, b) ** 2,
                         [(2, 3, 3, 2), (3, 2, 2, 3), (2,)]),
    "conv_transpose2d_stride_padding": (
        lambda L, x, w, b: _f(L).conv_transpose2d(x, w, b, stride=2, padding=1,
                                                  output_padding=1) ** 2,
        [(2, 3, 4, 3), (3, 2, 3, 3), (2,)]),
    "max_pool2d": (lambda L, x: _f(L).max_pool2d(x * x, 2), [(2, 2, 4, 6)]),
    "max_pool2d_overlap_padding": (lambda L, x: _f(L).max_pool2d(x, 3, 2, 1) ** 2,
                                   [(2, 2, 6, 5)]),
    "max_pool1d": (lambda L, x: _f(L).max_pool1d(x, 3, 2) ** 2, [(2, 2, 7)]),
    "avg_pool2d": (lambda L, x: _f(L).avg_pool2d(x * x, 2), [(2, 2, 4, 6)]),
    "avg_pool2d_overlap_padding": (lambda L, x: _f(L).avg_pool2d(x * x, 3, 2, 1),
                                   [(2, 2, 6, 5)]),
    "batch_norm_train": (lambda L, x, w, b: _f(L).batch_norm(x, None, None, w, b,
                                                             training=True) ** 2,
                         [(4, 3, 2, 2), (3,), (3,)]),
    "batch_norm_train_running_stats": (
        lambda L, x, w, b: _f(L).batch_norm(x, _const(L, RUNNING_MEAN),
                                            _const(L, RUNNING_VAR), w, b,
                                            training=True) ** 2,
        [(5, 3), (3,), (3,)]),
    "batch_norm_train_no_affine": (lambda L, x: _f(L).batch_norm(x, None, None,
                                                                 training=True) ** 3,
                                   [(4, 3, 2)]),
    "batch_norm_eval": (lambda L, x, w, b: _f(L).batch_norm(
        x * x, _const(L, RUNNING_MEAN), _const(L, RUNNING_VAR), w, b) ** 2,
        [(4, 3, 2, 2), (3,), (3,)]),
    "layer_norm": (lambda L, x, w, b: _f(L).layer_norm(x, (3, 4), w, b) ** 2,
                   [(2, 3, 4), (3, 4), (3, 4)]),
    "layer_norm_no_affine": (lambda L, x: _f(L).layer_norm(x, (4,)) ** 3, [(2, 3, 4)]),
    "group_norm": (lambda L, x, w, b: _f(L).group_norm(x, 2, w, b) ** 2,
                   [(2, 4, 3, 2), (4,), (4,)]),
    "group_norm_no_affine": (lambda L, x: _f(L).group_norm(x, 2) ** 3, [(2, 4, 3)]),
    "adaptive_avg_pool2d_even": (lambda L, x: _f(L).adaptive_avg_pool2d(x * x, (2, 3)),
                                 [(2, 2, 4, 6)]),
    "adaptive_avg_pool2d_global": (lambda L, x: _f(L).adaptive_avg_pool2d(x * x, 1),
                                   [(2, 2, 3, 5)]),
    "adaptive_avg_pool2d_uneven": (lambda L, x: _f(L).adaptive_avg_pool2d(x * x, (3, 4)),
                                   [(2, 2, 5, 7)]),
    "adaptive_max_pool2d_even": (lambda L, x: _f(L).adaptive_max_pool2d(x, 2) ** 2,
                                 [(2, 2, 4, 4)]),
    "adaptive_max_pool2d_uneven": (lambda L, x: _f(L).adaptive_max_pool2d(x, (3, 2)) ** 2,
                                   [(2, 2, 5, 7)]),
    "adaptive_max_pool2d_global": (lambda L, x: _f(L).adaptive_max_pool2d(x, 1) ** 2,
                                   [(2, 3, 3, 4)]),
    "interpolate_nearest_whole": (lambda L, x: _f(L).interpolate(x * x, scale_factor=2),
                                  [(1, 2, 3, 4)]),
    "interpolate_nearest_size": (lambda L, x: _f(L).interpolate(x * x, size=(5, 7)),
                                 [(1, 2, 3, 4)]),
    "interpolate_nearest_exact": (lambda L, x: _f(L).interpolate(x * x, size=(5, 7),
                                                                 mode="nearest-exact"),
                                  [(1, 2, 3, 4)]),
    "interpolate_bilinear": (lambda L, x: _f(L).interpolate(x * x, size=(5, 7),
                                                            mode="bilinear",
                                                            align_corners=False),
                             [(1, 2, 3, 4)]),
    "interpolate_bilinear_align_corners": (
        lambda L, x: _f(L).interpolate(x * x, scale_factor=1.5, mode="bilinear",
                                       align_corners=True), [(1, 2, 3, 4)]),
    "interpolate_linear": (lambda L, x: _f(L).interpolate(x * x, size=7, mode="linear"),
                           [(2, 2, 4)]),
    "interpolate_area": (lambda L, x: _f(L).interpolate(x * x, size=(2, 3), mode="area"),
                         [(1, 2, 5, 7)]),
    "cnn": (_cnn, CNN_SHAPES),
    "cnn_batch_norm": (_cnn_bn, CNN_BN_SHAPES),
}


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, shapes = CASES[name]
    inputs = [ournn.tensor(a, requires_grad=True) for a in _inputs(shapes)]
    assert gradgradcheck(lambda *xs: fn(ournn, *xs), inputs)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_equal_pytorchs(name):
    """Hessian-vector products of sum(fn(x) * w) equal PyTorch's in float64."""
    fn, shapes = CASES[name]
    arrays = _inputs(shapes)
    rng = np.random.default_rng(1)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    results = []
    for lib in (ournn, torch):
        autograd_grad = grad if lib is ournn else torch.autograd.grad
        xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        w = lib.tensor(np.random.default_rng(2).standard_normal(tuple(out.shape)))
        gs = autograd_grad((out * w).sum(), xs, create_graph=True)
        dot = sum((g * lib.tensor(d)).sum() for g, d in zip(gs, directions))
        hv = autograd_grad(dot, xs, allow_unused=True)
        results.append([np.zeros(a.shape) if h is None else h.detach().numpy()
                        for h, a in zip(hv, arrays)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def _gradient_penalty_grads(lib, net, arrays):
    """d/d(parameters) of sum((d sum(net(x)) / dx) ** 2): a gradient penalty."""
    autograd_grad = grad if lib is ournn else torch.autograd.grad
    xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = net(lib, *xs)
    (gx,) = autograd_grad((out * out).sum(), xs[0], create_graph=True)
    penalty = (gx * gx).sum()
    return [g.detach().numpy() for g in autograd_grad(penalty, xs[1:])]


@requires_torch
@pytest.mark.parametrize("net, shapes", [(_cnn, CNN_SHAPES), (_cnn_bn, CNN_BN_SHAPES)],
                         ids=["conv-relu-pool-linear", "conv-bn-tanh-avgpool-linear"])
def test_cnn_gradient_penalty_equals_pytorchs(net, shapes):
    arrays = _inputs(shapes, seed=3)
    ours = _gradient_penalty_grads(ournn, net, arrays)
    theirs = _gradient_penalty_grads(torch, net, arrays)
    for a, b in zip(ours, theirs):
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_cnn_gradient_penalty_trains_in_float32():
    """A WGAN-GP style step: the penalty's gradient reaches every parameter (float32)."""
    model = ournn.nn.Sequential(ournn.nn.Conv2d(1, 2, 3, padding=1), ournn.nn.ReLU(),
                                ournn.nn.MaxPool2d(2), ournn.nn.Flatten(),
                                ournn.nn.Linear(8, 1))
    x = ournn.tensor(np.random.default_rng(0).standard_normal((3, 1, 4, 4)).astype(np.float32),
                     requires_grad=True)
    (gx,) = grad((model(x) ** 2).sum(), x, create_graph=True)
    ((gx.reshape(3, -1).norm(dim=1) - 1) ** 2).mean().backward()
    for p in model.parameters():
        assert p.grad is not None and p.grad.dtype == np.float32
        assert np.isfinite(p.grad.numpy()).all()
    assert np.abs(model[0].weight.grad.numpy()).max() > 0


def test_third_derivative_through_conv_equals_pytorchs():
    """d/dw of a Hessian-vector product through a conv: gradients of gradients of
    gradients (each backward on tensors is itself made of convolutions)."""
    if torch is None:
        pytest.skip("torch is not installed")
    arrays = _inputs([(1, 2, 5, 5), (2, 2, 3, 3)], seed=4)
    results = []
    for lib in (ournn, torch):
        autograd_grad = grad if lib is ournn else torch.autograd.grad
        x, w = (lib.tensor(a.copy(), requires_grad=True) for a in arrays)
        out = (_f(lib).conv2d(x, w, stride=2, padding=1) ** 3).sum()
        (gx,) = autograd_grad(out, x, create_graph=True)
        (gw,) = autograd_grad((gx * gx).sum(), w, create_graph=True)
        (gxx,) = autograd_grad((gw * gw).sum(), x)
        results.append(gxx.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-10)


def _seeded_dropout(fn, seed=0):
    def run(*xs):
        ournn.manual_seed(seed)       # the same mask on every call
        return fn(*xs)
    return run


@pytest.mark.parametrize("drop", [lambda x: F.dropout(x, 0.4) ** 2,
                                  lambda x: F.dropout2d(x, 0.5) ** 2],
                         ids=["dropout", "dropout2d"])
def test_dropout_gradgradcheck_and_hessian(drop):
    """Dropout multiplies by a constant mask m / (1 - p): d2/dx2 of sum(dropout(x)^2 * w)
    is 2 w (m / (1 - p))^2 on the diagonal."""
    a = np.random.default_rng(5).standard_normal((3, 4, 2, 2))
    x = ournn.tensor(a, requires_grad=True)
    fn = _seeded_dropout(drop)
    assert gradgradcheck(fn, [x])
    out = fn(x)
    scale = fn(ournn.tensor(np.ones_like(a))).numpy() ** 0.5     # m / (1 - p), squared back
    assert 0 < (scale == 0).mean() < 1
    w = np.random.default_rng(6).standard_normal(a.shape)
    (g,) = grad((out * ournn.tensor(w)).sum(), x, create_graph=True)
    v = np.random.default_rng(7).standard_normal(a.shape)
    (hv,) = grad((g * ournn.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.numpy(), 2 * w * scale ** 2 * v, rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("record", [True, False], ids=["graph", "no_grad"])
def test_batch_norm_running_statistics_one_computation(record):
    """The running statistics move by the batch mean and variance the op computed, with a
    graph recorded or not, as PyTorch's."""
    a = np.random.default_rng(8).standard_normal((6, 3, 2, 2)).astype(np.float32)
    ours = ournn.nn.BatchNorm2d(3)
    theirs = torch.nn.BatchNorm2d(3)
    x = ournn.tensor(a, requires_grad=record)
    if record:
        ours(x).sum().backward()
    else:
        with ournn.no_grad():
            ours(x)
    with torch.no_grad():
        theirs(torch.tensor(a))
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5,
                               atol=1e-7)


def test_batch_norm_op_outputs_its_statistics_with_their_gradients():
    from ournn.ops.norm import BatchNorm
    a = np.random.default_rng(9).standard_normal((4, 3, 2))
    out, mean, var = BatchNorm.apply(ournn.tensor(a), None, None)
    np.testing.assert_allclose(mean.numpy(), a.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), a.var(axis=(0, 2)), rtol=1e-12)
    x = ournn.tensor(a, requires_grad=True)
    w = ournn.tensor(np.random.default_rng(10).standard_normal(3), requires_grad=True)

    def f(x, w):
        y, m, v = BatchNorm.apply(x, w, None)
        return (y * y).sum() + (m * m * 3).sum() + (v * v).sum()
    assert ournn.gradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w))


@requires_torch
def test_batch_norm_eval_weight_without_bias():
    a = np.random.default_rng(11).standard_normal((4, 3))
    w = np.array([1.5, -0.5, 2.0])
    ours = F.batch_norm(ournn.tensor(a), RUNNING_MEAN.copy(), RUNNING_VAR.copy(),
                        ournn.tensor(w))
    theirs = torch.nn.functional.batch_norm(torch.tensor(a), torch.tensor(RUNNING_MEAN),
                                            torch.tensor(RUNNING_VAR), torch.tensor(w))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
