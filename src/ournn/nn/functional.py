"""``ournn.nn.functional`` (import as ``F``): the ops as functions with PyTorch's signatures.

Stateless: layers in ``ournn.nn`` hold the parameters and call these.
"""
import numpy as np

from .. import random as _random
from ..backend import get_array_module
from ..errors import DTypeError, ShapeError
from ..ops import activation as _act
from ..ops import as_tensor
from ..ops.compat import on_device_of, shape_of
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
        hint = ""
        if input.ndim > 2 and int(np.prod(input.shape[1:])) == in_features:
            hint = "; flatten it first (nn.Flatten() or x.flatten(1))"
        raise _misfit("linear", input, weight, f"(*, {in_features})", hint)
    return _Linear.apply(input, weight, bias)


def _misfit(op, input, weight, want, hint=""):
    """The ShapeError of an input that does not fit ``weight``: the input's shape, the
    weight's, the input shape that would fit, and ``hint`` (how to get there)."""
    return ShapeError(f"{op}: input of shape {tuple(input.shape)} does not fit the weight "
                      f"{tuple(weight.shape)}: expected input {want}{hint}")


def _batch_hint(input, batched_dims, channels):
    """A hint for an unbatched input to an op that needs the batch dim."""
    if input.ndim == batched_dims - 1 and input.shape[0] == channels:
        return "; add the batch dim with x.unsqueeze(0)"
    return ""


def _in_layer(layer, error):
    """``error`` (a ShapeError from a functional op a layer called) raised again with the
    layer's repr in front, so the message names the layer the user built. Layers call this in
    an ``except ShapeError`` around their functional call: the functional op is the one place
    an input's shape is checked, and a ``try`` costs nothing when nothing is raised."""
    return ShapeError(f"{layer!r}: {error}")


