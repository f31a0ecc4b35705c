"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

A scheduler changes ``group['lr']`` of its optimizer's parameter groups each time its
``step()`` is called (once per epoch, or once per batch, as you choose), **after**
``optimizer.step()``::

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)       # calls optimizer.step() per batch
        scheduler.step()

Creating a scheduler already sets the learning rates of step 0 and records each group's
starting rate as ``group['initial_lr']`` (the ``base_lrs``).

Linear warm-up: ``LinearLR(optimizer, start_factor=0.01, total_iters=warmup_steps)``; warm-up
followed by cosine decay::

    warmup = LinearLR(optimizer, start_factor=0.01, total_iters=500)
    decay = CosineAnnealingLR(optimizer, T_max=total_steps - 500)
    scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[500])

Unlike PyTorch, whose schedulers mostly update the current rate recursively (``lr *= gamma``),
ours compute each rate from ``base_lrs`` and the step count in closed form. The values are the
same (up to rounding in the last digit), a restored checkpoint cannot drift, and the formula
in each docstring is the code. The price: two schedulers stepping the same optimizer at once
do not multiply; the last one wins. To combine multiplicative schedules, as PyTorch users
do by stepping two of them, use ``ChainedScheduler``, which multiplies their factors.
``ReduceLROnPlateau`` is the exception: it reacts to a metric, so it multiplies the current
rate.

