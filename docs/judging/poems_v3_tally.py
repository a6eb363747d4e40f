import json, sys, collections
key = {it["item"]: it for it in json.load(open(sys.argv[1]))}
ans = [json.loads(l) for f in sys.argv[2:] for l in open(f, encoding="utf-8") if l.strip()]
crit = ["fluency", "coherence", "meaning", "poeticness"]
by = collections.defaultdict(list); human_guess = collections.Counter(); forms = collections.defaultdict(list)
for a in ans:
    it = key[a["item"]]
    by[it["who"]].append(a); human_guess[it["who"]] += a["author"] == "human"
    if it["who"] == "ours": forms[it["form"]].append(a)
for who in ("ours", "human"):
    xs = by[who]
    print(who, len(xs), {c: round(sum(x[c] for x in xs) / len(xs), 2) for c in crit},
          "taken for a person's", human_guess[who], "rated 3+", sum(1 for x in xs if sum(x[c] for c in crit) / 4 >= 3))
for f, xs in forms.items():
    print(" ours", f, {c: round(sum(x[c] for x in xs) / len(xs), 2) for c in crit}, "human guesses", sum(x["author"] == "human" for x in xs))
