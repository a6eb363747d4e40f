"""`python -m couplet eval ...`: how good are couplets and poems, in the numbers this field uses.

Couplets: character BLEU-4 (sacrebleu corpus BLEU with brevity penalty, characters as tokens, and
the mean of smoothed sentence BLEU), distinct-1/2, perplexity of the reference 下联 (with a
checkpoint), and rule accuracies: equal length, punctuation aligned, 重字 mirrored, no copied
上联 char, final 平仄 opposed, position-wise opposition, word-structure (jieba POS) agreement.
Poems: format, rhyme (平水韵), regulated-verse tone pattern, acrostic, distinct-1/2, copied lines.
Predictions can come from any system (a file) or be generated with a checkpoint.

Over 400 lines because the couplet and the poem metrics share their readers, their distinct-n and
their report; each metric is a short pure function of text.
"""
from __future__ import annotations

import json
import math
from dataclasses import fields, replace
from pathlib import Path

from tqdm import tqdm

from .decode import tone_targets
from .postag import structure_agreement
from .poetry import FORMS, check_form, rhyme_groups, strict_positions, tone_pattern
from .prosody import EITHER, PING, ZE, Prosody
from .requests import Settings, add_flags
from .text import is_han

OPPOSITE = {PING: ZE, ZE: PING}


def distinct(lines: list[str], n: int) -> float:
    grams = [line[i:i + n] for line in lines for i in range(len(line) - n + 1)
             if all(is_han(c) for c in line[i:i + n])]
    return len(set(grams)) / len(grams) if grams else 0.0


def bleu(hyps: list[str], refs: list[str]) -> dict[str, float]:
    import sacrebleu
    corpus = sacrebleu.corpus_bleu(hyps, [refs], tokenize="char").score
    sent = [sacrebleu.sentence_bleu(h, [r], tokenize="char", smooth_method="exp").score for h, r in zip(hyps, refs)]
    return {"bleu4_corpus": corpus, "bleu4_sentence_mean": sum(sent) / max(len(sent), 1)}


def couplet_rules(upper: str, lower: str, prosody: Prosody) -> dict[str, float | None]:
    """Per-pair rule checks; None where a rule does not apply."""
    same_len = len(upper) == len(lower)
    r: dict[str, float | None] = {"equal_length": float(same_len)}
    if not same_len:
        return {**r, "punctuation_aligned": 0.0, "repeats_mirrored": 0.0, "no_copied_char": 0.0,
                "final_tone_opposed": None, "position_opposition": None, "pos_agreement": None}
    han = [i for i, c in enumerate(upper) if is_han(c)]
    r["punctuation_aligned"] = float(all((is_han(a) == is_han(b)) and (is_han(a) or a == b)
                                         for a, b in zip(upper, lower)))
    r["repeats_mirrored"] = float(all((upper[i] == upper[j]) == (lower[i] == lower[j])
                                      for k, i in enumerate(han) for j in han[k + 1:]))
    r["no_copied_char"] = float(not ({lower[i] for i in han} & set(upper)))
    last = han[-1] if han else None
    want = OPPOSITE.get(prosody.tone(upper[last])) if last is not None else None
    r["final_tone_opposed"] = None if want is None else float(prosody.tone(lower[last]) == want)
    targets = [(i, t) for i, t in enumerate(tone_targets(upper, prosody, "rhythm")) if t is not None]
    r["position_opposition"] = (sum(prosody.tone(lower[i]) == t for i, t in targets) / len(targets)
                                if targets else None)
    r["pos_agreement"] = structure_agreement(upper, lower)
    return r


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def couplet_metrics(uppers: list[str], hyps: list[str], refs: list[str] | None, prosody: Prosody) -> dict:
    """BLEU and distinct over all pairs (an empty 下联 scores zero); rule accuracies over the
    pairs that got a 下联 (`answered`: inputs a system rejects, e.g. for unknown chars, are not
    counted as rule breaks)."""
    rules = [couplet_rules(u, h, prosody) for u, h in zip(uppers, hyps) if h]
    out = {"pairs": len(uppers), "answered": sum(1 for h in hyps if h) / max(len(hyps), 1)}
    if refs is not None:
        out.update(bleu(hyps, refs))
    out["distinct1"], out["distinct2"] = distinct(hyps, 1), distinct(hyps, 2)
    for key in rules[0] if rules else []:
        out[key] = _mean(r[key] for r in rules)
    return out


