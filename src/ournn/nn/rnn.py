"""Recurrent layers, as PyTorch's: ``RNN``, ``LSTM`` (with ``proj_size``), ``GRU`` and the
cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Same signatures, parameter names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
``bias_hh_l0``, ``weight_hr_l0``, ``..._reverse``), gate order (LSTM ``i, f, g, o``; GRU
``r, z, n``) and initialisation (every parameter U(-1/sqrt(hidden), 1/sqrt(hidden))), so a
``state_dict`` moves between ournn and PyTorch both ways. Each layer and direction is one op
(``ournn.ops.rnn.Recurrent``: the loop over time and BPTT inside it); a cell is that op for
one step. Sequences of different lengths: pass a ``PackedSequence``
(``ournn.nn.utils.rnn``).
"""
import math

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ops.rnn import Recurrent
from ..ops.shape import Concatenate, Stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .config import check_factory, check_float, check_int, reserve
from .module import Module, Parameter, with_dtype
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _input(x, dtype, layer):
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x))
    if x.dtype != dtype:
        if x.dtype.kind not in "fiub":
            raise DTypeError(f"{layer!r}: cannot take input of dtype {x.dtype}")
        x = x.astype(dtype)
    return x


def _take(t, index):
    """``t[index]`` for a tensor, or for a plain array (no graph)."""
    return t[index]


