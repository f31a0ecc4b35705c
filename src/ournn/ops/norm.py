"""Batch normalisation (training mode, batch statistics), fused forward and backward.

Memory traffic decides the speed here (a conv activation is tens of MB), so both passes work
on an (N, C, L) view and keep the number of full passes over the data small: per-channel sums
go through ``einsum`` (one read, no temporary), and x_hat is never stored: the centred input
and 1/std are kept instead.

Gradients of gradients (backward on tensors) need the statistics as functions of the input,
not as the constants kept for the fast path: there each backward recomputes them from the
input with recorded ops (the input is saved alongside for that).
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor


class BatchNorm(Function):
    """Normalise over every axis but the channel axis 1: (N, C) or (N, C, *spatial).

    y = (x - mean) / sqrt(var + eps) * weight + bias, with the batch mean and biased variance.
    Three outputs: y, and the batch mean and variance (C,) it used, from which
    ``F.batch_norm`` updates the running statistics (the only place they are computed).
    Their gradients are honoured too (1/m, and 2 (x - mean) / m), added only when not zero."""

    double_backward = True

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
        ctx.save_for_backward(centered, inv_std, weight, x)
        ctx.shape, ctx.eps = x.shape, eps
        return out.reshape(x.shape), mean, var

    @staticmethod
    def backward(ctx, grad, grad_mean, grad_var):
        centered, inv_std, weight, x = ctx.saved_tensors
        if isinstance(grad, Tensor):       # gradients of gradients: statistics from x
            return _batch_norm_backward_tensors(ctx, grad, grad_mean, grad_var, x, weight)
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
        if grad_mean.any() or grad_var.any():      # the statistics outputs were used
            gx += (grad_mean / m)[:, None] + centered * (grad_var * (2 / m))[:, None]
        gx = gx.reshape(ctx.shape)
        if weight is None:
            return gx, None, None
        return gx, gw, gb


def _batch_norm_backward_tensors(ctx, grad, grad_mean, grad_var, x, weight):
    """BatchNorm's backward with recorded ops, the statistics recomputed from the input."""
    n, c = x.shape[0], x.shape[1]
    x3 = x.reshape(n, c, -1)
    m = float(n * x3.shape[2])
    centered = x3 - x3.mean(axis=(0, 2))[:, None]
    var = (centered * centered).mean(axis=(0, 2))
    inv_std = (var + ctx.eps) ** -0.5
    x_hat = centered * inv_std[:, None]
    g3 = grad.reshape(n, c, -1)
    gb = g3.sum(axis=(0, 2))
    gw = (g3 * x_hat).sum(axis=(0, 2))
    scale = inv_std if weight is None else inv_std * weight
    gx = (g3 - (gb / m)[:, None] - x_hat * (gw / m)[:, None]) * scale[:, None]
    if grad_mean._data.any() or grad_var._data.any():
        gx = gx + (grad_mean / m)[:, None] + centered * (grad_var * (2 / m))[:, None]
    gx = gx.reshape(ctx.shape)
    if weight is None:
        return gx, None, None
    need_x, need_w, need_b = ctx.needs_input_grad
    return gx, gw if need_w else None, gb if need_b else None


def _normalize_rows(x2, eps):
    """x2 (M, D) -> (x_hat, 1/std (M, 1)) over the last axis, biased variance."""
    xp = get_array_module(x2)
    d = x2.dtype.type(x2.shape[1])
    mean = x2.sum(axis=1, keepdims=True) / d
    centered = x2 - mean
    var = xp.einsum("md,md->m", centered, centered)[:, None] / d
    inv_std = 1 / xp.sqrt(var + x2.dtype.type(eps))
    centered *= inv_std
    return centered, inv_std


def _normalize_rows_backward(g2, x_hat, inv_std):
    """Gradient of x_hat = (x - mean) / std over the last axis of (M, D) rows."""
    xp = get_array_module(g2)
    d = g2.dtype.type(g2.shape[1])
    mean_g = g2.sum(axis=1, keepdims=True) / d
    mean_gx = xp.einsum("md,md->m", g2, x_hat)[:, None] / d
    return (g2 - mean_g - x_hat * mean_gx) * inv_std


