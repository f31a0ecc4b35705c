"""Optimizers, gradient clipping and learning-rate schedules: PyTorch equivalence step for
step (float64), in-place updates, state_dict round trips and errors."""
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
from quadratic import (SHAPES, Quadratic, assert_params_match_torch, make_groups,  # noqa: F401
                       quadratic_grad)

STEPS = 20


# ---------------------------------------------------------------- helpers
_Q = Quadratic(STEPS)
initial_arrays, noise_sequence, run_ours, run_torch = (_Q.initial_arrays, _Q.noise_sequence,
                                                       _Q.run_ours, _Q.run_torch)


OPTIMIZER_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, maximize=True)),
    ("SGD", dict(lr=0.01, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, eps=1e-3, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, eps=1e-4, weight_decay=0.05, maximize=True)),
]


def case_id(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


# ---------------------------------------------------------------- optimizers vs PyTorch
@requires_torch
@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=case_id)
def test_optimizer_matches_torch(case):
    name, kwargs = case
    ours, _ = run_ours(getattr(optim, name), kwargs)
    theirs = run_torch(getattr(torch.optim, name), kwargs)
    assert_params_match_torch(ours, theirs)


GROUP_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9), dict(lr=0.2, momentum=0.5, nesterov=True)),
    ("Adam", dict(lr=0.01), dict(lr=0.05, betas=(0.7, 0.95), amsgrad=True)),
    ("AdamW", dict(lr=0.01), dict(lr=0.001, weight_decay=0.5)),
    ("Adagrad", dict(lr=0.1), dict(lr=0.3, lr_decay=0.1)),
    ("RMSprop", dict(lr=0.01), dict(lr=0.003, centered=True, momentum=0.5)),
]


@requires_torch
@pytest.mark.parametrize("case", GROUP_CASES, ids=lambda c: c[0])
def test_parameter_groups_match_torch(case):
    name, defaults, second_group = case
    groups = [([0, 2], {}), ([1], second_group)]
    ours, opt = run_ours(getattr(optim, name), defaults, groups)
    theirs = run_torch(getattr(torch.optim, name), defaults, groups)
    assert_params_match_torch(ours, theirs)
    assert opt.param_groups[1]["lr"] == second_group["lr"]
    assert opt.param_groups[0]["lr"] == defaults["lr"]


@requires_torch
def test_least_squares_through_autograd_matches_torch():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 5)), rng.standard_normal((16, 2))
    w0, b0 = rng.standard_normal((5, 2)), np.zeros(2)

    w, b = Parameter(w0.copy()), Parameter(b0.copy())
    opt = optim.Adam([w, b], lr=0.05, amsgrad=True, weight_decay=0.01)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    tb = torch.tensor(b0.copy(), requires_grad=True)
    topt = torch.optim.Adam([tw, tb], lr=0.05, amsgrad=True, weight_decay=0.01)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((ournn.tensor(x) @ w + b - ournn.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        ((torch.tensor(x) @ tw + tb - torch.tensor(y)) ** 2).mean().backward()
        topt.step()
    assert_params_match_torch([w, b], [tw, tb])


# ---------------------------------------------------------------- update mechanics
ALL_OPTIMIZERS = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    (optim.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.1, maximize=True)),
    (optim.Adagrad, dict(lr=0.1, weight_decay=0.1)),
    (optim.RMSprop, dict(lr=0.1, momentum=0.9, centered=True)),
]


@pytest.mark.parametrize("cls, kwargs", ALL_OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_updates_in_place_in_float32_without_touching_grads(cls, kwargs):
    rng = np.random.default_rng(0)
    a = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    b = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    frozen = Parameter(np.ones(2, dtype=np.float32))
    arrays = [a.numpy(), b.numpy()]
    view = a.numpy()[0]                       # a user's view must see the update
    opt = cls([a, b, frozen], **kwargs)
    for _ in range(3):
        shared = rng.standard_normal((3, 4)).astype(np.float32)
        a.grad = b.grad = shared           # one gradient array shared by two parameters
        kept = shared.copy()
        before = a.numpy().copy()
        opt.step()
        np.testing.assert_array_equal(shared, kept)       # gradients are only read
        assert not np.array_equal(a.numpy(), before)
    assert a.numpy() is arrays[0] and b.numpy() is arrays[1]    # never rebound
    np.testing.assert_array_equal(view, a.numpy()[0])
    for p in (a, b):
        assert p.numpy().dtype == np.float32
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
    np.testing.assert_array_equal(frozen.numpy(), 1.0)      # no gradient: untouched, no state
    assert frozen not in opt.state or not opt.state[frozen]


def test_zero_grad():
    a, b, c = Parameter(np.ones(3)), Parameter(np.ones(2)), Parameter(np.ones(1))
    opt = optim.SGD([a, b, c], lr=0.1)
    grad = np.full(3, 2.0)
    a.grad, b.grad = grad, np.ones(2)
    kept = a.grad
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, 0.0)
    assert a.grad is kept                                  # zeroed in place, as PyTorch
    assert c.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_closure_returns_loss():
    w = Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.numpy()) == 5.0
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6])


