"""Gradients of gradients of the losses, the indexing ops, einsum and padding.

Each case is written once as ``fn(L, *xs)`` (``L`` is ``ournn`` or ``torch``), checked by
``gradgradcheck`` and, with torch installed, its Hessian-vector products are compared with
PyTorch's in float64. Targets, indices and masks are constants. Most cases square the op's
result: the gradient reaching the op then depends on the inputs, so its backward is checked
on tensors that carry a graph, not only on constant weights.
"""
import numpy as np
import pytest

import ournn
from ournn.autograd import grad, gradgradcheck
from tests.helpers import assert_hvp_equals_torch, requires_torch


def F(L):
    return L.nn.functional


def C(L, a):
    """A constant of the library ``L`` (integer labels, masks, probabilities)."""
    return L.tensor(np.asarray(a))


_RNG = np.random.default_rng(5)
LABELS = np.array([0, 2, 4, 1])
LABELS_IGNORED = np.array([0, -100, 4, 1])
LABELS_IGNORE_3 = np.array([3, 2, 3, 1])
CLASS_W = np.array([0.5, 1.0, 2.0, 1.5, 0.7])
PROBS = _RNG.dirichlet(np.ones(5), size=4)                    # (4, 5), rows sum to 1
SPATIAL_LABELS = np.array([[0, 2, 1, 1], [2, 0, 0, 1]])       # (2, 4) for (2, 3, 4) logits
SPATIAL_PROBS = np.moveaxis(_RNG.dirichlet(np.ones(3), size=(2, 4)), -1, 1)  # (2, 3, 4)
BIN_TARGET = _RNG.uniform(0.0, 1.0, (3, 4))
REG_TARGET = np.array([[0.3, -1.2, 2.0, 0.1], [0.0, 0.9, -0.4, 1.7], [-2.1, 0.5, 0.2, -0.3]])
KL_TARGET = _RNG.dirichlet(np.ones(4), size=3)                # (3, 4)
INDEX = np.array([[0, 2, 2], [3, 0, 1], [1, 1, 3]])           # repeats: gradients accumulate
SCATTER_INDEX = np.array([[0, 2], [3, 1], [1, 2]])            # no repeats within a row
MASK = np.array([[True, False, True, False], [False, False, True, True],
                 [True, True, False, False]])


def sq(y):
    return y * y


