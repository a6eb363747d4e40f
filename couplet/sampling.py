"""Choosing the next token from logits: a pure function, reproducible with a torch.Generator."""
from __future__ import annotations

import torch


def filter_logits(logits: torch.Tensor, *, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside the top-k / nucleus (top-p) to -inf. logits: (B, V)."""
    if top_k and top_k > 0:
        k = min(int(top_k), logits.shape[-1])  # clamp to the vocabulary
        kth = torch.topk(logits, k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token when the tokens before it already hold top_p of the mass
        drop = (probs.cumsum(dim=-1) - probs) >= top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    return logits


def sample_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); masked entries are -inf. temperature 0 = argmax, and so is a
    temperature too small to divide by (below 1e-3 the distribution is argmax to float precision)."""
    if not temperature > 1e-3:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / temperature, top_k=top_k, top_p=top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
