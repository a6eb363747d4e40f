"""Three decodings of the same seeds (whole poems / line by line with plan / + coherence scorer), blind."""
import json, random, sys
from dataclasses import replace
sys.path.insert(0, '/work/main')
from couplet.corpus import split_of
from couplet.poetry import PoemGenerator, PoemRequest, FORMS
g = PoemGenerator.load()
real = {f: [] for f in FORMS}
for line in open('/work/main/data/processed/poems.jsonl', encoding='utf-8'):
    p = json.loads(line)
    if split_of(p['lines'][0]) != 'test' or len(p['lines'][0]) not in (5, 7):
        continue
    form = {(4, 5): '五绝', (4, 7): '七绝', (8, 5): '五律', (8, 7): '七律'}.get((len(p['lines']), len(p['lines'][0])))
    if form and p.get('keywords') and all(c in g.known for l in p['lines'] for c in l) and 2 <= len(p.get('title', '')) <= 12 and all('\u4e00' <= c <= '\u9fff' for c in p['title']):
        real[form].append(p)
rng = random.Random(59)
acro = {4: ["琴棋书画", "春夏秋冬", "山高水长", "梅兰竹菊"], 8: ["山高水长云淡风轻", "春夏秋冬风花雪月"]}
SYSTEMS = {"B": {}, "D": dict(draws=8)}
items = []
for form in FORMS:
    n_lines = FORMS[form][0]
    picks = rng.sample(real[form], 10)
    for i, p in enumerate(picks):
        mode, text = [("keywords", " ".join(p['keywords'][:2])), ("keywords", p['keywords'][0]),
                      ("keywords", " ".join(p['keywords'][1:3]) or p['keywords'][0]), ("theme", p['title']),
                      ("first", p['lines'][0][0]), ("acrostic", rng.choice(acro[n_lines]))][i % 6]
        req = PoemRequest(form=form, mode=mode, text=text, n=1, seed=900 + i, title=False)
        cands = []
        for name, cfg in SYSTEMS.items():
            res = g.generate(replace(req, **cfg))
            cands.append({"who": name, "lines": res.poems[0].lines, "plan": res.plan, "score": res.poems[0].score})
        rng.shuffle(cands)
        items.append({"form": form, "mode": mode, "seed": text, "cands": cands})
rng.shuffle(items)
for i, it in enumerate(items, 1):
    it["item"] = i
json.dump(items, open('docs/judging/poems-draws-key.json', 'w'), ensure_ascii=False, indent=1)
head = ("# 诗 reading, part %d\n\nEach item gives a seed (keywords, a theme, a first character or an acrostic) and "
        "two classical Chinese poems (五绝, 七绝, 五律 or 七律) written for it, labelled x and y in no particular order. "
        "For each poem give 1–5 scores on: fluency (each line reads as natural classical Chinese), coherence (the lines "
        "belong together: one scene, thought or feeling that develops), meaning (the poem says something clear), "
        "poeticness (imagery, diction, craft). Then say which one you would keep "
        "(or tie).\n\nAnswer in one JSON line per item: {\"item\": N, \"x\": [fluency, coherence, meaning, poeticness], "
        "\"y\": [...], \"better\": \"x|y|tie\"}\n\n")
half = len(items) // 2
for part in (1, 2):
    chunk = items[(part - 1) * half: part * half]
    text = head % part + "\n".join(
        f"## item {it['item']} ({it['form']}; seed: {it['mode']} {it['seed']})\n" +
        "\n".join(f"{lab}: " + "".join(c['lines']) for lab, c in zip("xy", it['cands'])) + "\n" for it in chunk)
    open(f'docs/judging/poems-draws-part{part}.md', 'w', encoding='utf-8').write(text)
print(len(items))
