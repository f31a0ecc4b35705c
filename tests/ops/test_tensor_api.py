"""PyTorch's tensor methods and top-level functions: each differentiable op passes gradcheck and
matches PyTorch's forward and backward in float64; the integer-valued ones (indices,
comparisons, counts) match PyTorch's values and stay outside the graph."""
import math

import numpy as np
import pytest

import ournn
from helpers import check_op, requires_torch, torch

T = torch


def _both(fn_name, *args, **kwargs):
    """``(ours, theirs)`` callables for ``lambda x: x.fn_name(*args, **kwargs)``."""
    return (lambda a: getattr(a, fn_name)(*args, **kwargs),
            (lambda a: getattr(a, fn_name)(*args, **kwargs)) if T else None)


# ---------------------------------------------------------------- elementwise math
UNARY = [  # name, input range
    ("sin", None), ("cos", None), ("tan", (-1.2, 1.2)), ("asin", (-0.9, 0.9)),
    ("acos", (-0.9, 0.9)), ("atan", None), ("sinh", None), ("cosh", None),
    ("asinh", None), ("acosh", (1.2, 3.0)), ("atanh", (-0.9, 0.9)),
    ("log1p", (-0.5, 3.0)), ("expm1", None), ("log2", (0.2, 3.0)), ("log10", (0.2, 3.0)),
    ("exp2", None), ("rsqrt", (0.2, 3.0)), ("reciprocal", (0.5, 3.0)), ("square", None),
    ("frac", (0.1, 0.9)), ("neg", None), ("negative", None),
]


@pytest.mark.parametrize("name,bounds", UNARY)
def test_unary_math_method_function_and_gradient(name, bounds):
    low, high = bounds if bounds else (-2.0, 2.0)
    check_op([(3, 4)], *_both(name), low=low, high=high)
    check_op([(5,)], lambda a: getattr(ournn, name)(a),
             (lambda a: getattr(torch, name)(a)) if T else None, low=low, high=high)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign"])
def test_rounding_is_in_the_graph_with_zero_gradient(name):
    x = ournn.tensor([-1.7, -0.5, 0.2, 1.5, 2.5], dtype=ournn.float64, requires_grad=True)
    y = getattr(x, name)()
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    if T:
        np.testing.assert_array_equal(y.detach().numpy(),
                                      getattr(torch.tensor(x.numpy()), name)().numpy())


def test_round_decimals_and_integer_rounding():
    x = ournn.tensor([1.2345, -2.5551], dtype=ournn.float64)
    np.testing.assert_allclose(x.round(decimals=2).numpy(), [1.23, -2.56])
    i = ournn.tensor([3, -4])
    assert i.floor().dtype == np.int64 and i.round().tolist() == [3, -4]


@pytest.mark.parametrize("name", ["atan2", "fmod", "remainder"])
def test_binary_math(name):
    arrays = [np.random.default_rng(3).uniform(-3, 3, (3, 4)),
              np.random.default_rng(4).uniform(0.5, 2, (4,))]
    check_op(None, lambda a, b: getattr(a, name)(b),
             (lambda a, b: getattr(torch, name)(a, b)) if T else None, arrays=arrays)
    check_op(None, lambda a, b: getattr(ournn, name)(a, b),
             (lambda a, b: getattr(torch, name)(a, b)) if T else None, arrays=arrays)


