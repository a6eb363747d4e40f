"""The models. Couplets, N vs N: an aligned encoder-decoder whose output length is the input length.

Encoder: an RNN (uni- or bidirectional) over the 上联 gives one memory vector per position.
Decoder: a unidirectional RNN that at step t reads [embedding of 下联 char t-1 ; memory_t], then
attends over all memory vectors (Luong style) and predicts 下联 char t. There is exactly one
decoder step per 上联 position, so equal length is a property of the structure, not of training.
With decoder=False the same class is the per-position tagger baseline. With aligned_head=True the
encoder-decoder also has that tagger's per-position softmax, trained jointly; decoding can mix the
two distributions (a product of experts, as in joint CTC-attention decoding): the decoder writes
fluent lines, the aligned head keeps each char in step with its 上联 char.
Poems, 1 vs N: `PoemModel`, a seed vector concatenated to every step of a character LM.
Pairs, N vs 1: `ScorerModel`, one score for a (上联, 下联) pair, used to rerank candidates.
Titles, N vs M: `TitleModel`, an encoder-decoder with attention that writes a poem's title.
Models see ids only; `couplet.vocab` owns the characters.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .rnn import CELLS, make_rnn

# Structure names users pick (the seed's five, plus the bidirectional plain RNN and the
# hand-written tanh RNN) -> (cell, bidirectional encoder).
ARCHS = {
    "rnn": ("rnn", False), "rnn-manual": ("rnn-manual", False), "birnn": ("rnn", True),
    "lstm": ("lstm", False), "bilstm": ("lstm", True),
    "gru": ("gru", False), "bigru": ("gru", True),
}


class _Config:
    """Shared by the model configs: a checked cell name and a plain-dict form for checkpoints."""

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {', '.join(CELLS)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**d)


@dataclass
class ModelConfig(_Config):
    vocab_size: int
    cell: str = "gru"            # one of rnn.CELLS
    bidirectional: bool = True   # encoder only; the decoder runs left to right
    emb_dim: int = 256           # also the width of the tied output projection
    hidden: int = 384
    layers: int = 1
    dropout: float = 0.1
    attention: bool = True
    max_len: int = 64            # longest 上联 accepted at generation time
    decoder: bool = True         # False: a per-position tagger (softmax on the encoder, no decoder)
    aligned_head: bool = False   # with a decoder: also a per-position softmax on the encoder


Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class CoupletModel(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h, e = cfg.hidden, cfg.emb_dim
        dirs = 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.vocab_size, e)
        self.encoder = make_rnn(cfg.cell, e, h, num_layers=cfg.layers, dropout=cfg.dropout,
                                bidirectional=cfg.bidirectional)
        self.to_memory = nn.Linear(h * dirs, h)
        self.attn_key = None
        if cfg.decoder:
            self.init_hidden = nn.Linear(h, h * cfg.layers)
            self.decoder = make_rnn(cfg.cell, e + h, h, num_layers=cfg.layers, dropout=cfg.dropout)
            self.attn_key = nn.Linear(h, h, bias=False) if cfg.attention else None
            self.combine = nn.Linear(h * (3 if cfg.attention else 2), e)
            self.align = nn.Linear(h, e) if cfg.aligned_head else None
        else:  # the tagger baseline: each position predicted from the encoder alone
            self.combine = nn.Linear(h, e)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))  # weight tied to self.embed
        self.drop = nn.Dropout(cfg.dropout)
        self.out_proj: nn.Module | None = None  # an untied copy of the output layer, set by quantized()

    def project(self, feat: torch.Tensor) -> torch.Tensor:
        """Features (..., E) -> logits (..., V) through the tied output embedding (Press & Wolf 2017)."""
        return self._projection()(feat)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, Hidden]:
        """src (B, T) ids -> memory (B, T, H), attention keys (B, T, H) or None, decoder h0."""
        # the layers as plain functions (`as_function`): a line is encoded once per request, and the
        # module calls cost a fifth of it
        x = self.drop(self.embed(src))
        out, _ = as_function(self.encoder)(x)                     # (B, T, H*dirs)
        memory = torch.tanh(as_function(self.to_memory)(self.drop(out)))      # (B, T, H)
        keys = as_function(self.attn_key)(memory) if self.attn_key is not None else None
        if not self.cfg.decoder:
            return memory, None, None
        b, layers, hsz = src.shape[0], self.cfg.layers, self.cfg.hidden
        h0 = torch.tanh(as_function(self.init_hidden)(memory.mean(dim=1)))    # (B, H*layers)
        h0 = h0.view(b, layers, hsz).transpose(0, 1).contiguous()  # (layers, B, H)
        hidden: Hidden = (h0, torch.zeros_like(h0)) if self.cfg.cell == "lstm" else h0
        return memory, keys, hidden

    def decode(self, prev: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor | None,
               hidden: Hidden, start: int = 0, *, features: bool = False) -> tuple[torch.Tensor, Hidden]:
        """Run the decoder over positions start .. start+t-1.

        prev (B, t): the 下联 ids before each position (BOS first); memory/keys (B, T, H).
        Returns logits (B, t, V) (features: what the output layer reads, (B, t, E)) and the new hidden
        state. Training calls it once with t = T; generation calls it once per position with t = 1;
        both compute the same thing.
        """
        t = prev.shape[1]
        mem_t = memory[:, start:start + t]                        # (B, t, H)
        if not self.cfg.decoder:  # tagger: prev and hidden are not used
            feat = self.drop(torch.tanh(self.combine(mem_t)))
            return (feat if features else self.project(feat)), hidden
        x = torch.cat([self.drop(self.embed(prev)), mem_t], dim=-1)
        out, hidden = self.decoder(x, hidden)                    # (B, t, H)
        parts = [out, mem_t]
        if keys is not None:
            weights = torch.softmax(out @ keys.transpose(1, 2), dim=-1)   # (B, t, T)
            parts.append(weights @ memory)                                 # (B, t, H)
        feat = self.drop(torch.tanh(self.combine(torch.cat(parts, dim=-1))))  # (B, t, E)
        return (feat if features else self.project(feat)), hidden    # (B, t, V)

    def step(self, prev: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor | None, hidden: Hidden,
             t: int) -> tuple[torch.Tensor, Hidden]:
        """One generation step at position t: prev (B,) ids -> logits (B, V) and the new hidden state.
        What `decode(prev[:, None], memory, keys, hidden, start=t)` computes for an eval-mode model.
        A decoding loop calls `stepper()` once and its function at every step."""
        return self.stepper()(prev, memory, keys, hidden, t)

    def stepper(self, lines: int = 1):
        """`step` as a plain function of tensors, its layers bound once (`as_function`): a one-row step
        is a handful of small products, and the module calls around them cost about as much again.
        lines: how many 上联 the rows decode; an int8 copy decodes BATCH_DECODER_LINES or more with its
        fp32 GRU (`quantized`)."""
        emb, combine, project = self.embed.weight, as_function(self.combine), self._projection()
        if not self.cfg.decoder:
            return lambda prev, memory, keys, hidden, t: (project(torch.tanh(combine(memory[:, t]))), hidden)
        batch_decoder = getattr(self, "batch_decoder", None)
        decoder = as_function(batch_decoder if batch_decoder is not None and lines >= BATCH_DECODER_LINES
                              else self.decoder)

        def step(prev, memory, keys, hidden, t):
            mem_t = memory[:, t:t + 1]                                        # (B, 1, H)
            out, hidden = decoder(torch.cat([emb.index_select(0, prev).unsqueeze(1), mem_t], dim=-1), hidden)
            parts = [out, mem_t]
            if keys is not None:   # bmm, not @: the same product without matmul's dispatch
                parts.append(torch.bmm(torch.softmax(torch.bmm(out, keys.transpose(1, 2)), dim=-1), memory))
            return project(torch.tanh(combine(torch.cat(parts, dim=-1)))[:, 0]), hidden
        return step

    def _projection(self):
        """`project` as a plain function: the int8 copy's output layer, or the tied embedding."""
        if self.out_proj is not None:
            return as_function(self.out_proj)
        return functools.partial(F.linear, weight=self.embed.weight, bias=self.out_bias)

    @property
    def has_aligned_head(self) -> bool:
        return self.cfg.decoder and self.cfg.aligned_head

    def aligned(self, memory: torch.Tensor, *, features: bool = False) -> torch.Tensor:
        """The per-position head: memory (B, T, H) -> logits (B, T, V) (features: (B, T, E)), no
        decoder involved."""
        feat = self.drop(torch.tanh(as_function(self.align)(memory)))
        return feat if features else self.project(feat)

    def forward(self, src: torch.Tensor, prev: torch.Tensor, *, with_aligned: bool = False, features: bool = False):
        """Teacher forcing: logits (B, T, V) for every position at once; with_aligned also
        returns the aligned head's logits (B, T, V). features: what the tied output layer reads
        instead, (B, T, E) each, for a loss that applies the layer itself (`tasks.projected_cross_entropy`)."""
        memory, keys, hidden = self.encode(src)
        logits, _ = self.decode(prev, memory, keys, hidden, features=features)
        if with_aligned:
            return logits, self.aligned(memory, features=features)
        return logits