# name: (fn(L, *xs), input shapes, kind of inputs: "normal", "positive" or "prob" (in (0, 1)))
CASES = {
    # cross-entropy, class indices
    "ce": (lambda L, x: F(L).cross_entropy(x, C(L, LABELS)), [(4, 5)], "normal"),
    "ce_sq": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS))), [(4, 5)], "normal"),
    "ce_sum": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), reduction="sum")),
               [(4, 5)], "normal"),
    "ce_none": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), reduction="none")),
                [(4, 5)], "normal"),
    "ce_smoothing": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), label_smoothing=0.2)),
                     [(4, 5)], "normal"),
    "ce_ignore": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS_IGNORED))),
                  [(4, 5)], "normal"),
    "ce_ignore_index_smoothing_none": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS_IGNORE_3), ignore_index=3,
                                           label_smoothing=0.1, reduction="none")),
        [(4, 5)], "normal"),
    "ce_weight": (lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), weight=C(L, CLASS_W))),
                  [(4, 5)], "normal"),
    "ce_weight_smoothing_ignore": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS_IGNORED), weight=C(L, CLASS_W),
                                           label_smoothing=0.15)),
        [(4, 5)], "normal"),
    "ce_weight_none": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), weight=C(L, CLASS_W),
                                           reduction="none", label_smoothing=0.1)),
        [(4, 5)], "normal"),
    "ce_weight_sum": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, LABELS), weight=C(L, CLASS_W),
                                           reduction="sum")),
        [(4, 5)], "normal"),
    "ce_spatial": (lambda L, x: sq(F(L).cross_entropy(x, C(L, SPATIAL_LABELS))),
                   [(2, 3, 4)], "normal"),
    "ce_spatial_none": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, SPATIAL_LABELS), reduction="none")),
        [(2, 3, 4)], "normal"),
    # cross-entropy, class probabilities
    "ce_probs": (lambda L, x: sq(F(L).cross_entropy(x, C(L, PROBS))), [(4, 5)], "normal"),
    "ce_probs_weight_smoothing": (
        lambda L, x: sq(F(L).cross_entropy(x, C(L, PROBS), weight=C(L, CLASS_W),
                                           label_smoothing=0.1, reduction="sum")),
        [(4, 5)], "normal"),
    "ce_probs_none": (lambda L, x: sq(F(L).cross_entropy(x, C(L, PROBS), reduction="none")),
                      [(4, 5)], "normal"),
    "ce_probs_target_grad": (lambda L, x, t: sq(F(L).cross_entropy(x, t, label_smoothing=0.1)),
                             [(4, 5), (4, 5)], "normal"),
    "ce_probs_spatial": (lambda L, x: sq(F(L).cross_entropy(x, C(L, SPATIAL_PROBS))),
                         [(2, 3, 4)], "normal"),
    # NLL
    "nll": (lambda L, x: sq(F(L).nll_loss(x, C(L, LABELS))), [(4, 5)], "normal"),
    "nll_none": (lambda L, x: sq(F(L).nll_loss(x, C(L, LABELS), reduction="none")),
                 [(4, 5)], "normal"),
    "nll_ignore": (lambda L, x: sq(F(L).nll_loss(x, C(L, LABELS_IGNORED))), [(4, 5)], "normal"),
    "nll_weight": (lambda L, x: sq(F(L).nll_loss(x, C(L, LABELS_IGNORED), weight=C(L, CLASS_W))),
                   [(4, 5)], "normal"),
    "nll_weight_none": (
        lambda L, x: sq(F(L).nll_loss(x, C(L, LABELS), weight=C(L, CLASS_W),
                                      reduction="none")),
        [(4, 5)], "normal"),
    "nll_spatial": (lambda L, x: sq(F(L).nll_loss(x, C(L, SPATIAL_LABELS), reduction="sum")),
                    [(2, 3, 4)], "normal"),
    # pointwise losses
    "mse": (lambda L, x: sq(F(L).mse_loss(x, C(L, REG_TARGET))), [(3, 4)], "normal"),
    "mse_target_grad": (lambda L, x, y: sq(F(L).mse_loss(x, y, reduction="sum")),
                        [(3, 4), (3, 4)], "normal"),
    "bce": (lambda L, p: F(L).binary_cross_entropy(p, C(L, BIN_TARGET)), [(3, 4)], "prob"),
    "bce_sq_none": (lambda L, p: sq(F(L).binary_cross_entropy(p, C(L, BIN_TARGET),
                                                               reduction="none")),
                    [(3, 4)], "prob"),
    "bce_weight": (lambda L, p: sq(F(L).binary_cross_entropy(p, C(L, BIN_TARGET),
                                                              weight=C(L, REG_TARGET))),
                   [(3, 4)], "prob"),
    "bce_logits": (lambda L, x: sq(F(L).binary_cross_entropy_with_logits(x, C(L, BIN_TARGET))),
                   [(3, 4)], "normal"),
    "bce_logits_pos_weight": (
        lambda L, x: sq(F(L).binary_cross_entropy_with_logits(
            x, C(L, BIN_TARGET), pos_weight=C(L, np.array([0.5, 2.0, 1.0, 3.0])),
            reduction="none")),
        [(3, 4)], "normal"),
    "bce_logits_target_grad": (
        lambda L, x, y: sq(F(L).binary_cross_entropy_with_logits(
            x, y, pos_weight=C(L, np.array([0.5, 2.0, 1.0, 3.0])), reduction="sum")),
        [(3, 4), (3, 4)], "normal"),
    "l1": (lambda L, x: sq(F(L).l1_loss(x, C(L, REG_TARGET))), [(3, 4)], "normal"),
    "l1_target_grad_none": (lambda L, x, y: sq(F(L).l1_loss(x, y, reduction="none")),
                            [(3, 4), (3, 4)], "normal"),
    "smooth_l1": (lambda L, x: sq(F(L).smooth_l1_loss(x, C(L, REG_TARGET))), [(3, 4)], "normal"),
    "smooth_l1_beta": (lambda L, x, y: sq(F(L).smooth_l1_loss(x, y, beta=0.5, reduction="none")),
                       [(3, 4), (3, 4)], "normal"),
    "smooth_l1_plain": (lambda L, x: F(L).smooth_l1_loss(x, C(L, REG_TARGET), beta=0.8),
                        [(3, 4)], "normal"),
    "huber": (lambda L, x: sq(F(L).huber_loss(x, C(L, REG_TARGET), delta=0.7)), [(3, 4)], "normal"),
    "huber_target_grad": (lambda L, x, y: sq(F(L).huber_loss(x, y, reduction="sum")),
                          [(3, 4), (3, 4)], "normal"),
    "kl_div": (lambda L, x: sq(F(L).kl_div(x, C(L, KL_TARGET), reduction="batchmean")),
               [(3, 4)], "normal"),
    "kl_div_target_grad": (lambda L, x, y: sq(F(L).kl_div(x, y, reduction="sum")),
                           [(3, 4), (3, 4)], "prob"),
    "kl_div_log_target": (
        lambda L, x, y: sq(F(L).kl_div(x, y, reduction="none", log_target=True)),
        [(3, 4), (3, 4)], "normal"),
    # indexing
    "gather": (lambda L, x: sq(x.gather(1, C(L, INDEX))), [(3, 4)], "normal"),
    "scatter": (lambda L, x, s: sq(x.scatter(1, C(L, SCATTER_INDEX), s)),
                [(3, 4), (3, 2)], "normal"),
    "scatter_bigger_src": (lambda L, x, s: sq(x.scatter(1, C(L, SCATTER_INDEX), s)),
                           [(3, 4), (3, 3)], "normal"),
    "scatter_value": (lambda L, x: sq(x.scatter(1, C(L, SCATTER_INDEX), 0.5)), [(3, 4)], "normal"),
    "scatter_add": (lambda L, x, s: sq(x.scatter_add(1, C(L, INDEX), s)),
                    [(3, 4), (3, 3)], "normal"),
    "index_select": (lambda L, x: sq(x.index_select(1, C(L, np.array([3, 0, 3])))),
                     [(3, 4)], "normal"),
    "masked_fill": (lambda L, x: sq(x.masked_fill(C(L, MASK), 0.5)), [(3, 4)], "normal"),
    "masked_select": (lambda L, x: sq(x.masked_select(C(L, MASK))), [(3, 4)], "normal"),
    "sort_values": (lambda L, x: sq(x.sort(dim=1, descending=True).values), [(3, 4)], "normal"),
    "topk_values": (lambda L, x: sq(x.topk(2, dim=0).values), [(3, 4)], "normal"),
    "max_dim": (lambda L, x: sq(x.max(dim=1).values), [(3, 4)], "normal"),
    "median_dim": (lambda L, x: sq(x.median(dim=1).values), [(3, 5)], "normal"),
    "kthvalue": (lambda L, x: sq(x.kthvalue(2, dim=1).values), [(3, 4)], "normal"),
    "repeat": (lambda L, x: sq(x.repeat(2, 1, 2)), [(3, 4)], "normal"),
    "repeat_interleave": (lambda L, x: sq(x.repeat_interleave(2, dim=1)), [(3, 4)], "normal"),
    "roll": (lambda L, x: sq(x.roll(1, 0) * x), [(3, 4)], "normal"),
    "roll_dims": (lambda L, x: sq(x.roll((1, -2), (0, 1)) * x), [(3, 4)], "normal"),
    "roll_flat": (lambda L, x: sq(x.roll(5) * x), [(3, 4)], "normal"),
    "flip": (lambda L, x: sq(x.flip(1) * x), [(3, 4)], "normal"),
    "diagonal": (lambda L, x: sq(x.diagonal(1, 0, 2)), [(3, 2, 4)], "normal"),
    "diag_matrix": (lambda L, x: sq(x.diag(-1)), [(4, 3)], "normal"),
    "diag_vector": (lambda L, x: sq(x.diag(1)) @ sq(x.diag(1)), [(3,)], "normal"),
    "triu": (lambda L, x: sq(x.triu(1)) @ x.T, [(3, 4)], "normal"),
    "tril": (lambda L, x: sq(x.tril(-1) * x), [(2, 3, 4)], "normal"),
    # einsum and shapes
    "einsum_matmul": (lambda L, a, b: sq(L.einsum("ij,jk->ik", a, b)), [(3, 4), (4, 2)], "normal"),
    "einsum_batch": (lambda L, a, b: sq(L.einsum("bij,bjk->bik", a, b)),
                     [(2, 3, 4), (2, 4, 2)], "normal"),
    "einsum_outer_broadcast": (lambda L, a, b: sq(L.einsum("i,j->ij", a, b) * a[:, None]),
                               [(3,), (4,)], "normal"),
    "einsum_trace": (lambda L, a: sq(L.einsum("ii->", a * a)), [(3, 3)], "normal"),
    "einsum_diag": (lambda L, a, b: sq(L.einsum("ii,i->i", a, b)), [(3, 3), (3,)], "normal"),
    "einsum_repeated_batch": (lambda L, a: sq(L.einsum("iij->j", a) * a[0, 0]), [(3, 3, 2)],
                              "normal"),
    "einsum_ellipsis": (lambda L, a, b: sq(L.einsum("...ij,jk->...ik", a, b)),
                        [(2, 3, 4), (4, 2)], "normal"),
    "pad": (lambda L, x: sq(F(L).pad(x, (1, 2, 0, 1), value=0.5) * 2), [(3, 4)], "normal"),
    "cat": (lambda L, a, b: sq(L.cat([a, b * a], 1)), [(3, 2), (3, 2)], "normal"),
    "split": (lambda L, x: sq(x.split([1, 3], dim=1)[1]) @ x[:, 1:].T, [(3, 4)], "normal"),
    "chunk_unbind": (lambda L, x: sq(x.chunk(2, dim=1)[0]) + sq(x.unbind(1)[3])[:, None],
                     [(3, 4)], "normal"),
    "stack": (lambda L, a, b: sq(L.stack([a, a * b], 1)), [(3, 2), (3, 2)], "normal"),
    "narrow_select": (lambda L, x: sq(x.narrow(1, 1, 2)) * sq(x.select(1, 0))[:, None],
                      [(3, 4)], "normal"),
    "index_fill_": (lambda L, x: sq(_index_fill(L, x)), [(3, 4)], "normal"),
    "scatter_add_": (lambda L, x, s: sq(_scatter_add_(L, x, s)), [(3, 4), (3, 3)], "normal"),
    # the remaining elementwise and reduction ops, not in tests/autograd/test_double_backward.py
    "minimum": (lambda L, a, b: sq(L.minimum(a * a, b)), [(5,), (5,)], "normal"),
    "neg": (lambda L, a: sq(-a) * a, [(4,)], "normal"),
    "amin": (lambda L, a: sq(a.amin(dim=0)), [(3, 4)], "normal"),
    "min_dim": (lambda L, a: sq(a.min(dim=1).values), [(3, 4)], "normal"),
    "sum_all_mean_all": (lambda L, a: sq(a.sum()) * a.mean(), [(3, 4)], "normal"),
    "mm_mv_dot_outer": (lambda L, a, v: sq(a.mm(a.T).mv(v).dot(v) * L.outer(v, v)),
                        [(3, 4), (3,)], "normal"),
    "addmm_bmm": (lambda L, a, b: sq(L.addmm(a, a, b) + L.bmm(a[None], b[None])[0]),
                  [(3, 3), (3, 3)], "normal"),
}


