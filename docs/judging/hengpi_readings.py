"""Blind readings of two ways to choose a 横批: the first 横批 chosen both ways, the items where they
differ read blind by two judges (X and Y in random order), tallied from their answers.

theme: whole couplets written for 40 wishes, with and without the theme term (`hengpi.THEME`).
page: pages of five couplets (the 下联 candidates of a validation 上联; a wish's couplets), each
couplet's own best 横批 against `HengpiChooser.for_page` (none twice on a page where another is near).
idiom: validation couplets, with and without a bonus of 0.5 for set phrases (`hengpi.IDIOM`; off: it lost).
echo: validation couplets, with and without a rule against phrases that repeat three or more of the
couplet's chars (not shipped: the readers kept the phrases that echo the couplet).
year: the first 下联 of validation and test 上联 that name a zodiac animal, its 横批 with and without
`hengpi.year_fits` (a phrase naming a year, 金猴贺岁, only over a couplet that greets that year), the items
whose first 横批 names a year either way.
table5, table3: validation couplets and wishes' couplets, the phrase table counted per couplet (as it
was at commit 90966d4) against once per distinct line, kept from 5 lines (table5, the first reading)
or from 3 (table3, fresh items; capped at 10,000 phrases, so every phrase of 4+ lines and 533 of the
3s: the shipped table keeps 4+, which moves 5 of these 420 first 横批).

    python docs/judging/hengpi_readings.py make theme   # hengpi-theme-part{1,2}.md, hengpi-theme-key.json
    python docs/judging/hengpi_readings.py tally theme  # after the judges wrote hengpi-theme-part*.answers.jsonl
"""
import json, random, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
HERE = Path(__file__).resolve().parent
WISHES = ["新婚 喜庆", "八十大寿", "茶馆开业", "书店开张", "药店", "饭店开业", "理发店", "花店", "乔迁新居",
          "金榜题名", "教师节", "中秋 团圆", "端午 龙舟", "重阳 登高", "元宵 花灯", "国庆", "学校 育人", "医院 仁心",
          "图书馆", "农家乐", "渔村", "山居 隐逸", "景区 山水", "满月 添丁", "毕业 远行", "退休 晚年", "母亲 养育",
          "春节 蛇年", "银婚 恩爱", "书房", "酒家", "寺庙 禅", "戏台", "棋社", "武馆", "律师事务所", "科技公司",
          "果园 丰收", "养老院", "消防"]
HEAD = """# 横批 reading

Each item is a wish (the occasion a user asked a couplet for), the couplet written for it (上联 / 下联),
and two candidate 横批 (the 4-character horizontal scroll hung above it), X and Y.
For each 横批 give 1-5 scores for: **fit** (does it crown this couplet and suit the occasion) and
**phrase** (is it a good, idiomatic 横批 phrase in itself). Then say which you would hang: X, Y, or tie.

Answer as JSON lines, one per item: {"item": N, "X": {"fit": s, "phrase": s}, "Y": {"fit": s, "phrase": s}, "prefer": "X"|"Y"|"tie"}
"""
HEAD_COUPLET = """# 横批 reading

Each item is a couplet (上联 / 下联) and two candidate 横批 (the 4-character horizontal scroll hung above
it), X and Y. For each 横批 give 1-5 scores for: **fit** (does it sum up or crown this couplet) and
**phrase** (is it a good, idiomatic 横批 phrase in itself). Then say which you would hang: X, Y, or tie.

Answer as JSON lines, one per item: {"item": N, "X": {"fit": s, "phrase": s}, "Y": {"fit": s, "phrase": s}, "prefer": "X"|"Y"|"tie"}
"""


SYSTEMS = {"theme": ("couplet", "theme"), "echo": ("before", "echo"), "page": ("best", "apart"),
           "idiom": ("any", "idiom"), "table5": ("couplets", "lines"), "table3": ("couplets", "lines"),
           "year": ("before", "year")}
HEAD_PAGE = """# 横批 reading: pages

Each item is a page a user of a couplet tool sees: five couplets (上联 / 下联; the same 上联 with five
candidate 下联, or five couplets written for one wish), and beside each couplet a 横批 (the 4-character
horizontal scroll hung above it) from two lists, X and Y. Give each list 1-5 scores for: **fit** (how
well its 横批 suit their couplets, on the whole) and **choice** (how useful the list is to someone
choosing a couplet and its 横批 from this page). Then say which list you would rather be shown: X, Y, or tie.

Answer as JSON lines, one per item: {"item": N, "X": {"fit": s, "choice": s}, "Y": {"fit": s, "choice": s}, "prefer": "X"|"Y"|"tie"}
"""
PAGE_WISHES = ["寿宴 福寿", "开学", "新春 迎福", "酒店开业", "婚礼 百年好合", "书法社", "中医馆", "家具店",
               "小学 毕业", "端午", "七夕", "乡村 振兴", "民宿", "茶叶店", "乔迁 新宅", "元旦", "登山", "钓鱼",
               "清明 思亲", "读书会"]


