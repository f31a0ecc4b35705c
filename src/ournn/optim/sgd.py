"""Stochastic gradient descent, with momentum and Nesterov momentum, as ``torch.optim.SGD``."""
from ..backend import get_array_module
from .optimizer import Optimizer, check_arg, check_flags, effective_grad


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's update exactly.

    For each parameter ``p`` with gradient ``grad``, at step ``t``::

        g = grad + weight_decay * p                 (g = -grad + ... when maximize)
        if momentum != 0:
            b = g                                   at the first step
            b = momentum * b + (1 - dampening) * g  after it
            g = g + momentum * b   if nesterov   else   g = b
        p = p - lr * g

    Args:
        params: the parameters, or a list of parameter-group dicts (see ``Optimizer``).
        lr: learning rate. Default 1e-3.
        momentum: momentum factor. Default 0.
        dampening: how much of each new gradient the momentum buffer leaves out. Default 0.
        weight_decay: L2 penalty folded into the gradient. Default 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0). Default False.
        maximize: climb the objective instead of descending it. Default False.
        foreach, fused, differentiable: PyTorch's implementation choices, accepted and
            ignored (``differentiable=True`` is refused; see ``check_flags``).

    State per parameter: ``momentum_buffer`` (same shape as the parameter) when momentum != 0.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, maximize=False, *, foreach=None, differentiable=False,
                 fused=None):
        check_flags("SGD", foreach, fused, False, differentiable)
        check_arg("SGD", "lr", lr, ">= 0", lr >= 0)
        check_arg("SGD", "momentum", momentum, ">= 0", momentum >= 0)
        check_arg("SGD", "weight_decay", weight_decay, ">= 0", weight_decay >= 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0, got "
                             f"momentum={momentum!r}, dampening={dampening!r}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, state, group):
        xp = get_array_module(param._data)
        lr, momentum = float(group["lr"]), float(group["momentum"])
        g, owned = effective_grad(param, float(group["weight_decay"]), group["maximize"])

        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The first buffer is the gradient itself (a copy, unless g is already ours).
                buf = state["momentum_buffer"] = g if owned else g.copy()
            else:
                xp.multiply(buf, momentum, out=buf)
                dampening = float(group["dampening"])
                if dampening == 0:
                    xp.add(buf, g, out=buf)
                elif owned:   # nesterov is off (it needs dampening 0): g may be scaled in place
                    xp.multiply(g, 1 - dampening, out=g)
                    xp.add(buf, g, out=buf)
                else:
                    xp.add(buf, g * (1 - dampening), out=buf)
            if group["nesterov"]:
                step = xp.multiply(buf, momentum)
                xp.add(step, g, out=step)
                g, owned = step, True
            else:
                g, owned = buf, False    # the buffer is state: not to be scaled in place

        if owned:
            xp.multiply(g, lr, out=g)
            xp.subtract(param._data, g, out=param._data)
        else:
            xp.subtract(param._data, g * lr, out=param._data)
