"""The training tasks: data, batching, loss and validation for each model the loop trains.

`couplet` (上联 -> 下联 pairs, the N-vs-N model or the tagger), `poem` (the seeded 1-vs-N language
model), `whole` (the same structure over whole couplets), `title` (N vs M: poem -> title) and
`scorer` (N vs 1: real pairs against corrupted ones). Each task builds its vocabulary
and model, loads its data, and gives the loss of one batch and its validation metrics; the loop in
`couplet.trainer` is the same for all.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .corpus import Pair, read_pairs, split_of
from .model import (ARCHS, CoupletModel, ModelConfig, PoemConfig, PoemModel, ScorerConfig, ScorerModel,
                    shift_right)
from .poetry import format_poem
from .text import is_han
from .vocab import RESERVED, Vocab

if TYPE_CHECKING:
    from .trainer import TrainConfig


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


class PoemData:
    """Texts grouped by length, with candidate seed chars for each: poems (format_poem) or whole
    couplets (couplet.wholetext). rows: (text, keywords, heads)."""

    def __init__(self, rows: list[tuple[str, list[str], str]], vocab: Vocab, max_seed: int, candidates: int = 8,
                 mix: tuple[float, float, float] = (0.15, 0.15, 0.0)):
        self.max_seed, self.mix = max_seed, mix
        by_len: dict[int, list[tuple[list[int], list[int], list[int]]]] = {}
        for text, words, heads in rows:
            kw = [c for w in words for c in w if c in vocab.stoi]
            kw = list(dict.fromkeys(kw))[:candidates] or [heads[0]]
            by_len.setdefault(len(text), []).append(
                (vocab.encode(text), vocab.encode("".join(kw)), vocab.encode(heads[:max_seed])))
        self.buckets = {}
        for n, rows_n in sorted(by_len.items()):
            text = torch.tensor([r[0] for r in rows_n], dtype=torch.long)
            kw = torch.zeros(len(rows_n), candidates, dtype=torch.long)
            heads = torch.zeros(len(rows_n), max_seed, dtype=torch.long)
            for i, (_, k, h) in enumerate(rows_n):
                kw[i, :len(k)] = torch.tensor(k)
                heads[i, :len(h)] = torch.tensor(h)
            self.buckets[n] = (text, kw, heads)

    def epoch_batches(self, epoch: int, *, seed: int, batch_size: int, max_pairs: int = 0):
        return bucket_batches({n: torch.ones(len(t)) for n, (t, _, _) in self.buckets.items()},
                              epoch=epoch, seed=seed, batch_size=batch_size, max_items=max_pairs)

    def batch(self, n: int, idx: torch.Tensor, batch_seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(seed (B, max_seed), text (B, T)). Seeds mix the generation modes by `mix` = (first,
        heads, empty): the first char, the heads of an acrostic, no seed at all; keywords
        otherwise. batch_seed None: the first keyword candidates, for a deterministic validation."""
        text, kw, heads = (t[idx] for t in self.buckets[n])
        b, s = len(idx), self.max_seed
        if batch_seed is None:
            return kw[:, :s].clone(), text
        g = torch.Generator().manual_seed(batch_seed)
        real = kw != 0
        order = torch.rand(kw.shape, generator=g).masked_fill(~real, 2.0).argsort(dim=1)
        picked = kw.gather(1, order)[:, :s]
        k = (torch.rand(b, generator=g) * real.sum(1).clamp(max=s)).long() + 1   # 1..available
        seed = picked.masked_fill(torch.arange(s).unsqueeze(0) >= k.unsqueeze(1), 0)
        mode = torch.rand(b, generator=g)
        first = torch.zeros_like(seed)
        first[:, 0] = text[:, 0]
        p_first, p_heads, p_empty = self.mix
        seed = torch.where((mode < p_first).unsqueeze(1), first, seed)
        seed = torch.where((mode > 1 - p_heads).unsqueeze(1), heads, seed)
        if p_empty > 0:
            seed = seed.masked_fill(((mode >= p_first) & (mode < p_first + p_empty)).unsqueeze(1), 0)
        return seed, text


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
            nll = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none").sum(dim=1).cpu()
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
            logits = model(src, prev)
            return F.cross_entropy(logits.float().transpose(1, 2), tgt, ignore_index=unk), tgt.numel()
        logits, aligned = model(src, prev, with_aligned=True)
        return (F.cross_entropy(logits.float().transpose(1, 2), tgt, ignore_index=unk)
                + F.cross_entropy(aligned.float().transpose(1, 2), tgt, ignore_index=unk)), tgt.numel()

    def evaluate(self, model, device) -> dict[str, float]:
        return evaluate(model, self.valid, self.vocab, device=device)