def write_parts(name: str, items: list[dict], rng: random.Random, per_part: int = 20) -> None:
    """Two part files of per_part items each and the key; each item holds both systems' 横批."""
    a, b = SYSTEMS[name]
    rng.shuffle(items)
    items = items[:2 * per_part]
    key = []
    for part in (1, 2):
        text = [HEAD if any("wish" in it for it in items) else HEAD_COUPLET]
        for n, it in enumerate(items[(part - 1) * per_part:part * per_part], 1):
            x = rng.choice([a, b])
            y = b if x == a else a
            wish = f"愿望：{it['wish']}\n" if "wish" in it else ("愿望：（无，只看对联）\n" if name.startswith("table") else "")
            text.append(f"## Item {n}\n{wish}上联：{it['upper']}\n下联：{it['lower']}\nX：{it[x]}\nY：{it[y]}\n")
            key.append({"part": part, "item": n, "X": x, **it})
        (HERE / f"hengpi-{name}-part{part}.md").write_text("\n".join(text), encoding="utf-8")
    (HERE / f"hengpi-{name}-key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")


def make_echo(rng=random.Random(1207), echo=3):
    """The echo rule (not shipped; readers kept the 横批 before it 26 times to 6): no phrase with `echo`
    or more of its chars in the couplet."""
    from couplet import hengpi
    from couplet.whole import WholeGenerator
    wg = WholeGenerator.load()
    rows = [line.rstrip("\n").split("\t") for line in open(HERE.parents[1] / "data/processed/valid.tsv", encoding="utf-8")]
    random.Random(1207).shuffle(rows)
    pairs = [(r[0], r[1]) for r in rows if len(r[0]) <= 11][:800]
    before = wg.hengpi.choose_many(pairs, 1)
    shipped = hengpi.HengpiChooser.shortlist
    hengpi.HengpiChooser.shortlist = lambda self, u, w, near=frozenset(): [
        i for i in shipped(self, u, w, near) if sum(c in u + w for c in self.phrases[i][0]) < echo]
    after = wg.hengpi.choose_many(pairs, 1)
    hengpi.HengpiChooser.shortlist = shipped
    items = [{"upper": u, "lower": w, "before": b[0].text, "echo": a[0].text}
             for (u, w), a, b in zip(pairs, after, before) if a and b and a[0].text != b[0].text]
    # the others moved with int8's per-pass activation scale (a pass's rows changed), not the rule
    echoed = [it for it in items if sum(c in it["upper"] + it["lower"] for c in it["before"]) >= echo]
    print(f"the first 横批 changed for {len(items)} of {len(pairs)} couplets, {len(echoed)} by the rule")
    write_parts("echo", echoed, rng)


def make_page(rng=random.Random(1208)):
    from couplet.generate import CoupletGenerator, Settings
    from couplet.requests import WholeRequest
    from couplet.whole import WholeGenerator
    gen = CoupletGenerator.load()
    wg = WholeGenerator.load(couplets=gen)
    rows = [line.rstrip("\n").split("\t") for line in open(HERE.parents[1] / "data/processed/valid.tsv", encoding="utf-8")]
    random.Random(1208).shuffle(rows)
    pages = []
    for r in rows:
        if len(pages) == 20:
            break
        if len(r[0]) > 9:
            continue
        couplets = [(r[0], c.lower) for c in gen.generate(r[0], Settings.for_request(batch=False)).candidates]
        pages.append({"wish": None, "couplets": couplets, "theme": ""})
    for i, wish in enumerate(PAGE_WISHES):
        res = wg.generate(WholeRequest(theme=wish, n=5, seed=200 + i, hengpi=False))
        pages.append({"wish": wish, "couplets": [(c.upper, c.lower) for c in res.couplets], "theme": res.seed})
    items = []
    for p in pages:
        best = [h[0].text if h else None for h in wg.hengpi.choose_many(p["couplets"], 1, theme=p["theme"])]
        apart = wg.hengpi.for_page(p["couplets"], theme=p["theme"])
        if best != apart:
            items.append({"wish": p["wish"], "couplets": p["couplets"], "best": best, "apart": apart})
    print(f"{len(items)} of {len(pages)} pages changed; 横批 shown once: best "
          f"{sum(len(set(it['best'])) for it in items)}, apart {sum(len(set(it['apart'])) for it in items)} "
          f"of {sum(len(it['best']) for it in items)}")
    rng.shuffle(items)
    key = []
    for part in (1, 2):
        text = [HEAD_PAGE]
        for n, it in enumerate(items[(part - 1) * 20:part * 20], 1):
            x = rng.choice(["best", "apart"])
            y = "apart" if x == "best" else "best"
            lines = [f"## Item {n}"] + ([f"愿望：{it['wish']}"] if it["wish"] else [])
            lines += [f"{j}. {u} / {w}　X：{hx}　Y：{hy}" for j, ((u, w), hx, hy) in
                      enumerate(zip(it["couplets"], it[x], it[y]), 1)]
            text.append("\n".join(lines) + "\n")
            key.append({"part": part, "item": n, "X": x, **it})
        (HERE / f"hengpi-page-part{part}.md").write_text("\n".join(text), encoding="utf-8")
    (HERE / "hengpi-page-key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")


