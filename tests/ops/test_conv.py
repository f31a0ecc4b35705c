"""Conv2d, MaxPool2d, AvgPool2d: gradcheck (float64 central differences) and PyTorch's forward
and backward where PyTorch is installed; the layers; and the errors for bad inputs."""
import numpy as np
import pytest
from helpers import check_op, random_inputs, requires_torch, torch

import ournn
import ournn.nn.functional as F
from ournn.ops import conv as conv_ops

T = torch  # the oracle, or None
TF = torch.nn.functional if torch else None


# ---------------------------------------------------------------- conv2d
# (input shape, weight shape, stride, padding): kernels 1, 2, 3, 5 and non-square; strides 1,
# 2, 3 and non-square; paddings 0, 1, 2 and non-square; odd sizes; batch 1; 1, 2, 3, 4 channels
CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 0),
    ((1, 1, 6, 5), (2, 1, 1, 1), 1, 0),
    ((2, 2, 7, 6), (3, 2, 2, 2), 2, 0),
    ((1, 3, 7, 7), (2, 3, 5, 5), 1, 2),
    ((2, 2, 7, 8), (3, 2, 3, 2), (2, 1), (1, 0)),
    ((1, 2, 8, 7), (2, 2, 3, 3), 3, 1),
    ((2, 4, 5, 5), (3, 4, 3, 3), 1, (2, 1)),
    ((1, 3, 9, 6), (2, 3, 2, 3), (1, 3), (0, 2)),
    ((2, 1, 9, 9), (2, 1, 4, 4), 2, 1),
]


def _conv(stride, padding, bias=True):
    ours = (lambda x, w, b: F.conv2d(x, w, b, stride, padding)) if bias else \
        (lambda x, w: F.conv2d(x, w, None, stride, padding))
    theirs = None
    if T:
        theirs = (lambda x, w, b: TF.conv2d(x, w, b, stride, padding)) if bias else \
            (lambda x, w: TF.conv2d(x, w, None, stride, padding))
    return ours, theirs


@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CASES)
def test_conv2d(xs, ws, stride, padding):
    ours, theirs = _conv(stride, padding)
    check_op([xs, ws, (ws[0],)], ours, theirs)


@pytest.mark.parametrize("layout", ["_ChannelsFirst", "_ChannelsLast"])
@pytest.mark.parametrize("xs,ws,stride,padding", CONV_CASES[::2])
def test_conv2d_both_column_layouts(monkeypatch, layout, xs, ws, stride, padding):
    """Both im2col layouts, whichever the size rule would pick for these shapes."""
    chosen = getattr(conv_ops, layout)
    monkeypatch.setattr(conv_ops, "_choose_layout", lambda *args: chosen)
    ours, theirs = _conv(stride, padding)
    check_op([xs, ws, (ws[0],)], ours, theirs)


def test_conv2d_without_bias():
    ours, theirs = _conv((2, 1), 1, bias=False)
    check_op([(2, 3, 6, 5), (2, 3, 3, 3)], ours, theirs)


def test_conv2d_first_layer_skips_the_input_gradient():
    x = ournn.tensor(np.ones((2, 1, 5, 5)))                    # no requires_grad
    w = ournn.tensor(np.ones((3, 1, 3, 3)), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.full((3, 1, 3, 3), 2 * 9.0))


@requires_torch
@pytest.mark.parametrize("xs,ws,stride,padding", [
    ((8, 1, 28, 28), (32, 1, 3, 3), 1, 0),        # the first MNIST layer: channels-first
    ((8, 32, 26, 26), (16, 32, 3, 3), 1, 0),      # a deeper one: channels-last
    ((4, 16, 13, 13), (32, 16, 3, 3), 2, 1),
])
def test_conv2d_realistic_sizes_against_torch_float32(xs, ws, stride, padding):
    """Sizes of a real network (several batch slices of columns), in float32 end to end."""
    x, w, b = (a.astype(np.float32) for a in random_inputs([xs, ws, (ws[0],)], seed=3))
    tensors = [ournn.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*tensors, stride, padding)
    g = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out_t = TF.conv2d(*theirs, stride=stride, padding=padding)
    out_t.backward(torch.tensor(g))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-4)
    for ours_t, their_t in zip(tensors, theirs):
        assert ours_t.grad.dtype == np.float32
        np.testing.assert_allclose(ours_t.grad, their_t.grad.numpy(), rtol=1e-3, atol=1e-3)


