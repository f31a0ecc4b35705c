"""The backward pass: one iterative topological sort, then one sweep in reverse.

No recursion (a chain of 100,000 ops is fine), every node visited once, each node's output
gradients summed before its ``backward`` runs, saved arrays released right after.

Two modes, one sweep:

- **Arrays** (the default, ``create_graph=False``): each op's ``backward`` gets and returns
  NumPy arrays, under no graph; this is the fast path training uses.
- **Tensors** (``create_graph=True``): each op's ``backward`` gets the output gradient as a
  tensor and its saved arrays as the tensors they came from (an input, an output, or a
  constant), and runs with recording on, so the gradients it returns are tensors with their
  own graph and can be differentiated again. The backward code is the same: the ops write it
  against ``xp = get_array_module(grad)``, which is NumPy for arrays and
  ``ournn.ops.tensor_namespace`` (the same functions as differentiable ops) for tensors.
"""
from ..backend import get_array_module
from ..errors import GraphError, ShapeError
from ..tensor import WRITES, Tensor
from .function import _mode, tensor_backward
from .heap import keep_freed_memory

keep_freed_memory()      # the step's gradients from recycled memory (see heap.py: W4 -38%)


class SliceGrad:
    """The gradient of a basic-index slice ``x[index]``, kept lazy: ``zeros(shape)`` with
    ``values`` at ``index``. ``GetItem.backward`` returns one instead of allocating a
    full-size zero array per slice (a loop over ``x[:, t]`` for ``t < T`` cost O(T^2) memory
    traffic that way). Adding gradients (the engine's ``a + b``) turns the first sum into a
    ``GradBuffer`` -- one dense array that only the engine holds -- and adds every later
    slice into it in place, so T slices of one tensor cost one full-size array in all. The
    engine turns what is left lazy into an array (``dense()``) before an op or a leaf sees it.

    A basic index (ints, slices, None, Ellipsis) never names an element twice, so ``+=`` at
    it is exact; slices that overlap each other are added one after the other."""

    __slots__ = ("shape", "dtype", "values", "index")
    __array_ufunc__ = None          # ndarray + SliceGrad -> SliceGrad.__radd__

    def __init__(self, values, shape, index):
        self.values, self.shape, self.index = values, tuple(shape), index
        self.dtype = values.dtype

    def dense(self):
        out = get_array_module(self.values).zeros(self.shape, self.dtype)
        out[self.index] = self.values
        return out

    def astype(self, dtype):
        return self.dense().astype(dtype)

    def __add__(self, other):
        if isinstance(other, GradBuffer):
            return other.__add__(self)
        buf = self.dense()
        if isinstance(other, SliceGrad):
            buf[other.index] += other.values
        else:
            buf += other
        return GradBuffer(buf)

    __radd__ = __add__


class GradBuffer:
    """A sum of gradients in a dense array that no one else holds: later terms are added in
    place (a ``SliceGrad`` only at its index)."""

    __slots__ = ("array",)
    __array_ufunc__ = None

    def __init__(self, array):
        self.array = array

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    def dense(self):
        return self.array

    def astype(self, dtype):
        return self.array.astype(dtype)

    def __add__(self, other):
        if isinstance(other, SliceGrad):
            self.array[other.index] += other.values
        elif isinstance(other, GradBuffer):
            self.array += other.array
        else:
            self.array += other
        return self

    __radd__ = __add__


_LAZY = (SliceGrad, GradBuffer)



def _writeable(g):
    """Whether an array may be written (CuPy's arrays have no such flag: always)."""
    return getattr(g.flags, "writeable", True)