@requires_torch
def test_fmod_remainder_floordiv_mod_signs_match_pytorch():
    a = np.array([-7.5, -3.0, 2.0, 7.25])
    b = np.array([2.0, -2.5, 3.0, -2.0])
    x, y = ournn.tensor(a), ournn.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    for ours, theirs in [(x % y, tx % ty), (x // y, tx // ty), (x.fmod(y), tx.fmod(ty)),
                         (x % 2, tx % 2), (7 % y, 7 % ty), (x.div(y, rounding_mode="trunc"),
                                                           tx.div(ty, rounding_mode="trunc"))]:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    i, j = ournn.tensor([-7, 7, 5]), ournn.tensor([2, -2, 3])
    ti, tj = torch.tensor([-7, 7, 5]), torch.tensor([2, -2, 3])
    for ours, theirs in [(i // j, ti // tj), (i % j, ti % tj), (i.div(j), ti / tj),
                         (i.div(j, rounding_mode="trunc"), ti.div(tj, rounding_mode="trunc"))]:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_named_arithmetic_with_alpha_and_rounding_gradient():
    check_op([(3, 4), (4,)], lambda a, b: a.add(b, alpha=2.5),
             (lambda a, b: a.add(b, alpha=2.5)) if T else None)
    check_op([(3, 4), (3, 1)], lambda a, b: ournn.sub(a, b, alpha=0.5),
             (lambda a, b: torch.sub(a, b, alpha=0.5)) if T else None)
    check_op([(3, 4), (3, 4)], lambda a, b: a.mul(b).div(b.exp()).pow(2),
             (lambda a, b: a.mul(b).div(b.exp()).pow(2)) if T else None)
    x = ournn.tensor([3.0, 4.0], requires_grad=True)
    x.div(2, rounding_mode="floor").sum().backward()
    assert x.grad.tolist() == [0, 0]


def test_lerp_addcmul_addcdiv():
    check_op([(3, 4), (3, 4), (4,)], lambda a, b, w: a.lerp(b, w),
             (lambda a, b, w: a.lerp(b, w)) if T else None)
    check_op([(3, 4), (3, 4)], lambda a, b: ournn.lerp(a, b, 0.3),
             (lambda a, b: torch.lerp(a, b, 0.3)) if T else None)
    check_op([(3, 4), (3, 4), (4,)], lambda a, b, c: a.addcmul(b, c, value=0.5),
             (lambda a, b, c: a.addcmul(b, c, value=0.5)) if T else None)
    check_op([(3, 4), (3, 4), (4,)], lambda a, b, c: ournn.addcdiv(a, b, c.exp(), value=2),
             (lambda a, b, c: torch.addcdiv(a, b, c.exp(), value=2)) if T else None)


def test_clamp_with_tensor_bounds_and_one_sided():
    arrays = [np.random.default_rng(5).uniform(-2, 2, (4, 5)),
              np.random.default_rng(6).uniform(-1.1, -0.1, (5,)),
              np.random.default_rng(7).uniform(0.1, 1.1, (4, 1))]
    check_op(None, lambda x, lo, hi: x.clamp(lo, hi),
             (lambda x, lo, hi: x.clamp(lo, hi)) if T else None, arrays=arrays)
    check_op(None, lambda x, lo, hi: ournn.clamp(x, min=lo),
             (lambda x, lo, hi: torch.clamp(x, min=lo)) if T else None, arrays=arrays)
    check_op(None, lambda x: x.clamp_min(0.3), (lambda x: x.clamp_min(0.3)) if T else None,
             arrays=arrays[:1])
    check_op(None, lambda x: ournn.clamp_max(x, 0.3),
             (lambda x: torch.clamp_max(x, 0.3)) if T else None, arrays=arrays[:1])


def test_predicates_and_nan_to_num():
    x = ournn.tensor([1.0, float("nan"), float("inf"), -float("inf")], dtype=ournn.float64,
                     requires_grad=True)
    assert x.isnan().tolist() == [False, True, False, False]
    assert ournn.isinf(x).tolist() == [False, False, True, True]
    assert x.isfinite().tolist() == [True, False, False, False]
    assert x.isposinf().tolist() == [False, False, True, False]
    y = x.nan_to_num(nan=0.5, posinf=9.0, neginf=-9.0)
    assert y.tolist() == [1.0, 0.5, 9.0, -9.0]
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3, 0, 0, 0]         # PyTorch: grad * isfinite(x)


def test_comparisons_and_logical_ops_outside_the_graph():
    a = ournn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = ournn.tensor([3.0, 2.0, 1.0])
    for name, expected in [("eq", [0, 1, 0]), ("ne", [1, 0, 1]), ("lt", [1, 0, 0]),
                           ("le", [1, 1, 0]), ("gt", [0, 0, 1]), ("ge", [0, 1, 1])]:
        out = getattr(a, name)(b)
        assert out.dtype == np.bool_ and not out.requires_grad
        assert out.tolist() == [bool(e) for e in expected]
        assert getattr(ournn, name)(a, 2.0).tolist() == getattr(a.numpy(), f"__{name}__")(2.0) \
            .tolist()
    m, n = a > 1, a < 3
    assert (m & n).tolist() == [False, True, False]
    assert (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [True, False, True]
    assert (~m).tolist() == [True, False, False]
    assert ournn.logical_not(m).tolist() == [True, False, False]
    i = ournn.tensor([6, 3])
    assert (i & 5).tolist() == [4, 1] and (i | 1).tolist() == [7, 3] and (~i).tolist() == [-7, -4]
    with pytest.raises(TypeError, match="integer and bool"):
        a & a


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_prod_logsumexp_norm(dim, keepdim):
    args = () if dim is None else (dim, keepdim)
    check_op([(3, 4)], *_both("prod", *args[:1], **({"keepdim": keepdim} if args else {})))
    if dim is not None:
        check_op([(3, 4)], *_both("logsumexp", dim, keepdim))
    for p in (2, 1, 3, float("inf"), -float("inf"), 0.5):
        check_op([(3, 4)], lambda a: a.norm(p, dim, keepdim),
                 (lambda a: a.norm(p, dim, keepdim)) if T else None,
                 low=0.2, high=2.0) if p == 0.5 else \
            check_op([(3, 4)], lambda a: a.norm(p, dim, keepdim),
                     (lambda a: a.norm(p, dim, keepdim)) if T else None, seed=11)


def test_prod_and_cumprod_with_zeros_match_pytorch():
    arrays = [np.array([[2.0, 0.0, 3.0, 0.5], [1.5, -2.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])]
    for f in (lambda a: a.prod(), lambda a: a.prod(1), lambda a: a.prod(0),
              lambda a: a.cumprod(1), lambda a: a.cumprod(0)):
        check_op(None, f, f if T else None, arrays=arrays)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_cumprod(dim):
    check_op([(3, 4)], *_both("cumsum", dim))
    check_op([(3, 4)], *_both("cumprod", dim))
    check_op([(3, 4)], lambda a: ournn.cumsum(a, dim=dim),
             (lambda a: torch.cumsum(a, dim=dim)) if T else None)


def test_cumsum_of_ints_and_bools_is_int64():
    assert ournn.tensor([True, True, False]).cumsum(0).tolist() == [1, 2, 2]
    assert ournn.tensor([1, 2], dtype=ournn.int32).cumsum(0).dtype == np.int64
    assert ournn.tensor([True, True]).sum().dtype == np.int64


def test_logsumexp_is_stable_and_matches_for_minus_inf():
    x = ournn.tensor([[1e4, 0.0], [-float("inf"), -float("inf")]], dtype=ournn.float64)
    out = x.logsumexp(1)
    assert out[0].item() == pytest.approx(1e4) and out[1].item() == -float("inf")


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_max_min_with_dim_give_values_and_indices(name, dim, keepdim):
    check_op([(4, 5)], lambda a: getattr(a, name)(dim, keepdim).values * 2,
             (lambda a: getattr(a, name)(dim, keepdim).values * 2) if T else None)
    x = ournn.tensor(np.random.default_rng(1).standard_normal((4, 5)))
    res = getattr(ournn, name)(x, dim=dim, keepdim=keepdim)
    values, indices = res                               # unpacks as PyTorch's
    assert res.values is values and res.indices is indices and indices.dtype == np.int64
    assert not indices.requires_grad
    if T:
        tr = getattr(torch, name)(torch.tensor(x.numpy()), dim=dim, keepdim=keepdim)
        np.testing.assert_array_equal(indices.numpy(), tr.indices.numpy())
        np.testing.assert_allclose(values.numpy(), tr.values.numpy())


def test_max_without_dim_and_elementwise_and_numpy_axis():
    x = ournn.tensor([[1.0, 5.0], [3.0, 2.0]])
    assert x.max().item() == 5 and ournn.min(x).item() == 1
    assert ournn.max(x, ournn.tensor([2.0, 2.0])).tolist() == [[2, 5], [3, 2]]
    assert x.max(axis=1).tolist() == [5, 3]                 # NumPy's keyword: a tensor
    check_op([(3, 4)], *_both("amax", 1))
    check_op([(3, 4)], *_both("amin", (0, 1)))
    assert x.argmax().item() == 1 and x.argmin(dim=1, keepdim=True).tolist() == [[0], [1]]


@pytest.mark.parametrize("args", [(), (1,), (0, True), (1, False, True)])
def test_var_std_positional_arguments_are_pytorchs(args):
    check_op([(4, 5)], *_both("var", *args))
    check_op([(4, 5)], *_both("std", *args))
    check_op([(4, 5)], lambda a: ournn.std(a, *args),
             (lambda a: torch.std(a, *args)) if T else None)


def test_var_std_keywords():
    check_op([(4, 5)], *_both("std", dim=1, correction=0, keepdim=True))
    check_op([(4, 5)], *_both("var", dim=0, unbiased=False))
    check_op([(4, 5)], lambda a: a.var(axis=1, keepdims=True), None)
    if T:
        for ours, theirs in zip(ournn.std_mean(ournn.tensor(np.arange(6.0)).reshape(2, 3), 1),
                                torch.std_mean(torch.arange(6.0).reshape(2, 3), 1)):
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_sum_mean_dtype_and_dim_lists():
    x = ournn.tensor([[1, 2], [3, 4]])
    assert x.sum(dtype=ournn.float64).dtype == np.float64
    assert x.mean(dtype=ournn.float32).item() == 2.5
    with pytest.raises(TypeError, match="floating-point"):
        x.mean()
    check_op([(2, 3, 4)], *_both("sum", [0, 2]))
    check_op([(2, 3, 4)], *_both("mean", (0, 1), True))


def test_median_kthvalue():
    check_op([(3, 5)], lambda a: a.median(), (lambda a: a.median()) if T else None)
    check_op([(4, 6)], lambda a: a.median(1).values, (lambda a: a.median(1).values) if T else None)
    check_op([(4, 6)], lambda a: a.kthvalue(2, 0, True).values,
             (lambda a: a.kthvalue(2, 0, True).values) if T else None)
    if T:
        a = np.random.default_rng(0).standard_normal((4, 6))
        np.testing.assert_array_equal(ournn.tensor(a).median(1).indices.numpy(),
                                      torch.tensor(a).median(1).indices.numpy())


def test_all_any_count_nonzero():
    x = ournn.tensor([[0, 1, 2], [3, 0, 0]])
    assert not x.all().item() and x.any().item()
    assert x.all(dim=1).tolist() == [False, False] and x.any(1, keepdim=True).shape == (2, 1)
    assert x.count_nonzero().item() == 3 and ournn.count_nonzero(x, dim=0).tolist() == [1, 1, 1]


# ---------------------------------------------------------------- sorting
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort(dim, descending):
    check_op([(4, 5)], lambda a: a.sort(dim, descending).values,
             (lambda a: a.sort(dim, descending).values) if T else None)
    a = np.random.default_rng(2).standard_normal((4, 5))
    idx = ournn.tensor(a).argsort(dim, descending)
    assert idx.dtype == np.int64
    if T:
        np.testing.assert_array_equal(idx.numpy(), torch.tensor(a).argsort(dim, descending))
        np.testing.assert_array_equal(ournn.sort(ournn.tensor(a), dim, descending).indices,
                                      torch.sort(torch.tensor(a), dim, descending).indices)


def test_sort_is_stable_on_ties_as_pytorch_stable():
    x = ournn.tensor([2, 1, 2, 1, 3])
    assert x.sort(stable=True).indices.tolist() == [1, 3, 0, 2, 4]
    assert x.sort(descending=True, stable=True).indices.tolist() == [4, 0, 2, 1, 3]


@pytest.mark.parametrize("largest", [True, False])
def test_topk(largest):
    check_op([(4, 6)], lambda a: a.topk(3, largest=largest).values,
             (lambda a: a.topk(3, largest=largest).values) if T else None)
    check_op([(4, 6)], lambda a: ournn.topk(a, 2, dim=0, largest=largest)[0],
             (lambda a: torch.topk(a, 2, dim=0, largest=largest)[0]) if T else None)
    if T:
        a = np.random.default_rng(0).standard_normal((4, 6))
        np.testing.assert_array_equal(ournn.tensor(a).topk(3, largest=largest).indices,
                                      torch.tensor(a).topk(3, largest=largest).indices)
    with pytest.raises(IndexError, match="out of range"):
        ournn.zeros(3).topk(4)


# ---------------------------------------------------------------- indexing
IDX = np.array([[0, 2, 2], [1, 0, 3], [3, 3, 1]])


@pytest.mark.parametrize("dim", [0, 1])
def test_gather(dim):
    index = IDX[:, :2] if dim == 1 else IDX[:3, :2] % 3
    check_op([(4, 5)], lambda a: a.gather(dim, ournn.tensor(index)),
             (lambda a: a.gather(dim, torch.tensor(index))) if T else None)
    check_op([(4, 5)], lambda a: ournn.gather(a, dim, ournn.tensor(index)),
             (lambda a: torch.gather(a, dim, torch.tensor(index))) if T else None)


def test_scatter_and_scatter_add():
    index = np.array([[0, 1, 2], [2, 0, 1]])          # no repeats along dim 0 per column
    check_op([(3, 4), (2, 3)], lambda x, s: x.scatter(0, ournn.tensor(index), s),
             (lambda x, s: x.scatter(0, torch.tensor(index), s)) if T else None)
    check_op([(3, 4), (3, 2)], lambda x, s: ournn.scatter(x, 1, ournn.tensor(index.T), s),
             (lambda x, s: torch.scatter(x, 1, torch.tensor(index.T), s)) if T else None)
    # a src larger than index: its first index.shape block is used (gradcheck only: PyTorch's
    # own backward refuses this case)
    check_op([(3, 4), (3, 5)], lambda x, s: ournn.scatter(x, 1, ournn.tensor(index.T), s))
    check_op([(3, 4)], lambda x: x.scatter(1, ournn.tensor(index), 7.5),
             (lambda x: x.scatter(1, torch.tensor(index), 7.5)) if T else None)
    repeats = np.array([[0, 0, 2], [0, 1, 1]])
    check_op([(3, 4), (2, 3)], lambda x, s: x.scatter_add(0, ournn.tensor(repeats), s),
             (lambda x, s: x.scatter_add(0, torch.tensor(repeats), s)) if T else None)


def test_scatter_in_place_twins():
    x = ournn.zeros(3, 4)
    x.scatter_(1, ournn.tensor([[1], [2], [0]]), 1.0)
    assert x.argmax(1).tolist() == [1, 2, 0]
    y = ournn.zeros(4)
    y.scatter_add_(0, ournn.tensor([1, 1, 3]), ournn.tensor([1.0, 2.0, 5.0]))
    assert y.tolist() == [0, 3, 0, 5]
    z = ournn.zeros(2, 3)
    z.index_fill_(1, ournn.tensor([0, 2]), -1.0)
    assert z.tolist() == [[-1, 0, -1], [-1, 0, -1]]


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim):
    index = np.array([2, 0, 2])
    check_op([(3, 4)], lambda a: a.index_select(dim, ournn.tensor(index)),
             (lambda a: a.index_select(dim, torch.tensor(index))) if T else None)


def test_masked_fill_masked_select():
    mask = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])
    check_op([(3, 4)], lambda a: a.masked_fill(ournn.tensor(mask), -2.0),
             (lambda a: a.masked_fill(torch.tensor(mask), -2.0)) if T else None)
    check_op([(3, 4)], lambda a: ournn.masked_fill(a, ournn.tensor(mask[0]), 0.0),
             (lambda a: torch.masked_fill(a, torch.tensor(mask[0]), 0.0)) if T else None)
    check_op([(3, 4)], lambda a: a.masked_select(ournn.tensor(mask)),
             (lambda a: a.masked_select(torch.tensor(mask))) if T else None)
    check_op([(3, 4), ()], lambda a, v: a.masked_fill(ournn.tensor(mask), v),
             (lambda a, v: a.masked_fill(torch.tensor(mask), v)) if T else None)


