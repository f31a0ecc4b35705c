"""``Optimizer``: the base of every optimizer, as ``torch.optim.Optimizer``; gradient clipping.

An optimizer holds ``param_groups`` (a list of dicts: ``'params'`` plus that group's
hyperparameters, e.g. ``{'params': [w, b], 'lr': 0.1, 'momentum': 0.9}``) and ``state``
(one dict of NumPy arrays per parameter, e.g. Adam's moments). ``step()`` changes every
parameter's array **in place**: views of it and references to it stay valid.

Writing your own optimizer means subclassing ``Optimizer`` and implementing
``_update(param, state, group)``, which is called for every parameter that has a gradient::

    class SignSGD(Optimizer):
        def __init__(self, params, lr=1e-2):
            super().__init__(params, dict(lr=lr))

        def _update(self, param, state, group):
            param._data -= group["lr"] * np.sign(param._grad._data)

An optimizer written for PyTorch works too: override ``step()`` itself and use tensors, as
in PyTorch (``self.state[p]`` holds whatever you put there; ``state_dict()`` copies tensors
and ``load_state_dict()`` gives tensors back)::

    class PlainSGD(Optimizer):
        def __init__(self, params, lr=1e-2):
            super().__init__(params, dict(lr=lr))

        @ournn.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.data.add_(p.grad, alpha=-group["lr"])

Every constructor takes PyTorch's implementation-only keywords (``foreach``, ``fused``,
``capturable``) and ignores them; ``differentiable=True`` is refused (see ``check_flags``).
"""
from collections import defaultdict

import numpy as np