def as_function(layer: nn.Module):
    """A layer as a plain function of tensors, for the decoding steps. An int8 layer (`quantized`)
    becomes the one op its forward calls, without nn.Module's call machinery and the quantized
    wrappers' argument checks in Python (a third of a one-row couplet step, `bench`); an fp32 linear
    layer becomes F.linear; any other layer is called as it is. The result reads the layer's weights
    as they are now: build it again after the layer is replaced."""
    from torch.ao.nn.quantized import dynamic as qd
    if type(layer) is qd.Linear and layer._packed_params.dtype == torch.qint8:
        packed, linear = layer._packed_params._packed_params, torch.ops.quantized.linear_dynamic
        return lambda x: linear(x, packed, True)                # reduce_range, as its forward passes
    if type(layer) is qd.GRU:
        params = [w.param for w in layer._all_weight_values]
        flags = (layer.bias, layer.num_layers, float(layer.dropout), False, layer.bidirectional, layer.batch_first)
        states = layer.num_layers * (2 if layer.bidirectional else 1)

        def gru(x, h=None):   # h None: zeros, as the module starts
            if h is None:
                h = x.new_zeros(states, x.shape[0 if layer.batch_first else 1], layer.hidden_size)
            return torch.quantized_gru(x, h, params, *flags)
        return gru
    if type(layer) is nn.Linear:
        return functools.partial(F.linear, weight=layer.weight, bias=layer.bias)
    return layer