def test_nonzero_where_unique_bincount():
    x = ournn.tensor([[0, 3], [4, 0]])
    assert x.nonzero().tolist() == [[0, 1], [1, 0]]
    rows, cols = x.nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert [t.tolist() for t in ournn.where(x > 0)] == [[0, 1], [1, 0]]
    assert ournn.where(x > 0, 1.0, 0.0).tolist() == [[0, 1], [1, 0]]
    assert x.argwhere().shape == (2, 2)
    u, inv, counts = ournn.tensor([3, 1, 3, 2]).unique(return_inverse=True, return_counts=True)
    assert u.tolist() == [1, 2, 3] and inv.tolist() == [2, 0, 2, 1] and counts.tolist() == [1, 1, 2]
    assert ournn.bincount(ournn.tensor([0, 2, 2])).tolist() == [1, 0, 2]
    check_op([(2, 3), (2, 3)], lambda a, b: a.where(a > 0, b),
             (lambda a, b: a.where(a > 0, b)) if T else None)


def test_allclose_isclose_equal():
    a = ournn.tensor([1.0, 2.0])
    assert a.allclose(a + 1e-9) and ournn.allclose(a, ournn.tensor([1.0, 2.0]))
    assert ournn.isclose(a, ournn.tensor([1.0, 2.5])).tolist() == [True, False]
    assert a.equal(ournn.tensor([1.0, 2.0])) and not ournn.equal(a, ournn.tensor([1.0]))