def _pair(v, name, fn="conv2d"):
    """``v`` as a pair of ints, checked (ValueError naming ``fn`` and the argument): at least
    0 for a padding, at least 1 otherwise (a stride or kernel of 0 is refused here, not met
    later as a division by zero)."""
    minimum = 0 if "padding" in name else 1
    if type(v) is int and v >= minimum:                 # the common case, checked cheaply
        return (v, v)
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int \
            and v[0] >= minimum and v[1] >= minimum:
        return v
    from .config import check_pair
    return check_pair(fn, name, v, minimum=minimum)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch) on NCHW input.

    input (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,) -> (N, C_out, H', W').
    ``dilation`` and ``groups`` other than 1 are not supported."""
    from ..ops.conv import Conv2d as _Conv2d
    if dilation != 1 or groups != 1:
        _no_dilation_groups("conv2d", dilation, groups)
    if input.ndim != 4 or input.shape[1] != weight.shape[1]:
        c = weight.shape[1]
        raise _misfit("conv2d", input, weight, f"(N, {c}, H, W)", _batch_hint(input, 4, c))
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    kh, kw = weight.shape[2:]
    h, w = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if h < kh or w < kw:
        raise ShapeError(f"conv2d: padded input {h}x{w} (shape {tuple(input.shape)}) is smaller "
                         f"than the kernel {kh}x{kw}: expected H and W of at least "
                         f"{kh - 2 * padding[0]}x{kw - 2 * padding[1]} with padding {padding}")
    return _Conv2d.apply(input, weight, bias, stride=stride, padding=padding)


def _pool_args(input, kernel_size, stride, padding, name):
    if input.ndim != 4:
        raise ShapeError(f"{name}: expected a 4-D input (N, C, H, W), got shape "
                         f"{tuple(input.shape)}" + ("; add the batch dim with x.unsqueeze(0)"
                                                    if input.ndim == 3 else ""))
    kernel_size = _pair(kernel_size, "kernel_size", name)
    stride = kernel_size if stride is None else _pair(stride, "stride", name)
    padding = _pair(padding, "padding", name)
    if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
        raise ValueError(f"{name}: padding {padding} should be at most half the kernel "
                         f"{kernel_size}")
    h, w = input.shape[2] + 2 * padding[0], input.shape[3] + 2 * padding[1]
    if h < kernel_size[0] or w < kernel_size[1]:
        raise ShapeError(f"{name}: input of shape {tuple(input.shape)} is smaller than the "
                         f"kernel {kernel_size}")
    return kernel_size, stride, padding


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over kH x kW windows of NCHW input (stride defaults to kernel_size)."""
    from ..ops.conv import MaxPool2d as _MaxPool2d
    if dilation != 1 or ceil_mode or return_indices:
        _check_pool_extras("max_pool2d", dilation, ceil_mode, return_indices)
    k, s, p = _pool_args(input, kernel_size, stride, padding, "max_pool2d")
    return _MaxPool2d.apply(input, kernel_size=k, stride=s, padding=p)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over kH x kW windows of NCHW input (zero padding counted, as PyTorch's default)."""
    from ..ops.conv import AvgPool2d as _AvgPool2d
    if ceil_mode or not count_include_pad or divisor_override is not None:
        _check_pool_extras("avg_pool2d", 1, ceil_mode, False, count_include_pad,
                           divisor_override)
    k, s, p = _pool_args(input, kernel_size, stride, padding, "avg_pool2d")
    return _AvgPool2d.apply(input, kernel_size=k, stride=s, padding=p)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over axis 1 of (N, C) or (N, C, H, W) input.

    In training the batch statistics are used and the running arrays (NumPy, updated in
    place) move by ``momentum``, from the batch mean and variance the BatchNorm op computed
    (graph recorded or not); in eval the running statistics are used."""
    x = as_tensor(input)
    ref = running_mean if running_mean is not None else weight
    if x.ndim < 2 or (ref is not None and x.shape[1] != ref.shape[0]):
        c = "C" if ref is None else ref.shape[0]
        raise ShapeError(f"batch_norm: input of shape {tuple(x.shape)} does not fit "
                         f"{c} channels: expected input (N, {c}) or (N, {c}, *)")
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        out, batch_mean, batch_var = _BatchNorm.apply(x, weight, bias, eps=eps)
        if running_mean is not None:
            m = running_mean.dtype.type(momentum)
            running_mean *= 1 - m
            running_mean += m * batch_mean._data
            running_var *= 1 - m
            running_var += m * batch_var._data * (n / (n - 1))   # unbiased, as PyTorch
        return out
    shape = (1, -1) + (1,) * (x.ndim - 2)
    inv_std = (1 / get_array_module(running_var).sqrt(running_var + eps)).astype(
        x.dtype, copy=False)
    scale = Tensor._make(inv_std.reshape(shape))
    shift = Tensor._make((-running_mean * inv_std).astype(x.dtype, copy=False).reshape(shape))
    out = x * scale + shift
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def dropout(input, p=0.5, training=True, inplace=False):
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
    xp = get_array_module(x._data)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    mask = _keep_mask(_random.get_generator(xp), x.shape, keep, xp)  # the device's on a GPU
    mask = mask * dtype.type(1 / keep) if dtype == np.float32 else mask / keep
    return _Mul.apply(x, mask.astype(dtype, copy=False))


def _keep_mask(rng, shape, keep, xp):
    """True with probability ``keep``, each element on its own. On the CPU, when ``keep`` is a
    whole number of 256ths (p = 0.5, 0.25, 0.125...), one random byte per element decides
    exactly, instead of a float32 draw: 0.45 against 1.5 ms for the 1.18M elements of the
    MNIST CNN's first dropout."""
    if xp is np and (keep * 256).is_integer():
        size = int(np.prod(shape))
        return np.frombuffer(rng.bytes(size), np.uint8).reshape(shape) < int(keep * 256)
    return rng.random(shape, dtype=np.float32) < keep


def flatten(input, start_dim=1, end_dim=-1):
    return as_tensor(input).flatten(start_dim, end_dim)


# ---------------------------------------------------------------- more activations
def _check_float_arg(name, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}: {arg} must be a number, got {value!r}")
    return float(value)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _act.SiLU.apply(as_tensor(input))


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _act.ELU.apply(as_tensor(input), alpha=_check_float_arg("elu", "alpha", alpha))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _act.ELU.apply(as_tensor(input), alpha=1.6732632423543772848170429916717,
                          scale=1.0507009873554804934193349852946)


def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    alpha = _check_float_arg("celu", "alpha", alpha)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _act.ELU.apply(as_tensor(input), alpha=alpha, input_scale=1 / alpha)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta; x itself where beta * x > threshold."""
    return _act.Softplus.apply(as_tensor(input),
                               beta=_check_float_arg("softplus", "beta", beta),
                               threshold=_check_float_arg("softplus", "threshold", threshold))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _act.Mish.apply(as_tensor(input))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(x, min_val, max_val)."""
    min_val = _check_float_arg("hardtanh", "min_val", min_val)
    max_val = _check_float_arg("hardtanh", "max_val", max_val)
    if max_val < min_val:
        raise ValueError(f"hardtanh: max_val ({max_val}) must be >= min_val ({min_val})")
    return _act.Hardtanh.apply(as_tensor(input), min_val=min_val, max_val=max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return _act.Hardtanh.apply(as_tensor(input), min_val=0.0, max_val=6.0)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _act.Hardsigmoid.apply(as_tensor(input))


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _act.Hardswish.apply(as_tensor(input))


def softsign(input):
    """x / (1 + |x|)."""
    return _act.Softsign.apply(as_tensor(input))


def tanhshrink(input):
    """x - tanh(x)."""
    return _act.Tanhshrink.apply(as_tensor(input))


def logsigmoid(input):
    """log(sigmoid(x)), stable for any x."""
    return _act.LogSigmoid.apply(as_tensor(input))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return _act.Threshold.apply(as_tensor(input),
                                threshold=_check_float_arg("threshold", "threshold", threshold),
                                value=_check_float_arg("threshold", "value", value))


def prelu(input, weight):
    """x if x > 0 else weight * x; ``weight`` has one element or one per channel (dim 1)."""
    input = as_tensor(input)
    n = weight.numel() if isinstance(weight, Tensor) else np.size(weight)
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else 1)
    if n != 1 and n != channels:
        raise ShapeError(f"prelu: weight has {n} elements; expected 1 or the number of "
                         f"channels {channels} (input shape {tuple(input.shape)})")
    if n != 1 and input.ndim < 2:       # unbatched (C,) input: channels on dim 0
        return _act.PReLU.apply(input.reshape(1, -1), weight).reshape(input.shape)
    return _act.PReLU.apply(input, weight)


def glu(input, dim=-1):
    """a * sigmoid(b) where a and b are the two halves of ``input`` along ``dim``."""
    input = as_tensor(input)
    if input.ndim == 0 or input.shape[dim] % 2:
        raise ShapeError(f"glu: dim {dim} of input {tuple(input.shape)} must have an even "
                         f"size")
    return _act.GLU.apply(input, axis=dim)


def softmin(input, dim=-1):
    return softmax(-as_tensor(input), dim)


# ---------------------------------------------------------------- more layers as functions
def _single(v, name, fn):
    from .config import check_int
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{fn}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return check_int(fn, name, v, minimum=0 if "padding" in name else 1)


def _no_dilation_groups(name, dilation=1, groups=1):
    if dilation not in (1, (1,), (1, 1), [1], [1, 1]):
        raise NotImplementedError(f"{name}: dilation {dilation!r} is not supported (only 1)")
    if groups != 1:
        raise NotImplementedError(f"{name}: groups={groups!r} is not supported (only 1)")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) on (N, C_in, L) input with weight (C_out, C_in, k):
    computed as a 2-D convolution of height 1."""
    from ..ops.conv import Conv2d as _Conv2d
    _no_dilation_groups("conv1d", dilation, groups)
    input = as_tensor(input)
    s, p = _single(stride, "stride", "conv1d"), _single(padding, "padding", "conv1d")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: expected a 3-D weight (C_out, C_in, k), got shape "
                         f"{tuple(weight.shape)}")
    if input.ndim not in (2, 3) or input.shape[-2] != weight.shape[1]:
        c = weight.shape[1]
        raise _misfit("conv1d", input, weight, f"(N, {c}, L) or ({c}, L)")
    k = weight.shape[2]
    if input.shape[-1] + 2 * p < k:
        raise ShapeError(f"conv1d: padded input of length {input.shape[-1] + 2 * p} (shape "
                         f"{tuple(input.shape)}) is shorter than the kernel {k}: expected L "
                         f"of at least {k - 2 * p} with padding {p}")
    unbatched = input.ndim == 2
    n, c, length = (1,) + input.shape if unbatched else input.shape
    # a 2-D convolution of height 1 (its checks are the ones above, so the op is applied
    # directly: an error names conv1d and the shapes the caller gave)
    out = _Conv2d.apply(input.reshape(n, c, 1, length), weight.unsqueeze(2), bias,
                        stride=(1, s), padding=(0, p))
    return out.reshape(out.shape[1], out.shape[3]) if unbatched else \
        out.reshape(out.shape[0], out.shape[1], out.shape[3])


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 2-D convolution: input (N, C_in, H, W), weight (C_in, C_out, kH, kW) ->
    (N, C_out, (H - 1)*stride - 2*padding + kH + output_padding, ...)."""
    from ..ops.conv import ConvTranspose2d as _ConvT
    _no_dilation_groups("conv_transpose2d", dilation, groups)
    input = as_tensor(input)
    if weight.ndim != 4:
        raise ShapeError(f"conv_transpose2d: expected a 4-D weight (C_in, C_out, kH, kW), got "
                         f"shape {tuple(weight.shape)}")
    if input.ndim not in (3, 4) or input.shape[-3] != weight.shape[0]:
        c = weight.shape[0]
        raise _misfit("conv_transpose2d", input, weight, f"(N, {c}, H, W) or ({c}, H, W)")
    if input.ndim == 3:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding,
                                output_padding).squeeze(0)
    stride = _pair(stride, "stride", "conv_transpose2d")
    padding = _pair(padding, "padding", "conv_transpose2d")
    output_padding = _pair(output_padding, "output_padding", "conv_transpose2d")
    for a, b in zip(output_padding, stride):
        if a >= b:
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be "
                             f"smaller than stride {stride}")
    kh, kw = weight.shape[2:]
    h = (input.shape[2] - 1) * stride[0] - 2 * padding[0] + kh + output_padding[0]
    w = (input.shape[3] - 1) * stride[1] - 2 * padding[1] + kw + output_padding[1]
    if h <= 0 or w <= 0:
        raise ShapeError(f"conv_transpose2d: output size {h}x{w} is not positive (input "
                         f"{tuple(input.shape)}, kernel {kh}x{kw}, padding {padding})")
    return _ConvT.apply(input, weight, bias, stride=stride, padding=padding,
                        output_padding=output_padding)


