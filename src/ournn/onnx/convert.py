"""From a traced forward pass to an ONNX graph: one small function per op type.

``build_model`` traces the model (eval mode, no autograd graph) once with the example input
and, when some axes are dynamic, once more with other sizes on them; then it walks the ops in
the order they ran and calls ``CONVERTERS[op type](g, op)``. A converter reads the op's
arguments (``op.a``: ``forward``'s parameters bound to what was passed, defaults filled in),
asks ``g.v(x)`` for the ONNX name of an input (a graph input, a node's output, a parameter
initializer or a constant) and returns the ONNX name(s) of the op's output(s).

Modules in ``MODULE_CONVERTERS`` (BatchNorm in eval) are exported as one node each, whatever
ops their forward ran.
"""
import inspect
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..tensor import Tensor
from ..tracing import tensors, trace_model
from .common import DEFAULT_OPSET, ExportError

INT64_MAX = np.iinfo(np.int64).max


# ---------------------------------------------------------------- the graph being built
class Graph:
    """The nodes and initializers written so far, and the ONNX name of every traced value."""

    def __init__(self, opset, fold, model):
        self.opset = opset
        self.fold = fold
        self.nodes = []
        self.inits = {}              # name -> array
        self.names = {}              # id(tensor) -> ONNX name
        self.arrays = {}             # id(array) -> ONNX name (arrays of graph values)
        self.const = {}              # id(tensor) -> array: values that depend on no input
        self.keep = []               # keeps the objects whose ids are keys alive
        self.shape_b = {}            # id(tensor) -> its shape in the second trace
        self.varying = set()         # id(constant) whose shape changed with the dynamic axes
        self.params = {id(p): n for n, p in model.named_parameters()}
        self.counts = {}
        self.scope = ""
        self.op = None

    # ----- names
    def fresh(self, base):
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 and base not in self.inits else f"{base}_{k}"

    def init(self, array, name=None):
        """A new initializer holding ``array``; returns its name."""
        name = self.fresh(name or "onnx::Constant")
        self.inits[name] = np.asarray(array)
        return name

    def ints(self, values, name="onnx::ints"):
        return self.init(np.asarray(values, dtype=np.int64).reshape(-1), name)

    def scalar(self, value, like=None):
        dtype = np.float32 if like is None else like
        return self.init(np.asarray(value, dtype=dtype))

    def v(self, x, dtype=None):
        """The ONNX name of ``x``: a traced Tensor, an array or a Python number (made a
        constant of ``dtype``, float32 by default)."""
        if x is None:
            return ""
        if isinstance(x, Tensor):
            key = id(x)
            if key in self.names:
                return self.names[key]
            if key in self.params:
                name = self.params[key]
                self.names[key] = name
                self.inits[name] = x._data
                return name
            if key in self.varying:
                raise ExportError(self.where(_VARYING))
            data = self.const.get(key, x._data)
            self.keep.append(x)
            name = self.names[key] = self.init(data)
            return name
        if isinstance(x, np.ndarray):
            if id(x) in self.arrays:
                return self.arrays[id(x)]
            if id(x) in self.varying:
                raise ExportError(self.where(_VARYING))
            return self.init(x)
        return self.init(np.asarray(x, dtype=dtype or np.float32))

    def node(self, op_type, inputs, n_out=1, name=None, **attrs):
        """Append a node; returns its output name (a list when ``n_out`` > 1)."""
        base = f"{self.scope}/{op_type}" if self.scope else f"/{op_type}"
        node_name = self.fresh(base)
        outs = [f"{node_name}_output_{i}" for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name,
                                           **attrs))
        return outs if n_out > 1 else outs[0]

    # ----- helpers the converters share
    def where(self, what):
        op = self.op
        mod = op.module if op is not None else None
        at = "" if mod is None else \
            f" in module {mod.name or '(the model)'} ({type(mod.module).__name__})"
        return f"op {op.type if op else '?'}{at} {what}"

    def unsqueeze(self, x, axes):
        if self.opset >= 13:
            return self.node("Unsqueeze", [x, self.ints(axes)])
        return self.node("Unsqueeze", [x], axes=list(axes))

    def squeeze(self, x, axes):
        if self.opset >= 13:
            return self.node("Squeeze", [x, self.ints(axes)])
        return self.node("Squeeze", [x], axes=list(axes))

    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* with the opset's form of ``axes`` (None: every axis)."""
        as_input = self.opset >= 18 or (op_type == "ReduceSum" and self.opset >= 13)
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        if as_input:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    def shape_of(self, t):
        return tuple(t._data.shape)

    def dynamic_dims(self, t):
        """The axes of ``t`` whose size changed with the dynamic input axes."""
        b = self.shape_b.get(id(t))
        if b is None:
            return set()
        return {i for i, (x, y) in enumerate(zip(t._data.shape, b)) if x != y}


_VARYING = ("uses a value that changes with the input but was computed outside the ops "
            "(a comparison, an integer result, an array made in forward from the input's "
            "shape or values), so the exported graph cannot follow it; export with "
            "dynamic_axes={} if it depends only on the batch size, or compute it with ops")


def _note_varying(g, call, call_b, dynamic):
    """Mark the constant arguments of ``call`` whose shape or values differ in the second
    trace: they depend on the input, through something the tracer did not see."""
    for x, xb in zip(list(call.args) + list(call.kwargs.values()),
                     list(call_b.args) + list(call_b.kwargs.values())):
        if not isinstance(x, (Tensor, np.ndarray)) or id(x) in dynamic or id(x) in g.params:
            continue
        if isinstance(x, np.ndarray) and id(x) in g.arrays:
            continue
        a, b = _arr(x), _arr(xb)
        if not hasattr(b, "shape"):
            continue
        if a.shape != b.shape or (a.size <= 1 << 20 and not np.array_equal(a, b)):
            g.varying.add(id(x))