class PoemTask:
    """Seeded poem language model over poems.jsonl (split by hash of the first line)."""
    kind, best_key = "poem", "ppl"

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg

    def _poems(self, split: str) -> list[dict]:
        out = []
        with open(Path(self.cfg.data) / "poems.jsonl", encoding="utf-8") as f:
            for line in f:
                p = json.loads(line)
                if split_of(p["lines"][0]) == split:
                    out.append(p)
        return out

    def _train_poems(self) -> list[dict]:
        """The train split; for a tiny corpus (the built-in sample) with none there, every poem."""
        return self._poems("train") or [p for split in ("valid", "test") for p in self._poems(split)]

    def build_vocab(self) -> Vocab:
        counts: Counter = Counter()
        for p in self._train_poems():
            counts.update(format_poem(p["lines"]))
        return Vocab.build(counts, min_count=self.cfg.min_count, max_size=self.cfg.max_vocab)

    def build_model(self, vocab: Vocab) -> torch.nn.Module:
        return PoemModel(PoemConfig(**shape(self.cfg, vocab), max_seed=self.cfg.max_seed))

    def load(self, vocab: Vocab) -> tuple[int, int]:
        known = set(vocab.chars())

        def usable(p: dict) -> bool:
            return all(ch in known for line in p["lines"] for ch in line)
        train = [p for p in self._train_poems() if usable(p)]
        valid = [p for p in self._poems("valid") if usable(p)]
        if self.cfg.valid_max_pairs:
            valid = valid[: self.cfg.valid_max_pairs]
        self.data = PoemData(self.rows(train), vocab, self.cfg.max_seed)
        self.valid = PoemData(self.rows(valid or train[:500]), vocab, self.cfg.max_seed)
        self.vocab = vocab
        return len(train), len(valid)

    @staticmethod
    def rows(poems: list[dict]) -> list[tuple[str, list[str], str]]:
        return [(format_poem(p["lines"]), p.get("keywords", []), "".join(line[0] for line in p["lines"]))
                for p in poems]

    def loss(self, model, item, device) -> tuple[torch.Tensor, int]:
        seed, text = (t.to(device, non_blocking=True) for t in self.data.batch(*item))
        logits = model(seed, shift_right(text, self.vocab.bos_id))
        return F.cross_entropy(logits.float().transpose(1, 2), text), text.numel()

    @torch.no_grad()
    def evaluate(self, model, device) -> dict[str, float]:
        model.eval()
        nll = chars = 0.0
        for n, (text, _, _) in self.valid.buckets.items():
            for i in range(0, len(text), 256):
                seed, tgt = (t.to(device) for t in self.valid.batch(n, torch.arange(i, min(i + 256, len(text))), None))
                logits = model(seed, shift_right(tgt, self.vocab.bos_id)).float()
                nll += F.cross_entropy(logits.transpose(1, 2), tgt, reduction="sum").item()
                chars += tgt.numel()
        model.train()
        loss = nll / max(chars, 1)
        return {"loss": loss, "ppl": math.exp(loss)}


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


