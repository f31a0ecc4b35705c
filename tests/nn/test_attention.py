"""Attention: scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer and
TransformerEncoder. gradcheck and gradgradcheck always; with torch installed, forward and
backward equal to PyTorch's in float64 with the same weights (moved by state_dict)."""

import numpy as np
import pytest

import ournn
from ournn import nn
from ournn.autograd import gradgradcheck
from ournn.nn import config as C
from ournn.nn import functional as F
from tests.helpers import requires_torch, torch

RNG = np.random.default_rng(0)


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _leaves(arrays):
    return [ournn.tensor(a, requires_grad=True) for a in arrays]


def _torch_leaves(arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _close(a, b, tol=1e-10):
    a = a._data if isinstance(a, ournn.Tensor) else np.asarray(a)
    b = b.detach().numpy() if torch is not None and isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _needs_double_backward(*ops):
    """Skip (naming them) while the ops a composed check goes through cannot yet give
    gradients of gradients."""
    missing = [op.__name__ for op in ops if not getattr(op, "double_backward", False)]
    if missing:
        pytest.skip(f"not yet double-backward capable: {', '.join(missing)}")


def _mask_value(m, lib):
    if m is None or not isinstance(m, np.ndarray):
        return m
    return ournn.tensor(m) if lib is ournn else torch.tensor(m)


# ---------------------------------------------------------------- scaled_dot_product_attention
def _bool_mask(shape, seed=1, dead_row=True):
    m = np.random.default_rng(seed).random(shape) > 0.4
    m[..., 0] = True
    if dead_row:
        m[..., 1, :] = False            # a query that sees no key: zeros, as PyTorch
    return m


SDPA_CASES = {
    "plain": (((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)), {}),
    "3d": (((3, 4, 5), (3, 6, 5), (3, 6, 2)), {}),
    "2d": (((4, 3), (5, 3), (5, 2)), {}),
    "causal": (((2, 2, 5, 3), (2, 2, 5, 3), (2, 2, 5, 4)), {"is_causal": True}),
    "causal_rect": (((1, 3, 4), (1, 6, 4), (1, 6, 4)), {"is_causal": True}),
    "bool_mask": (((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
                  {"attn_mask": _bool_mask((4, 6))}),
    "bool_mask_batched": (((2, 4, 3), (2, 6, 3), (2, 6, 3)),
                          {"attn_mask": _bool_mask((2, 4, 6), dead_row=False)}),
    "float_mask": (((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
                   {"attn_mask": RNG.standard_normal((3, 4, 6))}),
    "scale": (((2, 4, 3), (2, 5, 3), (2, 5, 3)), {"scale": 0.7}),
    "broadcast_kv": (((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 2)), {}),
    "gqa": (((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3)), {"enable_gqa": True}),
}


@pytest.mark.parametrize("name", sorted(SDPA_CASES))
def test_sdpa_gradcheck_and_gradgradcheck(name):
    shapes, kw = SDPA_CASES[name]
    shapes = [tuple(min(d, 4) for d in s) if name not in ("bool_mask", "causal_rect", "gqa",
                                                           "bool_mask_batched") else s
              for s in shapes]
    if "attn_mask" in kw and name == "float_mask":
        kw = dict(kw, attn_mask=kw["attn_mask"][..., :shapes[0][-2], :shapes[1][-2]])
    xs = _leaves(_arrays(*shapes))

    def fn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **kw)
    assert ournn.gradcheck(fn, xs)
    assert gradgradcheck(fn, xs)


@requires_torch
@pytest.mark.parametrize("name", sorted(SDPA_CASES))
def test_sdpa_equals_pytorch(name):
    shapes, kw = SDPA_CASES[name]
    arrays = _arrays(*shapes, seed=3)
    ours = _leaves(arrays)
    theirs = _torch_leaves(arrays)
    out = F.scaled_dot_product_attention(*ours, **{k: _mask_value(v, ournn)
                                                   for k, v in kw.items()})
    ref = torch.nn.functional.scaled_dot_product_attention(
        *theirs, **{k: _mask_value(v, torch) for k, v in kw.items()})
    _close(out, ref)
    w = np.random.default_rng(5).standard_normal(out.shape)
    (out * ournn.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad)


def test_sdpa_masked_row_is_zero_and_dropout_scales():
    q, k, v = _leaves(_arrays((1, 3, 2), (1, 4, 2), (1, 4, 2)))
    m = np.ones((3, 4), bool)
    m[2] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    assert np.all(out._data[:, 2] == 0) and np.all(np.isfinite(out._data))
    out.sum().backward()
    assert np.all(np.isfinite(q.grad._data))
    ournn.manual_seed(0)
    ones = ournn.ones(2, 50, 8)
    vals = ournn.ones(2, 50, 8)
    d = F.scaled_dot_product_attention(ones, ones, vals, dropout_p=0.5)
    assert 0.6 < d._data.mean() < 1.4 and (d._data != 1).any()
    assert np.allclose(F.scaled_dot_product_attention(ones, ones, vals)._data, 1)


def test_sdpa_errors_are_clear():
    q = ournn.randn(2, 3, 4)
    with pytest.raises(ournn.ShapeError, match="do not fit"):
        F.scaled_dot_product_attention(q, ournn.randn(2, 3, 5), q)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool),
                                       is_causal=True)
    with pytest.raises(ournn.ShapeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool))


# ---------------------------------------------------------------- MultiheadAttention
def _mha_pair(seed=0, **kw):
    ournn.manual_seed(seed)
    ours = nn.MultiheadAttention(dtype=ournn.float64, **kw)
    if torch is None:
        return ours, None
    theirs = torch.nn.MultiheadAttention(dtype=torch.float64, **kw)
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})
    return ours, theirs


