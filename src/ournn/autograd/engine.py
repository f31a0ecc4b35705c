"""The backward pass: one iterative topological sort, then one sweep in reverse.

No recursion (a chain of 100,000 ops is fine), every node visited once, each node's output
gradients summed before its ``backward`` runs, saved arrays released right after.
"""
from ..backend import get_array_module
from ..errors import GraphError, ShapeError
from ..tensor import WRITES, Tensor
from .function import tensor_backward


def _topological_order(root_node):
    """Nodes reachable from ``root_node`` in post-order (inputs before the ops that use them)."""
    order = []
    seen = set()
    stack = [(root_node, False)]
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
                "Call backward(retain_graph=True) the first time if you need to.")
        stack.append((node, True))
        for t in inputs:
            if t is not None and t._ctx is not None and t._ctx not in seen:
                stack.append((t._ctx, False))
    return order


def _check_grad(node, tensor, g):
    if g.shape != tensor._data.shape:
        raise ShapeError(f"{type(node).__name__}.backward returned a gradient of shape {g.shape} "
                         f"for an input of shape {tensor._data.shape}")
    if g.dtype != tensor._data.dtype:
        g = g.astype(tensor._data.dtype)
    return g


def _check_versions(node):
    """Refuse to run ``node.backward`` if an argument or an output it reads was written in
    place since the node was recorded (its arrays may be the ones ``backward`` reads). Free
    unless some tensor was written in place since: then the counters are looked at."""
    epoch = node.epoch
    stale = [c for c in node.__dict__.get("out_counters", ()) if c.last > epoch]
    stale += [a._vc for a in node.args if isinstance(a, Tensor) and a._vc is not None
              and a._vc.last > epoch]
    if stale:
        raise GraphError(
            f"an array needed to compute the gradient of {type(node).__name__} was changed "
            f"by an in-place operation after it was used (now at version {stale[0].n}). Use "
            "an out-of-place op (y = y + 1 instead of y += 1) or .clone() the tensor before "
            "changing it.")


def _accumulate(t, g, handed_out):
    """Add ``g`` to leaf ``t``'s ``.grad``. A gradient array is handed to a leaf only if no one
    else holds it (not a view, writable, not already given to another leaf), so a user's
    in-place change of one ``.grad`` (``p.grad.zero_()``) never reaches another's."""
    old = t._grad
    if old is None:
        if g.base is not None or id(g) in handed_out or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        t._grad = Tensor._make(g)
    else:
        old._data = get_array_module(g).asarray(old._data + g)   # a new array: no write


def backward(tensor, gradient=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
    if not tensor._requires_grad:
        raise GraphError("backward() called on a tensor that does not require grad "
                         "(no input of the computation had requires_grad=True)")
    data = tensor._data
    xp = get_array_module(data)
    if gradient is None:
        if data.size != 1:
            raise GraphError(f"backward() without a gradient needs a scalar output, got shape "
                             f"{data.shape}; pass gradient= of that shape (or call .sum())")
        gradient = xp.ones_like(data)
    else:
        gradient = xp.array(getattr(gradient, "_data", gradient), dtype=data.dtype)
        if gradient.shape != data.shape:
            raise ShapeError(f"backward(): gradient of shape {gradient.shape} given for a tensor of "
                             f"shape {data.shape}")

    handed_out = set()
    root = tensor._ctx
    if root is None:  # a leaf
        _accumulate(tensor, gradient, handed_out)
        return

    order = _topological_order(root)
    pending = {root: [None] * root.n_outputs}
    pending[root][tensor._out_index] = gradient
    for node in reversed(order):
        grads = pending.pop(node, None)
        if grads is None:
            continue
        if WRITES.n != node.epoch:    # something was written in place since it was recorded
            _check_versions(node)
        if node.n_outputs != 1:
            grads = [g if g is not None else xp.zeros(shape, dtype)
                     for g, (shape, dtype) in zip(grads, node.output_meta)]
        if node.tensor_io:
            grads_in = tensor_backward(node, grads)
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
                _accumulate(t, g, handed_out)
            else:
                slot = pending.get(creator)
                if slot is None:
                    slot = pending[creator] = [None] * creator.n_outputs
                i = t._out_index
                slot[i] = g if slot[i] is None else slot[i] + g
        if not retain_graph:
            node.__dict__.clear()
            node.inputs = None
