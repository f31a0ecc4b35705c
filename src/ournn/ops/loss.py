"""Fused losses: cross-entropy (log-softmax + NLL), NLL, binary cross-entropy (on probabilities
and on logits). Each takes ``reduction`` in {'mean', 'sum', 'none'}."""
from ..autograd.function import Function
from ..backend import get_array_module


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
        ctx.save_for_backward(logp, safe_target, valid)
        ctx.reduction, ctx.smoothing, ctx.count, ctx.all_valid = (reduction, label_smoothing,
                                                                   count, all_valid)
        return _reduce(losses, reduction, count)

    @staticmethod
    def backward(ctx, grad):
        logp, target, valid = ctx.saved_tensors
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

    @staticmethod
    def backward(ctx, grad):
        target, valid = ctx.saved_tensors
        xp = get_array_module(target)
        n = ctx.shape[0]
        scale = _reduction_scale(grad, ctx.reduction, (n,), ctx.dtype, ctx.count)
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

    @staticmethod
    def backward(ctx, grad):
        x, y, log_sig, log_1m_sig = ctx.saved_tensors
        xp = get_array_module(x)
        scale = _reduction_scale(grad, ctx.reduction, x.shape, x.dtype, None)
        sig = xp.exp(log_sig)
        w = 1 if ctx.pos_weight is None else ctx.pos_weight
        gx = ((w * y + 1 - y) * sig - w * y) * scale
        gy = None
        if ctx.needs_input_grad[1]:
            gy = -(w * log_sig - log_1m_sig) * scale
        return gx.astype(x.dtype, copy=False), gy
