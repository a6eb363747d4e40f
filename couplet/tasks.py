"""The training tasks over (上联, 下联) pairs: data, batching, loss and validation.

`couplet` (上联 -> 下联 pairs, the N-vs-N model or the tagger) and `scorer` (N vs 1: real pairs
against corrupted ones), with the batching every task shares (length buckets, no padding). The
tasks over whole texts (poem, whole, title, lines) are in `couplet.texttasks`. Each task builds its
vocabulary and model, loads its data, and gives the loss of one batch and its validation metrics;
the loop in `couplet.trainer` is the same for all.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .corpus import Pair, read_pairs
from .model import ARCHS, CoupletModel, ModelConfig, ScorerConfig, ScorerModel, shift_right
from .text import is_han
from .vocab import RESERVED, Vocab

if TYPE_CHECKING:
    from .trainer import TrainConfig


def seq_cross_entropy(logits: torch.Tensor, tgt: torch.Tensor, **kw) -> torch.Tensor:
    """F.cross_entropy of logits (B, T, V) against targets (B, T), read with the classes last (a
    "none" reduction comes back as (B, T)). CPU torch's log-softmax over the class dim of the (B, V, T)
    view is strided: with its backward it took 2.4x as long (400 against 170 ms at 256 x 9 x 7,705)."""
    out = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), **kw)
    return out.view(tgt.shape) if kw.get("reduction") == "none" else out


class _ProjectedCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of `target` (N,) under logits = feat (N, E) @ weight (V, E)^T + bias, the
    output layer and the loss in one: the logits are made once in feat's dtype (bf16 under autocast,
    as the plain layer makes them), and every pass over them after that (log-sum-exp, softmax, the
    one-hot) runs on `chunk` rows at a time, which stay in cache. Done the plain way each pass streams
    the (N, V) tensor through memory, with an fp32 copy, its log-softmax and a zeroed gradient: at
    2,304 x 7,705 (a batch of 256 couplets) that was twice the time of the products (2 CPU threads)."""

    @staticmethod
    def forward(ctx, feat, weight, bias, target, ignore_index: int, chunk: int):
        with torch.autocast(feat.device.type, enabled=False):
            w = weight.to(feat.dtype)
            logits = torch.addmm(bias.to(feat.dtype), feat, w.t())                 # (N, V)
            lse = torch.empty(len(feat), device=feat.device)
            for i in range(0, len(feat), chunk):
                lse[i:i + chunk] = torch.logsumexp(logits[i:i + chunk].float(), dim=1)
            keep = target != ignore_index
            safe = target.masked_fill(~keep, 0)
            count = keep.sum().clamp(min=1)
            picked = logits.gather(1, safe.unsqueeze(1)).squeeze(1).float()
            loss = ((lse - picked) * keep).sum() / count
        ctx.save_for_backward(feat, w, logits, lse, safe, keep, count)
        ctx.chunk, ctx.weight_dtype = chunk, weight.dtype
        return loss

    @staticmethod
    def backward(ctx, grad):
        feat, w, logits, lse, safe, keep, count = ctx.saved_tensors
        with torch.autocast(feat.device.type, enabled=False):
            scale = keep.float() * (grad / count)
            grad_bias = torch.zeros(logits.shape[1], device=logits.device)
            for i in range(0, len(logits), ctx.chunk):
                j = min(i + ctx.chunk, len(logits))
                p = logits[i:j].float().sub_(lse[i:j, None]).exp_()                # softmax
                p[torch.arange(j - i, device=p.device), safe[i:j]] -= 1.0            # - one-hot
                p.mul_(scale[i:j, None])
                grad_bias += p.sum(0)
                logits[i:j] = p          # the saved logits become d loss / d logits (backward runs once)
            grad_feat = logits @ w
            # (feat^T @ grads)^T: a transposed operand is copied first, and feat is the small one
            grad_weight = (feat.t() @ logits).t().to(ctx.weight_dtype)
        return grad_feat, grad_weight, grad_bias, None, None, None


def projected_cross_entropy(model, feat: torch.Tensor, tgt: torch.Tensor, ignore_index: int = -100,
                            chunk: int | None = None) -> torch.Tensor:
    """`seq_cross_entropy(model.project(feat), tgt)` (mean) for features (B, T, E) before the model's
    tied output layer (its `forward(..., features=True)`), without the (B, T, V) logits going through
    memory pass after pass (`_ProjectedCrossEntropy`, `chunk` rows at a time: 64 on a CPU, where a
    chunk of a 7,705-char vocabulary in fp32 is 2 MB, a core's L2; on a GPU the whole batch at once)."""
    m = getattr(model, "module", model)          # a DistributedDataParallel wrapper holds the model
    chunk = chunk or (64 if feat.device.type == "cpu" else feat.shape[0] * feat.shape[1])
    return _ProjectedCrossEntropy.apply(feat.reshape(-1, feat.shape[-1]), m.embed.weight, m.out_bias,
                                        tgt.reshape(-1), ignore_index, chunk)


