"""Recurrent layers as fused ops: one op per layer and direction, and the embedding lookup.

``Recurrent`` runs one layer of an RNN (tanh or relu), LSTM (with optional projection) or GRU
in one direction over a whole sequence. Its input is in PyTorch's *packed* layout: ``x`` is
``(N, input_size)``, the rows of time step ``t`` are ``x[off[t]:off[t] + batch_sizes[t]]``,
and ``batch_sizes`` does not increase (the sequences are sorted by decreasing length). A plain
``(T, B, I)`` batch is the same layout with ``batch_sizes = (B,) * T`` (a free reshape).

Forward: the input projection of every step is one matmul (``x @ W_ih.T``), then the loop
over time does one matmul per step (``h @ W_hh.T``) and the gate arithmetic in place on
preallocated, contiguous arrays, saving the gate activations and previous states. Backward
runs BPTT inside the op: one matmul per step for the gradient flowing to the previous state
(and one more for the projection), and the weight gradients are each one big matmul over
all steps at the end. At step ``t`` only the first ``batch_sizes[t]`` rows are updated, so
the other rows keep their state: in the forward direction ``h_n`` is each sequence's state at
its last valid step, in the reverse direction each sequence starts from ``h0`` at its own
last step.

Gradients of gradients: on tensors (``create_graph=True``) backward recomputes the forward
from the saved inputs with differentiable tensor ops (the same equations, step by step) and
differentiates that with ``autograd.grad(create_graph=True)``.

Gate order as PyTorch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

On a GPU the same loops run with the weights' array module ``xp`` (CuPy: the same functions,
``out=`` included); the BLAS-thread choice (``loop_threads``) applies to NumPy only, and the
two shortcuts that would read a device array back (skipping the product of a zero initial
state) are taken on the CPU only.
"""
import contextlib
import time

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import blas
from .compat import add_at, on_device_of


_BLAS = blas.BLAS      # (get, set) of NumPy's OpenBLAS threads, or None


one_blas_thread = blas.one_thread     # the older name


class LoopThreads(blas.Chooser):
    """Chooses the BLAS threads of the loops over time: one thread, or NumPy's default
    (every core), whichever the loops measure faster now.

    Why both: a recurrent step's product is small ((B, H) @ (H, 4H): 17 MFLOP at B = H = 128)
    and the steps come one after the other. On a quiet 2-core machine two threads win (an
    LSTM(28, 128) training step at batch 128: 12-16 ms with two threads in the loops, 18 ms
    with one), but when other processes use the cores a second thread waits for its partner
    to be scheduled and the same step took 375 ms with two threads against 68 ms with one
    (load average 6; its 128x128 @ 128x512 sgemm: 0.25 ms with one thread, 1.2-2.6 ms with
    two). The load average cannot tell: two busy BLAS threads of our own raise it too.

    How: the loops run with ``choice``; every ``period`` loops, a probe runs the next
    ``WINDOW`` loops with the other setting. The probe's first ``WARM`` loops are not counted
    (sleeping BLAS threads wake up); then for every key (mode, pass, batch, hidden) timed both
    ways, the best seconds per step of the probe and of the last 3 loops before it are
    compared, and the other setting is kept if it is faster by 5% in sum. A probe that loses
    doubles the period (up to MAX_PERIOD: under heavy load the probes of two threads cost
    little), one that wins resets it. (``blas.Chooser`` does the same for single products.)"""

    # the first probe after 16 loops (48 before): a short run on a busy machine switched too
    # late; W6 beside one busy process went from 0.71x to 0.99x PyTorch, the quiet W6 the same
    # (12,120 chars/s both ways). pick() is blas.Chooser's.
    WINDOW, WARM, PERIOD, MAX_PERIOD = 8, 2, 16, 1536

    KEEP = 3                  # the last 3 loops with the current choice

    def score(self, samples):
        """The best seconds per step of a few loops (each loop averages many steps)."""
        return min(samples)



