"""A side-by-side reading of two 下联 decodings: fresh 上联 of our own test split (none used by the
earlier couplet readings or the 1,000 of the automatic numbers), by length 8 x 5 chars, 16 x 7,
10 x 9-12 with a comma, 6 x 15+; for each, the first candidate of `python -m couplet couplet` under
each system's settings (Settings fields, JSON, and optionally "checkpoint" and "int8": false for the fp32
weights; "batch": true for the 下联 a batch file writes (--lock-mid: a char of the human 下联 fixed inside the line), `generate_batch`; "tagger": "word" orders the
词性 term by jieba's word tags alone, as before the idiom reading of `couplet.postag`), labelled x and y in
random order. With --pool N the first N 上联 drawn (any length) are one batch file for every system, each
line decoded after the lines before it (what `shared_pair` reads), and the items are chosen from them.
Run from the repository root:

    python docs/judging/couplet_variants.py --rng 3001 --prefix couplets-tone \
        --systems '{"A": {}, "B": {"tone": "end"}}'
    python docs/judging/couplet_variants.py --rng 7202 --prefix couplets-v3 --human --items 60 \
        --systems '{"ours": {}}'      # ours against the human 下联
    python docs/judging/couplet_variants.py --tally docs/judging/couplets-tone-key.json \
        docs/judging/couplets-tone-part1.answers.jsonl docs/judging/couplets-tone-part2.answers.jsonl
"""
import argparse
import collections
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repository, for `couplet`
CRITERIA = ["对仗", "平仄", "meaning", "literary"]


def tally(key_path: str, answers: list[str], criteria: list[str] = CRITERIA) -> None:
    """Mean scores per decoding, how often each was kept, how many rated 3+ (the mean of the first
    four criteria). Also used by whole_variants_tally.py."""
    key = {(c["part"], c["item"]): c for c in json.load(open(key_path, encoding="utf-8"))}
    scores, kept = collections.defaultdict(list), collections.Counter()
    for part, path in enumerate(answers, 1):
        for line in open(path, encoding="utf-8"):
            if line.strip():
                a = json.loads(line)
                who = {lab: c["who"] for lab, c in zip("xy", key[(part, a["item"])]["cands"])}
                for lab in "xy":
                    scores[who[lab]].append(a[lab])
                kept[who.get(a["better"], "tie")] += 1
    print(sum(kept.values()), "items; kept:", dict(kept))
    for w, xs in sorted(scores.items()):
        print(w, {c: round(sum(x[i] for x in xs) / len(xs), 2) for i, c in enumerate(criteria)},
              "rated 3+", sum(1 for x in xs if sum(x[:4]) / 4 >= 3), "of", len(xs))


