"""Modules, layers, losses and init: structure, PyTorch equivalence, errors."""
import math

import numpy as np
import pytest

import ournn
import ournn.nn as nn
import ournn.nn.functional as F
from helpers import check_op, requires_torch, torch

T = torch


# ---------------------------------------------------------------- Module
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8))
        self.head = nn.Linear(8, 3, bias=False)
        self.extra = nn.ModuleList([nn.Linear(3, 3), nn.Tanh()])

    def forward(self, x):
        x = self.head(self.features(x))
        for m in self.extra:
            x = m(x)
        return x


def test_parameters_and_names_follow_pytorch():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "features.2.weight",
                     "features.2.bias", "head.weight", "extra.0.weight", "extra.0.bias"]
    assert sum(p.numel() for p in net.parameters()) == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 9 + 3
    keys = list(net.state_dict())
    assert "features.2.running_mean" in keys and "features.2.num_batches_tracked" in keys
    assert [n for n, _ in net.named_children()] == ["features", "head", "extra"]
    assert len(list(net.modules())) == 9


def test_train_eval_propagates():
    net = Net()
    net.eval()
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (n1, p1), (n2, p2) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p1.numpy(), p2.numpy())
    state = dict(a.state_dict())
    state.pop("head.weight")
    state["bogus.weight"] = np.zeros(2)
    state["features.0.bias"] = np.zeros(5)
    with pytest.raises(ournn.CheckpointError) as e:
        b.load_state_dict(state)
    msg = str(e.value)
    assert "missing keys: head.weight" in msg and "unexpected keys: bogus.weight" in msg
    assert "features.0.bias: checkpoint (5,) vs model (8,)" in msg
    assert isinstance(e.value, ValueError)


def test_load_state_dict_writes_in_place():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    w = b.weight.numpy()
    b.load_state_dict(a.state_dict())
    assert b.weight.numpy() is w


def test_zero_grad_and_repr():
    net = Net()
    net(np.ones((5, 4), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    text = repr(net)
    assert "(features): Sequential(" in text and "Linear(in_features=4, out_features=8" in text
    assert "(head): Linear(in_features=8, out_features=3, bias=False)" in text


def test_sequential_indexing_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert isinstance(seq[0], nn.Linear) and len(seq) == 2
    seq.append(nn.Linear(3, 1))
    assert seq(np.ones((4, 2), dtype=np.float32)).shape == (4, 1)
    assert len(seq[1:]) == 2


def test_module_without_super_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="super"):
        Broken()


# ---------------------------------------------------------------- Linear
def test_linear_default_init_matches_pytorch_bounds():
    ournn.manual_seed(0)
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert fc.weight.dtype == np.float32
    assert np.abs(fc.weight.numpy()).max() <= bound and np.abs(fc.weight.numpy()).max() > 0.95 * bound
    assert abs(fc.weight.numpy().std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(fc.bias.numpy()).max() <= bound


def test_linear_error_names_layer_and_shape():
    fc = nn.Linear(4, 2)
    with pytest.raises(ournn.ShapeError,
                       match=r"^Linear\(in_features=4.*\(3, 5\).*expected input \(\*, 4\)"):
        fc(np.ones((3, 5), dtype=np.float32))
    # an image batch into a Linear that takes its flattened size: the message says flatten
    with pytest.raises(ournn.ShapeError, match=r"\(2, 1, 2, 2\).*flatten"):
        fc(np.ones((2, 1, 2, 2), dtype=np.float32))


def test_linear_casts_float64_numpy_input_to_float32():
    fc = nn.Linear(3, 2)
    out = fc(np.ones((2, 3)))
    assert out.dtype == np.float32


def test_manual_seed_reproduces_init():
    ournn.manual_seed(3)
    a = nn.Linear(5, 5).weight.numpy().copy()
    ournn.manual_seed(3)
    b = nn.Linear(5, 5).weight.numpy()
    np.testing.assert_array_equal(a, b)


@requires_torch
def test_mlp_forward_backward_equals_pytorch():
    rng = np.random.default_rng(0)
    ours = nn.Sequential(nn.Linear(6, 5, dtype=np.float64), nn.Tanh(),
                         nn.Linear(5, 3, dtype=np.float64))
    theirs = T.nn.Sequential(T.nn.Linear(6, 5), T.nn.Tanh(), T.nn.Linear(5, 3)).double()
    with T.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            q.copy_(T.tensor(p.numpy()))
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 3, 7)
    loss = F.cross_entropy(ours(x), y)
    tloss = T.nn.functional.cross_entropy(theirs(T.tensor(x)), T.tensor(y))
    loss.backward()
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=n)


