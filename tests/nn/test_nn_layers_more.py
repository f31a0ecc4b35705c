"""The layers added for PyTorch scripts: activations, Conv1d, ConvTranspose2d, 1-D and
adaptive pooling, LayerNorm, GroupNorm, interpolate/Upsample, channel dropout, containers.
Each op: gradcheck and PyTorch's forward and backward in float64; each layer: its config
round-trips (every layer class in ``nn.__all__``) and a Sequential using it saves whole."""
import numpy as np
import pytest

import ournn
import ournn.nn as nn
import ournn.nn.functional as F
from helpers import check_op, requires_torch, torch as T

TF = T.nn.functional if T is not None else None


def _tf(name, **kw):
    return (lambda *a: getattr(TF, name)(*a, **kw)) if T is not None else None


# ---------------------------------------------------------------- activations
ACTIVATIONS = [
    ("silu", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {"alpha": 1.5}),
    ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 1.0}), ("mish", {}),
    ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("relu6", {}),
    ("hardswish", {}), ("hardsigmoid", {}), ("softsign", {}), ("tanhshrink", {}),
    ("logsigmoid", {}), ("threshold", {"threshold": 0.1, "value": -2.0}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{n}{k}" for n, k in ACTIVATIONS])
def test_activation_functions(name, kw):
    rng = np.random.default_rng(1)
    x = rng.uniform(-5, 8, (4, 7))             # reaches every branch (and softplus' threshold)
    check_op(None, lambda a: getattr(F, name)(a, **kw), _tf(name, **kw), arrays=[x])


@pytest.mark.parametrize("cls,args", [
    ("SiLU", ()), ("ELU", (0.7,)), ("SELU", ()), ("CELU", (0.8,)), ("Softplus", (1.5, 10.0)),
    ("Mish", ()), ("Hardtanh", (-2.0, 2.0)), ("ReLU6", ()), ("Hardswish", ()),
    ("Hardsigmoid", ()), ("Softsign", ()), ("Tanhshrink", ()), ("LogSigmoid", ()),
    ("Threshold", (0.5, 3.0)), ("GLU", (1,)), ("Softmin", (1,))])
def test_activation_layers_match_torch(cls, args):
    x = np.random.default_rng(2).uniform(-6, 6, (3, 4, 5))
    ours = getattr(nn, cls)(*args)(ournn.tensor(x)).numpy()
    assert ours.shape == (3, 2, 5) if cls == "GLU" else ours.shape == x.shape
    if T is not None:
        np.testing.assert_allclose(ours, getattr(T.nn, cls)(*args)(T.tensor(x)).numpy(),
                                   rtol=1e-6, atol=1e-9)


def test_inplace_is_accepted():
    x = ournn.tensor([-1.0, 2.0])
    for layer in (nn.SiLU(inplace=True), nn.ELU(inplace=True), nn.Hardtanh(inplace=True),
                  nn.ReLU6(True), nn.Hardswish(True), nn.ReLU(inplace=True)):
        layer(x)
    F.elu(x, inplace=True), F.relu6(x, inplace=True), F.silu(x, inplace=True)


@pytest.mark.parametrize("channels,shape", [(1, (3, 4, 5)), (4, (3, 4, 5)), (4, (2, 4)),
                                            (3, (2, 3, 2, 2))])
def test_prelu(channels, shape):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(shape), rng.uniform(0.1, 0.5, channels)
    check_op(None, F.prelu, (lambda a, b: TF.prelu(a, b)) if T else None, arrays=[x, w])


def test_prelu_layer_and_errors():
    layer = nn.PReLU(3, init=0.1, dtype=ournn.float64)
    assert layer.weight.dtype == np.float64 and np.allclose(layer.weight.numpy(), 0.1)
    with pytest.raises(ournn.ShapeError, match="prelu: weight has 3"):
        layer(ournn.tensor(np.ones((2, 4))))


def test_glu():
    check_op([(4, 6)], lambda a: F.glu(a, -1), _tf("glu", dim=-1))
    check_op([(4, 6, 3)], lambda a: F.glu(a, 1), _tf("glu", dim=1))
    with pytest.raises(ournn.ShapeError, match="even"):
        F.glu(ournn.tensor(np.ones((2, 3))))


# ---------------------------------------------------------------- convolutions
@pytest.mark.parametrize("stride,padding,bias", [(1, 0, True), (2, 1, False), (3, 2, True)])
def test_conv1d(stride, padding, bias):
    shapes = [(2, 3, 11), (4, 3, 3)] + ([(4,)] if bias else [])
    check_op(shapes, lambda x, w, *b: F.conv1d(x, w, b[0] if b else None, stride, padding),
             (lambda x, w, *b: TF.conv1d(x, w, b[0] if b else None, stride, padding))
             if T else None)


@pytest.mark.parametrize("stride,padding,output_padding,kernel", [
    (1, 0, 0, 3), (2, 0, 0, 2), (2, 1, 1, 3), ((2, 3), (1, 0), (1, 2), (3, 4)), (3, 2, 0, 5)])
def test_conv_transpose2d(stride, padding, output_padding, kernel):
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    shapes = [(2, 3, 4, 5), (3, 2) + k, (2,)]
    check_op(shapes,
             lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding),
             (lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, output_padding))
             if T else None)


