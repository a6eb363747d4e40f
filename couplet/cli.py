"""`python -m couplet ...`: prepare the corpora, write 下联, whole couplets, poems (one or a file) or
titles, export checkpoints.

Over 400 lines because it is every command's flags and wiring in one place (the request flags are
built from the request types); each command body only checks paths, loads a generator and prints.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .requests import DEFAULT_CHECKPOINT, LINE_MODES, MODES, PoemRequest, Settings, WholeRequest, add_flags


def _add_decoding_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `Settings` field (n and beam depend on the mode, so their help shows no default)."""
    add_flags(p, Settings, no_default=("n", "beam"))
    p.add_argument("--checkpoint", default=None, help="checkpoint directory (default: checkpoints/couplet)")
    p.add_argument("--prosody", default=None, help="prosody.json (default: beside the checkpoint)")


def _add_poster_flags(p: argparse.ArgumentParser) -> None:
    from .poster import COLORS
    p.add_argument("--poster", default=None, metavar="FILE.png",
                   help="also draw the first couplet as a 春联 picture (with its 横批 when there is one)")
    p.add_argument("--poster-color", choices=list(COLORS), default="black", help="colour of the characters")


def _write_poster(args, upper: str, lower: str, hengpi: str | None) -> int:
    from .poster import render_poster, save_poster
    from .text import InputError
    try:
        image, notes = render_poster(upper, lower, hengpi or "", color=args.poster_color)
        save_poster(args.poster, image)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write {args.poster}: {e.strerror or e}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"drew {args.poster} ({image.size[0]} × {image.size[1]} px)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m couplet", description="Chinese couplets with RNNs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bench", help="measure speed and memory (see `python -m couplet bench --help`)")
    sub.add_parser("eval", help="BLEU, distinct, perplexity and rule accuracies (see `python -m couplet eval --help`)")

    p = sub.add_parser("prepare", help="build training pairs and the tone table from the real corpora")
    p.add_argument("--poetry", default=None,
                   help="chinese-poetry data: the npm .tgz, its unpacked dir, or the GitHub repo dir")
    p.add_argument("--couplets", nargs="*", default=[],
                   help="couplet-dataset directories (in.txt/out.txt, or train/ and test/ inside)")
    p.add_argument("--pingshuiyun", required=True, help="平水韵 table (origin.txt)")
    p.add_argument("--out", default="data/processed", help="output directory")
    p.add_argument("--max-len", type=int, default=64, help="drop pairs longer than this")

    p = sub.add_parser("couplet", help="write 下联 for a 上联, or for every line of a file")
    p.add_argument("upper", nargs="*", help="the 上联 (several: each gets its 下联, in turn)")
    p.add_argument("--input", default=None, help="file with one 上联 per line (batch mode)")
    p.add_argument("--output", default=None, help="batch output: .txt, .jsonl or .tsv")
    p.add_argument("--overwrite", action="store_true", help="batch: write over a finished output file")
    p.add_argument("--lock", default=None, help="下联 pattern with fixed chars and _ blanks, e.g. 春_大_万家_")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--hengpi", action="store_true",
                   help="also choose a 横批 for each candidate (loads the whole-couplet model)")
    _add_poster_flags(p)
    p.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                   help="decode with an int8 copy of the model, and a batch's many rows with a bf16 copy where "
                        "the CPU multiplies bf16 natively (faster on CPU; default: the generator's)")
    _add_decoding_flags(p)

    p = sub.add_parser("poem", help="write classical poems from a seed (keywords, theme, acrostic ...)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--keywords", default=None, help="keywords, space-separated (seed mode: keywords)")
    mode.add_argument("--first", default=None, help="the poem's first character (seed mode: first)")
    mode.add_argument("--theme", default=None, help="free text; jieba extracts the keywords (seed mode: theme)")
    mode.add_argument("--acrostic", default=None, help="藏头: line i starts with the i-th character")
    mode.add_argument("--embed", default=None, help="嵌字: one character per line, at --embed-pos")
    mode.add_argument("--reply", default=None, metavar="POEM",
                      help="次韵: answer this poem (a 绝句 or 律诗, lines split by punctuation) in its form, with its "
                           "rhyme characters in their places")
    mode.add_argument("--input", default=None, help="batch: one seed per line, read with --mode")
    p.add_argument("text", nargs="?", default=None, metavar="SEED",
                   help="the seed, read as --mode says (default keywords), e.g. `poem 春` or "
                        "`poem 春夏秋冬 --mode acrostic`")
    p.add_argument("--mode", choices=MODES, default=PoemRequest.mode,
                   help="seed mode of the positional seed and of the lines of --input")
    add_flags(p, PoemRequest, skip=("mode", "text"))
    p.add_argument("--allow-repeats", action="store_true",
                   help="turn off the rules against degenerate repeats and unattested bigrams")
    p.add_argument("--output", default=None, help="write to .jsonl or .txt instead of printing")
    p.add_argument("--overwrite", action="store_true", help="batch: write over a finished output file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--checkpoint", default=None, help="poem checkpoint directory (default: checkpoints/poem)")
    p.add_argument("--prosody", default=None, help="prosody.json (default: beside the checkpoint)")

    p = sub.add_parser("whole", help="write whole couplets (上联 and 下联) from a theme or 藏头 heads")
    add_flags(p, WholeRequest)
    p.add_argument("wish", nargs="?", default=None,
                   help="the wish, read as --mode says: a theme (`whole 中秋`; with --head, `whole 端午 --head 龙舟`), "
                        "or heads (`whole 福满 --mode head`)")
    p.add_argument("--input", default=None, help="batch: one wish per line, read with --mode")
    p.add_argument("--mode", choices=LINE_MODES, default=LINE_MODES[0],
                   help="what the wish or the lines of --input hold: a theme, or heads (then an optional theme "
                        "after a space)")
    p.add_argument("--output", default=None, help="batch output: .jsonl or .txt")
    p.add_argument("--overwrite", action="store_true", help="batch: write over a finished output file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--checkpoint", default=None, help="whole-couplet checkpoint (default: checkpoints/whole)")
    _add_poster_flags(p)

    p = sub.add_parser("title", help="write a title for a poem (ours or one you paste)")
    p.add_argument("poem", help="the poem's lines, with any punctuation")
    p.add_argument("--n", type=int, default=3, help="number of titles")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--checkpoint", default=None, help="title checkpoint (default: checkpoints/title)")

    p = sub.add_parser("check", help="格律 check of a 绝句, a 律诗 or a couplet (yours or ours): 平仄, 粘对, rhyme, 孤平, "
                                     "三平尾, 重字; a couplet's 上仄下平, 平仄相对 and mirrored 重字")
    p.add_argument("text", nargs="?", help="a poem's lines split by punctuation or spaces, or a couplet: 上联 and 下联 "
                                           "split by a line break, a space or ；")
    p.add_argument("--input", default=None, help="batch: one poem or couplet per line (a couplet's halves split by a "
                                                 "space, ；, | or /)")
    p.add_argument("--output", default=None, help="batch: where the reports go, .jsonl (a record per line) or .txt")
    p.add_argument("--overwrite", action="store_true", help="batch: write over an existing output file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--prosody", default=None, help="tone table (default: checkpoints/prosody.json)")
    p.add_argument("--rewrite", type=int, default=0, metavar="N",
                   help="write the faulty chars again, keeping the rest: a poem's with the poem model under its "
                        "pattern and rhyme, a couplet's 下联 chars with the couplet model; N rewrites, each checked "
                        "again (0: off)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the rewrites (default: the requests' own)")
    p.add_argument("--checkpoint", default=None,
                   help="poem or couplet checkpoint for --rewrite (default: checkpoints/poem or checkpoints/couplet)")

    p = sub.add_parser("stock", help="build a couplet checkpoint's stock-pair table (the pairs its 下联 overuse), "
                                     "for --stock-penalty")
    p.add_argument("--pairs", required=True, help="train.tsv from prepare: the 上联 decoded and people's 下联")
    p.add_argument("--checkpoint", default=None, help="couplet checkpoint to build it for and write it into "
                                                        "(default: checkpoints/couplet)")
    p.add_argument("--lines", type=int, default=None, help="training 上联 decoded each round (default: 20000)")
    p.add_argument("--rounds", type=int, default=None, help="rounds, each decoding with the table so far (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="which training 上联 are drawn")

    p = sub.add_parser("export", help="copy a trained checkpoint for shipping (fp16 weights, no optimizer)")
    p.add_argument("--from", dest="src", required=True, help="checkpoint directory, e.g. runs/couplet/best")
    p.add_argument("--to", dest="dst", default="checkpoints/couplet", help="destination directory")
    p.add_argument("--fp32", action="store_true", help="keep fp32 weights")
    p.add_argument("--poems", default=None,
                   help="poem models: poems.jsonl from prepare, for the copy check, the attested doubles and bigrams, "
                        "the char counts and the plan table")
    p.add_argument("--average", nargs="+", default=None, metavar="CHECKPOINT",
                   help="average the weights with this checkpoint of the same architecture and vocabulary (e.g. "
                        "the one a run was fine-tuned from): WEIGHT x the run's + (1 - WEIGHT) x this one's; with "
                        "several (copies of a run's last/ taken as it trains), the mean of the run's and all of theirs")
    p.add_argument("--weight", type=float, default=0.5, help="the run's share of the average of two (0..1)")
    p.add_argument("--counts-from", default=None,
                   help="train.tsv from prepare: a couplet model gets its 下联 char counts (for --freq-penalty, "
                        "over the sources it was trained on) and its phrase memory (over the couplets); a "
                        "whole-couplet model the chars couplets double and the 4-char phrases 横批 are chosen from")
    return parser


def _settings(args, batch: bool):
    """Settings from the flags given; what was not given keeps the field's default, except n and the
    beam, which follow `Settings.for_request`."""
    from dataclasses import fields

    given = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name, None) is not None}
    return Settings.for_request(batch=batch, **given)


