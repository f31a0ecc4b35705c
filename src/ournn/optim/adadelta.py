"""Adadelta, as ``torch.optim.Adadelta``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_flags, effective_grad


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012): steps scaled by the ratio of two running root mean squares,
    of past updates and of past gradients. PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``::

        g = grad + weight_decay * p                      (g = -grad + ... when maximize)
        v = rho * v + (1 - rho) * g * g                  (v starts at 0)
        delta = sqrt(u + eps) / sqrt(v + eps) * g        (u starts at 0)
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: scales ``delta`` before it is applied. Default 1.0.
        rho: the decay rate of the running averages, in [0, 1]. Default 0.9.
        eps: added inside both square roots. Default 1e-6.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        maximize: climb the objective instead of descending it. Default False.
        foreach, capturable, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_flags("Adadelta", foreach, None, capturable, differentiable)
        check_arg("Adadelta", "lr", lr, ">= 0", lr >= 0)
        check_arg("Adadelta", "rho", rho, "in [0, 1]", 0 <= rho <= 1)
        check_arg("Adadelta", "eps", eps, ">= 0", eps >= 0)
        check_arg("Adadelta", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param._data)
            state["acc_delta"] = xp.zeros_like(param._data)
        state["step"] += 1
        v, u = state["square_avg"], state["acc_delta"]
        g, _ = effective_grad(param, float(group["weight_decay"]), group["maximize"])

        scratch = xp.multiply(g, g)                      # the two temporaries of this update
        xp.multiply(scratch, 1 - rho, out=scratch)
        xp.multiply(v, rho, out=v)
        xp.add(v, scratch, out=v)
        std = xp.add(v, eps, out=scratch)
        xp.sqrt(std, out=std)
        delta = xp.add(u, eps)
        xp.sqrt(delta, out=delta)
        xp.divide(delta, std, out=delta)
        xp.multiply(delta, g, out=delta)
        xp.multiply(delta, delta, out=scratch)
        xp.multiply(scratch, 1 - rho, out=scratch)
        xp.multiply(u, rho, out=u)
        xp.add(u, scratch, out=u)
        xp.multiply(delta, lr, out=delta)
        xp.subtract(param._data, delta, out=param._data)