@requires_torch
@pytest.mark.parametrize("cls,args,shape", [
    ("Conv1d", (3, 5, 3), (2, 3, 9)), ("Conv1d", (3, 5, 4, 2, 1, 1, 1, False), (2, 3, 9)),
    ("ConvTranspose2d", (3, 4, 3, 2, 1, 1), (2, 3, 5, 5)),
    ("ConvTranspose2d", (3, 4, (2, 3), (2, 1)), (2, 3, 4, 6))])
def test_conv_layers_match_torch(cls, args, shape):
    """Same weights -> same outputs and gradients; and the same initialisation bounds."""
    ours, theirs = getattr(nn, cls)(*args, dtype=np.float64), getattr(T.nn, cls)(*args).double()
    assert ours.weight.shape == tuple(theirs.weight.shape)
    bound = np.abs(theirs.weight.detach().numpy()).max()
    assert np.abs(ours.weight.numpy()).max() <= bound * 1.5
    with T.no_grad():
        theirs.weight.copy_(T.tensor(ours.weight.numpy()))
        if ours.bias is not None:
            theirs.bias.copy_(T.tensor(ours.bias.numpy()))
    x = np.random.default_rng(4).standard_normal(shape)
    xo, xt = ournn.tensor(x, requires_grad=True), T.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-7, atol=1e-10)
    yo.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                               rtol=1e-7, atol=1e-10)


def test_conv_transpose_output_size_and_errors():
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = ournn.randn(1, 2, 4, 4)
    assert layer(x).shape == (1, 3, 7, 7)
    assert layer(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="ConvTranspose2d: output_padding"):
        nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=2)
    with pytest.raises(ournn.ShapeError, match=r"expected input \(N, 2, H, W\)"):
        layer(ournn.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match="Conv1d: kernel_size"):
        nn.Conv1d(2, 3, 0)
    with pytest.raises(ValueError, match="Conv2d: groups"):
        nn.Conv2d(2, 4, 3, groups=2)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 1, 1), (3, 2, 0)])
def test_pool1d(k, s, p):
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 3 * 10).reshape(2, 3, 10) / 7.0     # no ties
    check_op(None, lambda a: F.max_pool1d(a, k, s, p), _tf("max_pool1d", kernel_size=k,
                                                           stride=s, padding=p), arrays=[x])
    check_op(None, lambda a: F.avg_pool1d(a, k, s, p), _tf("avg_pool1d", kernel_size=k,
                                                           stride=s, padding=p), arrays=[x])


@pytest.mark.parametrize("out", [1, (1, 1), 2, (3, 2), (4, 5), (None, 3), (7, 6)])
def test_adaptive_pool2d(out):
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 11.0
    check_op(None, lambda a: F.adaptive_avg_pool2d(a, out),
             _tf("adaptive_avg_pool2d", output_size=out), arrays=[x])
    check_op(None, lambda a: F.adaptive_max_pool2d(a, out),
             _tf("adaptive_max_pool2d", output_size=out), arrays=[x])


@pytest.mark.parametrize("out", [1, 3, 4, 9])
def test_adaptive_pool1d(out):
    x = np.random.default_rng(7).permutation(2 * 3 * 9).reshape(2, 3, 9) / 5.0
    check_op(None, lambda a: F.adaptive_avg_pool1d(a, out),
             _tf("adaptive_avg_pool1d", output_size=out), arrays=[x])
    check_op(None, lambda a: F.adaptive_max_pool1d(a, out),
             _tf("adaptive_max_pool1d", output_size=out), arrays=[x])