def tqdm_write(message: str) -> None:
    """A warning on its own line, not on the progress bar's."""
    from tqdm import tqdm
    tqdm.write(message, file=sys.stderr)


def cmd_couplet(args) -> int:
    from .generate import CoupletGenerator
    from .stock import WrittenPairs
    from .text import InputError
    uppers = args.upper or []
    if (args.input is None) == (not uppers):
        print("error: give a 上联 (or several), or --input FILE with --output FILE", file=sys.stderr)
        return 2
    settings = _settings(args, batch=args.input is not None).check()  # before the model loads
    if args.poster and not args.poster.lower().endswith(".png"):
        print(f"error: --poster must name a .png file, not {args.poster!r}", file=sys.stderr)
        return 2
    if args.poster and len(uppers) > 1:
        print("error: --poster draws one couplet: give one 上联", file=sys.stderr)
        return 2
    gen = CoupletGenerator.load(args.checkpoint, prosody=args.prosody, int8=args.int8)
    if args.input is not None:
        from .batch import COUPLET_FORMATS, run_batch
        if not _batch_paths_ok(args, COUPLET_FORMATS):
            return 2
        counts = run_batch(gen, args.input, args.output, settings, checkpoint=gen.identity,
                           warn=lambda m: tqdm_write(f"warning: {m}"), overwrite=args.overwrite)
        print(f"wrote {args.output}: {counts['ok']} 下联, {counts['bad']} bad lines left empty")
        return 0
    chooser = None
    if args.hengpi:
        from .checkpoint import CheckpointError
        from .whole import WholeGenerator
        try:
            chooser = WholeGenerator.load(couplets=gen).hengpi
        except (CheckpointError, OSError) as e:
            print(f"error: no 横批 without the whole-couplet model: {e}", file=sys.stderr)
            return 2
    status = 0
    written = WrittenPairs() if settings.shared_pair > 0 else None   # several 上联 are one batch
    for k, upper in enumerate(uppers):
        try:
            res = gen.generate(upper, settings, lock=args.lock, written=written)
        except InputError as e:
            # one bad line among several is named and skipped; the others are still answered
            print(f"error: {upper}: {e}" if len(uppers) > 1 else f"error: {e}", file=sys.stderr)
            status = 2
            continue
        hengpi = [None] * len(res.candidates)
        if chooser is not None and res.candidates:
            hengpi = chooser.for_page([(res.upper, c.lower) for c in res.candidates])
        if args.json:   # one JSON object per 上联, a line each
            print(json.dumps({"upper": res.upper, "candidates": [{**c.__dict__, **({"hengpi": h} if args.hengpi else {})}
                                                                  for c, h in zip(res.candidates, hengpi)],
                              "notes": res.notes}, ensure_ascii=False))
            continue
        for note in res.notes:
            print(f"note: {note}", file=sys.stderr)
        if k:
            print()
        print(f"上联  {res.upper}")
        for i, (c, h) in enumerate(zip(res.candidates, hengpi), 1):
            extra = f", 词性 {100 * c.structure:.0f}%" if c.structure is not None else ""
            extra += f", scorer {c.scorer:.2f}" if c.scorer is not None else ""
            print(f"下联{i} {c.lower}   ({c.score:.2f}{extra})" + (f"   横批 {h}" if h else ""))
        if args.poster and res.candidates:
            return _write_poster(args, res.upper, res.candidates[0].lower, hengpi[0])
    return status


