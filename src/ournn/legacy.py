"""PyTorch's legacy tensor types (``torch.FloatTensor``, ``torch.LongTensor``...), which old code
still calls and tests with ``isinstance``.

``ournn.LongTensor([1, 2])`` is ``ournn.tensor([1, 2], dtype=ournn.int64)``;
``ournn.FloatTensor(2, 3)`` is a new float32 tensor of that shape (zeros here: PyTorch leaves it
uninitialised); ``isinstance(t, ournn.FloatTensor)`` is True for a float32 tensor.
"""
import numbers

import numpy as np

from .device import check_device
from .tensor import Tensor


class _LegacyTensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj._data.dtype == cls.dtype

    def __call__(cls, *args, device=None):
        check_device(device)
        if not args:
            return Tensor(np.zeros(0, cls.dtype))
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return Tensor(np.zeros(args, cls.dtype))          # sizes
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}(): give sizes (ints) or one sequence of data")
        data = args[0]
        data = data._data if isinstance(data, Tensor) else data
        return Tensor(np.array(data, dtype=cls.dtype))


def _make(name, dtype):
    return _LegacyTensorType(name, (), {"dtype": np.dtype(dtype), "__doc__":
                                        f"``torch.{name}``: tensors of dtype {dtype}."})


FloatTensor = _make("FloatTensor", np.float32)
DoubleTensor = _make("DoubleTensor", np.float64)
HalfTensor = _make("HalfTensor", np.float16)
LongTensor = _make("LongTensor", np.int64)
IntTensor = _make("IntTensor", np.int32)
ShortTensor = _make("ShortTensor", np.int16)
CharTensor = _make("CharTensor", np.int8)
ByteTensor = _make("ByteTensor", np.uint8)
BoolTensor = _make("BoolTensor", np.bool_)

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