def structure_weights(pairs: list[Pair], strength: float) -> dict[Pair, float] | None:
    """Per-pair sampling multipliers that favour structurally parallel references (词性相对):
    1 - strength + strength * (share of positions with the same part of speech in both lines)."""
    if strength <= 0:
        return None
    from .postag import structure_agreement
    out = {}
    for p in tqdm(pairs, desc="structure of training pairs", unit="pair", mininterval=5.0):
        agree = structure_agreement(p.upper, p.lower)
        out[p] = 1.0 - strength + strength * (agree if agree is not None else 0.0)
    return out


def lower_counts(pairs: list[Pair], vocab: Vocab) -> list[int]:
    """How often each vocabulary id appears in the training 下联: the unigram that generation's
    frequency penalty (anti-LM) divides out. Stored in the checkpoint."""
    counts = Counter(ch for p in pairs for ch in p.lower)
    return [counts.get(ch, 0) if i >= len(RESERVED) else 0 for i, ch in enumerate(vocab.itos)]


def shape(cfg: TrainConfig, vocab: Vocab) -> dict:
    """The config fields every model shares, from the training flags: vocabulary size, cell,
    direction (from --arch), sizes, dropout."""
    cell, bidir = ARCHS[cfg.arch]
    return dict(vocab_size=len(vocab), cell=cell, bidirectional=bidir, emb_dim=cfg.emb_dim, hidden=cfg.hidden,
                layers=cfg.layers, dropout=cfg.dropout)


def parse_sources(spec: str) -> dict[str, float]:
    out = {}
    for part in spec.split(","):
        name, _, w = part.strip().partition(":")
        out[name] = float(w) if w else 1.0
    return out


# ---------------------------------------------------------------- data
def bucket_batches(weights: dict[int, torch.Tensor], *, epoch: int, seed: int, batch_size: int,
                   max_items: int = 0) -> list[tuple[int, torch.Tensor, int]]:
    """(bucket, row indices, batch seed) per batch; a pure function of (seed, epoch).

    weights[bucket] holds one weight per row: above 1 repeats the row, below 1 keeps it with
    that probability. Every batch comes from one bucket (one length), so nothing is padded.
    """
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    batches = []
    for n, w in weights.items():
        reps = w.floor().long() + (torch.rand(len(w), generator=g) < (w - w.floor())).long()
        idx = torch.repeat_interleave(torch.arange(len(w)), reps)
        idx = idx[torch.randperm(len(idx), generator=g)]
        batches += [(n, idx[i:i + batch_size]) for i in range(0, len(idx), batch_size)]
    order = torch.randperm(len(batches), generator=g).tolist()
    seeds = torch.randint(0, 2 ** 31 - 1, (len(batches),), generator=g).tolist()
    batches = [(*batches[i], s) for i, s in zip(order, seeds)]
    if max_items:
        keep, total = [], 0
        for b in batches:
            if total >= max_items:
                break
            keep.append(b)
            total += len(b[1])
        batches = keep
    return batches