def _axes(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        return [int(a) % ndim for a in axis]
    return [int(axis) % max(ndim, 1)]


def _arr(x):
    if isinstance(x, Tensor):
        return x._data
    return x


# ---------------------------------------------------------------- converters
CONVERTERS = {}


def converts(*names):
    def register(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn
    return register


def _simple(onnx_type):
    def convert(g, op):
        return g.node(onnx_type, [g.v(t) for t in op.tensor_args()])
    return convert


for _ours, _theirs in [("Add", "Add"), ("Sub", "Sub"), ("Mul", "Mul"), ("Div", "Div"),
                       ("Neg", "Neg"), ("Exp", "Exp"), ("Log", "Log"),
                       ("Sqrt", "Sqrt"), ("Abs", "Abs"), ("Maximum", "Max"),
                       ("Minimum", "Min"), ("ReLU", "Relu"), ("Sigmoid", "Sigmoid"),
                       ("Tanh", "Tanh"), ("Softsign", "Softsign"), ("MatMul", "MatMul"),
                       ("Sin", "Sin"), ("Cos", "Cos"), ("Tan", "Tan"), ("Asin", "Asin"),
                       ("Acos", "Acos"), ("Atan", "Atan"), ("Sinh", "Sinh"),
                       ("Cosh", "Cosh"), ("Asinh", "Asinh"), ("Acosh", "Acosh"),
                       ("Atanh", "Atanh"), ("Reciprocal", "Reciprocal")]:
    CONVERTERS[_ours] = _simple(_theirs)


@converts("Pow")
def _pow(g, op):
    a, b = op.a["a"], op.a["b"]
    dtype = _arr(a).dtype if hasattr(_arr(a), "dtype") else np.float32
    return g.node("Pow", [g.v(a, dtype), g.v(b, dtype)])


@converts("Rsqrt")
def _rsqrt(g, op):
    return g.node("Reciprocal", [g.node("Sqrt", [g.v(op.a["a"])])])


@converts("Log1p")
def _log1p(g, op):
    x = g.v(op.a["a"])
    return g.node("Log", [g.node("Add", [x, g.scalar(1, op.dtype)])])


@converts("Expm1")
def _expm1(g, op):
    return g.node("Sub", [g.node("Exp", [g.v(op.a["a"])]), g.scalar(1, op.dtype)])


@converts("Linear")
def _linear(g, op):
    x, w, b = op.a["x"], op.a["weight"], op.a["bias"]
    if _arr(x).ndim == 2:
        inputs = [g.v(x), g.v(w)] + ([g.v(b)] if b is not None else [])
        return g.node("Gemm", inputs, transB=1)
    y = g.node("MatMul", [g.v(x), g.node("Transpose", [g.v(w)], perm=[1, 0])])
    return y if b is None else g.node("Add", [y, g.v(b)])


@converts("Conv2d")
def _conv2d(g, op):
    a = op.a
    w = _arr(a["weight"])
    (ph, pw), (sh, sw) = a["padding"], a["stride"]
    inputs = [g.v(a["x"]), g.v(a["weight"])] + ([g.v(a["bias"])] if a["bias"] is not None
                                                 else [])
    return g.node("Conv", inputs, kernel_shape=list(w.shape[2:]), strides=[sh, sw],
                  pads=[ph, pw, ph, pw])


@converts("ConvTranspose2d")
def _conv_transpose2d(g, op):
    a = op.a
    w = _arr(a["weight"])
    (ph, pw), (sh, sw), (oh, ow) = a["padding"], a["stride"], a["output_padding"]
    inputs = [g.v(a["x"]), g.v(a["weight"])] + ([g.v(a["bias"])] if a["bias"] is not None
                                                 else [])
    return g.node("ConvTranspose", inputs, kernel_shape=list(w.shape[2:]), strides=[sh, sw],
                  pads=[ph, pw, ph, pw], output_padding=[oh, ow])


@converts("MaxPool2d")
def _maxpool2d(g, op):
    (kh, kw), (sh, sw), (ph, pw) = op.a["kernel_size"], op.a["stride"], op.a["padding"]
    # ours pads with -inf: the same as ONNX's MaxPool, whose padding never wins
    return g.node("MaxPool", [g.v(op.a["x"])], kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph, pw])


@converts("AvgPool2d")
def _avgpool2d(g, op):
    (kh, kw), (sh, sw), (ph, pw) = op.a["kernel_size"], op.a["stride"], op.a["padding"]
    # ours counts the zero padding (every window divides by kH*kW): count_include_pad=1
    return g.node("AveragePool", [g.v(op.a["x"])], kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph, pw], count_include_pad=1)


