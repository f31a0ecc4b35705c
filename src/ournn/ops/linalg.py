"""Matrix products: matmul (batched, broadcasting, 1-D operands) and the fused linear layer."""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import blas
from ._util import unbroadcast


def rows_matmul(a, b):
    """``a @ b`` for a stack ``a`` (..., n, k) and a matrix ``b`` (k, m) as ONE (rows, k)
    product: NumPy runs the broadcast 3-D @ 2-D form without BLAS's full speed (a contiguous
    (32, 100, 128) @ (128, 128) took 35 ms against 0.5 ms reshaped); other shapes as ``@``."""
    if a.ndim > 2 and b.ndim == 2:
        return blas.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[-1],))
    return blas.matmul(a, b)


class MatMul(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a.ndim >= 2 and b.ndim >= 2:
            return rows_matmul(a, b)
        return get_array_module(a, b).matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        xp = get_array_module(grad)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            grad = xp.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(rows_matmul(grad, xp.swapaxes(b2, -1, -2)),
                             a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            if a2.ndim > 2 and b2.ndim == 2:      # the stack's rows summed in one product
                gb = blas.matmul(a2.reshape(-1, a2.shape[-1]).T, grad.reshape(-1, grad.shape[-1]))
                gb = gb.reshape(b.shape)
            else:
                gb = unbroadcast(blas.matmul(xp.swapaxes(a2, -1, -2), grad),
                                 b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ W.T + b with W of shape (out, in), as ``torch.nn.functional.linear``.

    Always applied with three arguments (``bias`` may be None). Inputs with more than two
    dims are treated as a batch of rows."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        if x.ndim > 2:
            # one (rows, in) product: a batched matmul over a non-contiguous input (a
            # transposed batch_first tensor) takes NumPy's slow path, ~150x slower
            out = blas.matmul_nt(x.reshape(-1, x.shape[-1]), weight).reshape(x.shape[:-1] + (-1,))
        else:
            out = blas.matmul_nt(x, weight)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = rows_matmul(grad, weight) if need_x else None
        gw = gb = None
        if need_w or (ctx.has_bias and ctx.needs_input_grad[2]):
            g2 = grad.reshape(-1, grad.shape[-1])
            if need_w:
                x2 = x.reshape(-1, x.shape[-1])
                # one row (batch size 1): an outer product; as a matmul with an inner
                # dimension of 1 it takes 4-6x longer here (0.38 vs 1.47 ms at 512x784)
                gw = g2.T * x2 if g2.shape[0] == 1 else blas.matmul(g2.T, x2)
            if ctx.has_bias and ctx.needs_input_grad[2]:
                gb = g2.sum(axis=0)
        return gx, gw, gb


# ---------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_einsum(equation, shapes):
    """``equation`` in explicit form with every ``...`` spelled as letters:
    ``(["ij", "jk"], "ik")``. Implicit output follows NumPy and PyTorch (the letters seen once,
    in alphabetical order, after the broadcast dimensions)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subs)} operands, "
                         f"{len(shapes)} were given")
    free = [c for c in _LETTERS if c not in eq]
    n_ell = max([len(s) - (len(sub) - 3) for sub, s in zip(subs, shapes) if "..." in sub],
                default=0)
    ell = "".join(free[:n_ell])
    out_subs = []
    for sub, shape in zip(subs, shapes):
        if "..." in sub:
            k = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ell - k:] if k else "")
        if len(sub) != len(shape):
            raise ValueError(f"einsum: subscripts {sub!r} do not fit an operand of shape "
                             f"{tuple(shape)}")
        out_subs.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        joined = "".join(out_subs)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                   and c not in ell))
    return out_subs, out


class Einsum(Function):
    """``einsum`` of any number of operands; each operand's gradient is itself an einsum
    (repeated letters, such as a trace ``ii->``, get their gradient on the diagonal)."""

    double_backward = True

    @staticmethod
    def forward(ctx, *arrays, subs=(), out=""):
        xp = get_array_module(*arrays)
        ctx.save_for_backward(*arrays)
        ctx.subs, ctx.out = subs, out
        return xp.einsum(",".join(subs) + "->" + out, *arrays)

    @staticmethod
    def backward(ctx, grad):
        arrays = ctx.saved_tensors
        xp = get_array_module(grad)
        grads = []
        for i, (sub, a) in enumerate(zip(ctx.subs, arrays)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(ctx.subs) if j != i]
            other_arrays = [b for j, b in enumerate(arrays) if j != i]
            uniq = "".join(dict.fromkeys(sub))
            sizes = {c: n for c, n in zip(sub, a.shape)}
            seen = set(ctx.out + "".join(others))
            target = "".join(c for c in uniq if c in seen)
            g = xp.einsum(",".join([ctx.out] + others) + "->" + target, grad, *other_arrays)
            for pos, c in enumerate(uniq):      # letters only this operand has: broadcast
                if c not in seen:
                    g = xp.expand_dims(g, pos)
            g = xp.broadcast_to(g, [max(g.shape[k], sizes[c]) for k, c in enumerate(uniq)])
            small = tuple(k for k, c in enumerate(uniq) if sizes[c] == 1 and g.shape[k] != 1)
            if small:                           # a broadcast size-1 dimension
                g = g.sum(axis=small, keepdims=True)
            if len(uniq) != len(sub) and isinstance(g, Tensor):
                # on tensors: g with size-1 axes at the repeats, times the diagonal's mask
                mask = np.zeros(a.shape, dtype=grad.dtype)
                np.einsum(sub + "->" + uniq, mask)[...] = 1
                g = g.reshape([g.shape[uniq.index(c)] if sub.index(c) == p else 1
                               for p, c in enumerate(sub)]) * mask
            elif len(uniq) != len(sub):         # repeated letters: onto the diagonal
                full = xp.zeros(a.shape, dtype=grad.dtype)
                xp.einsum(sub + "->" + uniq, full)[...] = g
                g = full
            # (reshape: ascontiguousarray makes a 0-d operand's gradient 1-d)
            grads.append(xp.ascontiguousarray(g, dtype=grad.dtype).reshape(a.shape))
        return tuple(grads)
