"""The simple way, for checking and benchmarking the fast decoders: model steps that rerun the
whole model over the prefix at every step (no carried hidden state), for the same decoding loops
(`decode.decode`, `poemrules.sample_poems`), and beam search written out hypothesis by hypothesis.
The tests compare them with the fast path, and `bench` times both. Not used when generating.
"""
from __future__ import annotations

import torch

from .decode import Plan, _aligned_prior, _log_probs, _stack, _step_mask
from .model import CoupletModel
from .vocab import Vocab


def _prefix(out: torch.Tensor, t: int) -> torch.Tensor:
    """BOS and what each row wrote before step t: (R, t + 1)."""
    return torch.cat([torch.full((len(out), 1), Vocab.bos_id, dtype=torch.long), out[:, :t]], dim=1)


class CoupletRerun:
    """Couplet model steps for `decode.decode`, the naive way: the whole model runs again over the
    prefix at every step."""

    def __init__(self, model: CoupletModel, plans: list[Plan], align: float):
        self.model, self.align = model, align
        self.src = torch.stack([p.src for p in plans])
        self.prior = _aligned_prior(model, model.encode(self.src)[0], align)

    def __call__(self, out: torch.Tensor, t: int) -> torch.Tensor:
        logits = self.model(self.src.expand(len(out), -1), _prefix(out, t))[:, -1]   # recomputes steps 0..t
        return _log_probs(logits.float(), self.prior[:, t] if self.prior is not None else None, self.align)

    def guide(self, logp: torch.Tensor, out: torch.Tensor, t: int) -> torch.Tensor:
        return logp  # no phrase memory here: the search goes by the model's scores

    def select(self, rows: torch.Tensor) -> None:
        pass  # nothing carried: the prefix is read from the rows themselves


class PoemRerun:
    """Poem model steps for `poemrules.sample_poems`, the naive way (one seed, no per-line plan)."""

    def __init__(self, model, seed_ids: torch.Tensor):
        self.model, self.seed_ids = model, seed_ids

    def __call__(self, out: torch.Tensor, t: int) -> torch.Tensor:
        logits = self.model(self.seed_ids.expand(len(out), -1), _prefix(out, t))[:, -1]
        return torch.log_softmax(logits.float(), dim=-1)

    def select(self, rows: torch.Tensor) -> None:
        pass

    def peek(self, out: torch.Tensor, t: int, cand: torch.Tensor) -> torch.Tensor:
        """(R, K, V): each row's prefix with each candidate at step t, run again from the start."""
        r, k = cand.shape
        ahead = out.repeat_interleave(k, dim=0)
        ahead[:, t] = cand.flatten()
        return self(ahead, t + 1).view(r, k, -1)


@torch.inference_mode()
def beam_search_naive(model: CoupletModel, plan: Plan, *, beam: int, repeats: bool = True,
                      align: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain beam search written out on its own (not through `decode.decode`, so the tests check the
    fast loop's beam bookkeeping against it): every hypothesis scored by a full forward pass, every
    allowed continuation listed and sorted."""
    src, allowed, forced, link = _stack([plan])
    n, v = src.shape[1], allowed.shape[-1]
    prior = _aligned_prior(model, model.encode(src)[0], align)
    hyps = [(torch.zeros(n, dtype=torch.long), torch.zeros(v, dtype=torch.bool), torch.zeros(()))]
    for t in range(n):
        cands = []
        for ids, used, s in hyps:
            prev = torch.cat([torch.tensor([Vocab.bos_id]), ids[:t]]).unsqueeze(0)
            logp = _log_probs(model(src, prev)[0, -1:].float(), prior[:, t] if prior is not None else None, align)[0]
            mask = _step_mask(allowed[:, t], forced[:, t], link[:, t], ids.unsqueeze(0), used.unsqueeze(0), repeats)[0]
            for tok in torch.nonzero(mask).flatten().tolist():
                gain = logp[tok] if tok != Vocab.unk_id else torch.zeros(())   # a mark outside the vocabulary
                cands.append((s + gain, ids, used, tok))  # float32, as in the fast loop
        cands.sort(key=lambda c: -c[0].item())
        hyps = []
        for s, ids, used, tok in cands[:beam]:
            ids, used = ids.clone(), used.clone()
            ids[t] = tok
            if forced[0, t] < 0:
                used[tok] = True
            hyps.append((ids, used, s))
    return torch.stack([h[0] for h in hyps]), torch.stack([h[2] for h in hyps])
