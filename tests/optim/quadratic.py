"""The optimizer tests' problem: a noisy quadratic on three parameters, stepped the same way
by ournn and by PyTorch, so that any difference between two optimizers grows over the steps
instead of washing out."""
import numpy as np

from ournn.nn import Parameter
from helpers import torch

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def quadratic_grad(value, noise):
    """The gradient of 0.75 * ||p||^2 plus noise: it depends on the parameter."""
    return 1.5 * value + noise


def make_groups(params, group_options):
    """``params`` as they are, or split into parameter groups with ``group_options``."""
    if group_options is None:
        return params
    return [dict(options, params=[params[i] for i in indices])
            for indices, options in group_options]


def step_ours(params, opt, noises):
    for noise in noises:
        for p, n in zip(params, noise):
            p.grad = quadratic_grad(p.numpy(), n)
        opt.step()


def assert_params_match_torch(ours, theirs, rtol=1e-10, atol=1e-12):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert p.numpy().dtype == np.float64
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i} differs from PyTorch")


class Quadratic:
    """The problem run for ``steps`` steps by default."""

    def __init__(self, steps):
        self.steps = steps

    def initial_arrays(self, seed=0, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(s) for s in shapes]

    def noise_sequence(self, steps=None, seed=1, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        return [[rng.standard_normal(s) for s in shapes] for _ in range(steps or self.steps)]

    def run_ours(self, cls, kwargs, group_options=None, steps=None, arrays=None):
        params = [Parameter(a.copy()) for a in (arrays or self.initial_arrays())]
        opt = cls(make_groups(params, group_options), **kwargs)
        step_ours(params, opt, self.noise_sequence(steps))
        return params, opt

    def run_torch(self, cls, kwargs, group_options=None, steps=None):
        params = [torch.tensor(a.copy(), requires_grad=True) for a in self.initial_arrays()]
        opt = cls(make_groups(params, group_options), **kwargs)
        for noise in self.noise_sequence(steps):
            for p, n in zip(params, noise):
                p.grad = torch.tensor(quadratic_grad(p.detach().numpy(), n))
            opt.step()
        return params