# ---------------------------------------------------------------- shape
SHAPE_OPS = [  # (input shape, call)
    ((2, 3), lambda a: a.repeat(2, 3)),
    ((2, 3), lambda a: a.repeat(2, 1, 2)),
    ((2, 3), lambda a: a.tile((2,))),
    ((2, 3), lambda a: a.repeat_interleave(2, dim=1)),
    ((2, 3), lambda a: a.repeat_interleave(3)),
    ((5, 2), lambda a: a.chunk(3)[1] * 2),
    ((5, 2), lambda a: a.chunk(2, dim=1)[1]),
    ((3, 4), lambda a: a.unbind(1)[2]),
    ((3, 4), lambda a: a.narrow(1, 1, 2)),
    ((3, 4), lambda a: a.select(0, -1)),
    ((1, 3, 1, 2), lambda a: a.squeeze((0, 2))),
    ((1, 3, 1, 2), lambda a: a.squeeze(2)),
    ((2, 3, 4), lambda a: a.movedim(0, -1)),
    ((2, 3, 4), lambda a: a.movedim((0, 1), (2, 0))),
    ((2, 3, 4), lambda a: a.swapaxes(0, 2)),
    ((2, 3, 4), lambda a: a.mT),
    ((3, 4), lambda a: a.t()),
    ((3, 4), lambda a: a.flip(0)),
    ((2, 3, 4), lambda a: a.flip((0, 2))),
    ((3, 4), lambda a: a.fliplr()),
    ((3, 4), lambda a: a.roll(1, 1)),
    ((3, 4), lambda a: a.roll((1, -2), (0, 1))),
    ((3, 4), lambda a: a.roll(5)),
    ((4,), lambda a: a.diag()),
    ((4,), lambda a: a.diag(1)),
    ((3, 4), lambda a: a.diag()),
    ((3, 4), lambda a: a.diag(-1)),
    ((2, 3, 4), lambda a: a.diagonal(0, 1, 2)),
    ((3, 4, 3), lambda a: a.diagonal(1, 0, -1)),
    ((3, 4), lambda a: a.triu()),
    ((2, 3, 4), lambda a: a.tril(-1)),
    ((3, 1), lambda a: a.expand(-1, 4)),
    ((3, 1), lambda a: a.expand(2, 3, 4)),
    ((2, 6), lambda a: a.view(3, -1)),
    ((2, 6), lambda a: a.flatten(0, 1)),
    ((2, 3, 4), lambda a: a.flatten(1)),
    ((3, 4), lambda a: a.contiguous() * 1),
]