# The BLAS threads of the loops over time: "auto" (LoopThreads measures), "one" or "default"
# (NumPy's count, every core).
LOOP_THREADS = "auto"
SMALL_PRODUCT_FLOPS = 50e6
# one chooser for small per-step products (starting with one thread), one for big ones
# (starting with NumPy's threads: W6's (64, 512) @ (512, 2048), 134 MFLOP, took 0.65 ms with
# two threads and 1.2 ms with one on a quiet machine, but a W6 training step took 10 s
# instead of 1 s with two threads while a test suite ran beside it)
_choosers = {True: LoopThreads("one"), False: LoopThreads("default")}


@contextlib.contextmanager
def loop_threads(key, steps, xp=np):
    """The BLAS threads for one loop over ``steps`` time steps; ``key`` is (mode, pass,
    batch, hidden size). With "auto", a ``LoopThreads`` decides: one for per-step products
    under SMALL_PRODUCT_FLOPS, one for bigger ones. The products before and after the loops
    (the input projection, the weight gradients over all steps) keep NumPy's threads like
    every other op. Another array module than NumPy (``xp``, a GPU's) is left alone."""
    if steps == 0 or _BLAS is None or xp is not np:
        yield
        return
    policy, chooser = LOOP_THREADS, None
    if policy == "auto":
        mode, _, batch, hidden = key
        chooser = _choosers[2 * batch * hidden * hidden * _GATES[mode] < SMALL_PRODUCT_FLOPS]
        policy = chooser.pick()
    start = time.perf_counter()
    if policy == "one":
        with one_blas_thread():
            yield
    else:       # every core: a small product before may have left one thread set
        blas.set_threads(blas.DEFAULT_THREADS)
        yield
    if chooser is not None:
        chooser.record(key, policy, (time.perf_counter() - start) / steps)


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _offsets(batch_sizes):
    off = [0]
    for n in batch_sizes:
        off.append(off[-1] + n)
    return off


def _sigmoid_(a, xp):
    """Sigmoid in place (tanh form: no overflow)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class Recurrent(Function):
    """One layer, one direction. Inputs ``x (N, I), h0 (B, Hout), c0 (B, H) or None, w_ih,
    w_hh, b_ih, b_hh (or None), w_hr (or None)``; keywords ``mode`` (``"RNN_TANH"``,
    ``"RNN_RELU"``, ``"LSTM"``, ``"GRU"``), ``batch_sizes`` (a tuple of ints), ``reverse``.
    Outputs ``(out (N, Hout), h_n (B, Hout))``, and ``c_n (B, H)`` for an LSTM."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode="LSTM", batch_sizes=(),
                reverse=False):
        xp = get_array_module(w_ih)
        if xp is not np:        # the layers' zero initial states are made on the host
            h0 = on_device_of(h0, w_ih)
            c0 = None if c0 is None else on_device_of(c0, w_ih)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        ctx.mode, ctx.batch_sizes, ctx.reverse = mode, tuple(batch_sizes), reverse
        dtype = w_ih.dtype
        x = xp.ascontiguousarray(x, dtype=dtype)
        off = _offsets(batch_sizes)
        steps = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
        if mode == "LSTM":
            return _lstm_forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr,
                                 ctx.batch_sizes, off, steps, xp)
        return _recurrent_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, w_hr, mode,
                                  batch_sizes, off, steps, dtype, xp)

    @staticmethod
    def backward(ctx, dout, dhn, dcn=None):
        if isinstance(dout, Tensor):
            return _backward_on_tensors(ctx, dout, dhn, dcn)
        return _recurrent_backward(ctx, dout, dhn, dcn)


