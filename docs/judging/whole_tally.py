import json, sys, collections
key = json.load(open(sys.argv[1]))
crit = ["对仗", "平仄", "meaning", "literary", "theme"]
by = collections.defaultdict(list)
for p, f in ((1, sys.argv[2]), (2, sys.argv[3])):
    who = {k["item"]: k["who"] for k in key[str(p)]}
    for line in open(f, encoding="utf-8"):
        if line.strip():
            a = json.loads(line); by[who[a["item"]]].append(a)
for w, xs in by.items():
    print(w, len(xs), {c: round(sum(x[c] for x in xs) / len(xs), 2) for c in crit},
          "rated 3+", sum(1 for x in xs if sum(x[c] for c in crit[:4]) / 4 >= 3),
          "taken for a person's", sum(x["author"] == "human" for x in xs))