def _run_mha(model, lib, arrays, call):
    leaves = _leaves(arrays) if lib is ournn else _torch_leaves(arrays)
    q = leaves[0]
    k = leaves[1] if len(leaves) > 1 else q
    v = leaves[2] if len(leaves) > 2 else k
    kw = {n: _mask_value(m, lib) for n, m in call.items()}
    out, w = model(q, k, v, **kw)
    return leaves, out, w


def _pad_mask(N, S, seed=2):
    m = np.random.default_rng(seed).random((N, S)) > 0.6
    m[:, 0] = False
    return m


E, H, L, S, N = 6, 2, 4, 5, 3
MHA_CASES = {
    # name: (constructor kwargs, input shapes (q[, k, v]), forward kwargs)
    "self": ({}, [(L, N, E)], {}),
    "cross": ({}, [(L, N, E), (S, N, E), (S, N, E)], {}),
    "batch_first": ({"batch_first": True}, [(N, L, E), (N, S, E), (N, S, E)], {}),
    "unbatched": ({}, [(L, E), (S, E), (S, E)], {}),
    "kdim_vdim": ({"kdim": 3, "vdim": 5}, [(L, N, E), (S, N, 3), (S, N, 5)], {}),
    "no_bias": ({"bias": False}, [(L, N, E)], {}),
    "bool_attn_mask": ({}, [(L, N, E), (S, N, E), (S, N, E)],
                       {"attn_mask": ~_bool_mask((L, S), dead_row=False)}),
    "float_attn_mask_3d": ({}, [(L, N, E), (S, N, E), (S, N, E)],
                           {"attn_mask": RNG.standard_normal((N * H, L, S))}),
    "causal": ({"batch_first": True}, [(N, L, E)],
               {"attn_mask": np.triu(np.ones((L, L), bool), 1), "is_causal": True}),
    "key_padding": ({}, [(L, N, E), (S, N, E), (S, N, E)],
                    {"key_padding_mask": _pad_mask(N, S)}),
    "float_key_padding": ({}, [(L, N, E), (S, N, E), (S, N, E)],
                          {"key_padding_mask": RNG.standard_normal((N, S))}),
    "both_masks_no_weights": ({"batch_first": True}, [(N, L, E)],
                              {"attn_mask": np.triu(np.ones((L, L), bool), 1),
                               "key_padding_mask": _pad_mask(N, L), "need_weights": False}),
    "per_head_weights": ({}, [(L, N, E), (S, N, E), (S, N, E)],
                         {"average_attn_weights": False,
                          "key_padding_mask": _pad_mask(N, S)}),
    "no_weights": ({}, [(L, N, E), (S, N, E), (S, N, E)], {"need_weights": False}),
    "bias_kv": ({"add_bias_kv": True}, [(L, N, E), (S, N, E), (S, N, E)],
                {"key_padding_mask": _pad_mask(N, S)}),
    "zero_attn": ({"add_zero_attn": True}, [(L, N, E), (S, N, E), (S, N, E)],
                  {"attn_mask": ~_bool_mask((L, S), dead_row=False)}),
    "three_heads": ({"num_heads": 3}, [(L, N, E)], {}),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(MHA_CASES))