def _recurrent_forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, batch_sizes, off, steps,
                       dtype, xp):
    N = x.shape[0]
    H = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
    w_hhT = xp.ascontiguousarray(w_hh.T)
    G = blas.matmul(x, w_ih.T)                # (N, gates * H): every step's projection
    if b_ih is not None:
        G += b_ih
    if b_hh is not None and mode != "GRU":
        G += b_hh
    h = xp.array(h0, dtype=dtype, copy=True)
    Hout = h.shape[1]
    out = xp.empty((N, Hout), dtype)
    Hprev = xp.empty((N, Hout), dtype)
    if mode == "GRU":
        GH = xp.empty((N, H), dtype)          # W_hn h + b_hn per step
        with loop_threads((mode, "forward", h.shape[0], H), len(batch_sizes), xp):
            for t in steps:
                n = batch_sizes[t]
                s = slice(off[t], off[t] + n)
                hp = h[:n]
                Hprev[s] = hp
                gh = hp @ w_hhT
                if b_hh is not None:
                    gh += b_hh
                g = G[s]
                g[:, :2 * H] += gh[:, :2 * H]
                _sigmoid_(g[:, :2 * H], xp)
                GH[s] = gh[:, 2 * H:]
                nn_ = g[:, 2 * H:]
                nn_ += g[:, :H] * gh[:, 2 * H:]
                xp.tanh(nn_, out=nn_)
                hn = xp.subtract(hp, nn_, out=out[s])
                hn *= g[:, H:2 * H]
                hn += nn_
                h[:n] = hn
        ctx.cache = (G, Hprev, GH)
        return out, h
    relu = mode == "RNN_RELU"
    with loop_threads((mode, "forward", h.shape[0], H), len(batch_sizes), xp):
        for t in steps:
            n = batch_sizes[t]
            s = slice(off[t], off[t] + n)
            hp = h[:n]
            Hprev[s] = hp
            g = G[s]
            g += hp @ w_hhT
            if relu:
                xp.maximum(g, 0, out=g)
            else:
                xp.tanh(g, out=g)
            out[s] = g
            h[:n] = g
    ctx.cache = (G, Hprev)
    return out, h

def _recurrent_backward(ctx, dout, dhn, dcn):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr = ctx.saved_tensors[:8]
    mode, bs, reverse = ctx.mode, ctx.batch_sizes, ctx.reverse
    dtype = w_ih.dtype
    xp = get_array_module(w_ih)
    off = _offsets(bs)
    steps = range(len(bs)) if reverse else range(len(bs) - 1, -1, -1)
    H = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
    N = x.shape[0]
    dout = xp.asarray(dout, dtype=dtype)
    dh = xp.array(dhn, dtype=dtype, copy=True)
    needs = ctx.needs_input_grad
    gw_hr = None
    dGh = None
    if mode == "LSTM":
        return _lstm_backward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bs, off,
                              steps, dout, dh, dcn, xp)
    if mode == "GRU":
        G, Hprev, GH = ctx.cache
        dGx = xp.empty((N, 3 * H), dtype)
        dGh = xp.empty((N, 3 * H), dtype)
        with loop_threads((mode, "backward", dh.shape[0], H), len(bs), xp):
            for t in steps:
                n = bs[t]
                s = slice(off[t], off[t] + n)
                g = G[s]
                r, z, nn_ = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
                hp = Hprev[s]
                dht = dh[:n]
                dht += dout[s]
                dx, dhh = dGx[s], dGh[s]
                dn = xp.multiply(dht, 1 - z, out=dx[:, 2 * H:])
                dn *= 1 - nn_ * nn_                         # d pre-activation of n
                dz = xp.subtract(hp, nn_, out=dx[:, H:2 * H])
                dz *= dht
                dz *= z * (1 - z)
                dr = xp.multiply(dn, GH[s], out=dx[:, :H])
                dr *= r * (1 - r)
                dhh[:, :2 * H] = dx[:, :2 * H]
                xp.multiply(dn, r, out=dhh[:, 2 * H:])
                dht *= z
                dht += dhh @ w_hh
        dc0 = None
    else:
        G, Hprev = ctx.cache                 # G holds the outputs (activated in place)
        dG = xp.empty((N, H), dtype)
        relu = mode == "RNN_RELU"
        with loop_threads((mode, "backward", dh.shape[0], H), len(bs), xp):
            for t in steps:
                n = bs[t]
                s = slice(off[t], off[t] + n)
                dht = dh[:n]
                dht += dout[s]
                d = dG[s]
                g = G[s]
                if relu:
                    xp.multiply(dht, g > 0, out=d)
                else:
                    xp.multiply(dht, 1 - g * g, out=d)
                xp.matmul(d, w_hh, out=dh[:n])
        dGx = dG
        dc0 = None
    if dGh is None:
        dGh = dGx
    gx = blas.matmul(dGx, w_ih) if needs[0] else None
    gw_ih = blas.matmul(dGx.T, x.astype(dtype, copy=False)) if needs[3] else None
    gw_hh = blas.matmul(dGh.T, Hprev) if needs[4] else None
    gb_ih = dGx.sum(axis=0) if b_ih is not None and needs[5] else None
    gb_hh = dGh.sum(axis=0) if b_hh is not None and needs[6] else None
    dh0 = dh if needs[1] else None
    if gx is not None and gx.dtype != x.dtype:
        gx = gx.astype(x.dtype)
    return gx, dh0, dc0, gw_ih, gw_hh, gb_ih, gb_hh, gw_hr


