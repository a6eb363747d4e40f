"""Whole couplets from a wish: the text format, the rules by construction, seeds, training and the CLI."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couplet.requests import Settings
from couplet.text import InputError, is_han
from couplet.whole import WholeRequest, check_whole, layout_text, split_layout
from couplet.wholetext import (SEP, clause_heads, couplet_doubles, han_count, layout_of, length_token,
                               whole_text)

def test_text_format():
    assert whole_text("春回大地", "福满人间") == "④春回大地" + SEP + "福满人间"
    assert length_token(30) == length_token(20) and han_count("春风，得意") == 4
    assert layout_of("福满人间，华开盛世春") == "4,5" and clause_heads("福满人间，华开盛世春") == "福华"
    assert split_layout("8", 2) == "4,4" and split_layout("4,7", 2) == "4,7" and layout_text("4,7") == [0, 5]


@given(st.lists(st.integers(1, 9), min_size=1, max_size=3))
def test_layout_round_trip(parts):
    layout = ",".join(map(str, parts))
    line = "，".join("春" * k for k in parts)
    assert layout_of(line) == layout
    assert [line[i - 1] for i in layout_text(layout)[1:]] == ["，"] * (len(parts) - 1)


def test_doubles_from_pairs():
    from couplet.corpus import Pair
    pairs = [Pair("年年有余", "处处逢春", "couplet")] * 5 + [Pair("花花", "草草", "couplet")]
    assert couplet_doubles(pairs) == "处年"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10 ** 6), heads=st.sampled_from(["", "春秋", "天地", "风花雪月"]),
       length=st.sampled_from([5, 7, 9, 11]))
def test_hard_rules_hold_by_construction(tiny_whole, seed, heads, length):
    length = max(length, 8) if len(heads) == 4 else length
    req = WholeRequest(theme="" if heads else "春风 明月", head=heads, length=length, n=3, draws=2, seed=seed)
    res = tiny_whole.generate(req)
    assert res.couplets
    for c in res.couplets:
        assert sum(ch != "，" for ch in c.upper) == length
        broken = [k for k, ok in check_whole(c.upper, c.lower, heads, tiny_whole.couplets.prosody).items() if not ok]
        assert not broken, (c.upper, c.lower, broken)


def test_same_seed_same_couplets(tiny_whole):
    req = WholeRequest(theme="山水", n=3, draws=2, seed=7)
    a, b = tiny_whole.generate(req), tiny_whole.generate(req)
    assert [(c.upper, c.lower) for c in a.couplets] == [(c.upper, c.lower) for c in b.couplets]
    other = tiny_whole.generate(WholeRequest(theme="山水", n=3, draws=2, seed=8))
    assert [c.upper for c in other.couplets] != [c.upper for c in a.couplets]


def test_candidates_differ_and_heads_unknown_to_the_models_are_kept(tiny_whole):
    res = tiny_whole.generate(WholeRequest(head="筚蓠", n=4, draws=3))
    assert res.couplets and all(c.upper[0] == "筚" and c.lower[0] == "蓠" for c in res.couplets)
    for i, a in enumerate(res.couplets):
        for b in res.couplets[i + 1:]:
            assert sum(x != y for x, y in zip(a.upper, b.upper)) >= 3


@pytest.mark.parametrize("req, message", [
    (WholeRequest(), "give a theme"),
    (WholeRequest(head="福华吉"), "1 Chinese character"),
    (WholeRequest(head="ab"), "藏头 has no Chinese characters"),
    (WholeRequest(theme="春", length=40), "--length"),
    (WholeRequest(theme="春", n=0), "--n"),
])
def test_bad_wishes_get_a_message(tiny_whole, req, message):
    with pytest.raises(InputError, match=message):
        tiny_whole.generate(req)


def test_four_heads_at_a_length_without_two_clauses_are_written_at_eight_with_a_note(tiny_whole):
    """Four heads need two clauses a line; at the default 7 the wish is written at 8 (4,4), not refused."""
    res = tiny_whole.generate(WholeRequest(head="福满华堂", length=7, n=2, draws=2))
    assert res.layout == "4,4" and res.size == "8 字 (4,4)"
    assert any("written at 8 characters, not 7" in n for n in res.notes)
    for c in res.couplets:
        assert c.upper.split("，")[0][0] + c.upper.split("，")[1][0] == "福满"
        assert c.lower.split("，")[0][0] + c.lower.split("，")[1][0] == "华堂"
    wider = tiny_whole.generate(WholeRequest(head="福满华堂", length=9, n=1, draws=2))
    assert wider.layout == "4,5" and not any("written at" in n for n in wider.notes)


def test_train_then_write_whole_couplets(prepared, tmp_path, capsys):
    import train as train_cli
    from couplet.cli import main as cli
    out = tmp_path / "w"
    assert train_cli.main(["whole", "--dry-run", "--data", str(prepared), "--out", str(out), "--min-count", "1"]) == 0
    meta = json.loads((out / "best" / "checkpoint.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "whole" and meta["layouts"]
    capsys.readouterr()
    assert cli(["whole", "--head", "春秋", "--n", "2", "--draws", "2", "--checkpoint", str(out / "best"),
                "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["couplets"] and all(c["upper"][0] == "春" and c["lower"][0] == "秋" for c in res["couplets"])
    # the wish as the first word, read by --mode: the same couplets as the flag
    assert cli(["whole", "春秋", "--mode", "head", "--n", "2", "--draws", "2", "--checkpoint", str(out / "best"),
                "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == res
    for args in ([], ["春秋", "--theme", "春"]):    # no wish, or two
        assert cli(["whole", *args]) == 2 and "give one wish" in capsys.readouterr().err
    # the first word as the theme beside --head: as --theme with it
    both = ["--head", "春秋", "--n", "1", "--draws", "2", "--checkpoint", str(out / "best"), "--json"]
    assert cli(["whole", "风月", *both]) == 0
    first = json.loads(capsys.readouterr().out)
    assert cli(["whole", "--theme", "风月", *both]) == 0 and json.loads(capsys.readouterr().out) == first
    assert first["keywords"] and first["couplets"][0]["upper"][0] == "春"
    poster = tmp_path / "chunlian.png"
    assert cli(["whole", "--head", "春秋", "--n", "1", "--draws", "2", "--checkpoint", str(out / "best"),
                "--poster", str(poster)]) == 0
    from PIL import Image
    assert Image.open(poster).size[1] > Image.open(poster).size[0]
    assert cli(["whole", "--head", "春秋", "--poster", str(tmp_path / "x.jpg")]) == 2
    wishes = tmp_path / "wishes.txt"
    wishes.write_text("春秋\n风月 山水\nabc\n", encoding="utf-8")
    result = tmp_path / "out.jsonl"
    assert cli(["whole", "--input", str(wishes), "--mode", "head", "--output", str(result), "--n", "2",
                "--draws", "2", "--checkpoint", str(out / "best")]) == 0
    rows = [json.loads(x) for x in result.read_text(encoding="utf-8").splitlines()]
    assert {r["input_line"] for r in rows} == {1, 2, 3}
    assert [r for r in rows if r["input_line"] == 3][0]["error"]
    assert all(r["upper"][0] == "风" and r["lower"][0] == "月" for r in rows if r["input_line"] == 2)
    assert cli(["whole", "--theme", "春", "--length", "99"]) == 2
    from couplet.evaluate import main as evaluate
    (tmp_path / "t.txt").write_text("春风 明月\n", encoding="utf-8")
    (tmp_path / "h.txt").write_text("春秋\n风花雪月\n", encoding="utf-8")
    capsys.readouterr()
    assert evaluate(["whole", "--themes", str(tmp_path / "t.txt"), "--heads", str(tmp_path / "h.txt"), "--n", "2",
                     "--checkpoint", str(out / "best"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["wishes"] == 3 and m["rule heads"] == 1.0 and m["rule tones"] == 1.0


def test_theme_words_held_whole_rank_first(tiny_whole):
    from dataclasses import replace

    from couplet.whole import words_held
    assert words_held("春风得意马蹄疾", ["春风", "马蹄", "秋月"]) == 2 and words_held("春得风", ["春风"]) == 0
    pairs = [("秋水长天一色", "落霞孤鹜齐飞", -2.0, -2.0, ""), ("春风杨柳万千", "六亿神州尽舜", -2.1, -2.1, "")]
    req = replace(WholeRequest(theme="春风"), scorer_weight=0.0, theme_weight=0.0)
    ranked = tiny_whole._rank(pairs, req, ["春风"])
    assert ranked[0].upper.startswith("春风")
    assert tiny_whole._rank(pairs, replace(req, word_bonus=0.0), ["春风"])[0].upper.startswith("秋水")


def test_another_round_of_draws_when_too_few_differ(tiny_whole, monkeypatch):
    """Fewer distinct couplets than asked after one round of 上联 draws: the next round draws anew."""
    lines = ["春风明月照山河", "白日青山入画图", "秋水长天映晚霞"]
    rounds = []

    def one_upper_a_round(plan, literal, seed, req, words, round_=0, share=1, part=0):
        rounds.append(round_)
        return [(lines[round_], -1.0)]
    monkeypatch.setattr(tiny_whole, "_uppers", one_upper_a_round)
    res = tiny_whole.generate(WholeRequest(theme="山水", n=2, draws=2))
    assert rounds == [0, 1] and sorted(c.upper for c in res.couplets) == sorted(lines[:2])
    rounds.clear()
    res = tiny_whole.generate(WholeRequest(theme="山水", n=5, draws=2))
    assert rounds == [0, 1, 2] and len(res.couplets) == 3 and any("3 of the 5" in x for x in res.notes)


def test_a_batch_does_not_repeat_its_uppers(tiny_whole):
    req = WholeRequest(theme="山水", n=2, draws=3, seed=5)
    written: set[str] = set()
    a = [c.upper for c in tiny_whole.generate(req, avoid=written).couplets]
    b = [c.upper for c in tiny_whole.generate(req, avoid=written).couplets]
    assert a == [c.upper for c in tiny_whole.generate(req).couplets] and b and not set(a) & set(b)


def test_pair_logp_reads_a_shared_upper_once_and_agrees_with_the_whole_pass(tiny_whole):
    """Pairs with the same seed and 上联 share the pass over ⑦上联｜: the same mean log-probs as the
    model over each whole text (⑦上联｜下联) on its own."""
    import torch

    from couplet.model import shift_right
    from couplet.poemrules import seed_batch
    g = tiny_whole
    pairs = [("天增岁月人增寿", "春满乾坤福满门"), ("天增岁月人增寿", "春回大地千山秀"),
             ("春回大地千山秀", "天增岁月人增寿"), ("天增岁月人增寿", "春满乾坤福满门")]
    seeds = ["春", "春", "春", "福"]
    got = g.pair_logp(pairs, seeds)
    with torch.no_grad():
        for (u, w), s, value in zip(pairs, seeds, got.tolist()):
            tgt = torch.tensor([g.vocab.encode(length_token(len(u)) + u + SEP + w)])
            logits = g.model(seed_batch(g.vocab, [s], g.model.cfg.max_seed), shift_right(tgt, g.vocab.bos_id))
            want = torch.log_softmax(logits, dim=-1).gather(2, tgt.unsqueeze(2))[0, 1:, 0].mean()
            assert value == pytest.approx(float(want), abs=1e-5)
    assert g.pair_logp(pairs[:2], "春").tolist() == pytest.approx(got[:2].tolist(), abs=1e-6)


def test_occasions_name_what_users_type_and_seed_with_at_most_four_chars():
    from couplet.occasions import OCCASIONS, occasion_of
    assert occasion_of("结婚").name == "婚庆" and occasion_of("新店开张").name == "开业"
    assert occasion_of("八十大寿").name == "祝寿" and occasion_of("乔迁新居").name == "乔迁"
    assert occasion_of("悼念父亲").name == "挽联" and occasion_of("喜得贵子").name == "添丁"
    assert occasion_of("中秋 团圆").name == "中秋" and occasion_of("闹元宵").name == "元宵"
    assert occasion_of("端午节").name == "端午" and occasion_of("扫墓").name == "清明"
    assert occasion_of("五一劳动节").name == "劳动节" and occasion_of("祭奠").name == "挽联"
    assert occasion_of("春 江") is None and occasion_of("") is None
    for o in OCCASIONS:
        assert o.seeds or o.poem, o.name
        assert all(len(s) == 4 and all(is_han(c) for c in s) for s in o.seeds), o.name
        # an occasion with couplets has the 横批 people hang for it: 4 chars each, enough for a page of 5
        assert not o.seeds or len(set(o.hengpi)) == len(o.hengpi) >= 5, o.name
        assert all(len(h) == 4 and all(is_han(c) for c in h) for h in o.hengpi), o.name


def test_a_wish_for_an_occasion_is_drawn_from_its_seeds_and_keeps_every_rule(tiny_whole):
    """新年 is read as 春节: the 上联 are drawn from the occasion's seeds (each couplet says which), with a
    note; --no-occasion reads the words as typed. Every hard rule holds either way. A theme naming an
    occasion is answered even when the model knows none of its words (结婚 here)."""
    from couplet.occasions import occasion_of
    seeds = list(occasion_of("新年").seeds)
    res = tiny_whole.generate(WholeRequest(theme="新年", n=3, draws=2))
    assert res.seed == " ".join(seeds) and any("春节" in n for n in res.notes)
    assert res.couplets and all(c.seed in seeds for c in res.couplets)
    plain = tiny_whole.generate(WholeRequest(theme="新年", n=3, draws=2, occasion=False))
    assert plain.seed == "新年" and not any("春节" in n for n in plain.notes)
    for c in res.couplets + plain.couplets:
        assert all(check_whole(c.upper, c.lower, "", tiny_whole.couplets.prosody).values())
    assert tiny_whole.generate(WholeRequest(theme="结婚", n=1, draws=2)).couplets
    with pytest.raises(InputError, match="no keyword the model knows"):
        tiny_whole.generate(WholeRequest(theme="结婚", n=1, draws=2, occasion=False))


def test_an_occasions_couplets_holding_what_it_leaves_out_come_last(tiny_whole, monkeypatch):
    """重阳 is autumn: a couplet holding 春, 夏, 冬, 雪 or 梅, or another occasion's words (洞房, 金猴), ranks
    after every other (its score kept), and a page shows it only below the others; with the switches
    off the order is the score's alone."""
    from couplet import whole
    from couplet.occasions import occasion_of
    off = whole._off(occasion_of("重阳"))
    assert set("春夏冬雪梅") <= set(off) and {"洞房", "金猴", "辞岁"} <= set(off)
    assert "洞房" not in whole._off(occasion_of("结婚")) and "金猴" not in whole._off(occasion_of("春节"))
    assert "春" not in whole._off(occasion_of("春节")) and "洞房" in whole._off(occasion_of("高考"))
    # another festival's name, but 春节 and 元宵 (the season of 春节 runs to 元宵) do not count each other
    assert "元宵" in whole._off(occasion_of("端午")) and "端午" not in whole._off(occasion_of("端午"))
    assert "元宵" not in whole._off(occasion_of("春节")) and "春节" not in whole._off(occasion_of("元宵"))
    assert "中秋" in whole._off(occasion_of("春节")) and "平安夜" in whole._off(occasion_of("春节"))
    pairs = [("登高望远", "举目赏春", -1.0, -1.0, "登高菊花"), ("登高望远", "把酒临风", -3.0, -3.0, "登高菊花"),
             ("金榜题名", "洞房花烛", 0.0, 0.0, "登高菊花")]
    req = WholeRequest(theme="重阳", scorer_weight=0.0)
    ranked = tiny_whole._rank(pairs, req, [], off=off)
    assert [c.lower for c in ranked] == ["把酒临风", "洞房花烛", "举目赏春"] and ranked[2].score == -2.0
    assert [c.off_theme for c in ranked] == [False, True, True]
    assert [c.lower for c in tiny_whole._rank(pairs, req, [])] == ["洞房花烛", "举目赏春", "把酒临风"]
    # a page for the occasion: the flag follows the words, and flagged couplets come after the others
    res = tiny_whole.generate(WholeRequest(theme="重阳", n=4, draws=2, hengpi=False))
    flags = [c.off_theme for c in res.couplets]
    assert flags == sorted(flags) and all(f == any(x in c.upper + c.lower for x in off)
                                          for f, c in zip(flags, res.couplets))
    monkeypatch.setattr(whole, "OCCASION_SEASON", False)
    monkeypatch.setattr(whole, "OCCASION_WORDS", False)
    assert whole._off(occasion_of("重阳")) == ()
    plain = tiny_whole.generate(WholeRequest(theme="重阳", n=4, draws=2, hengpi=False))
    assert not any(c.off_theme for c in plain.couplets)


