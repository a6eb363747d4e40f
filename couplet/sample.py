"""A tiny built-in sample of the three corpora, typed in from classical texts and common couplets,
in the layouts the real corpora come in. `train.py --dry-run` uses it on a fresh clone (before any
`prepare`), and the tests build their fixtures from it."""
from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path

# Classical poems in traditional characters, as the chinese-poetry data stores them.
POEMS = [
    {"author": "杜甫", "title": "春望", "id": "p-chunwang", "paragraphs": [
        "國破山河在，城春草木深。", "感時花濺淚，恨別鳥驚心。",
        "烽火連三月，家書抵萬金。", "白頭搔更短，渾欲不勝簪。"]},
    {"author": "王維", "title": "山居秋暝", "id": "p-shanju", "paragraphs": [
        "空山新雨後，天氣晚來秋。", "明月松間照，清泉石上流。",
        "竹喧歸浣女，蓮動下漁舟。", "隨意春芳歇，王孫自可留。"]},
    {"author": "杜甫", "title": "登高", "id": "p-denggao", "paragraphs": [
        "風急天高猿嘯哀，渚清沙白鳥飛回。", "無邊落木蕭蕭下，不盡長江滾滾來。",
        "萬里悲秋常作客，百年多病獨登臺。", "艱難苦恨繁霜鬢，潦倒新停濁酒杯。"]},
    {"author": "王之渙", "title": "登鸛雀樓", "id": "p-guanque", "paragraphs": [
        "白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"]},
    {"author": "無名", "title": "殘篇", "id": "p-broken", "paragraphs": ["□□依山盡，黃河入海流。"]},
]
# and one of the Song collection (prepare tags each poem with its dynasty)
SONG_POEMS = [
    {"author": "蘇軾", "title": "題西林壁", "id": "p-xilin", "paragraphs": [
        "橫看成嶺側成峰，遠近高低各不同。", "不識廬山真面目，只緣身在此山中。"]},
]
STRAINS = [
    {"id": "p-chunwang", "strains": ["仄仄平平仄，平平仄仄平。", "仄平平仄仄，仄仄仄平平。",
                                     "平仄平平仄，平平仄仄平。", "仄平平仄仄，平仄仄平平。"]},
    {"id": "p-guanque", "strains": ["仄仄平平仄，平平仄仄平。", "仄平平仄仄，仄仄仄平平。"]},
]
# Couplets in the couplet-dataset layout (chars separated by spaces), with junk lines.
COUPLETS = [
    ("天增岁月人增寿", "春满乾坤福满门"), ("爆竹声中辞旧岁", "梅花香里报新春"),
    ("一帆风顺年年好", "万事如意步步高"), ("丹凤呈祥龙献瑞", "红桃贺岁杏迎春"),
    ("海内存知己", "天涯若比邻"), ("福旺财旺运气旺", "家兴人兴事业兴"),
    ("绿水青山春色好", "和风细雨物华新"), ("风声雨声读书声，声声入耳", "家事国事天下事，事事关心"),
    ("春回大地千山秀", "日照神州万木荣"), ("松竹梅岁寒三友", "桃李杏春风一家"),
    ("明月几时有", "清风何处来"), ("书山有路勤为径", "学海无涯苦作舟"),
    ("心宽天地阔", "量大福星高"), ("春风化雨山山翠", "政策归心处处春"),
    ("山清水秀风光好", "人寿年丰喜事多"), ("金鸡报晓", "紫燕迎春"),
    ("一元复始", "万象更新"), ("花开富贵", "竹报平安"),
    ("这行长短不一", "不等"), ("abc 上联", "def 下联"), ("", ""),
]
PINGSHUIYUN = """\ufeff一东平=+风中空红东同翁公宫通穷功雄工鸿丛蓬终融虹童桐
其它僻字：
䧺㤝
七阳平=+阳杨扬香乡光昌堂章张王房芳长[长短]塘妆常凉霜藏场央
十一尤平=+流留秋头楼州舟愁游求休收忧舆
一先平=+先前千阡笺天坚肩贤弦烟燕莲怜田年颠巅
十一真平=+人春尘新身真神亲臣邻贫津频民巾
一送去=+送梦凤洞众瓮弄贡冻痛栋仲中[射中]
十一陌入=+陌石客白泽伯迹宅席策碧籍格役帛戟璧驿麦额
四支平=+时诗知枝期其
十三职入=+职国德食蚀色北力翼墨极息直得黑侧
四纸上=+纸只咫是枳砥抵氏靡彼毁委诡
"""


def write_poetry_dir(root: Path, layout: str) -> Path:
    """Write the poems in the npm `dist/` layout or the GitHub repository layout."""
    poem_dir = root / ("package/dist/quantangshi" if layout == "npm" else "全唐诗")
    strains_dir = root / ("package/dist/strains/json" if layout == "npm" else "strains/json")
    poem_dir.mkdir(parents=True)
    strains_dir.mkdir(parents=True)
    (poem_dir / "poet.tang.0.json").write_text(json.dumps(POEMS, ensure_ascii=False), encoding="utf-8")
    (poem_dir / "poet.song.0.json").write_text(json.dumps(SONG_POEMS, ensure_ascii=False), encoding="utf-8")
    (strains_dir / "poet.tang.0.json").write_text(json.dumps(STRAINS, ensure_ascii=False), encoding="utf-8")
    err = poem_dir / "error"
    err.mkdir()
    (err / "poet.tang.0.json").write_text(json.dumps(POEMS[:1], ensure_ascii=False), encoding="utf-8")
    return root


def write_tarball(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, items in (("package/dist/quantangshi/poet.tang.0.json", POEMS),
                            ("package/dist/quantangshi/poet.song.0.json", SONG_POEMS),
                            ("package/dist/strains/json/poet.tang.0.json", STRAINS)):
            data = json.dumps(items, ensure_ascii=False).encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_couplets(root: Path, spaced: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    sep = " " if spaced else ""
    (root / "in.txt").write_text("".join(sep.join(a) + "\n" for a, _ in COUPLETS), encoding="utf-8")
    (root / "out.txt").write_text("".join(sep.join(b) + "\n" for _, b in COUPLETS), encoding="utf-8")
    return root


def write_pingshuiyun(path: Path) -> Path:
    path.write_text(PINGSHUIYUN, encoding="utf-8")
    return path




def prepare_sample(out_dir: str | Path | None = None) -> Path:
    """Write the sample corpora and run `prepare` on them; return the prepared folder."""
    from .corpus import prepare
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="couplet-sample-"))
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    prepare(poetry=write_tarball(raw / "chinese-poetry-sample.tgz"), couplets=[write_couplets(raw / "couplets")],
            pingshuiyun=write_pingshuiyun(raw / "origin.txt"), out_dir=root / "processed")
    return root / "processed"
