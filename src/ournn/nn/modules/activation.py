from ..activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish, Hardtanh,  # noqa
                          LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Softmin, Softplus, Softsign, Tanh, Tanhshrink,
                          Threshold)
from ..attention import MultiheadAttention  # noqa: F401