def _poem_request(args, mode: str, text: str):
    """A PoemRequest from the flags given; the others keep the request's defaults."""
    from dataclasses import fields

    given = {f.name: getattr(args, f.name) for f in fields(PoemRequest)
             if f.name not in ("mode", "text") and getattr(args, f.name, None) is not None}
    if args.allow_repeats:
        given.update(no_triples=False, no_doubles=False, no_repeat_bigrams=False, seed_once=False,
                     attested_bigrams=False, max_uses=0, reuse=0.0)
    return PoemRequest(mode=mode, text=text, **given)


def print_poems(res) -> None:
    req = res.request
    print(f"{req.form} · {req.mode}: {req.text} · seed chars {res.seed}" +
          (f" · keywords {' '.join(res.keywords)}" if req.mode in ("theme", "reply") or not req.text else "") +
          (f" · plan {' / '.join(dict.fromkeys(res.plan))}" if res.plan else ""))
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    for k, poem in enumerate(res.poems, 1):
        copied = f" · copied lines {poem.copied_lines}" if poem.copied_lines else ""
        print(f"\n[{k}] 韵 {poem.rhyme_group or '—'} · score {poem.score:.2f}{copied}")
        if poem.title:
            print(f"《{poem.title}》")
        print("\n".join(poem.lines))