def test_a_shop_opening_is_written_for_the_shop(tiny_whole, monkeypatch):
    """茶馆开业: the word naming the place of business seeds the couplets (the occasion's 横批 kept); a
    wish (开业大吉) or a word of the occasion (新店) names none, and other occasions have no subject."""
    from couplet import whole
    from couplet.occasions import PLACES, occasion_of
    opening = occasion_of("开业")
    assert opening.subject_of(["茶馆", "开业"]) == ["茶馆"] and opening.subject_of(["开业", "大吉"]) == []
    assert opening.subject_of(["新店"]) == [] and occasion_of("结婚").subject_of(["饭店"]) == []
    place = next(c for c in PLACES if c in tiny_whole.known)
    shop = next(c for c in tiny_whole.vocab.chars() if is_han(c) and c != place) + place
    res = tiny_whole.generate(WholeRequest(theme=f"{shop} 开业", n=1, draws=2))
    assert res.keywords == [shop] and res.seed == shop and any(shop in n for n in res.notes)
    assert res.hengpi_from == opening.hengpi
    monkeypatch.setattr(whole, "OCCASION_SUBJECT", False)
    assert tiny_whole.generate(WholeRequest(theme=f"{shop} 开业", n=1, draws=2)).seed == " ".join(opening.seeds)