@converts("AdaptiveAvgPool2dEven")
def _adaptive_avg(g, op):
    x = op.a["x"]
    oh, ow = op.a["output_size"]
    if (oh, ow) == (1, 1):
        return g.node("GlobalAveragePool", [g.v(x)])
    h, w = _arr(x).shape[2:]
    return g.node("AveragePool", [g.v(x)], kernel_shape=[h // oh, w // ow],
                  strides=[h // oh, w // ow])


@converts("AdaptiveMaxPool2d")
def _adaptive_max(g, op):
    x = op.a["x"]
    oh, ow = op.a["output_size"]
    h, w = _arr(x).shape[2:]
    if (oh, ow) == (1, 1):
        return g.node("GlobalMaxPool", [g.v(x)])
    if h % oh or w % ow:
        raise ExportError(g.where(f"adaptive max pooling {h}x{w} -> {oh}x{ow} (uneven "
                                  "windows) has no ONNX mapping"))
    return g.node("MaxPool", [g.v(x)], kernel_shape=[h // oh, w // ow],
                  strides=[h // oh, w // ow])


@converts("Resample")
def _resample(g, op):
    x, mats = op.a["x"], op.a["mats"]
    dtype = _arr(x).dtype
    if len(mats) == 1:
        return g.node("MatMul", [g.v(x), g.init(np.asarray(mats[0], dtype).T.copy())])
    a_h, a_w = (np.asarray(m, dtype) for m in mats)
    y = g.node("MatMul", [g.init(a_h), g.v(x)])
    return g.node("MatMul", [y, g.init(a_w.T.copy())])


@converts("Repeat")
def _repeat(g, op):
    x, factors = op.a["x"], op.a["factors"]
    nd = _arr(x).ndim
    scales = [1.0] * (nd - len(factors)) + [float(f) for f in factors]
    return g.node("Resize", [g.v(x), "", g.init(np.asarray(scales, np.float32))],
                  mode="nearest", coordinate_transformation_mode="asymmetric",
                  nearest_mode="floor")


@converts("BatchNorm")
def _batchnorm_batch_stats(g, op):
    raise ExportError(g.where("normalises with batch statistics (a BatchNorm in training "
                              "mode, or without running statistics): export in eval mode"))


@converts("LayerNorm")
def _layernorm(g, op):
    x, w, b, k, eps = (op.a[n] for n in ("x", "weight", "bias", "n_dims", "eps"))
    xa = _arr(x)
    norm_shape = xa.shape[xa.ndim - k:]
    if g.opset >= 17:
        scale = g.v(w) if w is not None else g.init(np.ones(norm_shape, xa.dtype))
        inputs = [g.v(x), scale] + ([g.v(b)] if b is not None else [])
        return g.node("LayerNormalization", inputs, axis=-k, epsilon=float(eps))
    axes = list(range(xa.ndim - k, xa.ndim))
    y = _normalize(g, g.v(x), axes, eps, xa.dtype)
    if w is not None:
        y = g.node("Mul", [y, g.v(w)])
    if b is not None:
        y = g.node("Add", [y, g.v(b)])
    return y


def _normalize(g, x, axes, eps, dtype):
    mean = g.reduce("ReduceMean", x, axes, True)
    d = g.node("Sub", [x, mean])
    var = g.reduce("ReduceMean", g.node("Mul", [d, d]), axes, True)
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype)])])
    return g.node("Div", [d, std])


@converts("GroupNorm")
def _groupnorm(g, op):
    x, w, b, groups, eps = (op.a[n] for n in ("x", "weight", "bias", "num_groups", "eps"))
    xa = _arr(x)
    c = xa.shape[1]
    x3 = g.node("Reshape", [g.v(x), g.ints([0, groups, -1])])
    y = _normalize(g, x3, [2], eps, xa.dtype)
    y = g.node("Reshape", [y, g.node("Shape", [g.v(x)])])
    bshape = [c] + [1] * (xa.ndim - 2)
    if w is not None:
        y = g.node("Mul", [y, g.node("Reshape", [g.v(w), g.ints(bshape)])])
    if b is not None:
        y = g.node("Add", [y, g.node("Reshape", [g.v(b), g.ints(bshape)])])
    return y


# ----- activations
@converts("LeakyReLU")
def _leaky_relu(g, op):
    return g.node("LeakyRelu", [g.v(op.a["x"])], alpha=float(op.a["negative_slope"]))


def _erf_gelu(g, x, dtype):
    half = g.node("Mul", [x, g.scalar(0.5, dtype)])
    e = g.node("Erf", [g.node("Div", [x, g.scalar(math.sqrt(2), dtype)])])
    return g.node("Mul", [half, g.node("Add", [e, g.scalar(1, dtype)])])


def _tanh_gelu(g, x, dtype):
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar(0.044715, dtype)])])
    t = g.node("Tanh", [g.node("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), dtype)])])
    half = g.node("Mul", [x, g.scalar(0.5, dtype)])
    return g.node("Mul", [half, g.node("Add", [t, g.scalar(1, dtype)])])


@converts("GELU")
def _gelu(g, op):
    x, approx = g.v(op.a["x"]), op.a["approximate"]
    if g.opset >= 20:
        return g.node("Gelu", [x], approximate=approx)
    return (_tanh_gelu if approx == "tanh" else _erf_gelu)(g, x, op.dtype)


@converts("NormalCdf")
def _normal_cdf(g, op):
    x = g.v(op.a["x"])
    e = g.node("Erf", [g.node("Div", [x, g.scalar(math.sqrt(2), op.dtype)])])
    return g.node("Mul", [g.node("Add", [e, g.scalar(1, op.dtype)]), g.scalar(0.5, op.dtype)])


@converts("SiLU")
def _silu(g, op):
    x = g.v(op.a["x"])
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@converts("ELU")
def _elu(g, op):
    x, alpha, scale, k = (op.a[n] for n in ("x", "alpha", "scale", "input_scale"))
    if scale == 1.0 and k == 1.0:
        return g.node("Elu", [g.v(x)], alpha=float(alpha))
    if k == 1.0:
        return g.node("Selu", [g.v(x)], alpha=float(alpha), gamma=float(scale))
    if scale == 1.0 and abs(k * alpha - 1) < 1e-12:
        return g.node("Celu", [g.v(x)], alpha=float(alpha))
    raise ExportError(g.where(f"ELU with alpha={alpha}, scale={scale}, input_scale={k} has "
                              "no ONNX mapping"))


@converts("Softplus")
def _softplus(g, op):
    x, beta = g.v(op.a["x"]), float(op.a["beta"])
    # ours is linear above the threshold (20 by default): the two differ by < 3e-9 there
    if beta == 1.0:
        return g.node("Softplus", [x])
    b = g.scalar(beta, op.dtype)
    return g.node("Div", [g.node("Softplus", [g.node("Mul", [x, b])]), b])


@converts("Mish")
def _mish(g, op):
    x = g.v(op.a["x"])
    if g.opset >= 18:
        return g.node("Mish", [x])
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


@converts("Hardtanh")
def _hardtanh(g, op):
    lo, hi = g.scalar(op.a["min_val"], op.dtype), g.scalar(op.a["max_val"], op.dtype)
    return g.node("Clip", [g.v(op.a["x"]), lo, hi])


@converts("Hardsigmoid")
def _hardsigmoid(g, op):
    return g.node("HardSigmoid", [g.v(op.a["x"])], alpha=1 / 6, beta=0.5)


@converts("Hardswish")
def _hardswish(g, op):
    x = g.v(op.a["x"])
    if g.opset >= 14:
        return g.node("HardSwish", [x])
    return g.node("Mul", [x, g.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])


@converts("Tanhshrink")
def _tanhshrink(g, op):
    x = g.v(op.a["x"])
    return g.node("Sub", [x, g.node("Tanh", [x])])


@converts("LogSigmoid")
def _logsigmoid(g, op):
    x = g.v(op.a["x"])
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [x])])])