def test_global_pooling_layers():
    x = ournn.randn(2, 5, 4, 3)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).numpy(),
                               x.numpy().mean(axis=(2, 3), keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(nn.AdaptiveMaxPool2d((1, 1))(x).numpy(),
                               x.numpy().max(axis=(2, 3), keepdims=True))
    assert nn.AdaptiveAvgPool2d((2, 2))(ournn.randn(5, 4, 6)).shape == (5, 2, 2)   # unbatched
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size"):
        nn.AdaptiveAvgPool2d(0)
    with pytest.raises(ournn.ShapeError, match="adaptive_avg_pool2d: expected a 4-D"):
        nn.AdaptiveAvgPool2d(1)(ournn.randn(4, 5))
    with pytest.raises(ValueError, match="MaxPool1d: ceil_mode"):
        nn.MaxPool1d(2, ceil_mode=True)


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize("shape,normalized,affine", [
    ((4, 6), (6,), True), ((2, 3, 5), (3, 5), True), ((2, 3, 5), (5,), False)])
def test_layer_norm(shape, normalized, affine):
    shapes = [shape] + ([normalized, normalized] if affine else [])
    check_op(shapes, lambda x, *wb: F.layer_norm(x, normalized, *wb),
             (lambda x, *wb: TF.layer_norm(x, normalized, *wb)) if T else None)


@pytest.mark.parametrize("shape,groups,affine", [
    ((2, 6, 4, 3), 3, True), ((3, 4, 5), 2, True), ((2, 4, 3, 3), 1, False), ((2, 4), 4, True)])
def test_group_norm(shape, groups, affine):
    c = shape[1]
    shapes = [shape] + ([(c,), (c,)] if affine else [])
    check_op(shapes, lambda x, *wb: F.group_norm(x, groups, *wb),
             (lambda x, *wb: TF.group_norm(x, groups, *wb)) if T else None)


def test_norm_layers():
    ln = nn.LayerNorm([3, 4], dtype=np.float64)
    assert ln.weight.shape == (3, 4) and ln.weight.dtype == np.float64
    x = ournn.tensor(np.random.default_rng(8).standard_normal((2, 3, 4)))
    y = ln(x).numpy()
    np.testing.assert_allclose(y.reshape(2, -1).mean(1), 0, atol=1e-12)
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    assert nn.LayerNorm(4, bias=False).bias is None
    gn = nn.GroupNorm(2, 4)
    assert gn(ournn.randn(3, 4, 5)).shape == (3, 4, 5)
    with pytest.raises(ValueError, match="GroupNorm: num_channels"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ournn.ShapeError, match="LayerNorm"):
        ln(ournn.randn(2, 4, 3))
    with pytest.raises(ValueError, match="LayerNorm: eps"):
        nn.LayerNorm(3, eps=0)


# ---------------------------------------------------------------- interpolation
INTERP = [
    dict(scale_factor=2), dict(size=(7, 9)), dict(size=(3, 4)), dict(scale_factor=1.5),
    dict(scale_factor=(2, 3)), dict(size=(7, 9), mode="nearest-exact"),
    dict(scale_factor=1.7, mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(scale_factor=2, mode="bilinear", align_corners=True),
    dict(size=(7, 3), mode="bilinear", align_corners=False),
    dict(size=(7, 3), mode="bilinear", align_corners=True),
    dict(scale_factor=0.6, mode="bilinear"),
    dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True),
    dict(size=(2, 3), mode="area"),
]


@pytest.mark.parametrize("kw", INTERP, ids=[str(k) for k in INTERP])
def test_interpolate_2d(kw):
    check_op([(2, 3, 4, 5)], lambda x: F.interpolate(x, **kw),
             (lambda x: TF.interpolate(x, **kw)) if T else None)


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=7), dict(size=7, mode="linear"),
                                dict(scale_factor=2.5, mode="linear", align_corners=True),
                                dict(size=3, mode="area")], ids=str)
def test_interpolate_1d(kw):
    check_op([(2, 3, 5)], lambda x: F.interpolate(x, **kw),
             (lambda x: TF.interpolate(x, **kw)) if T else None)