def test_multihead_attention_equals_pytorch(name):
    ctor, shapes, call = MHA_CASES[name]
    ctor = dict({"embed_dim": E, "num_heads": H}, **ctor)
    ours, theirs = _mha_pair(**ctor)
    ours.eval()
    theirs.eval()
    arrays = _arrays(*shapes, seed=4)
    ol, out, w = _run_mha(ours, ournn, arrays, call)
    tl, ref, rw = _run_mha(theirs, torch, arrays, call)
    _close(out, ref)
    if rw is None:
        assert w is None
    else:
        assert tuple(w.shape) == tuple(rw.shape)
        _close(w, rw)
    g = np.random.default_rng(6).standard_normal(out.shape)
    loss = (out * ournn.tensor(g)).sum()
    tloss = (ref * torch.tensor(g)).sum()
    if w is not None:
        gw = np.random.default_rng(7).standard_normal(w.shape)
        loss = loss + (w * ournn.tensor(gw)).sum()
        tloss = tloss + (rw * torch.tensor(gw)).sum()
    loss.backward()
    tloss.backward()
    for a, b in zip(ol, tl):
        _close(a.grad, b.grad)
    theirs_params = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        _close(p.grad, theirs_params[n].grad)


@requires_torch
def test_multihead_attention_state_dict_both_ways():
    for kw in ({}, {"kdim": 3, "vdim": 4}, {"add_bias_kv": True}, {"bias": False}):
        t = torch.nn.MultiheadAttention(E, H, dtype=torch.float64, **kw)
        o = nn.MultiheadAttention(E, H, dtype=ournn.float64, **kw)
        assert sorted(o.state_dict()) == sorted(t.state_dict())
        o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
        for k, v in t.state_dict().items():
            _close(o.state_dict()[k], v, 0)
        o2 = nn.MultiheadAttention(E, H, dtype=ournn.float64, **kw)
        t.load_state_dict({k: torch.tensor(v._data) for k, v in o2.state_dict().items()})
        for k, v in o2.state_dict().items():
            _close(v, t.state_dict()[k], 0)


def test_multihead_attention_gradcheck_and_gradgradcheck():
    ournn.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dtype=ournn.float64, kdim=3, vdim=2)
    q, k, v = _leaves(_arrays((3, 2, 4), (2, 2, 3), (2, 2, 2)))
    kpm = np.array([[False, True], [False, False]])
    for need in (True, False):
        def fn(q, k, v):
            return m(q, k, v, key_padding_mask=kpm, need_weights=need)[0]
        assert ournn.gradcheck(fn, (q, k, v))
    # gradients of gradients: the fast path (need_weights=False, one op) and the one that
    # returns the weights (softmax by itself)
    mask = np.triu(np.ones((3, 3), bool), 1)
    for need in (False, True):
        if need:
            from ournn.ops.activation import Softmax
            _needs_double_backward(Softmax)

        def self_attn(x):
            out, w = m(x, x[:2, :, :3], x[:2, :, :2], need_weights=need,
                       attn_mask=mask[:, :2])
            return out if w is None else out.sum() + (w * w).sum()
        assert gradgradcheck(self_attn, (q,))


def test_multihead_attention_errors_and_dropout():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)
    m = nn.MultiheadAttention(4, 2)
    x = ournn.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(ournn.ShapeError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(ournn.ShapeError):
        m(ournn.randn(3, 2, 5), x, x)
    d = nn.MultiheadAttention(4, 2, dropout=0.5)
    a = d(x, x, x, need_weights=False)[0]._data
    b = d(x, x, x, need_weights=False)[0]._data
    assert not np.allclose(a, b)                      # dropout on in training
    d.eval()
    assert np.allclose(d(x, x, x)[0]._data, d(x, x, x, need_weights=False)[0]._data, atol=1e-6)


# ---------------------------------------------------------------- Transformer encoder
def _encoder_pair(seed=0, num_layers=None, final_norm=False, **kw):
    ournn.manual_seed(seed)
    kw = dict({"d_model": 8, "nhead": 2, "dim_feedforward": 12, "dropout": 0.0}, **kw)
    function = kw.get("activation") == "gelu_function"      # a callable, each library's own
    ours = nn.TransformerEncoderLayer(dtype=ournn.float64,
                                      **dict(kw, activation=F.gelu) if function else kw)
    if num_layers:
        ours = nn.TransformerEncoder(ours, num_layers,
                                     norm=nn.LayerNorm(8, dtype=ournn.float64)
                                     if final_norm else None)
    if torch is None:
        return ours, None
    if function:
        kw["activation"] = torch.nn.functional.gelu
    theirs = torch.nn.TransformerEncoderLayer(dtype=torch.float64, **kw)
    if num_layers:
        theirs = torch.nn.TransformerEncoder(theirs, num_layers,
                                             norm=torch.nn.LayerNorm(8, dtype=torch.float64)
                                             if final_norm else None,
                                             enable_nested_tensor=False)
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})
    return ours, theirs