@converts("Threshold")
def _threshold(g, op):
    x = g.v(op.a["x"])
    above = g.node("Greater", [x, g.scalar(op.a["threshold"], op.dtype)])
    return g.node("Where", [above, x, g.scalar(op.a["value"], op.dtype)])


@converts("PReLU")
def _prelu(g, op):
    x, w = op.a["x"], op.a["weight"]
    nd, wa = _arr(x).ndim, _arr(w)
    slope = g.v(w)
    if wa.size > 1 and nd > 2:
        slope = g.node("Reshape", [slope, g.ints([-1] + [1] * (nd - 2))])
    return g.node("PRelu", [g.v(x), slope])


@converts("GLU")
def _glu(g, op):
    x, axis = op.a["x"], op.a["axis"]
    xa = _arr(x)
    half = xa.shape[axis] // 2
    a, b = _split(g, g.v(x), [half, half], axis % xa.ndim)
    return g.node("Mul", [a, g.node("Sigmoid", [b])])


@converts("Softmax")
def _softmax(g, op):
    return _softmax_like(g, op, "Softmax")


@converts("LogSoftmax")
def _log_softmax(g, op):
    return _softmax_like(g, op, "LogSoftmax")


def _softmax_like(g, op, kind):
    x, axis = op.a["x"], op.a["axis"]
    nd = _arr(x).ndim
    axis = -1 if axis is None else int(axis)
    if g.opset >= 13:
        return g.node(kind, [g.v(x)], axis=axis)
    perm = list(range(nd))
    last = axis % nd
    perm[last], perm[-1] = perm[-1], perm[last]
    y = g.node(kind, [g.node("Transpose", [g.v(x)], perm=perm)], axis=-1)
    return g.node("Transpose", [y], perm=perm)


# ----- elementwise with arguments
@converts("Clip")
def _clip(g, op):
    a, lo, hi = op.a["a"], op.a["low"], op.a["high"]
    dt = op.dtype
    return g.node("Clip", [g.v(a), "" if lo is None else g.init(np.asarray(lo, dt)),
                           "" if hi is None else g.init(np.asarray(hi, dt))])


@converts("Where")
def _where(g, op):
    cond = op.a["cond"]
    if isinstance(cond, Tensor):
        c = g.v(cond)
        if cond._data.dtype != bool:
            c = g.node("Cast", [c], to=TensorProto.BOOL)
    elif isinstance(cond, np.ndarray) and id(cond) in g.arrays:
        c = g.node("Cast", [g.arrays[id(cond)]], to=TensorProto.BOOL)
    else:
        if id(cond) in g.varying:
            raise ExportError(g.where(_VARYING))
        c = g.init(np.asarray(cond).astype(bool))
    return g.node("Where", [c, g.v(op.a["a"], op.dtype), g.v(op.a["b"], op.dtype)])


@converts("Cast")
def _cast(g, op):
    to = helper.np_dtype_to_tensor_dtype(np.dtype(op.a["dtype"]))
    return g.node("Cast", [g.v(op.a["a"])], to=to)


# ----- reductions
def _reduction(onnx_type):
    def convert(g, op):
        x = op.a["x"]
        return g.reduce(onnx_type, g.v(x), _axes(op.a["axis"], _arr(x).ndim),
                        op.a["keepdims"])
    return convert


for _ours, _theirs in [("Sum", "ReduceSum"), ("Mean", "ReduceMean"), ("Max", "ReduceMax"),
                       ("Min", "ReduceMin"), ("Prod", "ReduceProd"),
                       ("LogSumExp", "ReduceLogSumExp")]:
    CONVERTERS[_ours] = _reduction(_theirs)


@converts("Var")
def _var(g, op):
    x, keep, corr = op.a["x"], op.a["keepdims"], op.a["correction"]
    xa = _arr(x)
    axes = _axes(op.a["axis"], xa.ndim)
    n = xa.size if axes is None else int(np.prod([xa.shape[a] for a in axes]))
    if axes is not None and any(a in g.dynamic_dims(x) for a in axes):
        raise ExportError(g.where("reduces a dynamic axis (variance); export with a fixed "
                                  "size"))
    mean = g.reduce("ReduceMean", g.v(x), axes, True)
    d = g.node("Sub", [g.v(x), mean])
    s = g.reduce("ReduceSum", g.node("Mul", [d, d]), axes, keep)
    return g.node("Div", [s, g.scalar(max(n - corr, 0), op.dtype)])


@converts("Cumsum")
def _cumsum(g, op):
    x = op.a["x"]
    return g.node("CumSum", [g.v(x), g.init(np.asarray(int(op.a["axis"]), np.int64))])


# ----- shape
@converts("Reshape")
def _reshape(g, op):
    x, out = op.a["x"], op.outputs[0]
    in_a, out_a = _arr(x).shape, out._data.shape
    in_b, out_b = g.shape_b.get(id(x), in_a), g.shape_b.get(id(out), out_a)
    target = list(out_a)
    varying = [i for i in range(len(out_a)) if out_a[i] != out_b[i]]
    if len(varying) > 1:          # copy the leading axes that carry over (ONNX's 0)
        for i in list(varying):
            if i < len(in_a) and all(in_a[j] == out_a[j] and in_b[j] == out_b[j]
                                     for j in range(i + 1)):
                target[i] = 0
                varying.remove(i)
    if len(varying) > 1:
        raise ExportError(g.where(f"reshapes {in_a} -> {out_a} with several dynamic axes"))
    for i in varying:
        target[i] = -1
    return g.node("Reshape", [g.v(x), g.ints(target, "onnx::shape")])