def perplexity(gen, uppers: list[str], refs: list[str]) -> float:
    """Perplexity of the reference 下联 under a couplet model (pairs it can encode)."""
    import torch
    from .model import shift_right
    nll, chars = 0.0, 0
    from tqdm import tqdm
    with torch.inference_mode():
        for u, r in tqdm(list(zip(uppers, refs)), desc="perplexity", unit="pair", mininterval=1.0):
            if len(u) != len(r) or not all(c in gen.vocab.stoi for c in u + r):
                continue
            src = torch.tensor([gen.vocab.encode(u)])
            tgt = torch.tensor([gen.vocab.encode(r)])
            logits = gen.model(src, shift_right(tgt, gen.vocab.bos_id))
            nll += torch.nn.functional.cross_entropy(logits[0].float(), tgt[0], reduction="sum").item()
            chars += len(r)
    return math.exp(nll / chars) if chars else float("nan")


# ---------------------------------------------------------------- poems
def best_pattern_accuracy(lines: list[str], form: str, prosody: Prosody) -> float:
    """Share of the strict positions whose tone fits the closer of the 平起/仄起 patterns
    (with or without the first line rhyming); 中 (either) counts as fitting."""
    width = FORMS[form][1]
    bodies = [x.rstrip("，。") for x in lines]
    best = 0.0
    for start in (PING, ZE):
        for first in (True, False):
            pat = tone_pattern(form, start, first)
            pos = [(i, j) for i in range(len(bodies)) for j in strict_positions(width)]
            ok = sum(prosody.tone(bodies[i][j]) in (pat[i][j], EITHER) for i, j in pos)
            best = max(best, ok / len(pos))
    return best


def poem_metrics(records: list[dict], prosody: Prosody, corpus_lines=None) -> dict:
    from .poetry import line_hash
    forms = [r.get("form", "七绝") for r in records]
    ok_form = [check_form(r["lines"], f) for r, f in zip(records, forms)]
    out: dict = {"poems": len(records), "format_accuracy": _mean(map(float, ok_form))}
    rhymes, patterns, acro = [], [], []
    for r, f, ok in zip(records, forms, ok_form):
        if not ok:
            rhymes.append(0.0)
            continue
        width = FORMS[f][1]
        rhymes.append(float(bool(rhyme_groups(r["lines"], prosody, width == 7) or
                                 rhyme_groups(r["lines"], prosody, False))))
        patterns.append(best_pattern_accuracy(r["lines"], f, prosody))
        if r.get("acrostic"):
            acro.append(float("".join(x[0] for x in r["lines"]) == r["acrostic"]))
    out["rhyme_accuracy"] = _mean(rhymes)
    out["tone_pattern_accuracy"] = _mean(patterns)
    out["acrostic_accuracy"] = _mean(acro)
    bodies = [x.rstrip("，。") for r in records for x in r["lines"]]
    out["distinct1"], out["distinct2"] = distinct(bodies, 1), distinct(bodies, 2)
    if corpus_lines is not None and len(corpus_lines):
        import torch
        hashes = torch.tensor([line_hash(b) for b in bodies], dtype=torch.int32)
        idx = torch.searchsorted(corpus_lines, hashes).clamp(max=len(corpus_lines) - 1)
        out["copied_line_share"] = (corpus_lines[idx] == hashes).float().mean().item() if len(bodies) else 0.0
    return out


def read_couplet_pairs(path: str | Path, source: str | None) -> tuple[list[str], list[str]]:
    """上联/下联 from a prepare split (.tsv, optionally one source) or a couplet-dataset dir."""
    from .corpus import couplet_files, read_pairs
    from .text import clean_corpus_line
    p = Path(path)
    if p.is_dir():
        ups, refs = [], []
        for fin, fout in couplet_files(p):
            ups += [clean_corpus_line(x) for x in fin.read_text(encoding="utf-8-sig").splitlines()]
            refs += [clean_corpus_line(x) for x in fout.read_text(encoding="utf-8-sig").splitlines()]
        return ups, refs
    pairs = [x for x in read_pairs(p) if source in (None, "all") or x.source == source]
    return [x.upper for x in pairs], [x.lower for x in pairs]