def test_upsample_layers_and_errors():
    x = ournn.randn(1, 2, 3, 3)
    assert nn.Upsample(scale_factor=2)(x).shape == (1, 2, 6, 6)
    assert nn.Upsample(size=(5, 4), mode="bilinear", align_corners=True)(x).shape == (1, 2, 5, 4)
    assert nn.UpsamplingNearest2d(scale_factor=2)(x).shape == (1, 2, 6, 6)
    if T is not None:
        np.testing.assert_allclose(
            nn.UpsamplingBilinear2d(size=(5, 7))(x).numpy(),
            T.nn.UpsamplingBilinear2d(size=(5, 7))(T.tensor(x.numpy())).numpy(), rtol=1e-5,
            atol=1e-6)
    with pytest.raises(ValueError, match="Upsample: give exactly one"):
        nn.Upsample()
    with pytest.raises(ValueError, match="Upsample: align_corners"):
        nn.Upsample(scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="Upsample: mode"):
        nn.Upsample(scale_factor=2, mode="cubic")
    with pytest.raises(ournn.ShapeError, match="bilinear"):
        F.interpolate(ournn.randn(1, 2, 3), scale_factor=2, mode="bilinear")


# ---------------------------------------------------------------- dropout, shapes, containers
@pytest.mark.parametrize("cls,shape", [(nn.Dropout2d, (8, 50, 3, 3)), (nn.Dropout1d, (8, 50, 4)),
                                       (nn.Dropout2d, (50, 3, 3))])
def test_channel_dropout(cls, shape):
    ournn.manual_seed(0)
    layer = cls(0.4)
    x = ournn.ones(*shape)
    y = layer(x).numpy()
    lead = 2 if len(shape) == (4 if cls is nn.Dropout2d else 3) else 1
    per_channel = y.reshape(shape[:lead] + (-1,))
    assert np.all((per_channel == 0).all(-1) | np.isclose(per_channel, 1 / 0.6).all(-1))
    assert 0.25 < (per_channel[..., 0] == 0).mean() < 0.55
    layer.eval()
    assert layer(x) is x or np.array_equal(layer(x).numpy(), x.numpy())
    xg = ournn.tensor(np.ones(shape), requires_grad=True)
    layer.train()
    out = layer(xg)
    out.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), out.numpy())


def test_unflatten():
    x = ournn.tensor(np.arange(24.0).reshape(2, 12), requires_grad=True)
    y = nn.Unflatten(1, (3, 4))(x)
    assert y.shape == (2, 3, 4)
    assert nn.Unflatten(-1, (2, -1))(x).shape == (2, 2, 6)
    y.sum().backward()
    assert x.grad.shape == (2, 12)
    with pytest.raises(ournn.ShapeError, match="cannot unflatten"):
        nn.Unflatten(1, (5, 2))(x)
    with pytest.raises(ValueError, match="Unflatten: unflattened_size"):
        nn.Unflatten(1, 12)


def test_identity_takes_any_arguments():
    x = ournn.randn(2, 3)
    assert nn.Identity(54, unused_argument=0.1)(x) is x


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.ReLU()})
    d["c"] = nn.Linear(3, 1)
    assert list(d) == ["a", "b", "c"] and "c" in d and len(d) == 3
    assert [k for k, _ in d.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    assert isinstance(d.pop("b"), nn.ReLU) and list(d.keys()) == ["a", "c"]
    del d["a"]
    assert len(list(d.parameters())) == 2
    with pytest.raises(NotImplementedError):
        d(ournn.randn(1, 2))


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(ournn.randn(2, 3)) for _ in range(2)])
    pl.append(ournn.randn(4))
    assert len(pl) == 3 and pl[-1].shape == (4,) and isinstance(pl[2], nn.Parameter)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = pl
            self.pd = nn.ParameterDict({"scale": nn.Parameter(ournn.ones(3))})

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["ps.0", "ps.1", "ps.2", "pd.scale"]
    assert set(net.state_dict()) == {"ps.0", "ps.1", "ps.2", "pd.scale"}
    opt = ournn.optim.SGD(net.parameters(), lr=0.1)
    loss = (net.ps[0].sum() + net.pd["scale"].sum())
    loss.backward()
    opt.step()
    np.testing.assert_allclose(net.pd["scale"].numpy(), 0.9)
    with pytest.raises(TypeError, match="ParameterList"):
        pl.append([1.0])


