"""Contiguous (batch, time) chunks of a long sequence, for truncated backpropagation through
time (a language model that carries its hidden state from one batch to the next).

    >>> loader = ChunkLoader(ids, batch_size=64, seq_len=100)
    >>> hidden = None
    >>> for x, y in loader:                       # int64 (64, 100) each; y is x shifted by one
    ...     if loader.new_epoch: hidden = None    # (the streams restart at the epoch's start)
    ...     out, hidden = model(x, hidden)
    ...     hidden = repackage_hidden(hidden)     # detach: backward stops at this chunk

The sequence is cut into ``batch_size`` parallel streams of equal length (the tail that does
not divide evenly is dropped); row ``b`` of every batch continues row ``b`` of the batch
before it, so the hidden state of row ``b`` is the right state to start the next chunk from.
Stream ``b`` holds ``data[b*L : b*L + L + 1]`` (``L = (len(data) - 1) // batch_size``): the
inputs of batch ``i`` are its characters ``i*T .. i*T+T-1`` and the targets the ones after
them. The last batch of an epoch is shorter when ``T`` does not divide ``L``
(``drop_last=True`` leaves it out).

The loader is resumable as :class:`~ournn.data.DataLoader` is: ``state_dict()`` says where it
is (plain JSON-able data) and ``load_state_dict`` continues from there, batch for batch.
"""
import numpy as np

from ..errors import DatasetError


class ChunkLoader:
    """Batches ``(x, y)`` of int64 (batch_size, seq_len) from a 1-D sequence ``data``.

    Args:
        data: a 1-D integer array (e.g. ``Shakespeare("train").data``).
        batch_size: the number of parallel streams (rows of a batch).
        seq_len: the time steps of a chunk (how far back gradients go).
        drop_last: leave out the shorter last chunk of an epoch.
        limit: use only the first ``limit`` elements of ``data`` (0: all).

    Attributes:
        streams: int64 (batch_size, L + 1), read-only: the streams' elements.
        epoch: epochs completed; ``new_epoch``: True while the batch just given is the first
        of its epoch (the hidden state should start afresh there).
    """

    def __init__(self, data, batch_size, seq_len, drop_last=False, limit=0):
        data = np.asarray(data)
        if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
            raise DatasetError(f"ChunkLoader: data must be a 1-D integer array, got "
                               f"{data.dtype} {data.shape}")
        for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"ChunkLoader: {name} must be an integer >= 1, got {v!r}")
        if limit:
            data = data[:int(limit)]
        self.batch_size, self.seq_len = int(batch_size), int(seq_len)
        self.drop_last = bool(drop_last)
        length = (len(data) - 1) // self.batch_size
        if length < 1 or (self.drop_last and length < self.seq_len):
            raise DatasetError(f"ChunkLoader: {len(data)} elements are too few for "
                               f"{self.batch_size} streams of at least "
                               f"{self.seq_len if self.drop_last else 1} step(s) (+1 target)")
        self.stream_length = length          # inputs (and targets) per stream
        starts = np.arange(self.batch_size) * length
        self.streams = np.ascontiguousarray(
            data[starts[:, None] + np.arange(length + 1)], dtype=np.int64)
        self.streams.flags.writeable = False
        self.epoch = 0
        self.position = 0                    # batches given in the current epoch
        self.new_epoch = False

    def __len__(self):
        """Batches per epoch."""
        full, rest = divmod(self.stream_length, self.seq_len)
        return full + (1 if rest and not self.drop_last else 0)

    @property
    def characters_per_epoch(self):
        """Targets per epoch (batch_size x the steps covered)."""
        steps = (len(self) * self.seq_len if self.drop_last
                 else self.stream_length)
        return self.batch_size * min(steps, self.stream_length)

    def batch(self, index):
        """Batch ``index`` of an epoch: ``(x, y)`` int64 (batch_size, t), t <= seq_len."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        start = index * self.seq_len
        stop = min(start + self.seq_len, self.stream_length)
        return self.streams[:, start:stop], self.streams[:, start + 1:stop + 1]

    def __iter__(self):
        """The rest of the current epoch (all of it when it has not begun); each batch given
        advances the position, so ``state_dict()`` taken between two batches resumes after
        the last one given."""
        if self.position >= len(self):       # a finished epoch: start the next one
            self.epoch += 1
            self.position = 0
        while self.position < len(self):
            index = self.position
            self.new_epoch = index == 0
            self.position += 1
            yield self.batch(index)
        self.epoch += 1
        self.position = 0
        self.new_epoch = False

    def state_dict(self):
        """Where the loader is: ``{"epoch", "position", "batch_size", "seq_len",
        "stream_length"}`` (the last three guard against resuming with other settings)."""
        return {"epoch": self.epoch, "position": self.position,
                "batch_size": self.batch_size, "seq_len": self.seq_len,
                "stream_length": self.stream_length}

    def load_state_dict(self, state):
        """Continue from a ``state_dict()``: the next batch is the one after the last given."""
        for key in ("batch_size", "seq_len", "stream_length"):
            if key in state and int(state[key]) != getattr(self, key):
                raise ValueError(f"ChunkLoader.load_state_dict: {key} was {state[key]}, is "
                                 f"{getattr(self, key)} now (a different corpus or settings)")
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"ChunkLoader.load_state_dict: position {position} outside "
                             f"0..{len(self)}")
        self.epoch, self.position = int(state["epoch"]), position
        self.new_epoch = False

    def __repr__(self):
        return (f"ChunkLoader(streams={self.batch_size}, seq_len={self.seq_len}, "
                f"batches={len(self)}, epoch={self.epoch}, position={self.position})")


def repackage_hidden(hidden):
    """``hidden`` (a Tensor, or a tuple/list of them such as LSTM's ``(h, c)``, or None)
    detached from the graph that made it: the next chunk's backward stops here instead of
    running into the previous chunk's graph, already freed by its own backward."""
    if hidden is None:
        return None
    if isinstance(hidden, (tuple, list)):
        return type(hidden)(repackage_hidden(h) for h in hidden)
    return hidden.detach()