def read_predictions(path: str | Path) -> list[str]:
    p = Path(path)
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    if p.suffix == ".jsonl":
        return [json.loads(x).get("lower", "") for x in lines]
    if p.suffix == ".tsv":
        return [x.split("\t")[1] for x in lines[1:]]
    return lines


def _shown(key: str, v) -> str:
    if v is None:
        return "—"
    if key in ("pairs", "poems", "wishes", "couplets", "wishes with fewer than n"):
        return str(v)
    if key.startswith(("bleu", "perplexity", "seconds")):
        return f"{v:.2f}"
    return f"{100 * v:.2f}%"


def format_table(columns: dict[str, dict]) -> str:
    """Metrics side by side, one column per system."""
    names = list(columns)
    keys = list(dict.fromkeys(k for m in columns.values() for k in m))
    widths = [max(18, len(n) + 2) for n in names]
    rows = [f"{'metric':<24}" + "".join(f"{n:>{w}}" for n, w in zip(names, widths))]
    for k in keys:
        rows.append(f"{k:<24}" + "".join(f"{_shown(k, columns[n].get(k)):>{w}}" for n, w in zip(names, widths)))
    return "\n".join(rows)


def best_lowers(gen, uppers: list[str], settings, progress: bool = True) -> list[str]:
    """The best 下联 for each 上联, decoded as one batch file is (with `settings.shared_pair`, each line
    pays for the pairs the lines before it wrote); an empty string where the input is refused."""
    from tqdm import tqdm
    from .stock import WrittenPairs
    results = []
    written = WrittenPairs()
    with tqdm(total=len(uppers), desc="decode", unit="pair", disable=not progress, mininterval=1.0) as bar:
        for i in range(0, len(uppers), 64):
            results += gen.generate_batch(uppers[i:i + 64], settings, written=written)
            bar.update(len(uppers[i:i + 64]))
    return [r.candidates[0].lower if hasattr(r, "candidates") and r.candidates else "" for r in results]


