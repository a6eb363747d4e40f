"""横批 reading: the 横批 each couplet of a wish's page hangs with and without the phrases that hold a word typed
beside the occasion's (`couplet.whole.OCCASION_HOLDING`), for the couplets whose 横批 differ. Each judge reads
every item, x and y in its own random order. make: python holding_reading.py make --rng R --prefix P --wishes
"新年 平安,…"; tally: python holding_reading.py tally --prefix P."""
import argparse, json, random, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
ap = argparse.ArgumentParser()
ap.add_argument("what", choices=["make", "tally"])
ap.add_argument("--rng", type=int, default=0)
ap.add_argument("--prefix", default="whole-holding")
ap.add_argument("--wishes", default="")
ap.add_argument("--judges", type=int, default=2)
args = ap.parse_args()
here = ROOT / "docs/judging"
if args.what == "make":
    import couplet.whole as W
    from couplet.whole import WholeGenerator, WholeRequest
    gen = WholeGenerator.load()
    items = []
    W.OCCASION_HOLDING = True
    for wish in args.wishes.split(","):
        res = gen.generate(WholeRequest(theme=wish), avoid=None)
        pairs = [(c.upper, c.lower) for c in res.couplets]
        theme = [c.seed for c in res.couplets]
        new = [c.hengpi for c in res.couplets]
        W.OCCASION_HOLDING = False
        old = gen.generate(WholeRequest(theme=wish))
        W.OCCASION_HOLDING = True   # B: the switch on (off by default since this reading)
        assert [(c.upper, c.lower) for c in old.couplets] == pairs
        items += [{"wish": wish, "couplet": list(p), "A": a.hengpi, "B": b} for p, a, b in zip(pairs, old.couplets, new)
                  if a.hengpi != b]
    rng = random.Random(args.rng)
    rng.shuffle(items)
    key = []
    for j in range(1, args.judges + 1):
        out = [f"""# 横批 reading, judge {j}

Each item gives a wish as a user typed it, a couplet written for it, and two 横批 (x and y) for it. Score each 横批
1–5 on fit (does it suit this couplet and the wish) and phrase (is it a good 横批 in itself), then say which you
would hang (or tie). Answer one JSON line per item: {{"item": N, "x": [fit, phrase], "y": [fit, phrase], "better": "x|y|tie"}}
"""]
        for k, it in enumerate(items, 1):
            order = ["A", "B"]
            rng.shuffle(order)
            key.append({"judge": j, "item": k, "x": order[0], "y": order[1]})
            out.append(f"## item {k}\n主题：{it['wish']}\n上联 {it['couplet'][0]} / 下联 {it['couplet'][1]}\n"
                       f"x: {it[order[0]]}\ny: {it[order[1]]}\n")
        (here / f"{args.prefix}-judge{j}.md").write_text("\n".join(out), encoding="utf-8")
    json.dump({"items": items, "key": key}, open(here / f"{args.prefix}-key.json", "w", encoding="utf-8"),
              ensure_ascii=False, indent=0)
    print(len(items), "items")
else:
    data = json.load(open(here / f"{args.prefix}-key.json", encoding="utf-8"))
    kept, scores = {"A": 0, "B": 0, "tie": 0}, {"A": [], "B": []}
    for j in range(1, args.judges + 1):
        side = {k["item"]: k for k in data["key"] if k["judge"] == j}
        per = {"A": 0, "B": 0, "tie": 0}
        for line in open(here / f"{args.prefix}-judge{j}.answers.jsonl", encoding="utf-8"):
            if not line.strip():
                continue
            a = json.loads(line)
            k = side[a["item"]]
            for lab in "xy":
                scores[k[lab]].append(a[lab])
            who = "tie" if a["better"] == "tie" else k[a["better"]]
            kept[who] += 1
            per[who] += 1
        print(f"judge {j}: {per}")
    print("kept", kept)
    for s, v in scores.items():
        print(s, "fit %.2f phrase %.2f" % tuple(sum(x[i] for x in v) / len(v) for i in range(2)))
