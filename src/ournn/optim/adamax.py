"""Adamax, as ``torch.optim.Adamax``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_betas, check_flags, effective_grad


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm in place of the
    second moment. PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...``::

        g = grad + weight_decay * p                  (g = -grad + ... when maximize)
        m = beta1 * m + (1 - beta1) * g              (computed as m += (1-beta1)(g-m))
        u = max(beta2 * u, |g| + eps)                (u starts at 0)
        p = p - lr / (1 - beta1**t) * m / u

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 2e-3.
        betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
        eps: added to ``|g|``. Default 1e-8.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        maximize: climb the objective instead of descending it. Default False.
        foreach, capturable, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``exp_avg`` (m) and ``exp_inf`` (u).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_flags("Adamax", foreach, None, capturable, differentiable)
        check_arg("Adamax", "lr", lr, ">= 0", lr >= 0)
        check_arg("Adamax", "eps", eps, ">= 0", eps >= 0)
        check_betas("Adamax", betas)
        check_arg("Adamax", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param._data)
            state["exp_inf"] = xp.zeros_like(param._data)
        state["step"] += 1
        m, u = state["exp_avg"], state["exp_inf"]
        g, _ = effective_grad(param, float(group["weight_decay"]), group["maximize"])

        scratch = xp.subtract(g, m)                  # the one temporary array of this update
        xp.multiply(scratch, 1 - beta1, out=scratch)
        xp.add(m, scratch, out=m)
        xp.abs(g, out=scratch)
        xp.add(scratch, float(group["eps"]), out=scratch)
        xp.multiply(u, beta2, out=u)
        xp.maximum(u, scratch, out=u)
        clr = float(group["lr"]) / (1 - beta1 ** state["step"])
        xp.divide(m, u, out=scratch)
        xp.multiply(scratch, clr, out=scratch)
        xp.subtract(param._data, scratch, out=param._data)