ENC_CASES = {
    "post_norm": ({}, {}),
    "norm_first": ({"norm_first": True}, {}),
    "gelu": ({"activation": "gelu"}, {}),
    "gelu_function": ({"activation": "gelu_function"}, {}),
    "batch_first_causal": ({"batch_first": True}, {"mask": "causal"}),
    "bool_mask": ({}, {"mask": "bool"}),
    "key_padding": ({"batch_first": True, "norm_first": True}, {"src_key_padding_mask": "pad"}),
    "no_bias": ({"bias": False}, {"mask": "causal"}),
    "two_layers": ({"num_layers": 2}, {"mask": "causal"}),
    "two_layers_norm_pad": ({"num_layers": 2, "final_norm": True, "batch_first": True},
                            {"src_key_padding_mask": "pad", "mask": "causal_bool"}),
    "dropout_eval": ({"dropout": 0.3, "num_layers": 2}, {}),
}


def _enc_call(call, S, N, lib):
    out = {}
    for k, v in call.items():
        if v == "causal":
            v = nn.Transformer.generate_square_subsequent_mask(S, dtype=ournn.float64)._data
        elif v == "causal_bool":
            v = np.triu(np.ones((S, S), bool), 1)
        elif v == "bool":
            v = ~_bool_mask((S, S), dead_row=False)
        elif v == "pad":
            v = _pad_mask(N, S)
        out[k] = _mask_value(v, lib)
    return out


@requires_torch
@pytest.mark.parametrize("name", sorted(ENC_CASES))
def test_transformer_encoder_equals_pytorch(name):
    ctor, call = ENC_CASES[name]
    ours, theirs = _encoder_pair(**ctor)
    ours.eval()
    theirs.eval()
    batch_first = ctor.get("batch_first", False)
    S_, N_ = 5, 3
    shape = (N_, S_, 8) if batch_first else (S_, N_, 8)
    (x,) = _arrays(shape, seed=8)
    layer_kw = {"mask": "src_mask"} if "num_layers" not in ctor else {}
    oc = {layer_kw.get(k, k): v for k, v in _enc_call(call, S_, N_, ournn).items()}
    tc = {layer_kw.get(k, k): v for k, v in _enc_call(call, S_, N_, torch).items()}
    (ox,), (tx,) = _leaves([x]), _torch_leaves([x])
    out = ours(ox, **oc)
    with torch.backends.mha.flags(enable_fastpath=False) if hasattr(torch.backends, "mha") \
            and hasattr(torch.backends.mha, "flags") else _nullcontext():
        ref = theirs(tx, **tc)
    _close(out, ref, 1e-9)
    g = np.random.default_rng(9).standard_normal(out.shape)
    (out * ournn.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    _close(ox.grad, tx.grad, 1e-9)
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        _close(p.grad, tp[n].grad, 1e-9)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_transformer_encoder_gradcheck():
    layer, _ = _encoder_pair(d_model=4, nhead=2, dim_feedforward=6)
    enc = nn.TransformerEncoder(layer, 2)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=ournn.float64)
    (x,) = _leaves(_arrays((3, 2, 4)))
    assert ournn.gradcheck(lambda x: enc(x, mask=mask), (x,))


