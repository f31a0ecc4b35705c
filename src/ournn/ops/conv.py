"""Convolution and pooling on NCHW arrays: Conv2d, MaxPool2d, AvgPool2d.

Convolution is im2col + matmul:

* A strided *view* of the (padded) input shows every kernel window without copying anything.
* Copying the windows of some samples into a contiguous buffer gives their "columns": one
  row of C*kH*kW input values per output pixel. One matmul of the columns with the weight,
  seen as an (O, C*kH*kW) matrix, computes all those output pixels at once.
* The batch is processed in slices whose columns take about ``COLUMN_BYTES``, so the matmul
  reads them back while they are still in the CPU cache: one column matrix for the whole
  batch is ~85 MB for the second conv of an MNIST net, and writing it to memory and reading it
  back made that layer's forward ~1.5x slower on a 2-core machine. The columns are not kept
  for backward either (backward rebuilds them slice by slice). A small layer fits in one
  slice, so it does one matmul for the whole batch.
* Backward (col2im) adds the gradient of the columns back onto the input one kernel offset
  (i, j) at a time: kH*kW strided slice additions, never a loop over pixels.

NumPy copies and adds fastest along long contiguous rows, so the columns come in two layouts,
chosen per call by ``_choose_layout``: ``_ChannelsFirst`` works on the NCHW input (rows of
W_out values: best for the first layer, with 1 or 3 channels); ``_ChannelsLast`` works on an
(N, H, W, C) copy of the input (rows of kW*C values: 2-2.7x faster, even counting the two
transposes, for the strided 3x3 convs on 13x13 and 7x7 images with 32-64 channels of a compact
MNIST CNN; about even for 32 channels of 26x26).

Channels-last memory: on the CPU both write their output as (N, H_out, W_out, O) memory and
return its NCHW view (``out.transpose(0, 3, 1, 2)``): the product of the columns with the
weight comes out in that order, so nothing is transposed. ReLU and pooling keep the layout
of their input, and a convolution on a channels-last input without padding reads it as it
is, so conv-ReLU-conv-ReLU-pool runs without a single transposing copy; the gradients come
back in the same layout. Only the user-visible shape is NCHW. In the Keras-style MNIST CNN
this took the 32->64 convolution from 64 to 51 ms of one core's time per step (forward 21 ->
15 ms), and max-pool and ReLU convert an incoming gradient of the other layout once
(``like_layout``) instead of walking two layouts at once (a max-pool backward: 11.6 -> 2.8 ms).

The batch slices run at once on the cores (``ops/parallel.py``): each has its own column
buffer, and the weight gradient's partial sums are added in slice order, whatever ran where.

Pooling takes the max (or the sum) of the kH*kW shifted slices of the input, one per kernel
offset, so overlapping windows and padding need no special code. For the usual 2x2 pool with
stride 2 the slices x[:, :, i::2, j::2] are exactly the reshape (N, C, H/2, 2, W/2, 2) taken
at [:, :, :, i, :, j]; their gradients are written, not added, into an unzeroed array.

Gradients of gradients (``create_graph=True``) take another branch of each backward, on
tensors, built from the ops themselves so that it can be differentiated again: the input
gradient of a convolution is a transposed convolution of the gradient, its weight gradient a
convolution of the input with the (dilated) gradient, and a transposed convolution's are a
convolution and the same weight gradient; the input gradient of a pooling is a transposed
convolution of the gradient with constant kernels (one-hot at each window's maximum, or
1/(kH*kW)). The array code above is not involved.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import blas, compat, parallel

# Target size of one batch slice's column matrix: small enough to stay in the CPU's cache.
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
    return x[:, :, ph:ph + h, pw:pw + w].copy(order="K")          # keeps a channels-last layout


def _out_size(size, kernel, stride):
    """Number of window positions along one (padded) axis, floor mode as PyTorch."""
    return (size - kernel) // stride + 1


def _offsets(kernel, stride, out_hw):
    """For each kernel offset (i, j), row-major: (i, j, rows, cols), the slices of a padded
    image that offset (i, j) of the H_out x W_out windows reads."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)