def _batch_paths_ok(args, formats: tuple[str, ...]) -> bool:
    """--input names a file and --output is given; else one line on stderr."""
    if not args.output:
        print(f"error: --input needs --output ({', '.join(formats)})", file=sys.stderr)
        return False
    if not Path(args.input).is_file():
        print(f"error: {args.input} is not a file", file=sys.stderr)
        return False
    return True


def _request_batch(args, gen, make_request, *, unit: str, fingerprint, **formatting) -> int:
    """--input FILE --output FILE for poems or whole couplets: one request per input line, resumable;
    fingerprint(requests) names the model and settings a resume must match."""
    import hashlib

    from .batch import POEM_FORMATS, read_lines, run_poem_batch
    if not _batch_paths_ok(args, POEM_FORMATS):
        return 2
    texts = read_lines(args.input)
    reqs = [make_request(t) for t in texts]
    stamp = {"input_sha256": hashlib.sha256(Path(args.input).read_bytes()).hexdigest(), **fingerprint(reqs)}
    counts = run_poem_batch(gen, reqs, texts, args.output, fingerprint=stamp, input_path=args.input,
                            warn=lambda m: tqdm_write(f"warning: {m}"), overwrite=args.overwrite, **formatting)
    print(f"wrote {args.output}: {counts['ok']} {unit}, {counts['bad']} bad lines")
    return 0


