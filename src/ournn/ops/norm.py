"""Batch normalisation (training mode, batch statistics), fused forward and backward."""
from ..autograd.function import Function
from ..backend import get_array_module


class BatchNorm(Function):
    """Normalise over every axis but the channel axis 1: (N, C) or (N, C, H, W).

    Returns the output and (as plain arrays on ctx) the batch mean and biased variance,
    which the layer uses to update its running statistics."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
        x_hat = centered * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.axes, ctx.bshape = axes, bshape
        ctx.batch_mean, ctx.batch_var = mean.reshape(-1), var.reshape(-1)
        out = x_hat
        if weight is not None:
            out = out * weight.reshape(bshape) + bias.reshape(bshape)
        return out

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight = ctx.saved_tensors
        axes, bshape = ctx.axes, ctx.bshape
        gw = (grad * x_hat).sum(axis=axes)
        gb = grad.sum(axis=axes)
        g_hat = grad * weight.reshape(bshape) if weight is not None else grad
        n = x_hat.size // x_hat.shape[1]
        # dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))
        mean_g = g_hat.sum(axis=axes, keepdims=True) / n
        mean_gx = (g_hat * x_hat).sum(axis=axes, keepdims=True) / n
        gx = inv_std * (g_hat - mean_g - x_hat * mean_gx)
        if weight is None:
            return gx, None, None
        return gx, gw, gb
