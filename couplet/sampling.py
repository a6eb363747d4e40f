"""Choosing the next token from logits: a pure function, reproducible with a torch.Generator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

# a row whose draw fell outside its nucleus draws again, at most this many times; past that (only
# with a small top_p), its nucleus is computed by a sort and drawn from directly
REDRAWS = 8
# the margin by which a drawn token's prob must pass 1 - top_p to be in its nucleus untested (the
# probs sum to 1 only to float rounding)
SURE = 1e-4


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
    columns is read first (one amax pass), then the first block that holds the row's maximum. A few
    rows take max's indices (also the first of ties), half argmax's time on a row of 7,700 (bench)."""
    r, v = x.shape
    block = ARGMAX_BLOCK
    if r < MANY_ROWS or v < 4 * block:
        return x.max(dim=-1).indices
    cut = v - v % block
    maxima = x[:, :cut].reshape(r, cut // block, block).amax(dim=-1)            # (R, blocks)
    if cut < v:
        maxima = torch.cat([maxima, x[:, cut:].amax(dim=-1, keepdim=True)], dim=1)
    start = maxima.argmax(dim=-1, keepdim=True) * block                          # (R, 1)
    # the winning block's columns; past the last column the last one repeats, after its first copy
    cols = (start + torch.arange(block)).clamp_(max=v - 1)
    return (start + x.gather(1, cols).argmax(dim=-1, keepdim=True)).squeeze(1)


def in_nucleus(probs: torch.Tensor, tok: torch.Tensor, top_p: float) -> torch.Tensor:
    """(R,) whether each row's token tok (R,) is in the nucleus of probs (R, V): the tokens more
    likely than it hold less than top_p of the mass (so the likeliest token always is)."""
    p = probs.gather(1, tok.unsqueeze(1))
    # sign(relu(probs - p)) is 1 above p, else 0: one pass cheaper than a bool mask on CPU torch
    return (probs - p).clamp_(min=0.0).sign_().mul_(probs).sum(dim=1) < top_p


def _nucleus_mask(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """(R, V) bool: `in_nucleus` for every token at once, by one sort per row: the mass above a
    token is what the tokens sorted after it (ascending) hold."""
    asc = probs.sort(dim=-1).values
    at_most = asc.cumsum(dim=-1)                                      # mass of the tokens <= each
    upto = torch.searchsorted(asc, probs, right=True) - 1            # the last one <= each token
    return (at_most[:, -1:] - at_most.gather(1, upto)) < top_p


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
        logits = logits.masked_fill(~_nucleus_mask(torch.softmax(logits, dim=-1), top_p), float("-inf"))
    return logits


def _draw(cdf: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(R,) one token per row of a cumulative distribution (R, V), at one uniform draw per row."""
    u = torch.rand(cdf.shape[0], 1, generator=generator) * cdf[:, -1:]
    # right=True: the first token whose cumulative mass exceeds u, so a zero-probability token is never chosen
    return torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[-1] - 1).squeeze(1)


def sample_next(logits: torch.Tensor, *, temperature: float, top_k: int, top_p: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); masked entries are -inf or BLOCKED. temperature 0 = argmax,
    and so is a temperature too small to divide by (below 1e-3 the distribution is argmax to float
    precision). Sampling inverts the cumulative distribution, in vocabulary order, at one uniform draw
    per row (cheaper than torch.multinomial here, and the same distribution). With top-p, a row draws
    from the whole distribution and draws again while its token falls outside the nucleus: what it
    keeps is distributed as a draw from the renormalised nucleus, without sorting the vocabulary
    (a partial sort of each row cost more than the rest of the step; a test compares the frequencies)."""
    if not temperature > 1e-3:
        return argmax_rows(logits)
    logits = _keep_top_k(logits.float() / temperature, top_k)
    probs = torch.softmax(logits, dim=-1)
    cdf = probs.cumsum(dim=-1)
    pick = _draw(cdf, generator)
    if not 0.0 < top_p < 1.0:
        return pick
    # a token holding more than 1 - top_p has less than top_p above it: only the others are tested
    maybe = probs.gather(1, pick.unsqueeze(1)).squeeze(1) <= 1.0 - top_p + SURE
    if not bool(maybe.any()):
        return pick
    maybe = maybe.nonzero().squeeze(1)
    todo = maybe[~in_nucleus(probs[maybe], pick[maybe], top_p)]
    for _ in range(REDRAWS):
        if not len(todo):
            return pick
        pick[todo] = again = _draw(cdf[todo], generator)
        todo = todo[~in_nucleus(probs[todo], again, top_p)]
    if len(todo):   # a small top_p: draw these rows from their nucleus itself
        kept = probs[todo].masked_fill(~_nucleus_mask(probs[todo], top_p), 0.0)
        pick[todo] = _draw(kept.cumsum(dim=-1), generator)
    return pick


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