def _topological_order(root_nodes):
    """Nodes reachable from ``root_nodes`` in post-order (inputs before the ops that use them)."""
    order = []
    seen = set()
    stack = [(n, False) for n in root_nodes]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        inputs = node.inputs
        if inputs is None:
            raise GraphError(
                f"Trying to backward through the graph a second time (node {type(node).__name__}): "
                "its saved arrays were freed by the first backward(). "
                "Call backward(retain_graph=True) the first time if you need to. A likely cause: "
                "a hidden state carried across batches without .detach() (truncated BPTT: "
                "detach it between chunks, e.g. ournn.data.repackage_hidden(hidden)).")
        stack.append((node, True))
        for t in inputs:
            if t is not None and t._ctx is not None and t._ctx not in seen:
                stack.append((t._ctx, False))
    return order


def _check_grad(node, tensor, g):
    if g.__class__ in _LAZY:
        g = g.dense()
    if g.shape != tensor._data.shape:
        raise ShapeError(f"{type(node).__name__}.backward returned a gradient of shape "
                         f"{tuple(g.shape)} for an input of shape {tensor._data.shape}")
    if g.dtype != tensor._data.dtype:
        g = g.astype(tensor._data.dtype)
    return g


def _check_versions(node):
    """Refuse to run ``node.backward`` if an argument or an output it reads was written in
    place since the node was recorded (its arrays may be the ones ``backward`` reads)."""
    epoch = node.epoch
    stale = [c for c in node.__dict__.get("out_counters", ()) if c[1] > epoch]
    stale += [a._vc for a in node.args if isinstance(a, Tensor) and a._vc is not None
              and a._vc[1] > epoch]
    if stale:
        raise GraphError(
            f"an array needed to compute the gradient of {type(node).__name__} was changed "
            f"by an in-place operation after it was used (now at version {stale[0][0]}). Use "
            "an out-of-place op (y = y + 1 instead of y += 1) or .clone() the tensor before "
            "changing it.")


def _as_root_grad(tensor, gradient, create_graph):
    data = tensor._data
    xp = get_array_module(data)
    if gradient is None:
        if data.size != 1:
            raise GraphError(f"backward() without a gradient needs a scalar output, got shape "
                             f"{data.shape}; pass gradient= of that shape (or call .sum())")
        g = xp.ones_like(data)
    elif create_graph and isinstance(gradient, Tensor):
        g = gradient if gradient._data.dtype == data.dtype else gradient.to(data.dtype)
    else:
        g = xp.array(getattr(gradient, "_data", gradient), dtype=data.dtype)
    if g.shape != data.shape:
        raise ShapeError(f"backward(): gradient of shape {tuple(g.shape)} given for a tensor "
                         f"of shape {data.shape}")
    if create_graph and not isinstance(g, Tensor):
        g = Tensor._make(g)
    return g


def _run_hooks(hooks, g, create_graph):
    """Tensor hooks see the gradient as a tensor and may return a replacement; the one that
    ``retain_grad`` added runs last, so ``.grad`` holds what the other hooks made of it."""
    ordered = [h for h in hooks if not getattr(h, "_retains_grad", False)]
    ordered += [h for h in hooks if getattr(h, "_retains_grad", False)]
    for hook in ordered:
        wrapped = g if isinstance(g, Tensor) else Tensor._make(g)
        new = hook(wrapped)
        if new is not None:
            g = new if create_graph else getattr(new, "_data", new)
    return g


def _saved_as_tensors(node):
    """``node.saved_tensors`` as tensors in the graph: the input or output each array is, or a
    constant (the op's ``double_backward`` says its backward is right with constants there)."""
    saved = node.__dict__.get("saved_tensors")
    if not saved:
        return None
    inputs = {id(a._data): a for a in node.args if isinstance(a, Tensor)}
    outputs = node.__dict__.get("saved_outputs", {})
    mapped = []
    for k, s in enumerate(saved):
        key = s._data if isinstance(s, Tensor) else s   # a user Function saves tensors
        if k in outputs:
            t = Tensor._make(key)
            t._ctx, t._out_index, t._requires_grad = node, outputs[k], True
        elif id(key) in inputs:
            t = inputs[id(key)]
        elif hasattr(s, "shape") and not isinstance(s, Tensor):
            t = Tensor._make(s)
        else:
            t = s
        mapped.append(t)
    return tuple(mapped)