def _lstm_perm(H, xp=np):
    """PyTorch's gate rows (i, f, g, o) in the order used inside: i, f, o, g (the three
    sigmoid gates side by side)."""
    return xp.concatenate([xp.arange(2 * H), xp.arange(3 * H, 4 * H), xp.arange(2 * H, 3 * H)])


def _lstm_forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bs, off, steps, xp):
    """The LSTM loop. Inside, the gates are in the order i, f, o, g and the rows of the
    sigmoid gates are scaled by 1/2, so one tanh over the whole step gives tanh(a/2) for
    them (sigmoid(a) = (tanh(a/2) + 1) / 2) and tanh(a) for g."""
    dtype = w_ih.dtype
    H = w_hh.shape[0] // 4
    H2, H3 = 2 * H, 3 * H
    N = x.shape[0]
    B = h0.shape[0]
    perm = _lstm_perm(H, xp)
    scale = xp.ones((4 * H, 1), dtype)
    scale[:H3] = 0.5
    G = blas.matmul(x, (w_ih[perm] * scale).T)
    whT = xp.ascontiguousarray((w_hh[perm] * scale).T)
    # both biases in one vector, added to each step's rows in the loop while they are in cache,
    # instead of two passes over all of G: for a W6 layer (G is 64 MB) 1.6 ms in the loop
    # against 3.4 ms per pass (CPU time, one thread)
    bias = None
    for b_ in (b_ih, b_hh):
        if b_ is not None:
            bias = b_[perm] * scale[:, 0] if bias is None else bias + b_[perm] * scale[:, 0]
    uniform = all(n == B for n in bs)
    h = xp.array(h0, dtype=dtype, copy=True)
    c = xp.array(c0, dtype=dtype, copy=True)
    Hout = h.shape[1]
    out = xp.empty((N, Hout), dtype)
    Hprev = None if uniform else xp.empty((N, Hout), dtype)
    # the previous cell state of every row, for backward's forget-gate factor. (It was one
    # (N, 4, H) array of the factors [g, c_prev, 0, i], so backward's four gate products were
    # one multiply per step; filling it and reading it back cost more than three multiplies
    # on (B, H) blocks: one W6 layer's forward at one thread, 205 -> 193 ms CPU, and 64 MB
    # less memory per layer; with the bias change below a whole W6 training step went from
    # 924-944 to 868-878 ms CPU at one thread.)
    C = xp.empty((N, H), dtype)
    TC = xp.empty((N, H), dtype)
    R = xp.empty((N, H), dtype) if w_hr is not None else None
    w_hrT = xp.ascontiguousarray(w_hr.T) if w_hr is not None else None
    tmp = xp.empty((B, 4 * H), dtype)
    ig_buf = xp.empty((B, H), dtype)
    # after the tanh, sigmoid = 0.5 * tanh + 0.5 on the first 3H columns, the tanh gate kept:
    # one multiply and one add over the whole (contiguous) step with per-column vectors cost
    # 2 x 4 us where the same on the (B, 3H) view cost 2 x 9.6 us (B = H = 128)
    mul = xp.ones(4 * H, dtype)
    mul[:H3] = 0.5
    add = xp.zeros(4 * H, dtype)
    add[:H3] = 0.5
    # no initial state (zeros): the first step's recurrent product is zero, skip it (on the
    # CPU: on a GPU, asking would read the answer back)
    skip_first = xp is np and not h0.any()
    first = steps[0] if len(bs) else None
    hp = h
    with loop_threads(("LSTM", "forward", B, H), len(bs), xp):
        for t in steps:
            n = bs[t]
            a, b = off[t], off[t] + n
            if uniform:
                pass                                # hp: the previous step's output rows
            else:
                hp = h[:n]
                Hprev[a:b] = hp
            g = G[a:b]
            if not (skip_first and t == first):
                tm = tmp[:n]
                xp.matmul(hp, whT, out=tm)
                g += tm
            if bias is not None:
                g += bias
            xp.tanh(g, out=g)
            g *= mul
            g += add
            cp = c[:n]
            C[a:b] = cp
            cp *= g[:, H:H2]
            ig = xp.multiply(g[:, :H], g[:, H3:], out=ig_buf[:n])
            cp += ig
            tc = xp.tanh(cp, out=TC[a:b])
            if w_hr is None:
                hn = xp.multiply(g[:, H2:H3], tc, out=out[a:b])
            else:
                r = xp.multiply(g[:, H2:H3], tc, out=R[a:b])
                hn = xp.matmul(r, w_hrT, out=out[a:b])
            if uniform:
                hp = hn
            else:
                h[:n] = hn
    if uniform and len(bs):
        h = hp.copy()
    ctx.cache = (G, C, TC, R, Hprev, out if uniform else None)
    if uniform:     # backward reads the outputs: an in-place change to them is then caught
        ctx.save_for_backward(*ctx.saved_tensors, out)
    return out, h, c


