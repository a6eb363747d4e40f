from collections import Counter

import pytest

from couplet.text import InputError, check_input, normalise_width
from couplet.vocab import Vocab


def test_vocab_round_trip():
    vocab = Vocab.build(Counter("春回大地千山秀日照神州万木春"))
    text = "春回大地，千山秀"
    assert vocab.decode(vocab.encode(text)) == text
    assert Vocab.from_json(vocab.to_json()).itos == vocab.itos


def test_vocab_reserved_and_unknown():
    vocab = Vocab.build(Counter("春春秋"))
    assert vocab.itos[:3] == ["<pad>", "<unk>", "<bos>"]
    assert vocab.encode("冬") == [vocab.unk_id]
    assert "<pad>" not in vocab and "春" in vocab
    assert vocab.decode([vocab.pad_id, vocab.bos_id, vocab.stoi["春"]]) == "春"


def test_vocab_build_is_deterministic_and_capped():
    counts = Counter("甲乙乙丙丙丙丁丁")
    a, b = Vocab.build(counts, max_size=12), Vocab.build(Counter(dict(reversed(counts.items()))), max_size=12)
    assert a.itos == b.itos and len(a) == 12
    assert "乙" not in Vocab.build(counts, min_count=3)


@pytest.mark.parametrize("bad, words", [
    ("", "empty"), ("   \t ", "empty"), ("春\x07回", "control"), ("春回😀", "emoji"),
    ("hello 123", "no Chinese"), ("春" * 65, "limit"), ("春回大地龘", "龘"),
])
def test_check_input_rejects_with_clear_message(bad, words):
    with pytest.raises(InputError, match=words):
        check_input(bad, known=set("春回大地"), max_len=64)


def test_check_input_keeps_unknown_characters_when_asked():
    checked = check_input("春回龘地", known=set("春回大地"), max_len=64, allow_unknown=True)
    assert checked.text == "春回龘地" and "龘" in checked.notes[-1]


def test_check_input_converts_traditional_and_width():
    checked = check_input("國 破 山 河 在,", max_len=64)
    assert checked.text == "国破山河在，"
    assert checked.notes and "traditional" in checked.notes[0]
    assert normalise_width("ＡＢ１２!") == "AB12！"


def test_a_couplet_line_may_hold_title_and_quotation_marks_and_the_numeral_zero():
    # what the refusal message itself asks for (2025 → 二〇二五) passes, and so do 《》 and “”
    for line in ("二〇二六年新春", "读《论语》，知仁义", "“福”字倒贴"):
        assert check_input(line, max_len=64, han_only=True, allow_unknown=True).text == line
    with pytest.raises(InputError, match="holds A"):
        check_input("春回A地", max_len=64, han_only=True)


def test_a_pasted_label_is_left_out_with_a_note():
    checked = check_input("上联:春回大地", max_len=64, han_only=True)
    assert checked.text == "春回大地" and "上联" in checked.notes[0]
    assert check_input("上联", max_len=64).text == "上联"          # the word alone is a line like any other