# An int8 copy decodes this many 上联 or more at once (a batch) with an fp32 copy of its decoder GRU:
# the GRU's activations are quantized with one scale per call, and shared by a batch's lines that
# moved its greedy 下联 (2,000 validation lines: BLEU 2.23 against 2.35 decoded one by one and 2.30 in
# fp32; the same as fp32 for 1,153 lines against 1,201), where the fp32 GRU gives 2.42 and 1,304, for
# a fifth of the batch's speed (1.7 -> 2.1 s). A beam's or a sample's rows are one 上联's: int8 holds.
BATCH_DECODER_LINES = 32


# CPU decoding uses the int8 copies: on validation, couplet BLEU and perplexity and poem perplexity
# stay within 2% of fp32 (checkpoints/README.md).
INT8_BY_DEFAULT = True


def quantized(model: nn.Module) -> nn.Module:
    """An int8 copy of a couplet, poem or title model for CPU decoding: dynamic quantization (weights int8, activations quantized per
    call) of the linear layers, the GRU/LSTM layers and an untied copy of the output layer, which
    reads 4x fewer bytes per step. Inference only; the fp32 model is left as it is."""
    import copy
    import warnings
    q = copy.deepcopy(model).eval()
    out = nn.Linear(q.cfg.emb_dim, q.cfg.vocab_size)
    with torch.no_grad():
        out.weight.copy_(q.embed.weight)
        out.bias.copy_(q.out_bias)
    q.out_proj = out
    with warnings.catch_warnings():  # torch marks the eager API deprecated; it is what runs on CPU here
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(q, {nn.Linear, nn.GRU, nn.LSTM}, dtype=torch.qint8)
    if isinstance(model, CoupletModel) and model.cfg.decoder:
        q.batch_decoder = copy.deepcopy(model.decoder).eval()    # fp32, for many lines at once (`stepper`)
    return q


