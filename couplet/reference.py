"""The simple ways, for checking and benchmarking the fast decoders: one item at a time, and at
every step the whole model runs again over the prefix (no carried hidden state). Same rules, same
results as `decode.sample` / `decode.beam_search` and `poemrules.sample_poems`; the tests compare
them, and `bench` times both. Not used when generating.
"""
from __future__ import annotations

import torch

from .decode import Plan, _aligned_prior, _log_probs, _stack, _step_mask
from .model import CoupletModel
from .poemrules import PairedLines, PoemPlan, PoemState, PoemTables, poem_step
from .sampling import sample_next
from .vocab import Vocab


@torch.inference_mode()
def sample_naive(model: CoupletModel, plan: Plan, *, temperature: float = 0.0, top_k: int = 0,
                 top_p: float = 1.0, generator: torch.Generator | None = None, repeats: bool = True,
                 align: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The simple way, for checking and benchmarking `sample`: one item, and at every step the
    whole model runs again over the prefix (no carried hidden state). Same rules, same result."""
    src, allowed, forced, link = _stack([plan])
    n = src.shape[1]
    out = torch.zeros(1, n, dtype=torch.long)
    used = torch.zeros(1, allowed.shape[-1], dtype=torch.bool)
    score = torch.zeros(1)
    prev = torch.full((1, 1), Vocab.bos_id, dtype=torch.long)
    prior = _aligned_prior(model, model.encode(src)[0], align)
    for t in range(n):
        logits = model(src, prev)[:, -1]                                   # recomputes steps 0..t
        logp = _log_probs(logits.float(), prior, t, align)
        mask = _step_mask(allowed, forced, link, out, used, t, repeats)
        tok = sample_next(logp.masked_fill(~mask, float("-inf")), temperature=temperature,
                          top_k=top_k, top_p=top_p, generator=generator)
        out[:, t] = tok
        score += logp.gather(1, tok.unsqueeze(1)).squeeze(1)
        used[0, tok] |= bool(forced[0, t] < 0)
        prev = torch.cat([prev, tok.view(1, 1)], dim=1)
    return out, score


@torch.inference_mode()
def beam_search_naive(model: CoupletModel, plan: Plan, *, beam: int = 5, repeats: bool = True,
                      align: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search the simple way: each hypothesis scored on its own by a full forward pass."""
    src, allowed, forced, link = _stack([plan])
    n, v = src.shape[1], allowed.shape[-1]
    prior = _aligned_prior(model, model.encode(src)[0], align)
    hyps = [(torch.zeros(n, dtype=torch.long), torch.zeros(v, dtype=torch.bool), torch.zeros(()))]
    for t in range(n):
        cands = []
        for ids, used, s in hyps:
            prev = torch.cat([torch.tensor([Vocab.bos_id]), ids[:t]]).unsqueeze(0)
            logp = _log_probs(model(src, prev)[0, -1:].float(), prior, t, align)[0]
            mask = _step_mask(allowed, forced, link, ids.unsqueeze(0), used.unsqueeze(0), t, repeats)[0]
            for tok in torch.nonzero(mask).flatten().tolist():
                cands.append((s + logp[tok], ids, used, tok))  # float32, as in beam_search
        cands.sort(key=lambda c: -c[0].item())
        hyps = []
        for s, ids, used, tok in cands[:beam]:
            ids, used = ids.clone(), used.clone()
            ids[t] = tok
            if forced[0, t] < 0:
                used[tok] = True
            hyps.append((ids, used, s))
    return torch.stack([h[0] for h in hyps]), torch.stack([h[2] for h in hyps])

@torch.inference_mode()
def sample_poem_naive(model, plan: PoemPlan, tables: PoemTables, seed_ids: torch.Tensor, *,
                      temperature: float, top_k: int, top_p: float, generator: torch.Generator,
                      pair: PairedLines | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The simple way, for checking and benchmarking: one poem, the whole model rerun over the
    prefix at every step. Same rules, same result as `sample_poems` with one row."""
    state = PoemState(plan, tables, 1)
    score = torch.zeros(1)
    prev = torch.full((1, 1), Vocab.bos_id, dtype=torch.long)
    for t in range(plan.allowed.shape[0]):
        tok, logp = poem_step(torch.log_softmax(model(seed_ids, prev)[:, -1].float(), dim=-1), state, pair, t,
                              temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
        score += logp
        prev = torch.cat([prev, tok.view(1, 1)], dim=1)
    return state.out, score, state.relaxed


