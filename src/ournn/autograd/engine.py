"""The backward pass: one iterative topological sort, then one sweep in reverse.

No recursion (a chain of 100,000 ops is fine), every node visited once, each node's output
gradients summed before its ``backward`` runs, saved arrays released right after.
"""
from ..backend import get_array_module
from ..errors import GraphError, ShapeError


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
    if g.shape != tensor.data.shape:
        raise ShapeError(f"{type(node).__name__}.backward returned a gradient of shape {g.shape} "
                         f"for an input of shape {tensor.data.shape}")
    if g.dtype != tensor.data.dtype:
        g = g.astype(tensor.data.dtype)
    return g


def backward(tensor, gradient=None, retain_graph=False):
    """Accumulate d(tensor)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
    if not tensor.requires_grad:
        raise GraphError("backward() called on a tensor that does not require grad "
                         "(no input of the computation had requires_grad=True)")
    xp = get_array_module(tensor.data)
    if gradient is None:
        if tensor.data.size != 1:
            raise GraphError(f"backward() without a gradient needs a scalar output, got shape "
                             f"{tensor.data.shape}; pass gradient= of that shape (or call .sum())")
        gradient = xp.ones_like(tensor.data)
    else:
        gradient = xp.array(getattr(gradient, "data", gradient), dtype=tensor.data.dtype)
        if gradient.shape != tensor.data.shape:
            raise ShapeError(f"backward(): gradient of shape {gradient.shape} given for a tensor of "
                             f"shape {tensor.data.shape}")

    root = tensor._ctx
    if root is None:  # a leaf
        tensor.grad = gradient if tensor.grad is None else tensor.grad + gradient
        return

    order = _topological_order(root)
    pending = {root: [None] * root.n_outputs}
    pending[root][tensor._out_index] = gradient
    for node in reversed(order):
        grads = pending.pop(node, None)
        if grads is None:
            continue
        if node.n_outputs == 1:
            grads_in = node.backward(node, grads[0])
        else:
            grads = [g if g is not None else xp.zeros(shape, dtype)
                     for g, (shape, dtype) in zip(grads, node.output_meta)]
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
            if g.shape != t.data.shape or g.dtype != t.data.dtype:
                g = _check_grad(node, t, g)
            creator = t._ctx
            if creator is None:
                # Out of place: a gradient array may be shared by several inputs (x + x).
                t.grad = g if t.grad is None else t.grad + g
            else:
                slot = pending.get(creator)
                if slot is None:
                    slot = pending[creator] = [None] * creator.n_outputs
                i = t._out_index
                slot[i] = g if slot[i] is None else slot[i] + g
        if not retain_graph:
            node.__dict__.clear()
            node.inputs = None