class _RNNBase(Module):
    """The recurrent layers' common part: parameters per layer and direction, the loop over
    layers, directions and packed or padded input."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        layer = type(self).__name__
        input_size = check_int(layer, "input_size", input_size, minimum=0)
        hidden_size = check_int(layer, "hidden_size", hidden_size)
        num_layers = check_int(layer, "num_layers", num_layers)
        check_float(layer, "dropout", dropout, 0, 1)
        proj_size = check_int(layer, "proj_size", proj_size, minimum=0)
        if proj_size and mode != "LSTM":
            raise ValueError(f"{layer}: proj_size is only for LSTM")
        if proj_size >= hidden_size and proj_size:
            raise ValueError(f"{layer}: proj_size ({proj_size}) must be smaller than "
                             f"hidden_size ({hidden_size})")
        dtype = check_factory(layer, device, dtype)
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.proj_size = proj_size
        dirs = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        real = proj_size or hidden_size
        shapes = []
        for k in range(num_layers):
            size_in = input_size if k == 0 else real * dirs
            for d in range(dirs):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                shapes += [("weight_ih" + sfx, (gate, size_in)), ("weight_hh" + sfx, (gate, real))]
                if bias:
                    shapes += [("bias_ih" + sfx, (gate,)), ("bias_hh" + sfx, (gate,))]
                if proj_size:
                    shapes += [("weight_hr" + sfx, (proj_size, hidden_size))]
        reserve(f"{layer}({input_size}, {hidden_size})",
                sum(int(np.prod(s)) for _, s in shapes))
        self._flat_weights_names = [n for n, _ in shapes]
        for name, shape in shapes:
            setattr(self, name, Parameter(np.empty(shape, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            init.uniform_(getattr(self, name), -stdv, stdv)

    def get_config(self):
        config = {"input_size": self.input_size, "hidden_size": self.hidden_size,
                  "num_layers": self.num_layers, "bias": self.bias,
                  "batch_first": self.batch_first, "dropout": self.dropout,
                  "bidirectional": self.bidirectional}
        if self.mode == "LSTM":
            config["proj_size"] = self.proj_size
        if self.mode.startswith("RNN"):
            config["nonlinearity"] = self.nonlinearity
        return with_dtype(self, config)

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._flat_weights_names
                 if n.endswith(f"_l{k}" + ("_reverse" if d else ""))]
                for k in range(self.num_layers) for d in range(2 if self.bidirectional else 1)]

    def flatten_parameters(self):
        """Accepted for PyTorch code (the weights are always used as they are)."""

    def _weights(self, k, d):
        sfx = f"_l{k}" + ("_reverse" if d else "")
        get = self.__dict__.get("_parameters", {}).get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx), get("weight_hr" + sfx))

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        dtype = self.weight_ih_l0.dtype
        dirs = 2 if self.bidirectional else 1
        H = self.hidden_size
        Hout = self.proj_size or H
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            data = _input(input.data, dtype, self)
            batch_sizes = tuple(int(n) for n in np.asarray(
                input.batch_sizes._data if isinstance(input.batch_sizes, Tensor)
                else input.batch_sizes).reshape(-1))
            B = batch_sizes[0]
            T = len(batch_sizes)
            if data.ndim != 2 or data.shape[1] != self.input_size:
                raise ShapeError(f"{self!r}: expected packed data (N, {self.input_size}), got "
                                 f"shape {tuple(data.shape)}")
        else:
            x = _input(input, dtype, self)
            if x.ndim == 2:
                unbatched = True
                x = x.unsqueeze(1)
            elif x.ndim != 3:
                raise ShapeError(f"{self!r}: expected input (L, {self.input_size}) or 3-D "
                                 f"(batch_first={self.batch_first}), got shape "
                                 f"{tuple(x.shape)}")
            elif self.batch_first:
                x = x.transpose(0, 1)
            if x.shape[2] != self.input_size:
                raise ShapeError(f"{self!r}: expected input_size {self.input_size}, got "
                                 f"shape {tuple(input.shape)}")
            T, B = x.shape[0], x.shape[1]
            batch_sizes = (B,) * T
            data = x.reshape(T * B, self.input_size)
        nh = self.num_layers * dirs
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{self!r}: hx must be a tuple (h_0, c_0)")
                h0, c0 = (_input(h, dtype, self) for h in hx)
            else:
                h0 = _input(hx, dtype, self)
            expect = [(h0, Hout)] + ([(c0, H)] if lstm else [])
            for h, size in expect:
                want = (nh, size) if unbatched else (nh, B, size)
                if tuple(h.shape) != want:
                    raise ShapeError(f"{self!r}: expected hidden state of shape {want}, got "
                                     f"{tuple(h.shape)}")
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
            if packed and input.sorted_indices is not None:
                idx = np.asarray(input.sorted_indices._data if isinstance(
                    input.sorted_indices, Tensor) else input.sorted_indices)
                h0 = h0[:, idx]
                c0 = c0[:, idx] if lstm else None
        zeros_h = np.zeros((B, Hout), dtype) if h0 is None else None
        zeros_c = np.zeros((B, H), dtype) if lstm and c0 is None else None
        mode = self.mode
        layer_in = data
        hs, cs = [], []
        for k in range(self.num_layers):
            if k and self.dropout and self.training:
                layer_in = F.dropout(layer_in, self.dropout, True)
            outs = []
            for d in range(dirs):
                j = k * dirs + d
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(k, d)
                hj = zeros_h if h0 is None else h0[j]
                cj = (zeros_c if c0 is None else c0[j]) if lstm else None
                res = Recurrent.apply(layer_in, hj, cj, w_ih, w_hh, b_ih, b_hh, w_hr,
                                      mode=mode, batch_sizes=batch_sizes, reverse=bool(d))
                outs.append(res[0])
                hs.append(res[1])
                if lstm:
                    cs.append(res[2])
            layer_in = outs[0] if dirs == 1 else Concatenate.apply(*outs, axis=1)
        h_n = Stack.apply(*hs, axis=0)
        c_n = Stack.apply(*cs, axis=0) if lstm else None
        if packed:
            if input.unsorted_indices is not None:
                idx = np.asarray(input.unsorted_indices._data if isinstance(
                    input.unsorted_indices, Tensor) else input.unsorted_indices)
                h_n = h_n[:, idx]
                c_n = c_n[:, idx] if lstm else None
            output = PackedSequence(layer_in, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            output = layer_in.reshape(T, B, dirs * Hout)
            if unbatched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if lstm else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode.startswith("RNN") and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


RNNBase = _RNNBase      # PyTorch's name (not a layer of its own: it needs a mode)


class RNN(_RNNBase):
    """An Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or ReLU),
    as ``torch.nn.RNN``: input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``),
    ``(L, H_in)`` unbatched, or a ``PackedSequence``; returns ``(output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """Long short-term memory, as ``torch.nn.LSTM`` (gates ``i, f, g, o``; with
    ``proj_size > 0`` the hidden state is projected, ``h_t = W_hr (o_t * tanh(c_t))``);
    returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(_RNNBase):
    """Gated recurrent unit, as ``torch.nn.GRU`` (gates ``r, z, n``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


class _RNNCellBase(Module):
    """One step of a recurrent layer; parameters ``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh`` as PyTorch's cells."""

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        layer = type(self).__name__
        input_size = check_int(layer, "input_size", input_size, minimum=0)
        hidden_size = check_int(layer, "hidden_size", hidden_size)
        dtype = check_factory(layer, device, dtype)
        gate = _GATES[self.mode] * hidden_size
        reserve(f"{layer}({input_size}, {hidden_size})",
                gate * (input_size + hidden_size + 2 * bool(bias)))
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        self.weight_ih = Parameter(np.empty((gate, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gate, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(gate, dtype=dtype))
            self.bias_hh = Parameter(np.empty(gate, dtype=dtype))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def get_config(self):
        config = {"input_size": self.input_size, "hidden_size": self.hidden_size,
                  "bias": self.bias}
        if isinstance(self, RNNCell):
            config["nonlinearity"] = self.nonlinearity
        return with_dtype(self, config)

    def _step(self, input, hx, cx):
        dtype = self.weight_ih.dtype
        x = _input(input, dtype, self)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{self!r}: expected input ({self.input_size},) or "
                             f"(N, {self.input_size}), got shape {tuple(x.shape)}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        B = x.shape[0]
        states = []
        for s in (hx, cx):
            if s is None:
                states.append(np.zeros((B, self.hidden_size), dtype))
                continue
            s = _input(s, dtype, self)
            if s.shape[-1] != self.hidden_size or s.ndim != x.ndim + (-1 if unbatched else 0) \
                    or (not unbatched and s.shape[0] != B):
                raise ShapeError(f"{self!r}: expected a state of shape "
                                 f"{(self.hidden_size,) if unbatched else (B, self.hidden_size)}"
                                 f", got {tuple(s.shape)}")
            states.append(s.unsqueeze(0) if unbatched else s)
        res = Recurrent.apply(x, states[0], states[1] if self.mode == "LSTM" else None,
                              self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None,
                              mode=self.mode, batch_sizes=(B,), reverse=False)
        outs = res[1:]
        if unbatched:
            outs = tuple(o.squeeze(0) for o in outs)
        return outs

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if isinstance(self, RNNCell) and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


RNNCellBase = _RNNCellBase


class RNNCell(_RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU)."""

    mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx=None):
        return self._step(input, hx, None)[0]


class LSTMCell(_RNNCellBase):
    """One LSTM step: returns ``(h', c')``; ``hx`` is ``(h, c)`` or None (zeros)."""

    mode = "LSTM"

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        return self._step(input, h, c)


class GRUCell(_RNNCellBase):
    """One GRU step: returns ``h'``."""

    mode = "GRU"

    def forward(self, input, hx=None):
        return self._step(input, hx, None)[0]
