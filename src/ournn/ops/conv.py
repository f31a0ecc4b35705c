"""Convolution and pooling on NCHW arrays: Conv2d, MaxPool2d, AvgPool2d.

How the convolution is computed (im2col):

* A strided *view* of the padded input, of shape (N, C, kH, kW, H_out, W_out), shows every
  window without copying anything: element [n, c, i, j, y, x] is input[n, c, y*sH + i, x*sW + j].
* Copying a slice of that view into a contiguous buffer of shape (b, C*kH*kW, H_out*W_out)
  gives the "column matrix" of b samples; one matmul with the weight seen as a
  (C_out, C*kH*kW) matrix then gives (b, C_out, H_out*W_out), already in NCHW order.
* The batch is cut into slices whose column matrix is about ``COLUMN_BYTES`` (a few MB), so
  the columns are written and read back while still in the CPU cache. On a 2-core machine
  this is measurably faster than one column matrix for the whole batch (that one is often
  close to 100 MB and makes the copy memory-bound), and it never holds the columns in memory
  between forward and backward: backward rebuilds them slice by slice. Small layers (the
  first conv of an MNIST net) fit in one slice, so they do one matmul for the whole batch.
* The backward of im2col (col2im) adds the column gradients back onto the input, one kernel
  offset (i, j) at a time: kH*kW strided slice additions, no loop over pixels.

Pooling works on the same strided slices: the max (or the sum) of kH*kW shifted views of the
input, one per kernel offset, so overlapping windows and padding need no special code.
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module

# Target size of one slice's column matrix: small enough to stay in the CPU's L2/L3 cache.
COLUMN_BYTES = 4 * 2 ** 20


# ---------------------------------------------------------------- helpers
def _pad(x, ph, pw, value=0):
    """x (N, C, H, W) padded to (N, C, H + 2*ph, W + 2*pw) with ``value`` (no copy if no pad)."""
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(x, ph, pw):
    """Inverse of ``_pad`` for a gradient: drop the border, return a contiguous array."""
    if ph == 0 and pw == 0:
        return x
    h, w = x.shape[2] - 2 * ph, x.shape[3] - 2 * pw
    return get_array_module(x).ascontiguousarray(x[:, :, ph:ph + h, pw:pw + w])


def _out_size(size, kernel, stride):
    """Number of window positions along one (already padded) axis, floor mode as PyTorch."""
    return (size - kernel) // stride + 1


def _shifted(kh, kw, sh, sw, ho, wo):
    """For each kernel offset (i, j) in row-major order, the index of the (N, C, H_out, W_out)
    slice of the padded input that offset (i, j) of every window reads."""
    for i in range(kh):
        for j in range(kw):
            yield (i, j), (Ellipsis, slice(i, i + sh * (ho - 1) + 1, sh),
                           slice(j, j + sw * (wo - 1) + 1, sw))


def _windows(x, kh, kw, sh, sw):
    """Strided view (N, C, kH, kW, H_out, W_out) of x (N, C, H, W): every window, no copy."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    ho, wo = _out_size(h, kh, sh), _out_size(w, kw, sw)
    sn, sc, sy, sx = x.strides
    return xp.lib.stride_tricks.as_strided(
        x, shape=(n, c, kh, kw, ho, wo), strides=(sn, sc, sy, sx, sy * sh, sx * sw),
        writeable=False)


