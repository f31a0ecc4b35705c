"""Gradient checking by central differences, in float64.

``gradcheck(fn, inputs)`` compares the gradients backward() computes with
``(f(x + eps) - f(x - eps)) / (2 eps)`` for every element of every input that requires grad.
The output is reduced with fixed random weights, so one backward checks the whole
vector-Jacobian product. For big inputs, ``mode="direction"`` checks the derivative along a few
random directions instead of element by element (Chainer's ``check_backward``).
"""
import warnings

import numpy as np

from ..errors import GradcheckError
from ..tensor import Tensor


def _as_float64_inputs(inputs):
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.dtype.kind == "f" and x.dtype != np.float64:
                warnings.warn(f"gradcheck: input of dtype {x.dtype} upcast to float64 "
                              "(finite differences need double precision)", stacklevel=3)
            data = x._data.astype(np.float64) if x.dtype.kind == "f" else x._data
            out.append(Tensor(data, requires_grad=x.requires_grad))
        else:
            out.append(x)
    return out


def _weighted_sum(fn, inputs, weights):
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    return sum(float(np.sum(o._data * w)) for o, w in zip(outs, weights)), outs


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="element", n_directions=4,
              seed=0):
    """Check ``fn``'s analytical gradients against central differences.

    Args:
        fn: callable taking the Tensors in ``inputs`` and returning a Tensor (or a tuple).
        inputs: Tensors (those with ``requires_grad=True`` are checked) and other arguments.
        eps: finite-difference step. atol, rtol: tolerance, as in ``numpy.allclose``.
        mode: ``"element"`` perturbs each element; ``"direction"`` checks random directions.

    Returns True; raises ``GradcheckError`` naming the input, the element index and the
    analytical and numerical values at the first mismatch.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = _as_float64_inputs(inputs)
    rng = np.random.default_rng(seed)
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    weights = [rng.standard_normal(o.shape) for o in outs]
    total = None
    for o, w in zip(outs, weights):
        if o.requires_grad:
            term = (o * Tensor(w)).sum()
            total = term if total is None else total + term
    if total is None:
        raise GradcheckError("gradcheck: no output of fn requires grad")
    total.backward()

    for position, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        analytic = x._grad._data if x._grad is not None else np.zeros_like(x._data)
        if mode == "direction":
            _check_directions(fn, inputs, weights, x, position, analytic, eps, atol, rtol,
                              n_directions, rng)
            continue
        flat = x._data.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus, _ = _weighted_sum(fn, inputs, weights)
            flat[i] = orig - eps
            minus, _ = _weighted_sum(fn, inputs, weights)
            flat[i] = orig
            numeric = (plus - minus) / (2 * eps)
            a = analytic.reshape(-1)[i]
            if not abs(a - numeric) <= atol + rtol * abs(numeric):
                index = np.unravel_index(i, x.shape) if x.shape else ()
                raise GradcheckError(
                    f"gradcheck failed for input {position} (shape {x.shape}) at index "
                    f"{tuple(int(j) for j in index)}: analytical {a:.8g} vs numerical "
                    f"{numeric:.8g}")
    return True


def _check_directions(fn, inputs, weights, x, position, analytic, eps, atol, rtol, n, rng):
    base = x._data.copy()
    for k in range(n):
        v = rng.standard_normal(x.shape)
        x._data[...] = base + eps * v
        plus, _ = _weighted_sum(fn, inputs, weights)
        x._data[...] = base - eps * v
        minus, _ = _weighted_sum(fn, inputs, weights)
        x._data[...] = base
        numeric = (plus - minus) / (2 * eps)
        a = float(np.sum(analytic * v))
        if not abs(a - numeric) <= atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck failed for input {position} (shape {x.shape}) along random "
                f"direction {k}: analytical {a:.8g} vs numerical {numeric:.8g}")


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  mode="element", n_directions=4, seed=0):
    """Check ``fn``'s second derivatives against central differences of its first ones, as
    ``torch.autograd.gradgradcheck``.

    The first derivatives ``g = d(sum(fn(x) * w))/dx`` (``w``: ``grad_outputs``, or fixed
    random weights) are computed with ``create_graph=True``, and ``gradcheck`` then checks the
    gradients of ``g`` (itself weighted at random) against finite differences of ``g``. Returns
    True; raises ``GradcheckError`` at the first mismatch, or ``GraphError`` naming an op that
    has no double backward."""
    from .grad import grad
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = _as_float64_inputs(inputs)
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not positions:
        raise GradcheckError("gradgradcheck: no input requires grad")
    rng = np.random.default_rng(seed + 7)
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    if grad_outputs is None:
        weights = [rng.standard_normal(o.shape) for o in outs]
    else:
        grad_outputs = grad_outputs if isinstance(grad_outputs, (tuple, list)) \
            else (grad_outputs,)
        weights = [np.asarray(getattr(w, "_data", w), dtype=np.float64) for w in grad_outputs]

    def first_derivatives(*xs):
        args = list(inputs)
        for p, x in zip(positions, xs):
            args[p] = x
        outs = fn(*args)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        total = None
        for o, w in zip(outs, weights):
            if o.requires_grad:
                term = (o * Tensor(w)).sum()
                total = term if total is None else total + term
        gs = grad(total, list(xs), create_graph=True, allow_unused=True)
        # a gradient with no graph (fn linear in x) still gets checked: its derivative is 0
        return tuple((g if g is not None else x * 0) + x * 0 for g, x in zip(gs, xs))

    return gradcheck(first_derivatives, [inputs[p] for p in positions], eps=eps, atol=atol,
                     rtol=rtol, mode=mode, n_directions=n_directions, seed=seed)
