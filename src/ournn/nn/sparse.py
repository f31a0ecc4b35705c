"""Embedding tables, as ``torch.nn.Embedding``."""
import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .config import check_factory, check_int, reserve
from .module import Module, Parameter, with_dtype


class Embedding(Module):
    """A lookup table: integer indices of any shape ``(*)`` -> ``(*, embedding_dim)``.

    Args as PyTorch's: ``padding_idx`` (that row starts at zero and gets no gradient),
    ``max_norm`` (rows looked up are renormalised in place to at most that ``norm_type``
    norm), ``scale_grad_by_freq`` (each row's gradient divided by its count in the batch).
    ``sparse=True`` is refused: ournn has no sparse gradients (the dense gradient is exact).
    The weight starts N(0, 1), as PyTorch's.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim)
        if sparse:
            raise NotImplementedError("Embedding(sparse=True): ournn has no sparse gradients; "
                                      "use sparse=False (the same training, dense gradient)")
        padding_idx = _check_padding_idx(padding_idx, num_embeddings)
        dtype = check_factory("Embedding", device, dtype)
        reserve(f"Embedding({num_embeddings}, {embedding_dim})", num_embeddings * embedding_dim)
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm = padding_idx, max_norm
        self.norm_type, self.scale_grad_by_freq = float(norm_type), bool(scale_grad_by_freq)
        self.sparse = False
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            w = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {w.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def get_config(self):
        return with_dtype(self, {"num_embeddings": self.num_embeddings,
                                 "embedding_dim": self.embedding_dim,
                                 "padding_idx": self.padding_idx, "max_norm": self.max_norm,
                                 "norm_type": self.norm_type,
                                 "scale_grad_by_freq": self.scale_grad_by_freq})

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding ``embeddings`` (2-D); ``freeze`` keeps it from training."""
        w = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if w.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{w.shape}")
        return cls(w.shape[0], w.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=w.copy(), _freeze=freeze,
                   dtype=w.dtype if w.dtype.kind == "f" else None)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


def _check_padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    padding_idx = int(padding_idx)
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Embedding: padding_idx must be within num_embeddings "
                         f"({num_embeddings}), got {padding_idx}")
    return padding_idx % num_embeddings
