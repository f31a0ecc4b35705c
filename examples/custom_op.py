"""Write your own differentiable op: a Function with forward and backward side by side.

Run: python examples/custom_op.py
"""
import numpy as np

import ournn
from ournn import Function


class Swish(Function):
    """swish(x) = x * sigmoid(beta * x), with its derivative written by hand."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        # x is a tensor (outside the graph); NumPy functions work on it. Save what backward needs.
        s = 1 / (1 + np.exp(-beta * x))
        ctx.save_for_backward(x, s)
        ctx.beta = beta
        return x * s

    @staticmethod
    def backward(ctx, grad):
        # grad = dLoss/dOutput; return dLoss/dInput (one gradient per positional input).
        x, s = ctx.saved_tensors
        return grad * (s + ctx.beta * x * s * (1 - s))


def swish(x, beta=1.0):
    return Swish.apply(x, beta=beta)


if __name__ == "__main__":
    x = ournn.tensor(np.linspace(-3, 3, 7), requires_grad=True)   # float64 for gradcheck
    y = swish(x, beta=1.5)
    y.sum().backward()
    print("swish(x)      :", np.round(y.numpy(), 4))
    print("d swish / d x :", np.round(x.grad, 4))
    # Check the hand-written backward against central differences:
    ournn.gradcheck(lambda t: swish(t, beta=1.5), [ournn.tensor(x.numpy(), requires_grad=True)])
    print("gradcheck passed: the backward agrees with numerical differentiation")
    # A custom op mixes freely with built-in ones and layers:
    layer = ournn.nn.Linear(7, 2)
    out = layer(swish(ournn.tensor(np.ones((4, 7), dtype=np.float32)))).sum()
    out.backward()
    print("gradient reaches the layer:", layer.weight.grad.shape)
