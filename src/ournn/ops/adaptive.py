"""Adaptive pooling on (N, C, H, W): the output size is given, the windows follow from it
as PyTorch's: output i covers inputs floor(i*H/out) .. ceil((i+1)*H/out) - 1.

Average pooling is a separable linear map (``ops.upsample.Resample``) unless the size divides
evenly (a reshape and a mean); max pooling loops over the output cells (a handful: global
pooling, 7x7...) and takes the max of each window at once for the whole batch.

Both backwards also run on tensors (gradients of gradients): a broadcast, and a recorded
scatter-add (``IndexAdd``) of the gradient at each window's maximum.
"""
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import compat
from .shape import IndexAdd
from .upsample import adaptive_bounds


class AdaptiveAvgPool2dEven(Function):
    """Mean over (H/oh) x (W/ow) blocks when both sizes divide evenly."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, output_size=(1, 1)):
        n, c, h, w = x.shape
        oh, ow = output_size
        ctx.shape, ctx.k = x.shape, (h // oh, w // ow)
        if (oh, ow) == (1, 1):
            return x.mean(axis=(2, 3), keepdims=True)
        return x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        n, c, h, w = ctx.shape
        kh, kw = ctx.k
        share = grad * grad.dtype.type(1 / (kh * kw))
        oh, ow = grad.shape[2:]
        spread = xp.broadcast_to(share[:, :, :, None, :, None],
                                 (n, c, oh, kh, ow, kw)).reshape(ctx.shape)
        return spread if isinstance(spread, Tensor) else spread.copy()


class AdaptiveMaxPool2d(Function):
    """Max over each adaptive window; the gradient goes to the window's first maximum."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, output_size=(1, 1)):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = output_size
        out = xp.empty((n, c, oh, ow), dtype=x.dtype)
        index = xp.empty((n, c, oh, ow), dtype=xp.int64)     # flat index into H*W
        for i in range(oh):
            hs, he = adaptive_bounds(i, h, oh)
            for j in range(ow):
                ws, we = adaptive_bounds(j, w, ow)
                win = x[:, :, hs:he, ws:we].reshape(n, c, -1)
                k = win.argmax(axis=2)
                out[:, :, i, j] = xp.take_along_axis(win, k[..., None], axis=2)[..., 0]
                index[:, :, i, j] = (hs + k // (we - ws)) * w + ws + k % (we - ws)
        ctx.save_for_backward(index)
        ctx.shape = x.shape
        ctx.indices = index
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        n, c, h, w = ctx.shape
        if isinstance(grad, Tensor):     # gradients of gradients: a recorded scatter-add
            index = (xp.arange(n * c)[:, None], index._data.reshape(n * c, -1))
            return IndexAdd.apply(grad.reshape(n * c, -1), shape=(n * c, h * w),
                                  index=index).reshape(ctx.shape)
        gx = xp.zeros((n, c, h * w), dtype=grad.dtype)
        flat = index.reshape(n, c, -1)
        g = grad.reshape(n, c, -1)
        if flat.shape[2] == 1:
            xp.put_along_axis(gx, flat, g, axis=2)
        else:   # windows may overlap: add
            rows = xp.arange(n * c)[:, None]
            compat.add_at(gx.reshape(n * c, -1), (rows, flat.reshape(n * c, -1)),
                          g.reshape(n * c, -1))
        return gx.reshape(ctx.shape)