def test_a_wish_naming_a_year_is_its_spring_festival():
    """羊年, 2027 and 二〇二七 name the year of the goat: such a wish is 春节's, with the year's seeds and 横批
    first, and its couplets may name the goat, the horse it follows and the dragon, no other animal. 春节
    alone names no year and allows every year's words; another occasion stays itself, the year's words
    allowed."""
    from couplet.occasions import YEAR_HENGPI, ZODIAC, occasion_of, year_of
    assert ([year_of(t) for t in ("羊年", "2027", "二〇二七年春联", "金羊贺岁", "2020 春节", "1234", "马到成功", "春节")]
            == ["羊", "羊", "羊", "羊", "鼠", "", "", ""])
    goat, spring = occasion_of("羊年春联"), occasion_of("春节")
    assert goat.name == "春节" and goat.year == "羊" and spring.year == ""
    assert goat.hengpi == YEAR_HENGPI["羊"] + spring.hengpi
    assert goat.seeds[:2] == ("骏马辞岁", "金羊迎春") and set(goat.seeds[2:]) <= set(spring.seeds)
    off = set(goat.off_words)
    assert {"猴岁", "金猴", "猴", "鸡", "猪"} <= off and not {"羊", "羊年", "三羊", "马", "马岁", "龙"} & off
    assert not set(ZODIAC) & set(spring.off_words) and "金猴" not in spring.off_words
    wedding = occasion_of("婚礼 2027")
    assert wedding.name == "婚庆" and "羊年" not in wedding.off_words and {"猴年", "辞岁"} <= set(wedding.off_words)
    assert occasion_of("羊年", years=False) is None and occasion_of("2027年春节", years=False).year == ""


