"""``MultiheadAttention``, on the attention op of ``ournn.ops.attention`` (which is also
``F.scaled_dot_product_attention``)."""
import math

import numpy as np

from ..errors import ShapeError
from ..ops.attention import (_Attention, _as_tensor, _dropout_mask,  # noqa: F401 (re-exports)
                             attention_bias, scaled_dot_product_attention)
from ..tensor import Tensor
from . import functional as F
from . import init
from .config import check_factory, check_float, check_int, reserve
from .linear import Linear
from .module import Module, Parameter, with_dtype


# ---------------------------------------------------------------- MultiheadAttention
def _additive(layer, arg, m, dt):
    """A mask as numbers to add to the attention scores: a boolean one (True = masked out)
    as -inf/0, a floating one in ``dt``."""
    if m.dtype == np.bool_:
        return np.where(m, dt.type(-np.inf), dt.type(0))
    if m.dtype.kind == "f":
        return m.astype(dt, copy=False)
    raise TypeError(f"{layer}: {arg} must be boolean or floating, got {m.dtype}")


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
            m = _additive(name, "attn_mask", _array(attn_mask), dt)
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
            m = _additive(name, "key_padding_mask", m, dt).reshape(N, 1, 1, S)
            bias = m if bias is None else bias + m
        return bias


def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)
