"""Three poems for one wish, two ways, side by side: which set would a reader rather choose from? The
wish is a seed as users type it (an occasion's word); each set is the poems of request seeds 0..N-1 at
one form, A with the occasion's first keyword set only, B with its keyword sets drawn per request
(`poetry.OCCASION_WORD_SETS`). Sets that come out the same are left out; the key is kept apart.
Run from the repository root:

    python docs/judging/poem_sets.py make --rng 4646 --prefix poems-occasion-sets --wishes 祝寿,高考,...
    python docs/judging/poem_sets.py tally --prefix poems-occasion-sets
"""
import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
import couplet.poetry as P  # noqa: E402
from couplet.poetry import FORMS, PoemGenerator, PoemRequest  # noqa: E402
from couplet_sets import tally  # noqa: E402  (the same key and answers: X, Y, better)

HEAD = ("# 诗 sets, part %d\n\nEach item gives what a user asked a poetry tool for (an occasion), and two sets, X and Y, "
        "of the classical poems the tool wrote for it on three tries. A user reads a set and keeps one poem. For each "
        "set give 1-5 scores on: best (the best poem in it: fluency, coherence, meaning, poeticness, fit to the "
        "occasion), choice (how good a set of different options it is to choose from: several good, distinct poems "
        "rather than one poem three times). Then say which set you would rather choose from (or tie).\n\nAnswer in "
        "one JSON line per item: {\"item\": N, \"X\": [best, choice], \"Y\": [best, choice], \"better\": \"X|Y|tie\"}\n\n")


def make(args) -> None:
    gen = PoemGenerator.load()
    rng = random.Random(args.rng)
    items = []
    for i, wish in enumerate(args.wishes.split(",")):
        form = list(FORMS)[i % len(FORMS)]
        sets = {}
        for name, on in (("A", False), ("B", True)):
            P.OCCASION_WORD_SETS = on
            sets[name] = ["".join(gen.generate(PoemRequest(text=wish, form=form, n=1, seed=s, title=False)).poems[0].lines)
                          for s in range(args.seeds)]
        if sets["A"] == sets["B"]:
            continue
        order = ["A", "B"]
        rng.shuffle(order)
        items.append({"wish": wish, "form": form, "X": order[0], "Y": order[1], "sets": sets})
    rng.shuffle(items)
    for k, it in enumerate(items, 1):
        it["item"] = k
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    half = (len(items) + 1) // 2
    for part, chunk in ((1, items[:half]), (2, items[half:])):
        with open(f"docs/judging/{args.prefix}-part{part}.md", "w", encoding="utf-8") as f:
            f.write(HEAD % part + "\n".join(
                f"## item {it['item']}\n愿望: {it['wish']} ({it['form']})\n" + "".join(
                    f"{lab}:\n" + "".join(f"  {k + 1}. {p}\n" for k, p in enumerate(it["sets"][it[lab]]))
                    for lab in ("X", "Y")) for it in chunk))
    print(len(items), "items")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["make", "tally"])
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3, help="poems per set: request seeds 0..N-1")
    ap.add_argument("--wishes", default="", help="seeds as users type them, comma-separated (the forms in turn)")
    args = ap.parse_args()
    (make if args.what == "make" else tally)(args)
