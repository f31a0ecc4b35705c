"""Sequences of different lengths in one batch, as ``torch.nn.utils.rnn``.

ournn runs variable-length batches as PyTorch does, with *packed sequences*: the steps of all
sequences stored time step by time step, the sequences sorted by decreasing length, so that
step ``t`` is the first ``batch_sizes[t]`` sequences. ``RNN``, ``LSTM`` and ``GRU`` take a
``PackedSequence`` and return one: outputs past a sequence's length do not exist (zeros once
padded again with ``pad_packed_sequence``) and ``h_n`` is each sequence's state at its last
valid step (for the reverse direction: after reading its first step).

    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    out, h_n = gru(packed)
    out, lengths = pad_packed_sequence(out, batch_first=True)
"""
from collections import namedtuple

import numpy as np

from ...ops.shape import GetItem, IndexAdd, Pad, Stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _int_array(x, name):
    a = np.asarray(x._data if isinstance(x, Tensor) else x)
    if a.dtype.kind not in "iu":
        a2 = a.astype(np.int64)
        if a.size and not np.array_equal(a2, a):
            raise TypeError(f"{name} must be integers, got {a.dtype}")
        a = a2
    return a.astype(np.int64).reshape(-1)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of sequences of different lengths, packed: ``data`` (sum of lengths, *) holds
    the steps time step by time step, ``batch_sizes`` (int64, one per step) how many sequences
    are that long, ``sorted_indices`` the order of the sequences by decreasing length (None
    when the batch came sorted) and ``unsorted_indices`` its inverse. Build it with
    ``pack_padded_sequence`` or ``pack_sequence``."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise ValueError("PackedSequence needs batch_sizes; build it with "
                             "pack_padded_sequence or pack_sequence")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def is_cuda(self):
        return False

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes,
                                                          self.sorted_indices,
                                                          self.unsorted_indices)

    def is_pinned(self):
        return False


def _invert(perm):
    p = _int_array(perm, "sorted_indices")
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return Tensor(inv)


def _packed_index(lengths_sorted, sorted_idx):
    """For packed rows in order: the time step and the (original) batch row of each."""
    T = int(lengths_sorted[0]) if lengths_sorted.size else 0
    batch_sizes = np.array([(lengths_sorted > t).sum() for t in range(T)], dtype=np.int64)
    times = np.repeat(np.arange(T), batch_sizes)
    rows = np.concatenate([sorted_idx[:n] for n in batch_sizes]) if T else \
        np.zeros(0, np.int64)
    return batch_sizes, times, rows


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) of sequences
    of the given ``lengths``. With ``enforce_sorted`` (default) the lengths must not
    increase; otherwise the batch is sorted here and the order kept in the result."""
    x = _as_tensor(input)
    lengths = _int_array(lengths, "lengths")
    B = x.shape[0] if batch_first else x.shape[1]
    if lengths.size != B:
        raise ValueError(f"pack_padded_sequence: {lengths.size} lengths for a batch of {B}")
    if lengths.size and lengths.min() <= 0:
        raise ValueError("pack_padded_sequence: every length must be > 0, got "
                         f"{lengths.tolist()}")
    T = x.shape[1] if batch_first else x.shape[0]
    if lengths.size and lengths.max() > T:
        raise ValueError(f"pack_padded_sequence: a length of {lengths.max()} in a batch of "
                         f"{T} steps")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` must be sorted in decreasing "
                               "order when enforce_sorted=True; pass enforce_sorted=False to "
                               "pack a batch in any order")
        sorted_idx = np.arange(B)
        sorted_t = unsorted_t = None
    else:
        sorted_idx = np.argsort(-lengths, kind="stable")
        sorted_t, unsorted_t = Tensor(sorted_idx), _invert(sorted_idx)
    batch_sizes, times, rows = _packed_index(lengths[sorted_idx], sorted_idx)
    index = (rows, times) if batch_first else (times, rows)
    data = GetItem.apply(x, index=index)
    return PackedSequence(data, Tensor(batch_sizes), sorted_t, unsorted_t)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of ``pack_padded_sequence``: ``(padded, lengths)`` with the batch in its
    original order and ``padding_value`` past each length; ``total_length`` pads to that many
    steps."""
    data = sequence.data
    batch_sizes = _int_array(sequence.batch_sizes, "batch_sizes")
    T, B = batch_sizes.size, int(batch_sizes[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is less than "
                             f"the longest sequence ({T})")
        T = int(total_length)
    sorted_idx = _int_array(sequence.sorted_indices, "sorted_indices") \
        if sequence.sorted_indices is not None else np.arange(B)
    times = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    rows = np.concatenate([sorted_idx[:n] for n in batch_sizes])
    lengths = np.zeros(B, np.int64)
    np.add.at(lengths, rows, 1)
    index = (rows, times) if batch_first else (times, rows)
    shape = ((B, T) if batch_first else (T, B)) + tuple(data.shape[1:])
    padded = IndexAdd.apply(data, shape=shape, index=index)
    if padding_value != 0:
        fill = np.full(shape, padding_value, dtype=data.dtype)
        fill[index] = 0
        padded = padded + Tensor._make(fill)
    return padded, Tensor(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with
    ``batch_first``), padding each to the longest with ``padding_value`` on the
    ``padding_side`` (``"right"`` or ``"left"``)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0)) if hasattr(sequences, "unbind") else \
            [sequences[i] for i in range(sequences.shape[0])]
    seqs = [_as_tensor(s) for s in sequences]
    if not seqs:
        raise ValueError("pad_sequence: no sequences given")
    T = max(s.shape[0] for s in seqs)
    rest = seqs[0].shape[1:]
    for s in seqs:
        if s.shape[1:] != rest:
            raise ValueError(f"pad_sequence: sequences must agree past dim 0, got "
                             f"{tuple(s.shape)} and {(seqs[0].shape[0],) + tuple(rest)}")
    padded = []
    for s in seqs:
        extra = T - s.shape[0]
        if extra:
            pad = (0, extra) if padding_side == "right" else (extra, 0)
            s = Pad.apply(s, pad_width=(pad,) + ((0, 0),) * len(rest), value=padding_value)
        padded.append(s)
    return Stack.apply(*padded, axis=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The sequences of a padded batch as a list, each cut to its length."""
    lengths = _int_array(lengths, "lengths")
    x = _as_tensor(padded_sequences)
    if not batch_first:
        x = x.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors ``(L_i, *)`` (decreasing lengths unless
    ``enforce_sorted=False``)."""
    lengths = [int(_as_tensor(s).shape[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors a ``PackedSequence`` holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