def for_decoding(model: nn.Module, *, int8: bool | None = None, device: str = "cpu") -> nn.Module:
    """The model generation runs: its int8 copy on CPU when asked (default INT8_BY_DEFAULT), else itself."""
    if (INT8_BY_DEFAULT if int8 is None else int8) and str(device) == "cpu":
        return quantized(model)
    return model


def is_quantized(model: nn.Module) -> bool:
    return getattr(model, "out_proj", None) is not None


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX tiles or AVX512-BF16). There training runs under
    bf16 autocast and a batch decodes with a bf16 copy (`for_batches`): on the developer machine (AMX)
    a 2,304 x 512 x 7,705 product took 13 ms against 193 ms in fp32, and a couplet training step 1.07
    against 1.92 s."""
    cpu = getattr(torch, "cpu", None)
    probes = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(p is not None and p() for p in probes)


def is_bf16(model: nn.Module) -> bool:
    return next(model.parameters()).dtype == torch.bfloat16


def for_batches(model: nn.Module, decoding: nn.Module) -> nn.Module:
    """The weights a batch decodes many rows with at once (its chunks of lines, its beams side by
    side, the MMI read-back): where decoding is in reduced precision (`decoding` is an int8 copy of
    `model`) and the CPU multiplies bf16 natively, a bf16 copy; else the fp32 model. int8 wins on
    one row, bf16 on many (developer machine, AMX, 2 threads: a 256->7,705 product on 256 rows 1.38
    ms int8, 0.84 bf16, 3.65 fp32; on one row 0.035, 0.16, 0.17). bf16 keeps each value's own
    exponent, where int8 activations share one scale across the rows of a call (see
    BATCH_DECODER_LINES)."""
    import copy
    if is_quantized(decoding) and native_bf16():     # int8 copies are made for CPU decoding only
        return copy.deepcopy(model).to(torch.bfloat16).eval()
    return model


def shift_right(tgt: torch.Tensor, bos_id: int) -> torch.Tensor:
    """The decoder's inputs: BOS followed by the 下联 without its last char."""
    return torch.cat([torch.full_like(tgt[:, :1], bos_id), tgt[:, :-1]], dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class PoemConfig(_Config):
    vocab_size: int
    cell: str = "gru"
    bidirectional: bool = True   # seed encoder only; the poem is written left to right
    emb_dim: int = 256
    hidden: int = 384
    layers: int = 1
    dropout: float = 0.1
    max_seed: int = 4            # seed characters the model reads


class PoemModel(nn.Module):
    """1 vs N: a seed (a few characters) is encoded into one vector that enters every step.

    Seed encoder: an RNN over the seed chars, mean-pooled over real (non-pad) positions.
    Decoder: a character language model whose input at step t is [embedding of char t-1 ; seed].
    """

    def __init__(self, cfg: PoemConfig):
        super().__init__()
        self.cfg = cfg
        h, e = cfg.hidden, cfg.emb_dim
        dirs = 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.vocab_size, e)
        self.seed_encoder = make_rnn(cfg.cell, e, h, num_layers=1, bidirectional=cfg.bidirectional)
        self.to_seed = nn.Linear(h * dirs, h)
        self.init_hidden = nn.Linear(h, h * cfg.layers)
        self.decoder = make_rnn(cfg.cell, e + h, h, num_layers=cfg.layers, dropout=cfg.dropout)
        self.combine = nn.Linear(2 * h, e)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.drop = nn.Dropout(cfg.dropout)
        self.out_proj: nn.Module | None = None  # an untied copy of the output layer, set by quantized()

    project, _projection = CoupletModel.project, CoupletModel._projection

    def encode(self, seed: torch.Tensor) -> tuple[torch.Tensor, Hidden]:
        """seed (B, S) ids, 0-padded -> seed vector (B, H) and the decoder's h0."""
        real = (seed != 0).float().unsqueeze(-1)                       # (B, S, 1)
        out, _ = self.seed_encoder(self.drop(self.embed(seed)))        # (B, S, H*dirs)
        pooled = (out * real).sum(1) / real.sum(1).clamp(min=1.0)
        vec = torch.tanh(self.to_seed(pooled))                         # (B, H)
        b, layers, hsz = seed.shape[0], self.cfg.layers, self.cfg.hidden
        h0 = torch.tanh(self.init_hidden(vec)).view(b, layers, hsz).transpose(0, 1).contiguous()
        hidden: Hidden = (h0, torch.zeros_like(h0)) if self.cfg.cell == "lstm" else h0
        return vec, hidden

    def decode(self, prev: torch.Tensor, vec: torch.Tensor, hidden: Hidden, *, features: bool = False
               ) -> tuple[torch.Tensor, Hidden]:
        """prev (B, t) ids -> logits (B, t, V) (features: (B, t, E), as `CoupletModel.decode`); the
        seed vector is concatenated at every step."""
        s = vec.unsqueeze(1).expand(-1, prev.shape[1], -1)              # (B, t, H)
        out, hidden = self.decoder(torch.cat([self.drop(self.embed(prev)), s], dim=-1), hidden)
        feat = self.drop(torch.tanh(self.combine(torch.cat([out, s], dim=-1))))
        return (feat if features else self.project(feat)), hidden

    def stepper(self):
        """One generation step as a plain function of tensors (see `CoupletModel.stepper`):
        (prev (B,) ids, seed vectors (B, H), hidden) -> (logits (B, V), hidden), what `decode`
        computes for one position of an eval-mode model."""
        emb, decoder, combine, project = (self.embed.weight, as_function(self.decoder), as_function(self.combine),
                                          self._projection())

        def step(prev, vec, hidden):
            out, hidden = decoder(torch.cat([emb.index_select(0, prev), vec], dim=-1).unsqueeze(1), hidden)
            return project(torch.tanh(combine(torch.cat([out[:, 0], vec], dim=-1)))), hidden
        return step

    def forward(self, seed: torch.Tensor, prev: torch.Tensor, *, features: bool = False) -> torch.Tensor:
        vec, hidden = self.encode(seed)
        return self.decode(prev, vec, hidden, features=features)[0]


