"""The 横批 of a wish with and without the theme term (`hengpi.THEME`): couplets written for fresh
wishes, the first 横批 chosen both ways, the items where they differ read blind by two judges.

    python docs/judging/hengpi_theme.py make   # hengpi-theme-part{1,2}.md and hengpi-theme-key.json
    python docs/judging/hengpi_theme.py tally  # after the judges wrote hengpi-theme-part*.answers.jsonl
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


def make(rng=random.Random(1206), per_part=20):
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
    rng.shuffle(items)
    items = items[:2 * per_part]
    key = []
    for part in (1, 2):
        text = [HEAD]
        for n, it in enumerate(items[(part - 1) * per_part:part * per_part], 1):
            x = rng.choice(["couplet", "theme"])
            y = "theme" if x == "couplet" else "couplet"
            text.append(f"## Item {n}\n愿望：{it['wish']}\n上联：{it['upper']}\n下联：{it['lower']}\nX：{it[x]}\nY：{it[y]}\n")
            key.append({"part": part, "item": n, "X": x, **it})
        (HERE / f"hengpi-theme-part{part}.md").write_text("\n".join(text), encoding="utf-8")
    (HERE / "hengpi-theme-key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")


def tally():
    key = {(k["part"], k["item"]): k for k in json.loads((HERE / "hengpi-theme-key.json").read_text(encoding="utf-8"))}
    sums = {s: {"fit": 0, "phrase": 0, "kept": 0, "n": 0} for s in ("couplet", "theme")}
    ties = 0
    for part in (1, 2):
        per = {"couplet": 0, "theme": 0, "tie": 0}
        for line in (HERE / f"hengpi-theme-part{part}.answers.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            a = json.loads(line)
            k = key[(part, a["item"])]
            who = {"X": k["X"], "Y": "theme" if k["X"] == "couplet" else "couplet"}
            for label, system in who.items():
                for c in ("fit", "phrase"):
                    sums[system][c] += a[label][c]
                sums[system]["n"] += 1
            if a["prefer"] == "tie":
                ties += 1
                per["tie"] += 1
            else:
                sums[who[a["prefer"]]]["kept"] += 1
                per[who[a["prefer"]]] += 1
        print(f"judge {part}: {per}")
    for system, s in sums.items():
        print(f"{system}: fit {s['fit'] / s['n']:.2f}, phrase {s['phrase'] / s['n']:.2f}, kept {s['kept']}")
    print(f"ties {ties}")


if __name__ == "__main__":
    {"make": make, "tally": tally}[sys.argv[1]]()
