"""Readers for the real corpora and the `prepare` step that turns them into training pairs.

Inputs (never copied into the repository; paths come from the command line):
- chinese-poetry: the npm tarball (.tgz, read in place), its unpacked `dist/` directory, or the
  GitHub repository layout (`全唐诗/poet.tang.0.json`, `strains/json/...`);
- couplet directories in the couplet-dataset layout (`in.txt`/`out.txt`, or `train/in.txt` ...);
- the 平水韵 table (`origin.txt`).
"""
from __future__ import annotations

import hashlib
import json
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from .fileio import atomic_write_text
from .poetry import keywords
from .prosody import PING, ZE, Prosody, build_tones, read_pingshuiyun
from .text import PUNCT, clean_corpus_line, is_clean, is_han, to_simplified

DYNASTIES = ("tang", "song")   # the chinese-poetry collections; `prepare` tags each poem with its own
POEM_FILE = re.compile(rf"(^|/)poet\.({'|'.join(DYNASTIES)})\.\d+\.json$")
STRAINS_FILE = re.compile(rf"(^|/)strains/json/poet\.({'|'.join(DYNASTIES)})\.\d+\.json$")
SPLIT_PER_MILLE = {"test": 20, "valid": 20}  # by hash of the 上联, the same for every source


@dataclass(frozen=True)
class Pair:
    upper: str
    lower: str
    source: str


def split_of(upper: str) -> str:
    """Deterministic split by hash of the 上联, so one 上联 never lands in two splits."""
    h = int(hashlib.sha1(upper.encode("utf-8")).hexdigest()[:8], 16) % 1000
    if h < SPLIT_PER_MILLE["test"]:
        return "test"
    if h < SPLIT_PER_MILLE["test"] + SPLIT_PER_MILLE["valid"]:
        return "valid"
    return "train"


# ---------------------------------------------------------------- chinese-poetry
def _json_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every poem and strains JSON file in a tarball or a directory tree."""
    def wanted(name: str) -> bool:
        return ("/error/" not in name and (bool(STRAINS_FILE.search(name)) or bool(POEM_FILE.search(name))))
    if path.is_file():
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.isfile() and wanted(m.name):
                    yield m.name, tar.extractfile(m).read()
    elif path.is_dir():
        for p in sorted(path.rglob("*.json")):
            name = p.relative_to(path).as_posix()
            if wanted("/" + name):
                yield name, p.read_bytes()
    else:
        raise FileNotFoundError(f"chinese-poetry data not found at {path}")


def read_poetry(path: str | Path) -> tuple[list[dict], dict[str, list[str]]]:
    """All poems (traditional, as stored, each with its "dynasty": tang or song, from its file's
    name) and the 平仄 strains by poem id."""
    poems, strains = [], {}
    for name, data in tqdm(_json_members(Path(path)), desc="read poetry", unit="file"):
        items = json.loads(data.decode("utf-8"))
        if STRAINS_FILE.search("/" + name):
            for it in items:
                strains[it["id"]] = it.get("strains", [])
        else:
            dynasty = POEM_FILE.search("/" + name).group(2)
            poems.extend({**it, "dynasty": dynasty} for it in items if isinstance(it.get("paragraphs"), list))
    if not poems:
        raise ValueError(f"no poet.tang/poet.song JSON files found in {path}")
    return poems, strains


def count_strains(trad_lines: list[str], marks: list[str], simp_lines: list[str], counts: dict) -> None:
    """Add the poem's 平/仄 marks to per-character counts (simplified chars, aligned by position)."""
    for trad, mark, simp in zip(trad_lines, marks, simp_lines):
        if len(trad) == len(mark) == len(simp):
            for ch, m in zip(simp, mark):
                if m in (PING, ZE) and is_han(ch):
                    counts.setdefault(ch, Counter())[m] += 1


def poem_lines(text: str) -> list[str] | None:
    """Split a simplified poem into clauses; None if it holds anything but Han and punctuation."""
    if not is_clean(text):
        return None
    return [c for c in re.split(f"[{PUNCT}]", text) if c]


def mine_poem_pairs(sentences: list[str]) -> Iterator[tuple[str, str, str]]:
    """Pairs `A，B` from each sentence; the 颔联/颈联 of an 8-line 五律/七律 are tagged lvshi."""
    clauses = [poem_lines(s) for s in sentences]
    if any(c is None for c in clauses):
        return
    flat = [x for c in clauses for x in c]
    is_lvshi = (len(flat) == 8 and len({len(x) for x in flat}) == 1 and len(flat[0]) in (5, 7)
                and all(len(c) == 2 for c in clauses))
    for i, c in enumerate(clauses):
        if len(c) == 2 and len(c[0]) == len(c[1]):
            yield c[0], c[1], "lvshi" if is_lvshi and i in (1, 2) else "poem"


# ---------------------------------------------------------------- couplets
def couplet_files(path: Path) -> list[tuple[Path, Path]]:
    """in/out file pairs of a couplet-dataset directory (flat, or with train/ test/ subfolders)."""
    found = [(p.parent / "in.txt", p.parent / "out.txt") for p in sorted(path.rglob("in.txt"))
             if (p.parent / "out.txt").exists()]
    if not found:
        raise FileNotFoundError(f"no in.txt/out.txt pair under {path}")
    return found