@converts("Transpose")
def _transpose(g, op):
    x, axes = op.a["x"], op.a["axes"]
    nd = _arr(x).ndim
    perm = list(range(nd))[::-1] if axes is None else [int(a) % nd for a in axes]
    return g.node("Transpose", [g.v(x)], perm=perm)


@converts("BroadcastTo")
def _broadcast_to(g, op):
    x, out = op.a["x"], op.outputs[0]
    xa = _arr(x)
    target = list(out._data.shape)
    lead = len(target) - xa.ndim
    for i in g.dynamic_dims(out):
        j = i - lead
        if j < 0 or i in g.dynamic_dims(x) or xa.shape[j] == target[i]:
            if j >= 0:
                target[i] = 1          # Expand broadcasts both ways: 1 keeps x's size
            else:
                raise ExportError(g.where("broadcasts to a new dynamic axis"))
        else:
            raise ExportError(g.where("broadcasts to a dynamic size"))
    return g.node("Expand", [g.v(x), g.ints(target, "onnx::shape")])


@converts("Concatenate")
def _concat(g, op):
    arrays = op.a["arrays"]
    axis = int(op.a["axis"]) % _arr(arrays[0]).ndim
    return g.node("Concat", [g.v(t) for t in arrays], axis=axis)


@converts("Stack")
def _stack(g, op):
    arrays = op.a["arrays"]
    axis = int(op.a["axis"]) % (_arr(arrays[0]).ndim + 1)
    return g.node("Concat", [g.unsqueeze(g.v(t), [axis]) for t in arrays], axis=axis)


def _split(g, x, sizes, axis):
    if g.opset >= 13:
        return g.node("Split", [x, g.ints(sizes)], n_out=len(sizes), axis=axis)
    return g.node("Split", [x], n_out=len(sizes), axis=axis, split=list(sizes))


@converts("Split")
def _split_op(g, op):
    x = op.a["x"]
    nd = _arr(x).ndim
    axis = int(op.a["axis"]) % nd
    if axis in g.dynamic_dims(x):
        raise ExportError(g.where("splits along a dynamic axis"))
    sizes = [o._data.shape[axis] for o in op.outputs]
    outs = _split(g, g.v(x), sizes, axis)
    return outs if isinstance(outs, list) else [outs]


@converts("Pad")
def _pad(g, op):
    x, widths, value = op.a["x"], op.a["pad_width"], op.a["value"]
    before = [int(w[0]) for w in widths]
    after = [int(w[1]) for w in widths]
    return g.node("Pad", [g.v(x), g.ints(before + after, "onnx::pads"),
                          g.scalar(value, op.dtype)], mode="constant")


@converts("GetItem")
def _getitem(g, op):
    x, index = op.a["x"], op.a["index"]
    xa = _arr(x)
    parts = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(p, np.ndarray) and p.dtype == bool for p in parts):
        raise ExportError(g.where("indexes with a boolean mask (no static shape in ONNX)"))
    arrays = [i for i, p in enumerate(parts) if isinstance(p, (np.ndarray, list, Tensor))]
    if len(arrays) > 1:
        raise ExportError(g.where("indexes with several integer arrays"))
    # expand the Ellipsis
    n_real = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if Ellipsis in [p for p in parts if not isinstance(p, np.ndarray)]:
        k = next(i for i, p in enumerate(parts) if p is Ellipsis and
                 not isinstance(p, np.ndarray))
        parts[k:k + 1] = [slice(None)] * (xa.ndim - n_real)
    parts += [slice(None)] * (xa.ndim - sum(1 for p in parts if p is not None))
    y = g.v(x)
    starts, ends, axes, steps, squeeze, gather = [], [], [], [], [], None
    axis = 0
    for p in parts:
        if p is None:
            continue
        if isinstance(p, slice):
            if p != slice(None):
                s0, s1, st = p.start, p.stop, p.step or 1
                if st > 0:
                    s0, s1 = 0 if s0 is None else s0, INT64_MAX if s1 is None else s1
                else:
                    s0 = INT64_MAX if s0 is None else s0
                    s1 = -INT64_MAX if s1 is None else s1
                starts.append(s0), ends.append(s1), axes.append(axis), steps.append(st)
        elif isinstance(p, (int, np.integer)):
            i = int(p)
            starts.append(i), ends.append(i + 1 if i != -1 else INT64_MAX)
            axes.append(axis), steps.append(1)
            squeeze.append(axis)
        else:
            gather = (axis, p)
        axis += 1
    if starts:
        y = g.node("Slice", [y, g.ints(starts, "onnx::starts"), g.ints(ends, "onnx::ends"),
                             g.ints(axes, "onnx::axes"), g.ints(steps, "onnx::steps")])
    if gather is not None:
        ax, idx = gather
        idx_name = g.v(idx) if isinstance(idx, Tensor) else (
            g.arrays.get(id(idx)) or g.init(np.asarray(idx, np.int64)))
        y = g.node("Gather", [y, idx_name], axis=ax)
        nidx = np.ndim(_arr(idx))
        squeeze = [a if a < ax else a + nidx - 1 for a in squeeze]
    if squeeze:
        y = g.squeeze(y, squeeze)
    # the new axes (None), at their places in the output
    new, pos = [], 0
    for p in parts:
        if p is None:
            new.append(pos)
            pos += 1
        elif isinstance(p, (int, np.integer)):
            continue
        elif isinstance(p, slice):
            pos += 1
        else:
            pos += np.ndim(_arr(p))
    if new:
        y = g.unsqueeze(y, new)
    if y == g.v(x):
        y = g.node("Identity", [y])
    return y


