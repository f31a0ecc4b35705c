"""Gradients of gradients through the activations, the elementwise math ops and the scans.

Every op of ``ops/activation.py``, ``ops/math.py`` and ``ops/scan.py`` is checked by
``gradgradcheck`` (second derivatives against central differences of the first) and, with
torch installed, its Hessian-vector products are compared with PyTorch's in float64. Inputs
stay away from kinks (|x| > 0.1 around a ReLU's corner, ...), where finite differences and
one-sided second derivatives disagree.
"""
import numpy as np
import pytest

import ournn
from ournn.autograd import grad, gradgradcheck
from tests.helpers import assert_hvp_equals_torch, requires_torch, torch


def F(L):
    return ournn.nn.functional if L is ournn else torch.nn.functional


# ---------------------------------------------------------------- inputs
def normal(scale=1.0, kinks=(0.0,), gap=0.15):
    """Normal values times ``scale``, each at least ``gap`` from every point of ``kinks``."""
    def make(rng, shape):
        a = rng.standard_normal(shape) * scale
        for _ in range(100):
            near = np.zeros(a.shape, bool)
            for k in kinks:
                near |= np.abs(a - k) < gap
            if not near.any():
                break
            a = np.where(near, a + 2.5 * gap, a)
        return a
    return make


def uniform(low, high):
    return lambda rng, shape: rng.uniform(low, high, shape)


def positive(rng, shape):
    return np.abs(rng.standard_normal(shape)) + 0.5


def with_zero(*index):
    """Normal values with a zero at each of ``index`` (tuples)."""
    def make(rng, shape):
        a = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        for i in index:
            a[i] = 0.0
        return a
    return make


