"""Stock pairs: the adjacent chars the couplet model writes far more often than people do.

Beam search finds the likeliest 下联, and the likeliest are stock: over 20,000 training 上联 the
shipped model's first 下联 wrote 展宏 (展宏图), 毫泼 (挥毫泼墨), 州焕 (神州焕彩) and 欣逢 ten or more times as
often as people's 下联 hold them. `build` decodes training 上联 with the default decoding, counts each
pair of adjacent Han chars in what it wrote, and compares with how often the people's 下联 of the
training couplets hold the pair (scaled to as many pairs): a pair written at least MIN_COUNT times
and MIN_RATIO times as often as expected keeps log((written + 1) / (expected + 1)). A second round
decodes again with the table on and adds what is still overused (the first round's penalty moves
some lines onto the next stock pair).

Decoding subtracts `Settings.stock_penalty` times that from the search's log-prob of the second char
after the first (`CoupletSteps.guide`), so beam search stops collapsing onto stock lines; the
candidates keep the model's own scores. Off by default, by measurement (checkpoints/README.md): at
0.5 the 下联 of 1,000 test 上联 hold more distinct pairs (distinct-2 67.5% -> 74.4%) for a little
BLEU (3.43 -> 3.34), and readers kept them 18 times to 20: overused is not what readers mind (青山
and 明月 are overused against modern couplets too, and a line kept from them reads worse).

Stored beside the couplet model as `stock.safetensors`: `first` (K,), `second` (K,) ids and `value`
(K,), sorted by (first, second).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import torch

from .text import is_han
from .vocab import Vocab

FILE = "stock.safetensors"
MIN_COUNT = 4      # written fewer times, a pair's excess is noise
MIN_RATIO = 2.0    # written at least this many times as often as people write it


def pairs_of(line: str) -> list[str]:
    """The adjacent pairs of Han chars of a line (a comma splits them)."""
    return [line[i:i + 2] for i in range(len(line) - 1) if is_han(line[i]) and is_han(line[i + 1])]


def overused(written: Iterable[str], people: Counter, *, min_count: int = MIN_COUNT,
             min_ratio: float = MIN_RATIO) -> dict[str, float]:
    """Pair -> log of how many times as often the lines `written` hold it as people's lines, whose
    pair counts are `people`; only pairs written min_count times or more and min_ratio times as
    often as expected."""
    counts = Counter(p for line in written for p in pairs_of(line))
    scale = sum(counts.values()) / max(sum(people.values()), 1)
    out = {}
    for pair, c in counts.items():
        ratio = (c + 1.0) / (people[pair] * scale + 1.0)
        if c >= min_count and ratio >= min_ratio:
            out[pair] = math.log(ratio)
    return out


def merge(table: dict[str, float], more: dict[str, float]) -> dict[str, float]:
    """A later round's excess added to the table's."""
    return {p: table.get(p, 0.0) + more.get(p, 0.0) for p in set(table) | set(more)}


def to_tensors(table: dict[str, float], vocab: Vocab) -> dict[str, torch.Tensor]:
    """The table as stored; pairs with a char outside the vocabulary are left out."""
    rows = sorted((vocab.stoi[p[0]], vocab.stoi[p[1]], v) for p, v in table.items()
                  if p[0] in vocab.stoi and p[1] in vocab.stoi)
    return {"first": torch.tensor([r[0] for r in rows], dtype=torch.int32),
            "second": torch.tensor([r[1] for r in rows], dtype=torch.int32),
            "value": torch.tensor([r[2] for r in rows], dtype=torch.float32)}


class StockPairs:
    """The table, ready for decoding: `lower(scores, prev, weight)` takes each row's costs off its scores."""

    def __init__(self, tensors: dict[str, torch.Tensor], vocab_size: int):
        first = tensors["first"].long()
        if len(first) and (int(first.max()) >= vocab_size or int(tensors["second"].max()) >= vocab_size):
            raise ValueError(f"the stock table names ids beyond the vocabulary of {vocab_size}")
        self.vocab_size = vocab_size
        self.starts = torch.zeros(vocab_size + 1, dtype=torch.long)
        self.starts[1:] = torch.bincount(first, minlength=vocab_size).cumsum(0)
        self.second, self.value = tensors["second"].long(), tensors["value"].float()

    def __len__(self) -> int:
        return len(self.value)

    def entries(self, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """The (row, char, cost) entries for rows whose last chars are prev (R,): each stock pair that
        starts with a row's char; None when there is none."""
        lo, hi = self.starts[prev], self.starts[prev + 1]
        sizes = hi - lo
        total = int(sizes.sum())
        if not total:
            return None
        row = torch.repeat_interleave(torch.arange(len(prev)), sizes)
        # each entry's index in the table: its row's start plus its rank within the row
        at = torch.repeat_interleave(lo - (sizes.cumsum(0) - sizes), sizes) + torch.arange(total)
        return row, self.second[at], self.value[at]

    def lower(self, scores: torch.Tensor, prev: torch.Tensor, weight: float) -> torch.Tensor:
        """scores (R, V) less weight x each row's costs: a new tensor where a row has any (only the
        stock entries are touched, not a dense (R, V) cost: a batch's rows are megabytes), else scores itself."""
        found = self.entries(prev)
        if found is None:
            return scores
        row, char, cost = found     # each (row, char) once: a row has one last char, a pair one entry
        return scores.index_put((row, char), scores[row, char] - weight * cost)


class WrittenPairs(list):
    """The 下联 a batch has written (a list, so a resumed batch restores it with the other resume state,
    `couplet.batch`), and how often each adjacent pair of chars came in them. With
    `Settings.shared_pair` the search pays that weight x log(1 + count) for a char that makes a pair
    the batch wrote before: the stock table's cost, counted in the batch as it goes, so a file of
    unrelated 上联 stops getting 春风, 大地, 盛世 line after line. The page's one line has no batch."""

    def __init__(self, lines: Iterable[str] = ()):
        super().__init__()
        self.pairs: Counter = Counter()
        self._table: tuple[int, StockPairs | None] = (-1, None)
        self.update(lines)

    def update(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.append(line)
            self.pairs.update(pairs_of(line))

    def table(self, vocab: Vocab) -> StockPairs | None:
        """The costs as a stock table (None before any pair): log(1 + count) per pair; built again
        only after new lines."""
        if self._table[0] != len(self):
            costs = {p: math.log1p(c) for p, c in self.pairs.items()}
            self._table = (len(self), StockPairs(to_tensors(costs, vocab), len(vocab)) if costs else None)
        return self._table[1]


ROUNDS = 2
LINES = 20_000     # training 上联 decoded a round: ~12 min on one CPU core in fp32
BUILD_WEIGHT = 0.5  # the weight later rounds decode with: the one measured (off by default in Settings)


def build(gen, uppers: list[str], people: Iterable[str], *, rounds: int = ROUNDS, weight: float | None = None,
          progress: bool = True) -> dict[str, float]:
    """The stock table of a couplet generator (`CoupletGenerator`, its model as decoding runs it):
    `uppers` decoded with the default decoding, round after round, each round with the table so far
    at `weight` (default BUILD_WEIGHT), against the pair counts of `people` (the training
    下联). The generator's own table is set aside while it runs and restored after."""
    from .evaluate import best_lowers
    from .requests import Settings
    counts = Counter(p for line in people for p in pairs_of(line))
    weight = BUILD_WEIGHT if weight is None else weight
    table: dict[str, float] = {}
    kept = gen.stock
    try:
        for _ in range(rounds):
            gen.stock = StockPairs(to_tensors(table, gen.vocab), len(gen.vocab)) if table else None
            # the model's own choices, line by line: no cost for what the batch wrote before
            written = best_lowers(gen, uppers, Settings.for_request(batch=True, stock_penalty=weight, shared_pair=0.0),
                                  progress)
            table = merge(table, overused(written, counts))
    finally:
        gen.stock = kept
    return table
