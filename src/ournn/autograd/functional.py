"""``ournn.autograd.functional``: Jacobians, Hessians and their products for small inputs, as
``torch.autograd.functional``, built on ``autograd.grad`` with ``create_graph=True``."""
import numpy as np

from ..tensor import Tensor
from .grad import grad


def _tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _leaves(inputs):
    return tuple(Tensor(np.array(x._data), requires_grad=True) for x in inputs)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product."""
    single = isinstance(inputs, Tensor)
    xs = _leaves(_tuple(inputs))
    out = func(*xs)
    gs = grad(out, xs, grad_outputs=v, create_graph=create_graph, allow_unused=True,
              materialize_grads=True)
    gs = gs if create_graph else tuple(g.detach() for g in gs)
    return (out if create_graph else out.detach()), (gs[0] if single else gs)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` (a tuple
    over inputs when ``inputs`` is a tuple), one backward per output element."""
    single = isinstance(inputs, Tensor)
    xs = _leaves(_tuple(inputs))
    out = func(*xs)
    flat = out.reshape(-1)
    rows = [[] for _ in xs]
    for k in range(flat.shape[0]):
        gs = grad(flat[k], xs, retain_graph=True, create_graph=create_graph,
                  allow_unused=True, materialize_grads=True)
        for r, g in zip(rows, gs):
            r.append(g if create_graph else g.detach())
    from ..functions import stack
    jac = tuple(stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, xs))
    return jac[0] if single else jac


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Hessian of scalar ``func`` at ``inputs`` (shape ``input.shape * 2``)."""
    single = isinstance(inputs, Tensor)

    def gradient(*xs):
        out = func(*xs)
        gs = grad(out, xs, create_graph=True, allow_unused=True, materialize_grads=True)
        return gs[0] if len(gs) == 1 else gs

    if single:
        return jacobian(gradient, inputs, create_graph=create_graph)
    return jacobian(lambda *xs: _concat_flat(gradient(*xs)), inputs, create_graph=create_graph)


def _concat_flat(gs):
    from ..functions import cat
    return cat([g.reshape(-1) for g in _tuple(gs)])


def hvp(func, inputs, v, create_graph=False, strict=False):
    """``(func(inputs), H v)``: the Hessian-vector product, from two backward passes (the
    Hessian itself is never formed)."""
    single = isinstance(inputs, Tensor)
    xs = _leaves(_tuple(inputs))
    vs = _tuple(v)
    out = func(*xs)
    gs = grad(out, xs, create_graph=True, allow_unused=True, materialize_grads=True)
    dot = None
    for g, vv in zip(gs, vs):
        term = (g * vv).sum()
        dot = term if dot is None else dot + term
    hv = grad(dot, xs, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    hv = hv if create_graph else tuple(h.detach() for h in hv)
    return (out if create_graph else out.detach()), (hv[0] if single else hv)


def vhp(func, inputs, v, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``; equal to ``hvp`` since a Hessian is symmetric."""
    return hvp(func, inputs, v, create_graph, strict)
