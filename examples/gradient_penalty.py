"""A WGAN-GP gradient penalty: a loss that contains the gradient of the network.

A Wasserstein critic D should be 1-Lipschitz: its gradient w.r.t. its input should have norm
1. WGAN-GP (Gulrajani et al., 2017) adds lambda * (||dD/dx(x_hat)|| - 1)^2 at points x_hat
between real and fake samples. Training on it needs the derivative of that gradient w.r.t.
the critic's weights, a gradient of a gradient: ``ournn.autograd.grad(..., create_graph=True)``
gives dD/dx as a tensor with its own graph, and ``loss.backward()`` goes through it.

The same computation runs in PyTorch (when installed) from the same weights and samples: the
penalty, every parameter's gradient and the weights after one optimizer step agree to float64
rounding.

Run: python examples/gradient_penalty.py
"""
import numpy as np

import ournn


def critic(L, weights):
    """Linear(2, 16) - Tanh - Linear(16, 16) - LeakyReLU(0.2) - Linear(16, 1), float64, with
    the given weights, in library ``L`` (ournn or torch)."""
    model = L.nn.Sequential(L.nn.Linear(2, 16), L.nn.Tanh(), L.nn.Linear(16, 16),
                            L.nn.LeakyReLU(0.2), L.nn.Linear(16, 1)).double()
    for p, w in zip(model.parameters(), weights):
        if L is ournn:
            p._data = w.copy()
        else:
            with L.no_grad():
                p.copy_(L.tensor(w))
    return model


def wgan_gp_step(L, weights, real, fake, alpha, lam=10.0, lr=0.05):
    """One critic update on the WGAN-GP loss, in library ``L``. Returns the penalty, the loss,
    the parameter gradients and the parameters after one SGD step (NumPy arrays)."""
    model = critic(L, weights)
    opt = L.optim.SGD(model.parameters(), lr=lr)
    real, fake, alpha = L.tensor(real), L.tensor(fake), L.tensor(alpha)
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    d_hat = model(x_hat)
    (g,) = L.autograd.grad(d_hat.sum(), x_hat, create_graph=True)   # dD/dx, with a graph
    penalty = lam * ((g.pow(2).sum(dim=1) + 1e-12).sqrt() - 1).pow(2).mean()
    loss = model(fake).mean() - model(real).mean() + penalty
    opt.zero_grad()
    loss.backward()                                  # through the gradient g
    grads = [p.grad.detach().numpy().copy() for p in model.parameters()]
    opt.step()
    return {"penalty": float(penalty.item()), "loss": float(loss.item()),
            "input_grad": g.detach().numpy().copy(),
            "grads": grads,
            "params": [p.detach().numpy().copy() for p in model.parameters()]}


def main(verbose=True, seed=0, n=32):
    rng = np.random.default_rng(seed)
    shapes = [(16, 2), (16,), (16, 16), (16,), (1, 16), (1,)]
    weights = [rng.standard_normal(s) * 0.7 for s in shapes]
    real = rng.standard_normal((n, 2)) + np.array([2.0, 0.0])
    fake = rng.standard_normal((n, 2))
    alpha = rng.uniform(size=(n, 1))
    ours = wgan_gp_step(ournn, weights, real, fake, alpha)
    result = {"penalty": ours["penalty"], "loss": ours["loss"]}
    try:
        import torch
    except ImportError:
        torch = None
    if verbose:
        print(f"ournn: penalty {ours['penalty']:.12f}  loss {ours['loss']:.12f}")
    if torch is not None:
        theirs = wgan_gp_step(torch, weights, real, fake, alpha)
        result["penalty_diff"] = abs(ours["penalty"] - theirs["penalty"])
        result["grad_diff"] = max(float(np.abs(a - b).max())
                                  for a, b in zip(ours["grads"], theirs["grads"]))
        result["param_diff"] = max(float(np.abs(a - b).max())
                                   for a, b in zip(ours["params"], theirs["params"]))
        if verbose:
            print(f"torch: penalty {theirs['penalty']:.12f}  loss {theirs['loss']:.12f}")
            print(f"largest difference: penalty {result['penalty_diff']:.1e}, "
                  f"parameter gradients {result['grad_diff']:.1e}, "
                  f"weights after one SGD step {result['param_diff']:.1e}")
    elif verbose:
        print("(PyTorch not installed: no comparison)")
    return result


if __name__ == "__main__":
    main()