@converts("Gather")
def _gather(g, op):
    """``gather(x, axis, index)``; the index of ``max(dim)``/``min(dim)`` (an argmax found
    outside the ops) is recognised and written as ReduceMax/ReduceMin."""
    x, index, axis = op.a["x"], np.asarray(op.a["index"]), int(op.a["axis"])
    xa = _arr(x)
    axis %= max(xa.ndim, 1)
    if index.ndim == xa.ndim and index.shape[axis] == 1 and \
            index.shape[:axis] + index.shape[axis + 1:] == xa.shape[:axis] + xa.shape[axis + 1:]:
        for kind, arg in (("ReduceMax", np.argmax), ("ReduceMin", np.argmin)):
            if np.array_equal(index, arg(xa, axis=axis, keepdims=True)):
                return g.reduce(kind, g.v(x), [axis], True)
    if id(op.a["index"]) in g.varying:
        raise ExportError(g.where(_VARYING))
    return g.node("GatherElements", [g.v(x), g.init(index.astype(np.int64))], axis=axis)


@converts("Embedding")
def _embedding(g, op):
    w, idx = op.a["weight"], op.a["indices"]
    name = g.arrays.get(id(idx))
    if name is None:
        base = getattr(idx, "base", None)
        name = g.arrays.get(id(base)) if base is not None else None
    if name is None:
        name = g.init(np.asarray(idx, np.int64))
    return g.node("Gather", [g.v(w), name], axis=0)


@converts("Tile")
def _tile(g, op):
    x, reps = op.a["x"], tuple(op.a["reps"])
    nd = _arr(x).ndim
    y = g.v(x)
    if len(reps) > nd:
        y = g.unsqueeze(y, list(range(len(reps) - nd)))
    reps = (1,) * (nd - len(reps)) + reps
    return g.node("Tile", [y, g.ints(reps)])


@converts("Flip")
def _flip(g, op):
    x, axes = op.a["x"], op.a["axes"]
    nd = _arr(x).ndim
    axes = list(range(nd)) if axes is None else _axes(axes, nd)
    n = len(axes)
    return g.node("Slice", [g.v(x), g.ints([-1] * n), g.ints([-INT64_MAX] * n),
                            g.ints(axes), g.ints([-1] * n)])


# ----- attention (scaled dot-product)
@converts("_Attention")
def _attention(g, op):
    q, k, v, bias, drop, scale = (op.a[n] for n in ("q", "k", "v", "bias", "drop", "scale"))
    nd = _arr(k).ndim
    perm = list(range(nd))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    s = g.node("MatMul", [g.v(q), g.node("Transpose", [g.v(k)], perm=perm)])
    s = g.node("Mul", [s, g.scalar(scale, op.dtype)])
    if bias is not None:
        b = np.asarray(_arr(bias))
        if np.isneginf(b).all(axis=-1).any():
            raise ExportError(g.where("masks out every key of a row"))
        s = g.node("Add", [s, g.v(bias)])
    p = g.node("Softmax", [s], axis=-1)
    if drop is not None:
        p = g.node("Mul", [p, g.v(drop)])
    return g.node("MatMul", [p, g.v(v)])