def test_an_occasions_lines_leave_out_its_one_char_words_as_they_are_written(tiny_whole, monkeypatch):
    """Another year's animal is never written in either line of a year's couplets (the 上联's plan and
    the 下联's `Rules.avoid`), where ranking could only put such couplets last, nor the year before in the
    下联 (the old year is seen off in the 上联); seasons are ranked, not left out. A bare year is a wish
    for its 春联."""
    from couplet import whole
    from couplet.occasions import MOURNING, occasion_of
    left_out = whole._avoided(occasion_of("羊年"))
    assert set("猴鸡猪鼠") <= set(left_out) and not set("羊马龙") & set(left_out)
    assert set(whole._avoided(occasion_of("羊年"), lower=True)) == set(left_out) | {"马"}
    assert whole._avoided(occasion_of("重阳")) == "" and whole._avoided(occasion_of("春节")) == MOURNING
    known = [c for c in left_out if c in tiny_whole.couplets.vocab.stoi]
    assert known    # the tiny models know some of them, so the test reads something
    plan, _ = tiny_whole.couplets.plan("春回大地", Settings(), avoid=left_out)
    ids = [tiny_whole.couplets.vocab.stoi[c] for c in known]
    assert not plan.allowed[:, ids].any() and tiny_whole.couplets.plan("春回大地", Settings())[0].allowed[:, ids].any()
    for theme in ("羊年", "2027"):
        res = tiny_whole.generate(WholeRequest(theme=theme, n=4, draws=3, hengpi=False))
        assert res.couplets and res.hengpi_from[0] == "三羊开泰"
        assert not any(c in x.upper + x.lower for x in res.couplets for c in left_out)
        assert not any("马" in x.lower for x in res.couplets)
    monkeypatch.setattr(whole, "OCCASION_AVOID", False)
    assert whole._avoided(occasion_of("羊年")) == MOURNING     # the years' words no more; a happy occasion's grief stays


