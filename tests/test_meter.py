"""The 格律 check: classic poems read as their prosody says, and properties over poems built from the
patterns themselves (with the shipped tone table, checkpoints/prosody.json)."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from couplet.meter import check_poem
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

    def fresh(tone: str) -> str:      # distinct chars: no 重字
        ch = next(c for c in pool if PROSODY.tones[c] == tone and c not in used and c not in RHYMES)
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