def _lstm_backward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bs, off, steps, dout, dh,
                   dcn, xp):
    G, C, TC, R, Hprev, out = ctx.cache
    needs = ctx.needs_input_grad
    dtype = w_ih.dtype
    H = w_hh.shape[0] // 4
    H2, H3 = 2 * H, 3 * H
    N, B = x.shape[0], dh.shape[0]
    perm = _lstm_perm(H, xp)
    wh = xp.ascontiguousarray(w_hh[perm])
    dc = xp.array(dcn, dtype=dtype, copy=True)
    dG = xp.empty((N, 4 * H), dtype)
    DH = xp.empty_like(dout) if w_hr is not None else None
    bufG = xp.empty((B, 4 * H), dtype)
    bufG2 = xp.empty((B, 4 * H), dtype)
    bufH = xp.empty((B, H), dtype)
    # the gates' derivatives in one form for all columns: s (1 - s) = (1 - s) (0 + s) for the
    # sigmoid gates, 1 - t^2 = (1 - t) (1 + t) for the tanh gate: three passes over the
    # contiguous step with a per-column vector (3 x 4.5 us) instead of four, one of them on
    # the (B, 3H) view (21 us at B = H = 128)
    shift = xp.zeros(4 * H, dtype)
    shift[H3:] = 1
    last = steps[-1] if len(bs) else None
    with loop_threads(("LSTM", "backward", B, H), len(bs), xp):
        for t in steps:
            n = bs[t]
            a, b = off[t], off[t] + n
            g = G[a:b]
            tc = TC[a:b]
            dht = dh[:n]
            dht += dout[a:b]
            if w_hr is not None:
                DH[a:b] = dht
                dht = dht @ w_hr
            bh = bufH[:n]
            xp.multiply(tc, tc, out=bh)
            xp.subtract(1, bh, out=bh)
            bh *= g[:, H2:H3]
            bh *= dht
            dct = dc[:n]
            dct += bh
            d = dG[a:b]            # dL/d(gate) in the order i, f, o, g; then * gate'
            xp.multiply(g[:, H3:], dct, out=d[:, :H])
            xp.multiply(C[a:b], dct, out=d[:, H:H2])
            xp.multiply(dht, tc, out=d[:, H2:H3])
            xp.multiply(g[:, :H], dct, out=d[:, H3:])
            bg = bufG[:n]
            xp.subtract(1, g, out=bg)
            bg2 = xp.add(g, shift, out=bufG2[:n])
            bg *= bg2
            d *= bg
            dct *= g[:, H:H2]
            if t == last and not needs[1]:
                break                   # the gradient of h0 is not wanted: skip its product
            xp.matmul(d, wh, out=dh[:n])

    def unperm(a):
        r = xp.empty_like(a)
        r[perm] = a
        return r
    gx = blas.matmul(dG, w_ih[perm]) if needs[0] else None
    if gx is not None and gx.dtype != x.dtype:
        gx = gx.astype(x.dtype)
    gw_ih = unperm(blas.matmul(dG.T, x)) if needs[3] else None
    gw_hh = None
    if needs[4]:
        if Hprev is not None:
            gw_hh = blas.matmul(dG.T, Hprev)
        elif len(bs) == 0:
            gw_hh = xp.zeros((4 * H, h0.shape[1]), dtype)
        else:
            h0a = xp.asarray(h0, dtype=dtype)
            first, rest = (dG[-B:], dG[:-B]) if ctx.reverse else (dG[:B], dG[B:])
            # step t's previous state is the output of the step before (t+1 in reverse)
            gw_hh = blas.matmul(rest.T, out[B:] if ctx.reverse else out[:-B]) if N > B else None
            if gw_hh is None or xp is not np or h0a.any():   # zeros add nothing: skip it
                part = first.T @ h0a
                gw_hh = part if gw_hh is None else gw_hh + part
        gw_hh = unperm(gw_hh)
    gsum = dG.sum(axis=0) if (b_ih is not None and (needs[5] or needs[6])) else None
    gb_ih = unperm(gsum) if gsum is not None and needs[5] else None
    gb_hh = unperm(gsum) if gsum is not None and needs[6] else None
    gw_hr = blas.matmul(DH.T, R) if w_hr is not None and needs[7] else None
    return (gx, dh if needs[1] else None, dc if needs[2] else None, gw_ih, gw_hh, gb_ih,
            gb_hh, gw_hr)


