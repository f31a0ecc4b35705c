"""Adagrad, as ``torch.optim.Adagrad``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_flags, effective_grad


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011): each element's step shrinks with the sum of its past
    squared gradients. PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t = 1, 2, ...``::

        g = grad + weight_decay * p              (g = -grad + ... when maximize)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                            (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-2.
        lr_decay: learning-rate decay per step. Default 0.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        initial_accumulator_value: the starting value of ``s``. Default 0.
        eps: added to the denominator for numerical stability. Default 1e-10.
        maximize: climb the objective instead of descending it. Default False.
        foreach, fused, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``step`` (int) and ``sum`` (s, the parameter's shape).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_flags("Adagrad", foreach, fused, False, differentiable)
        for name, value in (("lr", lr), ("lr_decay", lr_decay),
                            ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value),
                            ("eps", eps)):
            check_arg("Adagrad", name, value, ">= 0", value >= 0)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param._data, group["initial_accumulator_value"])
        state["step"] += 1
        t, s = state["step"], state["sum"]
        g, _ = effective_grad(param, float(group["weight_decay"]), group["maximize"])
        clr = float(group["lr"]) / (1 + (t - 1) * float(group["lr_decay"]))

        scratch = xp.multiply(g, g)              # the one temporary array of this update
        xp.add(s, scratch, out=s)
        std = xp.sqrt(s, out=scratch)
        xp.add(std, float(group["eps"]), out=std)
        update = xp.divide(g, std, out=scratch)
        xp.multiply(update, clr, out=update)
        xp.subtract(param._data, update, out=param._data)
