"""Blind reading for whole couplets: 30 wishes from real couplets of our own test split (20 themes =
the couplet's two jieba keywords, 10 head pairs = its two heads); ours = the top couplet of
`python -m couplet whole` for that wish (defaults, seed 0). Part 1 holds ours for the even wishes and
the real couplet for the odd ones, part 2 the other way round, so no judge sees both for one wish.

With --variants '{"A": {}, "B": {"temperature": 0.6}}' it writes a side-by-side reading of our
decodings instead (WholeRequest fields per name; no real couplets): each item shows the wish and one
couplet of each with its 横批, labelled x, y in random order, and asks which to keep. "occasion_hengpi":
false (or "occasion_season", "occasion_words", "occasion_subject", "occasion_year", "occasion_avoid": false)
in a system's fields turns `couplet.whole.OCCASION_HENGPI` (or `OCCASION_SEASON`, `OCCASION_WORDS`,
`OCCASION_SUBJECT`, `OCCASION_YEAR`, `OCCASION_AVOID`) off for it ("heads_follow": false, `HEADS_FOLLOW`;
"names": false, `NAMES`),
"occasion_holding": true turns `OCCASION_HOLDING` on; wishes whose two come out
the same are left out. With --wishes the
items are those themes (as a user types them, e.g. 结婚,开业大吉) instead of wishes drawn from test
couplets. Tally: whole_variants_tally.py."""
import argparse, json, random, sys
from dataclasses import replace
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repository, for `couplet`
ap = argparse.ArgumentParser(description="the files of a whole-couplet reading (docs/judging/PREFIX-*)")
ap.add_argument("--rng", type=int, default=2026, help="seed of the draws of wishes and order (v2: 2027, v3: 2028)")
ap.add_argument("--prefix", default="whole", help="file names under docs/judging/ (whole, whole-v2, whole-v3)")
ap.add_argument("--exclude", nargs="*", default=[], help="outputs of earlier readings whose couplets are left out "
                "(v2: whole-outputs.json; v3: that and whole-v2-outputs.json)")
ap.add_argument("--variants", default=None, help="a side-by-side of our decodings: name -> WholeRequest fields, JSON")
ap.add_argument("--wishes", default=None, help="with --variants: these themes, comma-separated, at 7, 7, 5 and 9 "
                "chars in turn, instead of wishes drawn from the test split")
ap.add_argument("--heads", default=None, help="with --variants: these 藏头 heads (a theme after a slash: 丽华/春节), "
                "comma-separated, at 7, 7, 5 and 9 chars in turn, after any --wishes")
ap.add_argument("--seeds", type=int, default=1, help="with --wishes: each wish read at request seeds 0..N-1")
args = ap.parse_args()
from couplet.corpus import read_pairs
from couplet.poetry import keywords
import couplet.whole as W
from couplet.whole import WholeGenerator, WholeRequest
from couplet.wholetext import layout_of, han_count

used = set()
for f in ("couplets-outputs.json", "couplets-final-outputs.json", *args.exclude):
    for rec in json.load(open(ROOT / "docs/judging" / f, encoding="utf-8")):
        used.add(rec["upper"] if isinstance(rec, dict) and "upper" in rec else rec["real"][0] if isinstance(rec, dict)
                 else rec[0])
std = {5: "5", 7: "7", 9: "4,5", 11: "4,7"}
pairs = [p for p in read_pairs(ROOT / "data/processed/test.tsv") if p.source == "couplet"
         and han_count(p.upper) in std and layout_of(p.upper) == std[han_count(p.upper)] and p.upper not in used]
rng = random.Random(args.rng)
rng.shuffle(pairs)
want = {"theme": {5: 4, 7: 8, 9: 4, 11: 4}, "head": {5: 2, 7: 5, 9: 1, 11: 2}}
chosen = []
for p in pairs:
    n = han_count(p.upper)
    for kind in ("theme", "head"):
        if want[kind].get(n, 0) > 0:
            if kind == "theme":
                kw = [w for w in keywords(p.upper + "，" + p.lower, 2)]
                if len(kw) < 2:
                    continue
                wish = " ".join(kw)
            else:
                wish = p.upper[0] + p.lower[0]
                if wish[0] == wish[1]:
                    continue
            want[kind][n] -= 1
            chosen.append({"kind": kind, "wish": wish, "length": n, "real": [p.upper, p.lower]})
            break
    if not any(v for d in want.values() for v in d.values()):
        break
if args.wishes or args.heads:
    chosen = [{"kind": "theme", "wish": w, "length": (7, 7, 5, 9)[i % 4], "seed": s}
              for i, w in enumerate(args.wishes.split(",") if args.wishes else []) for s in range(args.seeds)]
    chosen += [{"kind": "head", "wish": h.partition("/")[0], "theme": h.partition("/")[2],
                "length": (7, 7, 5, 9)[i % 4], "seed": s}
               for i, h in enumerate(args.heads.split(",") if args.heads else []) for s in range(args.seeds)]
