"""``ournn.nn.modules.<file>.<Class>``: PyTorch's import paths for the layers
(``from ournn.nn.modules.conv import Conv2d``); each file re-exports from the layer file that
defines the class, and this package gathers them (``ournn.nn.modules.Linear``)."""
from . import (activation, batchnorm, container, conv, dropout, flatten, linear, loss, module,
               normalization, pooling, rnn, sparse, transformer, upsampling)

_FILES = (activation, batchnorm, container, conv, dropout, flatten, linear, loss, module,
          normalization, pooling, rnn, sparse, transformer, upsampling)
_CLASSES = {n: v for f in _FILES for n, v in vars(f).items()
            if not n.startswith("_") and isinstance(v, type)}
globals().update(_CLASSES)
__all__ = sorted(_CLASSES)
