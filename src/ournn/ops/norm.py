"""Batch normalisation (training mode, batch statistics), fused forward and backward.

Memory traffic decides the speed here (a conv activation is tens of MB), so both passes work
on an (N, C, L) view and keep the number of full passes over the data small: per-channel sums
go through ``einsum`` (one read, no temporary), and x_hat is never stored: the centred input
and 1/std are kept instead.
"""
from ..autograd.function import Function
from ..backend import get_array_module


class BatchNorm(Function):
    """Normalise over every axis but the channel axis 1: (N, C) or (N, C, *spatial).

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the batch mean and biased variance,
    which stay on ctx (``batch_mean``, ``batch_var``) for the running statistics."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        xp = get_array_module(x)
        n, c = x.shape[0], x.shape[1]
        x3 = x.reshape(n, c, -1)
        m = x3.shape[0] * x3.shape[2]
        mean = xp.einsum("ncl->c", x3) / x.dtype.type(m)
        centered = x3 - mean[:, None]
        var = xp.einsum("ncl,ncl->c", centered, centered) / x.dtype.type(m)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))
        scale = inv_std if weight is None else inv_std * weight
        out = centered * scale[:, None]
        if bias is not None:
            out += bias[:, None]
        ctx.save_for_backward(centered, inv_std, weight)
        ctx.shape = x.shape
        ctx.batch_mean, ctx.batch_var = mean, var
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        centered, inv_std, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        n, c, l = centered.shape
        m = grad.dtype.type(n * l)
        g3 = grad.reshape(n, c, l)
        gb = xp.einsum("ncl->c", g3)
        g_dot_centered = xp.einsum("ncl,ncl->c", g3, centered)
        gw = g_dot_centered * inv_std                       # sum(grad * x_hat)
        scale = inv_std if weight is None else inv_std * weight
        # dx = scale * (grad - mean(grad) - x_hat * mean(grad * x_hat))
        gx = xp.multiply(centered, (gw * inv_std / m)[:, None])
        xp.subtract(g3, gx, out=gx)
        gx -= (gb / m)[:, None]
        gx *= scale[:, None]
        gx = gx.reshape(ctx.shape)
        if weight is None:
            return gx, None, None
        return gx, gw, gb