def _batch_slices(n, bytes_per_sample, at_least=1):
    """Cut range(n) into slices of about ``COLUMN_BYTES`` of column matrix each, and at least
    ``at_least`` of them (one per core, so that ``parallel.run`` can share them out)."""
    if n == 0:
        return [slice(0, 0)]                     # an empty batch: one empty slice
    count = max(-(-n * bytes_per_sample // COLUMN_BYTES), min(n, at_least))
    return parallel.parts(n, count)


def _im2col(windows, batch, buffer):
    """Copy the windows of the samples in ``batch`` into the front of ``buffer``; return it."""
    cols = buffer[:batch.stop - batch.start]
    cols.reshape(cols.shape[:1] + windows.shape[1:])[...] = windows[batch]
    return cols


def channels_last(a):
    """a (N, C, H, W) as its (N, H, W, C) view when its memory is channels-last (no copy),
    else None. Convolutions on the CPU return such arrays: see ``Conv2d``."""
    if a.ndim != 4:
        return None
    view = a.transpose(0, 2, 3, 1)
    return view if view.flags.c_contiguous else None


def empty_channels_last(shape, dtype, xp=np):
    """An uninitialised (N, C, H, W) array whose memory is (N, H, W, C)."""
    n, c, h, w = shape
    return xp.empty((n, h, w, c), dtype=dtype).transpose(0, 3, 1, 2)


def to_channels_last(a):
    """a (N, C, H, W) with channels-last memory: itself when it already is, else a copy."""
    if channels_last(a) is not None:
        return a
    out = empty_channels_last(a.shape, a.dtype, get_array_module(a))
    out[...] = a
    return out


def like_layout(a, ref):
    """``a`` in the memory layout of ``ref`` when that is channels-last (a copy if needed). One
    copy up front is much cheaper than elementwise work on arrays of two layouts, where NumPy
    walks one of them with large strides (a 2x2 max-pool's backward: 3.8 -> 11.6 ms)."""
    if get_array_module(a) is not np or channels_last(ref) is None:
        return a
    return to_channels_last(a)


def _pixel_rows(a):
    """a (N, C, H, W) as (N, C, H*W), a view when its memory is NCHW or channels-last."""
    n, c, h, w = a.shape
    last = channels_last(a)
    if last is not None:
        return last.reshape(n, h * w, c).transpose(0, 2, 1)
    return a.reshape(n, c, h * w)


def _in_parts(windows, matrix_shape, work):
    """[work(batch, buffer, scratch) for each batch slice of the samples], the slices shared
    out to the cores (``parallel.run``), each core with a column buffer (b,) + matrix_shape
    and a ``scratch`` dict of its own. The slices and the order of the results do not depend
    on how many parts ran at once, so partial sums added in that order do not either.
    A GPU takes the whole batch in one slice (no cache to fit the columns into)."""
    xp = get_array_module(windows)
    n, size = windows.shape[0], math.prod(matrix_shape)
    if xp is np:                   # one slice per core at least, when it may be split
        cores = parallel.workers() if n * size >= parallel.MIN_SIZE_PINNED else 1
        batches = _batch_slices(n, size * windows.dtype.itemsize, cores)
    else:
        batches = [slice(0, max(n, 1))]

    def part(which):
        mine = batches[which]
        most = max(b.stop - b.start for b in mine)
        buffer, scratch = xp.empty((most,) + tuple(matrix_shape), dtype=windows.dtype), {}
        return [work(batch, buffer, scratch) for batch in mine]

    results = parallel.run(part, len(batches), n * size if xp is np else 0)
    return [r for rs in results for r in rs]


def _total(partials):
    """The sum of the parts' partial results (None when they are None), in order."""
    total = partials[0]
    for more in partials[1:]:
        total = None if total is None else total + more
    return total


class _ChannelsFirst:
    """im2col on the NCHW input. The columns of b samples are (b, C*kH*kW, H_out*W_out); the
    weight (O, C*kH*kW) times them is (b, O, H_out*W_out), already in NCHW order."""

    def __init__(self, x, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.input = _pad(x, *padding)                                  # (N, C, Hp, Wp)
        hp, wp = self.input.shape[2:]
        self.out_hw = _out_size(hp, kernel[0], stride[0]), _out_size(wp, kernel[1], stride[1])

    def windows(self):
        """View (N, C, kH, kW, H_out, W_out): [n, c, i, j, y, x] = input[n, c, y*sH+i, x*sW+j]."""
        return compat.windows(self.input, self.kernel, self.stride)

    def forward(self, weight, bias):
        """(N, O, H_out, W_out) = weight (O, C*kH*kW) @ columns + bias, slice by slice. On the
        CPU the product is turned around, columns.T @ weight.T, so that the output's memory is
        channels-last like ``_ChannelsLast``'s (see ``Conv2d``)."""
        xp = get_array_module(weight)
        windows = self.windows()
        n, c, kh, kw, ho, wo = windows.shape
        w2 = weight.reshape(weight.shape[0], c * kh * kw)
        o, last = w2.shape[0], xp is np
        out = xp.empty((n, ho * wo, o) if last else (n, o, ho * wo), dtype=weight.dtype)

        def work(batch, buffer, scratch):
            cols = _im2col(windows, batch, buffer)
            if last:
                blas.matmul(cols.transpose(0, 2, 1), w2.T, out=out[batch])
            else:
                blas.matmul(w2, cols, out=out[batch])
            if bias is not None:         # while this slice is still in the cache
                out[batch] += bias if last else bias[:, None]

        _in_parts(windows, (c * kh * kw, ho * wo), work)
        if last:
            return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
        return out.reshape(n, o, ho, wo)

    def backward(self, grad, weight, need_x, need_w, need_b):
        """Gradients of the input (N, C, H, W), weight (O, C, kH, kW) and bias (O,), or None."""
        xp = get_array_module(grad)
        windows = self.windows()
        n, c, kh, kw, ho, wo = windows.shape
        w2 = weight.reshape(weight.shape[0], c * kh * kw)
        g = _pixel_rows(grad)                  # (N, O, H_out*W_out), a view in either layout
        gx = xp.zeros_like(self.input) if need_x else None

        def work(batch, buffer, scratch):
            gw = None
            if need_w:   # sum over the samples of grad (O, P) @ columns.T (P, C*kH*kW)
                cols = _im2col(windows, batch, buffer)
                gw = blas.matmul(g[batch], cols.transpose(0, 2, 1)).sum(axis=0)
            if need_x:   # column gradients w2.T @ grad, added back window offset by offset
                b = batch.stop - batch.start
                gcols = blas.matmul(w2.T, g[batch], out=buffer[:b])
                gcols = gcols.reshape(b, c, kh, kw, ho, wo)
                gx_batch = gx[batch]
                for i, j, rows, cols in _offsets(self.kernel, self.stride, self.out_hw):
                    gx_batch[:, :, rows, cols] += gcols[:, :, i, j]
            return gw

        gw = _total(_in_parts(windows, (c * kh * kw, ho * wo), work))
        return (_unpad(gx, *self.padding) if need_x else None,
                gw.reshape(weight.shape) if need_w else None,
                g.sum(axis=(0, 2)) if need_b else None)


class _ChannelsLast:
    """im2col on an (N, Hp, Wp, C) copy of the padded input. The columns of b samples are
    (b*H_out*W_out, kH*kW*C): one 2-D matmul per slice, good for small images too."""

    def __init__(self, x, kernel, stride, padding):
        xp = get_array_module(x)
        self.kernel, self.stride, self.padding = kernel, stride, padding
        (ph, pw), (n, c, h, w) = padding, x.shape
        last = channels_last(x)
        if last is not None and (ph, pw) == (0, 0):
            self.input = last          # the output of a convolution before: no copy at all
        else:
            self.input = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
            self.input[:, ph:ph + h, pw:pw + w] = x.transpose(0, 2, 3, 1)
        self.out_hw = (_out_size(h + 2 * ph, kernel[0], stride[0]),
                       _out_size(w + 2 * pw, kernel[1], stride[1]))

    def windows(self):
        """View (N, H_out, W_out, kH, kW, C): [n, y, x, i, j, c] = input[n, y*sH+i, x*sW+j, c]."""
        xp = get_array_module(self.input)
        (sh, sw), (sn, sy, sx, sc) = self.stride, self.input.strides
        n, c = self.input.shape[0], self.input.shape[3]
        return xp.lib.stride_tricks.as_strided(
            self.input, shape=(n,) + self.out_hw + self.kernel + (c,),
            strides=(sn, sy * sh, sx * sw, sy, sx, sc))

    @staticmethod
    def _weight_matrix(weight):
        """(O, C, kH, kW) -> (O, kH*kW*C), the order of a row of the columns."""
        xp = get_array_module(weight)
        return xp.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(weight.shape[0], -1)

    def forward(self, weight, bias):
        """(N, O, H_out, W_out): columns (b*P, K) @ weight.T (K, O) + bias, slice by slice,
        written straight into channels-last memory (no transpose of the output)."""
        xp = get_array_module(weight)
        windows = self.windows()
        n, ho, wo, kh, kw, c = windows.shape
        p, k = ho * wo, kh * kw * c
        wk = self._weight_matrix(weight)
        o = wk.shape[0]
        out = xp.empty((n, ho, wo, o), dtype=weight.dtype)

        def work(batch, buffer, scratch):
            b = batch.stop - batch.start
            rows = out[batch].reshape(b * p, o)
            blas.matmul(_im2col(windows, batch, buffer).reshape(b * p, k), wk.T, out=rows)
            if bias is not None:
                rows += bias

        _in_parts(windows, (p, k), work)
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad, weight, need_x, need_w, need_b):
        """Gradients of the input (N, C, H, W), weight (O, C, kH, kW) and bias (O,), or None."""
        xp = get_array_module(grad)
        windows = self.windows()
        _, ho, wo, kh, kw, c = windows.shape
        p, k = ho * wo, kh * kw * c
        wk = self._weight_matrix(weight)
        o = wk.shape[0]
        gx = xp.zeros_like(self.input) if need_x else None
        grad_last = channels_last(grad)      # the gradient in our output's layout: no copy

        def work(batch, buffer, scratch):
            b = batch.stop - batch.start
            if grad_last is None:
                g2 = scratch.get("grad")
                if g2 is None:
                    g2 = scratch["grad"] = xp.empty((len(buffer), ho, wo, o), dtype=grad.dtype)
                g2 = g2[:b]
                g2[...] = grad[batch].transpose(0, 2, 3, 1)
            else:
                g2 = grad_last[batch]
            g2 = g2.reshape(b * p, o)                          # this slice's gradient (b*P, O)
            gw_t = gb = None
            if need_b:
                gb = g2.sum(axis=0)
            if need_w:   # columns.T (K, b*P) @ grad (b*P, O): transposed, faster
                gw_t = blas.matmul(_im2col(windows, batch, buffer).reshape(b * p, k).T, g2)
            if need_x:
                # the column gradient g2 @ wk one kernel offset at a time: (b, Ho, Wo, C),
                # added in rows of W_out*C values (one (b*P, K) product added back in rows of
                # C values was slower)
                contribution = scratch.get("part")
                if contribution is None:
                    contribution = scratch["part"] = xp.empty((len(buffer), ho, wo, c),
                                                              dtype=grad.dtype)
                contribution = contribution[:b]
                for i, j, rows, cols in _offsets(self.kernel, self.stride, self.out_hw):
                    offset = (i * kw + j) * c
                    blas.matmul(g2, wk[:, offset:offset + c],
                                    out=contribution.reshape(b * p, c))
                    gx[batch, rows, cols] += contribution
            return gw_t, gb

        gw_t, gb = (_total(parts) for parts in zip(*_in_parts(windows, (p, k), work)))
        if need_x:   # channels-last like the input of a convolution before
            (ph, pw), (hp, wp) = self.padding, gx.shape[1:3]
            if (ph, pw) != (0, 0):
                gx = xp.ascontiguousarray(gx[:, ph:hp - ph, pw:wp - pw])
            gx = gx.transpose(0, 3, 1, 2)
        gw = None
        if need_w:   # (kH*kW*C, O) -> (O, C, kH, kW)
            gw = xp.ascontiguousarray(gw_t.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
        return gx, gw, gb


# ---------------------------------------------------------------- convolution
def _choose_layout(channels, kernel_width, out_width, xp=np, x=None):
    """Copy rows of kW*C values (channels-last) or of W_out values, whichever are longer (on
    the CPU; a device takes the NCHW layout, its windows made by ``compat.windows``). An input
    with channels-last memory (several channels) stays channels-last: NCHW windows on it
    would gather single values."""
    if xp is not np:
        return _ChannelsFirst
    if x is not None and channels > 1 and channels_last(x) is not None:
        return _ChannelsLast
    return _ChannelsLast if channels * kernel_width > out_width else _ChannelsFirst


class Conv2d(Function):
    """Cross-correlation as ``torch.nn.functional.conv2d``.

    x (N, C, H, W), weight (O, C, kH, kW), bias (O,) or None -> (N, O, H_out, W_out) with
    H_out = (H + 2*pH - kH) // sH + 1. Always applied with three positional inputs."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0)):
        xp = get_array_module(x, weight)
        dtype = xp.result_type(x, weight)
        x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
        bias = None if bias is None else bias.astype(dtype, copy=False)
        o, c, kh, kw = weight.shape
        wo = _out_size(x.shape[3] + 2 * padding[1], kw, stride[1])
        conv = _choose_layout(c, kw, wo, xp, x)(x, (kh, kw), tuple(stride), tuple(padding))
        ctx.conv = conv
        ctx.save_for_backward(weight)
        return conv.forward(weight, bias)                       # (N, O, H_out, W_out)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):         # gradients of gradients: through the ops
            return _conv2d_backward_tensors(ctx, grad)
        (weight,) = ctx.saved_tensors
        return ctx.conv.backward(grad, weight, *ctx.needs_input_grad)


# ---------------------------------------------------------------- pooling
def _pool_grad_buffer(shape, kernel, stride, padding, grad):
    """The padded input gradient to fill (channels-last when ``grad`` is), and whether windows
    overlap (stride < kernel).

    Windows that do not overlap are written with ``=`` instead of added with ``+=``; when they
    also tile the whole input (the common 2x2 pool with stride 2 on an even size), no element
    is left out and the buffer need not be zeroed first."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = shape
    xp = get_array_module(grad)
    overlap = sh < kh or sw < kw
    tiles = (sh, sw) == (kh, kw) and (ph, pw) == (0, 0) and h % kh == 0 and w % kw == 0
    padded = (n, c, h + 2 * ph, w + 2 * pw)
    if xp is np and channels_last(grad) is not None:
        gx = empty_channels_last(padded, grad.dtype)
        if not tiles:
            gx[...] = 0
        return gx, overlap
    return (xp.empty if tiles else xp.zeros)(padded, dtype=grad.dtype), overlap


class MaxPool2d(Function):
    """Max over kH x kW windows, as ``torch.nn.functional.max_pool2d`` (padding with -inf).

    x (N, C, H, W) -> (N, C, H_out, W_out). The gradient of each window goes to its first
    maximum in row-major order (PyTorch's choice for ties)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        xp = get_array_module(x)
        xpad = _pad(x, *padding, value=-math.inf)
        out_hw = (_out_size(xpad.shape[2], kernel_size[0], stride[0]),
                  _out_size(xpad.shape[3], kernel_size[1], stride[1]))
        need_x = ctx.needs_input_grad[0]
        # argmax: which offset k = i*kW + j of each window holds its max (kept for backward)
        offsets = list(_offsets(kernel_size, stride, out_hw))
        _, _, rows, cols = offsets[0]
        out = xpad[:, :, rows, cols].copy(order="K")                       # the input's layout
        if need_x:
            index_dtype = xp.uint8 if kernel_size[0] * kernel_size[1] <= 256 else xp.int32
            argmax = xp.zeros_like(out, dtype=index_dtype)
        else:
            argmax = None

        def work(samples):       # the samples' windows, offset by offset
            o = out[samples]
            if need_x:
                a = argmax[samples]
                offset_k, is_greater = xp.empty_like(a), xp.empty_like(o, dtype=bool)
            for k, (_, _, rows, cols) in enumerate(offsets[1:], start=1):
                window = xpad[samples, :, rows, cols]
                if need_x:   # strictly greater, so ties keep the earlier offset; k only grows,
                    #          so max(argmax, k * is_greater) records it (faster than a mask)
                    xp.greater(window, o, out=is_greater)
                    xp.multiply(is_greater, k, out=offset_k, dtype=index_dtype)
                    xp.maximum(a, offset_k, out=a)
                xp.maximum(o, window, out=o)

        parallel.run(work, len(out), out.size * len(offsets) if xp is np else 0)
        ctx.save_for_backward(argmax)
        ctx.pool = (x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        (argmax,) = ctx.saved_tensors
        shape, kernel_size, stride, (ph, pw) = ctx.pool
        if isinstance(grad, Tensor):         # gradients of gradients: a recorded scatter
            k = kernel_size[0] * kernel_size[1]
            xp = get_array_module(argmax._data)
            onehot = argmax._data[:, :, None] == xp.arange(k).reshape(k, 1, 1)
            return _pool_backward_tensors(grad[:, :, None] * onehot.astype(grad.dtype), ctx.pool,
                                          xp.eye(k, dtype=grad.dtype))
        xp = get_array_module(grad)
        grad = like_layout(grad, argmax)
        gx, overlap = _pool_grad_buffer(shape, kernel_size, stride, (ph, pw), grad)
        offsets = list(_offsets(kernel_size, stride, grad.shape[2:]))

        def work(samples):
            g, a = grad[samples], argmax[samples]
            for k, (_, _, rows, cols) in enumerate(offsets):
                if overlap:
                    gx[samples, :, rows, cols] += g * (a == k)
                else:
                    xp.multiply(g, a == k, out=gx[samples, :, rows, cols])

        parallel.run(work, len(grad), gx.size if xp is np else 0)
        return _unpad(gx, ph, pw)


class AvgPool2d(Function):
    """Mean over kH x kW windows, as ``torch.nn.functional.avg_pool2d`` with its default
    ``count_include_pad=True``: padded zeros count, every window divides by kH*kW.

    x (N, C, H, W) -> (N, C, H_out, W_out)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)):
        xpad = _pad(x, *padding)
        out_hw = (_out_size(xpad.shape[2], kernel_size[0], stride[0]),
                  _out_size(xpad.shape[3], kernel_size[1], stride[1]))
        out = None
        for _, _, rows, cols in _offsets(kernel_size, stride, out_hw):
            if out is None:
                out = xpad[:, :, rows, cols].copy(order="K")      # the input's layout
            else:
                out += xpad[:, :, rows, cols]
        out *= x.dtype.type(1 / (kernel_size[0] * kernel_size[1]))
        ctx.pool = (x.shape, kernel_size, stride, padding)
        ctx.channels_last = get_array_module(out) is np and channels_last(out) is not None
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, kernel_size, stride, (ph, pw) = ctx.pool
        if isinstance(grad, Tensor):         # gradients of gradients: a recorded scatter
            k = kernel_size[0] * kernel_size[1]
            xp = get_array_module(grad._data)
            return _pool_backward_tensors(grad[:, :, None], ctx.pool,
                                          xp.full((1, k), 1 / k, dtype=grad.dtype))
        xp = get_array_module(grad)
        grad = to_channels_last(grad) if ctx.channels_last else grad
        share = grad * grad.dtype.type(1 / (kernel_size[0] * kernel_size[1]))
        gx, overlap = _pool_grad_buffer(shape, kernel_size, stride, (ph, pw), share)
        for _, _, rows, cols in _offsets(kernel_size, stride, grad.shape[2:]):
            if overlap:
                gx[:, :, rows, cols] += share
            else:
                gx[:, :, rows, cols] = share
        return _unpad(gx, ph, pw)


# ---------------------------------------------------------------- transposed convolution
class ConvTranspose2d(Function):
    """Transposed convolution as ``torch.nn.functional.conv_transpose2d`` (the gradient of
    ``conv2d`` with respect to its input).

    x (N, C_in, H, W), weight (C_in, C_out, kH, kW), bias (C_out,) or None ->
    (N, C_out, H_out, W_out) with H_out = (H - 1)*sH - 2*pH + kH + output_padding_H.
    Forward is one matmul (weight.T @ x) and kH*kW strided additions (col2im); backward
    reads the kernel windows of the gradient (im2col), as ``Conv2d``'s forward does."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, stride=(1, 1), padding=(0, 0), output_padding=(0, 0)):
        xp = get_array_module(x, weight)
        dtype = xp.result_type(x, weight)
        x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
        n, ci, h, w = x.shape
        _, co, kh, kw = weight.shape
        (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
        hf, wf = (h - 1) * sh + kh + oph, (w - 1) * sw + kw + opw
        w2 = weight.reshape(ci, co * kh * kw)
        cols = xp.matmul(w2.T, x.reshape(n, ci, h * w)).reshape(n, co, kh, kw, h, w)
        full = xp.zeros((n, co, hf, wf), dtype=dtype)
        for i, j, rows, cs in _offsets((kh, kw), (sh, sw), (h, w)):
            full[:, :, rows, cs] += cols[:, :, i, j]
        out = full[:, :, ph:hf - ph, pw:wf - pw]
        out = xp.ascontiguousarray(out) if (ph or pw) else out
        if bias is not None:
            out += bias.astype(dtype, copy=False)[:, None, None]
        ctx.save_for_backward(x, weight)
        ctx.geometry = (hf, wf, (kh, kw), (sh, sw), (ph, pw))
        return out

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):         # gradients of gradients: through the ops
            return _conv_transpose2d_backward_tensors(ctx, grad)
        x, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        hf, wf, (kh, kw), (sh, sw), (ph, pw) = ctx.geometry
        n, ci, h, w = x.shape
        co = weight.shape[1]
        need_x, need_w, need_b = ctx.needs_input_grad
        full = xp.zeros((n, co, hf, wf), dtype=grad.dtype)
        full[:, :, ph:hf - ph, pw:wf - pw] = grad
        windows = compat.windows(full, (kh, kw), (sh, sw))        # (n, co, kh, kw, h, w)
        gcols = windows.reshape(n, co * kh * kw, h * w)          # a copy: the columns
        gx = gw = gb = None
        if need_x:
            gx = xp.matmul(weight.reshape(ci, co * kh * kw), gcols).reshape(x.shape)
        if need_w:
            gw = xp.einsum("nip,nkp->ik", x.reshape(n, ci, h * w), gcols,
                           optimize=True).reshape(weight.shape)
        if need_b:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb


# ---------------------------------------------------------------- backward on tensors
# (create_graph=True): each gradient is made of Conv2d / ConvTranspose2d and shape ops, so it
# is recorded and can be differentiated again; speed does not matter here.
def _graph_input(ctx, i):
    """Argument ``i`` of the op's call: the tensor it was (with its graph), a constant tensor
    for an array, or None."""
    a = ctx.args[i]
    return a if a is None or isinstance(a, Tensor) else Tensor._make(a)


def _output_padding(size, out_size, kernel, stride, padding):
    """The ``output_padding`` that makes a transposed conv of ``out_size`` windows ``size``
    long again: the rows that no window reached (their gradient is zero)."""
    return tuple(n + 2 * p - k - (o - 1) * s
                 for n, o, k, s, p in zip(size, out_size, kernel, stride, padding))


def _dilate(t, stride):
    """t (N, C, H, W) with stride - 1 zeros between neighbours: (N, C, (H-1)*sH+1, ...)."""
    from .shape import Pad
    sh, sw = stride
    if (sh, sw) == (1, 1):
        return t
    n, c, h, w = t.shape
    t = Pad.apply(t.reshape(n, c, h, 1, w, 1),
                  pad_width=((0, 0),) * 3 + ((0, sh - 1), (0, 0), (0, sw - 1)), value=0.0)
    return t.reshape(n, c, h * sh, w * sw)[:, :, :(h - 1) * sh + 1, :(w - 1) * sw + 1]


def _correlate(inp, g, kernel, stride, padding):
    """(O, C, kH, kW) = sum over n, y, x of g[n, o, y, x] * padded inp[n, c, y*sH+i, x*sW+j]:
    the weight gradient of a convolution of ``inp`` giving ``g`` (and, with the roles
    swapped, of a transposed convolution). It is a stride-1 convolution of ``inp`` with the
    dilated ``g`` as the kernel, batch and channel axes swapped."""
    kh, kw = kernel
    out = Conv2d.apply(inp.transpose(0, 1), _dilate(g, stride).transpose(0, 1), None,
                       stride=(1, 1), padding=tuple(padding))
    return out[:, :, :kh, :kw].transpose(0, 1)


def _conv2d_backward_tensors(ctx, grad):
    x, weight = _graph_input(ctx, 0), _graph_input(ctx, 1)
    need_x, need_w, need_b = ctx.needs_input_grad
    conv = ctx.conv
    gx = gw = gb = None
    if need_x:
        op = _output_padding(x.shape[2:], grad.shape[2:], conv.kernel, conv.stride,
                             conv.padding)
        gx = ConvTranspose2d.apply(grad, weight, None, stride=conv.stride,
                                   padding=conv.padding, output_padding=op)
    if need_w:
        gw = _correlate(x, grad, conv.kernel, conv.stride, conv.padding)
    if need_b:
        gb = grad.sum(axis=(0, 2, 3))
    return gx, gw, gb


def _conv_transpose2d_backward_tensors(ctx, grad):
    x, weight = _graph_input(ctx, 0), _graph_input(ctx, 1)
    need_x, need_w, need_b = ctx.needs_input_grad
    _, _, kernel, stride, padding = ctx.geometry
    gx = gw = gb = None
    if need_x:
        gx = Conv2d.apply(grad, weight, None, stride=stride, padding=padding)
    if need_w:
        gw = _correlate(grad, x, kernel, stride, padding)
    if need_b:
        gb = grad.sum(axis=(0, 2, 3))
    return gx, gw, gb


def _pool_backward_tensors(parts, pool, kernels):
    """The input gradient of a pooling from ``parts`` (N, C, K, H_out, W_out), the gradient
    of each output going to each of K kernels (rows of ``kernels`` (K, kH*kW), constants): a
    transposed convolution of the N*C channels one by one."""
    shape, kernel, stride, padding = pool
    n, c, k, ho, wo = parts.shape
    weight = kernels.reshape((k, 1) + tuple(kernel))
    op = _output_padding(shape[2:], (ho, wo), kernel, stride, padding)
    gx = ConvTranspose2d.apply(parts.reshape(n * c, k, ho, wo), weight, None,
                               stride=tuple(stride), padding=tuple(padding), output_padding=op)
    return gx.reshape(shape)
