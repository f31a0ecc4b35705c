"""Fused losses: cross-entropy (log-softmax + NLL), NLL, binary cross-entropy (on probabilities
and on logits). Each takes ``reduction`` in {'mean', 'sum', 'none'}.

Gradients of gradients: every loss here declares ``double_backward``. Their backwards read
intermediates computed in forward (log-probabilities, log-sigmoids, slopes); run on tensors
(``create_graph=True``) those would be constants, so each backward recomputes them from the
saved inputs in that case (the array path keeps using the saved intermediates).
"""
import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from . import compat
from ..tensor import Tensor


def _reduce(losses, reduction, count=None):
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / losses.dtype.type(losses.size if count is None else max(count, 1))


def _reduction_scale(grad, reduction, shape, dtype, count):
    """Gradient of the reduced loss w.r.t. each per-sample loss."""
    if reduction == "none":
        return grad
    if reduction == "sum":
        return grad
    n = 1
    for d in shape:
        n *= d
    return grad / dtype.type(n if count is None else max(count, 1))


def _log_softmax_t(x):
    """log-softmax over axis 1 of a tensor ``x``, recorded (the recomputation of a saved
    ``logp`` for gradients of gradients). The shift by the row max is a constant: exact."""
    xp = get_array_module(x)
    shifted = x - x._data.max(axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _one_hot(target, c, dtype):
    """(N, C) array with 1 at ``[i, target[i]]``: a constant of the tensor backwards."""
    out = np.zeros((target.shape[0], c), dtype)
    out[np.arange(target.shape[0]), target] = 1
    return out


def _column(scale):
    return scale[:, None] if scale.ndim else scale


class CrossEntropy(Function):
    """Cross-entropy of logits (N, C) against integer targets (N,), log-softmax fused in.

    Stable for any logit magnitude: the max is subtracted before exponentiating."""

    @staticmethod
    def forward(ctx, logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        xp = get_array_module(logits)
        n, c = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)
        logsumexp = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        logp = shifted - logsumexp
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        rows = xp.arange(n)
        picked = logp[rows, safe_target]
        if label_smoothing:
            eps = logits.dtype.type(label_smoothing)
            losses = -(1 - eps) * picked - eps / c * logp.sum(axis=1)
        else:
            losses = -picked
        all_valid = bool(valid.all())
        if not all_valid:
            losses = losses * valid
        count = int(valid.sum()) if not all_valid else None
        ctx.save_for_backward(logp, safe_target, valid, logits)
        ctx.reduction, ctx.smoothing, ctx.count, ctx.all_valid = (reduction, label_smoothing,
                                                                   count, all_valid)
        return _reduce(losses, reduction, count)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        logp, target, valid, logits = ctx.saved_tensors
        if isinstance(grad, Tensor):    # gradients of gradients: softmax(logits) recorded
            n, c = logits.shape
            eps = logits.dtype.type(ctx.smoothing)
            g = get_array_module(grad).exp(_log_softmax_t(logits)) \
                - (_one_hot(target._data, c, logits.dtype) * (1 - eps) + eps / c)
            if not ctx.all_valid:
                g = g * valid._data[:, None].astype(logits.dtype)
            scale = _reduction_scale(grad, ctx.reduction, (n,), logits.dtype, ctx.count)
            return g * _column(scale), None
        xp = get_array_module(logp)
        n, c = logp.shape
        scale = _reduction_scale(grad, ctx.reduction, (n,), logp.dtype, ctx.count)
        g = xp.exp(logp)
        eps = logp.dtype.type(ctx.smoothing)
        if ctx.smoothing:
            g -= eps / c
        g[xp.arange(n), target] -= 1 - eps
        if not ctx.all_valid:
            g *= valid[:, None]
        scale = scale[:, None] if xp.ndim(scale) else scale
        return g * scale, None


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities (N, C) at integer targets (N,)."""

    @staticmethod
    def forward(ctx, logp, target, reduction="mean", ignore_index=-100):
        xp = get_array_module(logp)
        n = logp.shape[0]
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        losses = -logp[xp.arange(n), safe_target] * valid
        all_valid = bool(valid.all())
        count = None if all_valid else int(valid.sum())
        ctx.save_for_backward(safe_target, valid)
        ctx.shape, ctx.dtype, ctx.reduction, ctx.count = logp.shape, logp.dtype, reduction, count
        return _reduce(losses.astype(logp.dtype, copy=False), reduction, count)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        target, valid = ctx.saved_tensors
        xp = get_array_module(target)
        n = ctx.shape[0]
        scale = _reduction_scale(grad, ctx.reduction, (n,), ctx.dtype, ctx.count)
        if isinstance(grad, Tensor):    # linear in grad: a constant pattern times it
            pattern = -_one_hot(target._data, ctx.shape[1], ctx.dtype) * valid._data[:, None]
            return _column(scale) * pattern, None
        g = xp.zeros(ctx.shape, dtype=ctx.dtype)
        g[xp.arange(n), target] = -(scale * valid)
        return g, None


class BinaryCrossEntropy(Function):
    """BCE of probabilities; each log is clamped at -100 as in PyTorch."""

    @staticmethod
    def forward(ctx, p, y, reduction="mean"):
        xp = get_array_module(p)
        for arr, what in ((p, "input"), (y, "target")):     # as PyTorch; NaN fails too
            inside = (arr >= 0) & (arr <= 1)
            if arr.size and not bool(inside.all()):
                bad = arr[~inside]
                raise ValueError(f"binary_cross_entropy: every {what} must be in [0, 1]; got "
                                 f"{bad.size} outside, e.g. {float(bad.ravel()[0]):.6g}"
                                 + (" (use binary_cross_entropy_with_logits for logits)"
                                    if what == "input" else ""))
        log_p = xp.maximum(xp.log(p), -100)
        log_1p = xp.maximum(xp.log(1 - p), -100)
        ctx.save_for_backward(p, y)
        ctx.reduction = reduction
        return _reduce(-(y * log_p + (1 - y) * log_1p), reduction)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        p, y = ctx.saved_tensors
        xp = get_array_module(p)
        scale = _reduction_scale(grad, ctx.reduction, p.shape, p.dtype, None)
        tiny = p.dtype.type(1e-12)
        gp = (p - y) / xp.maximum(p * (1 - p), tiny)
        gy = None
        if ctx.needs_input_grad[1]:
            gy = -(xp.maximum(xp.log(p), -100) - xp.maximum(xp.log(1 - p), -100)) * scale
        return gp * scale, gy


class BinaryCrossEntropyWithLogits(Function):
    """BCE of logits: max(x, 0) - x*y + log(1 + exp(-|x|)), stable for any |x|."""

    @staticmethod
    def forward(ctx, x, y, pos_weight=None, reduction="mean"):
        xp = get_array_module(x)
        softplus_neg = xp.log1p(xp.exp(-abs(x)))          # log(1 + exp(-|x|))
        log_sig = xp.minimum(x, 0) - softplus_neg          # log(sigmoid(x))
        log_1m_sig = -xp.maximum(x, 0) - softplus_neg      # log(1 - sigmoid(x))
        w = 1 if pos_weight is None else pos_weight
        losses = -(w * y * log_sig + (1 - y) * log_1m_sig)
        ctx.save_for_backward(x, y, log_sig, log_1m_sig)
        ctx.pos_weight, ctx.reduction = pos_weight, reduction
        return _reduce(losses.astype(x.dtype, copy=False), reduction)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        x, y, log_sig, log_1m_sig = ctx.saved_tensors
        xp = get_array_module(x)
        tensors = isinstance(grad, Tensor)
        if tensors:                     # gradients of gradients: log-sigmoids recorded
            softplus_neg = xp.log1p(xp.exp(-abs(x)))
            log_sig = xp.minimum(x, 0) - softplus_neg
            log_1m_sig = -xp.maximum(x, 0) - softplus_neg
        scale = _reduction_scale(grad, ctx.reduction, x.shape, x.dtype, None)
        sig = xp.exp(log_sig)
        w = 1 if ctx.pos_weight is None else ctx.pos_weight
        gx = ((w * y + 1 - y) * sig - w * y) * scale
        gy = None
        if ctx.needs_input_grad[1]:
            gy = -(w * log_sig - log_1m_sig) * scale
        return (gx if tensors else gx.astype(x.dtype, copy=False)), gy


class WeightedCrossEntropy(Function):
    """Cross-entropy of logits (N, C) against integer targets (N,) with class weights (C,),
    as PyTorch: loss_i = -(1-e) w[y_i] logp[i, y_i] - e/C sum_c w_c logp[i, c]; the mean
    divides by the sum of w[y_i] over the targets not ignored."""

    @staticmethod
    def forward(ctx, logits, target, weight, reduction="mean", label_smoothing=0.0,
                ignore_index=-100):
        xp = get_array_module(logits)
        n, c = logits.shape
        weight = weight.astype(logits.dtype, copy=False)
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        rows = xp.arange(n)
        wy = weight[safe_target] * valid
        eps = logits.dtype.type(label_smoothing)
        losses = -(1 - eps) * wy * logp[rows, safe_target]
        if label_smoothing:
            losses = losses - eps / c * (logp @ weight) * valid
        ctx.save_for_backward(logp, safe_target, valid, weight, wy, logits)
        ctx.reduction, ctx.smoothing = reduction, label_smoothing
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        ctx.total_weight = wy.sum()
        return losses.sum() / ctx.total_weight

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        logp, target, valid, weight, wy, logits = ctx.saved_tensors
        if isinstance(grad, Tensor):    # gradients of gradients: softmax(logits) recorded
            n, c = logits.shape
            dtype = logits.dtype
            eps = dtype.type(ctx.smoothing)
            p = get_array_module(grad).exp(_log_softmax_t(logits))
            wy, weight, valid = wy._data, weight._data, valid._data
            g = p * ((1 - eps) * wy)[:, None] \
                - _one_hot(target._data, c, dtype) * ((1 - eps) * wy)[:, None]
            if ctx.smoothing:
                v = valid[:, None].astype(dtype)
                g = g + (p * (eps / c * weight.sum()) - eps / c * weight) * v
            if ctx.reduction == "none":
                return g * grad[:, None], None, None
            if ctx.reduction == "mean":
                grad = grad / ctx.total_weight
            return g * grad, None, None
        xp = get_array_module(logp)
        n, c = logp.shape
        p = xp.exp(logp)
        eps = logp.dtype.type(ctx.smoothing)
        g = p * ((1 - eps) * wy)[:, None]
        g[xp.arange(n), target] -= (1 - eps) * wy
        if ctx.smoothing:
            g += eps / c * (p * weight.sum() - weight) * valid[:, None]
        if ctx.reduction == "none":
            return g * grad[:, None], None, None
        if ctx.reduction == "mean":
            grad = grad / ctx.total_weight
        return g * grad, None, None


class SoftCrossEntropy(Function):
    """Cross-entropy of logits (N, C) against class probabilities (N, C), optional class
    weights (C,) and label smoothing: loss_i = -sum_c w_c t_ic logp_ic, mean over N."""

    @staticmethod
    def forward(ctx, logits, target, weight=None, reduction="mean", label_smoothing=0.0):
        xp = get_array_module(logits)
        n, c = logits.shape
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        eps = logits.dtype.type(label_smoothing)
        t = target * (1 - eps) + eps / c if label_smoothing else target
        a = t if weight is None else t * weight.astype(logits.dtype, copy=False)
        losses = -(a * logp).sum(axis=1)
        ctx.save_for_backward(logp, a, weight, logits, target)
        ctx.reduction, ctx.eps = reduction, eps
        return _reduce(losses, reduction)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        logp, a, weight, logits, target = ctx.saved_tensors
        if isinstance(grad, Tensor):    # gradients of gradients: logp and a recorded
            logp = _log_softmax_t(logits)
            c = logits.shape[1]
            a = target * (1 - ctx.eps) + ctx.eps / c if ctx.eps else target
            if weight is not None:
                a = a * weight
        n = logp.shape[0]
        scale = _reduction_scale(grad, ctx.reduction, (n,), logp.dtype, None)
        scale = scale[:, None] if getattr(scale, "ndim", 0) else scale
        gz = (get_array_module(logp).exp(logp) * a.sum(axis=1, keepdims=True) - a) * scale
        gt = None
        if ctx.needs_input_grad[1]:
            w = 1 if weight is None else weight
            gt = -(w * logp) * (1 - ctx.eps) * scale
        return gz, gt, None


class WeightedNLLLoss(Function):
    """NLL of log-probabilities (N, C) at targets (N,) with class weights; the mean divides
    by the sum of w[y_i] over the targets not ignored (as PyTorch)."""

    @staticmethod
    def forward(ctx, logp, target, weight, reduction="mean", ignore_index=-100):
        xp = get_array_module(logp)
        n = logp.shape[0]
        valid = target != ignore_index
        safe_target = xp.where(valid, target, 0)
        wy = weight.astype(logp.dtype, copy=False)[safe_target] * valid
        losses = -logp[xp.arange(n), safe_target] * wy
        ctx.save_for_backward(safe_target, wy)
        ctx.shape, ctx.dtype, ctx.reduction = logp.shape, logp.dtype, reduction
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        ctx.total_weight = wy.sum()
        return losses.sum() / ctx.total_weight

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        target, wy = ctx.saved_tensors
        xp = get_array_module(wy)
        n = ctx.shape[0]
        if ctx.reduction == "mean":
            grad = grad / ctx.total_weight
        if isinstance(grad, Tensor):    # linear in grad: a constant pattern times it
            pattern = -_one_hot(target._data, ctx.shape[1], ctx.dtype) * wy._data[:, None]
            return _column(grad) * pattern, None, None
        g = xp.zeros(ctx.shape, dtype=ctx.dtype)
        g[xp.arange(n), target] = -(grad * wy)
        return g, None, None


class _Pointwise(Function):
    """A loss of (input, target) of the same shape: subclasses give ``losses(x, y)`` ->
    (values, d values / d x); d / d y is its negative (they depend on x - y only)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, y, reduction="mean", **kw):
        values, slope = ctx.losses(x, y, **kw)
        ctx.save_for_backward(slope, x, y)
        ctx.reduction, ctx.kw = reduction, kw
        return _reduce(values, reduction)

    @staticmethod
    def backward(ctx, grad):
        slope, x, y = ctx.saved_tensors
        if isinstance(grad, Tensor):    # gradients of gradients: the slope recorded
            slope = ctx.losses(x, y, **ctx.kw)[1]
        g = slope * _reduction_scale(grad, ctx.reduction, slope.shape, slope.dtype, None)
        return g, (-g if ctx.needs_input_grad[1] else None)


