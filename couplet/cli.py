"""`python -m couplet ...`: prepare the corpora, write 下联 (one or a file), export checkpoints."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .checkpoint import CheckpointError


def _add_decoding_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=None, help="number of candidates (default 5; 1 in batch mode)")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature; 0 = greedy/beam")
    p.add_argument("--top-k", type=int, default=0, help="sample only among the k most likely chars (0: off)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (1: off)")
    p.add_argument("--beam", type=int, default=None,
                   help="beam width (default: 5 for one line at temperature 0, off in batch mode)")
    p.add_argument("--seed", type=int, default=0, help="random seed for sampling")
    p.add_argument("--tone", choices=("off", "end", "rhythm"), default="end",
                   help="平仄 rule: end = last char opposes the 上联's; rhythm = also even positions")
    p.add_argument("--no-punctuation", action="store_true", help="do not copy the 上联's punctuation")
    p.add_argument("--no-repeats", action="store_true", help="do not enforce the 重字 rule")
    p.add_argument("--allow-copy", action="store_true", help="allow 上联 characters in the 下联")
    p.add_argument("--checkpoint", default=None, help="checkpoint directory (default: checkpoints/couplet)")
    p.add_argument("--prosody", default=None, help="prosody.json (default: beside the checkpoint)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m couplet", description="Chinese couplets with RNNs.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="build training pairs and the tone table from the real corpora")
    p.add_argument("--poetry", default=None,
                   help="chinese-poetry data: the npm .tgz, its unpacked dir, or the GitHub repo dir")
    p.add_argument("--couplets", nargs="*", default=[],
                   help="couplet-dataset directories (in.txt/out.txt, or train/ and test/ inside)")
    p.add_argument("--pingshuiyun", required=True, help="平水韵 table (origin.txt)")
    p.add_argument("--out", default="data/processed", help="output directory")
    p.add_argument("--max-len", type=int, default=64, help="drop pairs longer than this")

    p = sub.add_parser("couplet", help="write 下联 for a 上联, or for every line of a file")
    p.add_argument("upper", nargs="?", help="the 上联")
    p.add_argument("--input", default=None, help="file with one 上联 per line (batch mode)")
    p.add_argument("--output", default=None, help="batch output: .txt, .jsonl or .tsv")
    p.add_argument("--lock", default=None, help="下联 pattern with fixed chars and _ blanks, e.g. 春_大_万家_")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    _add_decoding_flags(p)

    p = sub.add_parser("export", help="copy a trained checkpoint for shipping (fp16 weights, no optimizer)")
    p.add_argument("--from", dest="src", required=True, help="checkpoint directory, e.g. runs/couplet/best")
    p.add_argument("--to", dest="dst", default="checkpoints/couplet", help="destination directory")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights")
    return parser


def _settings(args, batch: bool):
    from .generate import Settings
    n = args.n if args.n is not None else (1 if batch else 5)
    beam = args.beam if args.beam is not None else (5 if not batch and args.temperature <= 0 else 0)
    return Settings(n=n, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, beam=beam,
                    seed=args.seed, punctuation=not args.no_punctuation, repeats=not args.no_repeats,
                    no_copy=not args.allow_copy, tone=args.tone)


def cmd_couplet(args) -> int:
    from .generate import CoupletGenerator
    from .text import InputError
    if (args.input is None) == (args.upper is None):
        print("error: give a 上联, or --input FILE with --output FILE", file=sys.stderr)
        return 2
    gen = CoupletGenerator.load(args.checkpoint, prosody=args.prosody)
    if args.input is not None:
        from .batch import run_batch
        if not args.output:
            print("error: --input needs --output (.txt, .jsonl or .tsv)", file=sys.stderr)
            return 2
        if not Path(args.input).exists():
            print(f"error: {args.input} does not exist", file=sys.stderr)
            return 2
        counts = run_batch(gen, args.input, args.output, _settings(args, batch=True),
                           checkpoint=str(args.checkpoint or "default"),
                           warn=lambda m: print(f"warning: {m}", file=sys.stderr))
        print(f"wrote {args.output}: {counts['ok']} 下联, {counts['bad']} bad lines left empty")
        return 0
    try:
        res = gen.generate(args.upper, _settings(args, batch=False), lock=args.lock)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"upper": res.upper, "candidates": [c.__dict__ for c in res.candidates],
                          "notes": res.notes}, ensure_ascii=False))
        return 0
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"上联  {res.upper}")
    for i, c in enumerate(res.candidates, 1):
        print(f"下联{i} {c.lower}   ({c.score:.2f})")
    return 0


def cmd_prepare(args) -> int:
    from .corpus import prepare
    if args.poetry is None and not args.couplets:
        print("error: give --poetry and/or --couplets", file=sys.stderr)
        return 2
    summary = prepare(poetry=args.poetry, couplets=args.couplets, pingshuiyun=args.pingshuiyun,
                      out_dir=args.out, max_len=args.max_len)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


def cmd_export(args) -> int:
    import shutil
    from .checkpoint import load_checkpoint, read_meta, save_checkpoint
    model, vocab, meta = load_checkpoint(args.src)
    extra = {k: v for k, v in read_meta(args.src).items()
             if k not in ("format", "kind", "config", "vocab", "optimizer", "scheduler")}
    save_checkpoint(args.dst, model=model, vocab=vocab, kind=meta.get("kind", "couplet"),
                    extra=extra, half=not args.fp32)
    for p in (Path(args.src) / "prosody.json", Path(args.src).parent / "prosody.json"):
        if p.exists():
            shutil.copyfile(p, Path(args.dst).parent / "prosody.json")
            break
    print(f"exported {args.src} → {args.dst}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"prepare": cmd_prepare, "couplet": cmd_couplet, "export": cmd_export}[args.command](args)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
