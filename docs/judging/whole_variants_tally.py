"""Tally of a side-by-side whole-couplet reading (whole_reading.py --variants): mean scores per
decoding, how often each was kept, how many rated 3+ (mean of 对仗, 平仄, meaning, literary).

    python docs/judging/whole_variants_tally.py docs/judging/whole-temp-key.json PART1.answers.jsonl PART2.answers.jsonl
"""
import collections
import json
import sys

crit = ["对仗", "平仄", "meaning", "literary", "theme"]
key = {(c["part"], c["item"]): c for c in json.load(open(sys.argv[1], encoding="utf-8"))}
scores, kept = collections.defaultdict(list), collections.Counter()
for part, path in enumerate(sys.argv[2:], 1):
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        a = json.loads(line)
        cands = key[(part, a["item"])]["cands"]
        who = {lab: c["who"] for lab, c in zip("xy", cands)}
        for lab in "xy":
            scores[who[lab]].append(a[lab])
        kept[who.get(a["better"], "tie")] += 1
print(sum(kept.values()), "items; kept:", dict(kept))
for w, xs in sorted(scores.items()):
    print(w, {c: round(sum(x[i] for x in xs) / len(xs), 2) for i, c in enumerate(crit)},
          "rated 3+", sum(1 for x in xs if sum(x[:4]) / 4 >= 3), "of", len(xs))