def _as_2d_pool(input, name):
    input = as_tensor(input)
    if input.ndim not in (2, 3):
        raise ShapeError(f"{name}: expected a 3-D input (N, C, L) (or (C, L)), got shape "
                         f"{tuple(input.shape)}")
    return input, input.shape[:-1], input.reshape(
        (-1 if input.ndim == 3 else 1, input.shape[-2], 1, input.shape[-1]))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of length ``kernel_size`` of (N, C, L) input."""
    _check_pool_extras("max_pool1d", dilation, ceil_mode, return_indices)
    input, lead, x4 = _as_2d_pool(input, "max_pool1d")
    k = _single(kernel_size, "kernel_size", "max_pool1d")
    s = k if stride is None else _single(stride, "stride", "max_pool1d")
    out = max_pool2d(x4, (1, k), (1, s), (0, _single(padding, "padding", "max_pool1d")))
    return out.reshape(lead + (out.shape[-1],))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of length ``kernel_size`` of (N, C, L) input."""
    _check_pool_extras("avg_pool1d", 1, ceil_mode, False, count_include_pad)
    input, lead, x4 = _as_2d_pool(input, "avg_pool1d")
    k = _single(kernel_size, "kernel_size", "avg_pool1d")
    s = k if stride is None else _single(stride, "stride", "avg_pool1d")
    out = avg_pool2d(x4, (1, k), (1, s), (0, _single(padding, "padding", "avg_pool1d")))
    return out.reshape(lead + (out.shape[-1],))


