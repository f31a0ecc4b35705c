"""``Module``: the base of every layer and model, as ``torch.nn.Module``.

Parameters, buffers and submodules assigned as attributes are registered in ``__setattr__``,
so ``named_parameters()`` and ``state_dict()`` find them with PyTorch's dotted names
(``features.0.weight``).
"""
import itertools
import warnings
from collections import OrderedDict

import numpy as np

from ..autograd.function import TRACERS
from ..errors import CheckpointError
from ..ops.hooks import BackwardHook
from ..tensor import Tensor, zero_grad_


def _array_dtype(a):
    """The dtype of a buffer (an array of NumPy, CuPy... or anything NumPy converts)."""
    return a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype


def describe(module):
    """A module's architecture as data (``ournn.nn.config.module_config``, which registers
    itself here when it loads: the config floor sits above this file), for containers'
    ``get_config``."""
    return _describe(module)


_describe = None


class Parameter(Tensor):
    """A Tensor that is a learnable parameter of a Module (``requires_grad=True``, float32 by
    default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        if dtype is None and isinstance(data, Tensor):
            data = data._data
        if dtype is None and not (isinstance(data, np.ndarray) and data.dtype.kind == "f"):
            dtype = np.float32
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _traced_call(module, args, kwargs):
    """``Module.__call__`` while ``ournn.tracing`` records (keep the two in step): the same
    forward and hooks (``_hooked_call``), with each recorder told where the call starts and
    ends."""
    calls = [(t, t.enter(module, args, kwargs)) for t in list(TRACERS)]
    try:
        out = _hooked_call(module, args, kwargs)
    except BaseException as e:
        for t, call in reversed(calls):
            t.exit(call, None, e)
        raise
    for t, call in reversed(calls):
        t.exit(call, out, None)
    return out


# ----------------------------------------------------------------------------------- hooks
# A module's hooks live in ``module.__dict__["_hooks"]``, made on the first registration: a
# dict from kind ("forward_pre", "forward", "backward_pre", "backward") to an ordered dict
# ``id -> (hook, with_kwargs, always_call)``; a kind with no hook left is taken out, so an
# empty ``_hooks`` is falsy and ``Module.__call__`` pays one dict look-up when there are none.
# The global hooks (``register_module_forward_hook`` ...) live in ``_global_hooks``, the same
# way; while there are any, ``Module.__call__`` is ``_call_with_global_hooks``.
_global_hooks = {}
_NO_HOOKS = {}


def _entries(kind, own):
    """The hooks of one kind that a call runs: the global ones first, as PyTorch."""
    g, m = _global_hooks.get(kind), own.get(kind)
    if g and m:
        return list(g.values()) + list(m.values())
    return list((g or m or _NO_HOOKS).values())


def _hooked_call(module, args, kwargs):
    """One call of ``module`` with its hooks and the global ones, in PyTorch's order: forward
    pre hooks (may replace the arguments), the backward hooks' identity on the tensor
    arguments, forward, forward hooks (may replace the output), the identity on the output."""
    own = module.__dict__.get("_hooks") or _NO_HOOKS
    if not own and not _global_hooks:
        return module.forward(*args, **kwargs)
    for hook, with_kwargs, _ in _entries("forward_pre", own):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("forward pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    bw = None
    hooks, pre_hooks = _entries("backward", own), _entries("backward_pre", own)
    if hooks or pre_hooks:
        bw = BackwardHook(module, [h[0] for h in hooks], [h[0] for h in pre_hooks])
        args = bw.setup_input_hook(args)
    forward_hooks = _entries("forward", own)
    out = None
    called = set()
    try:
        out = module.forward(*args, **kwargs)
        for k, (hook, with_kwargs, _) in enumerate(forward_hooks):
            called.add(k)
            result = hook(module, args, kwargs, out) if with_kwargs else hook(module, args, out)
            if result is not None:
                out = result
    except Exception:
        for k, (hook, with_kwargs, always) in enumerate(forward_hooks):
            if always and k not in called:      # ``always_call``: run even when forward fails
                try:
                    result = (hook(module, args, kwargs, out) if with_kwargs
                              else hook(module, args, out))
                    if result is not None:
                        out = result
                except Exception as e:
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised "
                                  f"in forward: {e}")
        raise
    if bw is not None:
        out = bw.setup_output_hook(out)
    return out


def _add_hook(store, kind, hook, prepend=False, with_kwargs=False, always_call=False,
              on_remove=None):
    hooks = store.setdefault(kind, OrderedDict())
    handle = RemovableHandle(store, kind, on_remove)
    hooks[handle.id] = (hook, with_kwargs, always_call)
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _call_with_global_hooks(self, *args, **kwargs):
    """``Module.__call__`` while a global module hook is registered."""
    if TRACERS:
        return _traced_call(self, args, kwargs)
    return _hooked_call(self, args, kwargs)


def _global_hook(kind, hook, **options):
    Module.__call__ = _call_with_global_hooks
    return _add_hook(_global_hooks, kind, hook, on_remove=_restore_call, **options)


def _restore_call():
    if not _global_hooks:
        Module.__call__ = Module._plain_call


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` before the forward of every module (before its own pre hooks);
    it may return new args. Returns a handle whose ``remove()`` takes it away."""
    return _global_hook("forward_pre", hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output)`` after the forward of every module (before its own
    forward hooks); it may return a new output. Returns a removable handle."""
    return _global_hook("forward", hook, with_kwargs=with_kwargs, always_call=always_call)


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output)`` for every module, as ``register_full_backward_pre_hook``."""
    return _global_hook("backward_pre", hook)


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output)`` for every module, as
    ``register_full_backward_hook``."""
    return _global_hook("backward", hook)


class Module:
    """Base class for layers and models. Subclasses define ``forward``; call the module itself.

    Example::

        class Net(Module):
            def __init__(self):
                super().__init__()
                self.fc = Linear(784, 10)
            def forward(self, x):
                return self.fc(x)
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration -----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        # a name keeps its place when assigned again (as PyTorch: state_dict order stays)
        if isinstance(value, Parameter):
            keep = self._parameters
        elif isinstance(value, Module):
            keep = self._modules
        elif name in self.__dict__.get("_buffer_names", ()):
            keep = self._buffers
        else:
            keep = None
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        if keep is not None:
            keep[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name, array, persistent=True):
        """A non-learnable state array (e.g. BatchNorm's running mean), saved in state_dict."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        setattr(self, name, array)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name, module):
        """Register ``module`` (or None) as the child ``name``, as PyTorch."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.add_module: module name must be a "
                           f"non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} must be a Module or "
                            f"None, got {type(module).__name__}")
        if module is None:
            self._modules[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    # ----- calling -----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if TRACERS:    # ournn.tracing is recording: _traced_call tells it where calls start/end
            return _traced_call(self, args, kwargs)
        if self.__dict__.get("_hooks"):     # the one check a call without hooks pays
            return _hooked_call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    _plain_call = __call__

    def _add_hook(self, kind, hook, **options):
        store = self.__dict__.get("_hooks")
        if store is None:
            store = self.__dict__["_hooks"] = {}
        return _add_hook(store, kind, hook, **options)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before every forward; it may return new args (a tuple,
        or one value taken as the only argument). With ``with_kwargs=True`` it is called as
        ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``. ``prepend`` runs it
        before the hooks already registered. Returns a handle whose ``remove()`` takes it
        away (also a context manager), as PyTorch's."""
        return self._add_hook("forward_pre", hook, prepend=prepend, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call ``hook(module, args, output)`` after every forward (``hook(module, args,
        kwargs, output)`` with ``with_kwargs=True``); it may return a new output.
        ``always_call=True`` runs it even when forward raises. Returns a removable handle."""
        return self._add_hook("forward", hook, prepend=prepend, with_kwargs=with_kwargs,
                              always_call=always_call)

    def register_full_backward_pre_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's outputs
        are known, before those w.r.t. its inputs are computed; it may return a replacement
        ``grad_output`` (a tuple of the same length). Returns a removable handle."""
        return self._add_hook("backward_pre", hook, prepend=prepend)

    def register_full_backward_hook(self, hook, *, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the
        module's inputs are computed (tuples, one entry per positional argument / output,
        None for those that are not tensors needing a gradient); it may return a replacement
        ``grad_input``. As in PyTorch, the module's tensor arguments and outputs go through an
        identity op whose backward sees the gradients (``ournn.ops.hooks``); an argument
        modified in place inside forward is not allowed there. Returns a removable handle."""
        return self._add_hook("backward", hook, prepend=prepend)

    # ----- traversal -----
    def named_modules(self, prefix=""):
        """(name, module) for this module and every descendant, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is None or (remove_duplicate and id(b) in seen):
                    continue
                seen.add(id(b))
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` (``""`` is this module), as PyTorch."""
        if target == "":
            return self
        module = self
        walked = []
        for part in target.split("."):
            child = module._modules.get(part)
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(f"get_submodule({target!r}): {where} has no submodule "
                                     f"{part!r} (it has: {', '.join(module._modules) or 'none'})")
            module = child
            walked.append(part)
        return module

    def _get_leaf(self, target, store, what):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        items = getattr(module, store)
        if name not in items or items[name] is None:
            raise AttributeError(f"get_{what}({target!r}): {type(module).__name__} has no "
                                 f"{what} {name!r} (it has: {', '.join(items) or 'none'})")
        return items[name]

    def get_parameter(self, target):
        """The parameter at the dotted path ``target`` (``"features.0.weight"``)."""
        return self._get_leaf(target, "_parameters", "parameter")

    def get_buffer(self, target):
        """The buffer at the dotted path ``target`` (``"bn.running_mean"``)."""
        return self._get_leaf(target, "_buffers", "buffer")

    # ----- devices and dtypes -----
    def _cast_floating(self, dtype):
        """Cast every floating parameter (and its gradient) and floating buffer to ``dtype``
        in place: the Parameter objects stay the same, so an optimizer built before keeps
        working."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            if p._data.dtype.kind == "f" and p._data.dtype != dtype:
                p._data = p._data.astype(dtype)
                if p._grad is not None:
                    p._grad = Tensor._make(p._grad._data.astype(dtype))
        for module in self.modules():
            for name, b in list(module._buffers.items()):
                if isinstance(b, Tensor):
                    if b._data.dtype.kind == "f" and b._data.dtype != dtype:
                        b._data = b._data.astype(dtype)
                elif b is not None and _array_dtype(b).kind == "f" and _array_dtype(b) != dtype:
                    setattr(module, name, b.astype(dtype) if hasattr(b, "astype")
                            else np.asarray(b).astype(dtype))
        return self

    def _move(self, dev):
        """Move every parameter (and its gradient) and buffer to device ``dev`` in place: the
        Parameter objects stay the same, so an optimizer built before keeps them."""
        from ..device import to_device
        for p in self.parameters():
            p._data = to_device(p._data, dev)
            if p._grad is not None:
                p._grad = Tensor._make(to_device(p._grad._data, dev))
        for module in self.modules():
            for name, b in list(module._buffers.items()):
                if isinstance(b, Tensor):
                    b._data = to_device(b._data, dev)
                elif b is not None and hasattr(b, "shape"):
                    setattr(module, name, to_device(b, dev))
        return self

    def to(self, *args, **kwargs):
        """``model.to(device)``, ``model.to(dtype)``, ``model.to(device, dtype)``,
        ``model.to(tensor)``, as PyTorch: floating parameters and buffers are cast in place
        (integer ones keep their dtype), and every parameter and buffer moved to the device,
        in place. Returns ``self``."""
        from ..device import check_device, device as _device_type
        from ..tensor import _as_dtype
        dtype, dev = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}.to() got unexpected keyword arguments "
                            f"{sorted(kwargs)}")
        if len(args) > 3:
            raise TypeError(f"{type(self).__name__}.to() takes at most 3 positional arguments")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a._data.dtype
            elif isinstance(a, (str, _device_type)) or (isinstance(a, int)
                                                         and not isinstance(a, bool)):
                dev = a
            elif isinstance(a, bool):
                continue                    # non_blocking given positionally
            elif a is not None:
                dtype = a
        if dev is not None:
            self._move(check_device(dev))
        if dtype is not None:
            dt = _as_dtype(dtype)
            if dt.kind != "f":
                raise TypeError(f"{type(self).__name__}.to() only accepts floating point "
                                f"dtypes, got {dt}")
            self._cast_floating(dt)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def float(self):
        return self._cast_floating(np.float32)

    def double(self):
        return self._cast_floating(np.float64)

    def half(self):
        return self._cast_floating(np.float16)

    def type(self, dst_type):
        """Cast floating parameters and buffers to ``dst_type`` (a dtype)."""
        from ..tensor import _as_dtype
        dt = _as_dtype(dst_type)
        if dt.kind != "f":
            raise TypeError(f"{type(self).__name__}.type(): only floating dtypes are "
                            f"supported, got {dt}")
        return self._cast_floating(dt)

    def apply(self, fn):
        """Call ``fn`` on every submodule then on self (as PyTorch, e.g. for init)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients -----
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            zero_grad_(p, set_to_none)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # ----- state -----
    def state_dict(self):
        """An ordered dict name -> tensor (parameters and persistent buffers), as PyTorch's:
        each tensor is outside the graph and shares the parameter's or buffer's memory (no
        copies: ``.clone()`` one to keep it; ``.numpy()`` is the array itself)."""
        state = OrderedDict()
        for mod_name, module in self.named_modules():
            skip = module.__dict__.get("_non_persistent", ())
            for name, p in module._parameters.items():
                if p is not None:
                    state[f"{mod_name}.{name}" if mod_name else name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in skip:
                    state[f"{mod_name}.{name}" if mod_name else name] = (
                        b.detach() if isinstance(b, Tensor) else Tensor._make(_array_of(b)))
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers (in place, keeping dtypes).

        Raises ``CheckpointError`` listing missing, unexpected and mis-shaped keys."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = [f"{k}: checkpoint {_shape_of(state_dict[k])} vs model "
                      f"{tuple(own[k].shape)}"
                      for k in own if k in state_dict
                      and _shape_of(state_dict[k]) != tuple(own[k].shape)]
        problems = []
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise CheckpointError(f"Error loading state_dict into {type(self).__name__}: "
                                  + " | ".join(problems))
        for k, target in own.items():
            if k in state_dict:
                value = _array_of(state_dict[k])
                if type(value) is not type(target._data):   # another device: moved once
                    from ..device import device_of, to_device
                    value = to_device(value, device_of(target._data))
                target[...] = value
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    # ----- Keras-style training (the engine lives in ournn.train) -----
    def fit(self, train_data, epochs=1, **kwargs):
        """Train this model; see ``ournn.train.fit`` for the arguments. Returns a History."""
        from ..train import fit
        return fit(self, train_data, epochs=epochs, **kwargs)

    def evaluate(self, data, **kwargs):
        """Mean loss and accuracy on ``data``; see ``ournn.train.evaluate``."""
        from ..train import evaluate
        return evaluate(self, data, **kwargs)

    def predict(self, x, **kwargs):
        """Outputs for ``x`` as a NumPy array (eval mode, batched); see ``ournn.train.predict``."""
        from ..train import predict
        return predict(self, x, **kwargs)

    def summary(self, input_shape=(1, 28, 28), print_fn=print):
        """Print a table of layers, output shapes and parameter counts for one input of
        ``input_shape`` (no batch dim); see ``ournn.viz.summary``."""
        from ..viz.summary import summary
        return summary(self, input_shape, print_fn=print_fn)

    # ----- architecture -----
    config_keys = None   # constructor arguments kept as attributes of the same names

    def get_config(self):
        """The constructor arguments that rebuild this layer (see ``ournn.nn.config``)."""
        if self.config_keys is None:
            raise NotImplementedError(f"{type(self).__name__} does not describe its architecture")
        return with_dtype(self, {k: _plain(getattr(self, k)) for k in self.config_keys})

    @classmethod
    def from_config(cls, config):
        """The layer ``config`` (what ``get_config`` gives) describes: ``cls(**config)``,
        lists read back as tuples (JSON has no tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

    # ----- printing -----
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        main = f"{type(self).__name__}({self.extra_repr()}"
        if lines:
            main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class RemovableHandle:
    """What the ``register_*_hook`` methods return, as ``torch.utils.hooks.RemovableHandle``:
    ``remove()`` takes the hook away; ``with handle:`` removes it at the end of the block."""

    _next_id = itertools.count()

    def __init__(self, store, kind, on_remove=None):
        self.id = next(RemovableHandle._next_id)
        self._store, self._kind, self._on_remove = store, kind, on_remove

    def remove(self):
        hooks = self._store.get(self._kind)
        if hooks is not None:
            hooks.pop(self.id, None)
            if not hooks:
                del self._store[self._kind]
        if self._on_remove is not None:
            self._on_remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_HookHandle = RemovableHandle


def with_dtype(module, config):
    """Add ``dtype`` to a layer's config when its own parameters are not float32 (and its
    constructor takes one), so a float64 layer is rebuilt as float64."""
    if "dtype" in config:
        return config
    for p in module._parameters.values():
        if p is not None and p._data.dtype != np.float32 and p._data.dtype.kind == "f":
            import inspect
            if "dtype" in inspect.signature(type(module).__init__).parameters:
                config = dict(config, dtype=str(p._data.dtype))
            break
    return config


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _array_of(x):
    if isinstance(x, Tensor):
        return x._data
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))``.

    Also accepts an ``OrderedDict`` of named modules. Index it (``seq[0]``, ``seq[1:]``),
    ``len()``, ``append()``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def get_config(self):
        return {"layers": [describe(m) for m in self._modules.values()],
                "names": list(self._modules)}

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        setattr(self, name, module)

    def __delitem__(self, index):
        names = list(self._modules)
        for name in (names[index] if isinstance(index, slice) else [names[index]]):
            del self._modules[name]
            object.__delattr__(self, name)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``; the layers are renumbered."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        for name in list(self._modules):
            del self._modules[name]
            object.__delattr__(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (index, iterate, append)."""

    def __init__(self, modules=None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def get_config(self):
        return {"modules": [describe(m) for m in self._modules.values()]}

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        for name in list(self._modules):
            del self._modules[name]
            object.__delattr__(self, name)
        self.extend(modules)

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        return values[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
