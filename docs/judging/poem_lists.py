"""The poems a user is shown for one request (n = 3, the default), as shipped (A) and with a line's
first `--opening` chars counted as one more shared phrase (B; `_phrases` widened here, as the reading
tried it), side by side: which list would a reader rather choose from?
Seeds from our test split's poems as in `poem_readings.py`; requests whose lists differ. Run from
the repository root:

    python docs/judging/poem_lists.py make --rng 4401 --n 24 --prefix poems-lists
    python docs/judging/poem_lists.py tally --prefix poems-lists
"""
import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
sys.path.insert(0, str(Path(__file__).resolve().parent))
import couplet.poemrules as R  # noqa: E402
from couplet.poetry import FORMS, PoemGenerator, PoemRequest  # noqa: E402
from couplet_sets import tally  # noqa: E402,F401 (the same tally: key and answers alike)
from poem_readings import real_poems, seed_of  # noqa: E402

HEAD = ("# 诗 lists, part %d\n\nEach item gives a seed (keywords, a theme or a first character) and two lists, X and Y, "
        "of the three classical Chinese poems a poetry tool offers for it. A user reads a list and picks one poem to "
        "keep. For each list give 1-5 scores on: best (the best poem in it: fluency, coherence, meaning, "
        "poeticness), choice (how good a set of different options it is to choose from: distinct poems rather than "
        "one poem three times over). Then say which list you would rather choose from (or tie).\n\nAnswer in one "
        "JSON line per item: {\"item\": N, \"X\": [best, choice], \"Y\": [best, choice], \"better\": \"X|Y|tie\"}\n\n")


SHIPPED = R._phrases


def with_opening(k: int):
    """`_phrases` that also counts a line's first k chars, marked as an opening."""
    def phrases(line) -> set:
        mark = "^" + line[:k] if isinstance(line, str) else (-1, *line[:k])
        return SHIPPED(line) | ({mark} if len(line) >= k else set())
    return phrases


def make(args) -> None:
    gen = PoemGenerator.load()
    real = real_poems(gen, [])
    rng = random.Random(args.rng)
    items = []
    for form in FORMS:
        for i, p in enumerate(rng.sample(real[form], 60)):
            mode, text = seed_of(p, i % 5, rng)            # keywords x3, theme, first char
            req = PoemRequest(form=form, mode=mode, text=text, seed=args.seed_base + i, title=False)
            lists = {}
            for name, phrases in (("A", SHIPPED), ("B", with_opening(args.opening))):
                R._phrases = phrases
                lists[name] = ["".join(x.lines) for x in gen.generate(req).poems]
            if lists["A"] == lists["B"]:
                continue
            order = ["A", "B"]
            rng.shuffle(order)
            items.append({"form": form, "mode": mode, "seed": text, "X": order[0], "Y": order[1], "lists": lists})
            if sum(it["form"] == form for it in items) == args.n // 4:
                break
    rng.shuffle(items)
    for k, it in enumerate(items, 1):
        it["item"] = k
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    half = len(items) // 2
    for part, chunk in ((1, items[:half]), (2, items[half:])):
        with open(f"docs/judging/{args.prefix}-part{part}.md", "w", encoding="utf-8") as f:
            f.write(HEAD % part + "\n".join(
                f"## item {it['item']} ({it['form']}; seed: {it['mode']} {it['seed']})\n" + "".join(
                    f"{lab}:\n" + "".join(f"  {j + 1}. {poem}\n" for j, poem in enumerate(it["lists"][it[lab]]))
                    for lab in ("X", "Y")) for it in chunk))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["make", "tally"])
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--seed-base", type=int, default=4400)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--opening", type=int, default=2)
    args = ap.parse_args()
    (make if args.what == "make" else tally)(args)