# ---------------------------------------------------------------- config and saving
INPUT = {"1d": (2, 4, 8), "2d": (2, 4, 6, 6), "flat": (2, 4)}
EXAMPLES = {
    "Linear": (lambda: nn.Linear(4, 3), "flat"), "Identity": (nn.Identity, "flat"),
    "Conv1d": (lambda: nn.Conv1d(4, 3, 3, 2, 1), "1d"),
    "Conv2d": (lambda: nn.Conv2d(4, 3, 3, padding=1), "2d"),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(4, 2, 3, 2, 1, 1), "2d"),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), "1d"), "MaxPool2d": (lambda: nn.MaxPool2d(2), "2d"),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, 1, 1), "1d"),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), "2d"),
    "AdaptiveAvgPool1d": (lambda: nn.AdaptiveAvgPool1d(3), "1d"),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((None, 4)), "2d"),
    "AdaptiveMaxPool1d": (lambda: nn.AdaptiveMaxPool1d(5), "1d"),
    "AdaptiveMaxPool2d": (lambda: nn.AdaptiveMaxPool2d(4), "2d"),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(4).eval(), "1d"),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(4, eps=1e-3).eval(), "2d"),
    "SyncBatchNorm": (lambda: nn.SyncBatchNorm(4, momentum=0.2).eval(), "2d"),
    "LayerNorm": (lambda: nn.LayerNorm([6, 6], eps=1e-4), "2d"),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4, affine=False), "2d"),
    "Dropout": (lambda: nn.Dropout(0.3).eval(), "flat"),
    "Dropout1d": (lambda: nn.Dropout1d(0.3).eval(), "1d"),
    "Dropout2d": (lambda: nn.Dropout2d(0.2).eval(), "2d"),
    "Flatten": (lambda: nn.Flatten(2), "2d"), "Unflatten": (lambda: nn.Unflatten(1, (2, 2)),
                                                            "flat"),
    "Upsample": (lambda: nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
                 "2d"),
    "UpsamplingNearest2d": (lambda: nn.UpsamplingNearest2d(size=(8, 9)), "2d"),
    "UpsamplingBilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2), "2d"),
    "ReLU": (nn.ReLU, "flat"), "LeakyReLU": (lambda: nn.LeakyReLU(0.2), "flat"),
    "Sigmoid": (nn.Sigmoid, "flat"), "Tanh": (nn.Tanh, "flat"),
    "GELU": (lambda: nn.GELU("tanh"), "flat"), "Softmax": (lambda: nn.Softmax(1), "flat"),
    "LogSoftmax": (lambda: nn.LogSoftmax(1), "flat"), "Softmin": (lambda: nn.Softmin(0), "flat"),
    "SiLU": (nn.SiLU, "flat"), "ELU": (lambda: nn.ELU(0.5), "flat"), "SELU": (nn.SELU, "flat"),
    "CELU": (lambda: nn.CELU(2.0), "flat"), "Softplus": (lambda: nn.Softplus(2, 5), "flat"),
    "Mish": (nn.Mish, "flat"), "PReLU": (lambda: nn.PReLU(4, 0.3), "2d"),
    "Hardtanh": (lambda: nn.Hardtanh(-0.5, 0.5), "flat"), "ReLU6": (nn.ReLU6, "flat"),
    "Hardswish": (nn.Hardswish, "flat"), "Hardsigmoid": (nn.Hardsigmoid, "flat"),
    "Softsign": (nn.Softsign, "flat"), "Tanhshrink": (nn.Tanhshrink, "flat"),
    "LogSigmoid": (nn.LogSigmoid, "flat"), "Threshold": (lambda: nn.Threshold(0.1, 2.0), "flat"),
    "GLU": (lambda: nn.GLU(1), "flat"),
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 4), nn.SiLU()), "flat"),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(
        8, 2, 16, activation="gelu", norm_first=True, batch_first=True).eval(), "1d"),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8)).eval(), "1d"),
}
# containers and losses: no single-input forward; checked below
OTHER = {"Module", "Parameter", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
         "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
         "KLDivLoss", "BCELoss", "BCEWithLogitsLoss",
         "MultiheadAttention", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
         "Embedding",
         # two inputs (target and memory): configs checked in tests/nn/test_attention.py
         "TransformerDecoderLayer", "TransformerDecoder", "Transformer"}


def _layer_names():
    return [n for n in nn.__all__ if isinstance(getattr(nn, n), type)
            and issubclass(getattr(nn, n), nn.Module)]