def _call_backward(node, grads, create_graph):
    if not create_graph:
        if node.tensor_io:
            return tensor_backward(node, grads)
        return node.backward(node, *grads)
    if not node.double_backward:
        raise GraphError(f"{type(node).__name__} does not support gradients of gradients "
                         "(backward with create_graph=True or autograd.grad(create_graph=True)"
                         " through it): its backward is written for arrays only")
    saved = node.__dict__.get("saved_tensors")
    mapped = _saved_as_tensors(node)
    prev = _mode.enabled
    _mode.enabled = True
    try:
        if mapped is not None:
            node.saved_tensors = mapped
        result = node.backward(node, *grads)
    finally:
        _mode.enabled = prev
        if mapped is not None:
            node.saved_tensors = saved
    if not isinstance(result, tuple):
        result = (result,)
    return tuple(r if r is None or isinstance(r, Tensor) else Tensor._make(r) for r in result)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, targets=None):
    """The engine. Gradients of ``roots`` (tensors) given ``root_grads`` (one per root, None
    for a one-element root) flow back through the graph.

    Without ``targets``, they are added to the ``.grad`` of every leaf that requires grad (and
    of tensors that ``retain_grad()``). With ``targets`` (tensors), they are returned instead,
    one per target (None where a target was not reached), and no ``.grad`` changes."""
    pending = {}                  # node -> [gradient per output]
    leaves = {}                   # id(leaf) -> [leaf, summed gradient]
    found = {}                    # index of a non-leaf target -> its gradient
    for tensor, gradient in zip(roots, root_grads):
        if not tensor._requires_grad:
            raise GraphError("backward() called on a tensor that does not require grad "
                             "(no input of the computation had requires_grad=True)")
        g = _as_root_grad(tensor, gradient, create_graph)
        if tensor._ctx is None:
            _add_leaf(leaves, tensor, g)
        else:
            if tensor._ctx.inputs is None:
                _topological_order([tensor._ctx])      # raises: the graph was freed
            slot = pending.setdefault(tensor._ctx, [None] * tensor._ctx.n_outputs)
            i = tensor._out_index
            slot[i] = g if slot[i] is None else slot[i] + g
    target_slots = {}
    if targets is not None:
        for k, t in enumerate(targets):
            if t._ctx is not None:
                target_slots.setdefault((t._ctx, t._out_index), []).append(k)

    order = _topological_order(list(pending)) if pending else []
    for node in reversed(order):
        grads = pending.pop(node, None)
        if grads is None:
            continue
        for k, g in enumerate(grads):
            if g.__class__ in _LAZY:
                grads[k] = g.dense()
        if WRITES.n != node.epoch:    # something was written in place since it was recorded
            _check_versions(node)
        if "tensor_hooks" in node.__dict__:
            for i, fns in node.tensor_hooks.items():
                if grads[i] is not None:
                    grads[i] = _run_hooks(fns, grads[i], create_graph)
        if target_slots:
            for i, g in enumerate(grads):
                for k in target_slots.get((node, i), ()):
                    found[k] = g
        if node.n_outputs != 1:
            like = next(g for g in grads if g is not None)
            grads = [g if g is not None else _zeros(like, shape, dtype, create_graph)
                     for g, (shape, dtype) in zip(grads, node.output_meta)]
        if create_graph or node.tensor_io:
            grads_in = _call_backward(node, grads, create_graph)
        elif node.n_outputs == 1:
            grads_in = node.backward(node, grads[0])
        else:
            grads_in = node.backward(node, *grads)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        inputs = node.inputs
        if len(grads_in) != len(inputs):
            raise GraphError(f"{type(node).__name__}.backward returned {len(grads_in)} gradients "
                             f"for {len(inputs)} inputs")
        for t, g in zip(inputs, grads_in):
            if t is None or g is None:
                continue
            tdata = t._data
            if g.shape != tdata.shape or g.dtype != tdata.dtype:
                g = _check_grad(node, t, g)
            creator = t._ctx
            if creator is None:
                _add_leaf(leaves, t, g)
            else:
                slot = pending.get(creator)
                if slot is None:
                    slot = pending[creator] = [None] * creator.n_outputs
                i = t._out_index
                slot[i] = g if slot[i] is None else slot[i] + g
        if not retain_graph:
            node.__dict__.clear()
            node.inputs = None

    if targets is not None:
        index = {id(t): k for k, t in enumerate(targets) if t._ctx is None}
        for leaf, g in leaves.values():
            if g.__class__ in _LAZY:
                g = g.dense()
            g = _run_hooks(leaf._hooks, g, create_graph) if leaf._hooks else g
            if id(leaf) in index:
                found[index[id(leaf)]] = g
        return [_as_result(found.get(k), create_graph) for k in range(len(targets))]
    handed_out = set()
    for leaf, g in leaves.values():
        if g.__class__ in _LAZY:
            g = g.dense()
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g, create_graph)
        _accumulate(leaf, g, handed_out, create_graph)
    return None