def make_idiom(rng=random.Random(1210)):
    from couplet import hengpi
    from couplet.whole import WholeGenerator
    wg = WholeGenerator.load()
    rows = [line.rstrip("\n").split("\t") for line in open(HERE.parents[1] / "data/processed/valid.tsv", encoding="utf-8")]
    random.Random(1210).shuffle(rows)
    pairs = [(r[0], r[1]) for r in rows if len(r[0]) <= 11][:200]
    before = wg.hengpi.choose_many(pairs, 1)           # the shipped weight, 0
    weight, hengpi.IDIOM = hengpi.IDIOM, 0.5
    after = wg.hengpi.choose_many(pairs, 1)
    hengpi.IDIOM = weight
    items = [{"upper": u, "lower": w, "any": b[0].text, "idiom": a[0].text}
             for (u, w), a, b in zip(pairs, after, before) if a and b and a[0].text != b[0].text]
    print(f"the first 横批 changed for {len(items)} of {len(pairs)} couplets")
    write_parts("idiom", items, rng)


def make_table(name="table3", commit="90966d4"):
    """The table as it was (a phrase counted once per couplet, so a contest's given line answered 175
    times made 广府古城 the fifth commonest phrase) against once per distinct line."""
    import subprocess
    from couplet.hengpi import HengpiChooser
    from couplet.requests import WholeRequest
    from couplet.whole import WholeGenerator
    rng, first, seeds = {"table5": (1212, 0, 300), "table3": (1213, 300, 400)}[name]
    rng = random.Random(rng)
    wg = WholeGenerator.load()
    meta = subprocess.run(["git", "show", f"{commit}:checkpoints/whole/checkpoint.json"], cwd=HERE.parents[1],
                          capture_output=True, check=True).stdout
    before = HengpiChooser(wg.hengpi.whole, json.loads(meta)["hengpi"])
    rows = [line.rstrip("\n").split("\t") for line in open(HERE.parents[1] / "data/processed/valid.tsv", encoding="utf-8")]
    random.Random(1212).shuffle(rows)
    pages = [("", [(r[0], r[1]) for r in rows if len(r[0]) <= 11][first:first + 300])]
    for i, wish in enumerate(WISHES):
        res = wg.generate(WholeRequest(theme=wish, n=3, seed=seeds + i, hengpi=False))
        pages.append((wish, [(c.upper, c.lower) for c in res.couplets], res.seed))
    pools: dict[bool, list] = {False: [], True: []}
    for page in pages:
        wish, pairs = page[0], page[1]
        theme = page[2] if wish else ""
        old = before.choose_many(pairs, 1, theme=theme)
        new = wg.hengpi.choose_many(pairs, 1, theme=theme)
        for (u, w), a, b in zip(pairs, old, new):
            if a and b and a[0].text != b[0].text:
                pools[bool(wish)].append({**({"wish": wish} if wish else {}), "upper": u, "lower": w,
                                          "couplets": a[0].text, "lines": b[0].text})
    print(f"the first 横批 changed for {len(pools[False])} of {len(pages[0][1])} validation couplets and "
          f"{len(pools[True])} of {3 * len(WISHES)} wishes' couplets")
    for pool in pools.values():
        rng.shuffle(pool)
    items = pools[False][:20] + pools[True][:20]
    write_parts(name, items, rng)


