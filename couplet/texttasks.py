"""The training tasks over whole texts: the seeded poem model (`poem`), the whole-couplet model
(`whole`, the same structure over `⑦上联｜下联` texts), the title model (`title`, N vs M) and the
line-pair scorer over poems (`lines`, N vs 1). Batching and the pair tasks are in `couplet.tasks`.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .corpus import DYNASTIES, Pair, read_pairs, split_of
from .model import PoemConfig, PoemModel, shift_right
from .poetry import format_poem
from .tasks import (PairData, ScorerTask, bucket_batches, parse_sources, projected_cross_entropy, seq_cross_entropy,
                    shape)
from .vocab import Vocab

if TYPE_CHECKING:
    from .trainer import TrainConfig


class PoemData:
    """Texts grouped by length, with candidate seed chars for each: poems (format_poem) or whole
    couplets (couplet.wholetext). rows: (text, keywords, heads)."""

    def __init__(self, rows: list[tuple[str, list[str], str]], vocab: Vocab, max_seed: int, candidates: int = 8,
                 mix: tuple[float, float, float] = (0.15, 0.15, 0.0), weights: list[float] | None = None):
        self.max_seed, self.mix = max_seed, mix
        by_len: dict[int, list[tuple[list[int], list[int], list[int], float]]] = {}
        for i, (text, words, heads) in enumerate(rows):
            kw = [c for w in words for c in w if c in vocab.stoi]
            kw = list(dict.fromkeys(kw))[:candidates] or [heads[0]]
            by_len.setdefault(len(text), []).append((vocab.encode(text), vocab.encode("".join(kw)),
                                                     vocab.encode(heads[:max_seed]), 1.0 if weights is None else weights[i]))
        # how often an epoch takes each row (above 1 repeats it, below 1 keeps it with that chance)
        self.weights = {n: torch.tensor([r[3] for r in rows_n]) for n, rows_n in by_len.items()}
        self.buckets = {}
        for n, rows_n in sorted(by_len.items()):
            text = torch.tensor([r[0] for r in rows_n], dtype=torch.long)
            kw = torch.zeros(len(rows_n), candidates, dtype=torch.long)
            heads = torch.zeros(len(rows_n), max_seed, dtype=torch.long)
            for i, (_, k, h, _) in enumerate(rows_n):
                kw[i, :len(k)] = torch.tensor(k)
                heads[i, :len(h)] = torch.tensor(h)
            self.buckets[n] = (text, kw, heads)

    def epoch_batches(self, epoch: int, *, seed: int, batch_size: int, max_pairs: int = 0):
        return bucket_batches({n: self.weights[n] for n in self.buckets},
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

    def dynasty_weights(self) -> dict[str, float] | None:
        """--sources for poems: weights by dynasty (e.g. tang:1,song:0.1; a dynasty not named is left
        out), or None (a spec that names none, such as all: every poem once)."""
        named = {k: v for k, v in parse_sources(self.cfg.sources).items() if k in DYNASTIES}
        kept = {k: v for k, v in named.items() if v > 0}
        if named and not kept:
            raise ValueError(f"--sources {self.cfg.sources}: every dynasty named has weight 0")
        return kept or None

    def load(self, vocab: Vocab) -> tuple[int, int]:
        known = set(vocab.chars())
        weights, poems = self.dynasty_weights(), self._train_poems()
        if weights and not all("dynasty" in p for p in poems):
            raise ValueError(f"--sources {self.cfg.sources}: {self.cfg.data}/poems.jsonl has no dynasty field; "
                             "run `python -m couplet prepare` again")

        def usable(p: dict) -> bool:
            return (weights is None or p.get("dynasty") in weights) and all(
                ch in known for line in p["lines"] for ch in line)
        train = [p for p in poems if usable(p)]
        valid = [p for p in self._poems("valid") if usable(p)] or train[:500]
        self.data = PoemData(self.rows(train), vocab, self.cfg.max_seed,
                             weights=[weights[p["dynasty"]] for p in train] if weights else None)
        # validation weighs each dynasty as training does: (name, weight, its poems, at most
        # valid_max_pairs of each)
        parts = [(d, w, [p for p in valid if p["dynasty"] == d]) for d, w in weights.items()] if weights else [
            ("", 1.0, valid)]
        cap = self.cfg.valid_max_pairs or None
        self.valid_parts = [(d, w, PoemData(self.rows(ps[:cap]), vocab, self.cfg.max_seed)) for d, w, ps in parts if ps]
        self.vocab = vocab
        return len(train), sum(len(ps[:cap]) for _, _, ps in parts)

    @staticmethod
    def rows(poems: list[dict]) -> list[tuple[str, list[str], str]]:
        return [(format_poem(p["lines"]), p.get("keywords", []), "".join(line[0] for line in p["lines"]))
                for p in poems]

    def loss(self, model, item, device) -> tuple[torch.Tensor, int]:
        seed, text = (t.to(device, non_blocking=True) for t in self.data.batch(*item))
        feat = model(seed, shift_right(text, self.vocab.bos_id), features=True)
        return projected_cross_entropy(model, feat, text), text.numel()

    @torch.no_grad()
    def evaluate(self, model, device) -> dict[str, float]:
        """Perplexity per char of the validation poems, each dynasty weighed as in training (and,
        when --sources weighs them, each dynasty's own as ppl_<name>)."""
        model.eval()
        out, nll, chars = {}, 0.0, 0.0
        for name, weight, data in self.valid_parts:
            part_nll = part_chars = 0.0
            for n, (text, _, _) in data.buckets.items():
                for i in range(0, len(text), 256):
                    seed, tgt = (t.to(device) for t in data.batch(n, torch.arange(i, min(i + 256, len(text))), None))
                    logits = model(seed, shift_right(tgt, self.vocab.bos_id)).float()
                    part_nll += seq_cross_entropy(logits, tgt, reduction="sum").item()
                    part_chars += tgt.numel()
            if name:
                out[f"ppl_{name}"] = math.exp(part_nll / max(part_chars, 1))
            nll, chars = nll + weight * part_nll, chars + weight * part_chars
        model.train()
        loss = nll / max(chars, 1)
        return {"loss": loss, "ppl": math.exp(loss), **out}


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
        self.valid_parts = [("", 1.0, PoemData(valid_rows or train[:500], vocab, c.max_seed, mix=self.MIX))]
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
        feat = model(src, shift_right(tgt, self.vocab.bos_id), features=True)
        return projected_cross_entropy(model, feat, tgt, ignore_index=Vocab.pad_id), int((tgt > 0).sum())

    @torch.no_grad()
    def evaluate(self, model, device) -> dict[str, float]:
        model.eval()
        nll = chars = 0.0
        for n, (src_all, tgt_all) in self.valid.buckets.items():
            for i in range(0, len(src_all), 256):
                src, tgt = src_all[i:i + 256].to(device), tgt_all[i:i + 256].to(device)
                logits = model(src, shift_right(tgt, self.vocab.bos_id)).float()
                nll += seq_cross_entropy(logits, tgt, ignore_index=Vocab.pad_id, reduction="sum").item()
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