# ---------------------------------------------------------------- the same on tensors
def _sig(a):
    return a.__mul__(0.5).tanh().__mul__(0.5).__add__(0.5)


def recurrent_reference(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, batch_sizes, reverse):
    """The forward of ``Recurrent`` written with differentiable tensor ops, step by step:
    what backward differentiates for gradients of gradients. Returns the same outputs."""
    from ..ops.shape import Concatenate
    off = _offsets(batch_sizes)
    T = len(batch_sizes)
    steps = range(T - 1, -1, -1) if reverse else range(T)
    H = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
    B = h0.shape[0]
    xw = x @ w_ih.T
    if b_ih is not None:
        xw = xw + b_ih
    if b_hh is not None and mode != "GRU":
        xw = xw + b_hh
    h, c = h0, c0
    outs = [None] * T

    def keep(new, old, n):
        return new if n == B else Concatenate.apply(new, old[n:], axis=0)

    for t in steps:
        n = batch_sizes[t]
        xt = xw[off[t]:off[t] + n]
        hp = h[:n]
        if mode == "LSTM":
            g = xt + hp @ w_hh.T
            i, f = _sig(g[:, :H]), _sig(g[:, H:2 * H])
            gg, o = g[:, 2 * H:3 * H].tanh(), _sig(g[:, 3 * H:])
            cn = f * c[:n] + i * gg
            hn = o * cn.tanh()
            if w_hr is not None:
                hn = hn @ w_hr.T
            c = keep(cn, c, n)
        elif mode == "GRU":
            gh = hp @ w_hh.T
            if b_hh is not None:
                gh = gh + b_hh
            r = _sig(xt[:, :H] + gh[:, :H])
            z = _sig(xt[:, H:2 * H] + gh[:, H:2 * H])
            nn_ = (xt[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
            hn = nn_ + z * (hp - nn_)
        else:
            pre = xt + hp @ w_hh.T
            hn = pre.relu() if mode == "RNN_RELU" else pre.tanh()
        outs[t] = hn
        h = keep(hn, h, n)
    out = Concatenate.apply(*outs, axis=0) if T > 1 else outs[0]
    return (out, h, c) if mode == "LSTM" else (out, h)


def _backward_on_tensors(ctx, dout, dhn, dcn):
    from ..autograd.grad import grad as _grad
    saved = ctx.saved_tensors[:8]
    args = [s if s is None or isinstance(s, Tensor) else Tensor._make(s) for s in saved]
    x = args[0]
    if x.dtype != args[3].dtype:
        x = x.astype(args[3].dtype)
    outs = recurrent_reference(x, *args[1:], ctx.mode, ctx.batch_sizes, ctx.reverse)
    grads_out = [dout, dhn] + ([dcn] if ctx.mode == "LSTM" else [])
    wanted = [k for k, a in enumerate(args) if a is not None and ctx.needs_input_grad[k]
              and a.requires_grad]
    found = _grad(list(outs), [args[k] for k in wanted], grad_outputs=grads_out,
                  create_graph=True, allow_unused=True)
    result = [None] * 8
    for k, g in zip(wanted, found):
        if g is None:
            xp = get_array_module(args[k]._data)
            g = Tensor._make(xp.zeros(args[k].shape, args[k].dtype))
        result[k] = g
    return tuple(result)


# ---------------------------------------------------------------- embedding
class Embedding(Function):
    """``weight[indices]`` for integer ``indices`` of any shape; the gradient of the rows is
    summed over repeats (``padding_idx``'s row gets none; ``scale_grad_by_freq`` divides
    each row's gradient by how often its index appears in the batch)."""

    double_backward = True

    @staticmethod
    def forward(ctx, weight, indices=None, padding_idx=None, scale_grad_by_freq=False):
        ctx.indices, ctx.shape = indices, weight.shape
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        idx = ctx.indices.reshape(-1)
        xp = get_array_module(idx)
        V, D = ctx.shape
        scale = None
        if ctx.scale:
            counts = xp.bincount(idx, minlength=V)
            scale = (1.0 / xp.maximum(counts[idx], 1)).astype(grad.dtype)[:, None]
        if isinstance(grad, Tensor):
            from .shape import IndexAdd
            g = grad.reshape(-1, D)
            if scale is not None:
                g = g * Tensor._make(scale)
            if ctx.padding_idx is not None:
                keep = (idx != ctx.padding_idx).astype(grad.dtype)[:, None]
                g = g * Tensor._make(keep)
            return IndexAdd.apply(g, shape=(V, D), index=(idx,))
        g = xp.asarray(grad).reshape(-1, D)
        if scale is not None:
            g = g * scale
        if ctx.padding_idx is not None:
            keep = idx != ctx.padding_idx
            if xp is not np:        # on a GPU: no mask of unknown size, no read back
                g = g * keep.astype(g.dtype)[:, None]
            elif not keep.all():
                g, idx = g[keep], idx[keep]
        out = xp.zeros((V, D), dtype=grad.dtype)
        if V <= 4096 and g.shape[0] * V <= 1 << 24:
            # a one-hot matmul: one BLAS call, much faster than a scatter for small tables
            onehot = xp.zeros((idx.shape[0], V), dtype=grad.dtype)
            onehot[xp.arange(idx.shape[0]), idx] = 1
            xp.matmul(onehot.T, g, out=out)
        else:
            add_at(out, idx, g)
        return out
