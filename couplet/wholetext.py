"""The text the whole-couplet model (1 vs N) reads and writes, and its training keywords.

A couplet is written as `⑦春回大地千山秀｜福满人间万户欢`: a length token (the 上联's count of
Han characters, ①..⑳), the 上联, a separator, the 下联. The length token comes first so the
model knows how long the line it writes must be; generation forces it, and the 上联's layout
(where its commas go), then stops at the separator: the 下联 is the N-vs-N couplet model's.
The seed the model reads holds keywords of the couplet (jieba) or the heads of its clauses (藏头).
"""
from __future__ import annotations

import os
from pathlib import Path

from .corpus import read_pairs
from .fileio import atomic_write_text
from .text import is_han

LENGTH_TOKENS = "".join(chr(0x2460 + i) for i in range(20))  # ①..⑳
SEP = "｜"
SPECIAL = LENGTH_TOKENS + SEP
MAX_LENGTH = len(LENGTH_TOKENS)  # longest 上联 (Han chars) the model writes


def han_count(line: str) -> int:
    return sum(is_han(c) for c in line)


def length_token(n: int) -> str:
    return LENGTH_TOKENS[min(max(n, 1), MAX_LENGTH) - 1]


def whole_text(upper: str, lower: str) -> str:
    return length_token(han_count(upper)) + upper + SEP + lower


def layout_of(line: str) -> str:
    """The clause lengths of a line, e.g. 春风得意，万象更新 -> "4,4"."""
    parts, n = [], 0
    for c in line:
        if is_han(c):
            n += 1
        elif n:
            parts.append(n)
            n = 0
    if n:
        parts.append(n)
    return ",".join(map(str, parts))


def clause_heads(line: str) -> str:
    """The first Han char of each clause: 福满人间，华开盛世 -> 福华."""
    out, start = [], True
    for c in line:
        if is_han(c):
            if start:
                out.append(c)
            start = False
        else:
            start = True
    return "".join(out)


def _keywords_of(pair: tuple[str, str]) -> str:
    from .poetry import keywords
    return " ".join(keywords(pair[0] + "，" + pair[1], 4))


def couplet_keywords(data: str | Path, *, split: str = "train", source: str = "couplet", limit: int = 0,
                     processes: int | None = None) -> list[tuple[str, str, list[str]]]:
    """(上联, 下联, keywords) for every couplet of `source` in a split (the first `limit`); the
    keywords (jieba TF-IDF) are cached in whole-keywords[-split].tsv beside the split, reused
    while the pairs match."""
    pairs = [(p.upper, p.lower) for p in read_pairs(Path(data) / f"{split}.tsv") if p.source == source]
    pairs = pairs[:limit] if limit else pairs
    cache = Path(data) / ("whole-keywords.tsv" if split == "train" else f"whole-keywords-{split}.tsv")
    if cache.exists():
        rows = cache.read_text(encoding="utf-8").split("\n")[:-1]
        if len(rows) == len(pairs) and all(r.startswith(u + "\t" + w + "\t") for r, (u, w) in zip(rows, pairs)):
            return [(u, w, r.split("\t")[2].split()) for r, (u, w) in zip(rows, pairs)]
    from tqdm import tqdm
    procs = processes or min(8, os.cpu_count() or 1)
    if procs > 1 and len(pairs) > 20000:
        from multiprocessing import Pool
        with Pool(procs) as pool:
            kws = list(tqdm(pool.imap(_keywords_of, pairs, chunksize=2000), total=len(pairs),
                            desc="couplet keywords", unit="pair", mininterval=5.0))
    else:
        kws = [_keywords_of(p) for p in tqdm(pairs, desc="couplet keywords", unit="pair", mininterval=5.0)]
    atomic_write_text(cache, "".join(f"{u}\t{w}\t{k}\n" for (u, w), k in zip(pairs, kws)))
    return [(u, w, k.split()) for (u, w), k in zip(pairs, kws)]


def couplet_doubles(pairs, min_count: int = 5) -> str:
    """The chars the couplets double (年年, 处处) at least min_count times: the AA the 上联 may use."""
    from collections import Counter
    counts: Counter = Counter()
    for p in pairs:
        for line in (p.upper, p.lower):
            counts.update(a for a, b in zip(line, line[1:]) if a == b and is_han(a))
    return "".join(sorted(c for c, k in counts.items() if k >= min_count))