class L1(_Pointwise):
    """|x - y| (gradient sign(x - y), 0 where equal, as PyTorch)."""

    @staticmethod
    def losses(x, y):
        d = x - y
        return abs(d), get_array_module(d).sign(d)


class SmoothL1(_Pointwise):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0: L1)."""

    @staticmethod
    def losses(x, y, beta=1.0):
        xp = get_array_module(x)
        d = x - y
        ad = abs(d)
        if beta == 0:
            return ad, xp.sign(d)
        b = d.dtype.type(beta)
        small = ad < b
        return (xp.where(small, 0.5 * d * d / b, ad - 0.5 * b),
                xp.where(small, d / b, xp.sign(d)))


class Huber(_Pointwise):
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta)."""

    @staticmethod
    def losses(x, y, delta=1.0):
        xp = get_array_module(x)
        d = x - y
        ad = abs(d)
        k = d.dtype.type(delta)
        small = ad <= k
        return (xp.where(small, 0.5 * d * d, k * (ad - 0.5 * k)),
                xp.where(small, d, k * xp.sign(d)))


class KLDiv(Function):
    """Pointwise KL term of log-probabilities ``x`` and target ``y``: y (log y - x), 0 where
    y = 0; with ``log_target`` exp(y) (y - x). ``reduction`` also takes 'batchmean'."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean", log_target=False):
        xp = get_array_module(x)
        if log_target:
            ey = xp.exp(y)
            values = ey * (y - x)
            ctx.save_for_backward(x, y, ey)
        else:
            with compat.errstate(xp, invalid="ignore", divide="ignore"):
                log_y = xp.log(xp.where(y == 0, 1, y))    # NaN for y < 0, as PyTorch
            values = y * (log_y - x)
            ctx.save_for_backward(x, y, log_y)
        ctx.reduction, ctx.log_target = reduction, log_target
        if reduction == "batchmean":
            return values.sum() / values.dtype.type(x.shape[0] if x.ndim else 1)
        return _reduce(values.astype(x.dtype, copy=False), reduction)

    double_backward = True

    @staticmethod
    def backward(ctx, grad):
        x, y, extra = ctx.saved_tensors
        if isinstance(grad, Tensor):    # gradients of gradients: exp(y) or log(y) recorded
            xp = get_array_module(grad)
            extra = xp.exp(y) if ctx.log_target else xp.log(xp.where(y._data == 0, 1, y))
        if ctx.reduction == "batchmean":
            scale = grad / x.dtype.type(x.shape[0] if x.ndim else 1)
        else:
            scale = _reduction_scale(grad, ctx.reduction, x.shape, x.dtype, None)
        if ctx.log_target:
            ey = extra
            gx = -ey * scale
            gy = ey * (y - x + 1) * scale if ctx.needs_input_grad[1] else None
        else:
            gx = -y * scale
            gy = (extra - x + 1) * scale if ctx.needs_input_grad[1] else None
        return gx, gy
