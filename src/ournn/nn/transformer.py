"""Transformers, as PyTorch's: ``TransformerEncoderLayer``, ``TransformerEncoder``,
``TransformerDecoderLayer``, ``TransformerDecoder`` and the encoder-decoder ``Transformer``
(same arguments, parameter names, state_dict keys and computations)."""
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


def _activation(layer, activation):
    """The function ``activation`` names ("relu", "gelu") or is (a callable)."""
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{layer}: activation should be 'relu' or 'gelu' (or a "
                             f"callable), not {activation!r}")
        return _ACTIVATIONS[activation]
    if callable(activation):
        return activation
    raise ValueError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got "
                     f"{activation!r}")


def _activation_name(activation):
    if isinstance(activation, str):
        return activation
    for name, fn in _ACTIVATIONS.items():
        if activation is fn:
            return name
    return None


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: their arguments, checked; the attention,
    feed-forward, LayerNorm and dropout children in PyTorch's order (so ``parameters()`` and
    ``state_dict()`` come in PyTorch's order); the self-attention and feed-forward blocks."""

    def _build(self, blocks, d_model, nhead, dim_feedforward, dropout, activation,
               layer_norm_eps, batch_first, norm_first, bias, device, dtype):
        """``blocks``: 2 for an encoder layer (self-attention, feed-forward), 3 for a decoder
        layer (with the attention to the encoder's output between them)."""
        name = type(self).__name__
        d_model = check_int(name, "d_model", d_model)
        nhead = check_int(name, "nhead", nhead)
        dim_feedforward = check_int(name, "dim_feedforward", dim_feedforward)
        dropout = check_float(name, "dropout", dropout, 0.0, 1.0)
        act = _activation(name, activation)
        reserve(name, 0)
        Module.__init__(self)
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        if blocks == 3:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                     bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self._ff_dropout = f"dropout{blocks}"     # the feed-forward block's, the last one
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
                f"{type(self).__name__} with a custom activation callable cannot be "
                "described; use activation='relu' or 'gelu', or save the state_dict")
        return with_dtype(self.linear1, dict(self._config))

    def extra_repr(self):
        c = self._config
        return f"d_model={c['d_model']}, nhead={c['nhead']}, norm_first={c['norm_first']}"

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, self._ff_dropout)(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block, each with a residual connection and a
    LayerNorm (after it, or before it with ``norm_first``), as PyTorch's.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S, N, E)
    (``(N, S, E)`` with ``batch_first``); masks as ``MultiheadAttention``'s (boolean True =
    may not attend; float masks added). ``activation``: "relu", "gelu" or a callable (a
    custom callable is not described by ``get_config``)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        self._build(2, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, device, dtype)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


