import json

from couplet.corpus import prepare, read_pairs, split_of
from couplet.prosody import Prosody, pinyin_tone, read_pingshuiyun


def _all_pairs(out):
    return {(p.upper, p.lower, p.source) for s in ("train", "valid", "test") for p in read_pairs(out / f"{s}.tsv")}


def test_prepare_from_tarball(prepared):
    pairs = _all_pairs(prepared)
    # 颔联/颈联 of the 五律 春望, converted to simplified characters
    assert ("感时花溅泪", "恨别鸟惊心", "lvshi") in pairs
    assert ("烽火连三月", "家书抵万金", "lvshi") in pairs
    assert ("国破山河在", "城春草木深", "poem") in pairs         # first couplet: not a 颔/颈联
    assert ("无边落木萧萧下", "不尽长江滚滚来", "lvshi") in pairs  # 七律 登高
    assert ("天增岁月人增寿", "春满乾坤福满门", "couplet") in pairs  # spaced couplet-dataset lines
    assert not any("□" in a for a, _, _ in pairs)
    summary = json.loads((prepared / "summary.json").read_text(encoding="utf-8"))
    assert summary["dropped"]["unequal_length"] == 1
    assert summary["dropped"]["junk_characters"] == 1
    assert summary["dropped"]["empty"] == 1
    assert summary["dropped"]["poem_junk_characters"] == 1
    assert summary["poems_kept"] == 5 and summary["poems_by_dynasty"] == {"song": 1, "tang": 4}
    poems = [json.loads(x) for x in (prepared / "poems.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {p["title"]: p["dynasty"] for p in poems}["题西林壁"] == "song"
    # one 上联 never lands in two splits
    for split in ("train", "valid", "test"):
        assert all(split_of(p.upper) == split for p in read_pairs(prepared / f"{split}.tsv"))


def test_tarball_and_directory_layouts_agree(corpora, prepared, tmp_path):
    for layout in ("npm_dir", "github_dir"):
        out = tmp_path / layout
        prepare(poetry=corpora[layout], couplets=[corpora["couplets"]], pingshuiyun=corpora["pingshuiyun"],
                out_dir=out)
        assert _all_pairs(out) == _all_pairs(prepared)
        assert (out / "prosody.json").read_text(encoding="utf-8") == (prepared / "prosody.json").read_text(encoding="utf-8")


def test_unspaced_couplet_lines_are_read(corpora, tmp_path):
    from conftest import write_couplets
    d = write_couplets(tmp_path / "flat", spaced=False)
    out = tmp_path / "out"
    prepare(poetry=None, couplets=[d], pingshuiyun=corpora["pingshuiyun"], out_dir=out)
    assert ("一帆风顺年年好", "万事如意步步高", "couplet") in _all_pairs(out)


def test_tone_table_uses_rhyme_table_before_pypinyin(prepared, corpora):
    rhymes, groups = read_pingshuiyun(corpora["pingshuiyun"])
    assert rhymes["中"] == ["一东平", "一送去"] and groups["十一陌入"] == "仄"
    assert "长" in rhymes and "僻" not in rhymes   # glosses and the 其它僻字 label are not members
    assert rhymes["其"] == ["四支平"]              # ... but the label's chars count inside a group
    table = Prosody.load(prepared / "prosody.json")
    for ch in "白国石":                              # 入声: 仄 in poetry
        assert table.tone(ch) == "仄"
    assert pinyin_tone("白") == pinyin_tone("国") == "平"  # modern tone 2: pypinyin alone gets them wrong
    assert table.tone("风") == "平" and table.tone("，") is None
    assert table.tone("深") == "平"                  # not in the small table: from the strains/pypinyin
