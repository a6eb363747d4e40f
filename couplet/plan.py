"""A poem's plan: one keyword per line (or per 联 of a 律诗), expanded from the user's seed, as
planning-based poetry generation does (Wang et al. 2016). Each line is then written with its own
keyword in the seed vector, so the poem moves through related images instead of circling one.

The table is built from the prepared poems by `python -m couplet export --poems` and shipped in the
poem checkpoint: the two-character words poems use (jieba), where in a poem each tends to come
(0 = first line, 1 = last: scenes early, feelings late), and for each frequent word or character
the words that share poems with it most (local mutual information, count × PMI).
"""
from __future__ import annotations

import json
import logging
import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from .text import is_han

MIN_POEMS = 30     # a word or char enters the table when this many poems use it
NEIGHBOURS = 24    # planned words kept per key
# function chars of classical verse (negation, question, connectives, modal adverbs): a word with
# one of them (不知, 何处, 如今, 自有) is grammar, not an image a line can be written around
FUNCTION_CHARS = set("不无莫勿未非何谁岂焉安奚如若似自此彼其之乃且而亦也矣哉乎者所是为已犹还却便只又更欲能得可须当从惟唯皆都曾将")


@dataclass
class PlanTable:
    words: list[str]                 # the words a plan may pick
    position: list[float]            # mean relative line of each word in the poems that use it
    share: list[float]               # share of the poems that use each word
    neighbours: Mapping[str, list[int]]  # key (word or char) -> indices into words, best first

    def to_checkpoint(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """The table as checkpoint parts: the strings for the JSON, the numbers as tensors for
        `lines.safetensors` (a JSON list of 230k ints would be most of a megabyte)."""
        keys = sorted(self.neighbours)
        rows = torch.full((len(keys), NEIGHBOURS), -1, dtype=torch.int32)
        for i, key in enumerate(keys):
            rows[i, :len(self.neighbours[key])] = torch.tensor(self.neighbours[key], dtype=torch.int32)
        return ({"words": self.words, "keys": keys},
                {"plan_neighbours": rows, "plan_position": torch.tensor(self.position, dtype=torch.float32),
                 "plan_share": torch.tensor(self.share, dtype=torch.float32)})

    @classmethod
    def from_checkpoint(cls, strings: dict, tables: dict[str, torch.Tensor]) -> "PlanTable":
        return cls(strings["words"], tables["plan_position"].tolist(), tables["plan_share"].tolist(),
                   _Rows(strings["keys"], tables["plan_neighbours"]))

    def related(self, word: str) -> list[int]:
        """Planned-word indices related to a seed word: its own row, else its chars' rows merged."""
        if word in self.neighbours:
            return self.neighbours[word]
        rows = [self.neighbours[c] for c in word if c in self.neighbours]
        merged = []
        for k in range(NEIGHBOURS):
            merged += [r[k] for r in rows if k < len(r)]
        return list(dict.fromkeys(merged))


class _Rows(Mapping):
    """key -> its neighbours' indices, read from the stored tensor when asked (building the whole
    dict at load took 0.1 s)."""

    def __init__(self, keys: list[str], rows: torch.Tensor):
        self.index, self.rows = {k: i for i, k in enumerate(keys)}, rows

    def __getitem__(self, key: str) -> list[int]:
        return [i for i in self.rows[self.index[key]].tolist() if i >= 0]

    def __iter__(self):
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def build_plan_table(poems_path: str | Path, *, min_poems: int = MIN_POEMS, min_shared: int = 3,
                     keep: int = NEIGHBOURS) -> PlanTable:
    """Count, over the prepared poems, which words and chars share a poem and where words stand."""
    import jieba
    jieba.setLogLevel(logging.WARNING)
    poems = []
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            poems.append(json.loads(line)["lines"])
    word_poems: Counter = Counter()
    position: Counter = Counter()
    per_poem = []
    for lines in tqdm(poems, desc="plan table: words of the poems", unit="poem", mininterval=5.0):
        first: dict[str, float] = {}
        for i, line in enumerate(lines):
            for w in jieba.lcut(line, HMM=False):
                if len(w) == 2 and all(is_han(c) and c not in FUNCTION_CHARS for c in w) and w not in first:
                    first[w] = i / max(1, len(lines) - 1)
        chars = {c for line in lines for c in line if is_han(c)}
        word_poems.update(first)
        position.update(first)
        per_poem.append((first, chars))
    words = sorted(w for w, k in word_poems.items() if k >= min_poems)
    index = {w: i for i, w in enumerate(words)}
    char_poems = Counter(c for _, chars in per_poem for c in chars)
    keys = set(words) | {c for c, k in char_poems.items() if k >= min_poems}
    pairs: Counter = Counter()
    for first, chars in tqdm(per_poem, desc="plan table: co-occurrence", unit="poem", mininterval=5.0):
        ws = [w for w in first if w in index]
        for key in [w for w in ws if w in keys] + [c for c in chars if c in keys]:
            pairs.update((key, w) for w in ws if w != key and not (len(key) == 1 and key in w))
    n = len(per_poem)
    scored: dict[str, list[tuple[float, int]]] = {}
    for (key, w), k in pairs.items():
        if k < min_shared:
            continue
        base = word_poems[key] if len(key) == 2 else char_poems[key]
        pmi = math.log(k * n / (base * word_poems[w]))
        if pmi > 0:
            scored.setdefault(key, []).append((k * pmi, index[w]))
    neighbours = {key: [i for _, i in sorted(row, reverse=True)[:keep]] for key, row in sorted(scored.items())}
    return PlanTable(words, [position[w] / word_poems[w] for w in words], [word_poems[w] / n for w in words],
                     neighbours)


def plan_lines(seed_words: list[str], n_lines: int, table: PlanTable, *, rng: random.Random) -> list[str]:
    """One keyword per line: the seed words first, then words related to them all (drawn among the
    three best, so different seeds give different plans), no two sharing a char; ordered by where
    poems put them (scenes before feelings); a 律诗 gets one per 联, shared by its two lines."""
    slots = 4 if n_lines == 8 else n_lines
    chosen = [w for w in dict.fromkeys(seed_words) if w][:slots]
    used = set("".join(chosen))
    while len(chosen) < slots:
        score: Counter = Counter()
        for w in chosen:
            row = table.related(w)
            for rank, i in enumerate(row):
                score[i] += 1.0 - rank / (len(row) + 1)
        options = [i for i, _ in score.most_common() if not set(table.words[i]) & used][:3]
        if not options:
            break
        pick = table.words[rng.choice(options)]
        chosen.append(pick)
        used |= set(pick)
    if not chosen:
        return []
    where = {w: i for i, w in enumerate(table.words)}
    # the user's first word stays first; the rest go where poems tend to put them
    rest = sorted(chosen[1:], key=lambda w: table.position[where[w]] if w in where else 0.5)
    chosen = chosen[:1] + rest
    while len(chosen) < slots:  # too few related words: the last keyword carries on
        chosen.append(chosen[-1])
    return [chosen[i * slots // n_lines] for i in range(n_lines)]
