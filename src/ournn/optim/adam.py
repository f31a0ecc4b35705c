"""Adam and AdamW, as ``torch.optim.Adam`` and ``torch.optim.AdamW``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_betas, check_flags, effective_grad


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with PyTorch's formulas exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...``::

        g = grad + weight_decay * p              (L2 penalty; g = -grad + ... when maximize)
        m = beta1 * m + (1 - beta1) * g          (first moment; computed as m += (1-beta1)(g-m))
        v = beta2 * v + (1 - beta2) * g * g      (second moment)
        v_max = max(v_max, v)                    (amsgrad only; then v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    With ``decoupled_weight_decay=True`` (that is AdamW) the weight decay is not added to
    the gradient; instead, first, ``p = p * (1 - lr * weight_decay)``.

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-3.
        betas: ``(beta1, beta2)``, the decay rates of the two moments. Default (0.9, 0.999).
        eps: added to the denominator for numerical stability. Default 1e-8.
        weight_decay: L2 penalty (decoupled with ``decoupled_weight_decay``). Default 0.
        amsgrad: use the running maximum of ``v`` (Reddi et al., 2018). Default False.
        maximize: climb the objective instead of descending it. Default False.
        decoupled_weight_decay: decay the weights directly, as AdamW. Default False.
        foreach, capturable, fused, differentiable: PyTorch's implementation choices,
            accepted and ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    amsgrad, ``max_exp_avg_sq`` (v_max), each of the parameter's shape.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        name = type(self).__name__
        check_flags(name, foreach, fused, capturable, differentiable)
        check_arg(name, "lr", lr, ">= 0", lr >= 0)
        check_arg(name, "eps", eps, ">= 0", eps >= 0)
        check_betas(name, betas)
        check_arg(name, "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(param._data)
        g, t, m, v, scratch = decay_and_moments(param, state, group)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            xp.maximum(v_max, v, out=v_max)
            v = v_max

        step_size = lr / (1 - beta1 ** t)
        bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
        denom = xp.sqrt(v, out=scratch)
        xp.divide(denom, bias_correction2_sqrt, out=denom)
        xp.add(denom, eps, out=denom)
        update = xp.divide(m, denom, out=scratch)
        xp.multiply(update, step_size, out=update)
        xp.subtract(param._data, update, out=param._data)


def decay_and_moments(param, state, group):
    """What Adam, NAdam and RAdam do first, in place: make the moments on the first step,
    count the step, apply the weight decay (decoupled, as AdamW: ``p *= 1 - lr * wd``; or
    added to the gradient), then ``m += (1 - beta1) (g - m)`` and
    ``v = beta2 v + (1 - beta2) g^2``.

    Returns ``(g, t, m, v, scratch)``: the gradient used, the step number, the two moments and
    a free array of the parameter's shape (the one temporary of the update)."""
    xp = get_array_module(param._data)
    lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
    beta1, beta2 = (float(b) for b in group["betas"])
    if "exp_avg" not in state:
        state["step"] = state.get("step", 0)
        state["exp_avg"] = xp.zeros_like(param._data)
        state["exp_avg_sq"] = xp.zeros_like(param._data)
    state["step"] += 1
    m, v = state["exp_avg"], state["exp_avg_sq"]
    if group["decoupled_weight_decay"]:
        if weight_decay != 0:
            xp.multiply(param._data, 1 - lr * weight_decay, out=param._data)
        g, _ = effective_grad(param, 0.0, group["maximize"])
    else:
        g, _ = effective_grad(param, weight_decay, group["maximize"])
    scratch = xp.subtract(g, m)
    xp.multiply(scratch, 1 - beta1, out=scratch)
    xp.add(m, scratch, out=m)
    xp.multiply(g, g, out=scratch)
    xp.multiply(scratch, 1 - beta2, out=scratch)
    xp.multiply(v, beta2, out=v)
    xp.add(v, scratch, out=v)
    return g, state["step"], m, v, scratch


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    At each step, first ``p = p * (1 - lr * weight_decay)``, then Adam's update (see
    ``Adam``) from the gradient alone. Same arguments as ``Adam``, but ``weight_decay``
    defaults to 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
