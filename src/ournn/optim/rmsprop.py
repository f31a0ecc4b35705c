"""RMSprop, as ``torch.optim.RMSprop``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_flags, effective_grad


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e): divide each step by a running root mean square of the
    gradients. PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``::

        g = grad + weight_decay * p                  (g = -grad + ... when maximize)
        v = alpha * v + (1 - alpha) * g * g          (v starts at 0)
        if centered:
            a = alpha * a + (1 - alpha) * g          (a starts at 0; as a += (1-alpha)(g-a))
            d = sqrt(v - a * a) + eps
        else:
            d = sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / d                 (b starts at 0)
            p = p - lr * b
        else:
            p = p - lr * g / d

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-2.
        alpha: the smoothing constant of the running averages. Default 0.99.
        eps: added to the denominator for numerical stability. Default 1e-8.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        momentum: momentum factor. Default 0.
        centered: divide by an estimate of the gradient's variance instead of its raw second
            moment. Default False.
        maximize: climb the objective instead of descending it. Default False.
        capturable, foreach, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``square_avg`` (v), ``grad_avg`` (a, when centered),
    ``momentum_buffer`` (b, when momentum > 0).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_flags("RMSprop", foreach, None, capturable, differentiable)
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps),
                            ("weight_decay", weight_decay), ("momentum", momentum)):
            check_arg("RMSprop", name, value, ">= 0", value >= 0)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, alpha, momentum = float(group["lr"]), float(group["alpha"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param._data)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(param._data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = xp.zeros_like(param._data)
        state["step"] += 1
        g, _ = effective_grad(param, float(group["weight_decay"]), group["maximize"])
        v = state["square_avg"]

        scratch = xp.multiply(g, g)              # the one temporary array of this update
        xp.multiply(scratch, 1 - alpha, out=scratch)
        xp.multiply(v, alpha, out=v)
        xp.add(v, scratch, out=v)
        if group["centered"]:
            a = state["grad_avg"]
            xp.subtract(g, a, out=scratch)
            xp.multiply(scratch, 1 - alpha, out=scratch)
            xp.add(a, scratch, out=a)
            xp.multiply(a, a, out=scratch)
            xp.subtract(v, scratch, out=scratch)
            denom = xp.sqrt(scratch, out=scratch)
        else:
            denom = xp.sqrt(v, out=scratch)
        xp.add(denom, float(group["eps"]), out=denom)

        update = xp.divide(g, denom, out=scratch)
        if momentum > 0:
            b = state["momentum_buffer"]
            xp.multiply(b, momentum, out=b)
            xp.add(b, update, out=b)
            update = xp.multiply(b, lr, out=scratch)
        else:
            xp.multiply(update, lr, out=update)
        xp.subtract(param._data, update, out=param._data)
