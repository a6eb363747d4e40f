"""Poem titles side by side: one poem, two titles for it, which fits? The poems are the shipped
generator's for seeds as users type them (each wish at the forms in turn and request seeds 0..N-1,
titles off); A titles them as the code before `Occasion.title` and the title rules for mourning and
festivals did (emulated: no start, the mourning chars allowed, no festival filter), B as shipped.
With --starts A,B the two are the shipped rules with those starts. Items whose two titles are the
same are left out. Run from the repository root:

    python docs/judging/title_reading.py --rng 4444 --seeds 2 --prefix titles-occasion --wishes 高考,七夕,...
    python docs/judging/title_reading.py --tally --prefix titles-occasion
"""
import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
import couplet.title as T  # noqa: E402
from couplet.poetry import FORMS, TITLE_CHOICES, PoemGenerator, PoemRequest  # noqa: E402

HEAD = ("# 诗题 reading, part %d\n\nEach item gives the seed a user typed, a classical Chinese poem written for it, and "
        "two titles for that poem, labelled x and y in no particular order. For each title give 1–5 scores on: fit "
        "(it suits this poem and what the user asked for), quality (it reads as a real poem's title). Then say which "
        "title you would keep (or tie).\n\nAnswer in one JSON line per item: {\"item\": N, \"x\": [fit, quality], "
        "\"y\": [fit, quality], \"better\": \"x|y|tie\"}\n\n")


def make(args) -> None:
    gen = PoemGenerator.load()
    titler = gen.titler.get()
    old_mask = titler.occasion[~torch.isin(titler.occasion, torch.tensor([titler.vocab.stoi[c] for c in T.MOURNING
                                                                           if c in titler.vocab.stoi]))]
    new_mask, festivals = titler.occasion, T.FESTIVALS
    rng = random.Random(args.rng)
    items = []
    for i, wish in enumerate(args.wishes.split(",")):
        for s in range(args.seeds):
            form = list(FORMS)[(i + s) % len(FORMS)]
            req = PoemRequest(text=wish, form=form, n=1, seed=s, title=False)
            poem = gen.generate(req).poems[0]
            lines = [x.rstrip("，。") for x in poem.lines]
            occasion = gen.occasion(req)
            if args.starts:     # two starts for the occasion's titles, both under the shipped rules
                first, second = args.starts.split(",")
                a, b = (titler.titles(lines, n=TITLE_CHOICES, start=st)[0][0] for st in (first, second))
            else:
                titler.occasion, T.FESTIVALS = old_mask, ()
                a = titler.titles(lines, n=TITLE_CHOICES)[0][0]
                titler.occasion, T.FESTIVALS = new_mask, festivals
                b = titler.titles(lines, n=TITLE_CHOICES, start=occasion.title if occasion else "")[0][0]
            if a == b:
                continue
            cands = [{"who": "A", "title": a}, {"who": "B", "title": b}]
            rng.shuffle(cands)
            items.append({"wish": wish, "form": form, "seed": s, "lines": poem.lines, "cands": cands})
    rng.shuffle(items)
    for k, it in enumerate(items, 1):
        it["item"] = k
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    half = (len(items) + 1) // 2
    for part, chunk in ((1, items[:half]), (2, items[half:])):
        with open(f"docs/judging/{args.prefix}-part{part}.md", "w", encoding="utf-8") as f:
            f.write(HEAD % part + "\n".join(
                f"## item {it['item']}\n种子: {it['wish']} ({it['form']})\n诗: {''.join(it['lines'])}\n"
                + "".join(f"{lab}: 《{c['title']}》\n" for lab, c in zip("xy", it["cands"])) for it in chunk))
    print(len(items), "items")


def tally(args) -> None:
    key = {it["item"]: it for it in json.load(open(f"docs/judging/{args.prefix}-key.json", encoding="utf-8"))}
    kept, scores = {"A": 0, "B": 0, "tie": 0}, {"A": [], "B": []}
    for part in (1, 2):
        judge = {"A": 0, "B": 0, "tie": 0}
        for line in open(f"docs/judging/{args.prefix}-part{part}.answers.jsonl", encoding="utf-8"):
            if line.strip():
                a = json.loads(line)
                it = key[a["item"]]
                for lab, c in zip("xy", it["cands"]):
                    scores[c["who"]].append(a[lab])
                who = it["cands"]["xy".index(a["better"])]["who"] if a["better"] in ("x", "y") else "tie"
                kept[who] += 1
                judge[who] += 1
        print("part", part, judge)
    print("kept", kept)
    for name, s in scores.items():
        print(name, "fit", round(sum(x[0] for x in s) / len(s), 2), "quality", round(sum(x[1] for x in s) / len(s), 2))


if __name__ == "__main__":
    import torch  # noqa: E402
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=2, help="request seeds 0..N-1 per wish")
    ap.add_argument("--wishes", default="", help="seeds as users type them, comma-separated")
    ap.add_argument("--starts", default="", help="A,B: two title starts compared (both under the shipped rules)")
    ap.add_argument("--tally", action="store_true")
    args = ap.parse_args()
    (tally if args.tally else make)(args)
