"""``ournn.nn.modules.<file>.<Class>``: PyTorch's import paths for the layers
(``from ournn.nn.modules.conv import Conv2d``); each file re-exports from ``ournn.nn``."""
from . import (activation, batchnorm, container, conv, dropout, flatten, linear, loss, module,
               normalization, pooling, rnn, sparse, transformer, upsampling)
from .. import __all__ as _nn_all

__all__ = [n for n in _nn_all if n not in ("functional", "init", "utils", "modules")]
from .. import __dict__ as _nn  # noqa: E402

globals().update({n: _nn[n] for n in __all__})
