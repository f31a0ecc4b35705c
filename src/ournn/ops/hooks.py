"""What ``Module.register_full_backward_hook`` and ``register_full_backward_pre_hook`` stand
on, as PyTorch's ``torch.utils.hooks.BackwardHook``.

A module with backward hooks passes its tensor inputs, and then its tensor outputs, through
an identity op (``BackwardHookFunction``), one node for all of them. In the backward pass the
node on the outputs sees every gradient w.r.t. the outputs at once (``grad_output``: the pre
hooks run there and may replace it); the node on the inputs sees the summed gradients w.r.t.
the inputs (``grad_input``: the hooks run there with both, and may replace ``grad_input``).
The identity's backward returns the gradients it was given (or the hooks' replacements), so
it is right on tensors too: gradients of gradients flow through it untouched, and, as in
PyTorch, the hooks are not called again by a backward that reaches the inputs without going
through the outputs (a second-order backward).
"""
import warnings

from ..autograd.function import Function, is_grad_enabled
from ..tensor import Tensor


class BackwardHookFunction(Function):
    """The identity on any number of tensors; its backward hands the gradients to the
    ``BackwardHook`` of the call (``state``) and returns what the hooks make of them."""

    double_backward = True

    @staticmethod
    def forward(ctx, *arrays, state=None, is_input=True):
        ctx.state, ctx.is_input = state, is_input
        return arrays

    @staticmethod
    def backward(ctx, *grads):
        if ctx.is_input:
            return ctx.state.input_grads(grads)
        return ctx.state.output_grads(grads)


def _pack(index, values, n):
    """``values`` (one per tensor in ``index``) spread over ``n`` places, None elsewhere."""
    out = [None] * n
    for i, v in zip(index, values):
        out[i] = v
    return tuple(out)


def _as_tensor(g):
    return g if g is None or isinstance(g, Tensor) else Tensor._make(g)


def _back(g, tensors):
    """A gradient a hook saw (or returned) as the engine wants it: a tensor when the backward
    builds a graph (``tensors``), else its array."""
    if g is None:
        return None
    if tensors:
        return _as_tensor(g)
    return g._data if isinstance(g, Tensor) else g


class BackwardHook:
    """One call of a module with backward hooks: the hooks as they were at the call, which of
    its arguments and outputs are tensors in the graph, and the gradient w.r.t. the outputs
    between the two identity nodes' backwards."""

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = 0
        self.input_index = self.output_index = None

    def _wrap(self, items, is_input):
        """``items`` with the tensors that require grad replaced by the identity's outputs
        (which share their memory and version counter); the index of those tensors, or None
        when there are none (or no graph is recorded)."""
        index = [i for i, t in enumerate(items) if isinstance(t, Tensor) and t._requires_grad]
        if not index or not is_grad_enabled():
            return items, None
        tensors = [items[i] for i in index]
        new = BackwardHookFunction.apply(*tensors, state=self, is_input=is_input)
        items = list(items)
        for i, t, o in zip(index, tensors, new):
            o._version = t._version
            items[i] = o
        return tuple(items), index

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        args, self.input_index = self._wrap(args, True)
        return args

    def setup_output_hook(self, output):
        single = isinstance(output, Tensor)
        if not single and not isinstance(output, tuple):
            return output            # as PyTorch: only a tensor or a tuple is hooked
        items = (output,) if single else output
        self.n_outputs = len(items)
        items, self.output_index = self._wrap(items, False)
        return items[0] if single else items

    def output_grads(self, grads):
        """The backward of the node on the outputs: the pre hooks see (and may replace) the
        gradients w.r.t. the outputs; kept for the hooks at the inputs."""
        tensors = isinstance(grads[0], Tensor)
        self.grad_outputs = _pack(self.output_index, [_as_tensor(g) for g in grads],
                                  self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, self.grad_outputs)
            if result is None:
                continue
            result = (result,) if isinstance(result, Tensor) else tuple(result)
            if len(result) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(result)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = tuple(_as_tensor(g) for g in result)
        local = self.grad_outputs
        if self.input_index is None:     # no input needs a gradient: the hooks run now
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients.")
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                result = hook(self.module, grad_inputs, self.grad_outputs)
                if result is not None and not all(r is None for r in result):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(_back(local[i], tensors) for i in self.output_index)

    def input_grads(self, grads):
        """The backward of the node on the inputs: the hooks see the gradients w.r.t. the
        inputs and the outputs, and may replace the former."""
        if self.grad_outputs is None:    # reached without passing the outputs' node
            return grads
        tensors = isinstance(grads[0], Tensor)
        result = _pack(self.input_index, [_as_tensor(g) for g in grads], self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, result, self.grad_outputs)
            if out is None:
                continue
            out = (out,) if isinstance(out, Tensor) else tuple(out)
            if len(out) != len(result):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(result)}")
            result = out
        self.grad_outputs = None
        return tuple(_back(result[i], tensors) for i in self.input_index)