# ---------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("shape", [(6, 3), (5, 3, 4), (4, 3, 5, 2)])
def test_batch_norm_training_gradcheck_and_torch(shape):
    def ours(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    def theirs(x, w, b):
        return T.nn.functional.batch_norm(x, None, None, w, b, training=True)
    check_op([shape, (3,), (3,)], ours, theirs if T else None)


@requires_torch
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (8, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 6))])
def test_batch_norm_layer_running_stats_train_eval(cls, shape):
    rng = np.random.default_rng(0)
    ours = getattr(nn, cls)(3, dtype=np.float64)
    theirs = getattr(T.nn, cls)(3).double()
    ours.weight.numpy()[:] = rng.standard_normal(3)
    ours.bias.numpy()[:] = rng.standard_normal(3)
    with T.no_grad():
        theirs.weight.copy_(T.tensor(ours.weight.numpy()))
        theirs.bias.copy_(T.tensor(ours.bias.numpy()))
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        out = ours(ournn.tensor(x, requires_grad=True))
        tout = theirs(T.tensor(x))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-10)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    xo = ournn.tensor(x, requires_grad=True)
    xt = T.tensor(x, requires_grad=True)
    out, tout = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)


def test_batch_norm_errors():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ournn.ShapeError,
                       match=r"^BatchNorm2d\(3.*\(2, 4, 5, 5\).*expected input \(N, 3"):
        bn(np.ones((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ournn.ShapeError, match=r"^BatchNorm2d\(3.*\(N, 3, H, W\).*\(2, 3\)"):
        bn(np.ones((2, 3), dtype=np.float32))
    assert int(bn.num_batches_tracked) == 0          # a refused batch is not counted
    with pytest.raises(ournn.ShapeError, match="more than 1 value"):
        nn.BatchNorm1d(3)(np.ones((1, 3), dtype=np.float32))


# ---------------------------------------------------------------- Dropout
def test_dropout_is_inverted_and_off_in_eval():
    drop = nn.Dropout(0.25)
    x = ournn.tensor(np.ones((200, 500), dtype=np.float32), requires_grad=True)
    y = drop(x)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad != 0, kept)
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())


def test_dropout_reproducible_with_manual_seed():
    ournn.manual_seed(5)
    a = F.dropout(ournn.tensor(np.ones(100)), 0.5).numpy()
    ournn.manual_seed(5)
    b = F.dropout(ournn.tensor(np.ones(100)), 0.5).numpy()
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- activations as modules
@requires_torch
@pytest.mark.parametrize("name", ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
                                  "LogSoftmax", "Flatten"])
def test_activation_modules_equal_pytorch(name):
    kwargs = {"Softmax": {"dim": 1}, "LogSoftmax": {"dim": 1}}.get(name, {})
    ours, theirs = getattr(nn, name)(**kwargs), getattr(T.nn, name)(**kwargs)
    check_op([(3, 4, 2)], ours, theirs)


# ---------------------------------------------------------------- losses
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy(reduction, smoothing):
    target = np.array([0, 2, 1, 2, 0])

    def ours(x):
        return F.cross_entropy(x, target, reduction=reduction, label_smoothing=smoothing)

    def theirs(x):
        return T.nn.functional.cross_entropy(x, T.tensor(target), reduction=reduction,
                                             label_smoothing=smoothing)
    check_op([(5, 3)], ours, theirs if T else None)


def test_cross_entropy_ignore_index_and_spatial():
    target = np.array([0, -100, 1, 2])
    check_op([(4, 3)], lambda x: F.cross_entropy(x, target),
             (lambda x: T.nn.functional.cross_entropy(x, T.tensor(target))) if T else None)
    t2 = np.array([[0, 1, 2], [2, 2, 0]])
    check_op([(2, 3, 3)], lambda x: F.cross_entropy(x, t2, reduction="none"),
             (lambda x: T.nn.functional.cross_entropy(x, T.tensor(t2), reduction="none"))
             if T else None)