def word_tags_agreement(upper: str, lower: str):
    """The 词性 agreement as it was before `couplet.postag` read idioms by their smaller words: the
    class of each char's jieba word (HMM on), compared position by position."""
    from couplet.postag import _posseg

    def tags(line):
        return [flag[:1] for word, flag in _posseg().cut(line) for _ in word]
    pu, pl = tags(upper), tags(lower)
    return sum(a == b for a, b in zip(pu, pl)) / len(pu) if len(pu) == len(pl) and pu else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rng", type=int, default=3001, help="seed of the draws of 上联 and order")
    ap.add_argument("--prefix", default="couplets-variants", help="file names under docs/judging/")
    ap.add_argument("--systems", default='{"A": {}}', help="name -> Settings fields (and \"checkpoint\"), as JSON")
    ap.add_argument("--differ", action="store_true",
                    help="keep only 上联 whose 下联 differ between the systems (a change that touches few lines)")
    ap.add_argument("--human", action="store_true",
                    help="the human 下联 is a candidate too (who: human): ours against people's, issue 10's reading")
    ap.add_argument("--items", type=int, default=40, help="上联 in all, the length mix kept (40: 8, 16, 10, 6)")
    ap.add_argument("--mix", default=None,
                    help='上联 per length bucket as JSON, e.g. \'{"15+": 30, "9-12,": 10}\' (default: --items in the 8:16:10:6 mix)')
    ap.add_argument("--pool", type=int, default=0,
                    help="decode the first N 上联 drawn as one batch file per system and choose the items among them")
    ap.add_argument("--lock-mid", action="store_true",
                    help="lock one char of the human 下联 at a position inside the line (as a user fixes a char on the "
                         "page), the same for every system; the judge is told it was fixed")
    ap.add_argument("--tally", nargs="+", default=None, help="KEY ANSWERS1 ANSWERS2: tally a reading instead")
    args = ap.parse_args()
    if args.tally:
        return tally(args.tally[0], args.tally[1:])
    from couplet.corpus import read_pairs
    from couplet.generate import CoupletGenerator, Settings
    from couplet.text import is_han
    from couplet.evaluate import read_couplet_pairs, sample_pairs
    test = ROOT / "data/processed/test.tsv"
    used = set(sample_pairs(*read_couplet_pairs(str(test), "couplet"), 1000)[0])  # the automatic numbers' 1,000
    for f in sorted((ROOT / "docs/judging").glob("couplets*-outputs.json")) + sorted((ROOT / "docs/judging").glob("couplets-*-key.json")):
        for rec in json.load(open(f, encoding="utf-8")):
            if isinstance(rec, dict) and "upper" in rec:
                used.add(rec["upper"])
    pairs = [p for p in read_pairs(test) if p.source == "couplet" and p.upper not in used]
    rng = random.Random(args.rng)
    rng.shuffle(pairs)

    def bucket(upper: str):
        n, comma = sum(map(is_han, upper)), "，" in upper
        return "5" if n == 5 and not comma else "7" if n == 7 and not comma else \
            "9-12," if 9 <= n <= 12 and comma else "15+" if n >= 15 else None
    want = {b: round(k * args.items / 40) for b, k in {"5": 8, "7": 16, "9-12,": 10, "15+": 6}.items()}
    if args.mix:
        want = {b: 0 for b in want} | json.loads(args.mix)
    systems = json.loads(args.systems)
    # a system may name its own checkpoint ("checkpoint": DIR); the rest of its fields are Settings
    gens = {name: CoupletGenerator.load(cfg.pop("checkpoint", None), int8=cfg.pop("int8", None))
            for name, cfg in systems.items()}
    import couplet.generate
    current = couplet.generate.structure_agreement
    taggers = {name: word_tags_agreement if cfg.pop("tagger", None) == "word" else current
               for name, cfg in systems.items()}
    batch = {name: cfg.pop("batch", False) for name, cfg in systems.items()}
    pooled: dict[str, dict[str, str]] = {}
    if args.pool:   # one batch file of the first N 上联 drawn, in their order
        pairs = [p for p in pairs if all(is_han(c) or c == "，" for c in p.upper)][:args.pool]
        for name, cfg in systems.items():
            couplet.generate.structure_agreement = taggers[name]
            res = gens[name].generate_batch([p.upper for p in pairs], Settings.for_request(batch=True, **cfg))
            pooled[name] = {p.upper: r.candidates[0].lower if r.candidates else "" for p, r in zip(pairs, res)}
        rng.shuffle(pairs)   # items from anywhere in the batch, not only its first lines
    chosen, drawn = [], 0
    for p in pairs:
        b = bucket(p.upper)
        if not (b and want[b] > 0 and all(is_han(c) or c == "，" for c in p.upper)):
            continue
        drawn += 1
        c = {"upper": p.upper, "human": p.lower, "cands": []}
        lock = None
        if args.lock_mid:
            at = rng.choice([i for i in range(1, len(p.lower) - 1) if is_han(p.lower[i])])
            lock = "".join(ch if i == at else "_" for i, ch in enumerate(p.lower))
            c["lock"] = lock
        for name, cfg in systems.items():
            couplet.generate.structure_agreement = taggers[name]
            if pooled:
                c["cands"].append({"who": name, "lower": pooled[name][p.upper]})
                continue
            if batch[name]:
                res = gens[name].generate_batch([c["upper"]], Settings.for_request(batch=True, **cfg))[0]
            else:
                res = gens[name].generate(c["upper"], Settings.for_request(batch=False, **cfg), lock=lock)
            c["cands"].append({"who": name, "lower": res.candidates[0].lower if res.candidates else ""})
        if args.human:
            c["cands"].append({"who": "human", "lower": p.lower})
        if args.differ and len({x["lower"] for x in c["cands"]}) == 1:
            continue
        want[b] -= 1
        rng.shuffle(c["cands"])
        chosen.append(c)
    if args.differ:
        print(f"{len(chosen)} of {drawn} 上联 drawn get different 下联 from the systems")
    rng.shuffle(chosen)
    head = ("# 对联 reading, part {p}\n\nEach item gives a 上联 and two 下联 written for it, labelled x and y in no "
            "particular order. For each 下联 give 1–5 scores on: 对仗 (parallelism: part of speech and structure match "
            "the 上联 position by position), 平仄 (tonal opposition to the 上联, esp. the last character), meaning (does "
            "it make sense, does it answer the 上联), literary quality (diction, imagery, elegance); then say which "
            "one you would keep (or tie).\nAnswer in one JSON line per item: {{\"item\": N, \"x\": [对仗, 平仄, meaning, "
            "literary], \"y\": [...], \"better\": \"x|y|tie\"}}\n")
    half = len(chosen) // 2
    for p, chunk in ((1, chosen[:half]), (2, chosen[half:])):
        out = [head.format(p=p)]
        for k, c in enumerate(chunk, 1):
            c["item"], c["part"] = k, p
            fixed = ""
            if c.get("lock"):
                at = next(i for i, ch in enumerate(c["lock"]) if ch != "_")
                fixed = f"（the user fixed 「{c['lock'][at]}」 as the 下联's character {at + 1}）\n"
            out.append(f"## item {k}\n上联：{c['upper']}\n{fixed}" + "\n".join(f"{lab}: {x['lower']}" for lab, x in zip("xy", c["cands"])) + "\n")
        (ROOT / f"docs/judging/{args.prefix}-part{p}.md").write_text("\n".join(out), encoding="utf-8")
    json.dump(chosen, open(ROOT / f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=0)
    print(len(chosen), "上联;", sum(c["cands"][0]["lower"] == c["cands"][1]["lower"] for c in chosen), "the same both ways")


if __name__ == "__main__":
    main()
