"""Which automatic measure predicts the readers? Over the poems of side-by-side readings (each a key
and its two answer files), the correlation of each measure with the judges' coherence score, and how
often the poem a judge kept scores higher on it. Run from the repository root:

    python docs/judging/poem_proxies.py poems-freq2 poems-temp5 poems-phrase2 poems-parallel2 \
        poems-parallel3 poems-seedbonus poems-phrase
"""
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
from couplet.poetry import PoemGenerator  # noqa: E402

gen = PoemGenerator.load()
titler, pairs = gen.titler.get(), gen.line_scorer.get()


def title_confidence(lines):   # a poem about one thing should make its best title likely
    best = titler.titles([x.rstrip("，。") for x in lines], n=1)
    return best[0][1] if best else -9.0


def line_pairs(lines):         # the line-pair scorer's mean log P(this line follows the one before)
    ids = [torch.tensor([gen.vocab.encode(x.rstrip("，。"))]) for x in lines]
    return sum(float(pairs(a, b)) for a, b in zip(ids, ids[1:])) / (len(ids) - 1)


MEASURES = {"model score": lambda c: c["score"], "title confidence": lambda c: title_confidence(c["lines"]),
            "line-pair scorer": lambda c: line_pairs(c["lines"])}


def corr(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return num / (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5


values = {m: [] for m in MEASURES}
coherence, kept = [], {m: 0 for m in MEASURES}
decided = 0
for prefix in sys.argv[1:]:
    key = {it["item"]: it for it in json.load(open(f"docs/judging/{prefix}-key.json", encoding="utf-8"))}
    for part in (1, 2):
        for line in open(f"docs/judging/{prefix}-part{part}.answers.jsonl", encoding="utf-8"):
            if not line.strip():
                continue
            a = json.loads(line)
            cands = dict(zip("xy", key[a["item"]]["cands"]))
            got = {m: {lab: f(c) for lab, c in cands.items()} for m, f in MEASURES.items()}
            for lab in "xy":
                coherence.append(a[lab][1])
                for m in MEASURES:
                    values[m].append(got[m][lab])
            if a["better"] in ("x", "y"):
                decided += 1
                other = "y" if a["better"] == "x" else "x"
                for m in MEASURES:
                    kept[m] += got[m][a["better"]] > got[m][other]
for m in MEASURES:
    print(f"{m}: r with coherence {corr(values[m], coherence):.3f}; the kept poem scores higher in "
          f"{kept[m]} of {decided} decided pairs")
