"""A Hessian-vector product of a network's loss w.r.t. its weights, without the Hessian.

The Hessian H of a loss over n weights has n^2 entries; H v costs two backward passes: the
gradient g(w) with a graph of its own (``create_graph=True``), then the gradient of g . v.
(Pearlmutter's trick, used by Newton-CG, Hessian-free optimisation, sharpness measures and
influence functions.) Checked here against central differences of the gradient,
(g(w + eps v) - g(w - eps v)) / 2 eps, and against ``ournn.autograd.functional.hvp``.

Run: python examples/hessian_vector.py
"""
import numpy as np

import ournn
import ournn.nn as nn
from ournn.autograd import grad
from ournn.autograd.functional import hvp


def make(seed=0, n=20):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    x = ournn.tensor(rng.standard_normal((n, 3)))
    y = ournn.tensor(np.sin(x.numpy().sum(axis=1, keepdims=True)))
    v = [ournn.tensor(rng.standard_normal(tuple(p.shape))) for p in model.parameters()]
    return model, x, y, v


def loss_of(model, x, y):
    return ((model(x) - y) ** 2).mean()


def hessian_vector(model, x, y, v):
    """H v by two backward passes over the model's parameters."""
    params = list(model.parameters())
    g = grad(loss_of(model, x, y), params, create_graph=True)      # g(w), with a graph
    dot = sum((gi * vi).sum() for gi, vi in zip(g, v))              # g . v
    return [h.numpy() for h in grad(dot, params)]                  # d(g . v)/dw = H v


def finite_difference(model, x, y, v, eps=1e-5):
    """(g(w + eps v) - g(w - eps v)) / 2 eps, moving the weights in place."""
    params = list(model.parameters())

    def gradient():
        return [g.numpy() for g in grad(loss_of(model, x, y), params)]

    original = [p.numpy().copy() for p in params]
    for p, w, d in zip(params, original, v):
        p._data = w + eps * d.numpy()
    plus = gradient()
    for p, w, d in zip(params, original, v):
        p._data = w - eps * d.numpy()
    minus = gradient()
    for p, w in zip(params, original):
        p._data = w
    return [(a - b) / (2 * eps) for a, b in zip(plus, minus)]


def functional_hvp(model, x, y, v):
    """The same product from ``autograd.functional.hvp``, the loss written as a function of
    the weights (one flat vector)."""
    params = list(model.parameters())
    shapes = [tuple(p.shape) for p in params]
    sizes = [int(np.prod(s)) for s in shapes]

    def loss_of_weights(w):
        parts, k = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(w[k:k + n].reshape(s))
            k += n
        w1, b1, w2, b2 = parts
        h = (x @ w1.T + b1).tanh()
        return ((h @ w2.T + b2 - y) ** 2).mean()

    flat_w = ournn.tensor(np.concatenate([p.numpy().reshape(-1) for p in params]))
    flat_v = ournn.tensor(np.concatenate([d.numpy().reshape(-1) for d in v]))
    _, hv = hvp(loss_of_weights, flat_w, flat_v)
    return hv.numpy()


def main(verbose=True, seed=0):
    model, x, y, v = make(seed)
    hv = hessian_vector(model, x, y, v)
    fd = finite_difference(model, x, y, v)
    fh = functional_hvp(model, x, y, v)
    flat = np.concatenate([h.reshape(-1) for h in hv])
    fd_flat = np.concatenate([h.reshape(-1) for h in fd])
    result = {
        "fd_rel_error": float(np.abs(flat - fd_flat).max() / np.abs(fd_flat).max()),
        "functional_diff": float(np.abs(flat - fh).max()),
        "n_weights": int(flat.size),
        "hv_norm": float(np.linalg.norm(flat)),
    }
    if verbose:
        print(f"H v over {result['n_weights']} weights, |H v| = {result['hv_norm']:.6f}")
        for name, a, b in zip([n for n, _ in model.named_parameters()], hv, fd):
            print(f"  {name:10s} two backward passes {a.reshape(-1)[:3].round(8)}  "
                  f"finite differences {b.reshape(-1)[:3].round(8)}")
        print(f"largest difference from finite differences (relative): "
              f"{result['fd_rel_error']:.1e}")
        print(f"largest difference from autograd.functional.hvp: "
              f"{result['functional_diff']:.1e}")
    return result


if __name__ == "__main__":
    main()
