"""Batch generation to files, aligned line for line and resumable.

Output format follows the suffix: `.txt` (one 下联 per line), `.jsonl` (one record per line),
`.tsv` (header, then 上联, 下联, score, settings). A bad input line yields an empty result and a
warning, never a shifted file. Work goes to `OUTPUT.partial` in whole chunks (flushed and
fsynced); a rerun with the same input and settings continues after the last whole chunk, and
the finished file is renamed into place. Each chunk has its own random seed derived from the
run's seed and the chunk's first line, so a resumed run writes what an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .fileio import atomic_write_text
from .generate import CoupletGenerator, Result, Settings
from .text import InputError

FORMATS = (".txt", ".jsonl", ".tsv")
TSV_HEADER = "upper\tlower\tscore\tsettings\n"


def _fingerprint(input_path: Path, settings: dict, checkpoint: str) -> dict:
    digest = hashlib.sha256(input_path.read_bytes()).hexdigest()
    return {"input_sha256": digest, "settings": settings, "checkpoint": checkpoint}


def format_line(fmt: str, *, index: int, upper: str, result: Result | InputError, settings: dict) -> str:
    if isinstance(result, InputError) or not result.candidates:
        lower, score, error = "", None, str(result) if isinstance(result, InputError) else "no candidate"
    else:
        lower, score, error = result.candidates[0].lower, result.candidates[0].score, None
    if fmt == ".txt":
        return lower + "\n"
    if fmt == ".tsv":
        clean = upper.replace("\t", " ").replace("\n", " ")
        return f"{clean}\t{lower}\t{'' if score is None else f'{score:.4f}'}\t{json.dumps(settings)}\n"
    rec = {"line": index + 1, "upper": upper, "lower": lower,
           "score": None if score is None else round(score, 4), "settings": settings}
    if error:
        rec["error"] = error
    if not isinstance(result, InputError) and result.notes:
        rec["notes"] = result.notes
    return json.dumps(rec, ensure_ascii=False) + "\n"


def _complete_lines(path: Path) -> tuple[int, int]:
    """(number of whole lines, byte offset after the last one) of a partial output."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].count(b"\n"), end


def run_batch(gen: CoupletGenerator, input_path: str | Path, output_path: str | Path, settings: Settings, *,
              checkpoint: str = "", chunk: int = 256, warn: Callable[[str], None] = print,
              progress: bool = True) -> dict:
    """Generate one 下联 per input line into output_path; returns counts."""
    inp, out = Path(input_path), Path(output_path)
    fmt = out.suffix.lower()
    if fmt not in FORMATS:
        raise ValueError(f"output must end in {', '.join(FORMATS)}, not {out.name!r}")
    lines = inp.read_text(encoding="utf-8-sig").splitlines()
    partial, state_path = out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")
    fingerprint = _fingerprint(inp, settings.to_dict(), checkpoint)
    header = TSV_HEADER if fmt == ".tsv" else ""

    start = 0
    if partial.exists() and state_path.exists() and \
            json.loads(state_path.read_text(encoding="utf-8")) == fingerprint:
        whole, _ = _complete_lines(partial)
        start = max(0, whole - (1 if header else 0)) // chunk * chunk
        keep = start + (1 if header else 0)
        data = partial.read_bytes()
        offset = 0
        for _ in range(keep):
            offset = data.index(b"\n", offset) + 1
        with open(partial, "r+b") as f:
            f.truncate(offset)
        if start:
            warn(f"resuming {out.name} at line {start + 1} of {len(lines)}")
    else:
        atomic_write_text(state_path, json.dumps(fingerprint))
        with open(partial, "w", encoding="utf-8") as f:
            f.write(header)

    counts = {"lines": len(lines), "ok": 0, "bad": 0, "resumed_at": start}
    bar = tqdm(total=len(lines), initial=start, desc=f"couplets → {out.name}", unit="line", disable=not progress)
    with open(partial, "a", encoding="utf-8") as f:
        for lo in range(start, len(lines), chunk):
            batch = lines[lo:lo + chunk]
            chunk_settings = Settings(**{**settings.to_dict(), "seed": settings.seed * 1_000_003 + lo})
            results = gen.generate_batch(batch, chunk_settings)
            text = []
            for i, (upper, res) in enumerate(zip(batch, results)):
                if isinstance(res, InputError):
                    counts["bad"] += 1
                    warn(f"line {lo + i + 1}: {res}")
                else:
                    counts["ok"] += 1
                text.append(format_line(fmt, index=lo + i, upper=upper, result=res, settings=settings.to_dict()))
            f.write("".join(text))
            f.flush()
            os.fsync(f.fileno())
            bar.update(len(batch))
    bar.close()
    os.replace(partial, out)
    state_path.unlink(missing_ok=True)
    return counts