def test_conv2d_chunks_the_batch(monkeypatch):
    """Tiny column slices (one sample each) give the same result as one slice."""
    x, w, b = random_inputs([(5, 3, 6, 6), (4, 3, 3, 3), (4,)], seed=1)
    results = []
    for budget in (1, 2 ** 30):
        monkeypatch.setattr(conv_ops, "COLUMN_BYTES", budget)
        tensors = [ournn.tensor(a, requires_grad=True) for a in (x, w, b)]
        F.conv2d(*tensors, 1, 1).sum().backward()
        results.append([t.grad for t in tensors])
    for small, large in zip(*results):
        np.testing.assert_allclose(small, large, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 16])      # both column layouts
def test_conv2d_empty_batch(channels):
    x = ournn.tensor(np.zeros((0, channels, 9, 9), dtype=np.float32), requires_grad=True)
    w = ournn.tensor(np.ones((4, channels, 3, 3), dtype=np.float32), requires_grad=True)
    out = F.conv2d(x, w, None, 1, 1)
    out.sum().backward()
    assert out.shape == (0, 4, 9, 9) and x.grad.shape == x.shape
    np.testing.assert_array_equal(w.grad, 0)


# ---------------------------------------------------------------- pooling
def _distinct(shape, seed=0):
    """Values at least 0.01 apart, so no window has a near-tie for gradcheck to trip on."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.arange(np.prod(shape)) * 0.01 - 1.0).reshape(shape)]


# (input shape, kernel, stride, padding): exact tiling, odd sizes cropped, overlapping windows,
# padding, non-square everything
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 5), 2, None, 0),
    ((2, 2, 7, 7), 3, 1, 0),
    ((1, 2, 7, 9), 3, 2, 1),
    ((1, 1, 7, 6), (3, 2), (1, 2), (1, 1)),
    ((2, 1, 9, 8), 4, 3, 2),
    ((1, 3, 5, 8), (2, 3), (2, 1), (0, 1)),
]


@pytest.mark.parametrize("xs,k,s,p", POOL_CASES)
def test_max_pool2d(xs, k, s, p):
    check_op([xs], lambda x: F.max_pool2d(x, k, s, p),
             (lambda x: TF.max_pool2d(x, k, s, p)) if T else None, arrays=_distinct(xs))


@pytest.mark.parametrize("xs,k,s,p", POOL_CASES)
def test_avg_pool2d(xs, k, s, p):
    check_op([xs], lambda x: F.avg_pool2d(x, k, s, p),
             (lambda x: TF.avg_pool2d(x, k, s, p)) if T else None)


def test_max_pool2d_ties_go_to_the_first_maximum():
    x = ournn.tensor(np.zeros((1, 1, 4, 4)), requires_grad=True)   # ReLU outputs: many zeros
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0
    np.testing.assert_array_equal(x.grad[0, 0], expected)


@requires_torch
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 1, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
def test_max_pool2d_ties_like_torch(k, s, p):
    """Ties everywhere (small integers), overlapping windows: same routing as PyTorch."""
    x = np.random.default_rng(0).integers(0, 3, (2, 2, 7, 8)).astype(np.float64)
    check_op([x.shape], lambda t: F.max_pool2d(t, k, s, p),
             lambda t: TF.max_pool2d(t, k, s, p), arrays=[x], gradcheck=False)


@requires_torch
@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (1, 2, 2, 2)])
def test_max_pool_2x2_routes_ties_like_torch(shape):
    """The common 2x2 pool on even sizes (every window tiles the input): ties in every window
    go where PyTorch sends them, and its second derivatives are right."""
    x = np.random.default_rng(1).integers(0, 2, shape).astype(np.float64)
    check_op([shape], lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2),
             arrays=[x], gradcheck=False)
    check_op([shape], lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2),
             arrays=_distinct(shape))
    t = ournn.tensor(_distinct(shape)[0], requires_grad=True)
    assert ournn.autograd.gradgradcheck(lambda v: F.max_pool2d(v * v, 2), (t,))


def test_max_pool2d_overlapping_windows_accumulate():
    x = ournn.tensor(np.array([[[[0.0, 1.0, 0.0],
                                 [0.0, 5.0, 0.0],
                                 [0.0, 0.0, 0.0]]]]), requires_grad=True)
    out = F.max_pool2d(x, 2, stride=1)                              # every window holds the 5
    np.testing.assert_array_equal(out.numpy(), np.full((1, 1, 2, 2), 5.0))
    out.sum().backward()
    assert x.grad[0, 0, 1, 1] == 4.0 and x.grad.sum() == 4.0


def test_max_pool2d_padding_is_minus_infinity():
    x = ournn.tensor(-np.ones((1, 1, 2, 2)) - np.arange(4).reshape(1, 1, 2, 2))
    out = F.max_pool2d(x, 2, stride=1, padding=1)                  # padded zeros would win
    np.testing.assert_array_equal(out.numpy()[0, 0], [[-1, -1, -2], [-1, -1, -2], [-3, -3, -4]])


def test_avg_pool2d_counts_the_padding():
    x = ournn.tensor(np.ones((1, 1, 2, 2)))
    out = F.avg_pool2d(x, 2, stride=1, padding=1)
    np.testing.assert_allclose(out.numpy()[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5],
                                                [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pooling_keeps_float32(pool):
    x = ournn.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32),
                     requires_grad=True)
    out = pool(x, 3, 2, 1)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


# ---------------------------------------------------------------- layers
def _expected_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


@pytest.mark.parametrize("cin,cout,k,s,p,hw", [
    (1, 32, 3, 1, 0, (28, 28)), (3, 8, 5, 2, 2, (17, 16)), (4, 6, (3, 1), (2, 1), (1, 0), (9, 7)),
])
def test_conv2d_layer_output_shape(cin, cout, k, s, p, hw):
    layer = ournn.nn.Conv2d(cin, cout, k, stride=s, padding=p)
    out = layer(ournn.tensor(np.zeros((2, cin) + hw, dtype=np.float32)))
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    assert out.shape == (2, cout, _expected_size(hw[0], kh, sh, ph),
                         _expected_size(hw[1], kw, sw, pw))
    assert out.dtype == np.float32
    if T:
        theirs = T.nn.Conv2d(cin, cout, k, stride=s, padding=p)(T.zeros((2, cin) + hw))
        assert out.shape == tuple(theirs.shape)


@pytest.mark.parametrize("layer_name,k,s,p,hw", [
    ("MaxPool2d", 2, None, 0, (26, 26)), ("MaxPool2d", 2, None, 0, (13, 13)),
    ("MaxPool2d", 3, 2, 1, (14, 15)), ("AvgPool2d", 2, None, 0, (7, 8)),
    ("AvgPool2d", (3, 2), (2, 1), (1, 0), (9, 9)),
])
def test_pool_layer_output_shape(layer_name, k, s, p, hw):
    ours = getattr(ournn.nn, layer_name)(k, stride=s, padding=p)
    out = ours(ournn.tensor(np.zeros((2, 3) + hw, dtype=np.float32)))
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (kh, kw) if s is None else ((s, s) if isinstance(s, int) else s)
    ph, pw = (p, p) if isinstance(p, int) else p
    assert out.shape == (2, 3, _expected_size(hw[0], kh, sh, ph),
                         _expected_size(hw[1], kw, sw, pw))
    if T:
        theirs = getattr(T.nn, layer_name)(k, stride=s, padding=p)(T.zeros((2, 3) + hw))
        assert out.shape == tuple(theirs.shape)


@requires_torch
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_layer_matches_torch_with_the_same_weights(bias):
    ours = ournn.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias, dtype=np.float64)
    theirs = T.nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias).double()
    with T.no_grad():
        theirs.weight.copy_(T.tensor(ours.weight.numpy()))
        if bias:
            theirs.bias.copy_(T.tensor(ours.bias.numpy()))
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    xo, xt = ournn.tensor(x, requires_grad=True), T.tensor(x, requires_grad=True)
    out_o, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out_o.shape)
    out_o.backward(g)
    out_t.backward(T.tensor(g))
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    if bias:
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


@requires_torch
@pytest.mark.parametrize("layer_name", ["MaxPool2d", "AvgPool2d"])
def test_pool_layers_match_torch(layer_name):
    x = _distinct((2, 3, 9, 9))[0]
    ours = getattr(ournn.nn, layer_name)(3, stride=2, padding=1)
    theirs = getattr(T.nn, layer_name)(3, stride=2, padding=1)
    xo, xt = ournn.tensor(x, requires_grad=True), T.tensor(x, requires_grad=True)
    out_o, out_t = ours(xo), theirs(xt)
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), rtol=1e-12)
    out_o.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- bad inputs
def test_conv2d_layer_wrong_channel_count():
    layer = ournn.nn.Conv2d(3, 8, 3)
    with pytest.raises(ournn.ShapeError,
                       match=r"^Conv2d\(3, 8.*\(2, 1, 8, 8\).*expected input \(N, 3, H, W\)"):
        layer(ournn.tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))


def test_conv2d_layer_3d_input():
    layer = ournn.nn.Conv2d(1, 8, 3)
    with pytest.raises(ournn.ShapeError, match=r"^Conv2d\(1, 8.*\(1, 8, 8\).*\(N, 1, H, W\)"):
        layer(ournn.tensor(np.zeros((1, 8, 8), dtype=np.float32)))


def test_conv2d_layer_input_smaller_than_kernel():
    layer = ournn.nn.Conv2d(1, 2, 5, padding=1)
    with pytest.raises(ournn.ShapeError, match=r"conv2d.*\(1, 1, 2, 2\).*kernel 5x5"):
        layer(ournn.tensor(np.zeros((1, 1, 2, 2), dtype=np.float32)))


def test_conv2d_function_wrong_channel_count():
    x, w = ournn.tensor(np.zeros((1, 2, 5, 5))), ournn.tensor(np.zeros((4, 3, 3, 3)))
    with pytest.raises(ournn.ShapeError, match=r"conv2d.*\(1, 2, 5, 5\).*\(4, 3, 3, 3\)"):
        F.conv2d(x, w)


@pytest.mark.parametrize("layer_name,op", [("MaxPool2d", "max_pool2d"),
                                           ("AvgPool2d", "avg_pool2d")])
def test_pool_layers_bad_inputs(layer_name, op):
    layer = getattr(ournn.nn, layer_name)(3)
    with pytest.raises(ournn.ShapeError,
                       match=rf"^{layer_name}\(kernel_size=3.*{op}.*\(3, 8, 8\).*unsqueeze\(0\)"):
        layer(ournn.tensor(np.zeros((3, 8, 8), dtype=np.float32)))
    with pytest.raises(ournn.ShapeError, match=rf"^{layer_name}.*{op}.*\(1, 1, 2, 5\).*kernel"):
        layer(ournn.tensor(np.zeros((1, 1, 2, 5), dtype=np.float32)))
