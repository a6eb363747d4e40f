"""The 格律 check: classic poems read as their prosody says, and properties over poems built from the
patterns themselves (with the shipped tone table, checkpoints/prosody.json)."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from couplet.meter import check_couplet, check_poem, check_text, split_couplet
from couplet.poemrules import FORMS, strict_positions, tone_pattern
from couplet.prosody import PING, ZE, Prosody
from couplet.requests import DEFAULT_PROSODY
from couplet.text import InputError

PROSODY = Prosody.load(DEFAULT_PROSODY)


@pytest.mark.parametrize("text, form, start, first, group", [
    ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "五绝", "仄起", False, "十一尤"),
    ("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。", "七绝", "平起", True, "十五删"),
    ("国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
     "五律", "仄起", False, "十二侵"),
    ("風急天高猿嘯哀，渚清沙白鳥飛回。無邊落木蕭蕭下，不盡長江滾滾來。萬里悲秋常作客，百年多病獨登臺。"
     "艱難苦恨繁霜鬢，潦倒新停濁酒杯。", "七律", "仄起", True, "十灰"),
])
def test_regulated_classics_are_regular(text, form, start, first, group):
    m = check_poem(text, PROSODY)
    assert (m.form, m.start, m.first_rhymes, m.rhyme_group) == (form, start, first, group)
    assert m.regular and not m.findings, m.findings      # 萧萧, 滚滚 are doubled words, not 重字


def test_what_a_gu_jue_breaks_is_named():
    m = check_poem("床前明月光 疑是地上霜 举头望明月 低头思故乡", PROSODY)
    kinds = [(f.kind, f.line, f.pos) for f in m.findings]
    assert ("失粘", 3, 2) in kinds and ("失对", 4, 2) in kinds and ("重字", 3, 4) in kinds and not m.regular
    m = check_poem("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。", PROSODY)
    assert any(f.kind == "仄韵" for f in m.findings) and m.rhyme_group is None


@pytest.mark.parametrize("text, rescued", [
    ("向晚意不适，驱车登古原。夕阳无限好，只是近黄昏。", [(1, 4, "登", "对句相救")]),          # 仄仄仄仄仄 / 平平平仄平
    ("离离原上草，一岁一枯荣。野火烧不尽，春风吹又生。远芳侵古道，晴翠接荒城。又送王孙去，萋萋满别情。",
     [(3, 4, "吹", "对句相救")]),
    ("白也诗无敌，飘然思不群。清新庾开府，俊逸鲍参军。渭北春天树，江东日暮云。何时一樽酒，重与细论文。",
     [(3, 4, "清新庾开府", "特拗"), (7, 4, "何时一樽酒", "特拗")]),
])
def test_the_accepted_ao_lines_are_named_and_stay_regular(text, rescued):
    m = check_poem(text, PROSODY)
    notes = [(f.line, f.pos) for f in m.findings if f.kind == "拗救"]
    assert m.regular and notes == [(line, pos) for line, pos, _, _ in rescued], m.findings
    for f, (_, _, chars, name) in zip([f for f in m.findings if f.kind == "拗救"], rescued):
        assert chars in f.text and name in f.text


def test_an_ao_without_its_answer_is_a_fault():
    m = check_poem("向晚意不适，驱车到古原。夕阳无限好，只是近黄昏。", PROSODY)     # 到 is 仄: nothing answers 不
    assert [(f.kind, f.line, f.pos) for f in m.findings] == [("平仄", 1, 4)] and not m.regular


@pytest.mark.parametrize("text, words", [("", "empty"), ("abc", "no Chinese"),
                                         ("春风又绿江南岸", "1 lines of 7"), ("白日依山尽，黄河入海流。", "2 lines")])
def test_what_is_not_a_poem_gets_a_clear_message(text, words):
    with pytest.raises(InputError, match=words):
        check_poem(text, PROSODY)


def _chars(tone: str) -> list[str]:
    return sorted(c for c, t in PROSODY.tones.items() if t == tone)[:400]


PINGS, ZES = _chars(PING), _chars(ZE)
GROUP = "七阳平"
RHYMES = sorted(c for c, gs in PROSODY.rhymes.items() if gs == [GROUP] and PROSODY.tones.get(c) == PING)


@given(data=st.data())
@hsettings(max_examples=60, deadline=None)
def test_a_poem_built_from_its_pattern_is_regular_and_one_wrong_tone_is_named_where_it_is(data):
    form = data.draw(st.sampled_from(list(FORMS)))
    n_lines, width = FORMS[form]
    start, first = data.draw(st.sampled_from([PING, ZE])), data.draw(st.booleans())
    pattern = tone_pattern(form, start, first)
    ends = ([0] if first else []) + list(range(1, n_lines, 2))
    rhymes = iter(data.draw(st.lists(st.sampled_from(RHYMES), min_size=len(ends), max_size=len(ends), unique=True)))
    pool = data.draw(st.lists(st.sampled_from(PINGS), min_size=40, max_size=40, unique=True)) + \
        data.draw(st.lists(st.sampled_from(ZES), min_size=40, max_size=40, unique=True))
    used = set()

    def fresh(tone: str) -> str:      # distinct chars: no 重字; none of the rhyme group in any reading (仰: 仄, and 平 in 七阳)
        ch = next(c for c in pool if PROSODY.tones[c] == tone and c not in used and GROUP not in PROSODY.rhymes.get(c, []))
        used.add(ch)
        return ch
    # 孤平-free: every position follows the pattern (the unbound ones too)
    lines = ["".join(next(rhymes) if i in ends and j == width - 1 else fresh(want[j]) for j in range(width))
             for i, want in enumerate(pattern)]
    m = check_poem("，".join(lines), PROSODY)
    assert m.regular and not m.findings, (lines, m.findings)
    assert (m.form, m.start, m.first_rhymes, m.rhyme_group) == (form, start + "起", first, GROUP.rstrip("平"))
    # one bound char of another line turned to the other tone: a finding names that line
    i = data.draw(st.integers(1, n_lines - 1))
    j = data.draw(st.sampled_from([p for p in strict_positions(width) if not (i in ends and p == width - 1)]))
    flip = fresh(ZE if pattern[i][j] == PING else PING)
    lines[i] = lines[i][:j] + flip + lines[i][j + 1:]
    m = check_poem("，".join(lines), PROSODY)
    assert any(f.line == i + 1 and f.pos in (j + 1, 0) for f in m.findings), (lines, m.findings)
    assert not m.regular


@given(data=st.data())
@hsettings(max_examples=40, deadline=None)
def test_an_ao_at_the_fourth_of_the_last_five_is_accepted_only_with_its_rescue(data):
    """Built from a pattern: a 仄仄平平仄 line with 仄 at the fourth of its last five chars is regular
    when the next line has 平 at its third (对句相救) and a 平仄 fault when it has not; a 平平平仄仄
    line written 平平仄平仄 is regular (特拗) only with 平 at the first of the five."""
    form = data.draw(st.sampled_from(list(FORMS)))
    n_lines, width = FORMS[form]
    start, first = data.draw(st.sampled_from([PING, ZE])), data.draw(st.booleans())
    pattern = tone_pattern(form, start, first)
    ends = ([0] if first else []) + list(range(1, n_lines, 2))
    rhymes = iter(sorted(RHYMES)[:len(ends)])
    fresh = {tone: iter(c for c in chars if GROUP not in PROSODY.rhymes.get(c, []))   # distinct chars: no 重字
             for tone, chars in ((PING, PINGS), (ZE, ZES))}
    tones = [list(want) for want in pattern]
    c = width - 5
    kinds = [k for k in range(n_lines) if pattern[k][c:] in ("仄仄平平仄", "平平平仄仄")]
    k = data.draw(st.sampled_from(kinds))
    rescue = data.draw(st.booleans())
    if pattern[k][c:] == "仄仄平平仄":
        tones[k][c + 3] = ZE
        tones[k + 1][c + 2] = PING if rescue else ZE       # its pair is a 平平仄仄平 line, 3rd of five free
        name = "对句相救"
    else:
        tones[k][c + 2], tones[k][c + 3] = ZE, PING
        tones[k][c] = PING if rescue else ZE
        name = "特拗"
    lines = ["".join(next(rhymes) if i in ends and j == width - 1 else next(fresh[tones[i][j]]) for j in range(width))
             for i in range(n_lines)]
    m = check_poem("，".join(lines), PROSODY)
    found = [(f.kind, f.line, f.pos) for f in m.findings if f.kind != "孤平"]
    if rescue:
        assert m.regular and found == [("拗救", k + 1, c + 4)] and name in m.findings[0].text, (lines, m.findings)
    else:
        assert ("平仄", k + 1, c + 4) in found and not m.regular, (lines, m.findings)


# ---------------------------------------------------------------- couplets
@pytest.mark.parametrize("text", [
    "天增岁月人增寿\n春满乾坤福满门",
    "海内存知己 天涯若比邻",
    "风声雨声读书声声声入耳；家事国事天下事事事关心",      # repeats mirrored
    "春风春雨春色，秋月秋霜秋声",                            # halves of the clauses
])
def test_classic_couplets_are_regular(text):
    m = check_text(text, PROSODY)
    assert m.heading.startswith("对联") and m.regular and not m.findings, m.findings


def test_what_a_couplet_breaks_is_named_where_it_is():
    swapped = check_couplet("春满乾坤福满门\n天增岁月人增寿", PROSODY)
    assert [(f.kind, f.line) for f in swapped.findings] == [("收尾", 0)] and not swapped.regular
    # 乾坤 -> 天宇: 宇 is 仄 like 月 above it (the 4th char is bound), 天 is the 上联's first char
    m = check_couplet("天增岁月人增寿\n春满天宇福满门", PROSODY)
    assert {(f.kind, f.line, f.pos) for f in m.findings} == {("平仄", 2, 4), ("重字", 2, 3)}
    m = check_couplet("春回大地春山秀\n福满人间万户欢", PROSODY)
    assert any(f.kind == "重字" and f.line == 1 for f in m.findings)      # 春 twice, not mirrored
    m = check_couplet("春回大地千山秀\n福满人间万户", PROSODY)
    assert [f.kind for f in m.findings] == ["字数"]


@pytest.mark.parametrize("text, upper, lower", [
    ("书山有路勤为径，学海无涯苦作舟", "书山有路勤为径", "学海无涯苦作舟"),
    ("一二三，四五六七，八九十，甲乙丙丁。", "一二三，四五六七", "八九十，甲乙丙丁"),
    ("上联文字好\n\n下联词句新", "上联文字好", "下联词句新"),
    ("天增歲月人增壽 / 春滿乾坤福滿門", "天增岁月人增寿", "春满乾坤福满门"),
    ("上联：天增岁月人增寿 下联：春满乾坤福满门", "天增岁月人增寿", "春满乾坤福满门"),     # labels left out
    ("上联:天增岁月人增寿，下联:春满乾坤福满门。", "天增岁月人增寿", "春满乾坤福满门"),
    ("天增岁月人增寿\n春满乾坤福满门\n横批：万象更新", "天增岁月人增寿", "春满乾坤福满门"),  # and its 横批
])
def test_a_pasted_couplet_is_split_into_its_lines(text, upper, lower):
    assert split_couplet(text) == (upper, lower)


@pytest.mark.parametrize("text, words", [("", "empty"), ("abc", "no Chinese"), ("春风又绿江南岸", "two lines"),
                                         ("一二三，四五，六七", "3 clauses")])
def test_what_is_not_a_couplet_or_a_poem_gets_a_clear_message(text, words):
    with pytest.raises(InputError, match=words):
        check_text(text, PROSODY)


@given(data=st.data())
@hsettings(max_examples=60, deadline=None)
def test_a_couplet_that_opposes_its_bound_tones_is_regular_and_one_flip_is_named(data):
    from couplet.decode import tone_targets
    n = data.draw(st.integers(5, 11))
    up_tones = data.draw(st.lists(st.sampled_from([PING, ZE]), min_size=n - 1, max_size=n - 1)) + [ZE]
    # distinct chars: the 上联's from the first half of each pool, the 下联's from the second, the last kept for the flip
    pools = {PING: PINGS, ZE: ZES}
    picks = {t: iter(data.draw(st.permutations(range(len(pool) // 2 - 1)))[:2 * n]) for t, pool in pools.items()}
    upper = "".join(pools[t][next(picks[t])] for t in up_tones)
    bound = [i for i, t in enumerate(tone_targets(upper, PROSODY, "rhythm")) if t is not None]
    low_tones = [({PING: ZE, ZE: PING}[t] if i in bound else data.draw(st.sampled_from([PING, ZE])))
                 for i, t in enumerate(up_tones)]
    lower = "".join(pools[t][len(pools[t]) // 2 + next(picks[t])] for t in low_tones)
    m = check_couplet(f"{upper}\n{lower}", PROSODY)
    assert m.regular, m.findings
    flip = data.draw(st.sampled_from(bound[:-1] or [None]))
    if flip is not None:
        same = pools[up_tones[flip]][-1]
        m = check_couplet(f"{upper}\n{lower[:flip]}{same}{lower[flip + 1:]}", PROSODY)
        assert [(f.kind, f.line, f.pos) for f in m.findings] == [("平仄", 2, flip + 1)]


def test_a_rewrite_request_blanks_the_faulty_chars_and_keeps_the_poems_form():
    m = check_poem("床前明月光，疑是地上霜。举头望明月，低头思故乡。", PROSODY)
    req = m.rewrite_request(n=2, seed=5)
    # 上 (平仄), 头 (失粘, then 失对 and 重字 below it), 明月 (重字)
    assert req.lock == "床前明月光，疑是地_霜。举_望__，低_思故乡。"
    assert (req.form, req.pattern, req.first_rhymes, req.rhyme, req.n, req.seed) == \
        ("五绝", m.start, m.first_rhymes, m.rhyme_group, 2, 5)
    assert check_poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", PROSODY).rewrite_request() is None
    assert check_poem("向晚意不适，驱车登古原。夕阳无限好，只是近黄昏。", PROSODY).rewrite_request() is None  # 拗救


def test_a_whole_line_finding_blanks_the_chars_that_decide_it():
    m = check_poem("白日依山尽，大河入海流。欲穷千里目，更上一层楼。", PROSODY)   # 仄平仄仄平: 孤平
    assert [(f.kind, f.line) for f in m.findings] == [("孤平", 2)] and m.faults == [(1, 0), (1, 2)]
    assert m.rewrite_request().lock == "白日依山尽，_河_海流。欲穷千里目，更上一层楼。"


@pytest.mark.parametrize("text, faults", [
    ("一帆风顺年年好\n万事如意步步高", [3]),                      # 意 仄 under 顺 仄
    ("春回大地千山秀\n福满人间万户春", [6]),                      # 春 is in the 上联
    ("风声雨声读书声声声入耳\n家事国事天下事件件关心", [1, 3, 6, 7, 8]),   # 声 five times, 事 thrice: every place
    ("天增岁月人增寿\n春满乾坤福满门", []),
    ("春满乾坤福满门\n天增岁月人增寿", []),                       # swapped: the pair is turned round, not rewritten
])
def test_a_couplets_faults_are_the_lower_chars_its_findings_name(text, faults):
    m = check_couplet(text, PROSODY)
    assert m.faults == faults, m.findings
    assert m.swapped == text.startswith("春满")


def test_horse_hoof_clause_ends_are_a_named_convention():
    m = check_couplet("且住为佳，何必园林穷胜事\n集思广益，岂惟风月助清谈", PROSODY)      # 平仄 / 仄平
    assert not m.findings
    m = check_couplet("山高水长，春风得意，花开富贵\n地久天长，国泰民安，岁乐年丰", PROSODY)
    hoof = [(f.line, f.pos) for f in m.findings if f.kind == "马蹄韵"]
    assert hoof == [(1, 9), (2, 9)] and "平平仄" in m.findings[0].text
    assert [f.kind for f in m.findings if f.kind != "马蹄韵"] == ["重字"] and not m.regular      # 长 in both
    assert check_couplet("山高水远，春风得意，花开富贵\n地久天长，国泰民安，岁乐年丰", PROSODY).regular


@pytest.mark.parametrize("pasted", [
    "《静夜思》床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "静夜思\n李白\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。——李白",
])
def test_a_poem_pasted_with_its_title_or_author_is_read_as_the_poem(pasted):
    bare = check_text("床前明月光，疑是地上霜。举头望明月，低头思故乡。", PROSODY)
    m = check_text(pasted, PROSODY)
    assert (m.heading, m.findings) == (bare.heading, bare.findings)
    # what is left when the lines before are dropped must itself be a poem: six lines of 5 are not
    with pytest.raises(InputError):
        check_poem("白日依山尽，黄河入海流。" * 3, PROSODY)
