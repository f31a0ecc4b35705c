"""RAdam, as ``torch.optim.RAdam``."""
import math

from ..backend import get_array_module
from .adam import decay_and_moments
from .optimizer import Optimizer, check_arg, check_betas, check_flags


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2020): Adam whose adaptive step is switched on only once the
    variance of its estimate is tractable, and rectified. PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...``::

        g = grad + weight_decay * p         (L2 penalty; g = -grad + ... when maximize)
        m = beta1 * m + (1 - beta1) * g                      (computed as m += (1-beta1)(g-m))
        v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
            p = p - lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            p = p - lr * m / (1 - beta1**t)

    With ``decoupled_weight_decay=True`` the weight decay is not added to the gradient;
    instead, first, ``p = p * (1 - lr * weight_decay)``.

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-3.
        betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
        eps: added to the denominator. Default 1e-8.
        weight_decay: L2 penalty (decoupled with ``decoupled_weight_decay``). Default 0.
        decoupled_weight_decay: decay the weights directly, as AdamW. Default False.
        maximize: climb the objective instead of descending it. Default False.
        foreach, capturable, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``exp_avg`` (m) and ``exp_avg_sq`` (v).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_flags("RAdam", foreach, None, capturable, differentiable)
        check_arg("RAdam", "lr", lr, ">= 0", lr >= 0)
        check_arg("RAdam", "eps", eps, ">= 0", eps >= 0)
        check_betas("RAdam", betas)
        check_arg("RAdam", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        _, t, m, v, scratch = decay_and_moments(param, state, group)

        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            xp.sqrt(v, out=scratch)
            xp.add(scratch, eps, out=scratch)
            xp.divide(m, scratch, out=scratch)
            xp.multiply(scratch, lr * rect * math.sqrt(bias_correction2) / bias_correction1,
                        out=scratch)
        else:
            xp.multiply(m, lr / bias_correction1, out=scratch)
        xp.subtract(param._data, scratch, out=param._data)