@dataclass
class ScorerConfig(_Config):
    vocab_size: int
    cell: str = "gru"
    bidirectional: bool = True
    emb_dim: int = 128
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.1


class ScorerModel(nn.Module):
    """N vs 1: an RNN reads a (上联, 下联) pair position by position and outputs one score, the
    logit of "a real couplet" against corrupted ones (shuffled, mismatched, tone-broken)."""

    def __init__(self, cfg: ScorerConfig):
        super().__init__()
        self.cfg = cfg
        dirs = 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        self.rnn = make_rnn(cfg.cell, 2 * cfg.emb_dim, cfg.hidden, num_layers=cfg.layers, dropout=cfg.dropout,
                            bidirectional=cfg.bidirectional)
        self.head = nn.Linear(2 * cfg.hidden * dirs, 1)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
        """upper, lower (B, T) ids of equal length -> logits (B,)."""
        x = self.drop(torch.cat([self.embed(upper), self.embed(lower)], dim=-1))   # (B, T, 2E)
        out, _ = self.rnn(x)                                                       # (B, T, H*dirs)
        pooled = torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=-1)
        return self.head(self.drop(pooled)).squeeze(-1)


@dataclass
class TitleConfig(_Config):
    vocab_size: int
    cell: str = "gru"
    bidirectional: bool = True   # encoder only
    emb_dim: int = 128
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.1
    max_title: int = 8           # longest title written (chars, before the end mark)


