"""Character language models: ``charlstm`` (Embedding -> LSTM -> Linear) and ``chargpt``
(a small causal transformer).

Unlike the image models of the zoo, a language model takes int64 character indices
``(batch, time)`` and a hidden state, and returns ``(logits (batch, time, vocab), hidden)``,
so that training can carry the state from one chunk of text to the next (truncated BPTT, see
``ournn.data.ChunkLoader``) and generation can feed one character at a time. The
transformer's "state" is the characters it has last seen (no gradient flows through it), so
the same training loop, evaluation and sampler serve both.
"""
import numpy as np

from ..nn import (LSTM, Dropout, Embedding, LayerNorm, Linear, Module, Transformer,
                  TransformerEncoder, TransformerEncoderLayer)

SEQUENCE_MODELS = ("charlstm", "chargpt")   # zoo names that are language models


class CharLSTM(Module):
    """Embedding(vocab_size, embed_dim) -> LSTM(embed_dim, hidden_size, num_layers,
    batch_first) -> Dropout -> Linear(hidden_size, vocab_size).

    ``forward(x, hidden=None)``: x int64 (batch, time) -> ``(logits (batch, time,
    vocab_size), (h, c))``, each of h, c (num_layers, batch, hidden_size)."""

    def __init__(self, vocab_size=84, embed_dim=64, hidden_size=512, num_layers=1,
                 dropout=0.0):
        super().__init__()
        self.vocab_size, self.hidden_size = int(vocab_size), int(hidden_size)
        self.num_layers = int(num_layers)
        self.embed = Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, x, hidden=None):
        out, hidden = self.lstm(self.embed(x), hidden)
        return self.head(self.drop(out)), hidden

    def predict(self, x):
        """Logits (batch, time, vocab) of int indices ``x`` from a zero state (no graph)."""
        from ..autograd import no_grad
        with no_grad():
            return np.asarray(self(x)[0]._data)


def charlstm(vocab_size=84, embed_dim=64, hidden_size=512, num_layers=1, dropout=0.0):
    """The character LSTM language model (see :class:`CharLSTM`)."""
    return CharLSTM(vocab_size, embed_dim, hidden_size, num_layers, dropout)


class CharTransformer(Module):
    """A small decoder-only transformer over characters: token and learned position
    embeddings -> ``num_layers`` pre-norm ``TransformerEncoderLayer``s with the causal mask
    (each position attends to itself and the ones before it) -> LayerNorm -> Linear.

    ``forward(x, hidden=None)``: x int64 (batch, time) with time <= ``context``; ``hidden`` is
    ``(ids,)``, the characters seen before ``x`` (as returned by the previous call), or None.
    The model reads ``ids`` then ``x``, keeping the last ``context`` characters, and returns
    ``(logits (batch, time, vocab_size), (ids,))``, the new ``ids`` holding the last
    ``context - 1`` characters. In training with chunks of ``context`` characters the carried
    ids fall outside the window, so each chunk is read alone; in sampling one character at a
    time they are the model's context."""

    def __init__(self, vocab_size=84, d_model=128, nhead=4, num_layers=4, context=128,
                 dim_feedforward=None, dropout=0.0):
        super().__init__()
        self.vocab_size, self.context = int(vocab_size), int(context)
        self.d_model, self.nhead, self.num_layers = int(d_model), int(nhead), int(num_layers)
        self.dim_feedforward = int(dim_feedforward or 4 * d_model)
        self.dropout = float(dropout)
        self.embed = Embedding(vocab_size, d_model)
        self.positions = Embedding(self.context, d_model)
        layer = TransformerEncoderLayer(d_model, nhead, self.dim_feedforward, dropout,
                                        activation="gelu", batch_first=True, norm_first=True)
        self.blocks = TransformerEncoder(layer, num_layers, norm=LayerNorm(d_model),
                                         enable_nested_tensor=False)
        self.head = Linear(d_model, vocab_size)
        self._masks = {}

    def _mask(self, n):
        if n not in self._masks:      # built once per length: the (n, n) float causal mask
            self._masks[n] = Transformer.generate_square_subsequent_mask(n)
        return self._masks[n]

    def forward(self, x, hidden=None):
        from ..functions import cat
        from ..tensor import Tensor
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.ndim != 2:
            raise ValueError(f"chargpt: x must be (batch, time) character indices, got shape "
                             f"{tuple(x.shape)}")
        T = x.shape[1]
        if T > self.context:
            raise ValueError(f"chargpt: at most context={self.context} characters per call, "
                             f"got {T} (use --seq-len {self.context} or less)")
        # tensor ops throughout (not NumPy on the indices), so an export traces the state too
        ids = x if hidden is None else cat([hidden[0], x], 1)[:, -self.context:]
        n = ids.shape[1]
        h = self.embed(ids) + self.positions(Tensor(np.arange(n)))
        h = self.blocks(h, mask=self._mask(n), is_causal=True)
        logits = self.head(h[:, n - T:] if n > T else h)
        return logits, (ids[:, -(self.context - 1):],)

    def get_config(self):
        return {"vocab_size": self.vocab_size, "d_model": self.d_model, "nhead": self.nhead,
                "num_layers": self.num_layers, "context": self.context,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout}

    def predict(self, x):
        """Logits (batch, time, vocab) of int indices ``x`` with no earlier context."""
        from ..autograd import no_grad
        with no_grad():
            return np.asarray(self(x)[0]._data)


def chargpt(vocab_size=84, d_model=128, nhead=4, num_layers=4, context=128,
            dim_feedforward=None, dropout=0.0):
    """The character transformer language model (see :class:`CharTransformer`)."""
    return CharTransformer(vocab_size, d_model, nhead, num_layers, context, dim_feedforward,
                           dropout)