def cmd_poem(args) -> int:
    from .poetry import PoemGenerator
    from .text import InputError
    given = [(m, getattr(args, m)) for m in MODES if getattr(args, m) is not None]
    if args.text is not None:
        given.append((args.mode, args.text))
    if not given and args.input is None and (args.lock or "").strip():   # a lock alone: its words are the seed
        given.append((args.mode, ""))
    if len(given) + (args.input is not None) != 1:
        print("error: give one seed: `poem 春`, or --keywords, --first, --theme, --acrostic, --embed, --reply or "
              "--input",
              file=sys.stderr)
        return 2
    gen = PoemGenerator.load(args.checkpoint, prosody=args.prosody)
    if args.input is not None:
        from .batch import requests_fingerprint
        return _request_batch(args, gen, lambda t: _poem_request(args, args.mode, t), unit="seeds",
                              fingerprint=lambda reqs: requests_fingerprint(gen, reqs))
    mode, text = given[0]
    req = _poem_request(args, mode, text)
    try:
        res = gen.generate(req)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.output:
        from .batch import POEM_FORMATS, format_poems
        from .fileio import atomic_write_text
        fmt = Path(args.output).suffix.lower()
        if fmt not in POEM_FORMATS:
            print(f"error: --output must end in {' or '.join(POEM_FORMATS)}", file=sys.stderr)
            return 2
        atomic_write_text(args.output, format_poems(fmt, index=0, text=text, result=res, settings=req.to_dict()))
        print(f"wrote {len(res.poems)} poems to {args.output}")
    elif args.json:
        from dataclasses import asdict
        print(json.dumps({"seed": res.seed, "keywords": res.keywords, "plan": res.plan, "notes": res.notes,
                          "poems": [asdict(p) for p in res.poems]}, ensure_ascii=False))
    else:
        print_poems(res)
    return 0


def _whole_request(args, line: str | None = None):
    """The request of the flags, or of one wish (the positional one, or a batch line) read by --mode."""
    from dataclasses import fields

    given = {f.name: getattr(args, f.name) for f in fields(WholeRequest) if getattr(args, f.name) is not None}
    return WholeRequest(**given) if line is None else WholeRequest.from_line(line, args.mode, **given)


def cmd_whole(args) -> int:
    from .text import InputError, check_ranges
    from .whole import WholeGenerator
    if args.wish and args.head and not args.theme and not args.input and args.mode == "theme":
        args.theme, args.wish = args.wish, None     # `whole 端午 --head 龙舟`: the first word is the theme
    if sum(map(bool, (args.wish, args.theme or args.head, args.input))) != 1:
        print("error: give one wish: `whole 中秋`, --theme and/or --head, or --input FILE with --output FILE",
              file=sys.stderr)
        return 2
    try:
        check_ranges(_whole_request(args, args.wish))  # before the models load
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.poster and not args.poster.lower().endswith(".png"):
        print(f"error: --poster must name a .png file, not {args.poster!r}", file=sys.stderr)
        return 2
    gen = WholeGenerator.load(args.checkpoint)
    if args.input is not None:
        from .batch import format_wholes, requests_fingerprint
        return _request_batch(args, gen, lambda t: _whole_request(args, t), unit="wishes",
                              fingerprint=lambda reqs: {**requests_fingerprint(gen, [_whole_request(args)]),
                                                        "mode": args.mode},
                              formatter=format_wholes, what="couplets")
    try:
        res = gen.generate(_whole_request(args, args.wish))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        from dataclasses import asdict
        print(json.dumps({"seed": res.seed, "keywords": res.keywords, "layout": res.layout, "notes": res.notes,
                          "couplets": [asdict(c) for c in res.couplets]}, ensure_ascii=False))
        return 0
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    req = res.request
    print(" · ".join(x for x in (f"藏头 {req.head}" if req.head else "", f"主题 {' '.join(res.keywords)}"
                                 if res.keywords else "", res.size) if x))
    for i, c in enumerate(res.couplets, 1):
        fit = f", theme +{c.theme_fit:.2f}" if c.theme_fit is not None else ""
        print(f"[{i}] 上联 {c.upper}\n    下联 {c.lower}   ({c.score:.2f}{fit})" +
              (f"\n    横批 {c.hengpi}" if c.hengpi else ""))
    if args.poster and res.couplets:
        return _write_poster(args, res.couplets[0].upper, res.couplets[0].lower, res.couplets[0].hengpi)
    return 0


