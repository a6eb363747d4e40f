"""Batch generation to files, aligned with the input and resumable.

Couplets: `.txt` (one 下联 per line), `.jsonl` (one record per line), `.tsv` (header, then 上联,
下联, score, settings); with `--n` above 1 each line gets that many (see `format_couplet`). A bad
input line yields an empty result and a warning, never a shifted file. Poems and whole couplets: `.jsonl` (one record per poem or couplet) or `.txt` (laid out
for reading).

Work goes to `OUTPUT.partial` in whole chunks, each flushed and fsynced; after each chunk
`OUTPUT.partial.json` records how many inputs are done and the byte offset. A rerun with the same
input, settings and model truncates to that offset and goes on; the finished file is renamed into
place. Each chunk's random seed derives from the run's seed and the chunk's first line, so a
resumed run writes exactly what an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .fileio import atomic_write_text
from .text import InputError

COUPLET_FORMATS = (".txt", ".jsonl", ".tsv")
POEM_FORMATS = (".txt", ".jsonl")
TSV_HEADER = "upper\tlower\tscore\tsettings\n"


def chunk_seed(seed: int, first_line: int) -> int:
    return seed * 1_000_003 + first_line


def resumable_write(*, inputs: list[str], output: Path, fingerprint: dict, header: str, chunk: int,
                    produce: Callable[[int, list[str]], str], warn: Callable[[str], None],
                    progress: bool, desc: str, deadline: float | None = None, counts: dict | None = None,
                    overwrite: bool = False, memory=None) -> int:
    """Write produce(first_index, chunk_lines) for each chunk; return the index resumed at.
    The run holds an exclusive lock on OUTPUT.lock, so two runs never write one output. memory: what
    produce remembers across chunks (the strings written so far: a set, or a list such as
    `WrittenPairs`; `update` adds them), kept with the resume state."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(output):
        return _write_chunks(inputs=inputs, output=output, fingerprint=fingerprint, header=header, chunk=chunk,
                             produce=produce, warn=warn, progress=progress, desc=desc, deadline=deadline,
                             counts=counts, overwrite=overwrite, memory=memory)


