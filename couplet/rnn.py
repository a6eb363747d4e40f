"""Recurrent layers. `TanhRNN` writes the plain RNN out by hand:

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

with the same parameter names and shapes as `torch.nn.RNN`, so weights copy across and the two
agree numerically. `make_rnn` builds any of the cells the project offers.
"""
from __future__ import annotations

import math

import torch
from torch import nn

CELLS = ("rnn", "rnn-manual", "lstm", "gru")


class TanhRNN(nn.Module):
    """Elman RNN with tanh, multi-layer, optionally bidirectional; `forward(x, h0) -> (out, h_n)`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        dirs = 2 if bidirectional else 1
        k = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for suffix in ("", "_reverse")[:dirs]:
                for name, shape in (("weight_ih", (hidden_size, in_size)),
                                    ("weight_hh", (hidden_size, hidden_size)),
                                    ("bias_ih", (hidden_size,)), ("bias_hh", (hidden_size,))):
                    p = nn.Parameter(torch.empty(shape).uniform_(-k, k))
                    self.register_parameter(f"{name}_l{layer}{suffix}", p)

    def _run(self, x: torch.Tensor, h: torch.Tensor, layer: int, suffix: str) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (T, B, in), h: (B, H). The input projection of all steps is one matmul.
        w_ih, w_hh = getattr(self, f"weight_ih_l{layer}{suffix}"), getattr(self, f"weight_hh_l{layer}{suffix}")
        b_ih, b_hh = getattr(self, f"bias_ih_l{layer}{suffix}"), getattr(self, f"bias_hh_l{layer}{suffix}")
        xw = x @ w_ih.T + b_ih                                   # (T, B, H)
        steps = range(x.shape[0] - 1, -1, -1) if suffix else range(x.shape[0])
        outs: list[torch.Tensor] = [None] * x.shape[0]  # type: ignore[list-item]
        for t in steps:
            h = torch.tanh(xw[t] + h @ w_hh.T + b_hh)
            outs[t] = h
        return torch.stack(outs), h

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch_first:
            x = x.transpose(0, 1)
        dirs = 2 if self.bidirectional else 1
        if hidden is None:
            hidden = x.new_zeros(self.num_layers * dirs, x.shape[1], self.hidden_size)
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = nn.functional.dropout(x, self.dropout, training=True)
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:dirs]):
                out, h = self._run(x, hidden[layer * dirs + d], layer, suffix)
                outs.append(out)
                finals.append(h)
            x = torch.cat(outs, dim=-1) if dirs == 2 else outs[0]
        out = x.transpose(0, 1) if self.batch_first else x
        return out, torch.stack(finals)


def make_rnn(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
             dropout: float = 0.0, bidirectional: bool = False) -> nn.Module:
    """A batch-first recurrent layer of the named cell."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    dropout = dropout if num_layers > 1 else 0.0
    kwargs = dict(num_layers=num_layers, batch_first=True, dropout=dropout, bidirectional=bidirectional)
    if cell == "rnn-manual":
        return TanhRNN(input_size, hidden_size, **kwargs)
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    return cls(input_size, hidden_size, **kwargs)