@pytest.mark.parametrize("shape,fn", SHAPE_OPS)
def test_shape_ops(shape, fn):
    check_op([shape], fn, fn if T else None)


def test_split_has_pytorchs_meaning():
    x = ournn.tensor(np.arange(14.0).reshape(7, 2))
    assert [p.shape for p in x.split(3)] == [(3, 2), (3, 2), (1, 2)]
    assert [p.shape for p in ournn.split(x, [2, 5])] == [(2, 2), (5, 2)]
    assert [p.shape for p in ournn.split(x, 1, dim=1)] == [(7, 1), (7, 1)]
    with pytest.raises(ShapeErrorType, match="add up"):
        x.split([2, 2])
    with pytest.raises(TypeError, match="tensor_split"):
        ournn.split(x, 2, axis=0)
    # NumPy's meaning, under PyTorch's own name for it
    assert [p.shape[0] for p in ournn.tensor_split(x, 3)] == [3, 2, 2]
    assert [p.shape[0] for p in x.tensor_split([2, 5])] == [2, 3, 2]
    check_op([(7, 2)], lambda a: a.split([3, 4])[1] * 2,
             (lambda a: a.split([3, 4])[1] * 2) if T else None)
    check_op([(7, 2)], lambda a: ournn.split(a, 3)[2],
             (lambda a: torch.split(a, 3)[2]) if T else None)
    if T:
        for ours, theirs in zip(ournn.tensor_split(x, 3), torch.tensor_split(
                torch.tensor(x.numpy()), 3)):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


