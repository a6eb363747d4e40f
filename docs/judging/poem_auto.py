"""The automatic poem checks on a fixed set of 206 requests (4 forms x 20 one-char keywords with
n 2, 4 themes, 4 first chars, acrostics): degenerate repeats, unattested bigrams, lines shared
between poems of the set, poems sharing a 3- or 4-char phrase with another, format/rhyme/pattern/acrostic accuracies, distinct-1/2, copied lines.
Run from the repository root; CFG='{"temperature": 0.6}' overrides request fields, OUT names the
poems file (default /tmp/auto.json), CKPT a poem checkpoint other than the shipped one. The requests are written as one batch file is: its poems do
not repeat each other's lines where a draw offers another.

    python docs/judging/poem_auto.py
"""
import json, sys, time, collections
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
from couplet.poetry import PoemGenerator, PoemRequest, FORMS, Written
from couplet.evaluate import poem_metrics
import os
g = PoemGenerator.load(os.environ.get("CKPT") or None)
from dataclasses import replace
CFG = json.loads(os.environ.get("CFG", "{}"))
V = len(g.vocab)
pairs = set(g.tables.bigrams.tolist()) if g.tables.bigrams is not None else set()
kws = ["春", "月", "秋", "山", "江", "雨", "花", "风", "夜", "云", "松", "酒", "梅", "雪", "楼", "舟", "柳", "琴", "雁", "归"]
themes = ["秋夜思念远方的故人", "春日登山望远", "江边送别朋友", "冬夜读书"]
acros = {4: ["风花雪月", "琴棋书画", "梅兰竹菊", "春夏秋冬", "山高水长"], 8: ["春夏秋冬风花雪月", "山高水长云淡风轻"]}
reqs = []
for f in FORMS:
    n_lines = FORMS[f][0]
    reqs += [PoemRequest(form=f, mode="keywords", text=k, n=2, seed=i) for i, k in enumerate(kws)]
    reqs += [PoemRequest(form=f, mode="theme", text=t, n=1, seed=i) for i, t in enumerate(themes)]
    reqs += [PoemRequest(form=f, mode="first", text=k, n=1, seed=i) for i, k in enumerate(kws[:4])]
    reqs += [PoemRequest(form=f, mode="acrostic", text=a, n=1, seed=i) for i, a in enumerate(acros[n_lines])]
records, t0, lat = [], time.time(), []
deg = collections.Counter(); unatt = bigr = 0
written = Written()  # as `run_poem_batch` writes a batch: no line repeated where a draw offers another
for r in reqs:
    r = replace(r, **CFG); t1 = time.perf_counter(); res = g.generate(r, avoid=written); lat.append(time.perf_counter() - t1)
    seed = res.seed if r.mode in ("keywords", "theme") else ""
    for p in res.poems:
        records.append({"score": p.score, "text": r.text, "plan": res.plan, "form": r.form, "lines": p.lines, "acrostic": r.text if r.mode == "acrostic" else None, "mode": r.mode})
        bodies = [x.rstrip("，。") for x in p.lines]
        for b in bodies:
            if any(b.count(c) >= 3 for c in set(b)): deg["char x3 in a line"] += 1
            if any(a == c and not g.tables.double_ok[g.vocab.stoi[a]] for a, c in zip(b, b[1:])): deg["unattested AA"] += 1
            for a, c in zip(b, b[1:]):
                bigr += 1
                unatt += (g.vocab.stoi[a] * V + g.vocab.stoi[c]) not in pairs
        grams = [b[i:i+2] for b in bodies for i in range(len(b) - 1)]
        if len(grams) != len(set(grams)): deg["bigram twice in a poem"] += 1
        text = "".join(bodies)
        if any(text.count(c) > 1 for c in seed): deg["seed char twice"] += 1
m = poem_metrics(records, g.prosody, g.corpus_lines)
lines = [x.rstrip("，。") for r in records for x in r["lines"]]
cnt = collections.Counter(lines)
poem_of = collections.defaultdict(set)
for i, r in enumerate(records):
    for x in r["lines"]: poem_of[x.rstrip("，。")].add(i)
shared = sum(1 for x in lines if len(poem_of[x]) > 1)
def runs(r, n):  # the n-char runs of a poem's lines
    return {b[i:i + n] for b in (x.rstrip("，。") for x in r["lines"]) for i in range(len(b) - n + 1)}
share = {}
for n in (3, 4):  # poems that share an n-char phrase with another poem of the set (real poems: rarely)
    c = collections.Counter(g for r in records for g in runs(r, n))
    share[f"poems_sharing_{n}char_phrase"] = round(sum(any(c[g] > 1 for g in runs(r, n)) for r in records) / len(records), 4)
print(json.dumps({"poems": len(records), "degenerate": dict(deg), "unattested_bigram_share": round(unatt / bigr, 5),
                  "lines_in_another_poem_share": round(shared / len(lines), 5), **share, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()},
                  "median_ms_per_request": round(sorted(lat)[len(lat)//2] * 1000, 1)}, ensure_ascii=False, indent=1))
json.dump(records, open(os.environ.get('OUT', '/tmp/auto.json'), 'w'), ensure_ascii=False)