def test_constructor_errors_and_param_groups():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(3))
    with pytest.raises(TypeError):
        optim.SGD(p, lr=0.1)                               # a single tensor, not an iterable
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=0.1, nesterov=True)              # nesterov needs momentum
    with pytest.raises(ValueError):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(TypeError):
        optim.SGD([np.ones(2)], lr=0.1)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": q, "lr": 0.5})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.5
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [p]})              # already in group 0
    named = optim.Adam([("w", p), ("v", q)])
    assert named.param_groups[0]["param_names"] == ["w", "v"]
    assert "SGD (" in repr(opt) and "momentum: 0.9" in repr(opt)


# ---------------------------------------------------------------- state_dict
def to_json_and_back(state):
    """Through JSON: arrays become lists, tuples lists and integer keys strings."""
    return json.loads(json.dumps(state, default=lambda a: a.tolist()))


@pytest.mark.parametrize("case", OPTIMIZER_CASES[1::2], ids=case_id)
@pytest.mark.parametrize("through_json", [False, True], ids=["dict", "json"])
def test_optimizer_state_dict_round_trip(case, through_json):
    name, kwargs = case
    cls = getattr(optim, name)
    groups = [([0, 2], {}), ([1], {"lr": kwargs["lr"] / 2})]
    reference, _ = run_ours(cls, kwargs, groups, steps=STEPS)

    first, opt = run_ours(cls, kwargs, groups, steps=7)
    state = opt.state_dict()
    stateless = name == "SGD" and not kwargs.get("momentum")
    assert sorted(state["state"]) == ([] if stateless else [0, 1, 2])
    assert state["param_groups"][1]["params"] == [2]
    if through_json:
        state = to_json_and_back(state)
    params = [Parameter(p.numpy().copy()) for p in first]
    resumed = cls(make_groups(params, groups), **kwargs)
    resumed.load_state_dict(state)
    for noise in noise_sequence()[7:]:
        for p, n in zip(params, noise):
            p.grad = quadratic_grad(p.numpy(), n)
        resumed.step()
    for p, q in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-13, atol=1e-15)


def test_state_dict_is_a_snapshot_of_plain_values():
    params, opt = run_ours(optim.Adam, dict(lr=0.01, amsgrad=True), steps=3)
    state = opt.state_dict()
    assert state["state"][0]["step"] == 3 and type(state["state"][0]["step"]) is int
    assert state["param_groups"][0]["betas"] == (0.9, 0.999)
    saved = state["state"][0]["exp_avg"].copy()
    params[0].grad = np.ones(params[0].shape)
    opt.step()
    np.testing.assert_array_equal(state["state"][0]["exp_avg"], saved)   # not aliased


def test_load_state_dict_errors():
    p, q = Parameter(np.ones((2, 3))), Parameter(np.ones(4))
    opt = optim.Adam([p, q], lr=0.1)
    p.grad, q.grad = np.ones((2, 3)), np.ones(4)
    opt.step()
    state = opt.state_dict()

    with pytest.raises(ournn.CheckpointError, match="parameter groups"):
        optim.Adam([{"params": [p]}, {"params": [q]}]).load_state_dict(state)
    with pytest.raises(ournn.CheckpointError, match="2 parameters in the checkpoint, 1"):
        optim.Adam([p]).load_state_dict(state)
    wrong = optim.Adam([Parameter(np.ones((3, 2))), Parameter(np.ones(4))])
    with pytest.raises(ournn.CheckpointError, match=r"shape \(2, 3\).*shape \(3, 2\)"):
        wrong.load_state_dict(state)
    untouched = wrong.state_dict()
    assert untouched["state"] == {} and untouched["param_groups"][0]["lr"] == 1e-3
    with pytest.raises(ournn.CheckpointError, match="another optimizer"):
        optim.SGD([p, q], lr=0.1).load_state_dict(state)
    with pytest.raises(ournn.CheckpointError):
        opt.load_state_dict({"params": []})
    assert issubclass(ournn.CheckpointError, ValueError)


