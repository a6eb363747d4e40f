"""横批 choice and the 春联 picture: sizes, real glyphs (not tofu), bad lines, the page handler."""
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from couplet.corpus import Pair
from couplet.hengpi import HengpiChooser, four_char_phrases
from couplet.poster import CHAR, find_font, missing_glyphs, render_poster, save_poster
from couplet.text import InputError, is_han


def test_four_char_phrases_counts_clauses_once_per_line():
    uppers = ["春回大地，万象更新", "春回大地，百花争艳", "春回大地，山河似锦", "春回大地，燕舞莺歌", "春回大地，鸟语花香"]
    lowers = ["福满人间，百业兴旺" + "。" * i for i in range(5)]     # five lines that hold 福满人间
    pairs = [Pair(u, w, "couplet") for u, w in zip(uppers, lowers)] + [Pair("一二三四", "五六七八", "couplet")]
    # a contest: one given line (广府古城，…) answered by many 上联 is one use of its phrases
    pairs += [Pair(f"上联第{i}句", "古城新貌，万家灯火", "couplet") for i in range(9)]
    phrases = dict((ph, n) for ph, n in four_char_phrases(pairs))
    assert phrases == {"春回大地": 5, "福满人间": 5, "百业兴旺": 5}


def test_hengpi_are_distinct_and_not_copied(tiny_whole):
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:12]
    a, b, c = "".join(chars[:4]), "".join(chars[4:8]), "".join(chars[8:12])
    phrases = [[a, 9], [a[::-1], 8], [b, 7], [c, 6]]
    chooser = HengpiChooser(tiny_whole, phrases)
    upper, lower = a + chars[4], c[:2] + b[:3]
    got = [h.text for h in chooser.choose(upper, lower, k=5)]
    assert got and a not in got and len({"".join(sorted(x)) for x in got}) == len(got)
    assert chooser.common(2) == [a, a[::-1]]
    many = chooser.choose_many([(upper, lower), (b[:2], c[:2])], k=2)
    assert len(many) == 2 and all(1 <= len(x) <= 2 for x in many)
    assert not HengpiChooser(tiny_whole, [["\ue000\ue001\ue002\ue003", 5]])  # nothing it can read


def test_a_page_shows_each_hengpi_once_while_a_near_one_is_free(tiny_whole):
    from couplet import hengpi
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:16]
    phrases = [["".join(chars[i:i + 4]), 20 - i] for i in range(0, 16, 4)]
    chooser = HengpiChooser(tiny_whole, phrases)
    couplet = ("".join(chars[:3]), "".join(chars[4:7]))
    ranked = [h.text for h in chooser.choose(*couplet, k=hengpi.APART)]
    assert len(ranked) == hengpi.APART
    page = chooser.for_page([couplet] * (hengpi.APART + 1))
    assert page == ranked + ranked[:1]  # each takes the best not shown; with none free, its best


def test_the_set_phrase_bonus_puts_a_dictionary_word_first(tiny_whole, monkeypatch):
    from couplet import hengpi
    from couplet.postag import dictionary
    words = dictionary()
    known = set(tiny_whole.vocab.chars())
    word = next(w for w in ("春回大地", "万象更新", "国泰民安") if all(c in known for c in w))
    other = word[::-1]
    assert words.get(word, 0) > 0 and words.get(other, 0) == 0
    chooser = HengpiChooser(tiny_whole, [[other, 9], [word, 9]])
    monkeypatch.setattr(hengpi, "IDIOM", 100.0)
    assert chooser.choose("天增岁月人增寿", "春满乾坤福满门", k=2)[0].text == word
    assert chooser.idioms() == [False, True]


def test_a_theme_brings_its_nearest_phrase(tiny_whole):
    """A phrase that shares no char with the couplet and is not among the commonest is scored only
    for a wish whose theme it is nearest (its own seed vector: cosine 1), with the theme term."""
    import itertools
    import math

    from couplet import hengpi
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:16]
    common = ["".join(p) for p in itertools.permutations(chars[:8], 4)][:hengpi.COMMON + 5]
    target = "".join(chars[12:16])
    chooser = HengpiChooser(tiny_whole, [[ph, 100] for ph in common] + [[target, 5]])
    upper, lower = "".join(chars[8:12]), "".join(chars[10:12] + chars[8:10])
    plain = [h.text for h in chooser.choose(upper, lower, k=100)]
    themed = {h.text: h for h in chooser.choose(upper, lower, k=100, theme=target)}
    assert target not in plain and target in themed
    h = themed[target]
    assert h.score - h.fit - hengpi.PRIOR * math.log(5) == pytest.approx(hengpi.THEME, abs=1e-4)