def make_theme(rng=random.Random(1206)):
    from couplet import hengpi
    from couplet.requests import WholeRequest
    from couplet.whole import WholeGenerator
    wg = WholeGenerator.load()
    items, total = [], 0
    for i, wish in enumerate(WISHES):
        res = wg.generate(WholeRequest(theme=wish, n=3, seed=100 + i))  # B: the shipped chooser
        pairs = [(c.upper, c.lower) for c in res.couplets]
        weight, hengpi.THEME = hengpi.THEME, 0.0
        before = wg.hengpi.choose_many(pairs, 1)                           # A: the couplet alone
        hengpi.THEME = weight
        total += len(pairs)
        for c, a in zip(res.couplets, before):
            if a and c.hengpi and a[0].text != c.hengpi:
                items.append({"wish": wish, "upper": c.upper, "lower": c.lower, "couplet": a[0].text, "theme": c.hengpi})
    print(f"the first 横批 changed for {len(items)} of {total} couplets")
    write_parts("theme", items, rng)


def make_year(rng=random.Random(1301), want=40):
    from couplet import hengpi
    from couplet.generate import CoupletGenerator, Settings
    from couplet.occasions import ZODIAC, year_named
    from couplet.whole import WholeGenerator
    gen = CoupletGenerator.load()
    wg = WholeGenerator.load(couplets=gen)
    uppers = [r[0] for f in ("valid", "test")
              for r in (line.rstrip("\n").split("\t") for line in open(HERE.parents[1] / f"data/processed/{f}.tsv",
                                                                     encoding="utf-8"))
              if r[2] == "couplet" and len(r[0]) <= 16 and any(a in r[0] for a in ZODIAC)]
    random.Random(1301).shuffle(uppers)
    shipped, items, seen = hengpi.year_fits, [], 0
    for u in uppers:
        if len(items) == want:
            break
        w = gen.generate(u, Settings.for_request(batch=False)).candidates[0].lower
        hengpi.year_fits = lambda *a: True
        listed = wg.hengpi.shortlist(u, w)
        if not any(year_named(wg.hengpi.phrases[i][0]) for i in listed):
            continue                 # no phrase naming a year is on its shortlist: the rule changes nothing
        seen += 1
        before = wg.hengpi.choose_many([(u, w)], 1)[0]
        hengpi.year_fits = shipped
        after = wg.hengpi.choose_many([(u, w)], 1)[0]
        if before and after and before[0].text != after[0].text and (year_named(before[0].text) or year_named(after[0].text)):
            items.append({"upper": u, "lower": w, "before": before[0].text, "year": after[0].text})
    hengpi.year_fits = shipped
    print(f"{len(items)} items: the first 横批 names a year one way and differs, of {seen} couplets with such a "
          f"phrase on the shortlist")
    write_parts("year", items, rng)


def tally(name: str):
    a, b = SYSTEMS[name]
    key = {(k["part"], k["item"]): k for k in json.loads((HERE / f"hengpi-{name}-key.json").read_text(encoding="utf-8"))}
    crit = ("fit", "choice") if name == "page" else ("fit", "phrase")
    sums = {s: {**{c: 0 for c in crit}, "kept": 0, "n": 0} for s in (a, b)}
    ties = 0
    for part in (1, 2):
        per = {a: 0, b: 0, "tie": 0}
        for line in (HERE / f"hengpi-{name}-part{part}.answers.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            ans = json.loads(line)
            k = key[(part, ans["item"])]
            who = {"X": k["X"], "Y": b if k["X"] == a else a}
            for label, system in who.items():
                for c in crit:
                    sums[system][c] += ans[label][c]
                sums[system]["n"] += 1
            if ans["prefer"] == "tie":
                ties += 1
                per["tie"] += 1
            else:
                sums[who[ans["prefer"]]]["kept"] += 1
                per[who[ans["prefer"]]] += 1
        print(f"judge {part}: {per}")
    for system, s in sums.items():
        print(f"{system}: " + ", ".join(f"{c} {s[c] / s['n']:.2f}" for c in crit) + f", kept {s['kept']}")
    print(f"ties {ties}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        makers = {"theme": make_theme, "echo": make_echo, "page": make_page, "idiom": make_idiom,
                  "table5": lambda: make_table("table5"), "table3": lambda: make_table("table3"), "year": make_year}
        makers[sys.argv[2]]()
    else:
        tally(sys.argv[2])
