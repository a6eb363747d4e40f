import json, collections, sys
# usage: poems_lines_tally.py [KEY.json] ANSWERS.jsonl ... (the key defaults to poems-lines-key.json)
paths = sys.argv[1:]
key_path = paths.pop(0) if paths and paths[0].endswith("key.json") else "docs/judging/poems-lines-key.json"
key = {it["item"]: it for it in json.load(open(key_path))}
ans = []
for f in paths:
    ans += [json.loads(l) for l in open(f, encoding="utf-8") if l.strip()]
crit = ["fluency", "coherence", "meaning", "poeticness"]
scores = collections.defaultdict(list); first = collections.Counter(); rankpos = collections.defaultdict(list)
pair = collections.Counter()
for a in ans:
    it = key[a["item"]]
    who = {lab: c["who"] for lab, c in zip("xyz", it["cands"])}
    for lab in "xyz":
        scores[who[lab]].append(a[lab])
    order = [who[l] for l in a["rank"]]
    first[order[0]] += 1
    for i, w in enumerate(order):
        rankpos[w].append(i + 1)
    for x in "ABC":
        for y in "ABC":
            if x < y:
                lx = [c["lines"] for c in it["cands"] if c["who"] == x][0]; ly = [c["lines"] for c in it["cands"] if c["who"] == y][0]
                if lx == ly: pair[(x, y, "same")] += 1
                elif order.index(x) < order.index(y): pair[(x, y, x)] += 1
                else: pair[(x, y, y)] += 1
print(len(ans), "items")
for w in "ABC":
    s = scores[w]
    means = [round(sum(x[i] for x in s) / len(s), 2) for i in range(4)]
    print(w, dict(zip(crit, means)), "mean", round(sum(means) / 4, 2), "ranked first", first[w], "mean rank", round(sum(rankpos[w]) / len(rankpos[w]), 2),
          "3+ (mean of 4)", sum(1 for x in s if sum(x) / 4 >= 3))
for k, v in sorted(pair.items()):
    print(k, v)