def divisor(rng, shape):
    return rng.uniform(1.0, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def dividend(rng, shape):
    """Away from the jumps of fmod and remainder by a divisor of ``divisor``'s range."""
    return rng.integers(-3, 4, shape) * 2.0 + rng.uniform(0.2, 0.8, shape)


ANY = normal(kinks=())
KINKED = normal()


def _prelu(L, x, w):
    return F(L).prelu(x, w) ** 2


# name: (function of the library L and the inputs, one maker per input); each is written
# once and runs on ournn and on torch alike. Ops linear where they are smooth (relu, ...) are
# squared or multiplied by their input, so their second derivatives are not all zero.
CASES = {
    # activations
    "relu": (lambda L, a: F(L).relu(a) * a, [KINKED]),
    "leaky_relu": (lambda L, a: F(L).leaky_relu(a, 0.2) ** 2, [KINKED]),
    "sigmoid": (lambda L, a: F(L).sigmoid(a), [ANY]),
    "sigmoid_method": (lambda L, a: (a * a).sigmoid(), [ANY]),
    "tanh": (lambda L, a: F(L).tanh(a * a), [ANY]),
    "gelu": (lambda L, a: F(L).gelu(a), [ANY]),
    "gelu_tanh": (lambda L, a: F(L).gelu(a, approximate="tanh"), [ANY]),
    "softmax": (lambda L, a: F(L).softmax(a, dim=1), [ANY]),
    "softmax_dim0": (lambda L, a: F(L).softmax(a, dim=0), [ANY]),
    "softmax_3d_middle": (lambda L, a: F(L).softmax(a, dim=-2), [ANY], [(2, 3, 4)]),
    "log_softmax": (lambda L, a: F(L).log_softmax(a, dim=1), [ANY]),
    "log_softmax_dim0": (lambda L, a: F(L).log_softmax(a, dim=0), [ANY]),
    "silu": (lambda L, a: F(L).silu(a), [ANY]),
    "elu": (lambda L, a: F(L).elu(a, alpha=0.7), [KINKED]),
    "selu": (lambda L, a: F(L).selu(a) * a, [KINKED]),
    "celu": (lambda L, a: F(L).celu(a, alpha=1.5), [KINKED]),
    "softplus": (lambda L, a: F(L).softplus(a), [ANY]),
    "softplus_beta": (lambda L, a: F(L).softplus(a, beta=2.0, threshold=3.0),
                      [normal(2.0, kinks=(1.5,))]),
    "mish": (lambda L, a: F(L).mish(a), [ANY]),
    "hardtanh": (lambda L, a: F(L).hardtanh(a, -0.5, 0.8) ** 2,
                 [normal(kinks=(-0.5, 0.8))]),
    "relu6": (lambda L, a: F(L).relu6(a) ** 2, [normal(4.0, kinks=(0.0, 6.0))]),
    # PyTorch has no second derivative of hardsigmoid: its oracle is relu6(x + 3) / 6
    "hardsigmoid": (lambda L, a: (F(L).hardsigmoid(a) if L is ournn else F(L).relu6(a + 3) / 6)
                    ** 2, [normal(3.0, kinks=(-3.0, 3.0))]),
    "hardswish": (lambda L, a: F(L).hardswish(a), [normal(3.0, kinks=(-3.0, 3.0))]),
    "softsign": (lambda L, a: F(L).softsign(a), [KINKED]),
    "tanhshrink": (lambda L, a: F(L).tanhshrink(a), [ANY]),
    "logsigmoid": (lambda L, a: F(L).logsigmoid(a), [ANY]),
    "threshold": (lambda L, a: F(L).threshold(a, 0.3, -2.0) ** 2, [normal(kinks=(0.3,))]),
    "prelu": (_prelu, [KINKED, uniform(0.1, 0.5)], [(2, 3, 4), (3,)]),
    "prelu_one_weight": (_prelu, [KINKED, uniform(0.1, 0.5)], [(2, 3, 4), (1,)]),
    "glu": (lambda L, a: F(L).glu(a, dim=1), [ANY], [(3, 4)]),
    "glu_dim0": (lambda L, a: F(L).glu(a, dim=0), [ANY], [(4, 3)]),
    # trigonometric and hyperbolic
    "sin": (lambda L, a: a.sin(), [ANY]),
    "cos": (lambda L, a: a.cos(), [ANY]),
    "tan": (lambda L, a: a.tan(), [uniform(-1.2, 1.2)]),
    "asin": (lambda L, a: a.asin(), [uniform(-0.8, 0.8)]),
    "acos": (lambda L, a: a.acos(), [uniform(-0.8, 0.8)]),
    "atan": (lambda L, a: a.atan(), [ANY]),
    "atan2": (lambda L, a, b: a.atan2(b), [ANY, ANY], [(3, 4), (4,)]),
    "sinh": (lambda L, a: a.sinh(), [ANY]),
    "cosh": (lambda L, a: a.cosh(), [ANY]),
    "asinh": (lambda L, a: a.asinh(), [ANY]),
    "acosh": (lambda L, a: a.acosh(), [uniform(1.2, 3.0)]),
    "atanh": (lambda L, a: a.atanh(), [uniform(-0.8, 0.8)]),
    # logs, exponentials, powers
    "log1p": (lambda L, a: a.log1p(), [uniform(-0.7, 2.0)]),
    "expm1": (lambda L, a: a.expm1(), [ANY]),
    "log2": (lambda L, a: a.log2(), [positive]),
    "log10": (lambda L, a: a.log10(), [positive]),
    "exp2": (lambda L, a: a.exp2(), [ANY]),
    "rsqrt": (lambda L, a: a.rsqrt(), [positive]),
    "reciprocal": (lambda L, a: a.reciprocal(), [positive]),
    "square": (lambda L, a: a.square() * a, [ANY]),
    # rounding (zero gradients), remainders, the rest
    "sign": (lambda L, a: a.sign() * a * a, [KINKED]),
    "floor": (lambda L, a: (a * 2).floor() * a * a, [normal(kinks=(-1.5, -1, -.5, 0, .5, 1, 1.5))]),
    "ceil": (lambda L, a: a.ceil() * a * a, [normal(kinks=(-2.0, -1.0, 0.0, 1.0, 2.0))]),
    "round": (lambda L, a: a.round() * a * a, [normal(kinks=(-1.5, -0.5, 0.5, 1.5))]),
    "trunc": (lambda L, a: a.trunc() * a * a, [normal(kinks=(-2.0, -1.0, 0.0, 1.0, 2.0))]),
    "frac": (lambda L, a: a.frac() * a, [normal(kinks=(-2.0, -1.0, 0.0, 1.0, 2.0))]),
    "fmod": (lambda L, a, b: a.fmod(b) * a * b, [dividend, divisor], [(3, 4), (4,)]),
    "remainder": (lambda L, a, b: a.remainder(b) * a * b, [dividend, divisor],
                  [(3, 4), (3, 1)]),
    "nan_to_num": (lambda L, a: (a * a).nan_to_num() * a, [ANY]),
    "lerp": (lambda L, a, b, w: a.lerp(b * b, w) * a, [ANY, ANY, ANY], [(3, 4), (3, 4), (4,)]),
    "lerp_scalar_weight": (lambda L, a, b: a.lerp(b, 0.3) ** 2, [ANY, ANY]),
    # scans and reductions
    "cumsum": (lambda L, a: (a * a).cumsum(1), [ANY], [(3, 4)]),
    "cumsum_dim0": (lambda L, a: (a * a).cumsum(0), [ANY], [(3, 4)]),
    "cumprod": (lambda L, a: a.cumprod(1), [ANY], [(3, 4)]),
    "cumprod_dim0": (lambda L, a: a.cumprod(0), [ANY], [(4, 3)]),
    "cumprod_3d_last": (lambda L, a: a.cumprod(-1), [ANY], [(2, 2, 3)]),
    "cumprod_zero": (lambda L, a: a.cumprod(1), [with_zero((0, 1), (2, 3))], [(3, 4)]),
    "cumprod_two_zeros": (lambda L, a: a.cumprod(1), [with_zero((1, 0), (1, 2))], [(3, 4)]),
    "cumprod_zero_dim0": (lambda L, a: a.cumprod(0), [with_zero((1, 1), (0, 2))], [(4, 3)]),
    "prod": (lambda L, a: a.prod(), [ANY], [(2, 3)]),
    "prod_dim": (lambda L, a: a.prod(1), [ANY], [(3, 4)]),
    "prod_dim0_keepdim": (lambda L, a: a.prod(0, keepdim=True), [ANY], [(3, 4)]),
    "prod_zero": (lambda L, a: a.prod(1), [with_zero((0, 1), (2, 0))], [(3, 4)]),
    "prod_zero_all": (lambda L, a: a.prod(), [with_zero((1, 2))], [(2, 3)]),
    "prod_two_zeros": (lambda L, a: a.prod(-1), [with_zero((0, 1), (0, 3))], [(2, 4)]),
    "logsumexp": (lambda L, a: a.logsumexp(1), [ANY], [(3, 4)]),
    "logsumexp_keepdim": (lambda L, a: a.logsumexp(0, keepdim=True), [ANY], [(3, 4)]),
    "logsumexp_dims": (lambda L, a: a.logsumexp((0, 2)), [ANY], [(2, 3, 4)]),
    "norm": (lambda L, a: a.norm(), [ANY], [(3, 4)]),
    "norm_dim": (lambda L, a: a.norm(2, 1), [ANY], [(3, 4)]),
    "norm_p3_keepdim": (lambda L, a: a.norm(3, 0, keepdim=True), [KINKED], [(3, 4)]),
    "norm_p1": (lambda L, a: a.norm(1, 1) ** 2, [KINKED], [(3, 4)]),
    "norm_p1_5": (lambda L, a: a.norm(1.5, 1), [KINKED], [(3, 4)]),
    "norm_inf": (lambda L, a: a.norm(float("inf"), 1) ** 2, [ANY], [(3, 4)]),
    "norm_neg_inf": (lambda L, a: a.norm(float("-inf"), 0) ** 2, [ANY], [(3, 4)]),
    "norm_p0": (lambda L, a: a.norm(0, 1) * a.sum(1), [ANY], [(3, 4)]),
    "logsumexp_all": (lambda L, a: a.logsumexp((0, 1)), [ANY], [(3, 4)]),
}


def _case(name):
    fn, makers, *shapes = CASES[name]
    shapes = shapes[0] if shapes else [(3, 4)] * len(makers)
    rng = np.random.default_rng(0)
    return fn, [make(rng, s).astype(np.float64) for make, s in zip(makers, shapes)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, arrays = _case(name)
    inputs = [ournn.tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *xs: fn(ournn, *xs), inputs)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_equal_pytorchs(name):
    """Hessian-vector products of sum(fn(x) * w) equal PyTorch's in float64."""
    fn, arrays = _case(name)
    assert_hvp_equals_torch(fn, arrays)


def _third(lib, fn, arrays):
    """d/dx of <d/dx <d/dx sum(fn(x) * w), v>, u>: third derivatives along two directions."""
    rng = np.random.default_rng(3)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    us = [rng.standard_normal(a.shape) for a in arrays]
    d = grad if lib is ournn else torch.autograd.grad
    xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    w = lib.tensor(np.random.default_rng(2).standard_normal(tuple(out.shape)))
    g1 = d((out * w).sum(), xs, create_graph=True)
    g2 = d(sum((g * lib.tensor(v)).sum() for g, v in zip(g1, vs)), xs, create_graph=True,
           allow_unused=True)
    pairs = [(g, u) for g, u in zip(g2, us) if g is not None and g.requires_grad]
    if not pairs:
        return [np.zeros(a.shape) for a in arrays]
    g3 = d(sum((g * lib.tensor(u)).sum() for g, u in pairs), xs, allow_unused=True)
    return [np.zeros(a.shape) if h is None else h.detach().numpy() for h, a in zip(g3, arrays)]


THIRD = ["sigmoid", "gelu", "gelu_tanh", "silu", "mish", "softplus", "elu", "glu", "prelu",
         "logsigmoid", "softmax", "log_softmax", "tan", "atan2", "rsqrt", "cumprod_zero",
         "prod_zero", "logsumexp", "norm_dim", "norm_p1_5", "lerp"]


@requires_torch
@pytest.mark.parametrize("name", THIRD)
def test_third_derivatives_equal_pytorchs(name):
    """The backward of a backward run on tensors is itself differentiable."""
    fn, arrays = _case(name)
    for a, b in zip(_third(ournn, fn, arrays), _third(torch, fn, arrays)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_float32_stays_float32_through_second_derivatives():
    for name in ("gelu", "softplus", "prelu", "cumprod_zero", "norm_dim", "logsumexp"):
        fn, arrays = _case(name)
        xs = [ournn.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
        gs = grad(fn(ournn, *xs).sum(), xs, create_graph=True)
        hv = grad(sum((g * g).sum() for g in gs), xs, allow_unused=True)
        assert all(h.dtype == np.float32 for h in hv if h is not None), name


def test_third_derivative_of_sigmoid():
    x = ournn.tensor(0.7, dtype=np.float64, requires_grad=True)
    (g1,) = grad(ournn.nn.functional.sigmoid(x), x, create_graph=True)
    (g2,) = grad(g1, x, create_graph=True)
    (g3,) = grad(g2, x)
    s = 1 / (1 + np.exp(-0.7))
    np.testing.assert_allclose(g1.item(), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(g2.item(), s * (1 - s) * (1 - 2 * s), rtol=1e-12)
    np.testing.assert_allclose(g3.item(), s * (1 - s) * (1 - 6 * s + 6 * s * s), rtol=1e-12)


def test_every_op_of_these_files_declares_double_backward():
    from ournn.autograd.function import Function
    from ournn.ops import activation, math, scan
    for module in (activation, math, scan):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function \
                    and obj.__module__ == module.__name__:
                assert obj.double_backward, f"{module.__name__}.{name}"


def test_fast_path_still_gives_arrays():
    x = ournn.tensor(np.linspace(-2, 2, 7), requires_grad=True)
    (ournn.nn.functional.gelu(x).sum() + x.cumprod(0).sum()).backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None
