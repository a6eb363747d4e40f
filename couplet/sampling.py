"""Choosing the next token from logits: a pure function, reproducible with a torch.Generator."""
from __future__ import annotations

from dataclasses import dataclass

import torch

NUCLEUS_SHORTLIST = 512  # top-p looks at this many best tokens first; a full sort only when they hold too little


def filter_logits(logits: torch.Tensor, *, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k / nucleus (top-p) to -inf (top_k 0 and top_p 1 are off). logits: (B, V)."""
    if top_k and top_k > 0:
        k = min(int(top_k), logits.shape[-1])  # clamp to the vocabulary
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < top_p < 1.0:
        probs = torch.softmax(logits, dim=-1)
        k = min(NUCLEUS_SHORTLIST, logits.shape[-1])
        top, order = torch.topk(probs, k, dim=-1)            # sorted, best first
        if not bool((top.sum(dim=-1) >= top_p).all()):     # the nucleus is wider: sort everything
            top, order = torch.sort(probs, descending=True, dim=-1)
        # drop a token when the tokens before it already hold top_p of the mass
        keep = (top.cumsum(dim=-1) - top) < top_p
        mask = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, order, keep)
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, *, temperature: float, top_k: int, top_p: float,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); masked entries are -inf. temperature 0 = argmax, and so is a
    temperature too small to divide by (below 1e-3 the distribution is argmax to float precision).
    Sampling inverts the cumulative distribution at one uniform draw per row (cheaper than
    torch.multinomial here, and the same distribution)."""
    if not temperature > 1e-3:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / temperature, top_k=top_k, top_p=top_p)
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator) * cdf[:, -1:]
    # right=True: the first token whose cumulative mass exceeds u, so a zero-probability token is never chosen
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=cdf.shape[-1] - 1)


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