class LineScorerTask(ScorerTask):
    """N vs 1 over poems: consecutive lines (line i, line i + 1) of real poems against corrupted
    ones (another poem's line, shuffled, tone-broken, two chars replaced): the coherence score
    of the poem generator's line-by-line choice. Vocabulary and split as the poem model's."""

    def __init__(self, cfg: TrainConfig):
        super().__init__(cfg)
        self.poems = PoemTask(cfg)

    def build_vocab(self) -> Vocab:
        return self.poems.build_vocab()

    def load(self, vocab: Vocab) -> tuple[int, int]:
        known = set(vocab.chars())

        def pairs(poems: list[dict]) -> list[Pair]:
            return [Pair(a, b, "lines") for p in poems for a, b in zip(p["lines"], p["lines"][1:])
                    if len(a) == len(b) and all(ch in known for ch in a + b)]
        train = pairs(self.poems._train_poems())
        valid = pairs(self.poems._poems("valid"))[: self.cfg.valid_max_pairs or None]
        self.data = PairData(train, vocab, {"lines": 1.0})
        self.valid, self.vocab = valid or train[:1000], vocab
        self.load_tones(vocab)
        return len(train), len(valid)


class WholeTask(PoemTask):
    """A whole couplet from a wish (1 vs N): the poem model's structure over `⑦上联｜下联` texts
    (couplet.wholetext), seeded by the couplet's keywords (50%), the heads of its clauses (25%,
    for 藏头联), its first char (10%) or nothing (15%, the baseline of the theme-fit score)."""
    kind, best_key = "whole", "ppl"
    MIX = (0.10, 0.25, 0.15)

    def build_vocab(self) -> Vocab:
        from .wholetext import SPECIAL
        counts: Counter = Counter()
        for p in read_pairs(Path(self.cfg.data) / "train.tsv"):
            if p.source == "couplet":
                counts.update(p.upper + p.lower)
        top = max(counts.values(), default=1) + 1
        counts.update({c: top for c in SPECIAL})  # always in, whatever the corpus
        return Vocab.build(counts, min_count=self.cfg.min_count, max_size=self.cfg.max_vocab)

    def load(self, vocab: Vocab) -> tuple[int, int]:
        from .wholetext import MAX_LENGTH, clause_heads, couplet_keywords, han_count, whole_text
        known, c = set(vocab.chars()), self.cfg

        def usable(u: str, w: str) -> bool:
            return len(u) <= c.max_len and han_count(u) <= MAX_LENGTH and all(ch in known for ch in u + w)

        def row(u: str, w: str, kw: list[str]) -> tuple[str, list[str], str]:
            return whole_text(u, w), kw, clause_heads(u) + clause_heads(w)
        train = [row(u, w, kw) for u, w, kw in couplet_keywords(c.data) if usable(u, w)]
        valid_rows = [row(u, w, kw) for u, w, kw in couplet_keywords(c.data, split="valid") if usable(u, w)]
        valid_rows = valid_rows[: c.valid_max_pairs] if c.valid_max_pairs else valid_rows
        self.data = PoemData(train, vocab, c.max_seed, mix=self.MIX)
        self.valid = PoemData(valid_rows or train[:500], vocab, c.max_seed, mix=self.MIX)
        self.vocab = vocab
        self.extra = {"layouts": _layouts(text for text, _, _ in train)}
        return len(train), len(valid_rows)