def _check_pool_extras(name, dilation=1, ceil_mode=False, return_indices=False,
                       count_include_pad=True, divisor_override=None):
    if dilation not in (1, (1,), (1, 1), [1], [1, 1]):
        raise NotImplementedError(f"{name}: dilation {dilation!r} is not supported (only 1)")
    if ceil_mode:
        raise NotImplementedError(f"{name}: ceil_mode=True is not supported")
    if return_indices:
        raise NotImplementedError(f"{name}: return_indices=True is not supported")
    if not count_include_pad:
        raise NotImplementedError(f"{name}: count_include_pad=False is not supported")
    if divisor_override is not None:
        raise NotImplementedError(f"{name}: divisor_override is not supported")


def _adaptive_size(output_size, in_hw, name):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != len(in_hw):
            raise ValueError(f"{name}: output_size must be an int or {len(in_hw)} ints, got "
                             f"{output_size!r}")
        sizes = tuple(i if o is None else o for o, i in zip(output_size, in_hw))
    else:
        sizes = (output_size,) * len(in_hw)
    for o in sizes:
        if isinstance(o, bool) or not isinstance(o, (int, np.integer)) or o < 1:
            raise ValueError(f"{name}: output_size must hold integers >= 1, got "
                             f"{output_size!r}")
    return tuple(int(o) for o in sizes)


def _as_4d(input, name, dims=4):
    input = as_tensor(input)
    if input.ndim == dims - 1:
        return input.unsqueeze(0), True
    if input.ndim != dims:
        want = "(N, C, H, W)" if dims == 4 else "(N, C, L)"
        raise ShapeError(f"{name}: expected a {dims}-D input {want} (or without N), got "
                         f"shape {tuple(input.shape)}")
    return input, False


