"""Masks, conditions and scatters on the stand-in device, against the CPU: a boolean mask or
condition made on the device or given from the host (moved once, as PyTorch accepts a CPU
mask for a GPU tensor), where/masked_fill/masked_select, scatter with a number, median,
diagonal and triangle gradients (of gradients too). The replayed CPU tests of these make
their masks with ``.numpy()``, which a device tensor refuses."""
import numpy as np
import pytest

pytest.importorskip("array_api_strict")

import ournn  # noqa: E402
from ournn.autograd.grad import grad as autograd_grad  # noqa: E402

A = np.array([[-1.0, 0.3, 2.0, -0.4], [0.7, -0.2, 1.4, 0.0], [0.1, 0.9, -3.0, 0.5]])
B = np.arange(12.0).reshape(3, 4) / 7 - 0.5
MASK = A > 0

CASES = {
    "device mask": lambda a, b: a[a > 0],
    "host mask": lambda a, b: a[MASK],
    "where device": lambda a, b: ournn.where(a > 0, a, b),
    "where host": lambda a, b: ournn.where(MASK, a, b),
    "method where host": lambda a, b: a.where(MASK, b),
    "method where device": lambda a, b: a.where(a > 0, b),
    "masked_fill host": lambda a, b: a.masked_fill(MASK, -2.0) * b,
    "masked_fill device": lambda a, b: a.masked_fill(b > 0, -2.0),
    "masked_select host": lambda a, b: a.masked_select(MASK) * 3,
    "clip and extrema": lambda a, b: a.clip(-0.5, 1.0) + ournn.maximum(a, b)
    - ournn.minimum(a, b),
    "scatter a number": lambda a, b: a.scatter(1, ournn.tensor([[0], [2], [1]]).to(a.device),
                                               7.5) * b,
    "scatter_add": lambda a, b: a.scatter_add(0, ournn.tensor([[0, 1, 2, 0]]).to(a.device),
                                              b[:1]),
    "median": lambda a, b: a.median() + a.median(1).values.sum() + a.kthvalue(2, 0).values.sum(),
    "diagonal": lambda a, b: a.diagonal(1) * 2,
    "diag": lambda a, b: a.diag(-1).sum() + a[0].diag(1),
    "trace": lambda a, b: ournn.trace(a[:, :3]),
    "tril": lambda a, b: a.tril(-1) * b + a.triu(1),
    "div": lambda a, b: a.div(b.exp()).pow(2),
}


def _run(fn, dev, create_graph):
    a = ournn.tensor(A, requires_grad=True).to(dev)
    b = ournn.tensor(B, requires_grad=True).to(dev)
    a.retain_grad()
    b.retain_grad()
    out = fn(a, b)
    assert out.device == dev
    w = ournn.tensor(np.random.default_rng(1).standard_normal(out.shape)).to(dev)
    loss = (out * w).sum()
    if not create_graph:
        loss.backward()
        return [out.detach().cpu().numpy()] + [None if t.grad is None else t.grad.cpu().numpy()
                                               for t in (a, b)]
    ga, gb = autograd_grad([loss], [a, b], create_graph=True, allow_unused=True)
    second = sum((g * g).sum() for g in (ga, gb) if g is not None and g.requires_grad)
    results = [g.detach().cpu().numpy() for g in (ga, gb) if g is not None]
    if isinstance(second, ournn.Tensor):
        results += [None if g is None else g.cpu().numpy() for g in
                    autograd_grad([second], [a, b], allow_unused=True)]
    return results


@pytest.mark.parametrize("create_graph", [False, True], ids=["grad", "gradgrad"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_on_the_device_equals_the_cpu(name, create_graph):
    cpu = _run(CASES[name], "cpu", create_graph)
    dev = _run(CASES[name], "cuda", create_graph)
    assert len(cpu) == len(dev)
    for k, (c, d) in enumerate(zip(cpu, dev)):
        assert (c is None) == (d is None), k
        if c is not None:
            np.testing.assert_allclose(d, c, rtol=1e-12, atol=1e-12, err_msg=str(k))