def cmd_title(args) -> int:
    from .checkpoint import CheckpointError
    from .text import InputError
    from .title import TitleGenerator
    if not 1 <= args.n <= 20:
        print(f"error: --n must be a whole number from 1 to 20, not {args.n}", file=sys.stderr)
        return 2
    try:
        gen = TitleGenerator.load(args.checkpoint)
    except (CheckpointError, OSError) as e:
        print(f"error: no title model: {e}", file=sys.stderr)
        return 2
    try:
        titles = gen.titles(args.poem, n=args.n)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"title": t, "score": round(s, 4)} for t, s in titles], ensure_ascii=False))
    else:
        for t, s in titles:
            print(f"《{t}》   ({s:.2f})")
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


def cmd_stock(args) -> int:
    import random

    from . import stock
    from .checkpoint import add_tables
    from .corpus import read_pairs
    from .generate import CoupletGenerator
    lines = stock.LINES if args.lines is None else args.lines
    rounds = stock.ROUNDS if args.rounds is None else args.rounds
    if lines < 1 or rounds < 1:
        print("error: --lines and --rounds must be at least 1", file=sys.stderr)
        return 2
    path = args.checkpoint or DEFAULT_CHECKPOINT
    gen = CoupletGenerator.load(path)   # a batch's beams side by side (bf16 where the CPU has it, else fp32)
    pairs = [(p.upper, p.lower) for p in read_pairs(args.pairs) if p.source == "couplet"]
    if not pairs:
        print(f"error: {args.pairs} holds no couplets", file=sys.stderr)
        return 2
    drawn = random.Random(args.seed).sample(pairs, min(lines, len(pairs)))
    table = stock.build(gen, [u for u, _ in drawn], (lower for _, lower in pairs), rounds=rounds)
    add_tables(path, {stock.FILE: stock.to_tensors(table, gen.vocab)})
    top = ", ".join(p for p, _ in sorted(table.items(), key=lambda x: -x[1])[:12])
    print(f"{len(table)} stock pairs written into {path}/{stock.FILE} (the most overused: {top})")
    return 0


def average_weights(a: dict, b: dict, weight: float) -> dict:
    """weight x a + (1 - weight) x b for floating tensors (in fp32), a's own for the rest. Two points of
    one fine-tuning run lie in one basin, where their average often scores better than either (a
    couplet run 47.92 and its start 48.45, averaged 47.68 in validation perplexity)."""
    return {k: (weight * v.float() + (1 - weight) * b[k].float()).to(v.dtype) if v.is_floating_point() else v
            for k, v in a.items()}


