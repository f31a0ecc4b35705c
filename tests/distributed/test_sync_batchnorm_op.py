"""The op under SyncBatchNorm on one process (no communicator): with the batch's own
statistics it is batch norm, so its backward passes gradcheck and equals PyTorch's
(float64). The two-process checks are in mpi_checks.py."""
import numpy as np
import pytest

import ournn
from helpers import requires_torch, torch
from ournn.nn.modules.batchnorm import SyncBatchNormOp


def sync_bn(x, weight, bias, eps=1e-5):
    """The op with statistics of ``x`` itself (recomputed at each call, as gradcheck's
    perturbations need)."""
    a = x.numpy()
    axes = (0,) + tuple(range(2, a.ndim))
    mean, var = a.mean(axis=axes), a.var(axis=axes)
    count = a.size // a.shape[1]
    return SyncBatchNormOp.apply(x, weight, bias, mean=mean, invstd=1 / np.sqrt(var + eps),
                                 count=count, comm=None)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3), (3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(shape, affine):
    rng = np.random.default_rng(0)
    x = ournn.tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)
    c = shape[1]
    w = ournn.tensor(rng.standard_normal(c), requires_grad=True) if affine else None
    b = ournn.tensor(rng.standard_normal(c), requires_grad=True) if affine else None
    assert ournn.gradcheck(lambda x, w, b: sync_bn(x, w, b), (x, w, b))


@requires_torch
def test_forward_and_backward_equal_pytorchs_batch_norm():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4, 4)) * 3 + 2
    w, b, g = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(x.shape)
    ours = [ournn.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = sync_bn(*ours)
    (out * ournn.tensor(g)).sum().backward()
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = torch.nn.functional.batch_norm(theirs[0], None, None, theirs[1], theirs[2],
                                              training=True, eps=1e-5)
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11)