def adaptive_avg_pool2d(input, output_size):
    """Mean over the adaptive windows that give ``output_size`` from (N, C, H, W) input;
    ``output_size=1`` is global average pooling."""
    from ..ops.adaptive import AdaptiveAvgPool2dEven
    from ..ops.upsample import Resample, adaptive_avg_matrix
    x, unbatched = _as_4d(input, "adaptive_avg_pool2d")
    h, w = x.shape[2:]
    oh, ow = _adaptive_size(output_size, (h, w), "adaptive_avg_pool2d")
    if h % oh == 0 and w % ow == 0:
        out = AdaptiveAvgPool2dEven.apply(x, output_size=(oh, ow))
    else:
        out = Resample.apply(x, mats=(adaptive_avg_matrix(h, oh), adaptive_avg_matrix(w, ow)))
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over the adaptive windows that give ``output_size`` from (N, C, H, W) input."""
    from ..ops.adaptive import AdaptiveMaxPool2d
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    x, unbatched = _as_4d(input, "adaptive_max_pool2d")
    h, w = x.shape[2:]
    oh, ow = _adaptive_size(output_size, (h, w), "adaptive_max_pool2d")
    if h % oh == 0 and w % ow == 0 and (oh, ow) != (1, 1):
        out = max_pool2d(x, (h // oh, w // ow))
    else:
        out = AdaptiveMaxPool2d.apply(x, output_size=(oh, ow))
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """Mean over adaptive windows of (N, C, L) input giving length ``output_size``."""
    x, unbatched = _as_4d(input, "adaptive_avg_pool1d", dims=3)
    o = _adaptive_size(output_size, x.shape[2:], "adaptive_avg_pool1d")[0]
    out = adaptive_avg_pool2d(x.unsqueeze(2), (1, o)).squeeze(2)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive windows of (N, C, L) input giving length ``output_size``."""
    x, unbatched = _as_4d(input, "adaptive_max_pool1d", dims=3)
    o = _adaptive_size(output_size, x.shape[2:], "adaptive_max_pool1d")[0]
    out = adaptive_max_pool2d(x.unsqueeze(2), (1, o), return_indices).squeeze(2)
    return out.squeeze(0) if unbatched else out