def mean_weights(states: list[dict]) -> dict:
    """The mean of several state dicts' floating tensors (in fp32), the first one's own for the rest: the
    weights a run passes through late in training average to a point its validation scores better than
    any one of them (Izmailov et al. 2018; a couplet run's last/ copied every 8 minutes)."""
    first = states[0]
    return {k: (sum(s[k].float() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v
            for k, v in first.items()}


def cmd_export(args) -> int:
    import shutil

    from .checkpoint import load_checkpoint, prosody_paths, read_meta, save_checkpoint
    model, vocab, meta = load_checkpoint(args.src)
    extra = {k: v for k, v in read_meta(args.src).items()
             if k not in ("format", "kind", "config", "vocab", "optimizer", "scheduler")}
    if args.average:
        if not 0.0 <= args.weight <= 1.0:
            print(f"error: --weight must be in 0..1, not {args.weight}", file=sys.stderr)
            return 2
        others = []
        for path in args.average:
            other, other_vocab, other_meta = load_checkpoint(path)
            if (other_meta.get("kind"), other_meta.get("config"), other_vocab.itos) != (meta.get("kind"),
                                                                                        meta.get("config"), vocab.itos):
                print(f"error: {path} is not the same architecture and vocabulary as {args.src}: "
                      "only such weights can be averaged", file=sys.stderr)
                return 2
            others.append(other.state_dict())
        if len(others) == 1:
            model.load_state_dict(average_weights(model.state_dict(), others[0], args.weight))
            extra["averaged_with"] = {"checkpoint": str(args.average[0]), "weight": args.weight}
        else:
            model.load_state_dict(mean_weights([model.state_dict()] + others))
            extra["averaged_with"] = {"checkpoints": [str(x) for x in args.average], "weight": 1 / (len(others) + 1)}
    tables = {}
    if args.counts_from and meta.get("kind") == "whole":
        from .corpus import read_pairs
        from .wholetext import couplet_doubles
        from .hengpi import four_char_phrases
        couplets = [p for p in read_pairs(args.counts_from) if p.source == "couplet"]
        extra["doubles"] = couplet_doubles(couplets)
        extra["hengpi"] = four_char_phrases(couplets)
    elif args.counts_from:
        from .corpus import read_pairs
        from .tasks import lower_counts, parse_sources
        sources = parse_sources(extra.get("train_config", {}).get("sources", "couplet:1"))
        pairs = read_pairs(args.counts_from)
        extra["lower_counts"] = lower_counts([p for p in pairs if p.source in sources], vocab)
        if meta.get("kind") == "couplet":
            from . import phrases
            couplets = [p for p in pairs if p.source == "couplet"]
            tables[phrases.FILE] = phrases.build([(p.upper, p.lower) for p in couplets], vocab)
            tables[phrases.FOLLOWS_FILE] = phrases.build_follows((x for p in couplets for x in (p.upper, p.lower)), vocab)
    if args.poems:
        from .poetry import attested_bigrams, attested_doubles, char_counts, double_contexts, load_corpus_lines
        tables["lines.safetensors"] = {"hashes": load_corpus_lines(args.poems), "doubles": attested_doubles(args.poems),
                                       "double_contexts": double_contexts(args.poems, vocab),
                                       "bigrams": attested_bigrams(args.poems, vocab),
                                       "char_counts": char_counts(args.poems, vocab)}
        if meta.get("kind") == "poem":
            from .plan import build_plan_table
            from .poetry import season_images, season_pairs
            extra["plan"], numbers = build_plan_table(args.poems).to_checkpoint()
            pairs, pair_of = season_pairs(args.poems, vocab)
            tables["lines.safetensors"].update(numbers, seasons=season_images(args.poems, vocab), season_pairs=pairs,
                                               season_pair_of=pair_of)
    save_checkpoint(args.dst, model=model, vocab=vocab, kind=meta.get("kind", "couplet"),
                    extra=extra, half=not args.fp32, tables=tables)
    source = next((p for p in prosody_paths(args.src)[:2] if p.is_file()), None)  # the run's own table
    if source is not None:
        shutil.copyfile(source, Path(args.dst).parent / "prosody.json")
    print(f"exported {args.src} → {args.dst}")
    return 0


def cmd_check(args) -> int:
    from .meter import Meter, check_text
    from .prosody import Prosody
    from .requests import DEFAULT_PROSODY
    from .text import InputError
    if (args.text is None) == (args.input is None):
        print("error: give one poem or couplet to check, or --input FILE with --output", file=sys.stderr)
        return 2
    if args.input is not None:
        from .batch import run_check_batch
        if args.output is None or args.rewrite:
            print("error: a batch check needs --output F.jsonl or F.txt (and --rewrite reads one poem at a time)",
                  file=sys.stderr)
            return 2
        counts = run_check_batch(args.input, args.output, Prosody.load(args.prosody or DEFAULT_PROSODY),
                                 overwrite=args.overwrite)
        kinds = ", ".join(f"{k} {v}" for k, v in counts.items() if k not in ("lines", "regular", "errors"))
        print(f"checked {counts['lines']} lines → {args.output}: {counts['regular']} regular, {counts['errors']} not "
              f"read (the file says why){'; findings: ' + kinds if kinds else ''}")
        return 0
    try:
        meter = check_text(args.text, Prosody.load(args.prosody or DEFAULT_PROSODY))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rewritten = []
    if args.rewrite:
        from .meter import couplet_rewrites, rewrites
        from .requests import MAX_CANDIDATES, MAX_POEMS
        most = MAX_POEMS if isinstance(meter, Meter) else MAX_CANDIDATES
        if not 1 <= args.rewrite <= most:
            print(f"error: --rewrite takes 1 to {most} rewrites, not {args.rewrite}", file=sys.stderr)
            return 2
        seed = {} if args.seed is None else {"seed": args.seed}
        try:
            if isinstance(meter, Meter):
                from .poetry import PoemGenerator
                gen = PoemGenerator.load(args.checkpoint) if args.checkpoint else PoemGenerator.load()
                rewritten = rewrites(meter, gen, n=args.rewrite, **seed)
            else:
                from .generate import CoupletGenerator
                gen = CoupletGenerator.load(args.checkpoint) if args.checkpoint else CoupletGenerator.load()
                rewritten = couplet_rewrites(meter, gen, n=args.rewrite, **seed)
        except InputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.json:
        from dataclasses import asdict
        out = {**asdict(meter), "regular": meter.regular}
        if args.rewrite:
            out["rewrites"] = [{"text": text, "regular": m.regular, "findings": [asdict(f) for f in m.findings],
                                "changed": sorted(changed)} for text, m, changed in rewritten]
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(meter.heading)
    if isinstance(meter, Meter):
        for line, tones, want in zip(meter.lines, meter.tones, meter.pattern):
            print(f"  {line}  {tones}  (pattern {want})")
    else:
        for name, line, tones in zip(("上联", "下联"), (meter.upper, meter.lower), meter.tones):
            print(f"  {name} {line}  {tones}")
    print(f"{meter.summary}:" if meter.findings else "regular: no finding")
    for f in meter.findings:
        print(f"  {f.kind}  {meter.place(f)}: {f.text}")
    if args.rewrite and not rewritten:
        print("nothing to rewrite: no finding names a char to change" if isinstance(meter, Meter) else
              "nothing to rewrite: no finding names a 下联 char to change (a 上联 ending in 平, or lines of different "
              "length, are the writer's to mend)")
    for k, (text, m, changed) in enumerate(rewritten, 1):
        text = text.replace("\n", " / ")
        state = "regular" if m.regular else m.counted
        what = "the lines swapped" if getattr(meter, "swapped", False) else \
            f"{len(changed)} char{'s' * (len(changed) > 1)} changed"
        print(f"[{k}] {text}  ({state}; {what})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["couplet"] and "--input" not in argv:  # one 上联: jieba loads beside torch
        from .postag import start_helper
        start_helper()
    from .checkpoint import CheckpointError
    if argv[:1] == ["bench"]:  # the benchmark and the evaluation keep their own flags
        from .bench import main as bench_main
        return bench_main(argv[1:])
    if argv[:1] == ["eval"]:
        from .evaluate import main as eval_main
        try:
            return eval_main(argv[1:])
        except (CheckpointError, FileNotFoundError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    try:
        commands = {"prepare": cmd_prepare, "couplet": cmd_couplet, "poem": cmd_poem, "whole": cmd_whole,
                    "title": cmd_title, "check": cmd_check, "export": cmd_export,
                    "stock": cmd_stock}
        return commands[args.command](args)
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only, a directory where a file should be ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}. Fix that and rerun the same command; finished work is kept "
              "and a batch continues where it stopped.", file=sys.stderr)
        return 2
