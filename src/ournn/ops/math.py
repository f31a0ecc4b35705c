"""Elementwise math beyond the arithmetic: trigonometric and hyperbolic functions, logs and
exponentials in other bases, reciprocals, rounding, atan2/fmod/remainder, lerp, nan_to_num.

Each op's gradient is PyTorch's: the rounding functions (floor, ceil, round, trunc, sign and a
division with ``rounding_mode``) are in the graph with a zero gradient, as there.
"""
import math

from ..autograd.function import Function
from ..backend import get_array_module
from ._util import unbroadcast


# ---------------------------------------------------------------- trigonometric
class Sin(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).sin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * get_array_module(a).cos(a)


class Cos(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).cos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * get_array_module(a).sin(a)


class Tan(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (1 + out * out)


class Asin(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arcsin(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / get_array_module(a).sqrt(1 - a * a)


class Acos(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arccos(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad / get_array_module(a).sqrt(1 - a * a)


class Atan(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arctan(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 + a * a)


class Atan2(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return get_array_module(a, b).arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        denom = a * a + b * b
        ga = unbroadcast(grad * b / denom, a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-grad * a / denom, b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


# ---------------------------------------------------------------- hyperbolic
class Sinh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).sinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * get_array_module(a).cosh(a)


class Cosh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).cosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * get_array_module(a).sinh(a)


class Asinh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arcsinh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / get_array_module(a).sqrt(a * a + 1)


class Acosh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arccosh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / get_array_module(a).sqrt(a * a - 1)


class Atanh(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).arctanh(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 - a * a)


# ---------------------------------------------------------------- logs, exponentials, powers
class Log1p(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log1p(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 + a)


class Expm1(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1)


class Log2(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log2(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a.dtype.type(math.log(2)))


class Log10(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log10(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a.dtype.type(math.log(10)))


class Exp2(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).exp2(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * out.dtype.type(math.log(2))


class Rsqrt(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = 1 / get_array_module(a).sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * out * out * out.dtype.type(-0.5)


class Reciprocal(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        out = 1 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -grad * out * out


# ---------------------------------------------------------------- rounding and remainders
class ZeroGrad(Function):
    """``fn`` applied to the arrays, in the graph with a zero gradient (PyTorch's for floor,
    ceil, round, trunc, sign and a division with ``rounding_mode``)."""
    double_backward = True

    @staticmethod
    def forward(ctx, *arrays, fn=None):
        ctx.shapes = [get_array_module(a).shape(a) for a in arrays]
        out = fn(*arrays)
        ctx.dtype = out.dtype
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        return tuple(xp.zeros(s, dtype=grad.dtype) for s in ctx.shapes)


class Frac(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a):
        return a - get_array_module(a).trunc(a)

    @staticmethod
    def backward(ctx, grad):
        return grad


class _Remainder(Function):
    """``a - b * round(a / b)`` for a rounding of the quotient: its gradient is 1 for ``a`` and
    ``-round(a / b)`` for ``b``."""
    double_backward = True
    numpy_name = rounding = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return getattr(get_array_module(a, b), cls.numpy_name)(a, b)

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        xp = get_array_module(grad)
        ga = unbroadcast(grad, xp.shape(a)) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(-grad * getattr(xp, cls.rounding)(a / b), xp.shape(b))
        return ga, gb


class Fmod(_Remainder):
    """C's remainder (the sign of the dividend), as ``torch.fmod``."""
    numpy_name, rounding = "fmod", "trunc"


class Remainder(_Remainder):
    """Python's remainder (the sign of the divisor), as ``torch.remainder`` and ``%``."""
    numpy_name, rounding = "remainder", "floor"


class NanToNum(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        xp = get_array_module(a)
        ctx.save_for_backward(xp.isfinite(a))
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, grad):
        (finite,) = ctx.saved_tensors
        return grad * finite


class Lerp(Function):
    """``start + weight * (end - start)``; ``weight`` a scalar or a tensor."""
    double_backward = True

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx.saved_tensors
        xp = get_array_module(grad)
        need = ctx.needs_input_grad
        gs = unbroadcast(grad * (1 - weight), xp.shape(start)) if need[0] else None
        ge = unbroadcast(grad * weight, xp.shape(end)) if need[1] else None
        gw = unbroadcast(grad * (end - start), xp.shape(weight)) if need[2] else None
        return gs, ge, gw


UNARY = {"sin": Sin, "cos": Cos, "tan": Tan, "asin": Asin, "acos": Acos, "atan": Atan,
         "sinh": Sinh, "cosh": Cosh, "asinh": Asinh, "acosh": Acosh, "atanh": Atanh,
         "log1p": Log1p, "expm1": Expm1, "log2": Log2, "log10": Log10, "exp2": Exp2,
         "rsqrt": Rsqrt, "reciprocal": Reciprocal, "frac": Frac}
"""The unary ops of this file by PyTorch's name (methods and top-level functions)."""
