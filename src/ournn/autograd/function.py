"""``Function``: one differentiable op, its forward and backward side by side.

Every op in ournn is a subclass, and a user's custom op is written exactly the same way::

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):              # x: a tensor outside the graph
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):          # grad: dLoss/dOutput, of the output's shape
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * grad      # one gradient per input (None for a constant)

    y = Cube.apply(t)                     # t is a Tensor; y is a Tensor in the graph

``forward`` receives the inputs and returns the output(s); ``backward`` receives one gradient
per output and returns one per input (None for a constant). A Function written outside ournn,
like the one above or one brought from PyTorch, sees tensors (outside the graph) in both, as
PyTorch's does, so ``input.clamp(min=0)`` and ``grad.clone()`` work and NumPy functions work
too; ournn's own ops see NumPy arrays (``tensor_io = False``), which saves the wrapping on the
hot path. The backward pass builds no graph: gradients of gradients are not supported yet.

The ``ctx`` is the graph node itself; anything stored on it is freed once backward has used it.
"""
import contextlib
import threading

import numpy as np

from ..backend import get_array_module
from ..tensor import WRITES, Tensor

_ndarray = np.ndarray

# The recorders of ``ournn.tracing`` now active: ``Function.apply`` and ``Module.__call__``
# report to them; while it is empty, checking it is all that tracing costs.
TRACERS = []


class _GradMode(threading.local):
    """Whether ops record the graph, per thread (as in PyTorch): a ``no_grad`` block in one
    thread, say a server answering a prediction, never switches recording off in another that
    is training."""
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    """True unless inside ``no_grad()`` (in this thread)."""
    return _mode.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = None

    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """``with ournn.no_grad():`` records no graph (inference, optimizer updates).

    Also usable as a decorator: ``@ournn.no_grad()``.
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


class Function:
    """Base class of differentiable ops. Subclass it and define ``forward`` and ``backward``.

    Attributes a node carries after ``apply``: ``inputs`` (the input Tensors, ``None`` for
    constants), ``needs_input_grad`` (one bool per input), ``saved_tensors``, ``n_outputs``;
    for the version check: ``args`` (every argument), ``epoch`` (the process's count of
    in-place writes when it was recorded) and ``out_counters`` (the outputs' version counters,
    kept when backward reads an output: ``saves_output``, or an output passed to
    ``save_for_backward``).

    Class attributes: ``is_view``, True for ops whose output may share the input's memory
    (reshape, transpose, basic indexing): such an output shares the input's version counter,
    so an in-place write through either is seen by the graph. ``saves_output``, True for ops
    whose backward reads an output array kept in an attribute (those that keep it through
    ``save_for_backward`` are found without it).
    """

    is_view = False
    saves_output = False
    # Whether backward is right when run on tensors (create_graph=True): it computes only
    # with its arguments, ``ctx.saved_tensors`` (inputs, outputs, or arrays that are
    # constants for the derivative) and ``xp`` functions. Each of ournn's ops says so once
    # checked by gradgradcheck; a user's Function is trusted, as in PyTorch.
    double_backward = False
    # A Function defined outside ournn (a user's, often written for PyTorch) sees tensors in
    # forward and backward, as PyTorch's does; ournn's own ops see arrays (no wrapping cost).
    tensor_io = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "tensor_io" not in cls.__dict__:
            cls.tensor_io = not cls.__module__.startswith("ournn.")
            if cls.tensor_io and "double_backward" not in cls.__dict__:
                cls.double_backward = True

    def save_for_backward(self, *arrays):
        """Keep arrays for ``backward`` (read them back as ``ctx.saved_tensors``)."""
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @property
    def next_functions(self):
        """``((node, output_index), ...)`` for each input, as PyTorch's ``grad_fn``: the op
        that made the input, an ``AccumulateGrad`` for a leaf that requires grad, or
        ``(None, 0)`` for a constant."""
        out = []
        for t in getattr(self, "inputs", None) or ():
            if t is None:
                out.append((None, 0))
            elif t._ctx is not None:
                out.append((t._ctx, t._out_index))
            else:
                out.append((AccumulateGrad(t), 0))
        return tuple(out)

    def name(self):
        return type(self).__name__

    def mark_dirty(self, *tensors):
        """Accepted for PyTorch code; ournn's engine does not need it."""

    def mark_non_differentiable(self, *tensors):
        """Accepted for PyTorch code (integer outputs are outside the graph anyway)."""

    def set_materialize_grads(self, value):
        """Accepted for PyTorch code: missing output gradients are always zeros here."""

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and, if any input needs a gradient,
        record the node in the graph. Returns a Tensor (or a tuple for several outputs)."""
        ctx = cls.__new__(cls)
        needs = [type(a) is not _ndarray and isinstance(a, Tensor) and a._requires_grad
                 for a in args]
        ctx.needs_input_grad = needs
        try:
            if cls.tensor_io:
                out = _unwrap(cls.forward(ctx, *[Tensor._make(a._data) if isinstance(a, Tensor)
                                                else a for a in args], **kwargs))
            else:
                out = cls.forward(ctx, *[a._data if isinstance(a, Tensor) else a
                                         for a in args], **kwargs)
        except (TypeError, ValueError) as e:
            _refuse_two_devices(cls, args, e)
            raise
        make = Tensor._make
        if type(out) is tuple:
            outputs = tuple(make(o) for o in out)
        else:
            outputs = (make(out),)
        if cls.is_view:
            _share_version(args[0], outputs)
        if True in needs and _mode.enabled:
            ctx.inputs = tuple(a if needed else None for a, needed in zip(args, needs))
            ctx.args = args
            ctx.epoch = WRITES.n
            ctx.n_outputs = len(outputs)
            if ctx.n_outputs > 1:
                ctx.output_meta = [(o._data.shape, o._data.dtype) for o in outputs]
            for i, o in enumerate(outputs):
                o._requires_grad = True
                o._ctx = ctx
                o._out_index = i
            saved = ctx.__dict__.get("saved_tensors")
            if saved is not None and (cls.saves_output or cls.tensor_io or type(out) is tuple
                                      or id(out) in map(id, saved)):   # (a C-level scan)
                _note_saved_outputs(ctx, saved, out, outputs)
            elif cls.saves_output:
                _note_saved_outputs(ctx, saved, out, outputs)
        if TRACERS:
            for tracer in TRACERS:
                tracer.op(ctx, args, kwargs, outputs)
        return outputs if type(out) is tuple else outputs[0]


def _refuse_two_devices(cls, args, error):
    """After ``forward`` failed: if its arguments live on two devices, say so (our error,
    naming both), instead of the array library's message. Costs nothing when nothing fails."""
    from ..device import DeviceError, device_of
    found = []
    for a in args:
        array = a._data if isinstance(a, Tensor) else a
        if hasattr(array, "shape") and hasattr(array, "dtype"):
            dev = device_of(array)
            if (dev.type, dev.index) not in [(d.type, d.index) for d in found]:
                found.append(dev)
    if len(found) > 1:
        raise DeviceError(f"{cls.__name__}: expected all tensors on one device, found "
                          f"{found[0]} and {found[1]}; move them with .to(device)") from error