class TitleModel(nn.Module):
    """N vs M: an encoder over the poem and a decoder that writes its title, one char per step, until
    the end mark; the output length has nothing to do with the input's (Sutskever et al. 2014), and
    at each step the decoder attends over the whole poem (Luong et al. 2015)."""

    def __init__(self, cfg: TitleConfig):
        super().__init__()
        self.cfg = cfg
        h, e = cfg.hidden, cfg.emb_dim
        dirs = 2 if cfg.bidirectional else 1
        self.embed = nn.Embedding(cfg.vocab_size, e)
        self.encoder = make_rnn(cfg.cell, e, h, num_layers=1, bidirectional=cfg.bidirectional)
        self.to_memory = nn.Linear(h * dirs, h)
        self.attn_key = nn.Linear(h, h, bias=False)
        self.init_hidden = nn.Linear(h, h * cfg.layers)
        self.decoder = make_rnn(cfg.cell, e, h, num_layers=cfg.layers, dropout=cfg.dropout)
        self.combine = nn.Linear(2 * h, e)
        self.out_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.drop = nn.Dropout(cfg.dropout)
        self.out_proj: nn.Module | None = None

    project, _projection = CoupletModel.project, CoupletModel._projection

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
        """src (B, T) ids -> memory (B, T, H), attention keys (B, T, H), decoder h0."""
        out, _ = self.encoder(self.drop(self.embed(src)))
        memory = torch.tanh(self.to_memory(self.drop(out)))
        b, layers, hsz = src.shape[0], self.cfg.layers, self.cfg.hidden
        h0 = torch.tanh(self.init_hidden(memory.mean(dim=1))).view(b, layers, hsz).transpose(0, 1).contiguous()
        hidden: Hidden = (h0, torch.zeros_like(h0)) if self.cfg.cell == "lstm" else h0
        return memory, self.attn_key(memory), hidden

    def decode(self, prev: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, hidden: Hidden, *,
               features: bool = False) -> tuple[torch.Tensor, Hidden]:
        """prev (B, t) title ids before each step (BOS first) -> logits (B, t, V) (features: (B, t, E),
        as `CoupletModel.decode`), new hidden."""
        out, hidden = self.decoder(self.drop(self.embed(prev)), hidden)             # (B, t, H)
        context = torch.softmax(out @ keys.transpose(1, 2), dim=-1) @ memory       # (B, t, H)
        feat = self.drop(torch.tanh(self.combine(torch.cat([out, context], dim=-1))))
        return (feat if features else self.project(feat)), hidden

    def stepper(self):
        """One title step as a plain function of tensors (see `CoupletModel.stepper`): (prev (B,) ids,
        memory, keys, hidden) -> (logits (B, V), hidden)."""
        emb, decoder, combine, project = (self.embed.weight, as_function(self.decoder), as_function(self.combine),
                                          self._projection())

        def step(prev, memory, keys, hidden):
            out, hidden = decoder(emb.index_select(0, prev).unsqueeze(1), hidden)      # (B, 1, H)
            context = torch.bmm(torch.softmax(torch.bmm(out, keys.transpose(1, 2)), dim=-1), memory)
            return project(torch.tanh(combine(torch.cat([out, context], dim=-1)))[:, 0]), hidden
        return step

    def forward(self, src: torch.Tensor, prev: torch.Tensor, *, features: bool = False) -> torch.Tensor:
        memory, keys, hidden = self.encode(src)
        return self.decode(prev, memory, keys, hidden, features=features)[0]


# "whole" is the poem model's structure (1 vs N) trained on whole couplets (couplet.wholetext)
KINDS = {"couplet": (CoupletModel, ModelConfig), "poem": (PoemModel, PoemConfig),
         "scorer": (ScorerModel, ScorerConfig), "whole": (PoemModel, PoemConfig), "title": (TitleModel, TitleConfig)}
