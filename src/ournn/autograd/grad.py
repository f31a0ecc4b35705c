"""``ournn.autograd.grad``: gradients returned, not accumulated, as ``torch.autograd.grad``."""
from ..errors import GraphError
from ..tensor import Tensor
from .engine import run_backward


def _as_list(x):
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input), as
    ``torch.autograd.grad``; no ``.grad`` is changed.

    Args:
        outputs: a tensor or a sequence of tensors.
        inputs: a tensor or a sequence of tensors that the outputs depend on (leaves or not).
        grad_outputs: one gradient per output (None for a one-element output: ones).
        retain_graph: keep the graph for another backward; default ``create_graph``.
        create_graph: the gradients get a graph of their own (for gradients of gradients).
        allow_unused: an input the outputs do not depend on gives None instead of an error.
        materialize_grads: give zeros instead of None for unused inputs.
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported; "
                                  "call grad once per row of grad_outputs")
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_list(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise ValueError(f"autograd.grad: {len(grad_outputs)} grad_outputs given for "
                             f"{len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise GraphError(f"autograd.grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = run_backward(outputs, grad_outputs, bool(retain_graph), bool(create_graph),
                         targets=inputs)
    result = []
    for i, (t, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if not allow_unused:
                raise GraphError(f"autograd.grad: input {i} (shape {tuple(t.shape)}) was not "
                                 "used to compute the outputs; pass allow_unused=True to get "
                                 "None for it")
            if materialize_grads:
                g = Tensor._make(t._data * 0)
        result.append(g)
    return tuple(result)