def _copies(name, arg, layer, num_layers):
    """``num_layers`` deep copies of ``layer`` (as PyTorch: no shared parameters)."""
    if not isinstance(layer, Module):
        raise TypeError(f"{name}: {arg} must be a layer (a Module), got {type(layer).__name__}")
    num_layers = check_int(name, "num_layers", num_layers)
    n = sum(int(np.prod(p.shape)) for p in layer.parameters())
    reserve(f"{name}({num_layers} layers)", n * (num_layers - 1))
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies, as PyTorch: the layers do
    not share parameters), then ``norm`` if given. ``forward(src, mask=None,
    src_key_padding_mask=None, is_causal=None)``. ``enable_nested_tensor`` is accepted and
    has no effect (padded positions are computed, not skipped)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        layers = _copies("TransformerEncoder", "encoder_layer", encoder_layer, num_layers)
        super().__init__()
        self.layers = layers
        self.num_layers = len(layers)
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


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over the target, attention to the encoder's output (``memory``) and a
    feed-forward block, each with a residual connection and a LayerNorm (after it, or before
    it with ``norm_first``), as PyTorch's.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``: tgt (T, N,
    E), memory (S, N, E) (``(N, T, E)``, ``(N, S, E)`` with ``batch_first``)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        self._build(3, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, device, dtype)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt if isinstance(tgt, Tensor) else Tensor(np.asarray(tgt))
        mem = memory if isinstance(memory, Tensor) else Tensor(np.asarray(memory))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (deep copies: no shared parameters), then
    ``norm`` if given. ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None,
    memory_is_causal=False)``; ``tgt_is_causal=None`` detects the causal ``tgt_mask``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        layers = _copies("TransformerDecoder", "decoder_layer", decoder_layer, num_layers)
        super().__init__()
        self.layers = layers
        self.num_layers = len(layers)
        self.norm = norm

    def get_config(self):
        return {"decoder_layer": module_config(self.layers[0]), "num_layers": self.num_layers,
                "norm": None if self.norm is None else module_config(self.norm)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["decoder_layer"] = module_from_config(config["decoder_layer"])
        if config.get("norm") is not None:
            config["norm"] = module_from_config(config["norm"])
        return cls(**config)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt if isinstance(tgt, Tensor) else Tensor(np.asarray(tgt))
        if tgt_is_causal is None:
            tgt_is_causal = _is_causal_mask(tgt_mask, x.shape[1 if self.layers[0].batch_first
                                                               and x.ndim == 3 else 0])
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            x = self.norm(x)
        return x


class Transformer(Module):
    """The encoder-decoder transformer of "Attention Is All You Need", as
    ``torch.nn.Transformer``: a ``TransformerEncoder`` of ``num_encoder_layers`` layers and a
    ``TransformerDecoder`` of ``num_decoder_layers``, each ending in a LayerNorm; the weight
    matrices start Xavier-uniform (as PyTorch's ``_reset_parameters``).

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``: src (S, N, E), tgt
    (T, N, E) (batch first with ``batch_first``) -> (T, N, E).
    ``Transformer.generate_square_subsequent_mask(sz)`` gives the causal mask for ``tgt``."""

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        name = "Transformer"
        for arg, value in (("custom_encoder", custom_encoder),
                           ("custom_decoder", custom_decoder)):
            if value is not None and not isinstance(value, Module):
                raise TypeError(f"{name}: {arg} must be a layer (a Module) or None, got "
                                f"{type(value).__name__}")
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer_kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                        layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                        norm_first=norm_first, bias=bias, **kw)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **layer_kw), num_encoder_layers,
                norm=LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **layer_kw), num_decoder_layers,
                norm=LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), bool(batch_first)
        self._config = {"d_model": self.d_model, "nhead": self.nhead,
                        "num_encoder_layers": num_encoder_layers,
                        "num_decoder_layers": num_decoder_layers,
                        "dim_feedforward": dim_feedforward, "dropout": dropout,
                        "activation": _activation_name(activation),
                        "layer_norm_eps": layer_norm_eps, "batch_first": self.batch_first,
                        "norm_first": bool(norm_first), "bias": bool(bias)}
        self._custom = custom_encoder is not None or custom_decoder is not None
        self._reset_parameters()

    def _reset_parameters(self):
        from .init import xavier_uniform_
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)

    def get_config(self):
        if self._custom:
            raise NotImplementedError("a Transformer with a custom_encoder or custom_decoder "
                                      "cannot be described; save the state_dict")
        if self._config["activation"] is None:
            raise NotImplementedError(
                "Transformer with a custom activation callable cannot be described; use "
                "activation='relu' or 'gelu', or save the state_dict")
        return with_dtype(self.encoder.layers[0].linear1, dict(self._config))

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
        tgt = tgt if isinstance(tgt, Tensor) else Tensor(np.asarray(tgt))
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if not batched and tgt.ndim == 3:
            raise RuntimeError("Transformer: src is unbatched (2-D) but tgt is batched (3-D): "
                               "give both with a batch dimension or neither")
        if batched and src.shape[b] != tgt.shape[b]:
            raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal; "
                               f"got {src.shape[b]} and {tgt.shape[b]} (batch_first="
                               f"{self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal "
                               f"to d_model={self.d_model}; got {src.shape[-1]} and "
                               f"{tgt.shape[-1]}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