ShapeErrorType = ournn.ShapeError


def test_view_as_expand_as_type_as_reshape_as():
    a = ournn.tensor(np.arange(6.0))
    b = ournn.zeros(2, 3, dtype=ournn.float64)
    assert a.view_as(b).shape == (2, 3) and a.reshape_as(b).shape == (2, 3)
    assert ournn.ones(1, 3).expand_as(b).shape == (2, 3)
    assert ournn.ones(3, dtype=ournn.int64).type_as(b).dtype == np.float64
    with pytest.raises(NotImplementedError, match="to\\(dtype\\)"):
        a.view(ournn.int32)


def test_cat_stack_family():
    a, b = ournn.tensor([1.0, 2.0]), ournn.tensor([3.0, 4.0])
    assert ournn.hstack([a, b]).tolist() == [1, 2, 3, 4]
    assert ournn.vstack([a, b]).shape == (2, 2)
    assert ournn.column_stack([a, b]).tolist() == [[1, 3], [2, 4]]
    assert ournn.dstack([a, b]).shape == (1, 2, 2)
    assert ournn.cat([a, ournn.tensor([])]).tolist() == [1, 2]
    assert ournn.cat((a.view(1, 2), b.view(1, 2)), dim=1).shape == (1, 4)
    check_op([(2, 3), (2, 3)], lambda x, y: ournn.vstack([x, y]),
             (lambda x, y: torch.vstack([x, y])) if T else None)


