import json, random, sys
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
used = set()
for f in ['/root/runs/poemjudge/items.json', '/root/runs/poemjudge/items-final.json', '/root/runs/poemjudge/items-v3.json',
          '/root/runs/ab/key.json', '/root/runs/ab2/key.json']:
    for it in json.load(open(f)):
        used.add(it.get('seed', '')); used.add(''.join(it.get('lines', [])).replace('，', '').replace('。', ''))
for f in real:
    real[f] = [p for p in real[f] if ''.join(p['lines']) not in used and p['title'] not in used]
rng = random.Random(83)
acro = {4: ["风花雪月", "琴棋书画", "梅兰竹菊"], 8: ["春夏秋冬风花雪月", "山高水长云淡风轻"]}
items, key = [], []
for form in FORMS:
    n_lines = FORMS[form][0]
    picks = rng.sample(real[form], 6)
    for i, p in enumerate(picks):
        mode, text = [("keywords", " ".join(p['keywords'][:2])), ("keywords", " ".join(p['keywords'][:1])),
                      ("keywords", " ".join(p['keywords'][1:3]) or p['keywords'][0]), ("theme", p['title']),
                      ("first", p['lines'][0][0]), ("acrostic", rng.choice(acro[n_lines]))][i]
        req = PoemRequest(form=form, mode=mode, text=text, n=1, seed=1100 + i)
        res = g.generate(req)
        ours = [l for l in res.poems[0].lines]
        human = [l + ("，" if k % 2 == 0 else "。") for k, l in enumerate(p['lines'])]
        items.append({"form": form, "who": "ours", "mode": mode, "seed": text, "lines": ours})
        items.append({"form": form, "who": "human", "title": p['title'], "author": p['author'], "lines": human})
rng.shuffle(items)
for i, it in enumerate(items, 1):
    it["item"] = i
json.dump(items, open('docs/judging/poems-v4-key.json', 'w'), ensure_ascii=False, indent=1)
head = ("# 诗 blind reading, part %d\n\nEach item is a classical Chinese poem (五绝, 七绝, 五律 or 七律). Some were written by "
        "people (Tang and Song poets), some by a machine; you are not told which. For each poem give 1–5 scores on: "
        "fluency (each line reads as natural classical Chinese), coherence (the lines belong together: one scene, "
        "thought or feeling that develops), meaning (the poem says something clear), poeticness (imagery, diction, "
        "craft), and guess who wrote it (human/machine).\n\nAnswer in one JSON line per item: "
        "{\"item\": N, \"fluency\": x, \"coherence\": x, \"meaning\": x, \"poeticness\": x, \"author\": \"human|machine\"}\n")
for part in (1, 2):
    chunk = items[(part - 1) * 24: part * 24]
    text = head % part + "\n".join(f"## item {it['item']} ({it['form']})\n" + "\n".join(it['lines']) + "\n" for it in chunk)
    open(f'docs/judging/poems-v4-part{part}.md', 'w', encoding='utf-8').write(text)
print(len(items))
