"""NAdam, as ``torch.optim.NAdam``."""
from ..backend import get_array_module
from .adam import decay_and_moments
from .optimizer import Optimizer, check_arg, check_betas, check_flags


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule. PyTorch's
    update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...``::

        g = grad + weight_decay * p         (L2 penalty; g = -grad + ... when maximize)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_{t+1} = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        P_t = mu_1 * mu_2 * ... * mu_t                       (mu_product)
        m = beta1 * m + (1 - beta1) * g                      (computed as m += (1-beta1)(g-m))
        v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / d
        p = p - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    With ``decoupled_weight_decay=True`` (NAdamW) the weight decay is not added to the
    gradient; instead, first, ``p = p * (1 - lr * weight_decay)``.

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 2e-3.
        betas: ``(beta1, beta2)``, each in [0, 1). Default (0.9, 0.999).
        eps: added to the denominator. Default 1e-8.
        weight_decay: L2 penalty (decoupled with ``decoupled_weight_decay``). Default 0.
        momentum_decay: how fast ``mu_t`` rises to ``beta1``. Default 4e-3.
        decoupled_weight_decay: decay the weights directly, as AdamW. Default False.
        maximize: climb the objective instead of descending it. Default False.
        foreach, capturable, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``mu_product`` (float), ``exp_avg`` (m) and
    ``exp_avg_sq`` (v).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_flags("NAdam", foreach, None, capturable, differentiable)
        check_arg("NAdam", "lr", lr, ">= 0", lr >= 0)
        check_arg("NAdam", "eps", eps, ">= 0", eps >= 0)
        check_betas("NAdam", betas)
        check_arg("NAdam", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        check_arg("NAdam", "momentum_decay", momentum_decay, ">= 0", momentum_decay >= 0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        momentum_decay = float(group["momentum_decay"])
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
        g, t, m, v, scratch = decay_and_moments(param, state, group)   # two temporaries here

        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = state["mu_product"] = float(state["mu_product"]) * mu
        denom = xp.divide(v, 1 - beta2 ** t, out=scratch)
        xp.sqrt(denom, out=denom)
        xp.add(denom, eps, out=denom)

        update = xp.divide(g, denom)
        xp.multiply(update, lr * (1.0 - mu) / (1.0 - mu_product), out=update)
        xp.subtract(param._data, update, out=param._data)
        xp.divide(m, denom, out=update)
        xp.multiply(update, lr * mu_next / (1.0 - mu_product * mu_next), out=update)
        xp.subtract(param._data, update, out=param._data)