gen = WholeGenerator.load()
CRITERIA = """对仗 (parallelism: part of speech and structure match position by
position), 平仄 (tonal opposition, esp. the last characters: 上联 仄, 下联 平), meaning (does it make
sense, do the two lines belong together), literary quality (diction, imagery, elegance), theme fit
(does it carry the theme or suit a couplet with those heads)"""
if args.variants:
    systems = json.loads(args.variants)
    for c in chosen:
        req = WholeRequest(**{c["kind"]: c["wish"]}, length=c["length"], seed=c.get("seed", 0))
        if c.get("theme"):
            req = replace(req, theme=c["theme"])
        c["cands"] = []
        for name, cfg in systems.items():
            cfg = dict(cfg)
            W.OCCASION_HENGPI = cfg.pop("occasion_hengpi", True)   # module switches, not request fields
            W.OCCASION_SEASON = cfg.pop("occasion_season", True)
            W.OCCASION_WORDS = cfg.pop("occasion_words", True)
            W.OCCASION_SUBJECT = cfg.pop("occasion_subject", True)
            W.OCCASION_YEAR = cfg.pop("occasion_year", True)
            W.OCCASION_AVOID = cfg.pop("occasion_avoid", True)
            W.OCCASION_HOLDING = cfg.pop("occasion_holding", False)
            W.HEADS_FOLLOW = cfg.pop("heads_follow", True)
            W.NAMES = cfg.pop("names", True)
            top = gen.generate(replace(req, **cfg)).couplets[0]
            c["cands"].append({"who": name, "couplet": [top.upper, top.lower], "hengpi": top.hengpi})
        rng.shuffle(c["cands"])
    # a wish whose couplets and 横批 come out the same both ways tells nothing
    chosen = [c for c in chosen if len({(tuple(x["couplet"]), x["hengpi"]) for x in c["cands"]}) > 1]
    rng.shuffle(chosen)
    head = f"""# 整副对联 reading, part {{p}}

Each item gives a wish (a theme, or 藏头 heads: the first character of the 上联 and of the 下联) and
two couplets written for it (上联 / 下联, and the 横批 over it), labelled x and y in no particular order. For each couplet
give 1–5 scores on: {CRITERIA}; then say which one you would keep (or tie).
Answer in one JSON line per item: {{{{"item": N, "x": [对仗, 平仄, meaning, literary, theme], "y": [...], "better": "x|y|tie"}}}}
"""
    half = len(chosen) // 2
    for p, chunk in ((1, chosen[:half]), (2, chosen[half:])):
        out = [head.format(p=p)]
        for k, c in enumerate(chunk, 1):
            c["item"], c["part"] = k, p
            what = f"主题：{c['wish']}" if c["kind"] == "theme" else f"藏头：{c['wish']}"
            what += f"\n主题：{c['theme']}" if c.get("theme") else ""
            out.append(f"## item {k}\n{what}\n" + "\n".join(f"{lab}: 上联 {x['couplet'][0]} / 下联 {x['couplet'][1]}"
                                                              + (f" / 横批 {x['hengpi']}" if x.get("hengpi") else "")
                                                              for lab, x in zip("xy", c["cands"])) + "\n")
        (ROOT / f"docs/judging/{args.prefix}-part{p}.md").write_text("\n".join(out), encoding="utf-8")
    json.dump(chosen, open(ROOT / f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=0)
    print(len(chosen), "wishes")
    sys.exit(0)
for c in chosen:
    res = gen.generate(WholeRequest(**{c["kind"]: c["wish"]}, length=c["length"]))
    c["ours"] = [res.couplets[0].upper, res.couplets[0].lower]
    c["ours_all"] = [[x.upper, x.lower] for x in res.couplets]
rng.shuffle(chosen)
parts = {1: [], 2: []}
key = {1: [], 2: []}
for i, c in enumerate(chosen):
    mine_in = 1 if i % 2 == 0 else 2
    parts[mine_in].append((c, "ours")); parts[3 - mine_in].append((c, "real"))
head = """# 整副对联 blind reading, part {p}

Each item gives a wish (a theme, or 藏头 heads: the first character of the 上联 and of the 下联) and
one couplet written for it (上联 / 下联). Some couplets were written by people, some by a machine.
For each item give 1–5 scores on: {criteria}; and guess who wrote it (human/machine).
Answer in one JSON line per item: {{"item": N, "对仗":x,"平仄":x,"meaning":x,"literary":x,"theme":x,"author":"human|machine"}}
"""
for p in (1, 2):
    rng.shuffle(parts[p])
    out = [head.format(p=p, criteria=CRITERIA)]
    for k, (c, who) in enumerate(parts[p], 1):
        up, low = c[who]
        what = f"主题：{c['wish']}" if c["kind"] == "theme" else f"藏头：{c['wish']}"
        out.append(f"## item {k}\n{what}\n上联：{up}\n下联：{low}\n")
        key[p].append({"item": k, "who": who, "kind": c["kind"], "wish": c["wish"]})
    open(ROOT / f"docs/judging/{args.prefix}-part{p}.md", "w", encoding="utf-8").write("\n".join(out))
json.dump(key, open(ROOT / f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=0)
json.dump(chosen, open(ROOT / f"docs/judging/{args.prefix}-outputs.json", "w", encoding="utf-8"), ensure_ascii=False, indent=0)
print(len(chosen), [len(parts[p]) for p in (1, 2)])