def test_transformer_encoder_layer_gradgradcheck():
    """Double backward through a whole layer: needs every op on the way (linear, softmax
    attention, layer_norm, relu/gelu) to have gradients of gradients."""
    from ournn.ops.activation import GELU
    from ournn.ops.norm import LayerNorm
    _needs_double_backward(GELU, LayerNorm)
    layer, _ = _encoder_pair(d_model=4, nhead=2, dim_feedforward=6, activation="gelu")
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=ournn.float64)
    (x,) = _leaves(_arrays((3, 2, 4)))
    assert gradgradcheck(lambda x: layer(x, src_mask=mask), (x,))


def test_encoder_layers_are_copies_and_dropout_acts_in_training():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3
    ids = {id(p) for m in enc.layers for p in m.parameters()}
    assert len(ids) == 3 * len(list(layer.parameters()))
    assert all(l is not layer for l in enc.layers)
    x = ournn.randn(4, 2, 8)
    assert not np.allclose(enc(x)._data, enc(x)._data)
    enc.eval()
    assert np.allclose(enc(x)._data, enc(x)._data)


def test_configs_round_trip():
    models = [nn.MultiheadAttention(8, 4, kdim=3, vdim=5, batch_first=True, add_bias_kv=True),
              nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True,
                                         batch_first=True, dtype=ournn.float64),
              nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2,
                                    norm=nn.LayerNorm(8))]
    for m in models:
        config = C.module_config(m)
        again = C.module_from_config(config)
        assert C.module_config(again) == config
        assert sorted(again.state_dict()) == sorted(m.state_dict())
    with pytest.raises(ournn.CheckpointError, match="activation"):
        C.module_config(nn.TransformerEncoderLayer(8, 2, activation=lambda x: x))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_transformer_helper_and_import_paths():
    from ournn.nn.modules.activation import MultiheadAttention
    from ournn.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
    assert MultiheadAttention is nn.MultiheadAttention
    assert TransformerEncoder is nn.TransformerEncoder
    assert TransformerEncoderLayer is nn.TransformerEncoderLayer
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == np.float32
    assert np.array_equal(m._data, np.array([[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                             [0, 0, 0]], np.float32))
    from ournn.nn.modules.transformer import TransformerDecoder, TransformerDecoderLayer
    assert TransformerDecoder is nn.TransformerDecoder
    assert TransformerDecoderLayer is nn.TransformerDecoderLayer


@requires_torch
def test_generate_square_subsequent_mask_equals_pytorch():
    _close(nn.Transformer.generate_square_subsequent_mask(5),
           torch.nn.Transformer.generate_square_subsequent_mask(5), 0)


@requires_torch
def test_encoder_state_dict_both_ways():
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2,
                                    enable_nested_tensor=False)
    o = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2)
    assert sorted(o.state_dict()) == sorted(t.state_dict())
    o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    t.load_state_dict({k: torch.tensor(v._data) for k, v in o.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 8)).astype(np.float32)
    o.eval()
    t.eval()
    with torch.no_grad():
        ref = t(torch.tensor(x))
    _close(o(ournn.tensor(x)), ref, 1e-5)