# ---------------------------------------------------------------- gradient clipping
def _grads(seed=5):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * 3 for s in SHAPES]


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = _grads()
    ours = [Parameter(np.zeros(s)) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    originals = []
    for p, t, g in zip(ours, theirs, grads):
        p.grad = g
        originals.append(g.copy())
        t.grad = torch.tensor(g.copy())
    extra = Parameter(np.zeros(2))                   # no gradient: skipped
    total = optim.clip_grad_norm_(ours + [extra], max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, t, g, kept in zip(ours, theirs, grads, originals):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
        np.testing.assert_array_equal(g, kept)           # a new array, not scaled in place


@requires_torch
def test_clip_grad_value_matches_torch():
    grads = _grads()
    ours = [Parameter(np.zeros(s)) for s in SHAPES]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, t, g in zip(ours, theirs, grads):
        p.grad, t.grad = g.copy(), torch.tensor(g.copy())
    optim.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_clip_grad_norm_single_parameter_and_nonfinite():
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    assert optim.clip_grad_norm_(p, 1.0) == 5.0
    np.testing.assert_allclose(np.linalg.norm(p.grad), 1.0, rtol=1e-6)
    p.grad = np.array([np.inf, 1.0])
    with pytest.raises(RuntimeError):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


# ---------------------------------------------------------------- schedulers vs PyTorch
N_SCHED_STEPS = 30




def _trace(opt, scheduler, steps, metrics=None):
    """lr and momentum of every group after construction and after each step."""
    trace = [(scheduler.get_last_lr(), [g["lr"] for g in opt.param_groups], momenta(opt))]
    for i in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
        trace.append((scheduler.get_last_lr(), [g["lr"] for g in opt.param_groups],
                      momenta(opt)))
    return np.array([[*a, *b, *c] for a, b, c in trace], dtype=float)


def _plateau_metrics():
    rng = np.random.default_rng(7)
    return list(1.0 / (1 + np.arange(N_SCHED_STEPS)) ** 0.3 + 0.05 * rng.standard_normal(
        N_SCHED_STEPS))


# Each case: (id, builder(module, opt) -> scheduler, optimizer kind, needs metrics)
def _sequential(m, opt):
    return m.SequentialLR(opt, [m.LinearLR(opt, start_factor=0.1, total_iters=5),
                                m.CosineAnnealingLR(opt, T_max=25, eta_min=1e-3)],
                          milestones=[5])


def _sequential3(m, opt):
    return m.SequentialLR(opt, [m.LinearLR(opt, start_factor=0.2, total_iters=4),
                                m.ExponentialLR(opt, gamma=0.9),
                                m.StepLR(opt, step_size=3, gamma=0.5)],
                          milestones=[4, 12])


SCHEDULER_CASES = [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), "SGD", False),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[12, 5, 12, 20], gamma=0.3),
     "SGD", False),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9), "SGD", False),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=30), "SGD", False),
    ("CosineAnnealingLR-past-T_max",
     lambda m, o: m.CosineAnnealingLR(o, T_max=8, eta_min=1e-3), "SGD", False),
    ("LinearLR-warmup", lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
     "SGD", False),
    ("LinearLR-decay", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                               total_iters=10), "SGD", False),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e), "SGD", False),
    ("LambdaLR-per-group", lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e),
                                                       lambda e: 0.9 ** (e // 3)]),
     "SGD", False),
    ("SequentialLR-warmup-cosine", _sequential, "SGD", False),
    ("SequentialLR-three", _sequential3, "SGD", False),
    ("OneCycleLR-sgd", lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.3], total_steps=30),
     "SGD", False),
    ("OneCycleLR-adam-linear", lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, epochs=3, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear"), "Adam", False),
    ("OneCycleLR-three-phase", lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, total_steps=30, three_phase=True, div_factor=10.0), "Adam", False),
    ("OneCycleLR-no-momentum", lambda m, o: m.OneCycleLR(
        o, max_lr=0.2, total_steps=30, cycle_momentum=False), "SGD", False),
    ("ReduceLROnPlateau", lambda m, o: m.ReduceLROnPlateau(o, patience=2), "SGD", True),
    ("ReduceLROnPlateau-abs-cooldown", lambda m, o: m.ReduceLROnPlateau(
        o, factor=0.5, patience=1, threshold=0.02, threshold_mode="abs", cooldown=2,
        min_lr=[0.01, 0.02]), "SGD", True),
    ("ReduceLROnPlateau-max", lambda m, o: m.ReduceLROnPlateau(
        o, mode="max", factor=0.5, patience=0, threshold=0.1), "SGD", True),
]


