"""Containers: ModuleDict, ParameterList, ParameterDict (Sequential and ModuleList live in
``module.py``)."""
import numpy as np

from ..tensor import Tensor
from .module import Module, Parameter, describe


class ModuleDict(Module):
    """Modules by name, registered as children (``d["conv"]``, ``d.items()``, ``in``)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self):
        for k in list(self._modules):
            del self[k]

    def pop(self, key):
        m = self[key]
        del self[key]
        return m

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, m in items:
            self[key] = m

    def get_config(self):
        return {"modules": {k: describe(m) for k, m in self._modules.items()}}

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): call its modules by name")


def _as_parameter(value, where):
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value._data, requires_grad=value.requires_grad)
    if isinstance(value, np.ndarray):
        return Parameter(value)
    raise TypeError(f"{where}: expected a Parameter or Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """Parameters in a list, registered (``named_parameters`` gives ``"0"``, ``"1"``...)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        for v in values or ():
            self.append(v)

    def append(self, value):
        i = self._size
        object.__setattr__(self, "_size", i + 1)
        self.register_parameter(str(i), _as_parameter(value, "ParameterList.append"))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self._parameters[str(i)]
                                  for i in range(self._size)[index]])
        if not -self._size <= index < self._size:
            raise IndexError(f"ParameterList index {index} out of range ({self._size})")
        return self._parameters[str(index % self._size)]

    def __setitem__(self, index, value):
        if not -self._size <= index < self._size:
            raise IndexError(f"ParameterList index {index} out of range ({self._size})")
        self.register_parameter(str(index % self._size),
                                _as_parameter(value, "ParameterList"))

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self._parameters[str(i)] for i in range(self._size))

    def get_config(self):
        return {"shapes": [list(p.shape) for p in self],
                "dtypes": [str(p.dtype) for p in self]}

    @classmethod
    def _from_shapes(cls, shapes, dtypes):
        return [Parameter(np.zeros(tuple(s), dtype=d)) for s, d in zip(shapes, dtypes)]

    def extra_repr(self):
        return ", ".join(f"({i}): Parameter of shape {tuple(p.shape)}" for i, p in
                         enumerate(self))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward()")


class ParameterDict(Module):
    """Parameters by name, registered (``d["scale"]``, ``d.items()``)."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ParameterDict: keys must be non-empty strings without '.', "
                           f"got {key!r}")
        self.register_parameter(key, _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key):
        del self._parameters[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v

    def get_config(self):
        return {"shapes": {k: list(p.shape) for k, p in self.items()},
                "dtypes": {k: str(p.dtype) for k, p in self.items()}}

    def extra_repr(self):
        return ", ".join(f"({k}): Parameter of shape {tuple(p.shape)}" for k, p in
                         self.items())

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict has no forward()")