def test_every_layer_has_an_example():
    missing = [n for n in _layer_names() if n not in EXAMPLES and n not in OTHER]
    assert not missing, f"add a config round-trip example for {missing}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_config_round_trip(name):
    from ournn.nn.config import module_config, module_from_config
    import json
    ournn.manual_seed(1)
    layer = EXAMPLES[name][0]()
    config = json.loads(json.dumps(module_config(layer)))       # JSON-able
    rebuilt = module_from_config(config)
    assert type(rebuilt) is type(layer)
    assert module_config(rebuilt) == config
    rebuilt.load_state_dict(layer.state_dict())
    rebuilt.train(layer.training)
    x = ournn.tensor(np.random.default_rng(9).standard_normal(INPUT[EXAMPLES[name][1]]),
                     dtype=np.float32)
    np.testing.assert_array_equal(rebuilt(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("name", sorted(OTHER - {"Module", "Parameter"}))
def test_config_round_trip_containers_and_losses(name):
    from ournn.nn.config import module_config, module_from_config
    import json
    make = {
        "ModuleList": lambda: nn.ModuleList([nn.Linear(2, 3), nn.ReLU()]),
        "ModuleDict": lambda: nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Tanh()}),
        "ParameterList": lambda: nn.ParameterList([ournn.randn(2, 3), ournn.randn(4)]),
        "ParameterDict": lambda: nn.ParameterDict({"w": ournn.randn(2)}),
        "CrossEntropyLoss": lambda: nn.CrossEntropyLoss(weight=ournn.tensor([1.0, 2.0, 3.0]),
                                                        label_smoothing=0.1, ignore_index=1),
        "NLLLoss": lambda: nn.NLLLoss(reduction="sum"), "MSELoss": nn.MSELoss,
        "L1Loss": lambda: nn.L1Loss(reduction="none"), "SmoothL1Loss": lambda: nn.SmoothL1Loss(
            beta=0.5), "HuberLoss": lambda: nn.HuberLoss(delta=2.0),
        "KLDivLoss": lambda: nn.KLDivLoss(reduction="batchmean", log_target=True),
        "BCELoss": nn.BCELoss,
        "BCEWithLogitsLoss": lambda: nn.BCEWithLogitsLoss(pos_weight=ournn.tensor([2.0])),
        "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2, kdim=3, vdim=5,
                                                            add_bias_kv=True),
        "RNN": lambda: nn.RNN(3, 4, 2, nonlinearity="relu", bidirectional=True),
        "LSTM": lambda: nn.LSTM(3, 4, batch_first=True, proj_size=2),
        "GRU": lambda: nn.GRU(3, 4, bias=False), "RNNCell": lambda: nn.RNNCell(3, 4),
        "LSTMCell": lambda: nn.LSTMCell(3, 4), "GRUCell": lambda: nn.GRUCell(3, 4),
        "Embedding": lambda: nn.Embedding(10, 3, padding_idx=0),
        "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(8, 2, 16,
                                                                      norm_first=True),
        "TransformerDecoder": lambda: nn.TransformerDecoder(
            nn.TransformerDecoderLayer(8, 2, 16, activation="gelu"), 2, norm=nn.LayerNorm(8)),
        "Transformer": lambda: nn.Transformer(8, 2, 1, 2, 16, batch_first=True)}
    layer = make[name]()
    config = json.loads(json.dumps(module_config(layer)))
    rebuilt = module_from_config(config)
    assert module_config(rebuilt) == config
    rebuilt.load_state_dict(layer.state_dict())
    for (k1, a), (k2, b) in zip(layer.state_dict().items(), rebuilt.state_dict().items()):
        assert k1 == k2 and np.array_equal(a, b)


def test_sequential_with_new_layers_saves_whole(tmp_path):
    ournn.manual_seed(2)
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU(), nn.MaxPool1d(2),
        nn.Unflatten(2, (2, 2)), nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.ConvTranspose2d(4, 3, 2, stride=2), nn.LayerNorm([8, 8]), nn.PReLU(3),
        nn.Dropout2d(0.1), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 5),
        nn.Hardswish(), nn.Linear(5, 2)).eval()
    x = ournn.randn(3, 2, 8)
    path = tmp_path / "model.ournn"
    ournn.save(model, str(path))
    loaded = ournn.load(str(path))
    assert [type(m).__name__ for m in loaded] == [type(m).__name__ for m in model]
    np.testing.assert_array_equal(loaded.eval()(x).numpy(), model(x).numpy())
