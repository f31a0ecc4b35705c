"""The structure of one forward pass: which modules ran, nested how, on what shapes, and every
op (``Function`` node) they applied, with its arguments and outputs.

Two ways to get a ``Trace``:

* ``trace(model)``, a context manager, records as the pass runs::

      with ournn.tracing.trace(model) as tr:
          y = model(x)
      for call in tr.modules:        # ModuleCall: name, module, depth, input/output shapes
          ...
      for op in tr.ops:              # OpCall: its Function, args, outputs, enclosing module
          ...

  ``trace_model(model, x)`` does the same for one call of ``model`` in eval mode, without
  recording the autograd graph (both restored afterwards).

  Nothing is patched: ``Module.__call__`` and ``Function.apply`` each check one list
  (``ournn.autograd.function.TRACERS``) and, while a recorder is in it, tell it where each call
  starts and ends and which op ran; with no recorder the check is the whole cost. Ops are
  recorded as they are applied, so inputs that do not require grad and ``no_grad()`` blocks are
  seen too, as is arithmetic a subclassed ``forward`` does between its layers (the ``+`` of a
  residual block, a ``reshape``, a ``cat``). Only the thread that opened the trace is recorded.

* ``trace_graph(output)`` reads back the autograd graph that produced ``output`` (after the
  pass, before ``backward()`` frees it): the ops that take part in autograd, from the output
  back to the leaves, as ``grad_fn.next_functions`` walks it.

This module depends only on the tensor and autograd floors; ``ournn.viz`` (summary, graphs,
feature maps) and the studio's shape check are built on it.
"""
import threading

from .autograd.function import TRACERS, set_grad_enabled
from .errors import GraphError
from .tensor import Tensor

__all__ = ["ModuleCall", "OpCall", "Trace", "trace", "trace_graph", "trace_model", "tensors"]


def tensors(obj):
    """The Tensors in a nested tuple/list/dict, in order."""
    out, stack = [], [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            out.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))
    return out


def _shapes(ts):
    return [tuple(t._data.shape) for t in ts]


class ModuleCall:
    """One call of a module during the traced pass.

    Attributes: ``module``; ``name``, its dotted path in the traced model (``""`` for the model
    itself, None for a module outside it); ``call``, 1 for the module's first call in the pass,
    2 for its second...; ``parent`` (the enclosing ModuleCall or None), ``children`` and
    ``depth``; ``args``/``kwargs`` as passed; ``inputs`` (the Tensors among them) and
    ``outputs`` (the Tensors of ``output``, the value returned, after forward hooks);
    ``ops``, the ops applied directly in this call (not in a child call); ``error``, the
    exception that left the call, if one did; ``start``/``end``, the order of its start and end
    among all calls; ``output_arrays``, copies of the output arrays when the trace was made with
    ``copy_outputs=True``."""

    __slots__ = ("module", "name", "call", "parent", "children", "depth", "args", "kwargs",
                 "inputs", "output", "outputs", "ops", "error", "start", "end",
                 "output_arrays")

    def __init__(self, module, name, call, parent, args, kwargs, start):
        self.module, self.name, self.call, self.parent = module, name, call, parent
        self.depth = 0 if parent is None else parent.depth + 1
        self.args, self.kwargs = args, kwargs
        self.inputs = tensors((args, kwargs))
        self.children, self.ops = [], []
        self.output, self.outputs, self.error = None, [], None
        self.start, self.end, self.output_arrays = start, None, None

    @property
    def type(self):
        """The module's class name (``Conv2d``)."""
        return type(self.module).__name__

    @property
    def is_leaf(self):
        """True for a module without registered submodules (a layer, not a container)."""
        return not any(True for _ in self.module.children())

    @property
    def input_shapes(self):
        return _shapes(self.inputs)

    @property
    def output_shapes(self):
        return _shapes(self.outputs)

    def num_params(self, recurse=True):
        """Number of parameter elements of the module (its own only when ``recurse=False``)."""
        return sum(p.numel() for p in self.module.parameters(recurse=recurse))

    def all_ops(self):
        """The ops of this call and of every call nested in it, in the order they ran."""
        out, stack = [], [self]
        while stack:
            c = stack.pop()
            out.extend(c.ops)
            stack.extend(c.children)
        return sorted(out, key=lambda op: op.index)

    def __repr__(self):
        label = self.name if self.name else type(self.module).__name__
        return (f"<ModuleCall {label} ({self.type}) call {self.call}: "
                f"{self.input_shapes} -> {self.output_shapes}>")


