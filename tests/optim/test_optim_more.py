"""More optimizers (Adadelta, Adamax, NAdam, RAdam, ASGD, LBFGS): PyTorch equivalence step
for step in float64, first steps computed by hand from the formulas, state_dict round trips;
PyTorch's keywords on every optimizer; an optimizer written the PyTorch way."""
import json
import math

import numpy as np
import pytest

import ournn
from ournn import optim
from ournn.nn import Parameter
from helpers import requires_torch, torch
from quadratic import (Quadratic, assert_params_match_torch, make_groups,  # noqa: F401
                       quadratic_grad, step_ours)

STEPS = 25


# ---------------------------------------------------------------- helpers
_Q = Quadratic(STEPS)
initial_arrays, noise_sequence, run_ours, run_torch = (_Q.initial_arrays, _Q.noise_sequence,
                                                       _Q.run_ours, _Q.run_torch)
assert_match = assert_params_match_torch


@pytest.fixture
def torch_float64():
    """PyTorch keeps some scalar state (ASGD's eta and mu) in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9))),         # rho_t > 5 from step 2 on
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.8), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10)),     # averaging starts at step 11
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1, maximize=True)),
]


def case_id(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@requires_torch
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_optimizer_matches_torch(case, torch_float64):
    name, kwargs = case
    ours, opt = run_ours(getattr(optim, name), kwargs)
    assert_match(ours, run_torch(getattr(torch.optim, name), kwargs))
    assert opt.state[ours[0]]["step"] == STEPS


@requires_torch
@pytest.mark.parametrize("name, second", [
    ("Adadelta", dict(lr=0.3, rho=0.5)),
    ("Adamax", dict(lr=0.05, betas=(0.5, 0.9))),
    ("NAdam", dict(lr=0.05, momentum_decay=0.1, decoupled_weight_decay=True,
                   weight_decay=0.2)),
    ("RAdam", dict(lr=0.05, betas=(0.7, 0.8))),
    ("ASGD", dict(lr=0.02, t0=4)),
])
def test_parameter_groups_match_torch(name, second, torch_float64):
    groups = [([0, 2], {}), ([1], second)]
    ours, opt = run_ours(getattr(optim, name), {}, groups)
    assert_match(ours, run_torch(getattr(torch.optim, name), {}, groups))
    assert opt.param_groups[1]["lr"] == second["lr"]


@requires_torch
def test_asgd_average_matches_torch(torch_float64):
    kwargs = dict(lr=0.05, t0=5)
    ours, opt = run_ours(optim.ASGD, kwargs)
    params = [torch.tensor(a.copy(), requires_grad=True) for a in initial_arrays()]
    topt = torch.optim.ASGD(params, **kwargs)
    for noise in noise_sequence():
        for p, n in zip(params, noise):
            p.grad = torch.tensor(quadratic_grad(p.detach().numpy(), n))
        topt.step()
    for p, q in zip(ours, params):
        np.testing.assert_allclose(opt.state[p]["ax"], topt.state[q]["ax"].numpy(), rtol=1e-10)
        assert opt.state[p]["eta"] == pytest.approx(float(topt.state[q]["eta"]), rel=1e-14)
        assert opt.state[p]["mu"] == pytest.approx(float(topt.state[q]["mu"]), rel=1e-14)


# ---------------------------------------------------------------- first steps by hand
def _one_step(cls, value, grad, **kwargs):
    p = Parameter(np.array(value, dtype=float))
    opt = cls([p], **kwargs)
    p.grad = np.array(grad, dtype=float)
    opt.step()
    return p.numpy(), opt.state[p]


def test_adadelta_first_step_by_hand():
    x, g = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    new, state = _one_step(optim.Adadelta, x, g, lr=0.7, rho=0.9, eps=1e-6)
    v = 0.1 * g * g
    delta = np.sqrt(0 + 1e-6) / np.sqrt(v + 1e-6) * g
    np.testing.assert_allclose(new, x - 0.7 * delta, rtol=1e-14)
    np.testing.assert_allclose(state["acc_delta"], 0.1 * delta * delta, rtol=1e-14)


def test_adamax_first_step_by_hand():
    x, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    new, state = _one_step(optim.Adamax, x, g, lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    m, u = 0.1 * g, np.abs(g) + 1e-8
    np.testing.assert_allclose(new, x - 0.1 / (1 - 0.9) * m / u, rtol=1e-14)   # ~ x - lr*sign
    np.testing.assert_allclose(new, x - 0.1 * np.sign(g), rtol=1e-7)
    np.testing.assert_allclose(state["exp_inf"], u)


def test_nadam_first_step_by_hand():
    x, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    b1, b2, psi, lr = 0.9, 0.999, 4e-3, 0.01
    new, state = _one_step(optim.NAdam, x, g, lr=lr)
    mu1 = b1 * (1 - 0.5 * 0.96 ** psi)
    mu2 = b1 * (1 - 0.5 * 0.96 ** (2 * psi))
    m, v = (1 - b1) * g, (1 - b2) * g * g
    d = np.sqrt(v / (1 - b2)) + 1e-8
    expected = x - lr * (1 - mu1) / (1 - mu1) * g / d - lr * mu2 / (1 - mu1 * mu2) * m / d
    np.testing.assert_allclose(new, expected, rtol=1e-13)
    assert state["mu_product"] == pytest.approx(mu1, rel=1e-15)
    # decoupled: the weights shrink first, the gradient alone drives the rest
    new_w, _ = _one_step(optim.NAdam, x, g, lr=lr, weight_decay=0.5,
                         decoupled_weight_decay=True)
    np.testing.assert_allclose(new_w, expected - x * lr * 0.5, rtol=1e-13)


def test_radam_steps_by_hand():
    x, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    # with the default beta2 the variance is intractable for the first steps: plain SGD
    # with momentum, bias-corrected (m / (1 - beta1) = g at step 1)
    new, _ = _one_step(optim.RAdam, x, g, lr=0.1)
    np.testing.assert_allclose(new, x - 0.1 * g, rtol=1e-14)
    # beta2 = 0.5 makes rho_inf = 3: never rectified
    b1, b2 = 0.9, 0.5
    rho_inf = 2 / (1 - b2) - 1
    assert rho_inf < 5
    # beta2 = 0.9: rho_t > 5 from step 7; check the rectified step
    p = Parameter(x.copy())
    opt = optim.RAdam([p], lr=0.1, betas=(0.9, 0.9))
    m = v = np.zeros(2)
    value = x.copy()
    for t in range(1, 9):
        p.grad = g
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.9 * v + 0.1 * g * g
        rho_inf = 2 / 0.1 - 1
        rho_t = rho_inf - 2 * t * 0.9 ** t / (1 - 0.9 ** t)
        mhat = m / (1 - 0.9 ** t)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            value = value - 0.1 * mhat * r * math.sqrt(1 - 0.9 ** t) / (np.sqrt(v) + 1e-8)
        else:
            value = value - 0.1 * mhat
        np.testing.assert_allclose(p.numpy(), value, rtol=1e-12, err_msg=f"step {t}")


def test_asgd_steps_by_hand():
    x, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    p = Parameter(x.copy())
    lr, lambd, alpha, t0 = 0.1, 0.01, 0.75, 2
    opt = optim.ASGD([p], lr=lr, lambd=lambd, alpha=alpha, t0=t0)
    value, eta, mu, ax = x.copy(), lr, 1.0, np.zeros(2)
    for t in range(1, 6):
        p.grad = g
        opt.step()
        value = value * (1 - lambd * eta) - eta * g
        ax = value.copy() if mu == 1 else ax + mu * (value - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
        np.testing.assert_allclose(p.numpy(), value, rtol=1e-14)
        np.testing.assert_allclose(opt.state[p]["ax"], ax, rtol=1e-14)
    assert opt.state[p]["mu"] == 1 / 3


# ---------------------------------------------------------------- update mechanics
NEW_OPTIMIZERS = [
    (optim.Adadelta, dict(weight_decay=0.1)),
    (optim.Adamax, dict(lr=0.1, maximize=True)),
    (optim.NAdam, dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    (optim.RAdam, dict(lr=0.1, betas=(0.9, 0.9))),
    (optim.ASGD, dict(lr=0.1, t0=1, weight_decay=0.1)),
]


@pytest.mark.parametrize("cls, kwargs", NEW_OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_updates_in_place_in_float32_without_touching_grads(cls, kwargs):
    rng = np.random.default_rng(0)
    a = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    b = Parameter(rng.standard_normal((3, 4)).astype(np.float32))
    frozen = Parameter(np.ones(2, dtype=np.float32))
    arrays = [a.numpy(), b.numpy()]
    opt = cls([a, b, frozen], **kwargs)
    for _ in range(8):
        shared = rng.standard_normal((3, 4)).astype(np.float32)
        a.grad = b.grad = shared
        kept = shared.copy()
        before = a.numpy().copy()
        opt.step()
        np.testing.assert_array_equal(shared, kept)
        assert not np.array_equal(a.numpy(), before)
    assert a.numpy() is arrays[0] and b.numpy() is arrays[1]
    for p in (a, b):
        assert p.numpy().dtype == np.float32
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32
    np.testing.assert_array_equal(frozen.numpy(), 1.0)
    assert not opt.state.get(frozen)


def to_json_and_back(state):
    return json.loads(json.dumps(state, default=lambda a: a.tolist()))


@pytest.mark.parametrize("case", CASES[::2], ids=case_id)
@pytest.mark.parametrize("through", ["dict", "json", "ournn.save"])
def test_state_dict_round_trip(case, through, tmp_path):
    name, kwargs = case
    cls = getattr(optim, name)
    groups = [([0, 2], {}), ([1], {"lr": kwargs.get("lr", 0.01) / 2})]
    reference, _ = run_ours(cls, kwargs, groups)
    first, opt = run_ours(cls, kwargs, groups, steps=9)
    state = opt.state_dict()
    assert sorted(state["state"]) == [0, 1, 2]
    if through == "json":
        state = to_json_and_back(state)
    elif through == "ournn.save":
        ournn.save(state, tmp_path / "opt.ckpt")
        state = ournn.load(tmp_path / "opt.ckpt")
    params = [Parameter(p.numpy().copy()) for p in first]
    resumed = cls(make_groups(params, groups), **kwargs)
    resumed.load_state_dict(state)
    step_ours(params, resumed, noise_sequence()[9:])
    for p, q in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- LBFGS
def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


X0 = np.array([-1.5, 2.0, -0.5, 1.2])


def lbfgs_run(x_module, opt_cls, steps, **kwargs):
    x = Parameter(X0.copy()) if x_module is ournn else torch.tensor(X0.copy(),
                                                                       requires_grad=True)
    opt = opt_cls([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    path, losses = [], []
    for _ in range(steps):
        losses.append(opt.step(closure).item())
        path.append(x.detach().numpy().copy() if x_module is torch else x.numpy().copy())
    return np.array(path), losses, opt, x


@pytest.mark.parametrize("kwargs", [
    dict(line_search_fn="strong_wolfe"),
    # fixed steps stop on the loss change (1e-9) at 3e-6 from the minimum: tighten it
    dict(line_search_fn=None, tolerance_change=1e-14, tolerance_grad=1e-10),
], ids=["strong_wolfe", "fixed-step"])
def test_lbfgs_minimises_rosenbrock(kwargs):
    path, losses, opt, x = lbfgs_run(ournn, optim.LBFGS, 40, **kwargs)
    np.testing.assert_allclose(x.numpy(), 1.0, rtol=0, atol=1e-6)
    assert losses[-1] < 1e-10 < losses[0]
    state = opt.state[x]
    assert state["n_iter"] > 20 and state["func_evals"] >= state["n_iter"]
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) <= 100


@requires_torch
@pytest.mark.parametrize("kwargs, steps, rtol", [
    (dict(line_search_fn="strong_wolfe"), 30, 1e-6),
    (dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7, lr=0.5), 30, 1e-8),
    (dict(history_size=3, max_iter=7, lr=0.5), 30, 1e-8),
    (dict(max_iter=4), 6, 1e-9),          # fixed steps on Rosenbrock amplify rounding later
    (dict(line_search_fn="strong_wolfe", max_eval=6, tolerance_change=1e-5), 20, 1e-8),
])
def test_lbfgs_matches_torch_iterates(kwargs, steps, rtol):
    ours, our_losses, opt, x = lbfgs_run(ournn, optim.LBFGS, steps, **kwargs)
    theirs, their_losses, topt, tx = lbfgs_run(torch, torch.optim.LBFGS, steps, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(our_losses, their_losses, rtol=rtol * 100, atol=1e-12)
    assert opt.state[x]["func_evals"] == topt.state[tx]["func_evals"]
    assert opt.state[x]["n_iter"] == topt.state[tx]["n_iter"]


def test_lbfgs_on_a_model_with_several_parameters():
    rng = np.random.default_rng(0)
    xs, w_true = rng.standard_normal((30, 3)), np.array([[1.0], [-2.0], [0.5]])
    ys = xs @ w_true + 0.3
    lin = ournn.nn.Linear(3, 1)
    opt = optim.LBFGS(lin.parameters(), line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((lin(ournn.tensor(xs)) - ournn.tensor(ys)) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(lin.weight.numpy().reshape(-1), w_true.reshape(-1), atol=1e-4)   # float32
    np.testing.assert_allclose(lin.bias.numpy(), [0.3], atol=1e-4)


@pytest.mark.parametrize("through", ["dict", "json", "ournn.save"])
def test_lbfgs_state_dict_round_trip(through, tmp_path):
    kwargs = dict(history_size=4, max_iter=3, line_search_fn="strong_wolfe")
    reference, _, _, _ = lbfgs_run(ournn, optim.LBFGS, 8, **kwargs)
    _, _, opt, x = lbfgs_run(ournn, optim.LBFGS, 4, **kwargs)
    state = opt.state_dict()
    assert list(state["state"]) == [0] and len(state["state"][0]["old_dirs"]) == 4
    if through == "json":
        state = to_json_and_back(state)
    elif through == "ournn.save":
        ournn.save(state, tmp_path / "lbfgs.ckpt")
        state = ournn.load(tmp_path / "lbfgs.ckpt")
    y = Parameter(x.numpy().copy())
    resumed = optim.LBFGS([y], **kwargs)
    resumed.load_state_dict(state)

    def closure():
        resumed.zero_grad()
        loss = rosenbrock(y)
        loss.backward()
        return loss

    for i in range(4, 8):
        resumed.step(closure)
        np.testing.assert_allclose(y.numpy(), reference[i], rtol=1e-13, atol=1e-15)


def test_lbfgs_errors():
    p, q = Parameter(np.ones(2)), Parameter(np.ones(3))
    with pytest.raises(ValueError, match="LBFGS.*parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [q]}])
    with pytest.raises(ValueError, match="LBFGS: line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="LBFGS: history_size"):
        optim.LBFGS([p], history_size=0)
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS([p]).step()
    opt = optim.LBFGS([p, q])

    def flat():                                  # already optimal: one evaluation, no move
        opt.zero_grad()
        loss = (p * 0).sum() + (q * 0).sum()
        loss.backward()
        return loss
    assert float(opt.step(flat)) == 0.0
    np.testing.assert_array_equal(p.numpy(), 1.0)
    assert opt.state[p]["func_evals"] == 1


# ---------------------------------------------------------------- PyTorch's keywords
def test_performance_keywords_are_accepted():
    p = Parameter(np.ones(2))
    optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True, foreach=None,
              fused=None, differentiable=False)
    optim.SGD([p], lr=0.1, foreach=True, fused=False, maximize=True)
    optim.Adam([p], lr=1e-3, foreach=False, capturable=False, fused=None,
               differentiable=False, decoupled_weight_decay=True)
    optim.AdamW([p], foreach=None, capturable=True, fused=None)
    optim.Adagrad([p], 0.1, 0, 0, 0, 1e-10, None, maximize=False, fused=None)
    optim.RMSprop([p], 0.01, 0.99, 1e-8, 0, 0, False, False, None, False, False)
    optim.Adadelta([p], foreach=None, capturable=False)
    optim.Adamax([p], foreach=None, capturable=False)
    optim.NAdam([p], foreach=None, capturable=False)
    optim.RAdam([p], foreach=None, capturable=False)
    optim.ASGD([p], foreach=None, capturable=False)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad,
                                 optim.RMSprop, optim.Adadelta, optim.Adamax, optim.NAdam,
                                 optim.RAdam, optim.ASGD], ids=lambda c: c.__name__)
def test_differentiable_is_refused_with_the_reason(cls):
    with pytest.raises(NotImplementedError, match=f"{cls.__name__}: differentiable=True.*in "
                                                  "place"):
        cls([Parameter(np.ones(2))], differentiable=True)


@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.SGD, dict(lr=-0.1), r"SGD: lr must be >= 0, got -0.1"),
    (optim.SGD, dict(lr=0.1, momentum=-1), r"SGD: momentum must be >= 0"),
    (optim.Adam, dict(betas=(0.9, 1.0)), r"Adam: betas must be .* in \[0, 1\)"),
    (optim.AdamW, dict(weight_decay=-1), r"AdamW: weight_decay must be >= 0"),
    (optim.RMSprop, dict(alpha=-0.5), r"RMSprop: alpha must be >= 0"),
    (optim.Adagrad, dict(eps=-1), r"Adagrad: eps must be >= 0"),
    (optim.Adadelta, dict(rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
    (optim.Adamax, dict(betas=(-0.1, 0.9)), r"Adamax: betas"),
    (optim.NAdam, dict(momentum_decay=-1), r"NAdam: momentum_decay must be >= 0"),
    (optim.RAdam, dict(eps=-1e-8), r"RAdam: eps must be >= 0"),
    (optim.ASGD, dict(lr=-1), r"ASGD: lr must be >= 0"),
    (optim.LBFGS, dict(max_iter=0), r"LBFGS: max_iter must be an int >= 1"),
])
def test_bad_hyperparameters_name_optimizer_argument_and_range(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([Parameter(np.ones(2))], **kwargs)


def test_param_group_changes_take_effect():
    p, q = Parameter(np.array([1.0, 1.0])), Parameter(np.array([2.0]))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0, 2.0])
    opt.param_groups[0]["lr"] = 0.5                          # as schedulers and users do
    opt.step()
    np.testing.assert_allclose(p.numpy(), [0.5, 0.0])
    opt.add_param_group({"params": [q], "lr": 0.01, "momentum": 0.9})
    q.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(q.numpy(), [1.99])
    np.testing.assert_allclose(opt.state[q]["momentum_buffer"], [1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0.0)
    opt.zero_grad(set_to_none=True)
    assert p.grad is None and q.grad is None


# ---------------------------------------------------------------- written the PyTorch way
class PlainMomentum(optim.Optimizer):
    """An optimizer as a PyTorch user writes one: step() over param_groups, self.state."""

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @ournn.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with ournn.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    state['momentum_buffer'] = p.grad.clone().detach()
                else:
                    state['momentum_buffer'].mul_(group['momentum']).add_(p.grad)
                p.data.add_(state['momentum_buffer'], alpha=-group['lr'])
        return loss


class PlainSGD(optim.Optimizer):
    def __init__(self, params, lr=0.01):
        super().__init__(params, dict(lr=lr))

    def step(self):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                p.data.add_(p.grad, alpha=-group['lr'])


def test_user_optimizer_written_the_pytorch_way():
    params, opt = run_ours(PlainSGD, dict(lr=0.05), steps=10)
    reference, _ = run_ours(optim.SGD, dict(lr=0.05), steps=10)
    for p, q in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-15)

    params, opt = run_ours(PlainMomentum, dict(lr=0.05, momentum=0.9), steps=10)
    reference, _ = run_ours(optim.SGD, dict(lr=0.05, momentum=0.9), steps=10)
    for p, q in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-13)


@pytest.mark.parametrize("through", ["dict", "json", "ournn.save"])
def test_user_optimizer_state_dict_round_trip(through, tmp_path):
    reference, _ = run_ours(PlainMomentum, dict(lr=0.05), steps=STEPS)
    first, opt = run_ours(PlainMomentum, dict(lr=0.05), steps=9)
    state = opt.state_dict()
    buffer = opt.state[first[0]]["momentum_buffer"]
    saved = state["state"][0]["momentum_buffer"]
    assert saved is not buffer
    if through == "json":
        state = to_json_and_back(state)
    elif through == "ournn.save":
        ournn.save(state, tmp_path / "opt.ckpt")
        state = ournn.load(tmp_path / "opt.ckpt")
    params = [Parameter(p.numpy().copy()) for p in first]
    resumed = PlainMomentum(params, lr=0.05)
    resumed.load_state_dict(state)
    assert isinstance(resumed.state[params[0]]["momentum_buffer"], ournn.Tensor)
    step_ours(params, resumed, noise_sequence()[9:])
    for p, q in zip(params, reference):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-13, atol=1e-15)


def test_pytorch_script_with_import_ournn_as_torch():
    import ournn as torch_like
    model = torch_like.nn.Linear(2, 1)
    optimizer = torch_like.optim.NAdam(model.parameters(), lr=0.05)
    scheduler = torch_like.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=5)
    x = torch_like.tensor(np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]))
    y = torch_like.tensor(np.array([[1.0], [0.0], [2.0]]))
    losses = []
    for epoch in range(30):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