def _batch_slices(n, bytes_per_sample):
    """Cut range(n) into slices of about ``COLUMN_BYTES`` of column matrix each."""
    step = max(1, COLUMN_BYTES // max(1, bytes_per_sample))
    return [slice(s, min(n, s + step)) for s in range(0, n, step)]


def _im2col(windows, batch, out):
    """Copy the windows of samples ``batch`` into ``out`` (b, C*kH*kW, H_out*W_out); return it."""
    b = batch.stop - batch.start
    cols = out[:b]
    cols.reshape((b,) + windows.shape[1:])[...] = windows[batch]
    return cols


def _col2im_add(cols, gx, kh, kw, sh, sw):
    """Add column gradients cols (b, C*kH*kW, H_out*W_out) onto gx (b, C, H, W) in place."""
    b, c = gx.shape[:2]
    ho, wo = _out_size(gx.shape[2], kh, sh), _out_size(gx.shape[3], kw, sw)
    cols = cols.reshape(b, c, kh, kw, ho, wo)
    for (i, j), where in _shifted(kh, kw, sh, sw, ho, wo):
        gx[where] += cols[:, :, i, j]


# ---------------------------------------------------------------- convolution
class Conv2d(Function):
    """Cross-correlation as ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (O, C, kH, kW), bias (O,) or None -> (N, O, H_out, W_out) with
    H_out = (H + 2*pH - kH) // sH + 1. Always applied with three positional inputs."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0)):
        xp = get_array_module(x, weight)
        (sh, sw), (ph, pw) = stride, padding
        o, c, kh, kw = weight.shape
        xpad = _pad(x, ph, pw)
        windows = _windows(xpad, kh, kw, sh, sw)             # (N, C, kH, kW, Ho, Wo), a view
        n, ho, wo = x.shape[0], windows.shape[4], windows.shape[5]
        dtype = xp.result_type(x, weight)
        w2 = weight.reshape(o, c * kh * kw)
        out = xp.empty((n, o, ho * wo), dtype=dtype)
        batches = _batch_slices(n, c * kh * kw * ho * wo * dtype.itemsize)
        buffer = xp.empty((batches[0].stop, c * kh * kw, ho * wo), dtype=dtype)
        for batch in batches:
            xp.matmul(w2, _im2col(windows, batch, buffer), out=out[batch])
        if bias is not None:
            out += bias.reshape(o, 1)
        ctx.save_for_backward(xpad, weight)
        ctx.conv = (stride, padding, ho, wo)
        return out.reshape(n, o, ho, wo)

    @staticmethod
    def backward(ctx, grad):
        xpad, weight = ctx.saved_tensors
        (sh, sw), (ph, pw), ho, wo = ctx.conv
        need_x, need_w, need_b = ctx.needs_input_grad
        xp = get_array_module(grad)
        o, c, kh, kw = weight.shape
        n = xpad.shape[0]
        g = grad.reshape(n, o, ho * wo)
        w2 = weight.reshape(o, c * kh * kw)
        gb = g.sum(axis=(0, 2)) if need_b else None
        gw = xp.zeros((o, c * kh * kw), dtype=weight.dtype) if need_w else None
        gxpad = xp.zeros_like(xpad) if need_x else None
        windows = _windows(xpad, kh, kw, sh, sw)
        batches = _batch_slices(n, c * kh * kw * ho * wo * xpad.dtype.itemsize)
        buffer = xp.empty((batches[0].stop, c * kh * kw, ho * wo), dtype=xpad.dtype)
        for batch in batches:
            if need_w:   # gw = sum over samples of grad (O, P) @ cols.T (P, C*kH*kW)
                cols = _im2col(windows, batch, buffer)
                gw += xp.matmul(g[batch], cols.transpose(0, 2, 1)).sum(axis=0)
            if need_x:   # column gradients w2.T @ grad, folded back onto the padded input
                gcols = xp.matmul(w2.T, g[batch], out=buffer[:batch.stop - batch.start])
                _col2im_add(gcols, gxpad[batch], kh, kw, sh, sw)
        gx = _unpad(gxpad, ph, pw) if need_x else None
        return gx, (gw.reshape(weight.shape) if need_w else None), gb


# ---------------------------------------------------------------- pooling
class MaxPool2d(Function):
    """Max over kH x kW windows, as ``torch.nn.functional.max_pool2d`` (padding with -inf).

    x (N, C, H, W) -> (N, C, H_out, W_out). The gradient of each window goes to its first
    maximum in row-major order (PyTorch's choice for ties)."""

    @staticmethod
    def forward(ctx, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        xp = get_array_module(x)
        (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
        xpad = _pad(x, ph, pw, value=-math.inf)
        ho, wo = _out_size(xpad.shape[2], kh, sh), _out_size(xpad.shape[3], kw, sw)
        need_x = ctx.needs_input_grad[0]
        # which offset of the window holds the max (0 .. kH*kW - 1), kept only for backward
        argmax = xp.zeros(x.shape[:2] + (ho, wo), dtype=xp.uint8 if kh * kw <= 256 else xp.int32)
        out = None
        for k, (_, where) in enumerate(_shifted(kh, kw, sh, sw, ho, wo)):
            window = xpad[where]
            if out is None:
                out = window.copy()
                continue
            if need_x:   # strictly greater: ties keep the earlier offset
                xp.copyto(argmax, k, where=window > out)
            xp.maximum(out, window, out=out)
        ctx.save_for_backward(argmax)
        ctx.pool = (x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        (argmax,) = ctx.saved_tensors
        shape, (kh, kw), (sh, sw), (ph, pw) = ctx.pool
        xp = get_array_module(grad)
        n, c, h, w = shape
        ho, wo = grad.shape[2:]
        gxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        for k, (_, where) in enumerate(_shifted(kh, kw, sh, sw, ho, wo)):
            gxpad[where] += grad * (argmax == k)
        return _unpad(gxpad, ph, pw)


class AvgPool2d(Function):
    """Mean over kH x kW windows, as ``torch.nn.functional.avg_pool2d`` with its default
    ``count_include_pad=True``: padded zeros count, every window divides by kH*kW.

    x (N, C, H, W) -> (N, C, H_out, W_out)."""

    @staticmethod
    def forward(ctx, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
        xpad = _pad(x, ph, pw)
        ho, wo = _out_size(xpad.shape[2], kh, sh), _out_size(xpad.shape[3], kw, sw)
        out = None
        for _, where in _shifted(kh, kw, sh, sw, ho, wo):
            if out is None:
                out = xpad[where].copy()
            else:
                out += xpad[where]
        out *= x.dtype.type(1 / (kh * kw))
        ctx.pool = (x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, (kh, kw), (sh, sw), (ph, pw) = ctx.pool
        xp = get_array_module(grad)
        n, c, h, w = shape
        ho, wo = grad.shape[2:]
        share = grad * grad.dtype.type(1 / (kh * kw))
        gxpad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad.dtype)
        for _, where in _shifted(kh, kw, sh, sw, ho, wo):
            gxpad[where] += share
        return _unpad(gxpad, ph, pw)
