"""Character language models: ``charlstm`` (Embedding -> LSTM -> Linear).

Unlike the image models of the zoo, a language model takes int64 character indices
``(batch, time)`` and a hidden state, and returns ``(logits (batch, time, vocab), hidden)``,
so that training can carry the state from one chunk of text to the next (truncated BPTT, see
``ournn.data.ChunkLoader``) and generation can feed one character at a time.
"""
import numpy as np

from ..nn import LSTM, Dropout, Embedding, Linear, Module

SEQUENCE_MODELS = ("charlstm",)   # zoo names that are language models (not image classifiers)


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
