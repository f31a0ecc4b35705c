"""Newton's method with gradients of gradients.

Gradient descent moves by a fixed fraction of the slope; Newton's method divides the slope by
the curvature, x <- x - f'(x) / f''(x), and near a minimum converges in a handful of steps.
The second derivative comes from differentiating the first:
``ournn.autograd.grad(y, x, create_graph=True)`` gives f'(x) as a tensor with its own graph,
and differentiating it again gives f''(x). In 2-D, the Hessian (the matrix of second
derivatives) replaces f'', from ``ournn.autograd.functional.hessian``.

Run: python examples/newton.py
"""
import numpy as np

import ournn
from ournn.autograd import grad
from ournn.autograd.functional import hessian


def f(x):
    """x^4 - 2 x^2: two minima, at x = -1 and x = 1."""
    return x ** 4 - 2 * x ** 2


def newton_1d(x0=2.0, steps=10, tol=1e-10):
    """Newton's method on ``f`` from ``x0``; the iterates (one per step, the start first)."""
    x = ournn.tensor(x0, dtype=ournn.float64, requires_grad=True)
    iterates = [x.item()]
    for _ in range(steps):
        y = f(x)
        (gx,) = grad(y, x, create_graph=True)      # f'(x), with a graph
        (gx2,) = grad(gx, x)                        # f''(x): the derivative of f'
        step = gx.item() / gx2.item()
        x = ournn.tensor(x.item() - step, dtype=ournn.float64, requires_grad=True)
        iterates.append(x.item())
        if abs(step) < tol:
            break
    return iterates


def rosenbrock(p):
    """(1 - x)^2 + 100 (y - x^2)^2: a narrow curved valley, the minimum at (1, 1)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def newton_rosenbrock(start=(-1.2, 1.0), steps=20, tol=1e-10):
    """Newton's method on Rosenbrock: p <- p - H^-1 g. The iterates (start first)."""
    p = np.array(start, dtype=np.float64)
    iterates = [p.copy()]
    for _ in range(steps):
        x = ournn.tensor(p, requires_grad=True)
        (g,) = grad(rosenbrock(x), x)                            # the gradient
        h = hessian(rosenbrock, ournn.tensor(p)).numpy()        # the 2 x 2 Hessian
        step = np.linalg.solve(h, g.numpy())
        p = p - step
        iterates.append(p.copy())
        if np.abs(step).max() < tol:
            break
    return iterates


def gradient_descent_rosenbrock(start=(-1.2, 1.0), lr=1e-3, steps=1000):
    """For contrast: plain gradient descent, the same start, ``steps`` steps."""
    p = ournn.tensor(np.array(start, dtype=np.float64), requires_grad=True)
    for _ in range(steps):
        (g,) = grad(rosenbrock(p), p)
        p = ournn.tensor(p.numpy() - lr * g.numpy(), requires_grad=True)
    return p.numpy()


def main(verbose=True):
    one_d = newton_1d()
    two_d = newton_rosenbrock()
    gd = gradient_descent_rosenbrock()
    if verbose:
        print("Newton on f(x) = x^4 - 2x^2 from x = 2:")
        for k, x in enumerate(one_d):
            print(f"  step {k}: x = {x:.12f}")
        print("Newton on Rosenbrock from (-1.2, 1):")
        for k, p in enumerate(two_d):
            print(f"  step {k}: (x, y) = ({p[0]:.10f}, {p[1]:.10f})  "
                  f"f = {rosenbrock(p):.3e}")
        print(f"Gradient descent, 1000 steps of lr 1e-3: ({gd[0]:.4f}, {gd[1]:.4f})  "
              f"f = {rosenbrock(gd):.3e}")
    return {"1d": one_d, "rosenbrock": two_d, "gradient_descent": gd}


if __name__ == "__main__":
    main()
