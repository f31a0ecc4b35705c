"""The matrix products of one step of each workload, counted from the layer shapes.

A dense layer or a convolution (seen as im2col + one matmul) costs three GEMMs per training
step, each of 2*M*N*K floating-point operations:

* forward:      y = x @ W.T              (M x K) @ (K x N)
* grad_weight:  dW = dy.T @ x            the same M*N*K
* grad_input:   dx = dy @ W              the same M*N*K, but not for the first layer: nothing
                                         upstream needs the gradient of the input images, and
                                         neither ournn nor PyTorch computes it.

So a training step is about 3x the forward FLOPs (a little less: minus the first layer's
grad_input). Element-wise work (ReLU, pooling, dropout, the loss, the optimizer) is not
counted: it is small next to the products, and it is exactly where a framework can lose or
win time, which is what the floor is there to show.

``gemms(workload)`` lists the products of a training step; ``flops(workload)`` and
``flops(workload, training=False)`` add them up.
"""
from collections import namedtuple

Gemm = namedtuple("Gemm", "m n k phase layer")
Gemm.__doc__ = "One matrix product (m x k) @ (k x n) of phase forward/grad_weight/grad_input."
Gemm.flops = property(lambda g: 2 * g.m * g.n * g.k)


def linear_gemms(layer, batch, n_in, n_out, first=False):
    """Linear(n_in, n_out) on (batch, n_in): forward, weight gradient, input gradient."""
    return _three(layer, batch, n_out, n_in, first)


def conv_gemms(layer, batch, size, c_in, c_out, kernel, stride=1, padding=0, first=False):
    """Conv2d(c_in, c_out, kernel, stride, padding) on (batch, c_in, size, size) as im2col:
    (batch*H_out*W_out, c_in*k*k) @ (c_in*k*k, c_out). Returns (gemms, output size)."""
    out = (size + 2 * padding - kernel) // stride + 1
    return _three(layer, batch * out * out, c_out, c_in * kernel * kernel, first), out


def _three(layer, rows, cols, inner, first):
    """The GEMMs of one layer computing (rows x inner) @ (inner x cols)."""
    gemms = [Gemm(rows, cols, inner, "forward", layer),
             Gemm(inner, cols, rows, "grad_weight", layer)]     # x.T @ dy
    if not first:
        gemms.append(Gemm(rows, inner, cols, "grad_input", layer))  # dy @ W
    return gemms


# ---------------------------------------------------------------- the workloads
def w1_mlp(batch=128):
    """Flatten-Linear(784,512)-ReLU-Linear(512,1024)-ReLU-Linear(1024,10)."""
    return (linear_gemms("fc1", batch, 784, 512, first=True)
            + linear_gemms("fc2", batch, 512, 1024)
            + linear_gemms("fc3", batch, 1024, 10))


def w2_seedcnn(batch=64):
    """Conv(1,32,4,s2) 28->13, Conv(32,64,3,s2,p1) 13->7, Conv(64,128,3,s2,p1) 7->4,
    Flatten, Linear(2048,1024), Linear(1024,10)."""
    conv1, size = conv_gemms("conv1", batch, 28, 1, 32, 4, stride=2, first=True)
    conv2, size = conv_gemms("conv2", batch, size, 32, 64, 3, stride=2, padding=1)
    conv3, size = conv_gemms("conv3", batch, size, 64, 128, 3, stride=2, padding=1)
    return (conv1 + conv2 + conv3
            + linear_gemms("fc1", batch, 128 * size * size, 1024)
            + linear_gemms("fc2", batch, 1024, 10))


def w3_kerascnn(batch=128):
    """Conv(1,32,3) 28->26, Conv(32,64,3) 26->24, MaxPool(2) 24->12, Flatten (9216),
    Linear(9216,128), Linear(128,10)."""
    conv1, size = conv_gemms("conv1", batch, 28, 1, 32, 3, first=True)
    conv2, size = conv_gemms("conv2", batch, size, 32, 64, 3)
    pooled = size // 2
    return (conv1 + conv2
            + linear_gemms("fc1", batch, 64 * pooled * pooled, 128)
            + linear_gemms("fc2", batch, 128, 10))


def w4_deepmlp(batch=32, depth=20, width=256):
    """depth x (Linear(width,width)-ReLU), then Linear(width,10)."""
    gemms = []
    for i in range(depth):
        gemms += linear_gemms(f"fc{i + 1}", batch, width, width, first=(i == 0))
    return gemms + linear_gemms(f"fc{depth + 1}", batch, width, 10)


def lstm_gemms(layer, batch, steps, n_in, hidden, first=False):
    """One LSTM(n_in, hidden) layer over ``steps`` steps of ``batch`` rows, as the fused op
    (and PyTorch) computes it: the input projection of every step is one product, the
    recurrent one is ``steps`` products of (batch, hidden) @ (hidden, 4 hidden) forward and
    ``steps`` of (batch, 4 hidden) @ (4 hidden, hidden) backward; each weight gradient is one
    product over all steps. ``first``: no gradient for the layer's input (images)."""
    rows, gates = batch * steps, 4 * hidden
    gemms = [Gemm(rows, gates, n_in, "forward", f"{layer}_ih")]
    gemms += [Gemm(batch, gates, hidden, "forward", f"{layer}_hh")] * steps
    gemms += [Gemm(gates, n_in, rows, "grad_weight", f"{layer}_ih"),
              Gemm(gates, hidden, rows, "grad_weight", f"{layer}_hh")]
    gemms += [Gemm(batch, hidden, gates, "grad_input", f"{layer}_hh")] * steps
    if not first:
        gemms.append(Gemm(rows, n_in, gates, "grad_input", f"{layer}_ih"))
    return gemms


def w5_lstm(batch=128):
    """LSTM(28, 128) over the 28 rows of an MNIST image, its last output -> Linear(128, 10)."""
    return lstm_gemms("lstm", batch, 28, 28, 128, first=True) + linear_gemms("fc", batch, 128, 10)


def w6_charlm(batch=64, steps=128, vocab=84):
    """Embedding(84, 64) (a lookup: no product) -> LSTM(64, 512, 2 layers) over 128
    characters -> Linear(512, 84) on every position."""
    return (lstm_gemms("lstm_l0", batch, steps, 64, 512)
            + lstm_gemms("lstm_l1", batch, steps, 512, 512)
            + linear_gemms("head", batch * steps, 512, vocab))


WORKLOAD_GEMMS = {"W1": w1_mlp, "W2": w2_seedcnn, "W3": w3_kerascnn, "W4": w4_deepmlp,
                  "W5": w5_lstm, "W6": w6_charlm}


def gemms(workload, batch=None, training=True):
    """The GEMMs of one step of ``workload`` ('W1'...'W6'); forward only if not ``training``."""
    fn = WORKLOAD_GEMMS[workload]
    found = fn() if batch is None else fn(batch)
    return found if training else [g for g in found if g.phase == "forward"]


def flops(workload, batch=None, training=True):
    """FLOPs of the matrix products of one training step (or one forward pass)."""
    return sum(g.flops for g in gemms(workload, batch, training))