def test_each_couplet_may_have_its_own_theme(tiny_whole):
    """choose_many with a theme per couplet (the seeds of an occasion's couplets) ranks each couplet as
    choosing for it alone with its theme does."""
    import itertools

    from couplet import hengpi
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:16]
    common = ["".join(p) for p in itertools.permutations(chars[:8], 4)][:hengpi.COMMON + 5]
    t1, t2 = "".join(chars[12:16]), "".join(chars[8:12])
    chooser = HengpiChooser(tiny_whole, [[ph, 100] for ph in common] + [[t1, 5], [t2, 5]])
    couplets = [("".join(chars[:3]), "".join(chars[4:7])), ("".join(chars[1:4]), "".join(chars[5:8]))]
    both = chooser.choose_many(couplets, k=5, theme=[t1, t2])
    alone = [chooser.choose_many([c], k=5, theme=t)[0] for c, t in zip(couplets, (t1, t2))]
    assert [[(h.text, round(h.score, 4)) for h in x] for x in both] == \
        [[(h.text, round(h.score, 4)) for h in x] for x in alone]
    wide = chooser.choose_many(couplets, k=100, theme=[t1, t2])   # each scored its own theme's nearest phrase
    assert t1 in [h.text for h in wide[0]] and t2 in [h.text for h in wide[1]]


def _ink(img: Image.Image, box) -> int:
    """Dark pixels (black characters) in a box of the picture."""
    return sum(1 for r, g, b in img.crop(box).getdata() if r < 90 and g < 90 and b < 90)


def test_poster_size_and_real_glyphs():
    img, notes = render_poster("福临门第春风暖", "华照人家喜气浓", "五福临门")
    assert img.size[0] > 0 and img.size[1] > 7 * CHAR
    font = ImageFont.truetype(find_font()[0], int(CHAR * 0.8))
    assert missing_glyphs(font, "福临门第春风暖华照人家喜气浓五福临门") == []
    assert missing_glyphs(font, "\ue001") == ["\ue001"]
    # the right scroll's first cell holds 福 as the font draws it, not a box
    mask = font.getmask("福")
    want = sum(1 for v in mask if v > 160)
    pad = CHAR // 4
    x = img.size[0] - CHAR - (CHAR + 2 * pad) + pad
    y = img.size[1] - CHAR - (7 * CHAR + 2 * pad) + pad
    got = _ink(img, (x, y, x + CHAR, y + CHAR))
    assert 0.7 * want < got < 1.3 * want, (got, want)
    empty = _ink(img, (x, y + 8 * CHAR, x + CHAR, y + 9 * CHAR)) if y + 9 * CHAR < img.size[1] else 0
    assert empty == 0


def test_long_lines_wrap_into_two_columns(tmp_path):
    short, _ = render_poster("春回大地千山秀", "福满人间万户欢")
    long, _ = render_poster("新年献瑞，春到三门添锦绣盛世", "盛世呈祥，福临九域展辉煌新春")
    assert long.size[0] > short.size[0] and long.size[1] < short.size[1] * 2
    save_poster(tmp_path / "p.png", long)
    assert Image.open(tmp_path / "p.png").info["dpi"][0] == pytest.approx(300, abs=1)
    with pytest.raises(InputError, match=".png"):
        save_poster(tmp_path / "p.jpg", long)


@pytest.mark.parametrize("upper, lower, hengpi, color, message", [
    ("春回大地", "福满人间万户欢", "", "black", "equal"),
    ("", "福满人间", "", "black", "empty"),
    ("春回大地", "福满人间", "", "green", "color"),
    ("春回大地", "福满人间", "abcdefghij", "black", "no Chinese"),
])
def test_bad_lines_get_a_message(upper, lower, hengpi, color, message):
    with pytest.raises(InputError, match=message):
        render_poster(upper, lower, hengpi, color=color)


def test_page_poster_handler(tiny_generator, tiny_poet, tiny_whole):
    from couplet.service import Loaded, Studio
    studio = Studio(Loaded(tiny_generator, tiny_poet, {}, tiny_whole))
    path, msg = studio.poster("春回大地千山秀", "福满人间万户欢", "万象更新", "gold")
    assert Path(path).is_file() and "300 dpi" in msg
    path, msg = studio.poster("春回大地", "福满", "", "black")
    assert path is None and "equal" in msg