class OpCall:
    """One op applied during the pass (or read back from the autograd graph).

    Attributes: ``index`` (its order), ``node`` (the ``Function`` instance: ``grad_fn`` of its
    outputs when the graph was recorded), ``args``/``kwargs`` as passed to ``apply``,
    ``inputs`` (the Tensors among ``args``; from ``trace_graph``, the node's ``inputs``:
    ``None`` for a constant), ``outputs`` (Tensors), ``module`` (the innermost ModuleCall
    running it, None between or outside modules)."""

    __slots__ = ("index", "node", "args", "kwargs", "inputs", "outputs", "module")

    def __init__(self, index, node, args, kwargs, inputs, outputs, module):
        self.index, self.node, self.args, self.kwargs = index, node, args, kwargs
        self.inputs, self.outputs, self.module = inputs, outputs, module

    @property
    def type(self):
        """The op's ``Function`` class name (``Linear``, ``Add``, ``Reshape``)."""
        return type(self.node).__name__

    @property
    def input_shapes(self):
        return [None if t is None else tuple(t._data.shape) for t in self.inputs]

    @property
    def output_shapes(self):
        return _shapes(self.outputs)

    def __repr__(self):
        return f"<OpCall {self.type}: {self.input_shapes} -> {self.output_shapes}>"


class Trace:
    """What one pass did: ``modules`` (ModuleCalls in the order they started), ``roots`` (the
    outermost calls), ``ops`` (OpCalls in the order they ran); ``error`` and ``failed`` when
    the pass raised. ``output`` is set by ``trace_model``."""

    def __init__(self, model=None):
        self.model = model
        self.modules, self.roots, self.ops = [], [], []
        self.error = None
        self.output = None
        self._names = {} if model is None else {id(m): n for n, m in model.named_modules()}
        self._param_names = None
        self._made_by = {}       # id(tensor) -> the last OpCall that output it

    # ----- queries -----
    def leaves(self):
        """Calls of modules without submodules (the layers), in the order they ended."""
        return sorted((c for c in self.modules if c.is_leaf), key=lambda c: c.end or 0)

    def calls_of(self, module):
        """The calls of ``module``, in order."""
        return [c for c in self.modules if c.module is module]

    def producer(self, t):
        """The OpCall that output tensor ``t`` (the last one, if several did), or None for an
        input, a parameter or a tensor made outside any op."""
        return self._made_by.get(id(t))

    @property
    def failed(self):
        """The calls the exception passed through, innermost first ([] if none raised)."""
        if self.error is None:
            return []
        hit = [c for c in self.modules if c.error is self.error]
        return sorted(hit, key=lambda c: -c.depth)

    def parameter_name(self, t):
        """The dotted name of parameter ``t`` in the traced model, or None."""
        if self._param_names is None:
            self._param_names = {} if self.model is None else {
                id(p): n for n, p in self.model.named_parameters()}
        return self._param_names.get(id(t))

    def __repr__(self):
        return f"<Trace: {len(self.modules)} module calls, {len(self.ops)} ops>"