def test_words_typed_beside_an_occasion_are_steered_toward(tiny_whole):
    """春节 平安: the occasion's seeds would leave 平安 out; the words beside those naming the occasion, its
    year, its seeds or the wish (快乐) are steered toward in half of each seed's draws and count for the
    ranking's word bonus; so are a plain wish's words past its seed's four chars. cover 0 turns it off."""
    from couplet.occasions import occasion_of
    spring = occasion_of("春节")
    assert spring.beside(["春节", "平安"]) == ["平安"] and spring.beside(["新春快乐", "快乐", "新年"]) == []
    assert occasion_of("羊年 团圆").beside(["羊年", "2027", "金羊", "团圆"]) == ["团圆"]
    assert occasion_of("开业").beside(["开业", "兴隆", "红火"]) == ["红火"]     # 兴隆: its seed 财源兴隆 has it
    assert spring.beside(["平安", "团圆", "如意", "健康"]) == ["平安", "团圆"]   # two at most
    word = next(a + b for a, b in zip("平团如健", "安圆意康") if a in tiny_whole.vocab and b in tiny_whole.vocab)
    seeds, words, *_, beside = tiny_whole.prepare(WholeRequest(theme=f"春节 {word}"))
    assert beside == [word] and word in words and seeds == list(spring.seeds)
    assert tiny_whole.prepare(WholeRequest(theme=f"春节 {word}", cover=0))[-1] == []

    def held(bonus):
        plan, literal = tiny_whole.plan("7", "", seeds[0], steer=([word], bonus))
        uppers = tiny_whole._uppers(plan, literal, seeds[0], WholeRequest(theme="春节", n=8, draws=4), [])
        return sum(word in u for u, _ in uppers)
    assert held(10.0) > held(0.0)
    res = tiny_whole.generate(WholeRequest(theme=f"春节 {word}", n=3, draws=2, hengpi=False))
    assert res.couplets and any(f"steered toward {word}" in n for n in res.notes)
    # a wish of words alone: those past the seed's four chars
    a, b, c, d, e, f = [x for x in "春风明月山水花鸟江河云天" if x in tiny_whole.vocab][:6]
    seeds, _, *_, beside = tiny_whole.prepare(WholeRequest(theme=f"{a + b} {c + d} {e + f}"))
    assert seeds == [a + b + c + d] and beside == [e + f]
    assert tiny_whole.prepare(WholeRequest(theme=f"{a + b} {c + d}"))[-1] == []
    for c in res.couplets:
        assert all(check_whole(c.upper, c.lower, "", tiny_whole.couplets.prosody).values())


