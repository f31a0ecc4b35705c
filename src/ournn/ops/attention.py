"""The attention op: ``scaled_dot_product_attention`` as one node.

``_Attention`` computes ``softmax(q @ k^T * scale + bias) [* dropout mask] @ v``: on the fast
path its backward works on NumPy arrays with the saved probabilities; with
``create_graph=True`` it recomputes the probabilities from the query and key tensors by
composition of differentiable ops, so gradients of gradients are right. The layers built on it
(``MultiheadAttention``) are in ``ournn.nn.attention``.
"""
import math

import numpy as np

from .. import random as _random
from ..autograd.function import Function
from ..backend import get_array_module
from ..errors import ShapeError
from ..tensor import Tensor
from ._util import unbroadcast


def _swap(x):
    return get_array_module(x).swapaxes(x, -1, -2)


class _Attention(Function):
    """``softmax(q @ k^T * scale + bias) * drop @ v`` over the last two dims, any leading
    (broadcast) batch dims. ``bias`` (an additive array, -inf where a key is masked out) and
    ``drop`` (the dropout mask, already scaled by 1/(1-p)) are constants. A row whose keys
    are all masked out gives zeros (as PyTorch's ``scaled_dot_product_attention``)."""

    double_backward = True

    @staticmethod
    def forward(ctx, q, k, v, bias=None, drop=None, scale=1.0):
        xp = get_array_module(q)
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= s.dtype.type(scale)
        if bias is not None:
            if np.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        m = s.max(axis=-1, keepdims=True)
        dead = None
        if bias is not None:
            dead = m == -np.inf
            if dead.any():
                s = xp.where(dead, 0, s)
                m = xp.where(dead, 0, m)
            else:
                dead = None
        s -= m
        xp.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if dead is not None:
            s = xp.where(dead, 0, s)
        p = s
        ctx.save_for_backward(q, k, v, p)
        ctx.bias, ctx.drop, ctx.scale, ctx.dead = bias, drop, scale, dead
        return xp.matmul(p * drop if drop is not None else p, v)

    @staticmethod
    def backward(ctx, grad):
        q, k, v, p = ctx.saved_tensors
        drop, scale = ctx.drop, ctx.scale
        if isinstance(grad, Tensor):
            p = _probabilities(q, k, ctx.bias, ctx.dead, scale)
        elif not grad.flags.c_contiguous:
            grad = get_array_module(grad).ascontiguousarray(grad)
        xp = get_array_module(grad)
        needs = ctx.needs_input_grad
        gq = gk = gv = None
        pd = p * drop if drop is not None else p
        if needs[2]:
            gv = unbroadcast(xp.matmul(_swap(pd), grad), v.shape)
        if needs[0] or needs[1]:
            dp = xp.matmul(grad, _swap(v))
            if drop is not None:
                dp = dp * drop
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
            ds = ds * ds.dtype.type(scale)
            if needs[0]:
                gq = unbroadcast(xp.matmul(ds, k), q.shape)
            if needs[1]:
                gk = unbroadcast(xp.matmul(_swap(ds), q), k.shape)
        return gq, gk, gv


def _probabilities(q, k, bias, dead, scale):
    """The attention probabilities from tensors ``q`` and ``k``, by composition (for
    gradients of gradients)."""
    xp = get_array_module(q, k)
    s = xp.matmul(q, _swap(k)) * scale
    if bias is not None:
        s = s + bias
    if dead is not None:
        s = xp.where(dead, s.dtype.type(0), s)
    m = s._data.max(axis=-1, keepdims=True)
    e = xp.exp(s - m)
    p = e / e.sum(axis=-1, keepdims=True)
    if dead is not None:
        p = xp.where(dead, p.dtype.type(0), p)
    return p


def _as_tensor(x, name):
    if isinstance(x, Tensor):
        return x
    return Tensor(np.asarray(x))


def attention_bias(attn_mask, dtype, name="attn_mask"):
    """An attention mask as an additive array: boolean (True = takes part) -> 0 / -inf,
    float -> as it is. None stays None."""
    if attn_mask is None:
        return None
    m = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    if m.dtype == np.bool_:
        return get_array_module(m).where(m, dtype.type(0), dtype.type(-np.inf))
    if m.dtype.kind != "f":
        raise TypeError(f"{name}: expected a boolean or floating mask, got dtype {m.dtype}")
    return m.astype(dtype, copy=False)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value`` as ``torch.nn.functional.
    scaled_dot_product_attention``: query (..., L, E), key (..., S, E), value (..., S, Ev)
    -> (..., L, Ev). ``attn_mask``: boolean (True = the key takes part) or float (added),
    broadcast to (..., L, S); ``is_causal``: query i sees keys 0..i (top-left aligned);
    ``scale`` defaults to 1/sqrt(E); ``enable_gqa``: key/value with fewer heads (dim -3)
    are shared by groups of query heads. Dropout (``dropout_p``) applies to the
    probabilities whenever it is > 0, as PyTorch (pass 0.0 at evaluation)."""
    q, k, v = (_as_tensor(t, n) for t, n in ((query, "query"), (key, "key"),
                                             (value, "value")))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError("scaled_dot_product_attention: query, key and value need at least "
                         f"2 dims, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError("scaled_dot_product_attention: query (..., L, E), key (..., S, E) "
                         f"and value (..., S, Ev) do not fit: {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hq % hk or v.shape[-3] != hk:
            raise ShapeError(f"scaled_dot_product_attention: with enable_gqa the query's "
                             f"{hq} heads must be a multiple of the key's and value's, got "
                             f"{hk} and {v.shape[-3]}")
        k = k.repeat_interleave(hq // hk, dim=-3)
        v = v.repeat_interleave(hq // hk, dim=-3)
    L, S = q.shape[-2], k.shape[-2]
    dtype = q.dtype
    bias = attention_bias(attn_mask, dtype)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or "
                             "is_causal, not both (as PyTorch)")
        bias = np.where(np.tril(np.ones((L, S), dtype=bool)), dtype.type(0),
                        dtype.type(-np.inf))
    if bias is not None:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        try:
            np.broadcast_shapes(bias.shape, lead + (L, S))
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{tuple(bias.shape)} does not broadcast to {lead + (L, S)}") \
                from None
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    xp = get_array_module(q._data)
    if bias is not None and xp is not np:        # a mask made on the host: to the device once
        from .compat import on_device_of
        bias = on_device_of(bias, q._data)
    drop = None
    if dropout_p > 0:
        drop = _dropout_mask(np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S),
                             dropout_p, dtype, xp)
    return _Attention.apply(q, k, v, bias=bias, drop=drop, scale=scale)


def _dropout_mask(shape, p, dtype, xp=np):
    if p >= 1:
        return xp.zeros(shape, dtype=dtype)
    keep = 1 - p
    rng = _random.get_generator(xp)                 # the device's on a GPU
    return (rng.random(shape, dtype=np.float32) < keep).astype(dtype) * dtype.type(1 / keep)