class TitleTask(PoemTask):
    """N vs M: a poem's body in, its title out (chinese-poetry titles, noise titles left out)."""
    kind, best_key = "title", "ppl"

    def build_vocab(self) -> Vocab:
        from .title import clean_title
        counts: Counter = Counter()
        for p in self._train_poems():
            counts.update(format_poem(p["lines"]) + (clean_title(p.get("title", "")) or ""))
        return Vocab.build(counts, min_count=self.cfg.min_count, max_size=self.cfg.max_vocab)

    def build_model(self, vocab: Vocab) -> torch.nn.Module:
        from .model import TitleConfig, TitleModel
        return TitleModel(TitleConfig(**shape(self.cfg, vocab)))

    def load(self, vocab: Vocab) -> tuple[int, int]:
        from .title import END, MAX_PER_TITLE, clean_title
        known = set(vocab.chars())

        def rows(poems: list[dict]) -> list[tuple[str, str]]:
            out, seen = [], Counter()
            for p in poems:
                title, body = clean_title(p.get("title", "")), format_poem(p["lines"])
                if title and all(ch in known for ch in body + title):
                    seen[title] += 1
                    if seen[title] <= MAX_PER_TITLE:  # common titles kept, not dominant
                        out.append((body, title + END))
            return out
        train, valid = rows(self._train_poems()), rows(self._poems("valid"))
        valid = valid[: self.cfg.valid_max_pairs] if self.cfg.valid_max_pairs else valid
        self.data, self.valid = TitleData(train, vocab), TitleData(valid or train[:500], vocab)
        self.vocab = vocab
        return len(train), len(valid)

    def loss(self, model, item, device) -> tuple[torch.Tensor, int]:
        src, tgt = (t.to(device, non_blocking=True) for t in self.data.batch(item[0], item[1]))
        logits = model(src, shift_right(tgt, self.vocab.bos_id))
        return F.cross_entropy(logits.float().transpose(1, 2), tgt, ignore_index=Vocab.pad_id), int((tgt > 0).sum())

    @torch.no_grad()
    def evaluate(self, model, device) -> dict[str, float]:
        model.eval()
        nll = chars = 0.0
        for n, (src_all, tgt_all) in self.valid.buckets.items():
            for i in range(0, len(src_all), 256):
                src, tgt = src_all[i:i + 256].to(device), tgt_all[i:i + 256].to(device)
                logits = model(src, shift_right(tgt, self.vocab.bos_id)).float()
                nll += F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=Vocab.pad_id, reduction="sum").item()
                chars += (tgt > 0).sum().item()
        model.train()
        loss = nll / max(chars, 1)
        return {"loss": loss, "ppl": math.exp(loss)}


class TitleData:
    """(poem, title) pairs grouped by poem length; titles padded with 0 (ignored by the loss)."""

    def __init__(self, rows: list[tuple[str, str]], vocab: Vocab):
        by_len: dict[int, list[tuple[str, str]]] = {}
        for body, title in rows:
            by_len.setdefault(len(body), []).append((body, title))
        self.buckets = {}
        for n, items in sorted(by_len.items()):
            width = max(len(t) for _, t in items)
            tgt = torch.zeros(len(items), width, dtype=torch.long)
            for i, (_, t) in enumerate(items):
                tgt[i, :len(t)] = torch.tensor(vocab.encode(t))
            self.buckets[n] = (torch.tensor([vocab.encode(b) for b, _ in items], dtype=torch.long), tgt)

    def epoch_batches(self, epoch: int, *, seed: int, batch_size: int, max_pairs: int = 0):
        return bucket_batches({n: torch.ones(len(s)) for n, (s, _) in self.buckets.items()},
                              epoch=epoch, seed=seed, batch_size=batch_size, max_items=max_pairs)

    def batch(self, n: int, idx: torch.Tensor, batch_seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        src, tgt = self.buckets[n]
        tgt = tgt[idx]
        return src[idx], tgt[:, :int((tgt > 0).sum(1).max())]  # no all-padding columns


def _layouts(texts) -> dict[str, str]:
    """The most common clause layout of the training 上联 for each length: "11" -> "4,7"."""
    from .wholetext import SEP, han_count, layout_of
    by_len: dict[int, Counter] = {}
    for t in texts:
        upper = t[1:t.index(SEP)]
        by_len.setdefault(han_count(upper), Counter())[layout_of(upper)] += 1
    return {str(n): c.most_common(1)[0][0] for n, c in sorted(by_len.items())}


TASKS = {"couplet": CoupletTask, "poem": PoemTask, "scorer": ScorerTask, "lines": LineScorerTask, "whole": WholeTask,
         "title": TitleTask}


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