def test_an_occasions_hengpi_add_the_phrases_holding_a_word_typed_beside_it(tiny_whole, monkeypatch):
    """With the switch on, 春节 平安 may hang 竹报平安: the phrase table's commonest holding each typed word join
    the occasion's own (off by default: readers hung them as often as not)."""
    from couplet import whole
    from couplet.hengpi import HengpiChooser
    from couplet.occasions import occasion_of
    a, b, c, d, e, f, g, h = [x for x in tiny_whole.vocab.chars() if is_han(x) and x not in "春节"][:8]
    chooser = HengpiChooser(tiny_whole, [[a + b + c + d, 9], [e + f + a + b, 5], [g + h + e + f, 4],
                                         [a + b + g + h, 3], [c + a + b + d, 2]])
    assert chooser.holding([a + b]) == [a + b + c + d, e + f + a + b, a + b + g + h]
    assert chooser.holding([a + b, e + f], k=1) == [a + b + c + d, e + f + a + b]
    monkeypatch.setattr(tiny_whole, "_hengpi", chooser)
    monkeypatch.setattr(whole, "OCCASION_HOLDING", True)
    spring = occasion_of("春节")
    res = tiny_whole.generate(WholeRequest(theme=f"春节 {a + b}", n=1, draws=2, hengpi=False))
    assert res.hengpi_from == spring.hengpi + (a + b + c + d, e + f + a + b, a + b + g + h)
    monkeypatch.setattr(whole, "OCCASION_HOLDING", False)
    assert tiny_whole.generate(WholeRequest(theme=f"春节 {a + b}", n=1, draws=2, hengpi=False)).hengpi_from == spring.hengpi


