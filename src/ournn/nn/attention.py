"""Attention: ``scaled_dot_product_attention`` as one op, and ``MultiheadAttention``.

``_Attention`` computes ``softmax(q @ k^T * scale + bias) [* dropout mask] @ v`` in one node:
on the fast path its backward works on NumPy arrays with the saved probabilities; with
``create_graph=True`` it recomputes the probabilities from the query and key tensors by
composition of differentiable ops, so gradients of gradients are right.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..errors import ShapeError
from ..ops._util import unbroadcast
from ..tensor import Tensor
from . import functional as F
from . import init
from .config import check_factory, check_float, check_int, reserve
from .linear import Linear
from .module import Module, Parameter, with_dtype


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
        s = np.matmul(q, np.swapaxes(k, -1, -2))
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
                s = np.where(dead, 0, s)
                m = np.where(dead, 0, m)
            else:
                dead = None
        s -= m
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        if dead is not None:
            s = np.where(dead, 0, s)
        p = s
        ctx.save_for_backward(q, k, v, p)
        ctx.bias, ctx.drop, ctx.scale, ctx.dead = bias, drop, scale, dead
        return np.matmul(p * drop if drop is not None else p, v)

    @staticmethod
    def backward(ctx, grad):
        q, k, v, p = ctx.saved_tensors
        drop, scale = ctx.drop, ctx.scale
        if isinstance(grad, Tensor):
            p = _probabilities(q, k, ctx.bias, ctx.dead, scale)
        elif not grad.flags.c_contiguous:
            grad = np.ascontiguousarray(grad)
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
        return np.where(m, dtype.type(0), dtype.type(-np.inf))
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
    drop = None
    if dropout_p > 0:
        drop = _dropout_mask(np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S),
                             dropout_p, dtype)
    return _Attention.apply(q, k, v, bias=bias, drop=drop, scale=scale)


def _dropout_mask(shape, p, dtype):
    from .. import random as _random
    if p >= 1:
        return np.zeros(shape, dtype=dtype)
    keep = 1 - p
    rng = _random.get_generator()
    return (rng.random(shape, dtype=np.float32) < keep).astype(dtype) * dtype.type(1 / keep)


# ---------------------------------------------------------------- MultiheadAttention
class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of ``embed_dim // num_heads`` features, as
    ``torch.nn.MultiheadAttention``, with its parameters (``in_proj_weight`` (3E, E) and
    ``in_proj_bias`` (3E), or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when
    ``kdim``/``vdim`` differ from ``embed_dim``; ``out_proj``; ``bias_k``/``bias_v`` with
    ``add_bias_kv``), so a state_dict moves between ournn and PyTorch.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` -> ``(attn_output, attn_weights)``: inputs
    (L, N, E) (``(N, L, E)`` with ``batch_first``, or unbatched (L, E)). Masks as PyTorch's
    here: a boolean ``attn_mask`` (L, S) or (N*num_heads, L, S) and ``key_padding_mask``
    (N, S) mark with True what may NOT be attended; float masks are added to the scores.
    ``attn_weights`` (N, L, S) averaged over heads, or (N, num_heads, L, S); None when
    ``need_weights=False`` (the faster path)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        embed_dim = check_int("MultiheadAttention", "embed_dim", embed_dim)
        num_heads = check_int("MultiheadAttention", "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads})")
        dropout = check_float("MultiheadAttention", "dropout", dropout, 0.0, 1.0)
        kdim = embed_dim if kdim is None else check_int("MultiheadAttention", "kdim", kdim)
        vdim = embed_dim if vdim is None else check_int("MultiheadAttention", "vdim", vdim)
        dt = check_factory("MultiheadAttention", device, dtype)
        E = embed_dim
        reserve(f"MultiheadAttention({E}, {num_heads})",
                E * (E + kdim + vdim) + (3 * E if bias else 0) +
                (2 * E if add_bias_kv else 0))          # out_proj reserves its own
        super().__init__()
        self.embed_dim, self.num_heads, self.dropout = E, num_heads, dropout
        self.kdim, self.vdim = kdim, vdim
        self.head_dim = E // num_heads
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        self._qkv_same_embed_dim = kdim == E and vdim == E
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dt))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((E, kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((E, vdim), dtype=dt))
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dt)) if bias else None
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype=dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def get_config(self):
        return with_dtype(self, {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                                 "dropout": self.dropout,
                                 "bias": self.in_proj_bias is not None,
                                 "add_bias_kv": self.bias_k is not None,
                                 "add_zero_attn": self.add_zero_attn,
                                 "kdim": self.kdim, "vdim": self.vdim,
                                 "batch_first": self.batch_first})

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"

    def _projections(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                return F.linear(query, w, b).chunk(3, dim=-1)
            wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        name = "MultiheadAttention"
        dt = self.out_proj.weight.dtype
        query, key, value = (_as_tensor(t, n).astype(dt) if _as_tensor(t, n).dtype != dt
                             else _as_tensor(t, n) for t, n in ((query, "query"), (key, "key"),
                                                                (value, "value")))
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{name}: is_causal is a hint that attn_mask is the causal "
                               "mask; pass attn_mask too (as PyTorch), e.g. "
                               "nn.Transformer.generate_square_subsequent_mask(L)")
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"{name}: expected query, key and value of 3 dims (2 unbatched), "
                             f"got {tuple(query.shape)}, {tuple(key.shape)}, "
                             f"{tuple(value.shape)}")
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _array(key_padding_mask)[None]
        # the projections run in the input's own layout (a transposed view would make
        # every matmul of the linear layers take NumPy's slow strided path)
        bf = batched and self.batch_first
        seq, bat = (1, 0) if bf else (0, 1)
        L, N, E = query.shape[seq], query.shape[bat], query.shape[2]
        S = key.shape[seq]
        if E != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim \
                or key.shape[bat] != N or value.shape[:2] != key.shape[:2]:
            layout = "(batch, sequence, features)" if bf else "(sequence, batch, features)"
            raise ShapeError(f"{name}(embed_dim={self.embed_dim}, kdim={self.kdim}, vdim="
                             f"{self.vdim}): query, key and value of shapes "
                             f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
                             f" do not fit {layout}")
        q, k, v = self._projections(query, key, value)
        H, hd = self.num_heads, self.head_dim
        bias = self._mask_bias(attn_mask, key_padding_mask, L, S, N, dt)
        if self.bias_k is not None:
            from ..functions import cat
            shape = (N, 1, E) if bf else (1, N, E)
            k = cat([k, self.bias_k.reshape(1, 1, E).expand(*shape)], dim=seq)
            v = cat([v, self.bias_v.reshape(1, 1, E).expand(*shape)], dim=seq)
            S += 1
            if bias is not None:
                bias = np.concatenate([bias, np.zeros(bias.shape[:-1] + (1,), dt)], -1)
        # -> (N, H, len, hd)
        order = (0, 2, 1, 3) if bf else (1, 2, 0, 3)
        q = q.reshape(*q.shape[:2], H, hd).permute(*order)
        k = k.reshape(*k.shape[:2], H, hd).permute(*order)
        v = v.reshape(*v.shape[:2], H, hd).permute(*order)
        if self.add_zero_attn:
            from ..functions import cat
            k = cat([k, Tensor(np.zeros((N, H, 1, hd), dt))], dim=2)
            v = cat([v, Tensor(np.zeros((N, H, 1, hd), dt))], dim=2)
            S += 1
            if bias is not None:
                bias = np.concatenate([bias, np.zeros(bias.shape[:-1] + (1,), dt)], -1)
        p_drop = self.dropout if self.training else 0.0
        scale = 1 / math.sqrt(hd)
        if need_weights:
            scores = (q * scale) @ k.transpose(-2, -1)
            if bias is not None:
                scores = scores + Tensor(bias)
            weights = F.softmax(scores, dim=-1)
            if p_drop > 0:
                weights = F.dropout(weights, p_drop)
            out = weights @ v
        else:
            drop = _dropout_mask((N, H, L, S), p_drop, dt) if p_drop > 0 else None
            out = _Attention.apply(q, k, v, bias=bias, drop=drop, scale=scale)
            weights = None
        out = out.permute(0, 2, 1, 3).reshape(N, L, E) if bf else \
            out.permute(2, 0, 1, 3).reshape(L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if not batched:
                weights = weights.squeeze(0)
        return out, weights

    def _mask_bias(self, attn_mask, key_padding_mask, L, S, N, dt):
        """attn_mask and key_padding_mask (True = masked out, as PyTorch's here) as one
        additive array broadcasting to (N, H, L, S), or None."""
        name = "MultiheadAttention"
        bias = None
        if attn_mask is not None:
            m = _array(attn_mask)
            if m.dtype == np.bool_:
                m = np.where(m, dt.type(-np.inf), dt.type(0))
            elif m.dtype.kind == "f":
                m = m.astype(dt, copy=False)
            else:
                raise TypeError(f"{name}: attn_mask must be boolean or floating, got "
                                f"{m.dtype}")
            if m.shape == (L, S):
                bias = m
            elif m.shape == (N * self.num_heads, L, S):
                bias = m.reshape(N, self.num_heads, L, S)
            else:
                raise ShapeError(f"{name}: attn_mask must have shape ({L}, {S}) or "
                                 f"({N * self.num_heads}, {L}, {S}), got {tuple(m.shape)}")
        if key_padding_mask is not None:
            m = _array(key_padding_mask)
            if m.shape != (N, S):
                raise ShapeError(f"{name}: key_padding_mask must have shape ({N}, {S}), got "
                                 f"{tuple(m.shape)}")
            if m.dtype == np.bool_:
                m = np.where(m, dt.type(-np.inf), dt.type(0))
            elif m.dtype.kind == "f":
                m = m.astype(dt, copy=False)
            else:
                raise TypeError(f"{name}: key_padding_mask must be boolean or floating, got "
                                f"{m.dtype}")
            m = m.reshape(N, 1, 1, S)
            bias = m if bias is None else bias + m
        return bias


def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)
