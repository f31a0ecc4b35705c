"""More learning-rate schedules: CyclicLR, CosineAnnealingWarmRestarts, PolynomialLR,
ConstantLR, MultiplicativeLR and ChainedScheduler. Rates (and cycled momenta) equal to
PyTorch's for 120 steps, hand-computed values, state_dict round trips mid-way."""
import json
import math
import warnings

import numpy as np
import pytest

import ournn
from ournn import optim
from ournn.nn import Parameter
from ournn.optim import lr_scheduler as sched
from helpers import momenta, requires_torch, scheduler_optimizer, torch

N_STEPS = 120




def _trace(opt, scheduler, steps, epochs=None):
    """lr (as reported and as set) and momentum of every group after construction and
    after each step; ``epochs``: call ``step(epoch)`` with these instead."""
    def row():
        return [*scheduler.get_last_lr(), *[g["lr"] for g in opt.param_groups], *momenta(opt)]
    trace = [row()]
    for i in range(steps):
        opt.step()
        if epochs is None:
            scheduler.step()
        else:
            scheduler.step(epochs[i])
        trace.append(row())
    return np.array(trace, dtype=float)


def _chained(m, o):
    return m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=3),
                               m.ExponentialLR(o, gamma=0.97)])


def _chained3(m, o):
    return m.ChainedScheduler([m.LinearLR(o, start_factor=0.2, total_iters=10),
                               m.StepLR(o, step_size=25, gamma=0.5),
                               m.MultiplicativeLR(o, lambda e: 0.995)])


# (id, builder(module, optimizer) -> scheduler, optimizer kind)
CASES = [
    ("CyclicLR-triangular", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                    step_size_up=7), "SGD"),
    ("CyclicLR-triangular-uneven", lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=5, step_size_down=11), "SGD"),
    ("CyclicLR-triangular2", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.1,
                                                     step_size_up=6, mode="triangular2"),
     "SGD"),
    ("CyclicLR-exp_range", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.1,
                                                   step_size_up=8, mode="exp_range",
                                                   gamma=0.98), "SGD"),
    ("CyclicLR-adam-beta1", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01,
                                                    step_size_up=4, base_momentum=0.85,
                                                    max_momentum=0.95), "Adam"),
    ("CyclicLR-no-momentum", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01,
                                                     step_size_up=9, cycle_momentum=False),
     "SGD"),
    ("CyclicLR-scale_fn-iterations", lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=5, scale_fn=lambda x: 1 / (1 + 0.01 * x),
        scale_mode="iterations"), "SGD"),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10),
     "SGD"),
    ("CosineAnnealingWarmRestarts-T_mult", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=1e-3), "SGD"),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=50), "SGD"),
    ("PolynomialLR-power", lambda m, o: m.PolynomialLR(o, total_iters=80, power=2.5), "SGD"),
    ("ConstantLR", lambda m, o: m.ConstantLR(o), "SGD"),
    ("ConstantLR-long", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=40), "Adam"),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.98), "SGD"),
    ("MultiplicativeLR-per-group", lambda m, o: m.MultiplicativeLR(
        o, [lambda e: 0.99, lambda e: 1.0 if e % 10 else 0.5]), "SGD"),
    ("ChainedScheduler-constant-exp", _chained, "SGD"),
    ("ChainedScheduler-three", _chained3, "SGD"),
]


def _torch_trace(build, kind, steps, epochs=None):
    topt = scheduler_optimizer(torch, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _trace(topt, build(torch.optim.lr_scheduler, topt), steps, epochs)


@requires_torch
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_schedule_matches_torch(case):
    _, build, kind = case
    opt = scheduler_optimizer(ournn, kind)
    ours = _trace(opt, build(sched, opt), N_STEPS)
    theirs = _torch_trace(build, kind, N_STEPS)
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-15)
    for group in opt.param_groups:
        assert type(group["lr"]) is float


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("through", ["json", "ournn.save"])
def test_state_dict_round_trip_continues_identically(case, through, tmp_path):
    _, build, kind = case
    opt = scheduler_optimizer(ournn, kind)
    reference = _trace(opt, build(sched, opt), N_STEPS)

    k = 47
    opt = scheduler_optimizer(ournn, kind)
    scheduler = build(sched, opt)
    _trace(opt, scheduler, k)
    opt_state, sched_state = opt.state_dict(), scheduler.state_dict()
    if through == "json":
        opt_state = json.loads(json.dumps(opt_state, default=lambda a: a.tolist()))
        sched_state = json.loads(json.dumps(sched_state))
    else:
        ournn.save({"optimizer": opt_state, "scheduler": sched_state}, tmp_path / "s.ckpt")
        loaded = ournn.load(tmp_path / "s.ckpt")
        opt_state, sched_state = loaded["optimizer"], loaded["scheduler"]

    fresh_opt = scheduler_optimizer(ournn, kind)
    fresh = build(sched, fresh_opt)
    fresh_opt.load_state_dict(opt_state)
    fresh.load_state_dict(sched_state)
    rest = _trace(fresh_opt, fresh, N_STEPS - k)
    np.testing.assert_allclose(rest, reference[k:], rtol=1e-14)


# ---------------------------------------------------------------- step(epoch)
def _fractional_epochs():
    iters = 7
    return [epoch + i / iters for epoch in range(20) for i in range(iters)][1:]


@requires_torch
@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_fractional_epochs_match_torch(T_mult):
    epochs = _fractional_epochs()

    def build(m, o):
        return m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=T_mult, eta_min=0.001)
    opt = scheduler_optimizer(ournn)
    ours = _trace(opt, build(sched, opt), len(epochs), epochs)
    theirs = _torch_trace(build, "SGD", len(epochs), epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-15)


