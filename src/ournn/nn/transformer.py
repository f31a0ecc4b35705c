"""Transformer encoder layers, as ``torch.nn.TransformerEncoderLayer`` and
``torch.nn.TransformerEncoder`` (same arguments, parameter names and state_dict keys)."""
import copy

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .attention import MultiheadAttention
from .config import check_float, check_int, module_config, module_from_config, reserve
from .dropout import Dropout
from .linear import Linear
from .module import Module, ModuleList, with_dtype
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation_name(activation):
    if isinstance(activation, str):
        return activation
    for name, fn in _ACTIVATIONS.items():
        if activation is fn:
            return name
    return None


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and a
    LayerNorm (after it, or before it with ``norm_first``), as PyTorch's.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S, N, E)
    (``(N, S, E)`` with ``batch_first``); masks as ``MultiheadAttention``'s (boolean True =
    may not attend; float masks added). ``activation``: "relu", "gelu" or a callable (a
    custom callable is not described by ``get_config``)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        name = "TransformerEncoderLayer"
        d_model = check_int(name, "d_model", d_model)
        nhead = check_int(name, "nhead", nhead)
        dim_feedforward = check_int(name, "dim_feedforward", dim_feedforward)
        dropout = check_float(name, "dropout", dropout, 0.0, 1.0)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"{name}: activation should be 'relu' or 'gelu' (or a "
                                 f"callable), not {activation!r}")
            act = _ACTIVATIONS[activation]
        elif callable(activation):
            act = activation
        else:
            raise ValueError(f"{name}: activation must be 'relu', 'gelu' or a callable, got "
                             f"{activation!r}")
        reserve(name, 0)
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = act
        self._config = {"d_model": d_model, "nhead": nhead, "dim_feedforward": dim_feedforward,
                        "dropout": dropout, "activation": _activation_name(activation),
                        "layer_norm_eps": layer_norm_eps, "batch_first": bool(batch_first),
                        "norm_first": self.norm_first, "bias": bool(bias)}

    @property
    def batch_first(self):
        return self.self_attn.batch_first

    def get_config(self):
        if self._config["activation"] is None:
            raise NotImplementedError(
                "TransformerEncoderLayer with a custom activation callable cannot be "
                "described; use activation='relu' or 'gelu', or save the state_dict")
        return with_dtype(self, dict(self._config))

    def extra_repr(self):
        c = self._config
        return f"d_model={c['d_model']}, nhead={c['nhead']}, norm_first={c['norm_first']}"

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies, as PyTorch: the layers do
    not share parameters), then ``norm`` if given. ``forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None)``. ``enable_nested_tensor`` is accepted and
    has no effect (padded positions are computed, not skipped)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        name = "TransformerEncoder"
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"{name}: encoder_layer must be a layer (a Module), got "
                            f"{type(encoder_layer).__name__}")
        num_layers = check_int(name, "num_layers", num_layers)
        n = sum(int(np.prod(p.shape)) for p in encoder_layer.parameters())
        reserve(f"{name}({num_layers} layers)", n * (num_layers - 1))
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def get_config(self):
        return {"encoder_layer": module_config(self.layers[0]), "num_layers": self.num_layers,
                "norm": None if self.norm is None else module_config(self.norm),
                "enable_nested_tensor": self.enable_nested_tensor,
                "mask_check": self.mask_check}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder_layer"] = module_from_config(config["encoder_layer"])
        if config.get("norm") is not None:
            config["norm"] = module_from_config(config["norm"])
        return cls(**config)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        if is_causal is None:
            is_causal = _is_causal_mask(mask, x.shape[1 if self.layers[0].batch_first
                                                        and x.ndim == 3 else 0])
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        if self.norm is not None:
            x = self.norm(x)
        return x


def _is_causal_mask(mask, size):
    """Whether ``mask`` is the causal mask of ``size`` (as PyTorch's detection)."""
    if mask is None:
        return False
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.shape != (size, size):
        return False
    causal = Transformer.generate_square_subsequent_mask(size, dtype=m.dtype)._data \
        if m.dtype != np.bool_ else np.triu(np.ones((size, size), dtype=bool), 1)
    return bool(np.array_equal(m, causal))


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The causal mask of ``sz`` positions: a float (sz, sz) tensor, -inf above the
    diagonal (a position may not attend to later ones), 0 elsewhere."""
    sz = check_int("generate_square_subsequent_mask", "sz", sz)
    dt = np.dtype(np.float32 if dtype is None else dtype)
    m = np.triu(np.full((sz, sz), -np.inf, dtype=dt), 1)
    return Tensor(m)


class Transformer:
    """Only ``Transformer.generate_square_subsequent_mask(sz)`` for now: the full
    encoder-decoder ``nn.Transformer`` is not implemented (use ``TransformerEncoder``)."""

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            "nn.Transformer (the encoder-decoder model) is not implemented yet; build on "
            "nn.TransformerEncoder / nn.TransformerEncoderLayer. "
            "nn.Transformer.generate_square_subsequent_mask(sz) is available.")