@requires_torch
@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=lambda c: c[0])
def test_scheduler_matches_torch(case):
    _, build, kind, needs_metrics = case
    metrics = _plateau_metrics() if needs_metrics else None
    opt = scheduler_optimizer(ournn, kind)
    ours = _trace(opt, build(sched, opt), N_SCHED_STEPS, metrics)
    topt = scheduler_optimizer(torch, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _trace(topt, build(torch.optim.lr_scheduler, topt), N_SCHED_STEPS,
                        metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    for group in opt.param_groups:                     # plain Python floats, JSON-able
        assert type(group["lr"]) is float


@pytest.mark.parametrize("case", SCHEDULER_CASES, ids=lambda c: c[0])
def test_scheduler_state_dict_round_trip(case):
    _, build, kind, needs_metrics = case
    metrics = _plateau_metrics() if needs_metrics else None
    opt = scheduler_optimizer(ournn, kind)
    reference = _trace(opt, build(sched, opt), N_SCHED_STEPS, metrics)

    k = 11
    opt = scheduler_optimizer(ournn, kind)
    scheduler = build(sched, opt)
    _trace(opt, scheduler, k, metrics)
    opt_state = to_json_and_back(opt.state_dict())
    sched_state = json.loads(json.dumps(scheduler.state_dict()))

    fresh_opt = scheduler_optimizer(ournn, kind)
    fresh = build(sched, fresh_opt)
    fresh_opt.load_state_dict(opt_state)
    fresh.load_state_dict(sched_state)
    rest = _trace(fresh_opt, fresh, N_SCHED_STEPS - k, metrics[k:] if metrics else None)
    np.testing.assert_allclose(rest, reference[k:], rtol=1e-14)


@requires_torch
def test_sgd_with_onecycle_trajectory_matches_torch():
    ours = [Parameter(a.copy()) for a in initial_arrays()]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in initial_arrays()]
    opt = optim.SGD(ours, lr=0.1, momentum=0.9, nesterov=True)
    topt = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, nesterov=True)
    s = sched.OneCycleLR(opt, max_lr=0.2, total_steps=STEPS)
    ts = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.2, total_steps=STEPS)
    for noise in noise_sequence()[:STEPS - 1]:
        for p, t, n in zip(ours, theirs, noise):
            p.grad = quadratic_grad(p.numpy(), n)
            t.grad = torch.tensor(quadratic_grad(t.detach().numpy(), n))
        opt.step()
        topt.step()
        s.step()
        ts.step()
    assert_params_match_torch(ours, theirs)


def test_scheduler_details():
    opt = scheduler_optimizer(ournn)
    s = sched.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert s.base_lrs == [0.1, 0.05]
    with pytest.raises(KeyError):
        # resuming needs initial_lr
        sched.StepLR(scheduler_optimizer(ournn), step_size=2, last_epoch=4)
    resumed = sched.StepLR(opt, step_size=2, last_epoch=4)
    assert resumed.get_last_lr() == pytest.approx([0.001, 0.0005])
    with pytest.raises(ValueError):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(ValueError):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2),
                                 sched.ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError):
        sched.SequentialLR(opt, [sched.StepLR(opt, 2),
                                 sched.StepLR(scheduler_optimizer(ournn), 2)], milestones=[3])
    with pytest.raises(ValueError):
        sched.OneCycleLR(opt, max_lr=0.1)                        # no total_steps
    one = sched.OneCycleLR(scheduler_optimizer(ournn), max_lr=0.1, total_steps=3)
    for _ in range(3):
        one.step()
    with pytest.raises(ValueError, match="total_steps"):
        one.step()
    with pytest.raises(ValueError):
        sched.OneCycleLR(optim.Adagrad([Parameter(np.zeros(1))]), max_lr=0.1,
                         total_steps=5)                          # nothing to cycle
    with pytest.raises(TypeError):
        sched.StepLR(object(), step_size=2)
    assert optim.lr_scheduler.StepLR is optim.StepLR