def _normalize_rows_tensors(x2, eps):
    """``_normalize_rows`` with recorded ops, for a backward on tensors: (x_hat, 1/std)."""
    centered = x2 - x2.mean(axis=1, keepdims=True)
    inv_std = ((centered * centered).mean(axis=1, keepdims=True) + eps) ** -0.5
    return centered * inv_std, inv_std


class LayerNorm(Function):
    """Normalise over the last ``len(weight.shape)`` (or ``n_dims``) axes, then scale and
    shift elementwise: as ``torch.nn.functional.layer_norm``."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, n_dims=1, eps=1e-5):
        lead = x.shape[:x.ndim - n_dims]
        m = 1
        for s in lead:
            m *= s
        x_hat, inv_std = _normalize_rows(x.reshape(m, -1), eps)
        out = x_hat
        if weight is not None:
            out = out * weight.reshape(1, -1).astype(x.dtype, copy=False)
        if bias is not None:
            out = out + bias.reshape(1, -1).astype(x.dtype, copy=False)
        ctx.save_for_backward(x_hat, inv_std, weight, x)
        ctx.shape, ctx.has_bias, ctx.eps = x.shape, bias is not None, eps
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight, x = ctx.saved_tensors
        if isinstance(x, Tensor):       # gradients of gradients: x_hat as a function of x
            x_hat, inv_std = _normalize_rows_tensors(x.reshape(x_hat.shape), ctx.eps)
        g2 = grad.reshape(x_hat.shape)
        need_x, need_w, need_b = ctx.needs_input_grad
        gw = gb = gx = None
        if weight is not None and need_w:
            gw = (g2 * x_hat).sum(axis=0).reshape(weight.shape)
        if ctx.has_bias and need_b:
            gb = g2.sum(axis=0).reshape(weight.shape if weight is not None else (-1,))
        if need_x:
            gxh = g2 if weight is None else g2 * weight.reshape(1, -1)
            gx = _normalize_rows_backward(gxh, x_hat, inv_std).reshape(ctx.shape)
        return gx, gw, gb


class GroupNorm(Function):
    """Normalise (N, C, *) input over each group of C / G channels and the spatial axes,
    then scale and shift per channel: as ``torch.nn.functional.group_norm``."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups=1, eps=1e-5):
        n, c = x.shape[0], x.shape[1]
        x_hat, inv_std = _normalize_rows(x.reshape(n * num_groups, -1), eps)
        out = x_hat.reshape(n, c, -1)
        if weight is not None:
            out = out * weight.astype(x.dtype, copy=False)[:, None]
        if bias is not None:
            out = out + bias.astype(x.dtype, copy=False)[:, None]
        ctx.save_for_backward(x_hat, inv_std, weight, x)
        ctx.shape, ctx.has_bias, ctx.eps = x.shape, bias is not None, eps
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, inv_std, weight, x = ctx.saved_tensors
        if isinstance(x, Tensor):       # gradients of gradients: x_hat as a function of x
            x_hat, inv_std = _normalize_rows_tensors(x.reshape(x_hat.shape), ctx.eps)
        n, c = ctx.shape[0], ctx.shape[1]
        g3 = grad.reshape(n, c, -1)
        need_x, need_w, need_b = ctx.needs_input_grad
        gw = gb = gx = None
        if weight is not None and need_w:
            gw = (g3 * x_hat.reshape(n, c, -1)).sum(axis=(0, 2))
        if ctx.has_bias and need_b:
            gb = g3.sum(axis=(0, 2))
        if need_x:
            gxh = g3 if weight is None else g3 * weight[:, None]
            gx = _normalize_rows_backward(gxh.reshape(x_hat.shape), x_hat,
                                          inv_std).reshape(ctx.shape)
        return gx, gw, gb
