import json, collections, sys
key = {it["item"]: it for it in json.load(open(sys.argv[1]))}
ans = [json.loads(l) for f in sys.argv[2:] for l in open(f, encoding="utf-8") if l.strip()]
crit = ["fluency", "coherence", "meaning", "poeticness", "fit"]   # fit: readings of seeds as typed (--wishes)
scores = collections.defaultdict(list); pref = collections.Counter()
for a in ans:
    it = key[a["item"]]
    who = {lab: c["who"] for lab, c in zip("xy", it["cands"])}
    for lab in "xy":
        scores[who[lab]].append(a[lab])
    pref[who.get(a["better"], "tie")] += 1
print(len(ans), "items; kept:", dict(pref))
for w, s in sorted(scores.items()):
    means = [round(sum(x[i] for x in s) / len(s), 2) for i in range(len(s[0]))]
    print(w, dict(zip(crit, means)), "rated 3+", sum(1 for x in s if sum(x[:4]) / 4 >= 3))