def test_meshgrid_broadcast_trace():
    x, y = ournn.tensor([1.0, 2.0, 3.0]), ournn.tensor([4.0, 5.0])
    gi = ournn.meshgrid(x, y, indexing="ij")
    gx = ournn.meshgrid(x, y, indexing="xy")
    assert gi[0].shape == (3, 2) and gx[0].shape == (2, 3)
    if T:
        for ours, theirs in zip(gi + gx, torch.meshgrid(torch.tensor(x.numpy()),
                                                        torch.tensor(y.numpy()), indexing="ij")
                                + torch.meshgrid(torch.tensor(x.numpy()),
                                                 torch.tensor(y.numpy()), indexing="xy")):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    a, b = ournn.broadcast_tensors(ournn.ones(3, 1), ournn.ones(1, 4))
    assert a.shape == b.shape == (3, 4)
    check_op([(3, 3)], ournn.trace, torch.trace if T else None)


# ---------------------------------------------------------------- products
def test_mm_bmm_mv_dot_outer():
    check_op([(3, 4), (4, 2)], lambda a, b: a.mm(b), (lambda a, b: a.mm(b)) if T else None)
    check_op([(2, 3, 4), (2, 4, 5)], ournn.bmm, torch.bmm if T else None)
    check_op([(3, 4), (4,)], ournn.mv, torch.mv if T else None)
    check_op([(4,), (4,)], lambda a, b: a.dot(b), (lambda a, b: a.dot(b)) if T else None)
    check_op([(3,), (4,)], ournn.outer, torch.outer if T else None)
    with pytest.raises(ShapeErrorType, match="2 dimensions"):
        ournn.mm(ournn.ones(3), ournn.ones(3, 2))


