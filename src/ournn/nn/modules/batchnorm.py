"""Batch normalisation, as ``torch.nn.modules.batchnorm``: ``BatchNorm1d``/``2d`` (defined in
``ournn.nn.normalization``) and ``SyncBatchNorm``, whose statistics are those of the whole
batch over every process of the job (``ournn.distributed``)."""
import numpy as np

from ...autograd.function import Function
from ...distributed.process_group import gather_array, is_initialized, world
from ...errors import ShapeError
from ..normalization import BatchNorm1d, BatchNorm2d, _BatchNorm  # noqa: F401


def _global_moments(x, w):
    """Per-channel mean and biased variance of ``x`` (N, C, *) over every process's batch,
    and the global count. Each process sends (count, mean, sum of squared deviations) of its
    own batch in one ``Allgather``; they combine exactly (Chan et al.'s parallel formula),
    without the cancellation of sum-of-squares formulas."""
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // x.shape[1]
    mean = x.mean(axis=axes, dtype=np.float64) if count else np.zeros(x.shape[1])
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m2 = np.square(x - mean.reshape(shape).astype(x.dtype)).sum(axis=axes, dtype=np.float64)
    mine = np.stack([np.full_like(mean, count), mean, m2])           # (3, C) float64
    counts, means, m2s = np.moveaxis(gather_array(mine), 1, 0)       # each (P, C)
    total = counts.sum(axis=0)
    if not total[0]:
        raise ShapeError("SyncBatchNorm: every process's batch is empty")
    global_mean = (counts * means).sum(axis=0) / total
    global_m2 = (m2s + counts * np.square(means - global_mean)).sum(axis=0)
    return global_mean, global_m2 / total, int(total[0])


class SyncBatchNormOp(Function):
    """Batch norm with given (global) statistics; its backward sums the two per-channel
    terms the input gradient needs over every process (one ``Allreduce``)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, invstd=None, count=1, comm=None):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        x_hat = (x - mean.reshape(shape).astype(x.dtype)) * invstd.reshape(shape).astype(x.dtype)
        ctx.x_hat, ctx.invstd, ctx.count, ctx.comm, ctx.shape = x_hat, invstd, count, comm, shape
        ctx.weight, ctx.has_bias = weight, bias is not None
        out = x_hat if weight is None else x_hat * weight.reshape(shape)
        return out if bias is None else out + bias.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, shape = ctx.x_hat, ctx.shape
        axes = (0,) + tuple(range(2, grad.ndim))
        sum_dy = grad.sum(axis=axes, dtype=np.float64)
        sum_dy_xhat = (grad * x_hat).sum(axis=axes, dtype=np.float64)
        grad_weight = None if ctx.weight is None else sum_dy_xhat.astype(grad.dtype)
        grad_bias = sum_dy.astype(grad.dtype) if ctx.has_bias else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            both = np.concatenate([sum_dy, sum_dy_xhat])
            if ctx.comm is not None:
                ctx.comm.Allreduce(world("SyncBatchNorm").MPI.IN_PLACE, both)
            mean_dy, mean_dy_xhat = np.split(both / ctx.count, 2)
            scale = ctx.invstd if ctx.weight is None else \
                ctx.invstd * ctx.weight.astype(np.float64)
            grad_x = (grad - mean_dy.reshape(shape).astype(grad.dtype)
                      - x_hat * mean_dy_xhat.reshape(shape).astype(grad.dtype)) \
                * scale.reshape(shape).astype(grad.dtype)
        return grad_x, grad_weight, grad_bias


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose statistics are those of the whole batch, over every process of the
    job, as ``torch.nn.SyncBatchNorm``: with N processes of B samples each, the outputs and
    gradients are those of one ``BatchNorm`` on the N*B samples. Input (N, C, *).

    In training, each forward sends each process's per-channel count, mean and squared
    deviations (one ``Allgather``), and each backward the two per-channel sums the input
    gradient needs (one ``Allreduce``); every process must therefore run its forward and
    backward. In eval mode, or in a world of one process, it is ``BatchNorm``.
    ``convert_sync_batchnorm(model)`` turns a model's BatchNorm layers into these."""

    expected_dims = (2, 3, 4, 5)
    expected_rest = ((), ("L",), ("H", "W"), ("D", "H", "W"))

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        if process_group is not None:
            raise ValueError("SyncBatchNorm: ournn.distributed has one group, the world: pass "
                             "process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def forward(self, x):
        if not (self.training or not self.track_running_stats) or not is_initialized() or \
                world().size == 1:
            return super().forward(x)
        if x.ndim not in self.expected_dims or x.shape[1] != self.num_features:
            raise ShapeError(f"{self!r}: expected input (N, {self.num_features}, *), got shape "
                             f"{tuple(x.shape)}")
        w = world()
        mean, var, count = _global_moments(x._data, w)
        if self.training and self.track_running_stats:
            m = self.momentum
            unbiased = var * count / max(count - 1, 1)
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + m * unbiased
            self.num_batches_tracked += 1
        invstd = 1.0 / np.sqrt(var + self.eps)
        return SyncBatchNormOp.apply(x, self.weight, self.bias, mean=mean, invstd=invstd,
                                     count=count, comm=w.comm)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm1d``/``2d`` in it replaced by a ``SyncBatchNorm``
        holding the same parameters and running statistics (``module`` itself if it is
        one), as PyTorch's."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group,
                       dtype=(module.weight._data.dtype if module.affine else None))
            if module.affine:
                sync.weight, sync.bias = module.weight, module.bias
            if module.track_running_stats:
                for name in ("running_mean", "running_var", "num_batches_tracked"):
                    setattr(sync, name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    setattr(module, name, converted)
        return module