def test_warm_restarts_by_hand():
    opt = scheduler_optimizer(ournn)
    s = sched.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.01)
    lrs = [s.get_last_lr()[0]]
    for _ in range(12):
        s.step()
        lrs.append(s.get_last_lr()[0])

    def cos(t, period):
        return 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / period)) / 2
    # periods of 4, then 8: restarts at steps 4 and 12
    expected = [cos(t, 4) for t in range(4)] + [cos(t, 8) for t in range(8)] + [cos(0, 16)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-14)
    assert lrs[4] == pytest.approx(0.1) and lrs[12] == pytest.approx(0.1)
    s.step(2.5)                                           # fractional: inside the first period
    assert s.T_i == 4 and s.T_cur == 2.5 and s.last_epoch == 2
    assert s.get_last_lr()[0] == pytest.approx(cos(2.5, 4))
    s.step(13.0)                                          # 4 + 8 = 12: the third period, T_i 16
    assert s.T_i == 16 and s.T_cur == pytest.approx(1.0)


# ---------------------------------------------------------------- hand-computed values
def test_cyclic_by_hand_and_momentum():
    opt = scheduler_optimizer(ournn)
    s = sched.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, step_size_down=4,
                       base_momentum=0.8, max_momentum=0.9)
    lrs, moms = [s.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(7):
        s.step()
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    # up 0.1 -> 0.5 in 2 steps, down to 0.1 in 4, up again
    np.testing.assert_allclose(lrs, [0.1, 0.3, 0.5, 0.4, 0.3, 0.2, 0.1, 0.3], rtol=1e-14)
    np.testing.assert_allclose(moms, [0.9, 0.85, 0.8, 0.825, 0.85, 0.875, 0.9, 0.85],
                               rtol=1e-14)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    assert opt.param_groups[1]["lr"] == pytest.approx(0.3)
    tri2 = sched.CyclicLR(scheduler_optimizer(ournn), base_lr=0.0, max_lr=1.0, step_size_up=1,
                          mode="triangular2", cycle_momentum=False)
    peaks = []
    for _ in range(6):
        tri2.step()
        peaks.append(tri2.get_last_lr()[0])
    np.testing.assert_allclose(peaks, [1.0, 0.0, 0.5, 0.0, 0.25, 0.0], atol=1e-15)


def test_polynomial_constant_multiplicative_by_hand():
    opt = scheduler_optimizer(ournn)
    poly = sched.PolynomialLR(opt, total_iters=4, power=2.0)
    lrs = [poly.get_last_lr()[0]]
    for _ in range(6):
        poly.step()
        lrs.append(poly.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.1 * (1 - min(e, 4) / 4) ** 2 for e in range(7)],
                               atol=1e-17)
    assert lrs[-1] == 0.0

    opt = scheduler_optimizer(ournn)
    const = sched.ConstantLR(opt, factor=0.5, total_iters=2)
    lrs = [const.get_last_lr()]
    for _ in range(3):
        const.step()
        lrs.append(const.get_last_lr())
    assert lrs == [[0.05, 0.025], [0.05, 0.025], [0.1, 0.05], [0.1, 0.05]]

    opt = scheduler_optimizer(ournn)
    mult = sched.MultiplicativeLR(opt, lambda e: 1.0 / (e + 1))
    for _ in range(3):
        mult.step()
    # 0.1 * 1/2 * 1/3 * 1/4
    assert mult.get_last_lr()[0] == pytest.approx(0.1 / 24, rel=1e-14)


def test_chained_by_hand():
    opt = scheduler_optimizer(ournn)
    chain = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.1, total_iters=2),
                                    sched.ExponentialLR(opt, gamma=0.9)])
    lrs = [chain.get_last_lr()[0]]
    for _ in range(3):
        chain.step()
        lrs.append(chain.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.01, 0.009, 0.1 * 0.81, 0.1 * 0.729], rtol=1e-14)
    assert opt.param_groups[0]["lr"] == lrs[-1]


def test_errors():
    opt = scheduler_optimizer(ournn)
    with pytest.raises(ValueError, match="T_0"):
        sched.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult"):
        sched.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="factor"):
        sched.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="total_iters"):
        sched.PolynomialLR(opt, total_iters=0)
    with pytest.raises(ValueError, match="mode"):
        sched.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="momentum"):
        sched.CyclicLR(optim.Adagrad([Parameter(np.zeros(1))]), 0.01, 0.1)
    with pytest.raises(ValueError, match="one per parameter group"):
        sched.CyclicLR(opt, [0.01], 0.1)
    with pytest.raises(ValueError, match="not multiplicative"):
        sched.ChainedScheduler([sched.StepLR(opt, 3), sched.CosineAnnealingLR(opt, 10)])
    with pytest.raises(ValueError, match="another optimizer"):
        sched.ChainedScheduler([sched.StepLR(opt, 3), sched.StepLR(scheduler_optimizer(ournn), 3)])
    s = sched.CosineAnnealingWarmRestarts(opt, T_0=2)
    with pytest.raises(ValueError, match="epoch"):
        s.step(-1)


def test_names_reachable_like_torch():
    for name in ("CyclicLR", "CosineAnnealingWarmRestarts", "PolynomialLR", "ConstantLR",
                 "MultiplicativeLR", "ChainedScheduler"):
        assert getattr(optim.lr_scheduler, name) is getattr(optim, name)