@requires_torch
@pytest.mark.parametrize("what", ["sdpa_causal", "mha_masks", "encoder_layer"])
def test_second_derivatives_equal_pytorchs(what):
    """Hessian-vector products (grad of <grad, v>) equal PyTorch's in float64."""
    if what == "encoder_layer":
        from ournn.ops.activation import GELU
        from ournn.ops.norm import LayerNorm
        _needs_double_backward(GELU, LayerNorm)
    arrays = _arrays((2, 4, 6), (2, 4, 6), (2, 4, 6), seed=11)
    mods = {}
    if what == "mha_masks":
        mods[ournn], mods[torch] = _mha_pair(embed_dim=6, num_heads=2, batch_first=True)
    elif what == "encoder_layer":
        mods[ournn], mods[torch] = _encoder_pair(d_model=6, nhead=2, dim_feedforward=8,
                                                 activation="gelu", batch_first=True)
    results = {}
    for lib in (ournn, torch):
        with _math_attention(lib):
            results[lib] = _hvp(lib, what, arrays, mods)
    for a, b in zip(results[ournn], results[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def _math_attention(lib):
    """PyTorch's fused CPU attention kernel has no double backward: its math one does."""
    if lib is ournn:
        return _nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([SDPBackend.MATH])


def _hvp(lib, what, arrays, mods):
    from ournn.autograd import grad as ograd
    xs = _leaves(arrays) if lib is ournn else _torch_leaves(arrays)
    if what == "sdpa_causal":
        out = (F if lib is ournn else torch.nn.functional).scaled_dot_product_attention(
            *xs, is_causal=True)
    elif what == "mha_masks":
        causal = _mask_value(np.triu(np.ones((4, 4), bool), 1), lib)
        pad = _mask_value(np.array([[False] * 4, [False, False, False, True]]), lib)
        out = mods[lib](xs[0], xs[1], xs[2], attn_mask=causal, key_padding_mask=pad,
                        need_weights=False)[0]
    else:
        mask = _mask_value(np.triu(np.ones((4, 4), bool), 1), lib)
        out = mods[lib](xs[0], src_mask=mask)
        xs = xs[:1]
    w = np.random.default_rng(12).standard_normal(tuple(out.shape))
    total = (out * (ournn.tensor(w) if lib is ournn else torch.tensor(w))).sum()
    total = total + (out * out).sum()
    g = (ograd if lib is ournn else torch.autograd.grad)(total, xs, create_graph=True)
    vs = _arrays(*[tuple(x.shape) for x in xs], seed=13)
    dot = sum((gi * (ournn.tensor(v) if lib is ournn else torch.tensor(v))).sum()
              for gi, v in zip(g, vs))
    hv = (ograd if lib is ournn else torch.autograd.grad)(dot, xs)
    return [h._data if lib is ournn else h.detach().numpy() for h in hv]


def test_save_and_load_whole_models(tmp_path):
    """ournn.save/ournn.load rebuild attention layers from their configs (within the
    parameter budget the file declares)."""
    ournn.manual_seed(3)
    models = [nn.Sequential(nn.TransformerEncoder(nn.TransformerEncoderLayer(
                  8, 2, 16, batch_first=True), 2, norm=nn.LayerNorm(8)), nn.Linear(8, 3)),
              nn.Sequential(nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True))]
    x = ournn.randn(2, 5, 8)
    for i, model in enumerate(models):
        path = str(tmp_path / f"m{i}.ournn")
        ournn.save(model.eval(), path)
        loaded = ournn.load(path).eval()
        assert sorted(loaded.state_dict()) == sorted(model.state_dict())
        if i == 0:
            np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


# ---------------------------------------------------------------- decoder and Transformer
def _torch_transformer(*args, **kw):
    """torch.nn.Transformer, without its note that nested tensors need batch_first."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
        return torch.nn.Transformer(*args, **kw)


def _copy_into(theirs, ours):
    theirs.load_state_dict({k: torch.tensor(v._data) for k, v in ours.state_dict().items()})


def _seq2seq_pair(seed=0, **kw):
    ournn.manual_seed(seed)
    kw = dict({"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2,
               "dim_feedforward": 12, "dropout": 0.0}, **kw)
    ours = nn.Transformer(dtype=ournn.float64, **kw)
    theirs = None
    if torch is not None:
        theirs = _torch_transformer(dtype=torch.float64, **kw)
        _copy_into(theirs, ours)
    return ours, theirs


TRANSFORMER_CASES = {
    "post_norm": ({}, {"tgt_mask": "causal"}),
    "norm_first_gelu": ({"norm_first": True, "activation": "gelu"}, {"tgt_mask": "causal"}),
    "batch_first_padding": ({"batch_first": True},
                            {"tgt_mask": "causal_bool", "src_key_padding_mask": "src_pad",
                             "memory_key_padding_mask": "src_pad",
                             "tgt_key_padding_mask": "tgt_pad"}),
    "masks_bool_no_bias": ({"bias": False}, {"tgt_mask": "causal_bool", "src_mask": "src_bool",
                                             "memory_mask": "memory_bool"}),
}


def _call_args(call, S, T, N, lib):
    out = {}
    for k, v in call.items():
        if v == "causal":
            v = nn.Transformer.generate_square_subsequent_mask(T, dtype=ournn.float64)._data
        elif v == "causal_bool":
            v = np.triu(np.ones((T, T), bool), 1)
        elif v == "src_bool":
            v = ~_bool_mask((S, S), seed=3, dead_row=False)
        elif v == "memory_bool":
            v = ~_bool_mask((T, S), seed=4, dead_row=False)
        elif v == "src_pad":
            v = _pad_mask(N, S)
        elif v == "tgt_pad":
            v = _pad_mask(N, T)
        out[k] = _mask_value(v, lib)
    return out


@requires_torch
@pytest.mark.parametrize("name", sorted(TRANSFORMER_CASES))
def test_transformer_equals_pytorch(name):
    """The whole encoder-decoder: output, input gradients (src and tgt) and every parameter's
    gradient equal PyTorch's in float64, with the same weights."""
    ctor, call = TRANSFORMER_CASES[name]
    ours, theirs = _seq2seq_pair(**ctor)
    S, T, N = 5, 4, 3
    bf = ctor.get("batch_first", False)
    src, tgt = _arrays((N, S, 8) if bf else (S, N, 8), (N, T, 8) if bf else (T, N, 8), seed=5)
    (os_, ot), (ts, tt) = _leaves([src, tgt]), _torch_leaves([src, tgt])
    out = ours(os_, ot, **_call_args(call, S, T, N, ournn))
    ref = theirs(ts, tt, **_call_args(call, S, T, N, torch))
    _close(out, ref, 1e-9)
    g = np.random.default_rng(6).standard_normal(out.shape)
    (out * ournn.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    _close(os_.grad, ts.grad, 1e-9)
    _close(ot.grad, tt.grad, 1e-9)
    tp = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tp)      # same names, same order
    for n, p in ours.named_parameters():
        _close(p.grad, tp[n].grad, 1e-9)


@requires_torch
def test_decoder_layer_alone_equals_pytorch_and_detects_the_causal_mask():
    ournn.manual_seed(1)
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0,
                                                            dtype=ournn.float64), 2)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(
        8, 2, 12, dropout=0.0, dtype=torch.float64), 2)
    _copy_into(theirs, ours)
    tgt, mem = _arrays((4, 2, 8), (6, 2, 8), seed=7)
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=ournn.float64)
    out = ours(ournn.tensor(tgt), ournn.tensor(mem), tgt_mask=mask)
    ref = theirs(torch.tensor(tgt), torch.tensor(mem), tgt_mask=torch.tensor(mask._data))
    _close(out, ref, 1e-9)
    # is_causal=True with the mask gives the same (the mask is what counts)
    again = ours(ournn.tensor(tgt), ournn.tensor(mem), tgt_mask=mask, tgt_is_causal=True)
    _close(again, ref, 1e-9)