def test_cross_entropy_stable_for_huge_logits():
    x = ournn.tensor(np.array([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4]], dtype=np.float32),
                     requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(1e4 + math.log(2) / 2,
                                                                     rel=1e-6)
    assert np.all(np.isfinite(x.grad))


def test_cross_entropy_errors():
    x = ournn.tensor(np.zeros((4, 3)))
    with pytest.raises(ournn.ShapeError, match=r"\(4, 3\).*\(5,\)"):
        F.cross_entropy(x, np.zeros(5, dtype=np.int64))
    with pytest.raises(ournn.DTypeError, match="integer"):
        F.cross_entropy(x, np.zeros(4))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        F.cross_entropy(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_mse_bce(reduction):
    target = np.array([1, 0, 3])
    check_op([(3, 4)], lambda x: F.nll_loss(F.log_softmax(x, 1), target, reduction=reduction),
             (lambda x: T.nn.functional.nll_loss(T.log_softmax(x, 1), T.tensor(target),
                                                 reduction=reduction)) if T else None)
    check_op([(3, 4), (3, 4)], lambda x, y: F.mse_loss(x, y, reduction=reduction),
             (lambda x, y: T.nn.functional.mse_loss(x, y, reduction=reduction)) if T else None)
    check_op([(3, 4), (3, 4)],
             lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
             (lambda p, y: T.nn.functional.binary_cross_entropy(p, y, reduction=reduction))
             if T else None, low=0.05, high=0.95)
    check_op([(3, 4), (3, 4)],
             lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction),
             (lambda x, y: T.nn.functional.binary_cross_entropy_with_logits(
                 x, y, reduction=reduction)) if T else None)


def test_bce_with_logits_pos_weight_and_stability():
    pw = np.array([2.0, 0.5, 1.0])
    check_op([(4, 3), (4, 3)],
             lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=pw),
             (lambda x, y: T.nn.functional.binary_cross_entropy_with_logits(
                 x, y.sigmoid(), pos_weight=T.tensor(pw))) if T else None)
    x = ournn.tensor(np.array([1e4, -1e4], dtype=np.float32))
    assert np.isfinite(F.binary_cross_entropy_with_logits(x, np.array([0.0, 1.0])).item())


def test_loss_modules_and_shape_errors():
    x = ournn.tensor(np.zeros((4, 3)))
    assert nn.MSELoss(reduction="sum")(x, np.ones((4, 3))).item() == 12
    with pytest.raises(ournn.ShapeError, match=r"mse_loss.*\(4, 3\).*\(4,\)"):
        nn.MSELoss()(x, np.ones(4))
    with pytest.raises(ournn.ShapeError):
        nn.BCELoss()(x, np.ones((3, 4)))


# ---------------------------------------------------------------- init
@pytest.mark.parametrize("fn,expected_std", [
    (lambda w: nn.init.xavier_uniform_(w), math.sqrt(2 / (300 + 200))),
    (lambda w: nn.init.xavier_normal_(w), math.sqrt(2 / (300 + 200))),
    (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2 / 300)),
    (lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"), math.sqrt(2 / 300)),
    (lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
     math.sqrt(2 / 200)),
    (lambda w: nn.init.normal_(w, 0, 0.02), 0.02),
    (lambda w: nn.init.uniform_(w, -1, 1), 1 / math.sqrt(3)),
])
def test_init_statistics(fn, expected_std):
    w = nn.Parameter(np.empty((200, 300), dtype=np.float32))
    fn(w)
    assert w.dtype == np.float32
    assert abs(w.numpy().std() - expected_std) < 0.03 * expected_std
    assert abs(w.numpy().mean()) < 0.03 * expected_std


def test_init_conv_fan_and_constants():
    w = np.empty((16, 8, 3, 3), dtype=np.float32)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.std() - math.sqrt(2 / (8 * 9))) < 0.05 * math.sqrt(2 / 72)
    nn.init.zeros_(w)
    assert not w.any()
    nn.init.ones_(w)
    assert (w == 1).all()
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