def _channel_dropout(input, p, training, batched_dims, name):
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability must be in [0, 1], got {p}")
    x = as_tensor(input)
    if x.ndim not in (batched_dims - 1, batched_dims):
        raise ShapeError(f"{name}: expected a {batched_dims}-D (batched) or "
                         f"{batched_dims - 1}-D input, got shape {tuple(x.shape)}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    lead = 2 if x.ndim == batched_dims else 1
    shape = x.shape[:lead] + (1,) * (x.ndim - lead)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    keep = _random.get_generator(get_array_module(x._data)).random(shape) < 1 - p
    return _Mul.apply(x, (keep / (1 - p)).astype(dtype))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) input with probability ``p`` (scaled by 1/(1-p))."""
    return _channel_dropout(input, p, training, 3, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability ``p`` (scaled by
    1/(1-p))."""
    return _channel_dropout(input, p, training, 4, "dropout2d")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""
    from ..ops.norm import LayerNorm as _LN
    input = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"layer_norm: input of shape {tuple(input.shape)} does not end in "
                         f"normalized_shape {shape}: expected input "
                         f"(*, {', '.join(map(str, shape))})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} must have shape {shape}, got "
                             f"{tuple(t.shape)}")
    return _LN.apply(input, weight, bias, n_dims=k, eps=float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) input over groups of C / num_groups channels (and the spatial
    dims), then scale and shift per channel."""
    from ..ops.norm import GroupNorm as _GN
    input = as_tensor(input)
    c = weight.shape[0] if weight is not None and weight.ndim == 1 else "C"
    if input.ndim < 2 or input.shape[1] % num_groups or (c != "C" and input.shape[1] != c):
        raise ShapeError(f"group_norm: input of shape {tuple(input.shape)} does not fit "
                         f"num_groups={num_groups}" + ("" if c == "C" else f" and {c} channels")
                         + f": expected input (N, {c}, *)"
                         + (" with C divisible by num_groups" if c == "C" else ""))
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"group_norm: {name} must have shape ({c},), got "
                             f"{tuple(t.shape)}")
    return _GN.apply(input, weight, bias, num_groups=int(num_groups), eps=float(eps))


_INTERP_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``, as
    ``torch.nn.functional.interpolate``: modes 'nearest', 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D) with ``align_corners``, and 'area' (adaptive average pooling)."""
    from ..ops.upsample import (Repeat, Resample, linear_matrix, nearest_matrix,
                                whole_factor)
    input = as_tensor(input)
    if mode not in _INTERP_MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use one of "
                                  f"{', '.join(_INTERP_MODES)}")
    if input.ndim not in (3, 4):
        raise ShapeError(f"interpolate: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, "
                         f"got shape {tuple(input.shape)}")
    dims = input.ndim - 2
    if mode == "linear" and dims != 1 or mode == "bilinear" and dims != 2:
        raise ShapeError(f"interpolate: mode {mode!r} needs a {3 if mode == 'linear' else 4}"
                         f"-D input, got shape {tuple(input.shape)}")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         "modes linear and bilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(sizes) != dims or any(isinstance(s, bool) or not isinstance(s, (int, np.integer))
                                     or s < 1 for s in sizes):
            raise ValueError(f"interpolate: size must be {dims} positive integer(s), got "
                             f"{size!r}")
        scales = (None,) * dims
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else \
            (scale_factor,) * dims
        if len(scales) != dims or any(not isinstance(f, (int, float, np.number)) or
                                      isinstance(f, bool) or not f > 0 for f in scales):
            raise ValueError(f"interpolate: scale_factor must be {dims} positive number(s), "
                             f"got {scale_factor!r}")
        sizes = tuple(int(np.floor(i * float(f))) for i, f in zip(in_sizes, scales))
        if any(s < 1 for s in sizes):
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} makes an empty "
                             f"output from size {in_sizes}")
        if recompute_scale_factor:
            scales = (None,) * dims
        else:
            scales = tuple(float(f) for f in scales)
    sizes = tuple(int(s) for s in sizes)
    if mode == "area":
        return (adaptive_avg_pool1d if dims == 1 else adaptive_avg_pool2d)(input, sizes)
    if not linear:
        factors = [whole_factor(i, o) for i, o in zip(in_sizes, sizes)]
        exact_scale = all(f is None or float(f) == 0 or fac is not None and float(f) == fac
                          for f, fac in zip(scales, factors))
        if all(f is not None for f in factors) and exact_scale:
            if all(f == 1 for f in factors):
                return input
            return Repeat.apply(input, factors=tuple(factors))
        mats = tuple(nearest_matrix(i, o, f, exact=(mode == "nearest-exact"))
                     for i, o, f in zip(in_sizes, sizes, scales))
    else:
        mats = tuple(linear_matrix(i, o, bool(align_corners), f)
                     for i, o, f in zip(in_sizes, sizes, scales))
    return Resample.apply(input, mats=mats)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """The older name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def pad(input, pad, mode="constant", value=None):
    """Pad the last dims: ``pad`` = (left, right) for the last, then (top, bottom)..., as
    ``torch.nn.functional.pad`` (constant mode; negative amounts are not supported)."""
    from ..ops.shape import Pad as _Pad
    input = as_tensor(input)
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (only 'constant')")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim or any(p < 0 for p in pad):
        raise ValueError(f"pad: expected an even number of non-negative amounts, at most 2 "
                         f"per dim of the input {tuple(input.shape)}, got {pad}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return _Pad.apply(input, pad_width=tuple(widths), value=0.0 if value is None else value)


# ---------------------------------------------------------------- losses
def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _int_targets(input, target, name):
    target = on_device_of(target, input._data)
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
        target = on_device_of(target, input._data).reshape(-1)
    return input, target


def _legacy_reduction(size_average, reduce, reduction, name):
    """PyTorch's deprecated ``size_average``/``reduce`` arguments as a ``reduction``; a string
    in their place (ournn's older positional ``reduction``) is the reduction itself."""
    for v in (size_average, reduce):
        if isinstance(v, str):
            reduction = v
    if (size_average is not None and not isinstance(size_average, str)) or \
            (reduce is not None and not isinstance(reduce, str)):
        if reduce is not None and not isinstance(reduce, str) and not reduce:
            reduction = "none"
        elif size_average is not None and not isinstance(size_average, str) and \
                not size_average:
            reduction = "sum"
        else:
            reduction = "mean"
    _check_reduction(reduction, name)
    return reduction


def _class_weight(weight, input, name):
    """``weight`` (C,) as an array of the input's dtype, or None (a string there is the old
    positional ``reduction``: returned as is for the caller)."""
    if weight is None or isinstance(weight, str):
        return weight
    w = on_device_of(weight, input._data)
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if w.shape != (c,):
        raise ShapeError(f"{name}: weight must have shape ({c},) (one per class), got "
                         f"{tuple(w.shape)}")
    return w.astype(input.dtype, copy=False)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...) against class indices
    ``target`` (N,) / (N, d1, ...), or class probabilities of the input's shape.

    log-softmax and NLL fused: stable for any logit size. ``weight`` (C,) weighs each class;
    with class indices the mean then divides by the summed weights of the targets, as
    PyTorch. ``label_smoothing`` in [0, 1] mixes the target with the uniform distribution."""
    if weight is None and size_average is None and reduce is None:
        _check_reduction(reduction, "cross_entropy")        # the common call: no legacy
    else:
        if isinstance(weight, str):  # the older order (input, target, reduction,
            weight, reduction = None, weight    # label_smoothing, ignore_index)
            if size_average is not None:
                label_smoothing, size_average = size_average, None
        reduction = _legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    input = as_tensor(input)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if (target._data if isinstance(target, Tensor) else np.asarray(target)
            if not hasattr(target, "dtype") else target).dtype.kind == "f":
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if input.ndim > 2:
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
        input, target = _as_2d_classes(input, target)
        loss = cross_entropy(input, target, weight, ignore_index=ignore_index,
                             reduction=reduction, label_smoothing=label_smoothing)
        return loss.reshape(out_shape) if reduction == "none" else loss
    target = _int_targets(input, target, "cross_entropy")
    if weight is not None:
        return _loss.WeightedCrossEntropy.apply(
            input, target, _class_weight(weight, input, "cross_entropy"), reduction=reduction,
            label_smoothing=label_smoothing, ignore_index=ignore_index)
    return _loss.CrossEntropy.apply(input, target, reduction=reduction,
                                    label_smoothing=label_smoothing, ignore_index=ignore_index)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    """Cross-entropy against class probabilities (same shape as the logits)."""
    t_shape = tuple(shape_of(target._data if isinstance(target, Tensor) else target))
    if tuple(input.shape) != t_shape:
        raise DTypeError(f"cross_entropy: targets must be integer class indices, or class "
                         f"probabilities of the input's shape {tuple(input.shape)}; got "
                         f"floating targets of shape {t_shape}")
    target = _float_target(target, input)
    if input.ndim == 1:
        input, target = input.reshape(1, -1), target.reshape(1, -1)
        loss = _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim > 2:
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
        c = input.shape[1]
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(*perm).reshape(-1, c)
        target = (target.permute(*perm) if isinstance(target, Tensor)
                  else on_device_of(target, input._data).transpose(perm)).reshape(-1, c)
        loss = _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
        return loss.reshape(out_shape) if reduction == "none" else loss
    return _loss.SoftCrossEntropy.apply(input, target,
                                        _class_weight(weight, input, "cross_entropy"),
                                        reduction=reduction, label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C) at ``target`` (N,);
    (N, C, d1, ...) with (N, d1, ...) too. ``weight`` (C,) as in ``cross_entropy``."""
    if isinstance(weight, str):     # the older order (input, target, reduction, ignore_index)
        weight, reduction = None, weight
        if size_average is not None:
            ignore_index, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction, "nll_loss")
    input = as_tensor(input)
    if input.ndim > 2:
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
        input, target = _as_2d_classes(input, target)
        loss = nll_loss(input, target, weight, ignore_index=ignore_index, reduction=reduction)
        return loss.reshape(out_shape) if reduction == "none" else loss
    target = _int_targets(input, target, "nll_loss")
    if weight is not None:
        return _loss.WeightedNLLLoss.apply(input, target,
                                           _class_weight(weight, input, "nll_loss"),
                                           reduction=reduction, ignore_index=ignore_index)
    return _loss.NLLLoss.apply(input, target, reduction=reduction, ignore_index=ignore_index)


