"""The 下联 a user is shown for one 上联 (the default n-best), under two values of
`couplet.generate.MIN_DIFFERENCE`, side by side: which list would a reader rather choose from?
Validation 上联 (our own split) whose lists differ; the key kept apart from what the judges read.
With --whole, the couplets of a wish instead (the wish is two jieba keywords of a validation couplet).
The recorded readings ran with earlier versions of the rule's code: couplets-sets and whole-sets
compared a third with a half alone, whole-sets2 (--fill) a third with a half filled at a third. Run from the repository root:

    python docs/judging/couplet_sets.py make --rng 4101 --n 30 --prefix couplets-sets --a 0.3333 --b 0.5
    python docs/judging/couplet_sets.py tally --prefix couplets-sets
    python docs/judging/couplet_sets.py make --rng 4501 --n 30 --prefix couplets-diversity --a 0.5 --b 0.5 \
        --a-settings '{}' --b-settings '{"diversity": 2.0}'     # two decodings, one rule
"""
import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
import couplet.generate as G  # noqa: E402
from couplet.whole import WholeGenerator  # noqa: E402
from couplet.poetry import keywords  # noqa: E402
from couplet.requests import Settings, WholeRequest  # noqa: E402

HEAD = ("# 下联 lists, part %d\n\nEach item gives a 上联 and two lists, X and Y, of the 下联 a couplet tool offers for "
        "it (best first, as the tool ranks them). A user reads a list and picks one 下联 to keep. For each list give "
        "1-5 scores on: best (the best 下联 in it: 对仗, 平仄, meaning, literary quality), choice (how good a set of "
        "different options it is to choose from: several good, distinct 下联 rather than one idea repeated). Then say "
        "which list you would rather choose from (or tie).\n\nAnswer in one JSON line per item: {\"item\": N, \"X\": "
        "[best, choice], \"Y\": [best, choice], \"better\": \"X|Y|tie\"}\n\n")


WHOLE_HEAD = ("# 整副对联 lists, part %d\n\nEach item gives a wish (a theme) and two lists, X and Y, of the whole "
              "couplets (上联 / 下联) a couplet tool offers for it, best first. A user reads a list and picks one couplet "
              "to keep. For each list give 1-5 scores on: best (the best couplet in it: 对仗, 平仄, meaning, literary "
              "quality, theme fit), choice (how good a set of different options it is to choose from: several good, "
              "distinct couplets rather than one idea repeated). Then say which list you would rather choose from (or "
              "tie).\n\nAnswer in one JSON line per item: {\"item\": N, \"X\": [best, choice], \"Y\": [best, choice], "
              "\"better\": \"X|Y|tie\"}\n\n")


def make(args) -> None:
    gen = WholeGenerator.load() if args.whole else G.CoupletGenerator.load()
    lines = [line.rstrip("\n").split("\t") for line in open("data/processed/valid.tsv", encoding="utf-8")]
    rng = random.Random(args.rng)
    pool = [r for r in rng.sample(lines, 3000) if 5 <= len(r[0]) <= 11 and r[2] == "couplet"]
    items = []
    for row in pool:
        upper = row[0]
        if args.whole:
            words = keywords(row[0] + "，" + row[1], 2)
            if len(words) < 2:
                continue
            upper = " ".join(words)                       # the wish
        lists = {}
        for name, md in (("A", args.a), ("B", args.b)):
            # `generate.apart` reads both at call time; with --fill, B is b apart, then filled at a
            G.MIN_DIFFERENCE, G.FILL_DIFFERENCE = md, (args.a if args.fill else md)
            if args.whole:
                lists[name] = [f"{c.upper} / {c.lower}" for c in gen.generate(WholeRequest(theme=upper)).couplets]
                continue
            given = json.loads(args.a_settings if name == "A" else args.b_settings)
            lists[name] = [c.lower for c in gen.generate(upper, Settings.for_request(batch=False, **given)).candidates]
        if lists["A"] == lists["B"]:
            continue
        order = ["A", "B"]
        rng.shuffle(order)
        items.append({"item": len(items) + 1, "upper": upper, "X": order[0], "Y": order[1], "lists": lists})
        if len(items) == args.n:
            break
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    half = len(items) // 2
    for part, chunk in ((1, items[:half]), (2, items[half:])):
        with open(f"docs/judging/{args.prefix}-part{part}.md", "w", encoding="utf-8") as f:
            f.write((WHOLE_HEAD if args.whole else HEAD) % part + "\n".join(
                f"## item {it['item']}\n{'主题' if args.whole else '上联'}: {it['upper']}\n" + "".join(
                    f"{lab}: " + (" | " if args.whole else " / ").join(it["lists"][it[lab]]) + "\n"
                    for lab in ("X", "Y")) for it in chunk))


def tally(args) -> None:
    """Kept per judge (part) and in all, and the mean scores of A and B (also poem_sets.py's tally)."""
    key = {it["item"]: it for it in json.load(open(f"docs/judging/{args.prefix}-key.json", encoding="utf-8"))}
    kept, scores = {"A": 0, "B": 0, "tie": 0}, {"A": [], "B": []}
    for part in (1, 2):
        judge = {"A": 0, "B": 0, "tie": 0}
        for line in open(f"docs/judging/{args.prefix}-part{part}.answers.jsonl", encoding="utf-8"):
            if line.strip():
                a = json.loads(line)
                it = key[a["item"]]
                for lab in ("X", "Y"):
                    scores[it[lab]].append(a[lab])
                who = it[a["better"]] if a["better"] in ("X", "Y") else "tie"
                kept[who] += 1
                judge[who] += 1
        print("part", part, judge)
    print("kept", kept)
    for name, s in scores.items():
        print(name, "best", round(sum(x[0] for x in s) / len(s), 2), "choice", round(sum(x[1] for x in s) / len(s), 2))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["make", "tally"])
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--a", type=float, default=1 / 3)
    ap.add_argument("--b", type=float, default=0.5)
    ap.add_argument("--whole", action="store_true", help="lists of whole couplets for a wish")
    ap.add_argument("--fill", action="store_true", help="--whole: B is b apart, filled at a while short")
    ap.add_argument("--a-settings", default="{}", help="下联 lists: Settings fields of list A, as JSON")
    ap.add_argument("--b-settings", default="{}", help="下联 lists: Settings fields of list B, as JSON")
    args = ap.parse_args()
    (make if args.what == "make" else tally)(args)
