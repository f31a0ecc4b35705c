"""Numerical differentiation against backpropagation: the same gradient, very different cost.

Numerical differentiation nudges every parameter up and down and re-runs the forward pass
(two passes per parameter); backprop gets all gradients from one forward and one backward
pass. Run: python examples/numerical_vs_backprop.py
"""
import time

import numpy as np

import ournn
import ournn.nn as nn
import ournn.nn.functional as F


def numerical_gradients(model, loss_fn, eps=1e-4):
    """Central differences (f(w + eps) - f(w - eps)) / 2 eps for every parameter element."""
    grads = {}
    with ournn.no_grad():
        for name, p in model.named_parameters():
            g = np.zeros_like(p.numpy())
            flat, gflat = p.numpy().reshape(-1), g.reshape(-1)
            for i in range(flat.size):
                original = flat[i]
                flat[i] = original + eps
                plus = loss_fn().item()
                flat[i] = original - eps
                minus = loss_fn().item()
                flat[i] = original
                gflat[i] = (plus - minus) / (2 * eps)
            grads[name] = g
    return grads


def main(hidden=16, n=64, seed=0):
    ournn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20))                    # float64 for precise differences
    y = rng.integers(0, 3, n)
    model = nn.Sequential(nn.Linear(20, hidden, dtype=np.float64), nn.Tanh(),
                          nn.Linear(hidden, 3, dtype=np.float64))

    def loss_fn():
        return F.cross_entropy(model(x), y)

    count = sum(p.numel() for p in model.parameters())
    start = time.perf_counter()
    numeric = numerical_gradients(model, loss_fn)
    t_numeric = time.perf_counter() - start

    start = time.perf_counter()
    model.zero_grad()
    loss_fn().backward()
    t_backprop = time.perf_counter() - start

    worst = max(np.abs(numeric[name] - p.grad).max() for name, p in model.named_parameters())
    print(f"{count} parameters")
    print(f"numerical differentiation: {t_numeric * 1e3:9.1f} ms  ({2 * count} forward passes)")
    print(f"backpropagation          : {t_backprop * 1e3:9.1f} ms  (1 forward + 1 backward)")
    print(f"speed-up {t_numeric / t_backprop:,.0f}x; largest difference between the two "
          f"gradients: {worst:.2e}")
    return {"max_difference": worst, "numeric_seconds": t_numeric,
            "backprop_seconds": t_backprop}


if __name__ == "__main__":
    main()