def test_transformer_gradcheck_and_decoder_gradgradcheck():
    ours, _ = _seq2seq_pair(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                            dim_feedforward=6)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=ournn.float64)
    src, tgt = _leaves(_arrays((2, 2, 4), (3, 2, 4), seed=2))
    assert ournn.gradcheck(lambda s, t: ours(s, t, tgt_mask=mask), (src, tgt))
    layer = ours.decoder.layers[0]
    assert gradgradcheck(lambda t, m: layer(t, m, tgt_mask=mask), (tgt, src))


def test_transformer_initialises_matrices_xavier_uniform():
    t = nn.Transformer(16, 2, 1, 1, 32)
    w = t.decoder.layers[0].linear1.weight._data          # (32, 16)
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(t.encoder.norm.weight._data == 1)       # vectors keep their own init


def test_transformer_errors_and_configs():
    t = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        t(ournn.randn(2, 5, 8), ournn.randn(3, 4, 8))
    with pytest.raises(RuntimeError, match="feature number .* d_model=8; got 6 and 8"):
        t(ournn.randn(2, 5, 6), ournn.randn(2, 4, 8))
    with pytest.raises(TypeError, match="custom_encoder must be a layer"):
        nn.Transformer(8, 2, custom_encoder="enc")
    with pytest.raises(ValueError, match="TransformerDecoderLayer: activation"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    for m in (t, nn.TransformerDecoderLayer(8, 2, 16, norm_first=True, activation="gelu"),
              nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2,
                                    norm=nn.LayerNorm(8))):
        config = C.module_config(m)
        again = C.module_from_config(config)
        assert C.module_config(again) == config
        assert sorted(again.state_dict()) == sorted(m.state_dict())
    custom = nn.Transformer(8, 2, custom_encoder=nn.Identity())
    with pytest.raises(ournn.CheckpointError, match="custom_encoder"):
        C.module_config(custom)


@requires_torch
def test_transformer_state_dict_both_ways():
    theirs = _torch_transformer(8, 2, 1, 2, 16)
    ours = nn.Transformer(8, 2, 1, 2, 16)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    _copy_into(theirs, ours)
