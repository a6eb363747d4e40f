"""Pages of whole couplets (five for one wish) from two versions of the code, read blind side by side.

    python docs/judging/whole_pages.py dump /tmp/a.json        # in each tree (e.g. a git worktree of the old code)
    python docs/judging/whole_pages.py make /tmp/a.json /tmp/b.json NAME   # whole-NAME-part{1,2}.md + key
    python docs/judging/whole_pages.py tally NAME
"""
import json, random, sys
from pathlib import Path
HERE = Path(__file__).resolve().parent
WISHES = ["春节 阖家", "新婚 燕尔", "七十寿辰", "奶茶店开业", "书画院", "幼儿园", "牙科诊所", "面馆", "酒庄", "银行",
          "新居落成", "高考 金榜", "儿童节", "中秋 赏月", "端午 粽香", "重阳 敬老", "元宵 灯会", "国庆 华诞", "大学 校庆",
          "护士节", "山村 民宿", "渔港", "江南 水乡", "登山 远眺", "满月酒", "升学宴", "退休 颐养", "父亲 恩情",
          "龙年 新春", "钻石婚", "琴行", "棋院", "寺院 钟声", "剧院", "诗社", "律所 公正", "电商 创业", "果农 丰收",
          "敬老院", "警营"]
HEAD = """# Whole couplets: pages

Each item is a wish a user typed into a couplet tool, and two pages the tool could show for it, X and Y:
five couplets each (上联 / 下联, with a 横批). Give each page 1-5 scores for: **quality** (are these
couplets a reader would keep: 对仗, sense, literary quality), **fit** (do they suit the wish) and
**variety** (are the five real alternatives, not one couplet retold). Then say which page you would
rather be shown: X, Y, or tie.

Answer as JSON lines, one per item: {"item": N, "X": {"quality": s, "fit": s, "variety": s}, "Y": {"quality": s, "fit": s, "variety": s}, "prefer": "X"|"Y"|"tie"}
"""
CRIT = ("quality", "fit", "variety")


def dump(out: str) -> None:
    sys.path.insert(0, str(Path.cwd()))  # the tree this runs in
    from couplet.requests import WholeRequest
    from couplet.whole import WholeGenerator
    wg = WholeGenerator.load()
    pages = {}
    for i, wish in enumerate(WISHES):
        res = wg.generate(WholeRequest(theme=wish, n=5, seed=400 + i))
        pages[wish] = [[c.upper, c.lower, c.hengpi] for c in res.couplets]
    Path(out).write_text(json.dumps(pages, ensure_ascii=False, indent=1), encoding="utf-8")


def make(a_path: str, b_path: str, name: str, rng=random.Random(1209)) -> None:
    a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (a_path, b_path))
    items = [{"wish": w, "A": a[w], "B": b[w]} for w in WISHES if a[w] != b[w]]
    print(f"{len(items)} of {len(WISHES)} pages differ")
    rng.shuffle(items)
    key, half = [], (len(items) + 1) // 2
    for part, chunk in ((1, items[:half]), (2, items[half:])):
        text = [HEAD]
        for n, it in enumerate(chunk, 1):
            x = rng.choice("AB")
            y = "B" if x == "A" else "A"
            lines = [f"## Item {n}", f"愿望：{it['wish']}"]
            for label, side in (("X", x), ("Y", y)):
                lines.append(f"{label}：")
                lines += [f"  {j}. {u} / {w}　横批 {h}" for j, (u, w, h) in enumerate(it[side], 1)]
            text.append("\n".join(lines) + "\n")
            key.append({"part": part, "item": n, "X": x, **it})
        (HERE / f"whole-{name}-part{part}.md").write_text("\n".join(text), encoding="utf-8")
    (HERE / f"whole-{name}-key.json").write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")


def tally(name: str) -> None:
    key = {(k["part"], k["item"]): k for k in json.loads((HERE / f"whole-{name}-key.json").read_text(encoding="utf-8"))}
    sums = {s: {**{c: 0 for c in CRIT}, "kept": 0, "n": 0} for s in "AB"}
    ties = 0
    for part in (1, 2):
        per = {"A": 0, "B": 0, "tie": 0}
        for line in (HERE / f"whole-{name}-part{part}.answers.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            ans = json.loads(line)
            k = key[(part, ans["item"])]
            who = {"X": k["X"], "Y": "B" if k["X"] == "A" else "A"}
            for label, system in who.items():
                for c in CRIT:
                    sums[system][c] += ans[label][c]
                sums[system]["n"] += 1
            pick = "tie" if ans["prefer"] == "tie" else who[ans["prefer"]]
            per[pick] += 1
            ties += pick == "tie"
            if pick != "tie":
                sums[pick]["kept"] += 1
        print(f"judge {part}: {per}")
    for system, s in sums.items():
        print(f"{system}: " + ", ".join(f"{c} {s[c] / s['n']:.2f}" for c in CRIT) + f", kept {s['kept']}")
    print(f"ties {ties}")


if __name__ == "__main__":
    {"dump": dump, "make": make, "tally": tally}[sys.argv[1]](*sys.argv[2:])