class _Recorder:
    """Receives the calls of ``Module.__call__`` and ``Function.apply`` while in ``TRACERS``."""

    def __init__(self, tr, copy_outputs):
        self.trace = tr
        self.thread = threading.get_ident()
        self.stack = []
        self.counts = {}
        self.ticks = 0
        self.copy_outputs = copy_outputs

    def enter(self, module, args, kwargs):
        if threading.get_ident() != self.thread:
            return None
        tr = self.trace
        n = self.counts[id(module)] = self.counts.get(id(module), 0) + 1
        parent = self.stack[-1] if self.stack else None
        self.ticks += 1
        call = ModuleCall(module, tr._names.get(id(module)), n, parent, args, kwargs,
                          self.ticks)
        (parent.children if parent is not None else tr.roots).append(call)
        tr.modules.append(call)
        self.stack.append(call)
        return call

    def exit(self, call, output, error):
        if call is None:
            return
        while self.stack and self.stack.pop() is not call:
            pass
        self.ticks += 1
        call.end = self.ticks
        if error is not None:
            call.error = error
            return
        call.output = output
        call.outputs = tensors(output)
        if self.copy_outputs:
            call.output_arrays = [t._data.copy() for t in call.outputs]

    def op(self, node, args, kwargs, outputs):
        if threading.get_ident() != self.thread:
            return
        tr = self.trace
        module = self.stack[-1] if self.stack else None
        rec = OpCall(len(tr.ops), node, args, kwargs,
                     [a for a in args if isinstance(a, Tensor)], list(outputs), module)
        tr.ops.append(rec)
        if module is not None:
            module.ops.append(rec)
        for o in outputs:
            tr._made_by[id(o)] = rec


class trace:
    """``with trace(model) as tr:`` records every module call and op of the passes run inside
    (``model`` only names the modules and parameters; any module called is recorded).
    ``copy_outputs=True`` keeps a copy of each call's output arrays as they were when it
    returned. An exception leaving the block is recorded in ``tr.error`` (the calls it left:
    ``tr.failed``) and propagates. Traces nest; each sees everything run inside it."""

    def __init__(self, model=None, copy_outputs=False):
        self.trace = Trace(model)
        self._recorder = _Recorder(self.trace, copy_outputs)

    def __enter__(self):
        TRACERS.append(self._recorder)
        return self.trace

    def __exit__(self, exc_type, exc, tb):
        TRACERS.remove(self._recorder)
        if exc is not None:
            self.trace.error = exc
        return False


class _mode:
    """Eval (or train) mode for the duration, then the model's own mode back."""

    def __init__(self, model, train):
        self.model, self.train = model, train

    def __enter__(self):
        self.was = self.model.training
        self.model.train(self.train)

    def __exit__(self, *exc):
        self.model.train(self.was)
        return False


def trace_model(model, *inputs, train=False, grad=False, copy_outputs=False, **kwargs):
    """Call ``model(*inputs, **kwargs)`` once and return its ``Trace`` (``tr.output`` is the
    result). The model runs in eval mode unless ``train``, and without recording the autograd
    graph unless ``grad``; its own mode is restored. Arrays are accepted as inputs."""
    inputs = tuple(i if isinstance(i, Tensor) or not hasattr(i, "shape") else Tensor(i)
                   for i in inputs)
    with _mode(model, train), set_grad_enabled(grad), trace(model, copy_outputs) as tr:
        tr.output = model(*inputs, **kwargs)
    return tr


def trace_graph(output):
    """The ops of the autograd graph that produced ``output`` (a Tensor or a nested sequence
    of them), read back through each node's inputs, as a ``Trace`` without module calls.

    ``ops`` are in the order a depth-first walk from the outputs meets them (an op before the
    ops that made its inputs); each ``OpCall.inputs`` is the node's ``inputs`` (None for a
    constant) and ``outputs`` lists the tensors of the graph it made. Raises ``GraphError``
    when ``backward()`` has freed the graph."""
    tr = Trace()
    seen = {}

    def visit(node, t):
        rec = seen.get(node)
        if rec is None:
            inputs = getattr(node, "inputs", None)
            if inputs is None:
                raise GraphError(f"the graph was freed by backward() (at op "
                                 f"{type(node).__name__}); read it before calling backward(), "
                                 "or call backward(retain_graph=True)")
            rec = seen[node] = OpCall(None, node, getattr(node, "args", ()), {},
                                      list(inputs), [], None)
            stack.append(rec)
        if not any(o is t for o in rec.outputs):
            rec.outputs.append(t)
            tr._made_by[id(t)] = rec

    stack = []
    for t in tensors(output):
        if t._ctx is not None:
            visit(t._ctx, t)
    while stack:      # iterative: a graph may be far deeper than Python's recursion limit
        rec = stack.pop()
        rec.index = len(tr.ops)
        tr.ops.append(rec)
        for t in rec.inputs:
            if t is not None and t._ctx is not None:
                visit(t._ctx, t)
    return tr