class PairData:
    """Training pairs grouped by length: each batch holds one length, so no padding is needed."""

    def __init__(self, pairs: list[Pair], vocab: Vocab, weights: dict[str, float],
                 pair_weight: dict[Pair, float] | None = None):
        self.buckets: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self.scale: dict[int, torch.Tensor] = {}  # per-pair multiplier of the source weight
        by_len: dict[int, list[Pair]] = {}
        for p in pairs:
            if p.source in weights:
                by_len.setdefault(len(p.upper), []).append(p)
        src_ids = {s: i for i, s in enumerate(sorted(weights))}
        self.weight_of = torch.tensor([weights[s] for s in sorted(weights)])
        for n, ps in sorted(by_len.items()):
            src = torch.tensor([vocab.encode(p.upper) for p in ps], dtype=torch.long)
            tgt = torch.tensor([vocab.encode(p.lower) for p in ps], dtype=torch.long)
            tag = torch.tensor([src_ids[p.source] for p in ps], dtype=torch.long)
            self.buckets[n] = (src, tgt, tag)
            self.scale[n] = torch.tensor([pair_weight.get(p, 1.0) if pair_weight else 1.0 for p in ps])

    def epoch_batches(self, epoch: int, *, seed: int, batch_size: int, max_pairs: int = 0):
        return bucket_batches({n: self.weight_of[tag] * self.scale[n] for n, (_, _, tag) in self.buckets.items()},
                              epoch=epoch, seed=seed, batch_size=batch_size, max_items=max_pairs)

    def batch(self, n: int, idx: torch.Tensor, batch_seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        src, tgt, _ = self.buckets[n]
        return src[idx], tgt[idx]


@torch.no_grad()
def evaluate(model: CoupletModel, pairs: list[Pair], vocab: Vocab, *, device: torch.device,
             batch_size: int = 512) -> dict[str, float]:
    """Mean cross-entropy and perplexity of the reference 下联, per source and overall."""
    model.eval()
    names = sorted({p.source for p in pairs})
    data = PairData(pairs, vocab, {s: 1.0 for s in names})
    sums: Counter = Counter()
    for n, (src_all, tgt_all, tag_all) in data.buckets.items():
        for i in range(0, len(src_all), batch_size):
            src, tgt = src_all[i:i + batch_size].to(device), tgt_all[i:i + batch_size].to(device)
            logits = model(src, shift_right(tgt, vocab.bos_id)).float()
            nll = seq_cross_entropy(logits, tgt, reduction="none").sum(dim=1).cpu()
            for tag, v in zip(tag_all[i:i + batch_size].tolist(), nll.tolist()):
                sums[f"nll/{tag}"] += v
                sums[f"chars/{tag}"] += n
    out = {}
    total_nll = total_chars = 0.0
    for i, name in enumerate(names):
        nll, chars = sums[f"nll/{i}"], sums[f"chars/{i}"]
        if chars:
            out[f"loss_{name}"] = nll / chars
            out[f"ppl_{name}"] = math.exp(nll / chars)
            total_nll, total_chars = total_nll + nll, total_chars + chars
    out["loss"] = total_nll / max(total_chars, 1)
    out["ppl"] = math.exp(out["loss"])
    model.train()
    return out


class CoupletTask:
    """上联 -> 下联 pairs from train.tsv/valid.tsv; selected on the real couplets' perplexity."""
    kind, best_key = "couplet", "ppl_couplet"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    @property
    def aligned_head(self) -> bool:
        return self.cfg.aligned_head and self.cfg.decoder

    def build_vocab(self) -> Vocab:
        counts: Counter = Counter()
        for p in read_pairs(Path(self.cfg.data) / "train.tsv"):
            counts.update(p.upper + p.lower)
        return Vocab.build(counts, min_count=self.cfg.min_count, max_size=self.cfg.max_vocab)

    def build_model(self, vocab: Vocab) -> torch.nn.Module:
        c = self.cfg
        return CoupletModel(ModelConfig(**shape(c, vocab), attention=c.attention, decoder=c.decoder,
                                        aligned_head=self.aligned_head))

    def load(self, vocab: Vocab) -> tuple[int, int]:
        c, weights, known = self.cfg, parse_sources(self.cfg.sources), set(vocab.chars())

        def usable(p: Pair) -> bool:
            return p.source in weights and len(p.upper) <= c.max_len

        def known_only(p: Pair) -> bool:
            return usable(p) and all(ch in known for ch in p.upper + p.lower)
        # Training keeps pairs with rare chars: they reach the encoder as <unk> (the path generation uses
        # for chars it does not know) and, in the 下联, are left out of the loss. Validation keeps to
        # in-vocabulary pairs, so perplexities of models with one vocabulary compare.
        train = [p for p in read_pairs(Path(c.data) / "train.tsv") if usable(p)]
        valid = _cap_per_source([p for p in read_pairs(Path(c.data) / "valid.tsv") if known_only(p)],
                                c.valid_max_pairs, key=lambda p: p.source)
        self.han_ids = torch.tensor([i >= len(RESERVED) and is_han(ch) for i, ch in enumerate(vocab.itos)])
        self.data = PairData(train, vocab, weights, pair_weight=structure_weights(train, c.structure_sampling))
        self.extra = {"lower_counts": lower_counts(train, vocab)}
        self.valid = valid or train[:1000]  # tiny corpora: measure on training pairs rather than nothing
        self.vocab = vocab
        return len(train), len(valid)

    def loss(self, model, item, device) -> tuple[torch.Tensor, int]:
        src, tgt = (t.to(device, non_blocking=True) for t in self.data.batch(item[0], item[1]))
        prev = shift_right(tgt, self.vocab.bos_id)
        unk = self.vocab.unk_id
        if self.cfg.unk_rate > 0:
            # Word dropout on the encoder side: the model learns to answer a 上联 char it cannot see,
            # which is what generation does with a char outside the vocabulary.
            hide = (torch.rand(src.shape, device=src.device) < self.cfg.unk_rate) & self.han_ids.to(src.device)[src]
            src = src.masked_fill(hide, unk)
        if self.cfg.prev_dropout > 0:
            # Word dropout on the decoder input (Bowman et al. 2016): with part of its own history
            # hidden, the decoder must lean on the aligned 上联 char, which is what a couplet needs.
            hide = torch.rand(prev.shape, device=prev.device) < self.cfg.prev_dropout
            hide[:, 0] = False
            prev = prev.masked_fill(hide, unk)
        # a 下联 char outside the vocabulary is <unk>: nothing to learn there (decoding never emits it)
        if not self.aligned_head:
            feat = model(src, prev, features=True)
            return projected_cross_entropy(model, feat, tgt, ignore_index=unk), tgt.numel()
        feat, aligned = model(src, prev, with_aligned=True, features=True)
        return (projected_cross_entropy(model, feat, tgt, ignore_index=unk)
                + projected_cross_entropy(model, aligned, tgt, ignore_index=unk)), tgt.numel()

    def evaluate(self, model, device) -> dict[str, float]:
        return evaluate(model, self.valid, self.vocab, device=device)


class ScorerTask(CoupletTask):
    """N vs 1: tell real (上联, 下联) pairs from corrupted ones; selected on validation loss."""
    kind, best_key = "scorer", "loss"

    def build_model(self, vocab: Vocab) -> torch.nn.Module:
        return ScorerModel(ScorerConfig(**shape(self.cfg, vocab)))

    def load(self, vocab: Vocab) -> tuple[int, int]:
        sizes = super().load(vocab)
        self.load_tones(vocab)
        return sizes

    def load_tones(self, vocab: Vocab) -> None:
        """The tone of each id and the pools of 平 and 仄 ids, for the tone-broken negatives."""
        from .prosody import PING, ZE, Prosody
        tones = Prosody.load(Path(self.cfg.data) / "prosody.json")
        self.tone_of = torch.tensor([{PING: 1, ZE: 2}.get(tones.tone(c) if i >= 3 else None, 0)
                                     for i, c in enumerate(vocab.itos)])
        self.pools = {t: torch.nonzero(self.tone_of == t).flatten() for t in (1, 2)}

    def corrupt(self, src: torch.Tensor, tgt: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """One negative 下联 per row: shuffled chars, another row's 下联, a last char of the 上联's
        own tone (broken 平仄), or two chars replaced at random."""
        b, n = tgt.shape
        kind = torch.randint(0, 4, (b,), generator=g)
        neg = tgt[torch.roll(torch.arange(b), 1)].clone()                          # mismatched
        if n > 1:
            perm = torch.rand(b, n, generator=g).argsort(dim=1)
            shuffled = tgt.gather(1, perm)
            neg = torch.where((kind == 0).unsqueeze(1), shuffled, neg)
        for t in (1, 2):
            rows = torch.nonzero((kind == 2) & (self.tone_of[src[:, -1]] == t)).flatten()
            if len(rows):
                pool = self.pools[t]
                neg[rows] = tgt[rows]
                neg[rows, -1] = pool[torch.randint(0, len(pool), (len(rows),), generator=g)]
        rows = torch.nonzero(kind == 3).flatten()
        if len(rows):
            neg[rows] = tgt[rows]
            pos = torch.randint(0, n, (len(rows), 2), generator=g)
            pool = torch.cat(list(self.pools.values()))
            for k in range(2):
                neg[rows, pos[:, k]] = pool[torch.randint(0, len(pool), (len(rows),), generator=g)]
        return neg

    def _batch(self, src, tgt, seed: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        neg = self.corrupt(src, tgt, torch.Generator().manual_seed(seed))
        label = torch.cat([torch.ones(len(src)), (neg != tgt).any(dim=1).logical_not().float()])
        return (torch.cat([src, src]).to(device), torch.cat([tgt, neg]).to(device), label.to(device))

    def loss(self, model, item, device) -> tuple[torch.Tensor, int]:
        src, tgt = self.data.batch(item[0], item[1])
        upper, lower, label = self._batch(src, tgt, item[2], device)
        return F.binary_cross_entropy_with_logits(model(upper, lower).float(), label), lower.numel()

    @torch.no_grad()
    def evaluate(self, model, device) -> dict[str, float]:
        model.eval()
        data = PairData(self.valid, self.vocab, {s: 1.0 for s in {p.source for p in self.valid}})
        total = correct = loss = 0.0
        for n, (src, tgt, _) in data.buckets.items():
            upper, lower, label = self._batch(src, tgt, n, device)
            logits = model(upper, lower).float()
            loss += F.binary_cross_entropy_with_logits(logits, label, reduction="sum").item()
            correct += ((logits > 0).float() == label).sum().item()
            total += len(label)
        model.train()
        return {"loss": loss / max(total, 1), "accuracy": correct / max(total, 1)}


def _cap_per_source(items: list, cap: int, key) -> list:
    if not cap:
        return items
    seen: Counter = Counter()
    out = []
    for it in items:
        seen[key(it)] += 1
        if seen[key(it)] <= cap:
            out.append(it)
    return out


