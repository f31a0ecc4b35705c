"""Averaged stochastic gradient descent, as ``torch.optim.ASGD``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_flags, effective_grad


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992): SGD with a decaying step size that also keeps
    a running average of the iterates (``state['ax']``). PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...`` (``eta``
    starts at ``lr``, ``mu`` at 1)::

        g = grad + weight_decay * p                  (g = -grad + ... when maximize)
        p = p * (1 - lambd * eta)
        p = p - eta * g
        ax = p                      if mu == 1
        ax = ax + mu * (p - ax)     otherwise
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-2.
        lambd: decay term. Default 1e-4.
        alpha: power of the step-size decay. Default 0.75.
        t0: the step at which averaging starts. Default 1e6.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        maximize: climb the objective instead of descending it. Default False.
        foreach, capturable, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``eta`` and ``mu`` (floats), ``ax`` (the average).
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_flags("ASGD", foreach, None, capturable, differentiable)
        check_arg("ASGD", "lr", lr, ">= 0", lr >= 0)
        check_arg("ASGD", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, lambd = float(group["lr"]), float(group["lambd"])
        if not state:
            state["step"] = 0
            state["eta"] = lr
            state["mu"] = 1.0
            state["ax"] = xp.zeros_like(param._data)
        state["step"] += 1
        t, eta, mu, ax = state["step"], float(state["eta"]), float(state["mu"]), state["ax"]
        g, owned = effective_grad(param, float(group["weight_decay"]), group["maximize"])

        xp.multiply(param._data, 1 - lambd * eta, out=param._data)
        if owned:
            xp.multiply(g, eta, out=g)
            xp.subtract(param._data, g, out=param._data)
        else:
            xp.subtract(param._data, g * eta, out=param._data)
        if mu != 1:
            scratch = xp.subtract(param._data, ax)
            xp.multiply(scratch, mu, out=scratch)
            xp.add(ax, scratch, out=ax)
        else:
            ax[...] = param._data
        state["eta"] = lr / ((1 + lambd * lr * t) ** float(group["alpha"]))
        state["mu"] = 1 / max(1, t - float(group["t0"]))