# ---------------------------------------------------------------- closed forms, without torch
# Two steps of each update rule, computed by hand from its formula (as PyTorch documents it),
# on a float64 parameter with the gradients G1 then G2 set directly.
P0 = np.array([1.0, -2.0])
G1, G2 = np.array([0.5, 0.25]), np.array([-1.0, 2.0])


def two_steps(cls, **kwargs):
    p = Parameter(P0.copy())
    opt = cls([p], **kwargs)
    out = []
    for g in (G1, G2):
        p.grad = g.copy()
        opt.step()
        out.append(p.numpy().copy())
    return out


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_weight_decay_closed_form(nesterov):
    lr, mu, wd = 0.1, 0.9, 0.01
    got = two_steps(optim.SGD, lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
    g = G1 + wd * P0                        # step 1: the buffer is the gradient itself
    b = g
    p1 = P0 - lr * ((g + mu * b) if nesterov else b)
    g = G2 + wd * p1                        # step 2: b = mu * b + g (dampening 0)
    b = mu * b + g
    p2 = p1 - lr * ((g + mu * b) if nesterov else b)
    np.testing.assert_allclose(got[0], p1, rtol=1e-12)
    np.testing.assert_allclose(got[1], p2, rtol=1e-12)


def test_sgd_plain_and_dampening_closed_form():
    got = two_steps(optim.SGD, lr=0.5)
    np.testing.assert_allclose(got[1], P0 - 0.5 * G1 - 0.5 * G2, rtol=1e-12)
    got = two_steps(optim.SGD, lr=0.5, momentum=0.9, dampening=0.5)
    p1 = P0 - 0.5 * G1                      # the first buffer is not damped
    p2 = p1 - 0.5 * (0.9 * G1 + 0.5 * G2)
    np.testing.assert_allclose(got[1], p2, rtol=1e-12)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw_closed_form(decoupled):
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    cls = optim.AdamW if decoupled else optim.Adam
    got = two_steps(cls, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    p, m, v = P0.copy(), np.zeros(2), np.zeros(2)
    expected = []
    for t, g in enumerate((G1, G2), start=1):
        if decoupled:
            p = p * (1 - lr * wd)               # AdamW: decay the weights, not the gradient
        else:
            g = g + wd * p                      # Adam: L2 added to the gradient
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(p)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    plain = two_steps(cls, lr=lr, betas=(b1, b2), eps=eps, weight_decay=0)
    # without decay the first step moves each weight by lr: m_hat / sqrt(v_hat) = sign(g)
    np.testing.assert_allclose(P0 - plain[0], lr * np.sign(G1), rtol=1e-6)


def test_adagrad_closed_form():
    lr, lr_decay, wd, eps, init = 0.1, 0.5, 0.01, 1e-10, 0.2
    got = two_steps(optim.Adagrad, lr=lr, lr_decay=lr_decay, weight_decay=wd, eps=eps,
                    initial_accumulator_value=init)
    p, total = P0.copy(), np.full(2, init)
    expected = []
    for t, g in enumerate((G1, G2), start=1):
        g = g + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g * g
        p = p - clr * g / (np.sqrt(total) + eps)
        expected.append(p)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.9),
                                               (True, 0.9)])
def test_rmsprop_closed_form(centered, momentum):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.01
    got = two_steps(optim.RMSprop, lr=lr, alpha=alpha, eps=eps, weight_decay=wd,
                    momentum=momentum, centered=centered)
    p, sq, avg_g, buf = P0.copy(), np.zeros(2), np.zeros(2), np.zeros(2)
    expected = []
    for g in (G1, G2):
        g = g + wd * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            avg_g = alpha * avg_g + (1 - alpha) * g
            denom = np.sqrt(sq - avg_g * avg_g) + eps
        else:
            denom = np.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        expected.append(p)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
