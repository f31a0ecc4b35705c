"""``t.to(device)``: a copy on another device, in the graph (its gradient goes back)."""
from ..autograd.function import Function
from ..device import device_of, to_device


class ToDevice(Function):
    """The input copied to ``device``; backward copies the gradient back to the input's."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx, grad):
        if not hasattr(grad, "_data"):
            return to_device(grad, ctx.source), None
        return ToDevice.apply(grad, ctx.source), None    # create_graph: in the graph