from ..autograd import enable_grad
from ..backend import get_array_module
from ..errors import CheckpointError
# Gradient clipping lives in ournn.nn.utils, as torch.nn.utils; importable from here as before.
from ..nn.utils import clip_grad_norm_, clip_grad_value_  # noqa: F401
from ..tensor import Tensor, bump_version, zero_grad_


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Parameters (e.g. ``model.parameters()``), of ``(name,
            Parameter)`` pairs (``model.named_parameters()``), or of dicts, one per parameter
            group, each with a ``'params'`` entry and optional hyperparameters overriding
            ``defaults``: ``[{'params': body.parameters()}, {'params': head.parameters(),
            'lr': 1e-2}]``.
        defaults: the hyperparameters of a group that does not set them.

    Attributes:
        param_groups: list of dicts, ``'params'`` (a list of Parameters) and hyperparameters.
        state: ``{param: {name: array or number}}``, filled on the first ``step()``.
        defaults: the default hyperparameters.
    """

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Parameters "
                            f"or dicts, but got a single {type(params).__name__}; "
                            "wrap it in a list")
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ----- parameter groups -----
    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (the missing ones are taken
        from ``defaults``), e.g. to train a layer unfrozen half-way through fine-tuning."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: a param group must be a "
                            f"dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{type(self).__name__}.add_param_group: the dict has no 'params'")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{type(self).__name__}: parameters must be given in an ordered "
                            "collection (a list), not a set, so that their order is reproducible")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{type(self).__name__}: give either all parameters with names "
                                 "or none")
            params = [p[1] for p in params]
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but one of "
                                f"the params is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor (the "
                                 "result of an op); optimize the leaves it was computed from")
        if len(set(map(id, params))) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter group lists the same "
                             "parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one "
                             "parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    # ----- the update -----
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``p.grad = None`` (default), or zeros for the parameters that
        have a gradient (``set_to_none=False``: written in place when the gradient's array is
        writable, as PyTorch does; backward never hands one array to two tensors)."""
        for group in self.param_groups:
            for p in group["params"]:
                zero_grad_(p, set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient (``p.grad is not None``) in place.

        ``closure``, optional, is a function that zeroes the gradients, recomputes the loss,
        calls ``backward()`` and returns the loss; it is called first, and its loss returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    self._update(p, self.state[p], group)
                    bump_version(p)      # an earlier graph that saved p now refuses backward
        return loss

    def _update(self, param, state, group):
        """Change ``param``'s array (``param._data``) in place from its gradient's array
        (``param._grad._data``, see ``effective_grad``), the hyperparameters in
        ``group`` and this parameter's ``state`` dict (which it may fill). Subclasses
        implement this."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update()")

    # ----- checkpoints -----
    def state_dict(self):
        """A snapshot of the optimizer, made of plain values: lists, dicts, ints, floats,
        strings and NumPy arrays (copies), so it can be written to .npz or JSON without
        pickle. As in PyTorch, parameters are referred to by their index, counted across the
        groups in order::

            {'state': {0: {'step': 3, 'exp_avg': array, ...}, 1: {...}},
             'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), ..., 'params': [0, 1]}]}
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: (list(value) if isinstance(value, list) else value)
                      for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                entry = self.state.get(p)
                if entry:
                    state[index[id(p)]] = {key: _copy_value(value)
                                           for key, value in entry.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a snapshot made by ``state_dict()`` (possibly of a fresh optimizer of the
        same kind over parameters of the same shapes). State arrays are copied and cast to
        each parameter's dtype. Everything is checked before anything is changed; a mismatch
        (group count, group size, hyperparameters of another optimizer, shapes) raises
        ``CheckpointError`` naming it."""
        name = f"{type(self).__name__}.load_state_dict"
        if not (isinstance(state_dict, dict) and "state" in state_dict
                and "param_groups" in state_dict):
            raise CheckpointError(f"{name}: expected a dict with 'state' and 'param_groups', "
                                  f"got {type(state_dict).__name__}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise CheckpointError(f"{name}: the checkpoint has {len(saved_groups)} parameter "
                                  f"groups, this optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not (isinstance(saved, dict) and "params" in saved):
                raise CheckpointError(f"{name}: parameter group {i} of the checkpoint is not a "
                                      "dict with 'params'")
            if len(saved["params"]) != len(group["params"]):
                raise CheckpointError(f"{name}: parameter group {i} has {len(saved['params'])} "
                                      f"parameters in the checkpoint, {len(group['params'])} "
                                      "in this optimizer")
            missing = [key for key in self.defaults if key not in saved]
            if missing:
                raise CheckpointError(f"{name}: parameter group {i} of the checkpoint lacks "
                                      f"{missing}; was it saved from another optimizer?")
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))

        new_state = defaultdict(dict)
        for key, entry in state_dict["state"].items():
            index = int(key)
            if index not in by_index:
                raise CheckpointError(f"{name}: the checkpoint has state for parameter {index}, "
                                      "which none of its parameter groups lists")
            new_state[by_index[index]] = self._restore_state(entry, by_index[index],
                                                             f"{name}: parameter {index}")

        for saved, group in zip(saved_groups, self.param_groups):
            for key, value in saved.items():
                if key in ("params", "param_names"):
                    continue
                group[key] = tuple(value) if isinstance(value, list) else value
        self.state = new_state

    def _restore_state(self, entry, param, where):
        """One parameter's saved state dict made ready for ``param`` (see
        ``_restore_value``). An optimizer written the PyTorch way (a ``step()`` of its own,
        no ``_update``) keeps tensors in its state, so it gets tensors back."""
        as_tensors = type(self)._update is Optimizer._update
        restored = {}
        for key, value in entry.items():
            value = _restore_value(value, param, f"{where}: state '{key}'")
            if as_tensors and hasattr(value, "shape") and not isinstance(value, Tensor):
                value = Tensor(value)
            restored[key] = value
        return restored


def _copy_value(value):
    """A state value as saved: arrays copied (tensors too, staying tensors), NumPy scalars as
    Python numbers, lists and tuples copied item by item."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_value(v) for v in value)
    if hasattr(value, "shape") and hasattr(value, "copy"):
        return value.copy()
    return value


def _restore_value(value, param, where):
    """A saved state value made ready for ``param``: arrays (or nested lists, after JSON)
    copied to the parameter's array module and dtype, with the parameter's shape checked;
    zero-dimensional arrays (a count saved in .npz) back to Python numbers."""
    if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
        return value.item()
    if isinstance(value, Tensor):
        if value.ndim == 0:
            return value.item()
        value = value._data
    if isinstance(value, list) or hasattr(value, "shape"):
        xp = get_array_module(param._data)
        if type(value) is not type(param._data) and not isinstance(value, list):
            from ..device import device_of, to_device      # saved on another device
            value = to_device(value, device_of(param._data))
        array = xp.array(value, dtype=param._data.dtype, copy=True)
        if array.shape != param._data.shape:
            raise CheckpointError(f"{where} has shape {tuple(array.shape)}, the parameter has "
                                  f"shape {tuple(param._data.shape)}")
        return array
    return value


def check_arg(optimizer, arg, value, accepted, ok):
    """Raise ValueError naming ``optimizer``, the argument and its accepted range when
    ``ok`` is false: ``check_arg("SGD", "lr", lr, ">= 0", lr >= 0)``."""
    if not ok:
        raise ValueError(f"{optimizer}: {arg} must be {accepted}, got {value!r}")


def check_betas(optimizer, betas):
    """``betas`` must be a pair, each in [0, 1)."""
    ok = isinstance(betas, (tuple, list)) and len(betas) == 2
    check_arg(optimizer, "betas", betas, "a pair (beta1, beta2), each in [0, 1)",
              ok and all(0.0 <= float(b) < 1.0 for b in betas))


def check_flags(optimizer, foreach=None, fused=None, capturable=False, differentiable=False):
    """PyTorch's implementation-only keywords: ``foreach``, ``fused`` and ``capturable``
    choose how PyTorch runs the same update (batched kernels, one fused kernel, CUDA
    graphs); ours has one implementation, so they are accepted and change nothing.
    ``differentiable=True`` asks for gradients through ``step()`` itself, which an
    in-place update of the arrays cannot give: refused."""
    if differentiable:
        raise NotImplementedError(
            f"{optimizer}: differentiable=True is not supported: ournn's optimizers update "
            "the parameters' arrays in place, outside autograd, so step() cannot be "
            "differentiated through (for meta-learning, write the update with tensor ops "
            "on non-leaf tensors instead)")


def effective_grad(param, weight_decay=0.0, maximize=False):
    """The gradient an update uses: ``g = ±param.grad + weight_decay * param`` (minus when
    ``maximize``), as PyTorch's optimizers compute it.

    Returns ``(g, owned)``: ``owned`` is True when ``g`` is a new array the caller may
    overwrite, False when it *is* ``param.grad``, which must not be written into (backward
    may share one gradient array between several tensors)."""
    grad = param._grad._data
    if weight_decay == 0:
        if not maximize:
            return grad, False
        return -grad, True
    xp = get_array_module(param._data)
    g = param._data * weight_decay
    if maximize:
        xp.subtract(g, grad, out=g)
    else:
        xp.add(g, grad, out=g)
    return g, True