def test_an_occasions_hengpi_come_from_its_own_phrases_by_fit(tiny_whole):
    """With `only` (an occasion's 横批) every couplet's 横批 is one of those phrases, none the couplet
    holds, ordered by fit alone (no table count, no theme term), and a page shows each once while one
    is free; a phrase the model cannot read is left out."""
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:20]
    table = [["".join(chars[i:i + 4]), 50] for i in range(0, 8, 4)]
    own = tuple("".join(chars[i:i + 4]) for i in range(8, 20, 4)) + ("\ue000\ue001\ue002\ue003",)
    chooser = HengpiChooser(tiny_whole, table)
    couplet = (own[0][:3] + chars[0], "".join(chars[1:5]))
    got = chooser.choose_many([couplet], k=10, only=own)[0]
    assert {h.text for h in got} == set(own[:3]) and all(h.score == h.fit for h in got)
    assert [h.fit for h in got] == sorted((h.fit for h in got), reverse=True)
    holding = (own[1] + chars[0], "".join(chars[1:6]))               # a couplet that holds own[1] is not given it
    assert own[1] not in {h.text for h in chooser.choose_many([holding], k=10, only=own)[0]}
    assert sorted(chooser.for_page([couplet] * 3, only=own)) == sorted(own[:3])
    # none it can read: the table's, as without
    assert chooser.for_page([couplet], only=own[3:]) == chooser.for_page([couplet])


def test_a_wish_for_an_occasion_hangs_its_own_hengpi(tiny_whole, monkeypatch):
    """新年 (春节): each couplet's 横批 is one of the occasion's, all different on a page; read as typed
    (--no-occasion) or with the switch off, they come from the phrase table as before."""
    from couplet import whole
    from couplet.occasions import occasion_of
    from couplet.requests import WholeRequest
    own = occasion_of("新年").hengpi
    readable = [ph for ph in own if all(c in tiny_whole.known for c in ph)]
    table = [["".join(c for c in tiny_whole.vocab.chars() if c >= "\u4e00")[i:i + 4], 9] for i in range(0, 40, 4)]
    monkeypatch.setattr(tiny_whole, "_hengpi", HengpiChooser(tiny_whole, table))
    assert len(readable) >= 3
    res = tiny_whole.generate(WholeRequest(theme="新年", n=3, draws=2))
    assert res.hengpi_from == own and len(res.couplets) >= 2
    hung = [c.hengpi for c in res.couplets]
    assert all(h in readable for h in hung) and len(set(hung)) == len(hung)
    plain = tiny_whole.generate(WholeRequest(theme="新年", n=3, draws=2, occasion=False))
    assert plain.hengpi_from == () and all(c.hengpi in {ph for ph, _ in table} for c in plain.couplets)
    monkeypatch.setattr(whole, "OCCASION_HENGPI", False)
    assert tiny_whole.generate(WholeRequest(theme="新年", n=1, draws=2)).hengpi_from == ()


def test_a_hengpi_names_no_year_the_lower_line_does_not_greet(tiny_whole, monkeypatch):
    """A phrase naming a year (金猴贺岁, 骏马迎春, 三羊开泰, 金龙献瑞) is on a couplet's shortlist only when its
    下联 names that animal: the 下联 greets the new year (骏马奔腾辞旧岁 / 灵羊起舞贺新春: 三羊开泰, not 骏马迎春).
    马到成功, 万马奔腾 and 龙凤呈祥 name no year."""
    from couplet import hengpi
    from couplet.occasions import year_named
    assert [year_named(p) for p in ("金猴贺岁", "骏马迎春", "三羊开泰", "羊年大吉", "金龙献瑞", "金鸡报晓")] == list("猴马羊羊龙鸡")
    assert [year_named(p) for p in ("马到成功", "万马奔腾", "龙凤呈祥", "闻鸡起舞", "喜气洋洋", "龙腾盛世")] == [""] * 6
    # the tiny vocabulary lacks the animals: two of its chars stand in for the old year's and the new one's
    chars = [c for c in tiny_whole.vocab.chars() if is_han(c)][:18]
    old, new = chars[0], chars[1]
    old_year, new_year, plain = old + "".join(chars[2:5]), new + "".join(chars[5:8]), "".join(chars[8:12])
    chooser = HengpiChooser(tiny_whole, [[old_year, 9], [new_year, 8], [plain, 7]])
    upper, lower = old + "".join(chars[12:15]), new + "".join(chars[15:18])
    listed = [chooser.phrases[i][0] for i in chooser.shortlist(upper, lower)]
    assert {old_year, new_year, plain} <= set(listed)      # the real table names no year with these chars
    monkeypatch.setattr(hengpi, "year_named", lambda p: {old_year: old, new_year: new}.get(p, ""))
    monkeypatch.setattr(hengpi, "ZODIAC", old + new)
    listed = [chooser.phrases[i][0] for i in chooser.shortlist(upper, lower)]
    assert new_year in listed and plain in listed and old_year not in listed
    # the old year's animal in the 上联 alone, no other in the 下联: its 横批 fits
    assert hengpi.year_fits(old_year, upper, "".join(chars[15:18])) and not hengpi.year_fits(new_year, upper, upper)