def _zeros(like, shape, dtype, create_graph):
    """The gradient of an output nothing used: zeros (a constant tensor with a graph)."""
    z = get_array_module(getattr(like, "_data", like)).zeros(shape, dtype)
    return Tensor._make(z) if create_graph else z


def _as_result(g, create_graph):
    if g is None or isinstance(g, Tensor):
        return g
    return Tensor._make(g.copy() if g.base is not None or not _writeable(g) else g)


def _add_leaf(leaves, t, g):
    entry = leaves.get(id(t))
    if entry is None:
        leaves[id(t)] = [t, g]
    else:
        entry[1] = entry[1] + g


def _accumulate(t, g, handed_out, create_graph=False):
    """Add ``g`` to leaf ``t``'s ``.grad``. A gradient array is handed to a leaf only if no one
    else holds it (not a view, writable, not already given to another leaf), so a user's
    in-place change of one ``.grad`` (``p.grad.zero_()``) never reaches another's."""
    old = t._grad
    if create_graph or isinstance(g, Tensor):
        g = g if isinstance(g, Tensor) else Tensor._make(g)
        t._grad = g if old is None else old + g
        return
    if old is None:
        if g.base is not None or id(g) in handed_out or not _writeable(g):
            g = g.copy()
        handed_out.add(id(g))
        t._grad = Tensor._make(g)
    else:
        old._data = get_array_module(g).asarray(old._data + g)   # a new array: no write


def backward(tensor, gradient=None, retain_graph=False, create_graph=False):
    """Accumulate d(tensor)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
    run_backward([tensor], [gradient], retain_graph, create_graph)


def tensor_backward_method(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Compute gradients of this tensor w.r.t. every leaf that requires grad, adding them
    to their ``.grad``.

    ``gradient`` is dLoss/dSelf; it may be omitted for a one-element tensor. The graph is
    freed afterwards unless ``retain_graph=True`` (the default when ``create_graph``).
    ``create_graph=True`` makes the gradients tensors with a graph of their own, so they
    can be differentiated again. ``inputs``: only these tensors' ``.grad`` change."""
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward([self], [gradient], bool(retain_graph), bool(create_graph))
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    grads = run_backward([self], [gradient], bool(retain_graph), bool(create_graph),
                         targets=inputs)
    for t, g in zip(inputs, grads):
        if g is not None:
            t._grad = g if t._grad is None else t._grad + g


# ``t.backward()`` is this module's (installed here, so that tensor.py needs no import of the
# engine above it)
Tensor.backward = tensor_backward_method
