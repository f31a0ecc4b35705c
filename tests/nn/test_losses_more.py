"""Losses added for PyTorch scripts: L1, SmoothL1, Huber, KLDiv, class weights and
probability targets for cross-entropy, weighted NLL; gradcheck and PyTorch in float64."""
import numpy as np
import pytest

import ournn
import ournn.nn as nn
import ournn.nn.functional as F
from helpers import check_op, requires_torch, torch as T

TF = T.nn.functional if T is not None else None
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("l1_loss", {}), ("smooth_l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.3}),
                                     ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 0.4}), ("mse_loss", {})])
def test_regression_losses(name, kw, reduction):
    check_op([(4, 5), (4, 5)], lambda x, y: getattr(F, name)(x, y, reduction=reduction, **kw),
             (lambda x, y: getattr(TF, name)(x, y, reduction=reduction, **kw)) if T else None)


@pytest.mark.filterwarnings("ignore:reduction")
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(5), 4))
    target = rng.dirichlet(np.ones(5), 4)
    if log_target:
        target = np.log(target)
    check_op(None, lambda x, y: F.kl_div(x, y, reduction=reduction, log_target=log_target),
             (lambda x, y: TF.kl_div(x, y, reduction=reduction, log_target=log_target))
             if T else None, arrays=[logp, target])


def test_kl_div_zero_target():
    x = ournn.tensor(np.log([[0.2, 0.8]]), requires_grad=True)
    loss = F.kl_div(x, np.array([[0.0, 1.0]]), reduction="sum")
    assert loss.item() == pytest.approx(-np.log(0.8))
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, -1.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_class_weights(reduction, smoothing, ignore):
    target = np.array([0, 2, 1, 2, 3])
    if ignore:
        target[1] = -100
    w = np.array([0.5, 2.0, 1.0, 3.0])
    check_op([(5, 4)], lambda x: F.cross_entropy(x, target, weight=ournn.tensor(w),
                                                 reduction=reduction,
                                                 label_smoothing=smoothing),
             (lambda x: TF.cross_entropy(x, T.tensor(target), weight=T.tensor(w),
                                         reduction=reduction, label_smoothing=smoothing))
             if T else None)


def test_cross_entropy_class_weights_spatial():
    target = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    w = np.array([1.0, 0.2, 4.0])
    check_op([(2, 3, 4, 5)], lambda x: F.cross_entropy(x, target, w),
             (lambda x: TF.cross_entropy(x, T.tensor(target), T.tensor(w))) if T else None)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets(reduction, smoothing, weighted):
    rng = np.random.default_rng(2)
    x, p = rng.standard_normal((4, 3)), rng.dirichlet(np.ones(3), 4)
    w = np.array([0.5, 1.5, 2.0]) if weighted else None
    check_op(None, lambda a, b: F.cross_entropy(a, b, weight=w, reduction=reduction,
                                                label_smoothing=smoothing),
             (lambda a, b: TF.cross_entropy(a, b, weight=None if w is None else T.tensor(w),
                                            reduction=reduction, label_smoothing=smoothing))
             if T else None, arrays=[x, p])


def test_cross_entropy_probability_targets_spatial():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    p = rng.dirichlet(np.ones(3), (2, 4)).transpose(0, 2, 1).copy()
    for reduction in REDUCTIONS:
        check_op(None, lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                 (lambda a, b: TF.cross_entropy(a, b, reduction=reduction)) if T else None,
                 arrays=[x, p])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_weight(reduction):
    target = np.array([1, 0, 2, -100, 2])
    w = np.array([1.0, 0.3, 2.5])
    check_op([(5, 3)], lambda x: F.nll_loss(F.log_softmax(x, 1), target, weight=w,
                                            reduction=reduction),
             (lambda x: TF.nll_loss(TF.log_softmax(x, 1), T.tensor(target), weight=T.tensor(w),
                                    reduction=reduction)) if T else None)


def test_weighted_bce_and_mse():
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 2, (3, 1))
    check_op(None, lambda p, y: F.binary_cross_entropy(p, y, weight=w),
             (lambda p, y: TF.binary_cross_entropy(p, y, weight=T.tensor(w))) if T else None,
             arrays=[rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))])
    check_op([(3, 4), (3, 4)], lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, weight=w, pos_weight=np.full(4, 2.0)),
        (lambda x, y: TF.binary_cross_entropy_with_logits(
            x, y, weight=T.tensor(w), pos_weight=T.full((4,), 2.0, dtype=T.float64)))
        if T else None)


@requires_torch
@pytest.mark.parametrize("make", [
    lambda m: m.L1Loss(), lambda m: m.SmoothL1Loss(beta=0.5), lambda m: m.HuberLoss(delta=0.7),
    lambda m: m.KLDivLoss(reduction="batchmean"), lambda m: m.MSELoss(reduction="sum")])
def test_regression_loss_modules(make):
    rng = np.random.default_rng(5)
    x, y = np.log(rng.dirichlet(np.ones(4), 3)), rng.dirichlet(np.ones(4), 3)
    ours = make(nn)(ournn.tensor(x), ournn.tensor(y)).item()
    theirs = make(T.nn)(T.tensor(x), T.tensor(y)).item()
    assert ours == pytest.approx(theirs, rel=1e-10)


@requires_torch
def test_loss_modules_with_weights():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((6, 3)), np.array([0, 1, 2, 2, 1, 0])
    w = [0.2, 1.0, 3.0]
    for ours, theirs in [
            (nn.CrossEntropyLoss(weight=ournn.tensor(w)), T.nn.CrossEntropyLoss(
                weight=T.tensor(w, dtype=T.float64))),
            (nn.CrossEntropyLoss(ournn.tensor(w), ignore_index=2, label_smoothing=0.1),
             T.nn.CrossEntropyLoss(T.tensor(w, dtype=T.float64), ignore_index=2,
                                   label_smoothing=0.1)),
            (nn.NLLLoss(weight=ournn.tensor(w), reduction="sum"),
             T.nn.NLLLoss(weight=T.tensor(w, dtype=T.float64), reduction="sum"))]:
        assert ours(ournn.tensor(x), y).item() == pytest.approx(
            theirs(T.tensor(x), T.tensor(y)).item(), rel=1e-6)


def test_legacy_arguments_still_work():
    x = ournn.tensor(np.random.default_rng(7).standard_normal((4, 3)))
    y = np.array([0, 1, 2, 1])
    a = F.cross_entropy(x, y, "sum").item()
    assert a == pytest.approx(F.cross_entropy(x, y, reduction="sum").item())
    assert nn.CrossEntropyLoss("sum", 0.1)(x, y).item() == pytest.approx(
        F.cross_entropy(x, y, reduction="sum", label_smoothing=0.1).item())
    assert F.mse_loss(x, x * 2, size_average=False).item() == pytest.approx(
        F.mse_loss(x, x * 2, reduction="sum").item())
    assert F.l1_loss(x, x * 0, reduce=False).shape == (4, 3)


def test_loss_errors():
    x = ournn.tensor(np.zeros((4, 3)))
    with pytest.raises(ournn.ShapeError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), weight=np.ones(4))
    with pytest.raises(ournn.DTypeError, match="probabilities of the input's shape"):
        F.cross_entropy(x, np.zeros((4, 2)))
    with pytest.raises(ournn.ShapeError, match="l1_loss: input shape"):
        F.l1_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match="SmoothL1Loss: beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="HuberLoss: delta"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="KLDivLoss: reduction"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="CrossEntropyLoss: weight must be a 1-D"):
        nn.CrossEntropyLoss(weight=np.ones((2, 2)))