def _unwrap(out):
    """A user Function's result as arrays (tensors unwrapped, lists made tuples)."""
    if isinstance(out, Tensor):
        return out._data
    if isinstance(out, (tuple, list)):
        return tuple(_unwrap(o) for o in out)
    return out


def tensor_backward(node, grads):
    """Run a user Function's backward on tensors and give the engine arrays back."""
    result = node.backward(node, *[Tensor._make(g) for g in grads])
    if isinstance(result, (tuple, list)):
        return tuple(None if r is None else _as_array(r) for r in result)
    return None if result is None else _as_array(result)


def _as_array(r):
    if isinstance(r, Tensor):
        return r._data
    return r if hasattr(r, "shape") else np.asarray(r)


def _note_saved_outputs(ctx, saved, out, outputs):
    """When backward reads an output (kept through ``save_for_backward``, or ``saves_output``):
    keep the outputs' version counters (a later in-place write to an output is then seen) and
    which saved entries are outputs (``saved_outputs``, for gradients of gradients)."""
    raw = out if type(out) is tuple else (out,)       # as forward returned them
    found = None
    if saved:
        for k, s in enumerate(saved):
            key = getattr(s, "_data", s) if type(s) is not _ndarray else s
            for i, r in enumerate(raw):
                if key is r:
                    if found is None:
                        found = {}
                    found[k] = i
    if found is not None or ctx.saves_output:
        ctx.out_counters = [o._version for o in outputs]
        if found is not None:
            ctx.saved_outputs = found


def _share_version(src, outputs):
    """Outputs of a view op that alias ``src``'s memory share its version counter."""
    if not isinstance(src, Tensor):
        return
    a = src._data
    for o in outputs:
        b = o._data
        if b is not a and getattr(b, "base", None) is None:
            continue
        if b is a or get_array_module(a).may_share_memory(a, b):
            o._version = src._version
            o._base = src._base if src._base is not None else src


class AccumulateGrad:
    """The end of a path in the graph: a leaf that requires grad (``variable``), as PyTorch
    shows it in ``grad_fn.next_functions``."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"