def _same_shape(input, target, name):
    if tuple(input.shape) != tuple(shape_of(target._data if isinstance(target, Tensor)
                                            else target)):
        raise ShapeError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(shape_of(getattr(target, '_data', target)))} differ")


def _float_target(target, like):
    if isinstance(target, Tensor):
        return target.astype(like.dtype) if target.dtype != like.dtype else target
    return on_device_of(target, like._data, like.dtype)


def _reduce_losses(losses, reduction):
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _weighted(loss_fn, input, target, weight, reduction, **kw):
    """An elementwise loss times ``weight`` (broadcast against it), then reduced."""
    losses = loss_fn(input, target, reduction="none", **kw)
    w = weight if isinstance(weight, Tensor) else on_device_of(weight, losses._data,
                                                               losses.dtype)
    return _reduce_losses(losses * w, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (input - target)**2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "mse_loss")
    input = as_tensor(input)
    _same_shape(input, target, "mse_loss")
    if weight is not None:
        return _weighted(mse_loss, input, target, weight, reduction)
    diff = input - _float_target(target, input)
    sq = diff * diff
    if reduction == "none":
        return sq
    return sq.sum() if reduction == "sum" else sq.mean()


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` of the same shape."""
    if isinstance(weight, str):
        weight, reduction = None, weight
    reduction = _legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    input = as_tensor(input)
    _same_shape(input, target, "binary_cross_entropy")
    if weight is not None:
        return _weighted(binary_cross_entropy, input, target, weight, reduction)
    return _loss.BinaryCrossEntropy.apply(input, _float_target(target, input),
                                          reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE of logits (sigmoid fused in, stable for any logit size)."""
    if isinstance(weight, str):                     # the older (input, target, reduction)
        weight, reduction = None, weight
        if size_average is not None and not isinstance(size_average, (bool, str)):
            pos_weight, size_average = size_average, None
    reduction = _legacy_reduction(size_average, reduce, reduction,
                                  "binary_cross_entropy_with_logits")
    input = as_tensor(input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    if weight is not None:
        return _weighted(binary_cross_entropy_with_logits, input, target, weight, reduction,
                         pos_weight=pos_weight)
    if pos_weight is not None:
        pos_weight = on_device_of(pos_weight, input._data, input.dtype)
    return _loss.BinaryCrossEntropyWithLogits.apply(input, _float_target(target, input),
                                                    pos_weight=pos_weight, reduction=reduction)


def _pointwise_loss(fn, input, target, reduction, name, **kw):
    input = as_tensor(input)
    _same_shape(input, target, name)
    if not isinstance(target, Tensor) or target.dtype != input.dtype:
        target = _float_target(target, input)
    return fn.apply(input, target, reduction=reduction, **kw)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error |input - target|, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "l1_loss")
    if weight is not None:
        return _weighted(l1_loss, as_tensor(input), target, weight, reduction)
    return _pointwise_loss(_loss.L1, input, target, reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _pointwise_loss(_loss.SmoothL1, input, target, reduction, "smooth_l1_loss",
                           beta=float(beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d**2 where |d| <= delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    if weight is not None:
        return _weighted(huber_loss, as_tensor(input), target, weight, reduction, delta=delta)
    return _pointwise_loss(_loss.Huber, input, target, reduction, "huber_loss",
                           delta=float(delta))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence terms of log-probabilities ``input`` against ``target`` (probabilities,
    or log-probabilities with ``log_target=True``). ``reduction='batchmean'`` divides the sum
    by the batch size (the mathematical KL); 'mean' divides by the element count, as
    PyTorch."""
    if reduction != "batchmean":
        reduction = _legacy_reduction(size_average, reduce, reduction, "kl_div")
    input = as_tensor(input)
    _same_shape(input, target, "kl_div")
    if not isinstance(target, Tensor) or target.dtype != input.dtype:
        target = _float_target(target, input)
    return _loss.KLDiv.apply(input, target, reduction=reduction, log_target=bool(log_target))


# ---------------------------------------------------------------- attention
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's: query (..., L, E),
    key (..., S, E), value (..., S, Ev) -> (..., L, Ev); a boolean ``attn_mask`` marks with
    True the keys that take part, a float one is added; ``is_causal`` lets query i see keys
    0..i. One op (see ``ournn.nn.attention``), with gradients of gradients."""
    from ..ops.attention import scaled_dot_product_attention as _sdpa
    return _sdpa(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p,
                 is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (V, D) at the integer indices ``input`` (any shape) ->
    ``(*, D)``, as ``torch.nn.functional.embedding``. ``padding_idx``'s row gets no
    gradient; ``max_norm`` renormalises the rows looked up, in place, to at most that norm;
    ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``."""
    from ..ops.rnn import Embedding as _Embedding
    from ..tensor import bump_version
    if sparse:
        raise NotImplementedError("embedding(sparse=True): ournn has no sparse gradients; use "
                                  "sparse=False")
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers, got {idx.dtype}")
    weight = as_tensor(weight)
    V = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise IndexError(f"embedding: index out of range: indices must be in [0, {V}), got "
                         f"[{idx.min()}, {idx.max()}]")
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx must be within the table ({V} rows), "
                             f"got {padding_idx}")
        padding_idx %= V
    if max_norm is not None:
        w = weight._data
        xp = get_array_module(w)                  # the table's device: NumPy's or the GPU's
        rows = xp.unique(idx)
        norms = xp.linalg.norm(w[rows], ord=norm_type, axis=1) if norm_type != 2 else \
            xp.sqrt((w[rows].astype(xp.float64) ** 2).sum(axis=1))
        big = norms > max_norm
        if big.any():
            scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] *= scale[:, None]
            bump_version(weight)
    return _Embedding.apply(weight, indices=idx.astype(np.intp, copy=False),
                            padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)


def one_hot(tensor, num_classes=-1):
    """Integer classes of any shape -> ``(*, num_classes)`` int64 zeros with a one at each
    class, as ``torch.nn.functional.one_hot`` (``num_classes=-1``: the largest class + 1)."""
    idx = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: classes must be integers, got {idx.dtype}")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: classes must be in [0, {num_classes}), got "
                         f"[{idx.min()}, {idx.max()}]")
    out = np.zeros(idx.shape + (int(num_classes),), dtype=np.int64)
    np.put_along_axis(out, idx[..., None].astype(np.intp), 1, axis=-1)
    return Tensor(out)