def test_a_head_is_followed_by_a_char_people_write_after_it(tiny_whole, monkeypatch):
    """丽华: the 上联's char after its head is one the couplet table has seen after it (mapped into the
    whole model's vocabulary), and the 下联's lock follows too; HEADS_FOLLOW off leaves both free."""
    from couplet import whole
    from couplet.phrases import Follows, build_follows
    cv = tiny_whole.couplets.vocab
    a, b, h2 = [x for x in cv.chars() if is_han(x) and x in tiny_whole.vocab][:3]
    table = Follows(build_follows([a + b] * 3, cv, min_count=2), len(cv))
    monkeypatch.setattr(tiny_whole.couplets.tables, "follows", table)
    assert tiny_whole._after(a).nonzero().flatten().tolist() == [tiny_whole.vocab.stoi[b]]
    plan, _ = tiny_whole.plan("7", a + h2, "")
    assert plan.allowed[2].nonzero().flatten().tolist() == [tiny_whole.vocab.stoi[b]]
    res = tiny_whole.generate(WholeRequest(head=a + h2, n=2, draws=2, hengpi=False))
    assert res.couplets and all(c.upper[:2] == a + b for c in res.couplets)
    monkeypatch.setattr(whole, "HEADS_FOLLOW", False)
    assert tiny_whole.plan("7", a + h2, "")[0].allowed[2].sum() > 1


def test_a_happy_occasion_leaves_out_the_chars_of_grief(tiny_whole, monkeypatch):
    """春节, weddings, birthdays, exams: their lines leave out 泪, 悲, 惆怅… as written (both lines, `_avoided`);
    a funeral, 清明, 七夕 and 毕业 keep them; OCCASION_FESTIVE off turns it off."""
    from couplet import whole
    from couplet.occasions import MOURNING, OCCASIONS, occasion_of
    festive = {o.name for o in OCCASIONS if o.festive}
    assert {"春节", "婚庆", "祝寿", "乔迁", "升学", "开业"} <= festive
    assert not {"挽联", "清明", "七夕", "毕业", "重阳"} & festive
    assert set(MOURNING) <= set(whole._avoided(occasion_of("结婚"))) and whole._avoided(occasion_of("挽联")) == ""
    grief = [c for c in MOURNING if c in tiny_whole.vocab.stoi]
    plan, _ = tiny_whole.plan("7", "", "春节", whole._avoided(occasion_of("春节")))
    assert grief and not plan.allowed[:, [tiny_whole.vocab.stoi[c] for c in grief]].any()
    monkeypatch.setattr(whole, "OCCASION_FESTIVE", False)
    assert whole._avoided(occasion_of("春节")) == ""


def test_a_name_among_the_words_is_noted_not_steered_toward(tiny_whole, monkeypatch):
    """结婚 张伟: 张伟 opens with a surname and is no word of jieba's, nor a pair the couplets write (程门 and 唐风
    are); it is not steered toward, and the note points to the 藏头 box."""
    from couplet.postag import is_person_name
    assert is_person_name("张伟") and is_person_name("王秀英") and is_person_name("小明")
    assert not any(is_person_name(w) for w in ("白云", "杨柳", "田园", "平安", "火锅", "全家福", "张灯结彩"))
    monkeypatch.setattr(tiny_whole.couplets.tables, "follows", None)   # no table: the dictionary alone decides
    assert tiny_whole._is_name("张伟") and not tiny_whole._is_name("团圆")
    *_, notes, _, beside = tiny_whole.prepare(WholeRequest(theme="春节 张伟"))
    assert beside == [] and any("张伟: a name?" in n for n in notes)
    assert not any("a name?" in n for n in tiny_whole.prepare(WholeRequest(theme="春节 张伟", head="福华"))[4])
