"""Choosing the next token from logits: a pure function, reproducible with a torch.Generator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

# top-p looks at the 64 best tokens first, then 512: a partial sort costs with its k, and a sampled
# poem's nucleus mostly fits in 64. A row whose nucleus is wider still sorts only its candidates
# (`_wide_nucleus`), not the whole vocabulary
NUCLEUS_SHORTLISTS = (64, 512)


# a char the rules leave out scores this far below any log-prob: softmax gives it exactly 0, and unlike
# -inf it can be added (see `mask_out_`)
BLOCKED = -1e30
# rows from which `argmax_rows` reads block maxima first (fewer rows pay more in calls than they
# save), and the columns in a block
MANY_ROWS, ARGMAX_BLOCK = 16, 64


def mask_out_(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """scores (R, V) with the chars that mask (R, V) bool leaves out set to BLOCKED (+ their score, a
    rounding error at that size), in place; an allowed char keeps its score exactly. Adding
    (mask - 1) * 1e30 as floats costs a few fast passes, where CPU torch's masked_fill_ with a bool
    mask makes one slow one (1.1 ms against 0.4 ms at 256 rows of 7,700 chars)."""
    return scores.add_(mask.view(torch.uint8).float().sub_(1), alpha=-BLOCKED)


def argmax_rows(x: torch.Tensor) -> torch.Tensor:
    """x.argmax(dim=-1) for x (R, V): the first index of each row's maximum. CPU torch's argmax over a
    wide row costs ~10x its amax, so with many rows the maximum of each block of ARGMAX_BLOCK
    columns is read first (one amax pass), then the first block that holds the row's maximum."""
    r, v = x.shape
    block = ARGMAX_BLOCK
    if r < MANY_ROWS or v < 4 * block:
        return x.argmax(dim=-1)
    cut = v - v % block
    maxima = x[:, :cut].reshape(r, cut // block, block).amax(dim=-1)            # (R, blocks)
    if cut < v:
        maxima = torch.cat([maxima, x[:, cut:].amax(dim=-1, keepdim=True)], dim=1)
    start = maxima.argmax(dim=-1, keepdim=True) * block                          # (R, 1)
    # the winning block's columns; past the last column the last one repeats, after its first copy
    cols = (start + torch.arange(block)).clamp_(max=v - 1)
    return (start + x.gather(1, cols).argmax(dim=-1, keepdim=True)).squeeze(1)


def _wide_nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus of one row of probs (V,): its ids, best first. Only the candidates above
    (1 - top_p) / 2V are sorted: all the others together hold at most (1 - top_p) / 2 of the mass, so
    the candidates hold top_p and the nucleus is among them (a full sort of 7,800 probs costs ~20x)."""
    cand = (probs > (1.0 - top_p) / (2 * probs.shape[0])).nonzero().squeeze(1)
    if float(probs[cand].sum()) < top_p:                    # rounding at top_p near 1: sort everything
        cand = torch.arange(probs.shape[0])
    top, order = probs[cand].sort(descending=True)
    return cand[order[(top.cumsum(dim=0) - top) < top_p]]


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The nucleus of each row of probs (B, V): the kept ids (B, k) in vocabulary order, padded with
    V, where a token is dropped when the tokens before it (best first) already hold top_p of the mass."""
    v = probs.shape[-1]
    for k in NUCLEUS_SHORTLISTS:
        top, order = torch.topk(probs, min(k, v), dim=-1)                # sorted, best first
        enough = top.sum(dim=-1) >= top_p
        ids = order.masked_fill((top.cumsum(dim=-1) - top) >= top_p, v)
        if bool(enough.all()):
            return ids.sort(dim=-1).values
    rows = [ids[r][ids[r] < v] if fits else _wide_nucleus(probs[r], top_p) for r, fits in enumerate(enough.tolist())]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=v).sort(dim=-1).values


def _keep_top_k(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    if top_k and top_k > 0:
        k = min(int(top_k), logits.shape[-1])  # clamp to the vocabulary
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits


def filter_logits(logits: torch.Tensor, *, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k / nucleus (top-p) to -inf (top_k 0 and top_p 1 are off). logits: (B, V)."""
    logits = _keep_top_k(logits, top_k)
    if 0.0 < top_p < 1.0:
        ids = _nucleus(torch.softmax(logits, dim=-1), top_p)
        mask = torch.zeros(logits.shape[0], logits.shape[1] + 1, dtype=torch.bool).scatter_(1, ids, True)
        logits = logits.masked_fill(~mask[:, :-1], float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, *, temperature: float, top_k: int, top_p: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); masked entries are -inf or BLOCKED. temperature 0 = argmax,
    and so is a temperature too small to divide by (below 1e-3 the distribution is argmax to float
    precision). Sampling inverts the cumulative distribution, in vocabulary order, at one uniform draw per row
    (cheaper than torch.multinomial here, and the same distribution). With top-p, only the nucleus's
    few tokens are renormalised and summed, not the whole vocabulary: the same draw picks the same
    token as `filter_logits` followed by a full-vocabulary draw (a test holds them equal)."""
    if not temperature > 1e-3:
        return argmax_rows(logits)
    logits = _keep_top_k(logits.float() / temperature, top_k)
    v = logits.shape[-1]
    ids = None
    if 0.0 < top_p < 1.0:
        ids = _nucleus(torch.softmax(logits, dim=-1), top_p)           # kept ids in vocabulary order; v: none
        logits = logits.gather(1, ids.clamp(max=v - 1)).masked_fill(ids == v, float("-inf"))
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator) * cdf[:, -1:]
    # right=True: the first token whose cumulative mass exceeds u, so a zero-probability token is never chosen
    pick = torch.searchsorted(cdf, u, right=True).clamp(max=cdf.shape[-1] - 1)
    return (pick if ids is None else ids.gather(1, pick)).squeeze(-1)


@dataclass(frozen=True)
class Sampler:
    """How every decoding loop picks a row's next token: the request's temperature, top-k and top-p
    with its generator (built by the request types' `sampler()`, the one place they are read)."""
    temperature: float
    top_k: int
    top_p: float
    generator: torch.Generator | None = None

    @property
    def greedy(self) -> bool:
        return not self.temperature > 1e-3  # as sample_next decides

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return sample_next(logits, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                           generator=self.generator)