def read_couplets(path: str | Path, drops: Counter, max_len: int) -> Iterator[tuple[str, str]]:
    for fin, fout in couplet_files(Path(path)):
        ins = fin.read_text(encoding="utf-8-sig").splitlines()
        outs = fout.read_text(encoding="utf-8-sig").splitlines()
        if len(ins) != len(outs):
            raise ValueError(f"{fin} has {len(ins)} lines but {fout} has {len(outs)}")
        for a, b in tqdm(zip(ins, outs), total=len(ins), desc=f"read {fin.parent.name}", unit="pair"):
            reason = pair_problem(a := clean_corpus_line(a), b := clean_corpus_line(b), max_len)
            if reason:
                drops[reason] += 1
            else:
                yield a, b


def pair_problem(a: str, b: str, max_len: int) -> str | None:
    """Why a pair is unusable for training, or None."""
    if not a or not b:
        return "empty"
    if len(a) != len(b):
        return "unequal_length"
    if not (is_clean(a) and is_clean(b)):
        return "junk_characters"
    if any((x in PUNCT) != (y in PUNCT) for x, y in zip(a, b)):
        return "punctuation_misaligned"
    if len(a) > max_len:
        return "too_long"
    if a == b:
        return "identical_lines"
    return None


# ---------------------------------------------------------------- prepare
def prepare(*, poetry: str | Path | None, couplets: Iterable[str | Path], pingshuiyun: str | Path,
            out_dir: str | Path, max_len: int = 64) -> dict:
    """Build train/valid/test pairs, the prosody table and the poem list; return the summary."""
    out = Path(out_dir)
    drops: Counter = Counter()
    pairs: dict[tuple[str, str], str] = {}  # (上联, 下联) -> source; first source wins

    def add(a: str, b: str, source: str) -> None:
        if (a, b) in pairs:
            drops[f"duplicate_{source}"] += 1
        else:
            pairs[(a, b)] = source

    for cdir in couplets:
        for a, b in read_couplets(cdir, drops, max_len):
            add(a, b, "couplet")

    strain_counts: dict[str, Counter] = {}
    poems_out: list[dict] = []
    if poetry is not None:
        poems, strains = read_poetry(poetry)
        mined: list[tuple[str, str, str]] = []
        for p in tqdm(poems, desc="mine poems", unit="poem"):
            trad = p["paragraphs"]
            simp = [to_simplified(s) for s in trad]
            if p.get("id") in strains:
                count_strains(trad, strains[p["id"]], simp, strain_counts)
            lines = poem_lines("".join(simp))
            if lines is None:
                drops["poem_junk_characters"] += 1
                continue
            if len(lines) in (4, 8) and len({len(x) for x in lines}) == 1 and len(lines[0]) in (5, 7):
                title = to_simplified(p.get("title", ""))
                poems_out.append({"title": title, "author": to_simplified(p.get("author", "")),
                                  "dynasty": p["dynasty"], "lines": lines,
                                  "keywords": keywords(title + "。" + "，".join(lines), 4)})
            mined.extend(mine_poem_pairs(simp))
        for source in ("lvshi", "poem"):  # 律诗 pairs first, so they keep their tag on duplicates
            for a, b, s in mined:
                if s == source:
                    reason = pair_problem(a, b, max_len)
                    if reason:
                        drops[f"poem_{reason}"] += 1
                    else:
                        add(a, b, s)

    rhymes, groups = read_pingshuiyun(pingshuiyun)
    chars = {c for ab in pairs for line in ab for c in line if is_han(c)}
    chars |= {c for p in poems_out for line in p["lines"] for c in line}
    tones, tone_sources = build_tones(rhymes=rhymes, groups=groups, strains=strain_counts, chars=chars)
    Prosody(tones, {c: g for c, g in rhymes.items() if c in chars}, groups).save(out / "prosody.json")

    splits: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    by_split_source: Counter = Counter()
    lengths: Counter = Counter()
    char_counts: dict[str, Counter] = {"train": Counter(), "valid": Counter()}
    for (a, b), source in tqdm(pairs.items(), desc="split", unit="pair"):
        split = split_of(a)
        splits[split].append(f"{a}\t{b}\t{source}")
        by_split_source[f"{split}/{source}"] += 1
        lengths[len(a)] += 1
        if split in char_counts:
            char_counts[split].update(a + b)
    for split, rows in splits.items():
        atomic_write_text(out / f"{split}.tsv", "".join(r + "\n" for r in rows))
    atomic_write_text(out / "poems.jsonl",
                      "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in poems_out))

    train_chars = char_counts["train"]
    valid_total = sum(char_counts["valid"].values()) or 1
    coverage = {}
    for top in (3000, 5000, 8000):
        keep = {c for c, _ in train_chars.most_common(top)}
        covered = sum(n for c, n in char_counts["valid"].items() if c in keep)
        coverage[f"top{top}"] = round(covered / valid_total, 5)
    summary = {
        "pairs": dict(sorted(by_split_source.items())),
        "dropped": dict(sorted(drops.items())),
        "length_histogram": {str(k): v for k, v in sorted(lengths.items())},
        "train_distinct_chars": len(train_chars),
        "valid_coverage_by_train_vocab": coverage,
        "poems_kept": len(poems_out),
        "poems_by_dynasty": dict(sorted(Counter(p["dynasty"] for p in poems_out).items())),
        "tone_table": {"chars": len(tones), **dict(tone_sources)},
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2))
    return summary


def read_pairs(path: str | Path) -> list[Pair]:
    """Read a split written by `prepare` (上联 TAB 下联 TAB source)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for k, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise ValueError(f"{path}, line {k}: not a split written by `prepare` (上联 TAB 下联 TAB source); "
                                 "give data/processed/train.tsv")
            rows.append(Pair(*parts))
    return rows