``state_dict()`` of every scheduler holds only numbers, strings and lists (JSON-able).
"""
import copy
import math
from bisect import bisect_right

from .optimizer import Optimizer


class LRScheduler:
    """Base class of the learning-rate schedulers.

    What every scheduler shares lives here: the optimizer it drives (checked by
    ``_attach``), the step count ``last_epoch``, the rates last set (``get_last_lr()``),
    ``state_dict()``/``load_state_dict()`` and the printed form.

    The schedules that depend only on the step count (all but ``ReduceLROnPlateau``)
    implement ``get_lr()``: the learning rate of each parameter group at step
    ``self.last_epoch``, from ``self.base_lrs``. ``step()`` advances ``last_epoch`` by one
    and writes those rates into the optimizer. ``ReduceLROnPlateau`` has no ``get_lr()``
    (its rate follows a metric's history, not the step count): its ``step(metric)``
    replaces this one, and its ``__init__`` calls only ``_attach``.

    Args:
        optimizer: the Optimizer whose learning rates to set.
        last_epoch: the index of the last step taken; -1 (default) starts afresh. Another
            value resumes a schedule, and needs ``'initial_lr'`` in every group.
    """

    def __init__(self, optimizer, last_epoch=-1):
        self._attach(optimizer)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   "'initial_lr' to resume from (last_epoch="
                                   f"{last_epoch}); load the optimizer's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def _attach(self, optimizer):
        """Keep ``optimizer`` (which must be an Optimizer); its rates are the last set."""
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an "
                            "Optimizer")
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def get_lr(self):
        """The learning rate of each parameter group at step ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def get_last_lr(self):
        """The learning rates set by the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance the schedule by one step and set the optimizer's learning rates.
        ``step(epoch)`` jumps to step ``epoch`` instead (PyTorch's older spelling; the
        rates are closed forms, so a jump gives the same rates as stepping there)."""
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._set_lrs(self.get_lr())

    def _set_lrs(self, lrs):
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            raise ValueError(f"{type(self).__name__}: {len(lrs)} learning rates for "
                             f"{len(groups)} parameter groups")
        for group, lr in zip(groups, lrs):
            group["lr"] = float(lr)
        self._last_lr = [group["lr"] for group in groups]

    def state_dict(self):
        """The scheduler's attributes except the optimizer (and functions), as plain data."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                if key not in self._not_saved}

    def load_state_dict(self, state_dict):
        """Restore the attributes saved by ``state_dict()``."""
        self.__dict__.update(copy.deepcopy(state_dict))

    _not_saved = ("optimizer",)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``.

    Args:
        optimizer: the Optimizer.
        lr_lambda: a function of the step count, or a list of them (one per parameter group).
        last_epoch: see ``LRScheduler``.

    The functions are not saved by ``state_dict()``: pass the same ones when restoring.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n_groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n_groups:
                raise ValueError(f"LambdaLR: expected {n_groups} lr_lambdas (one per "
                                 f"parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n_groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch)
                for base_lr, fn in zip(self.base_lrs, self.lr_lambdas)]


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` steps: ``lr = base_lr * gamma ** (epoch //
    step_size)``.

    Args:
        optimizer: the Optimizer.
        step_size: the number of steps between decays.
        gamma: the multiplicative factor. Default 0.1.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decay by ``gamma`` at each milestone: ``lr = base_lr * gamma ** (number of milestones
    <= epoch)``. A milestone listed twice decays twice.

    Args:
        optimizer: the Optimizer.
        milestones: the step counts at which to decay (any order).
        gamma: the multiplicative factor. Default 0.1.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every step: ``lr = base_lr * gamma ** epoch``.

    Args:
        optimizer: the Optimizer.
        gamma: the multiplicative factor.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` steps (SGDR,
    Loshchilov & Hutter, 2017, without restarts)::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Past ``T_max`` the cosine goes on, rising back towards ``base_lr`` (as in PyTorch).

    Args:
        optimizer: the Optimizer.
        T_max: the number of steps of the descent.
        eta_min: the lowest learning rate. Default 0.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor going linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` steps, then staying there; with the defaults, a
    linear warm-up::

        lr = base_lr * (start_factor + (end_factor - start_factor)
                                        * min(epoch, total_iters) / total_iters)

    Args:
        optimizer: the Optimizer.
        start_factor: the factor at step 0, in (0, 1]. Default 1/3.
        end_factor: the factor from step ``total_iters`` on, in [0, 1]. Default 1.
        total_iters: the number of steps of the ramp. Default 5.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at ``milestones``: scheduler ``i``
    runs from step ``milestones[i-1]`` on, with its own step count starting again at 0.

    Args:
        optimizer: the Optimizer (the same one every scheduler was made with).
        schedulers: the schedulers, in order.
        milestones: the step counts at which to switch; one fewer than the schedulers.
        last_epoch: see ``LRScheduler``.

    Example (linear warm-up for 5 steps, then cosine decay over 95)::

        SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 95)],
                     milestones=[5])
    """

    _not_saved = ("optimizer", "_schedulers")

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: scheduler {i} is a ReduceLROnPlateau, whose "
                                 "step() needs a metric; it cannot be sequenced")
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} ({type(scheduler).__name__}) "
                                 "belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {len(milestones)}")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def step(self):
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        start = self._milestones[index - 1] if index > 0 else 0
        scheduler = self._schedulers[index]
        scheduler.last_epoch = self.last_epoch - start - 1    # its step() adds the 1
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state_dict.pop("_schedulers")):
            scheduler.load_state_dict(saved)
        super().load_state_dict(state_dict)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), stepped once per **batch**: the learning rate
    rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the
    steps, then falls to ``max_lr / div_factor / final_div_factor``; the momentum (or Adam's
    beta1) moves the opposite way, between ``max_momentum`` and ``base_momentum``.

    Each phase goes from a start value to an end value as its progress ``pct`` goes from 0
    to 1, by ``end + (start - end) * (1 + cos(pi * pct)) / 2`` (``'cos'``) or ``start +
    (end - start) * pct`` (``'linear'``). The phases end at step ``pct_start * total_steps -
    1`` and ``total_steps - 1``. With ``three_phase=True`` the rate goes up, back down to the
    starting rate at ``2 * pct_start * total_steps - 2``, then down to the minimum.

    Args:
        optimizer: the Optimizer.
        max_lr: the peak learning rate (or a list, one per parameter group).
        total_steps: the number of steps of the cycle; or give ``epochs`` and
            ``steps_per_epoch``.
        pct_start: the fraction of the steps spent rising. Default 0.3.
        anneal_strategy: ``'cos'`` (default) or ``'linear'``.
        cycle_momentum: also cycle ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam).
            Default True.
        base_momentum, max_momentum: the momentum range. Default 0.85, 0.95.
        div_factor: ``initial_lr = max_lr / div_factor``. Default 25.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``. Default 1e4.
        three_phase: see above. Default False.
        last_epoch: see ``LRScheduler``.

    Stepping more than ``total_steps`` times raises ValueError.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: {type(optimizer).__name__} is not an Optimizer")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            if epochs <= 0 or steps_per_epoch <= 0:
                raise ValueError(f"OneCycleLR: epochs ({epochs}) and steps_per_epoch "
                                 f"({steps_per_epoch}) must be positive")
            total_steps = epochs * steps_per_epoch
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be a positive int, got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        # Each phase: (last step, lr start key, lr end key, momentum start key, end key);
        # the keys name per-group values stored in the param groups.
        up_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [
                (up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._phases = [
                (up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]

        groups = optimizer.param_groups
        max_lrs = _per_group("max_lr", max_lr, len(groups))
        if last_epoch == -1:
            for group, group_max_lr in zip(groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither "
                                 "momentum nor betas; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                max_ms = _per_group("max_momentum", max_momentum, len(groups))
                base_ms = _per_group("base_momentum", base_momentum, len(groups))
                for group, max_m, base_m in zip(groups, max_ms, base_ms):
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times, but total_steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for i, (phase_end, lr_start, lr_end, m_start, m_end) in enumerate(self._phases):
                if step <= phase_end or i == len(self._phases) - 1:
                    pct = (step - phase_start) / (phase_end - phase_start)
                    lrs.append(self._anneal(group[lr_start], group[lr_end], pct))
                    if self.cycle_momentum:
                        momentum = float(self._anneal(group[m_start], group[m_end], pct))
                        if self.use_beta1:
                            group["betas"] = (momentum, *group["betas"][1:])
                        else:
                            group["momentum"] = momentum
                    break
                phase_start = phase_end
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Reduce the learning rate by ``factor`` when a metric has stopped improving for
    ``patience`` steps. Call ``step(metric)`` (e.g. with the validation loss) once per epoch.

    ``metric`` improves on the best so far when (mode ``'min'``) ``metric < best * (1 -
    threshold)`` (``threshold_mode='rel'``) or ``metric < best - threshold`` (``'abs'``);
    mirrored for mode ``'max'``. After more than ``patience`` steps without improvement,
    ``lr = max(lr * factor, min_lr)`` (unless that changes lr by less than ``eps``), then
    ``cooldown`` steps pass before bad steps count again.

    A subclass of ``LRScheduler`` (as in PyTorch) for what all schedulers share
    (``get_last_lr``, ``state_dict``, ``load_state_dict``); it has no ``get_lr``, and its
    ``step`` takes the metric.

    Args:
        optimizer: the Optimizer.
        mode: ``'min'`` (a loss) or ``'max'`` (an accuracy). Default ``'min'``.
        factor: the multiplicative factor, < 1. Default 0.1.
        patience: the number of steps without improvement tolerated. Default 10.
        threshold: how much better counts as better. Default 1e-4.
        threshold_mode: ``'rel'`` or ``'abs'``. Default ``'rel'``.
        cooldown: steps to wait after a reduction. Default 0.
        min_lr: the lowest learning rate (or a list, one per group). Default 0.
        eps: the smallest change of lr worth making. Default 1e-8.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        self._attach(optimizer)   # the base's checks; no get_lr, so no base __init__
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.min_lrs = _per_group("min_lr", min_lr, len(optimizer.param_groups))
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def is_better(self, metric, best):
        """Whether ``metric`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            bar = best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else best - self.threshold
            return metric < bar
        bar = best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else best + self.threshold
        return metric > bar

    def step(self, metrics):
        """Record this epoch's metric and reduce the learning rates if it has plateaued."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0      # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _per_group(name, value, n_groups):
    """``value`` for each of ``n_groups`` parameter groups: a list of that length as is, a
    single value repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(f"expected {n_groups} values of {name} (one per parameter group), "
                             f"got {len(value)}")
        return list(value)
    return [value] * n_groups


class ConstantLR(LRScheduler):
    """Multiply the learning rate by a constant ``factor`` for the first ``total_iters``
    steps, then use ``base_lr``::

        lr = base_lr * factor   if epoch < total_iters   else   base_lr

    Args:
        optimizer: the Optimizer.
        factor: the factor of the first steps, in [0, 1]. Default 1/3.
        total_iters: the number of steps at the reduced rate. Default 5.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        if not (isinstance(total_iters, int) and total_iters >= 0):
            raise ValueError(f"ConstantLR: total_iters must be an int >= 0, got "
                             f"{total_iters!r}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        factor = self.factor if self.last_epoch < self.total_iters else 1.0
        return [base_lr * factor for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay polynomially to 0 over ``total_iters`` steps, then stay at 0::

        lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power

    Args:
        optimizer: the Optimizer.
        total_iters: the number of steps of the decay, >= 1. Default 5.
        power: the power of the polynomial (1: linear). Default 1.0.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        if not (isinstance(total_iters, int) and total_iters >= 1):
            raise ValueError(f"PolynomialLR: total_iters must be an int >= 1, got "
                             f"{total_iters!r}")
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        factor = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [base_lr * factor for base_lr in self.base_lrs]


class MultiplicativeLR(LRScheduler):
    """Multiply the learning rate by ``lr_lambda(epoch)`` at every step after the first::

        lr = base_lr * lr_lambda(1) * lr_lambda(2) * ... * lr_lambda(epoch)

    (PyTorch multiplies the current rate; ours keeps the running product, which is the
    same.)

    Args:
        optimizer: the Optimizer.
        lr_lambda: a function of the step count, or a list of them (one per parameter group).
        last_epoch: see ``LRScheduler``.

    The functions are not saved by ``state_dict()`` (the running product is): pass the same
    ones when restoring.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n_groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n_groups:
                raise ValueError(f"MultiplicativeLR: expected {n_groups} lr_lambdas (one per "
                                 f"parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n_groups
        self._product_epoch = 0                   # the step the products below are for
        self._products = [1.0] * n_groups
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch = self.last_epoch
        if epoch < self._product_epoch:           # jumped back: start again
            self._product_epoch, self._products = 0, [1.0] * len(self._products)
        for k in range(self._product_epoch + 1, epoch + 1):
            self._products = [product * float(fn(k))
                              for product, fn in zip(self._products, self.lr_lambdas)]
        self._product_epoch = max(epoch, 0)
        return [base_lr * product for base_lr, product in zip(self.base_lrs, self._products)]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, 2017)::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    ``T_cur`` counts the steps since the last restart; a restart happens when it reaches
    ``T_i``, the current period, which starts at ``T_0`` and is multiplied by ``T_mult`` at
    every restart.

    ``step()`` advances by one; ``step(epoch)`` sets the position directly, and takes a
    fractional epoch, to anneal once per batch: ``scheduler.step(epoch + i / iters)``.
    Then ``T_cur = epoch mod T_0`` (``T_mult == 1``), or, with ``n = floor(log_{T_mult}(
    epoch / T_0 * (T_mult - 1) + 1))``, ``T_i = T_0 * T_mult ** n`` and ``T_cur = epoch -
    T_0 * (T_mult ** n - 1) / (T_mult - 1)``.

    Args:
        optimizer: the Optimizer.
        T_0: the length of the first period, an int >= 1.
        T_mult: the growth of the period at each restart, an int >= 1. Default 1.
        eta_min: the lowest learning rate. Default 0.
        last_epoch: see ``LRScheduler``.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if not (isinstance(T_0, int) and T_0 >= 1):
            raise ValueError(f"CosineAnnealingWarmRestarts: T_0 must be an int >= 1, got "
                             f"{T_0!r}")
        if not (isinstance(T_mult, int) and T_mult >= 1):
            raise ValueError(f"CosineAnnealingWarmRestarts: T_mult must be an int >= 1, got "
                             f"{T_mult!r}")
        if not isinstance(eta_min, (int, float)):
            raise ValueError(f"CosineAnnealingWarmRestarts: eta_min must be a number, got "
                             f"{type(eta_min).__name__}")
        self.T_0, self.T_i, self.T_mult = T_0, T_0, T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch=None):
        """Advance by one step, or go to ``epoch`` (a float allowed)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur - self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be >= 0, got "
                                 f"{epoch!r}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017), stepped once per **batch**: the rate goes from
    ``base_lr`` up to ``max_lr`` over ``step_size_up`` steps and back down over
    ``step_size_down``, again and again. With ``total = step_size_up + step_size_down``::

        cycle = floor(1 + epoch / total)
        x = 1 + epoch / total - cycle                         (the position in the cycle)
        f = x / r   if x <= r   else   (x - 1) / (r - 1)      (r = step_size_up / total)
        lr = base_lr + (max_lr - base_lr) * f * scale(cycle or epoch)

    where ``scale`` is 1 (``'triangular'``), ``1 / 2 ** (cycle - 1)`` (``'triangular2'``,
    halving the height every cycle), ``gamma ** epoch`` (``'exp_range'``), or your
    ``scale_fn`` of the cycle (``scale_mode='cycle'``) or of the step (``'iterations'``).
    With ``cycle_momentum``, the momentum (SGD) or ``betas[0]`` (Adam) moves the other way:
    ``momentum = max_momentum - (max_momentum - base_momentum) * f * scale``.

    Args:
        optimizer: the Optimizer.
        base_lr: the lower rate (or a list, one per parameter group); set at construction.
        max_lr: the upper rate (or a list).
        step_size_up: steps of the rising half. Default 2000.
        step_size_down: steps of the falling half. Default ``step_size_up``.
        mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``. Default triangular.
        gamma: the base of ``'exp_range'``. Default 1.0.
        scale_fn: a function replacing ``mode``'s scale. Default None.
        scale_mode: ``'cycle'`` or ``'iterations'``: what ``scale_fn`` takes. Default cycle.
        cycle_momentum: also cycle the momentum. Default True.
        base_momentum, max_momentum: the momentum range (or lists). Default 0.8, 0.9.
        last_epoch: see ``LRScheduler``.

    A ``scale_fn`` is not saved by ``state_dict()``: pass the same one when restoring.
    """

    _not_saved = ("optimizer", "_scale_fn_custom")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"CyclicLR: {type(optimizer).__name__} is not an Optimizer")
        groups = optimizer.param_groups
        base_lrs = _per_group("base_lr", base_lr, len(groups))
        if last_epoch == -1:
            for lr, group in zip(base_lrs, groups):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", max_lr, len(groups))
        if step_size_up <= 0 or (step_size_down is not None and step_size_down < 0):
            raise ValueError(f"CyclicLR: step_size_up must be > 0 and step_size_down >= 0, "
                             f"got {step_size_up!r} and {step_size_down!r}")
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError("CyclicLR: mode must be 'triangular', 'triangular2' or "
                             f"'exp_range' (or give a scale_fn), got {mode!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"CyclicLR: {type(optimizer).__name__} has neither momentum "
                                 "nor betas; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", base_momentum, len(groups))
            self.max_momentums = _per_group("max_momentum", max_momentum, len(groups))
            if last_epoch == -1:
                for max_m, base_m, group in zip(self.max_momentums, self.base_momentums,
                                                groups):
                    if self.use_beta1:
                        group["betas"] = (max_m, *group["betas"][1:])
                    else:
                        group["momentum"] = max_m
                    group["max_momentum"] = max_m
                    group["base_momentum"] = base_m
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x):
        """The height of the cycle at ``x`` (the cycle number, or the step count)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, base_m, max_m in zip(self.optimizer.param_groups, self.base_momentums,
                                            self.max_momentums):
                momentum = max_m - (max_m - base_m) * scale_factor * scale
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class ChainedScheduler(LRScheduler):
    """Several multiplicative schedules at once: each step, every scheduler steps and the
    learning rate is ``base_lr`` times the product of their factors (each one's rate
    divided by ``base_lr``), as PyTorch's ``ChainedScheduler`` gives by letting each
    multiply the rate in turn. E.g. a constant warm-up on top of an exponential decay::

        ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2),
                          ExponentialLR(opt, gamma=0.9)])

    The schedulers must be multiplicative: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
    ``LinearLR``, ``ConstantLR``, ``PolynomialLR``, ``MultiplicativeLR``, or a
    ``LambdaLR`` in first place. (Others set the rate outright, so in PyTorch's chain they
    erase what came before them, and ours refuses them.)

    Args:
        schedulers: the schedulers, all of the same optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    _not_saved = ("optimizer", "_schedulers")

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler expects at least one scheduler")
        optimizer = optimizer if optimizer is not None else schedulers[0].optimizer
        for i, scheduler in enumerate(schedulers):
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(f"ChainedScheduler: scheduler {i} "
                                 f"({type(scheduler).__name__}) belongs to another optimizer")
            if not (isinstance(scheduler, _MULTIPLICATIVE)
                    or (i == 0 and isinstance(scheduler, LambdaLR))):
                raise ValueError(
                    f"ChainedScheduler: scheduler {i} is a {type(scheduler).__name__}, which "
                    "is not multiplicative; chain StepLR, MultiStepLR, ExponentialLR, "
                    "LinearLR, ConstantLR, PolynomialLR, MultiplicativeLR (and a LambdaLR "
                    "first), or use SequentialLR to run schedules one after another")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = schedulers[0].last_epoch
        self._combine()

    def _combine(self):
        lrs = list(self.base_lrs)
        for scheduler in self._schedulers:
            lrs = [lr * (own / base if base != 0 else 1.0)
                   for lr, own, base in zip(lrs, scheduler.get_last_lr(), scheduler.base_lrs)]
        self._set_lrs(lrs)

    def step(self):
        self.last_epoch += 1
        for scheduler in self._schedulers:
            scheduler.step()
        self._combine()

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state_dict.pop("_schedulers")):
            scheduler.load_state_dict(saved)
        super().load_state_dict(state_dict)


_MULTIPLICATIVE = (StepLR, MultiStepLR, ExponentialLR, LinearLR, ConstantLR, PolynomialLR,
                   MultiplicativeLR)