def _index_fill(L, x):
    y = x * 1
    y.index_fill_(1, C(L, np.array([0, 2])), 0.5)
    return y * x


def _scatter_add_(L, x, s):
    y = x * 1
    y.scatter_add_(1, C(L, INDEX), s * s)
    return y


# PyTorch cannot differentiate these (its scatter's gradient for a src larger than the index
# has the index's shape): gradgradcheck alone checks them
NOT_IN_TORCH = {"scatter_bigger_src"}


def _inputs(shapes, kind, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        if kind == "prob":
            out.append(rng.uniform(0.1, 0.9, s))
        elif kind == "positive":
            out.append(np.abs(rng.standard_normal(s)) + 0.5)
        else:
            out.append(rng.standard_normal(s))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, shapes, kind = CASES[name]
    inputs = [ournn.tensor(a, requires_grad=True) for a in _inputs(shapes, kind)]
    assert gradgradcheck(lambda *xs: fn(ournn, *xs), inputs)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_second_derivatives_equal_pytorchs(name):
    """Hessian-vector products of sum(fn(x) * w) equal PyTorch's in float64."""
    if name in NOT_IN_TORCH:
        pytest.skip("PyTorch has no gradient here to compare with")
    fn, shapes, kind = CASES[name]
    arrays = _inputs(shapes, kind)
    assert_hvp_equals_torch(fn, arrays)


@pytest.mark.parametrize("name", ["ce", "ce_weight_smoothing_ignore", "ce_probs", "nll",
                                  "bce_logits_pos_weight", "smooth_l1_plain", "kl_div",
                                  "gather", "scatter_add", "einsum_trace"])
def test_first_derivatives_unchanged_by_create_graph(name):
    """The gradient with create_graph=True equals the fast path's, array for array."""
    fn, shapes, kind = CASES[name]
    arrays = _inputs(shapes, kind, seed=3)
    got = []
    for create_graph in (False, True):
        xs = [ournn.tensor(a.copy(), requires_grad=True) for a in arrays]
        gs = grad(fn(ournn, *xs).sum(), xs, create_graph=create_graph)
        got.append([g.detach().numpy() for g in gs])
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_third_derivative_of_cross_entropy():
    """d3/dx3 of cross_entropy(x, t) on one row of two logits: sigmoid's second derivative."""
    x = ournn.tensor([[0.3, -0.4]], dtype=np.float64, requires_grad=True)
    loss = ournn.nn.functional.cross_entropy(x, ournn.tensor(np.array([0])))
    (g1,) = grad(loss, x, create_graph=True)
    (g2,) = grad(g1[0, 0], x, create_graph=True)
    (g3,) = grad(g2[0, 0], x)
    s = 1 / (1 + np.exp(-0.7))                 # softmax(x)[0] = sigmoid(x0 - x1)
    np.testing.assert_allclose(g3.numpy()[0, 0], s * (1 - s) * (1 - 2 * s), rtol=1e-10)
