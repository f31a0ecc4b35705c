"""Shared test helpers: ``check_op`` verifies an op two ways.

1. ``ournn.gradcheck`` (central differences in float64) always;
2. PyTorch's forward and backward (float64, tight tolerance) when torch is installed.
"""
import numpy as np
import pytest

import ournn

try:
    import torch
except ImportError:  # the oracle is optional
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed (oracle tests)")


def random_inputs(shapes, seed=0, positive=False, low=None, high=None):
    rng = np.random.default_rng(seed)
    arrays = []
    for s in shapes:
        if low is not None:
            a = rng.uniform(low, high, s)
        else:
            a = rng.standard_normal(s)
            if positive:
                a = np.abs(a) + 0.5
        arrays.append(a.astype(np.float64))
    return arrays


def check_op(shapes, ournn_fn, torch_fn=None, *, arrays=None, seed=0, positive=False,
             low=None, high=None, atol=1e-6, rtol=1e-5, grad_atol=1e-5, grad_rtol=1e-3,
             gradcheck=True, eps=1e-6):
    """Check ``ournn_fn`` on random float64 inputs of ``shapes`` against gradcheck and,
    when given and installed, ``torch_fn`` (forward values and input gradients)."""
    if arrays is None:
        arrays = random_inputs(shapes, seed, positive, low, high)
    if gradcheck:
        inputs = [ournn.tensor(a.copy(), requires_grad=True) for a in arrays]
        ournn.gradcheck(ournn_fn, inputs, eps=eps, atol=grad_atol, rtol=grad_rtol)
    if torch_fn is None or torch is None:
        return
    ours = [ournn.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out_o = ournn_fn(*ours)
    out_t = torch_fn(*theirs)
    outs_o = out_o if isinstance(out_o, (tuple, list)) else (out_o,)
    outs_t = out_t if isinstance(out_t, (tuple, list)) else (out_t,)
    rng = np.random.default_rng(seed + 1)
    total_o = total_t = 0
    for o, t in zip(outs_o, outs_t):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=atol, rtol=rtol,
                                   err_msg="forward differs from PyTorch")
        w = rng.standard_normal(o.shape)
        total_o = total_o + (o * ournn.tensor(w)).sum()
        total_t = total_t + (t * torch.tensor(w)).sum()
    total_o.backward()
    total_t.backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ga = a.grad if a.grad is not None else np.zeros(a.shape)
        gb = b.grad.numpy() if b.grad is not None else np.zeros(a.shape)
        np.testing.assert_allclose(ga, gb, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i} differs from PyTorch")


def assert_png(path, size=None, min_size=(100, 100)):
    """``path`` is a PNG with something drawn on it: of ``size`` (width, height) pixels when
    given (else at least ``min_size``), not one flat colour (dark ink on a light page), and
    ink (non-white pixels) on at least 2% of it. An existing file alone says nothing."""
    from PIL import Image
    with Image.open(path) as im:
        assert im.format == "PNG", (path, im.format)
        if size is not None:
            assert im.size == tuple(size), (path, im.size, size)
        else:
            assert im.size[0] >= min_size[0] and im.size[1] >= min_size[1], (path, im.size)
        gray = np.asarray(im.convert("L"))
    assert gray.min() < 128 < gray.max(), path
    assert (gray < 250).mean() > 0.02, path


def assert_hvp_equals_torch(fn, arrays, rtol=1e-9, atol=1e-10, seed=1):
    """Second derivatives of ``sum(fn(L, *xs) * w)`` along random directions (Hessian-vector
    products, one per input) equal PyTorch's. ``fn`` is written once for either library ``L``
    (``ournn`` or ``torch``); ``arrays`` are the float64 inputs."""
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    results = []
    for lib in (ournn, torch):
        grad = ournn.autograd.grad if lib is ournn else torch.autograd.grad
        xs = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        w = lib.tensor(np.random.default_rng(seed + 1).standard_normal(tuple(out.shape)))
        gs = grad((out * w).sum(), xs, create_graph=True)
        dot = sum((g * lib.tensor(d)).sum() for g, d in zip(gs, directions))
        hv = grad(dot, xs, allow_unused=True)
        results.append([np.zeros(a.shape) if h is None else h.detach().numpy()
                        for h, a in zip(hv, arrays)])
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                   err_msg=f"second derivatives of input {i} differ from PyTorch's")


# ---------------------------------------------------------------- schedulers against PyTorch
def scheduler_optimizer(lib, kind="SGD"):
    """Two parameter groups (lr 0.1 and 0.05) under SGD with momentum 0.9 or Adam, in
    ``lib`` (ournn or torch): what the scheduler tests step."""
    if lib is ournn:
        from ournn.nn import Parameter
        params = [Parameter(np.zeros(2)), Parameter(np.zeros(3))]
    else:
        params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
    groups = [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.05}]
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1)
    return lib.optim.SGD(groups, lr=0.1, momentum=0.9)


def momenta(opt):
    """Each group's momentum (Adam's beta1)."""
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]