@contextmanager
def _exclusive(output: Path):
    import fcntl
    lock_path = output.with_name(output.name + ".lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"another run is writing {output}; wait for it to finish") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)


def _write_chunks(*, inputs, output, fingerprint, header, chunk, produce, warn, progress, desc,
                  deadline: float | None = None, counts: dict | None = None, overwrite: bool = False,
                  memory=None) -> int:
    partial = output.with_name(output.name + ".partial")
    state_path = output.with_name(output.name + ".partial.json")
    start = 0
    counts = counts if counts is not None else {}
    state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    resumable = partial.exists() and state.get("fingerprint") == fingerprint
    if partial.exists() and state and not resumable and not overwrite:
        changed = sorted(k for k in set(state.get("fingerprint", {})) | set(fingerprint)
                         if state.get("fingerprint", {}).get(k) != fingerprint.get(k))
        raise BatchError(f"{partial} was started with another {', '.join(changed) or 'run'}; rerun with the same "
                         "input, model and settings to continue it, or pass --overwrite to start over")
    if output.exists() and not resumable and not overwrite:
        raise BatchError(f"{output} already exists (a finished run?); pass --overwrite to write it again, "
                         "or choose another --output")
    if resumable:
        start = state["done"]
        for k, v in state.get("counts", {}).items():  # the summary covers the whole run, not this stretch
            counts[k] = counts.get(k, 0) + v
        if memory is not None:
            memory.update(state.get("memory", []))
        with open(partial, "r+b") as f:
            f.truncate(state["offset"])  # drop a chunk that was cut off mid-write
        if start:
            warn(f"resuming {output.name} at input line {start + 1} of {len(inputs)}")
    else:
        with open(partial, "w", encoding="utf-8") as f:
            f.write(header)
        atomic_write_text(state_path, json.dumps({"fingerprint": fingerprint, "done": 0,
                                                  "offset": partial.stat().st_size}))
    bar = tqdm(total=len(inputs), initial=start, desc=desc, unit="line", disable=not progress)
    with open(partial, "a", encoding="utf-8") as f:
        for lo in range(start, len(inputs), chunk):
            if deadline is not None and time.monotonic() > deadline:
                warn(f"time limit reached: stopped after {lo} of {len(inputs)} lines")
                break
            block = inputs[lo:lo + chunk]
            f.write(produce(lo, block))
            f.flush()
            os.fsync(f.fileno())
            atomic_write_text(state_path, json.dumps({"fingerprint": fingerprint, "done": lo + len(block),
                                                      "offset": f.tell(), "counts": counts,
                                                      **({"memory": sorted(memory)} if memory is not None else {})},
                                                     ensure_ascii=False))
            bar.update(len(block))
    bar.close()
    os.replace(partial, output)
    state_path.unlink(missing_ok=True)
    return start


def _fingerprint(input_path: Path, settings: dict, checkpoint: str) -> dict:
    return {"input_sha256": hashlib.sha256(input_path.read_bytes()).hexdigest(), "settings": settings,
            "checkpoint": checkpoint}


class BatchError(ValueError):
    """A batch job cannot start or go on; the message names the file and what to do."""


def read_lines(input_path: str | Path) -> list[str]:
    """Input records split on newlines only (\r\n tolerated): a line holding another separator
    (U+2028, \x0b, \x1c ...) stays one record, so outputs stay aligned with the input."""
    text = Path(input_path).read_text(encoding="utf-8-sig")
    lines = [x[:-1] if x.endswith("\r") else x for x in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


def check_paths(input_path: str | Path, output: Path) -> None:
    """Refuse an output that is the input file itself (it would be overwritten)."""
    inp = Path(input_path)
    if inp.resolve() == output.resolve() or (output.exists() and os.path.samefile(inp, output)):
        raise BatchError(f"--output {output} is the input file; write to another file")


def _check_suffix(output: Path, formats: tuple[str, ...]) -> str:
    fmt = output.suffix.lower()
    if fmt not in formats:
        raise BatchError(f"output must end in {', '.join(formats)}, not {output.name!r}")
    return fmt


# ---------------------------------------------------------------- couplets
def format_couplet(fmt: str, *, index: int, upper: str, result, settings: dict) -> str:
    """One input line's 下联: with --n above 1, every candidate, best first (`.txt`: on the input's
    line, tab-separated, so the file stays aligned; `.tsv`: a row each; `.jsonl`: a `candidates` list
    beside the best one's `lower` and `score`)."""
    found = [] if isinstance(result, InputError) else result.candidates
    error = str(result) if isinstance(result, InputError) else None if found else "no candidate"
    lower, score = (found[0].lower, found[0].score) if found else ("", None)
    if fmt == ".txt":
        return "\t".join(c.lower for c in found) + "\n"
    if fmt == ".tsv":
        clean = upper.replace("\t", " ")
        return "".join(f"{clean}\t{low}\t{'' if sc is None else f'{sc:.4f}'}\t{json.dumps(settings)}\n"
                       for low, sc in ([(c.lower, c.score) for c in found] or [("", None)]))
    rec = {"line": index + 1, "upper": upper, "lower": lower,
           "score": None if score is None else round(score, 4), "settings": settings}
    if settings["n"] > 1:
        rec["candidates"] = [{"lower": c.lower, "score": round(c.score, 4)} for c in found]
    if error:
        rec["error"] = error
    if not isinstance(result, InputError) and result.notes:
        rec["notes"] = result.notes
    return json.dumps(rec, ensure_ascii=False) + "\n"


def run_batch(gen, input_path: str | Path, output_path: str | Path, settings, *, checkpoint: str = "",
              chunk: int = 256, warn: Callable[[str], None] = print, progress: bool = True,
              deadline: float | None = None, overwrite: bool = False) -> dict:
    """settings.n 下联 per input line into output_path; returns counts (of the whole run, resumed or not)."""
    from .generate import Settings
    from .stock import WrittenPairs
    inp, out = Path(input_path), Path(output_path)
    fmt = _check_suffix(out, COUPLET_FORMATS)
    check_paths(inp, out)
    lines = read_lines(inp)
    counts = {"ok": 0, "bad": 0}
    # the 下联 written so far, whose pairs later lines pay for (settings.shared_pair); kept across a resume
    written = WrittenPairs() if settings.shared_pair > 0 else None

    def produce(lo: int, block: list[str]) -> str:
        chunk_settings = Settings(**{**settings.to_dict(), "seed": chunk_seed(settings.seed, lo)})
        text = []
        for i, (upper, res) in enumerate(zip(block, gen.generate_batch(block, chunk_settings, written=written))):
            if isinstance(res, InputError):
                counts["bad"] += 1
                warn(f"line {lo + i + 1}: {res}")
            else:
                counts["ok"] += 1
            text.append(format_couplet(fmt, index=lo + i, upper=upper, result=res, settings=settings.to_dict()))
        return "".join(text)

    counts["resumed_at"] = resumable_write(
        inputs=lines, output=out, fingerprint=_fingerprint(inp, settings.to_dict(), checkpoint),
        header=TSV_HEADER if fmt == ".tsv" else "", chunk=chunk, produce=produce, warn=warn,
        progress=progress, desc=f"couplets → {out.name}", deadline=deadline, counts=counts, overwrite=overwrite,
        memory=written)
    counts["lines"] = len(lines)
    return counts


# ---------------------------------------------------------------- poems and whole couplets
def _error_record(fmt: str, *, index: int, text: str, error: InputError, settings: dict) -> str:
    """A bad input line in a poem or whole-couplet output: its place kept, the reason given."""
    if fmt == ".txt":
        return f"# {index + 1} {text} — {error}\n\n"
    return json.dumps({"input_line": index + 1, "input": text, "error": str(error), "settings": settings},
                      ensure_ascii=False) + "\n"


def format_poems(fmt: str, *, index: int, text: str, result, settings: dict) -> str:
    if isinstance(result, InputError):
        return _error_record(fmt, index=index, text=text, error=result, settings=settings)
    req = result.request
    out = []
    for k, poem in enumerate(result.poems, 1):
        if fmt == ".txt":
            head = f"# {index + 1}.{k} {req.form} · {req.mode} {text} · 韵 {poem.rhyme_group or '—'} · {poem.score:.2f}"
            head += f"\n《{poem.title}》" if poem.title else ""
            out.append(head + "\n" + "\n".join(poem.lines) + "\n\n")
        else:
            out.append(json.dumps({
                "input_line": index + 1, "input": text, "form": req.form, "mode": req.mode,
                "seed_chars": result.seed, "keywords": result.keywords, "plan": result.plan,
                "acrostic": text if req.mode == "acrostic" else None, "lines": poem.lines,
                "rhyme_group": poem.rhyme_group, "score": round(poem.score, 4),
                "copied_lines": poem.copied_lines, "title": poem.title, "settings": settings},
                ensure_ascii=False) + "\n")
    return "".join(out)


def format_wholes(fmt: str, *, index: int, text: str, result, settings: dict) -> str:
    """Whole couplets: `.txt` a block per wish, `.jsonl` one record per couplet."""
    if isinstance(result, InputError):
        return _error_record(fmt, index=index, text=text, error=result, settings=settings)
    if fmt == ".txt":
        return (f"# {index + 1} {text}\n" + "".join(f"{c.upper}  {c.lower}" + (f"  横批 {c.hengpi}" if c.hengpi
                                                                                   else "") + "\n"
                                                   for c in result.couplets) + "\n")
    return "".join(json.dumps({
        "input_line": index + 1, "input": text, "keywords": result.keywords, "seed_chars": result.seed,
        "upper": c.upper, "lower": c.lower, "score": round(c.score, 4),
        "theme_fit": None if c.theme_fit is None else round(c.theme_fit, 4), "hengpi": c.hengpi,
        "settings": settings},
        ensure_ascii=False) + "\n" for c in result.couplets)


def requests_fingerprint(gen, requests: list) -> dict:
    """What a resumed poem or whole-couplet batch must match: the first request's settings and the
    models (paths and weights hashes; a whole-couplet generator's couplet model too)."""
    couplets = getattr(gen, "couplets", None)
    return {"request": requests[0].to_dict() if requests else {},
            "checkpoint": gen.identity + (" + " + couplets.identity if couplets is not None else "")}


def run_poem_batch(gen, requests: list, texts: list[str], output_path: str | Path, *, fingerprint: dict,
                   chunk: int = 16, warn: Callable[[str], None] = print, progress: bool = True,
                   input_path: str | Path | None = None, deadline: float | None = None,
                   overwrite: bool = False, formatter: Callable = format_poems, what: str = "poems") -> dict:
    """Write the results of each request (one per input line), poems or (with format_wholes) whole
    couplets; returns counts."""
    from dataclasses import replace
    from .poemrules import Written   # here: the page imports this module before torch is wanted
    out = Path(output_path)
    fmt = _check_suffix(out, POEM_FORMATS)
    if input_path is not None:
        check_paths(input_path, out)
    counts = {"ok": 0, "bad": 0}
    written = Written()  # the batch does not repeat its lines (poems, nor their phrases) or 上联 (whole couplets)

    def produce(lo: int, block: list[str]) -> str:
        parts = []
        for i in range(lo, lo + len(block)):
            req = replace(requests[i], seed=chunk_seed(requests[i].seed, i))
            try:
                res = gen.generate(req, avoid=written)
                counts["ok"] += 1
            except InputError as e:
                res = e
                counts["bad"] += 1
                warn(f"line {i + 1}: {e}")
            parts.append(formatter(fmt, index=i, text=texts[i], result=res, settings=requests[i].to_dict()))
        return "".join(parts)

    counts["resumed_at"] = resumable_write(inputs=texts, output=out, fingerprint=fingerprint, header="",
                                           chunk=chunk, produce=produce, warn=warn, progress=progress,
                                           desc=f"{what} → {out.name}", deadline=deadline, counts=counts,
                                           overwrite=overwrite, memory=written)
    counts["lines"] = len(texts)
    return counts


# ---------------------------------------------------------------- 格律 checks
CHECK_FORMATS = (".txt", ".jsonl")


def run_check_batch(input_path: str | Path, output_path: str | Path, prosody, *, overwrite: bool = False) -> dict:
    """The 格律 of each input line (a poem, or a couplet: 上联 and 下联 split by a space, ；, | or /) into
    output_path: `.jsonl` a record per line (its findings, or the error that line got), `.txt` a report
    per line; aligned with the input, written at once (checks take microseconds, nothing to resume).
    Returns counts: lines, regular, errors, and each finding kind."""
    from dataclasses import asdict
    from .meter import Meter, check_text
    inp, out = Path(input_path), Path(output_path)
    fmt = _check_suffix(out, CHECK_FORMATS)
    check_paths(inp, out)
    if out.exists() and not overwrite:
        raise BatchError(f"{out} already exists; pass --overwrite to write it again, or choose another --output")
    counts: dict[str, int] = {"lines": 0, "regular": 0, "errors": 0}
    parts = []
    for k, text in enumerate(read_lines(inp), 1):
        counts["lines"] += 1
        try:
            m = check_text(text, prosody)
        except InputError as e:
            counts["errors"] += 1
            parts.append(json.dumps({"line": k, "text": text, "error": str(e)}, ensure_ascii=False) + "\n"
                         if fmt == ".jsonl" else f"# {k} {text}\nerror: {e}\n\n")
            continue
        counts["regular"] += m.regular
        for f in m.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        if fmt == ".jsonl":
            parts.append(json.dumps({"line": k, "text": text, "kind": "poem" if isinstance(m, Meter) else "couplet",
                                     "heading": m.heading, "regular": m.regular,
                                     "findings": [asdict(f) for f in m.findings]}, ensure_ascii=False) + "\n")
        else:
            found = "".join(f"  {f.kind}  {m.place(f)}: {f.text}\n" for f in m.findings)
            parts.append(f"# {k} {text}\n{m.heading} · {m.summary}\n{found}\n")
    atomic_write_text(out, "".join(parts))
    return counts