def test_addmm_baddbmm():
    check_op([(3, 2), (3, 4), (4, 2)], lambda i, a, b: ournn.addmm(i, a, b, beta=0.5, alpha=2),
             (lambda i, a, b: torch.addmm(i, a, b, beta=0.5, alpha=2)) if T else None)
    check_op([(2,), (3, 4), (4, 2)], lambda i, a, b: i.addmm(a, b),
             (lambda i, a, b: i.addmm(a, b)) if T else None)
    check_op([(2, 3, 5), (2, 3, 4), (2, 4, 5)],
             lambda i, a, b: ournn.baddbmm(i, a, b, alpha=0.5),
             (lambda i, a, b: torch.baddbmm(i, a, b, alpha=0.5)) if T else None)
    nan = ournn.full((3, 2), float("nan"))
    assert np.isfinite(ournn.addmm(nan, ournn.ones(3, 4), ournn.ones(4, 2), beta=0).numpy()).all()


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,j", [(3, 4), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...i,i->...", [(2, 3, 4), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ij,kl->il", [(3, 4), (2, 5)]),
    ("ij,ij->ij", [(1, 4), (3, 4)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM)
def test_einsum(equation, shapes):
    check_op(shapes, lambda *ops: ournn.einsum(equation, *ops),
             (lambda *ops: torch.einsum(equation, *ops)) if T else None)


def test_einsum_takes_a_list():
    a, b = ournn.ones(2, 3), ournn.ones(3, 4)
    assert ournn.einsum("ij,jk->ik", [a, b]).shape == (2, 4)


def test_norms():
    check_op([(3, 4)], lambda a: ournn.norm(a), torch.norm if T else None)
    check_op([(3, 4)], lambda a: ournn.norm(a, dim=1), (lambda a: torch.norm(a, dim=1))
             if T else None)
    check_op([(3, 4)], lambda a: ournn.linalg.norm(a), torch.linalg.norm if T else None)
    check_op([(2, 3, 4)], lambda a: ournn.linalg.vector_norm(a, 3, dim=(0, 2)),
             (lambda a: torch.linalg.vector_norm(a, 3, dim=(0, 2))) if T else None)
    check_op([(2, 3, 4)], lambda a: ournn.linalg.norm(a, dim=-1),
             (lambda a: torch.linalg.norm(a, dim=-1)) if T else None)
    for ord_ in ("fro", 1, -1, math.inf, -math.inf):
        check_op([(3, 4)], lambda a: ournn.linalg.matrix_norm(a, ord_),
                 (lambda a: torch.linalg.matrix_norm(a, ord_)) if T else None, seed=3)
    check_op([(3, 4)], lambda a: ournn.linalg.norm(a, 1),
             (lambda a: torch.linalg.norm(a, 1)) if T else None, seed=3)
    zero = ournn.zeros(3, dtype=ournn.float64, requires_grad=True)
    zero.norm().backward()
    assert zero.grad.tolist() == [0, 0, 0]     # PyTorch's subgradient at zero
    import ournn.linalg as la                    # importable as a module
    assert la.norm is ournn.linalg.norm


# ---------------------------------------------------------------- out=
def test_out_writes_into_the_given_tensor():
    a, b = ournn.tensor([1.0, 2.0]), ournn.tensor([3.0, 4.0])
    out = ournn.empty(2)
    data = out.numpy()
    res = ournn.add(a, b, out=out)
    assert res is out and out.tolist() == [4, 6] and out.numpy() is data
    ournn.sin(a, out=out)
    np.testing.assert_allclose(out.numpy(), np.sin([1.0, 2.0]), rtol=1e-6)
    resized = ournn.zeros(5)
    ournn.cat([a, b], out=resized)
    assert resized.shape == (4,)
    values, indices = ournn.empty(2), ournn.zeros(2, dtype=ournn.int64)
    r = ournn.sort(ournn.tensor([[2.0, 1.0], [0.0, 3.0]]), dim=1, out=(ournn.empty(2, 2),
                                                                        ournn.zeros(2, 2, dtype=ournn.int64)))
    assert r.values.tolist() == [[1, 2], [0, 3]] and r.indices.tolist() == [[1, 0], [0, 1]]
    assert values.shape == indices.shape
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        ournn.mul(ournn.ones(2, requires_grad=True), 2, out=ournn.empty(2))
    with ournn.no_grad():
        ournn.mul(ournn.ones(2, requires_grad=True), 2, out=out)
    assert out.tolist() == [2, 2]


# ---------------------------------------------------------------- dtypes
def test_dtype_aliases_and_default_dtype():
    assert ournn.float is np.float32 and ournn.double is np.float64 and ournn.half is np.float16
    assert ournn.long is np.int64 and ournn.int is np.int32 and ournn.bool is np.bool_
    assert ournn.int8 is np.int8 and ournn.uint8 is np.uint8 and ournn.int16 is np.int16
    assert ournn.ones(2).dtype == ournn.float32
    assert ournn.finfo(ournn.float32).eps == np.finfo(np.float32).eps
    assert ournn.iinfo(ournn.int64).max == 2 ** 63 - 1
    with pytest.raises(AttributeError, match="bfloat16"):
        ournn.bfloat16
    assert ournn.get_default_dtype() == np.float32
    ournn.set_default_dtype(ournn.float64)
    try:
        assert ournn.zeros(2).dtype == np.float64 and ournn.tensor([1.5]).dtype == np.float64
        assert ournn.arange(0, 1, 0.5).dtype == np.float64 and ournn.rand(2).dtype == np.float64
        assert ournn.tensor([1]).dtype == np.int64
    finally:
        ournn.set_default_dtype(ournn.float32)
    with pytest.raises(TypeError):
        ournn.set_default_dtype(ournn.int64)
    assert ournn.tensor([1.5]).dtype == np.float32
    assert ournn.ones(2).is_floating_point() and not ournn.tensor([1]).is_floating_point()


def test_method_results_of_builtin_names_still_work_in_the_package():
    # float/int/bool are assigned last in ournn/__init__.py; the package itself works
    x = ournn.tensor([1.5, 2.5])
    assert x.float().dtype == np.float32 and x.int().tolist() == [1, 2]
    assert ournn.is_tensor(x) and not ournn.is_tensor(x.numpy()) and ournn.numel(x) == 2


# ---------------------------------------------------------------- idioms of PyTorch scripts
def test_tutorial_idioms_run_with_pytorchs_dtypes():
    x = ournn.linspace(-math.pi, math.pi, 50)
    xx = x.unsqueeze(-1).pow(ournn.tensor([1, 2, 3]))       # the polynomial-fit tutorial
    assert xx.dtype == np.float32 and xx.shape == (50, 3)
    assert (x ** ournn.tensor(2)).dtype == np.float32
    out, labels = ournn.randn(8, 10), ournn.randint(0, 10, (8,))
    _, predicted = ournn.max(out.data, 1)
    correct = (predicted == labels).sum().item()
    assert isinstance(correct, int) and 0 <= correct <= 8
    assert out.view(out.size(0), -1).shape == (8, 10)
    assert ournn.argmax(out, dim=1).tolist() == predicted.tolist()
    if T:
        tx = torch.tensor(x.numpy())
        np.testing.assert_allclose(xx.numpy(), tx.unsqueeze(-1).pow(torch.tensor([1, 2, 3])),
                                   rtol=1e-6)