# ----- recurrent layers
# PyTorch's gate blocks (ours) -> ONNX's: LSTM ifgo -> iofc, GRU rzn -> zrh
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _gates(w, mode):
    order = _GATE_ORDER.get(mode)
    if order is None:
        return w
    blocks = np.split(np.asarray(w), len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


@converts("Recurrent")
def _recurrent(g, op):
    a = op.a
    mode = a["mode"]
    if a["w_hr"] is not None:
        raise ExportError(g.where("is an LSTM with proj_size, which ONNX's LSTM lacks"))
    bs = tuple(a["batch_sizes"])
    if len(set(bs)) > 1:
        raise ExportError(g.where("runs on a packed sequence of varying lengths"))
    w_ih, w_hh = _arr(a["w_ih"]), _arr(a["w_hh"])
    for t in ("w_ih", "w_hh", "b_ih", "b_hh"):
        if isinstance(a[t], Tensor) and id(a[t]) not in g.params and id(a[t]) not in g.const:
            raise ExportError(g.where(f"computes its weight {t} from the input"))
    hidden = w_hh.shape[1]
    dtype = w_ih.dtype
    pname = g.params.get(id(a["w_ih"]), "rnn.weight_ih")
    kind = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    tag = {"LSTM": "iofc", "GRU": "zrh"}.get(mode, "")
    W = g.init(_gates(w_ih, mode)[None], f"{pname}.{tag}" if tag else pname)
    R = g.init(_gates(w_hh, mode)[None],
               g.params.get(id(a["w_hh"]), "rnn.weight_hh") + (f".{tag}" if tag else ""))
    b_ih = np.zeros(w_ih.shape[0], dtype) if a["b_ih"] is None else _arr(a["b_ih"])
    b_hh = np.zeros(w_ih.shape[0], dtype) if a["b_hh"] is None else _arr(a["b_hh"])
    bname = g.params.get(id(a["b_ih"]), pname.replace("weight", "bias"))
    B = g.init(np.concatenate([_gates(b_ih, mode), _gates(b_hh, mode)])[None],
               f"{bname}.{tag}" if tag else bname)
    # the input: (T*B, I) rows, step by step; ONNX wants (T, B, I)
    x = a["x"]
    T = len(bs)
    src = g.producer_input(x, "Reshape")
    if src is not None and _arr(src).ndim == 3 and _arr(src).shape[0] == T:
        X = g.v(src)
    else:
        if len(bs) != 1 and 0 in g.dynamic_dims(x) and T != len(g.op_b.a["batch_sizes"]):
            raise ExportError(g.where("has a dynamic sequence length and batch together"))
        X = g.node("Reshape", [g.v(x), g.ints([T, -1, w_ih.shape[1]], "onnx::shape")])

    def state(s):
        if s is None:
            return ""
        arr = _arr(s)
        if not isinstance(s, Tensor) or (id(s) not in g.names and id(s) not in g.params):
            if not np.any(arr):
                return ""          # zeros: ONNX's default initial state
        return g.unsqueeze(g.v(s), [0])

    h0 = state(a["h0"])
    extra = {}
    if kind == "GRU":
        extra["linear_before_reset"] = 1
    elif kind == "RNN":
        extra["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"]
    inputs = [X, W, R, B, "", h0]
    n_out = 2
    if kind == "LSTM":
        inputs.append(state(a["c0"]))
        n_out = 3
    while inputs and inputs[-1] == "":
        inputs.pop()
    outs = g.node(kind, inputs, n_out=n_out, hidden_size=hidden,
                  direction="reverse" if a["reverse"] else "forward", **extra)
    y = g.squeeze(outs[0], [1])                               # (T, B, H)
    y = g.node("Reshape", [y, g.ints([-1, hidden], "onnx::shape")])
    results = [y] + [g.squeeze(o, [0]) for o in outs[1:]]
    return results


# ---------------------------------------------------------------- module-level converters
def _batchnorm_module(g, call):
    m = call.module
    if m.training or getattr(m, "running_mean", None) is None:
        return None
    x = call.inputs[0]
    prefix = call.name + "." if call.name else ""
    c = _arr(x).shape[1]
    dtype = _arr(x).dtype

    def buffer(attr):
        name = prefix + attr
        if name not in g.inits:
            g.inits[name] = np.asarray(_arr(getattr(m, attr)), dtype)
        return name

    scale = g.v(m.weight) if getattr(m, "weight", None) is not None else \
        g.init(np.ones(c, dtype), prefix + "weight")
    bias = g.v(m.bias) if getattr(m, "bias", None) is not None else \
        g.init(np.zeros(c, dtype), prefix + "bias")
    return g.node("BatchNormalization", [g.v(x), scale, bias, buffer("running_mean"),
                                         buffer("running_var")], epsilon=float(m.eps))


MODULE_CONVERTERS = {"BatchNorm1d": _batchnorm_module, "BatchNorm2d": _batchnorm_module,
                     "BatchNorm3d": _batchnorm_module}


# ---------------------------------------------------------------- building the model
class _Op:
    """An OpCall with its arguments bound to ``forward``'s parameters (``a``)."""

    _sigs = {}

    def __init__(self, call):
        self.call = call
        self.type = call.type
        self.outputs = call.outputs
        self.module = call.module
        fn = type(call.node).forward
        sig = self._sigs.get(fn)
        if sig is None:
            sig = self._sigs[fn] = inspect.signature(fn)
        bound = sig.bind(None, *call.args, **call.kwargs)
        bound.apply_defaults()
        self.a = dict(bound.arguments)
        self.a.pop(next(iter(sig.parameters)))          # ctx
        for name, p in sig.parameters.items():
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                self.a[name] = tuple(self.a.get(name, ()))
        first = self.outputs[0]._data if self.outputs else None
        self.dtype = first.dtype if first is not None and first.dtype.kind == "f" \
            else np.dtype(np.float32)

    def tensor_args(self):
        return [x for x in self.call.args if isinstance(x, (Tensor, np.ndarray))
                or isinstance(x, (int, float))]


def _as_tuple(args):
    if isinstance(args, tuple):
        return args
    if isinstance(args, list):
        return tuple(args)
    return (args,)


def _as_input(x):
    if isinstance(x, Tensor):
        return x
    return Tensor(np.asarray(x))


def _dynamic_spec(dynamic_axes, names, inputs):
    """{input index: {axis: symbol}} for the inputs."""
    spec = {}
    for i, (name, t) in enumerate(zip(names, inputs)):
        if dynamic_axes is None:
            spec[i] = {0: "batch"} if t._data.ndim else {}
            continue
        axes = dynamic_axes.get(name, {})
        if isinstance(axes, (list, tuple)):
            axes = {int(a): f"{name}_dim{int(a)}" for a in axes}
        spec[i] = {int(a) % max(t._data.ndim, 1): str(s) for a, s in dict(axes).items()}
    return spec


def _grow(t, axes):
    """``t`` with other sizes on ``axes`` (k-th axis: k + 1 more entries, repeating rows)."""
    a = t._data
    for axis, extra in axes:
        n = a.shape[axis]
        a = np.take(a, np.arange(n + extra) % n, axis=axis)
    return Tensor(np.ascontiguousarray(a))


def build_model(model, args, **kwargs):
    """The ``onnx.ModelProto`` of ``model`` run on ``args`` in eval mode (see ``export``);
    the model's own mode is restored."""
    was = model.training
    model.train(False)
    try:
        return _build(model, args, **kwargs)
    finally:
        model.train(was)


def _build(model, args, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, do_constant_folding=True, export_params=True):
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not 13 <= opset <= newest:
        raise ValueError(f"opset_version must be between 13 and {newest}, got {opset}")
    inputs = tuple(_as_input(x) for x in _as_tuple(args))
    n_in = len(inputs)
    in_names = list(input_names or [])
    in_names += [("input" if n_in == 1 else f"input_{i}") for i in range(len(in_names), n_in)]
    spec = _dynamic_spec(dynamic_axes, in_names, inputs)

    tr = trace_model(model, *inputs)
    outputs = tensors(tr.output)
    if not outputs:
        raise ExportError("the model returned no tensor")
    # a second pass with other sizes on the dynamic axes
    grown, k = [], 0
    for i, t in enumerate(inputs):
        axes = []
        for axis in sorted(spec[i]):
            k += 1
            axes.append((axis, k))
        grown.append(_grow(t, axes) if axes else t)
    tr_b = None
    if k:
        try:
            tr_b = trace_model(model, *grown)
        except Exception as e:
            raise ExportError(f"the model failed on inputs with other sizes on the dynamic "
                              f"axes ({type(e).__name__}: {e}); set dynamic_axes (or {{}} "
                              "for fixed shapes)") from e
        if [o.type for o in tr.ops] != [o.type for o in tr_b.ops]:
            raise ExportError("the model ran different ops at another batch size (control "
                              "flow on the shape); export with dynamic_axes={}")

    g = Graph(opset, do_constant_folding, model)
    # graph inputs
    symbols = {}
    graph_inputs = []
    for i, (name, t) in enumerate(zip(in_names, inputs)):
        g.names[id(t)] = name
        g.arrays[id(t._data)] = name
        shape = list(t._data.shape)
        for axis, sym in spec[i].items():
            symbols[(t._data.shape[axis], grown[i]._data.shape[axis])] = sym
            shape[axis] = sym
        if tr_b is not None:
            g.shape_b[id(t)] = grown[i]._data.shape
        graph_inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(t._data.dtype), shape))
    dynamic = {id(t) for t in inputs}

    # which module calls are converted whole
    whole = {}
    for call in tr.modules:
        fn = MODULE_CONVERTERS.get(call.type)
        if fn is None or call.module.training:
            continue
        ops = call.all_ops()
        if ops and not any(o.index in whole for o in ops) and len(call.outputs) == 1:
            whole[ops[0].index] = (call, fn, {o.index for o in ops})
    skip = set()
    g.producer_input = lambda t, kind: _producer_input(g, tr, t, kind)

    for i, call in enumerate(tr.ops):
        if call.index in skip:
            continue
        op = _Op(call)
        op_b = _Op(tr_b.ops[i]) if tr_b is not None else None
        g.op, g.op_b = op, op_b
        g.scope = _scope(call.module)
        if op_b is not None:
            for o, ob in zip(call.outputs, tr_b.ops[i].outputs):
                if o._data.ndim != ob._data.ndim:
                    raise ExportError(g.where("gives outputs of another rank at another "
                                              "batch size; export with dynamic_axes={}"))
                g.shape_b[id(o)] = ob._data.shape
            _note_varying(g, call, tr_b.ops[i], dynamic)
        if call.index in whole:
            mcall, fn, covered = whole[call.index]
            out = fn(g, mcall)
            if out is not None:
                skip |= covered
                g.names[id(mcall.outputs[0])] = out
                dynamic.add(id(mcall.outputs[0]))
                continue
        depends = any(isinstance(x, Tensor) and id(x) in dynamic for x in tensors(
            (call.args, call.kwargs))) or any(isinstance(x, np.ndarray) and id(x) in g.arrays
                                              for x in list(call.args) + list(
                                                  call.kwargs.values()))
        if not depends and do_constant_folding:
            for o in call.outputs:
                g.const[id(o)] = o._data
                if tr_b is not None and o._data.shape != g.shape_b.get(id(o)):
                    g.varying.add(id(o))
            continue
        fn = CONVERTERS.get(op.type)
        if fn is None:
            raise ExportError(g.where("has no ONNX mapping"))
        res = fn(g, op)
        res = res if isinstance(res, (list, tuple)) else [res]
        if len(res) != len(call.outputs):
            raise ExportError(g.where(f"gave {len(res)} ONNX outputs for "
                                      f"{len(call.outputs)}"))
        for o, name in zip(call.outputs, res):
            g.names[id(o)] = name
            g.arrays[id(o._data)] = name
            dynamic.add(id(o))

    # graph outputs
    out_names = list(output_names or [])
    out_names += [("output" if len(outputs) == 1 else f"output_{i}")
                  for i in range(len(out_names), len(outputs))]
    out_spec = {} if dynamic_axes is None else dynamic_axes
    graph_outputs, renames = [], {}
    b_outputs = tensors(tr_b.output) if tr_b is not None else outputs
    input_names_set = set(in_names)
    produced = {o for n in g.nodes for o in n.output}
    for j, (name, t) in enumerate(zip(out_names, outputs)):
        src = g.v(t)
        if src in produced and src not in renames and src not in input_names_set:
            renames[src] = name
        else:
            g.nodes.append(helper.make_node("Identity", [src], [name], name=f"/Identity_{name}"))
        shape = list(t._data.shape)
        given = out_spec.get(name, {})
        if isinstance(given, (list, tuple)):
            given = {int(a): f"{name}_dim{int(a)}" for a in given}
        for axis, size_b in enumerate(b_outputs[j]._data.shape):
            if axis in given:
                shape[axis] = str(given[axis])
            elif size_b != shape[axis]:
                shape[axis] = symbols.get((shape[axis], size_b), f"{name}_dim{axis}")
        graph_outputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(t._data.dtype), shape))
    for n in g.nodes:
        for k2, o in enumerate(n.output):
            if o in renames:
                n.output[k2] = renames[o]
        for k2, o in enumerate(n.input):
            if o in renames:
                n.input[k2] = renames[o]

    needed = {o.name for o in graph_outputs}
    live = []
    for n in reversed(g.nodes):          # drop what no output needs (a bypassed reshape)
        if any(o in needed for o in n.output):
            live.append(n)
            needed.update(n.input)
    g.nodes = live[::-1]
    used = {i for n in g.nodes for i in n.input}
    inits = [numpy_helper.from_array(np.ascontiguousarray(a), name)
             for name, a in g.inits.items() if name in used]
    param_names = set(g.params.values())
    if not export_params:
        graph_inputs += [helper.make_tensor_value_info(
            t.name, t.data_type, list(t.dims)) for t in inits if t.name in param_names]
        inits = [t for t in inits if t.name not in param_names]
    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                              initializer=inits)
    version = _ournn_version()
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ournn", producer_version=str(version))
    proto.ir_version = min(proto.ir_version, _max_ir(opset))
    return proto


def _max_ir(opset):
    """The IR version that goes with ``opset`` (onnxruntime refuses a newer IR than it reads)."""
    table = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}
    return table.get(opset, 10)


def _scope(module_call):
    if module_call is None:
        return ""
    parts = []
    c = module_call
    while c is not None:
        if c.name:
            parts.append(c.name)
        c = c.parent
    return "/" + "/".join(reversed(parts)) if parts else ""


def _producer_input(g, tr, t, kind):
    """The input of the ``kind`` op that made ``t`` (when one did and it was converted)."""
    rec = tr.producer(t) if isinstance(t, Tensor) else None
    if rec is None or rec.type != kind or not rec.inputs:
        return None
    src = rec.args[0]
    return src if isinstance(src, Tensor) and id(src) in g.names else None


def _ournn_version():
    """ournn's installed version (from the package metadata: importing the top-level package
    from here would point up the floors)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("ournn")
    except PackageNotFoundError:
        return "unknown"