def column_name(path, settings, mixed: bool, int8: bool | None = None) -> str:
    """A table column label: which checkpoint, decoded how."""
    p = Path(path) if path else Path("checkpoints/couplet")
    name = f"{p.parent.name}/{p.name}" if p.name in ("best", "last") else p.name
    name += f", beam {settings.beam}" if settings.beam else ", greedy"
    if settings.structure > 0 and settings.beam:
        name += f", structure {settings.structure:g}"
    if mixed and settings.align > 0:
        name += f", align {settings.align:g}"
    for f in fields(Settings):  # any other setting that is not its default
        value = getattr(settings, f.name)
        if f.name not in ("n", "beam", "structure", "align") and value != f.default:
            name += f", {f.name.replace('_', ' ')} {value:g}" if isinstance(value, float) else f", {f.name} {value}"
    from .model import INT8_BY_DEFAULT
    if int8 is not None and int8 != INT8_BY_DEFAULT:
        name += ", int8" if int8 else ", fp32"
    return name


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys
    p = argparse.ArgumentParser(prog="python -m couplet eval", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("couplet", help="evaluate 下联 against references")
    c.add_argument("--pairs", default="data/processed/test.tsv",
                   help="a split written by prepare (.tsv) or a couplet-dataset folder (in.txt/out.txt)")
    c.add_argument("--source", default="couplet", help="with a .tsv: couplet, lvshi, poem or all")
    c.add_argument("--predictions", default=None, help="下联 from any system: .txt (one per line), .jsonl, .tsv")
    c.add_argument("--checkpoint", nargs="*", default=None,
                   help="couplet checkpoint(s) to generate with and score perplexity; several give one column "
                        "each, decoded the same way (default: checkpoints/couplet)")
    c.add_argument("--beam", type=int, default=None,
                   help="generate with beam search of this width (0: greedy; default: as a batch file is decoded)")
    c.add_argument("--limit", type=int, default=0, help="evaluate the first N pairs only (0: all)")
    c.add_argument("--sample", type=int, default=0,
                   help="evaluate N pairs drawn at random (seed 0) instead of the whole file (0: all)")
    add_flags(c, Settings, skip=("n", "beam", "rerank"))  # decoding as the couplet command takes it
    c.add_argument("--int8", action=argparse.BooleanOptionalAction, default=None,
                   help="decode with the int8 copy of each model (default: the generator's)")
    c.add_argument("--rerank", action="store_true",
                   help="also report beam search with the N-vs-1 scorer reranking (checkpoints/scorer)")
    c.add_argument("--json", action="store_true", help="print JSON")
    q = sub.add_parser("poem", help="evaluate generated poems (.jsonl with lines and form)")
    q.add_argument("--predictions", required=True, help="poems .jsonl, e.g. from `python -m couplet poem --output`")
    q.add_argument("--poems", default=None, help="poems.jsonl from prepare, for the copied-lines share")
    q.add_argument("--json", action="store_true", help="print JSON")
    w = sub.add_parser("whole", help="hard rules, diversity and theme use of whole couplets from wishes")
    w.add_argument("--themes", default="data/examples/themes.txt", help="one theme per line")
    w.add_argument("--heads", default="data/examples/heads.txt", help="one 藏头 (2 or 4 chars) per line")
    w.add_argument("--n", type=int, default=5, help="couplets per wish")
    w.add_argument("--lengths", nargs="+", type=int, default=[5, 7, 9, 11], help="line lengths, cycled over wishes")
    w.add_argument("--output", default=None, help="also write every couplet (.jsonl) for reading")
    w.add_argument("--checkpoint", default=None, help="whole-couplet checkpoint (default: checkpoints/whole)")
    w.add_argument("--json", action="store_true", help="print JSON")
    t = sub.add_parser("title", help="titles written for test poems against their real titles")
    t.add_argument("--poems", default="data/processed/poems.jsonl", help="poems.jsonl from prepare")
    t.add_argument("--sample", type=int, default=1000, help="test poems drawn at random (seed 0)")
    t.add_argument("--output", default=None, help="also write every poem's titles (.jsonl)")
    t.add_argument("--checkpoint", default=None, help="title checkpoint (default: checkpoints/title)")
    t.add_argument("--json", action="store_true", help="print JSON")
    h = sub.add_parser("hengpi", help="横批 chosen for real (上联, 下联, 横批) triples against the real ones")
    h.add_argument("--triples", required=True, help="上联 TAB 下联 TAB 横批 per line")
    h.add_argument("--output", default=None, help="also write our top 5 for each couplet (.jsonl)")
    h.add_argument("--checkpoint", default=None, help="whole-couplet checkpoint (default: checkpoints/whole)")
    h.add_argument("--json", action="store_true", help="print JSON")
    for x in (c, q):
        x.add_argument("--prosody", default=None, help="prosody.json (default: checkpoints/prosody.json)")
    args = p.parse_args(argv)
    if args.what == "whole":
        return eval_whole(args)
    if args.what == "hengpi":
        return eval_hengpi(args)
    if args.what == "title":
        return eval_title(args)
    from .checkpoint import load_prosody
    from .generate import DEFAULT_CHECKPOINT, CoupletGenerator
    from .model import is_quantized
    prosody = load_prosody(DEFAULT_CHECKPOINT, args.prosody)
    if args.what == "poem":
        records = [json.loads(x) for x in Path(args.predictions).read_text(encoding="utf-8").splitlines() if x]
        records = [r for r in records if "lines" in r]
        lines = None
        if args.poems:
            from .poetry import load_corpus_lines
            lines = load_corpus_lines(args.poems)
        m = poem_metrics(records, prosody, lines)
        print(json.dumps(m, ensure_ascii=False) if args.json else format_table({"poems": m}))
        return 0
    uppers, refs = read_couplet_pairs(args.pairs, args.source)
    if args.sample:
        uppers, refs = sample_pairs(uppers, refs, args.sample)
    if args.limit:
        uppers, refs = uppers[:args.limit], refs[:args.limit]
    columns: dict[str, dict] = {}
    if args.predictions:
        hyps = read_predictions(args.predictions)[:len(uppers)]
        if len(hyps) != len(uppers):
            print(f"error: {len(hyps)} predictions for {len(uppers)} pairs", file=sys.stderr)
            return 2
        columns["predictions"] = couplet_metrics(uppers, hyps, refs, prosody)
    given = {f.name: getattr(args, f.name) for f in fields(Settings)
             if f.name not in ("n", "beam", "rerank") and getattr(args, f.name, None) is not None}
    if args.beam is not None:
        given["beam"] = args.beam
    settings = Settings.for_request(batch=True, **given).check()  # decoded as a batch file is, unless told
    for path in args.checkpoint or ([] if args.predictions else [None]):
        gen = CoupletGenerator.load(path, int8=args.int8)
        m = couplet_metrics(uppers, best_lowers(gen, uppers, settings), refs, prosody)
        m["perplexity"] = perplexity(gen, uppers, refs)
        name = column_name(path, settings, gen.model.has_aligned_head, int8=is_quantized(gen.model))
        columns[name if name not in columns else f"{name} ({len(columns) + 1})"] = m
        if args.rerank:
            if gen.scorer is None:
                print("error: --rerank needs a scorer in checkpoints/scorer (python train.py scorer ...)",
                      file=sys.stderr)
                return 2
            for label, rerank in (("beam 10", False), ("beam 10 + scorer", True)):
                hyps = best_lowers(gen, uppers, replace(settings, beam=10, rerank=rerank))
                columns[f"{column_name(path, settings, False).split(',')[0]}, {label}"] = \
                    couplet_metrics(uppers, hyps, refs, prosody)
    reference = couplet_metrics(uppers, refs, None, prosody)
    columns["reference 下联"] = reference
    if args.json:
        print(json.dumps(columns, ensure_ascii=False))
    else:
        print(format_table(columns))
    return 0


def sample_pairs(uppers: list[str], refs: list[str], n: int) -> tuple[list[str], list[str]]:
    """The n pairs `eval couplet --sample n` reads: drawn at random with seed 0."""
    import random
    pairs = list(zip(uppers, refs))
    random.Random(0).shuffle(pairs)
    return [u for u, _ in pairs[:n]], [r for _, r in pairs[:n]]


def eval_whole(args) -> int:
    """Whole couplets for every theme and head pair: the hard rules, distinct-n, theme use, speed."""
    import time

    from .whole import WholeGenerator, WholeRequest, check_whole
    themes = [x.strip() for x in Path(args.themes).read_text(encoding="utf-8").splitlines() if x.strip()]
    heads = [x.strip() for x in Path(args.heads).read_text(encoding="utf-8").splitlines() if x.strip()]
    gen = WholeGenerator.load(args.checkpoint)
    wishes = [("theme", t) for t in themes] + [("head", h) for h in heads]
    rows, rules, seconds, short = [], {}, [], 0
    for i, (kind, text) in enumerate(tqdm(wishes, desc="whole couplets", unit="wish")):
        length = args.lengths[i % len(args.lengths)]
        if kind == "head" and len(text) == 4:  # two clauses per line
            length = max(length, 9)
        req = WholeRequest(**{kind: text}, n=args.n, length=length)
        start = time.perf_counter()
        res = gen.generate(req)
        seconds.append(time.perf_counter() - start)
        short += len(res.couplets) < args.n
        for c in res.couplets:
            checks = check_whole(c.upper, c.lower, req.head, gen.couplets.prosody)
            for k, ok in checks.items():
                rules.setdefault(k, []).append(ok)
            used = bool(set("".join(res.keywords)) & set(c.upper + c.lower)) if kind == "theme" else None
            rows.append({"wish": kind, "text": text, "length": req.length, "upper": c.upper, "lower": c.lower,
                         "score": round(c.score, 4), "theme_fit": c.theme_fit, "theme_char_used": used,
                         "broken": [k for k, ok in checks.items() if not ok]})
    lines = [r["upper"] for r in rows] + [r["lower"] for r in rows]
    uppers = [r["upper"] for r in rows]
    themed = [r["theme_char_used"] for r in rows if r["theme_char_used"] is not None]
    m = {"wishes": len(wishes), "couplets": len(rows), "wishes with fewer than n": short,
         **{f"rule {k}": _mean(v) for k, v in rules.items()},
         "distinct-1": distinct(lines, 1), "distinct-2": distinct(lines, 2),
         "上联 repeated in the batch": 1 - len(set(uppers)) / max(len(uppers), 1),
         "theme char in the couplet": _mean(themed),
         "seconds per wish (p50)": sorted(seconds)[len(seconds) // 2] if seconds else None}
    if args.output:
        from .fileio import atomic_write_text
        atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(json.dumps(m, ensure_ascii=False) if args.json else format_table({"whole couplets": m}))
    return 0


def eval_hengpi(args) -> int:
    """How often the real 横批 is our first or in our top 5, beside the frequency baseline's top 5."""
    import time

    from .whole import WholeGenerator
    chooser = WholeGenerator.load(args.checkpoint).hengpi
    rows = [x.split("\t") for x in Path(args.triples).read_text(encoding="utf-8").splitlines() if x.count("\t") == 2]
    rows = [r for r in rows if len(r[0]) == len(r[1])]
    table = {ph for ph, _ in chooser.phrases}
    baseline = chooser.common(5)
    out, hits1, hits5, start = [], 0, 0, time.perf_counter()
    for upper, lower, real in tqdm(rows, desc="横批", unit="couplet"):
        ours = [h.text for h in chooser.choose(upper, lower, 5)]
        hits1 += bool(ours) and ours[0] == real
        hits5 += real in ours
        out.append({"upper": upper, "lower": lower, "real": real, "ours": ours, "baseline": baseline[0]})
    n = max(len(rows), 1)
    m = {"couplets": len(rows), "real in our top 1": hits1 / n, "real in our top 5": hits5 / n,
         "real in the baseline's top 5": sum(r[2] in baseline for r in rows) / n,
         "real in the phrase table": sum(r[2] in table for r in rows) / n,
         "seconds per couplet": (time.perf_counter() - start) / n}
    if args.output:
        from .fileio import atomic_write_text
        atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))
    print(json.dumps(m, ensure_ascii=False) if args.json else format_table({"横批": m}))
    return 0


def rouge1(hyp: str, ref: str) -> float:
    """Char unigram F1 of a title against the real one."""
    from collections import Counter
    overlap = sum((Counter(hyp) & Counter(ref)).values())
    return 0.0 if not overlap else 2 * overlap / (len(hyp) + len(ref))


def eval_title(args) -> int:
    """Titles of test poems (our own hash split) by the title model and by the keyword baseline."""
    import random

    from .corpus import split_of
    from .title import TitleGenerator, clean_title, keyword_title
    gen = TitleGenerator.load(args.checkpoint)
    poems = []
    with open(args.poems, encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            title = clean_title(p.get("title", ""))
            if title and split_of(p["lines"][0]) == "test":
                poems.append((p["lines"], title))
    random.Random(0).shuffle(poems)
    poems = poems[:args.sample] if args.sample else poems
    rows, columns = [], {}
    for lines, real in tqdm(poems, desc="titles", unit="poem"):
        ours = gen.titles(lines, n=1)
        rows.append({"lines": lines, "real": real, "ours": ours[0][0] if ours else "", "baseline": keyword_title(lines)})
    refs = [r["real"] for r in rows]
    for name in ("ours", "baseline"):
        hyps = [r[name] for r in rows]
        columns["title model" if name == "ours" else "first keywords"] = {
            "poems": len(rows), **bleu(hyps, refs), "rouge1_f": _mean([rouge1(h, r) for h, r in zip(hyps, refs)]),
            "exact": _mean([h == r for h, r in zip(hyps, refs)]),
            "distinct titles": len(set(hyps)) / max(len(hyps), 1)}
    if args.output:
        from .fileio import atomic_write_text
        atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(json.dumps(columns, ensure_ascii=False) if args.json else format_table(columns))
    return 0
