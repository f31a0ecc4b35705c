"""``ournn.nn.functional`` (import as ``F``): the ops as functions with PyTorch's signatures.

Stateless: layers in ``ournn.nn`` hold the parameters and call these.
"""
import numpy as np

from .. import random as _random
from ..errors import DTypeError, ShapeError
from ..ops import activation as _act
from ..ops import as_tensor
from ..ops import loss as _loss
from ..ops.linalg import Linear as _Linear
from ..ops.norm import BatchNorm as _BatchNorm
from ..ops.elementwise import Mul as _Mul
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- activations
def relu(x, inplace=False):
    """max(x, 0)."""
    return _act.ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return _act.LeakyReLU.apply(x, negative_slope=negative_slope)


def sigmoid(x):
    return _act.Sigmoid.apply(x)


def tanh(x):
    return _act.Tanh.apply(x)


def gelu(x, approximate="none"):
    """x * Phi(x) (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _act.GELU.apply(x, approximate=approximate)


def softmax(x, dim=-1):
    return _act.Softmax.apply(x, axis=dim)


def log_softmax(x, dim=-1):
    return _act.LogSoftmax.apply(x, axis=dim)


# ---------------------------------------------------------------- layers as functions
def linear(input, weight, bias=None):
    """input (*, in_features) @ weight.T (out_features, in_features) + bias -> (*, out)."""
    in_features = weight.shape[1]
    if input.ndim == 0 or input.shape[-1] != in_features:
        raise ShapeError(f"linear: input of shape {tuple(input.shape)} does not fit a weight of "
                         f"shape {tuple(weight.shape)} (expected last dim {in_features})")
    return _Linear.apply(input, weight, bias)


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair, got {v}")
    return v


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as PyTorch) on NCHW input.

    input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,) -> (N, C_out, H', W')."""
    from ..ops.conv import Conv2d as _Conv2d
    if input.ndim != 4:
        raise ShapeError(f"conv2d: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(input.shape)}")
    if input.shape[1] != weight.shape[1]:
        raise ShapeError(f"conv2d: input has {input.shape[1]} channels (shape "
                         f"{tuple(input.shape)}) but the weight {tuple(weight.shape)} expects "
                         f"{weight.shape[1]}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    kh, kw = weight.shape[2:]
    h, w = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if h < kh or w < kw:
        raise ShapeError(f"conv2d: padded input {h}x{w} (shape {tuple(input.shape)}) is smaller "
                         f"than the kernel {kh}x{kw}")
    return _Conv2d.apply(input, weight, bias, stride=stride, padding=padding)


def _pool_args(input, kernel_size, stride, padding, name):
    if input.ndim != 4:
        raise ShapeError(f"{name}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(input.shape)}")
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
        raise ValueError(f"{name}: padding {padding} should be at most half the kernel "
                         f"{kernel_size}")
    h, w = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if h < kernel_size[0] or w < kernel_size[1]:
        raise ShapeError(f"{name}: input of shape {tuple(input.shape)} is smaller than the "
                         f"kernel {kernel_size}")
    return kernel_size, stride, padding


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Max over kH x kW windows of NCHW input (stride defaults to kernel_size)."""
    from ..ops.conv import MaxPool2d as _MaxPool2d
    k, s, p = _pool_args(input, kernel_size, stride, padding, "max_pool2d")
    return _MaxPool2d.apply(input, kernel_size=k, stride=s, padding=p)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over kH x kW windows of NCHW input (zero padding counted, as PyTorch's default)."""
    from ..ops.conv import AvgPool2d as _AvgPool2d
    k, s, p = _pool_args(input, kernel_size, stride, padding, "avg_pool2d")
    return _AvgPool2d.apply(input, kernel_size=k, stride=s, padding=p)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over axis 1 of (N, C) or (N, C, H, W) input.

    In training the batch statistics are used and the running arrays (NumPy, updated in
    place) move by ``momentum``; in eval the running statistics are used."""
    x = as_tensor(input)
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        out = _BatchNorm.apply(x, weight, bias, eps=eps)
        if running_mean is not None:
            ctx_mean, ctx_var = _batch_stats(out, x)
            m = running_mean.dtype.type(momentum)
            running_mean *= 1 - m
            running_mean += m * ctx_mean
            running_var *= 1 - m
            running_var += m * ctx_var * (n / (n - 1))   # unbiased, as PyTorch
        return out
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv_std = (1 / np.sqrt(running_var + eps)).astype(x.dtype, copy=False)
    scale = Tensor._make(inv_std.reshape(shape))
    shift = Tensor._make((-running_mean * inv_std).astype(x.dtype, copy=False).reshape(shape))
    out = x * scale + shift
    if weight is not None:
        out = out * weight.reshape(shape) + bias.reshape(shape)
    return out


def _batch_stats(out, x):
    """Batch mean and variance computed by the BatchNorm op (kept on its node), or recomputed
    when no graph was recorded."""
    ctx = out._ctx
    if ctx is not None:
        return ctx.batch_mean, ctx.batch_var
    axes = (0,) + tuple(range(2, x.ndim))
    return x._data.mean(axis=axes), x._data.var(axis=axes)


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1/(1-p), so nothing changes at evaluation time."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    x = as_tensor(input)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = 1 - p
    rng = _random.get_generator()
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    mask = rng.random(x.shape, dtype=np.float32) < keep
    mask = mask * dtype.type(1 / keep) if dtype == np.float32 else mask / keep
    return _Mul.apply(x, mask.astype(dtype, copy=False))


def flatten(input, start_dim=1, end_dim=-1):
    return as_tensor(input).flatten(start_dim, end_dim)


# ---------------------------------------------------------------- losses
def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _int_targets(input, target, name):
    target = target._data if isinstance(target, Tensor) else np.asarray(target)
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{name}: targets must be integer class indices, got dtype "
                         f"{target.dtype}")
    if input.ndim != 2 or target.shape != (input.shape[0],):
        raise ShapeError(f"{name}: expected input (N, C) and target (N,), got input "
                         f"{tuple(input.shape)} and target {tuple(target.shape)}")
    c = input.shape[1]
    if target.size and (target.max() >= c or target.min() < -100 or
                        ((target < 0) & (target != -100)).any()):
        raise ValueError(f"{name}: target values must be in [0, {c - 1}] (or the "
                         f"ignore_index), got min {target.min()} max {target.max()}")
    return target


def _as_2d_classes(input, target):
    """(N, C, d1, ...) logits and (N, d1, ...) targets -> (N*d1*..., C) and (N*d1*...,)."""
    if input.ndim > 2:
        c = input.shape[1]
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*perm).reshape(-1, c)
        target = (target._data if isinstance(target, Tensor) else np.asarray(target)).reshape(-1)
    return input, target


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,).

    log-softmax and NLL fused: stable for any logit size. ``label_smoothing`` in [0, 1]
    mixes the one-hot target with the uniform distribution, as PyTorch."""
    _check_reduction(reduction, "cross_entropy")
    input = as_tensor(input)
    if input.ndim > 2:
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
        input, target = _as_2d_classes(input, target)
        loss = cross_entropy(input, target, reduction, label_smoothing, ignore_index)
        return loss.reshape(out_shape) if reduction == "none" else loss
    target = _int_targets(input, target, "cross_entropy")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    return _loss.CrossEntropy.apply(input, target, reduction=reduction,
                                    label_smoothing=label_smoothing, ignore_index=ignore_index)


def nll_loss(input, target, reduction="mean", ignore_index=-100):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at ``target`` (N,)."""
    _check_reduction(reduction, "nll_loss")
    input = as_tensor(input)
    target = _int_targets(input, target, "nll_loss")
    return _loss.NLLLoss.apply(input, target, reduction=reduction, ignore_index=ignore_index)


def _same_shape(input, target, name):
    if tuple(input.shape) != tuple(np.shape(target._data if isinstance(target, Tensor)
                                            else target)):
        raise ShapeError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(np.shape(getattr(target, 'data', target)))} differ")


def _float_target(target, like):
    if isinstance(target, Tensor):
        return target.astype(like.dtype) if target.dtype != like.dtype else target
    return np.asarray(target, dtype=like.dtype)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)**2, reduced."""
    _check_reduction(reduction, "mse_loss")
    input = as_tensor(input)
    _same_shape(input, target, "mse_loss")
    diff = input - _float_target(target, input)
    sq = diff * diff
    if reduction == "none":
        return sq
    return sq.sum() if reduction == "sum" else sq.mean()


def binary_cross_entropy(input, target, reduction="mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` of the same shape."""
    _check_reduction(reduction, "binary_cross_entropy")
    input = as_tensor(input)
    _same_shape(input, target, "binary_cross_entropy")
    return _loss.BinaryCrossEntropy.apply(input, _float_target(target, input),
                                          reduction=reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean", pos_weight=None):
    """BCE of logits (sigmoid fused in, stable for any logit size)."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    input = as_tensor(input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    if pos_weight is not None:
        pos_weight = np.asarray(getattr(pos_weight, "data", pos_weight), dtype=input.dtype)
    return _loss.BinaryCrossEntropyWithLogits.apply(input, _float_target(target, input),
                                                    pos_weight=pos_weight, reduction=reduction)
