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


def test_standard_form_maps_variant_forms_and_keeps_standard_and_rare_chars():
    from couplet.text import standard_form
    assert [standard_form(c) for c in "劒鴈簷呌浄髪鶑鬭"] == list("剑雁檐叫净发莺斗")
    # standard chars, the chars the 2013 table restored, and rare chars with no other form stay
    assert [standard_form(c) for c in "乾於瞭徵浥姮"] == list("乾於瞭徵浥姮")
    vocab = Vocab(list("剑劒浄"))
    assert vocab.is_variant("劒") and not vocab.is_variant("剑") and not vocab.is_variant("浄")  # 净 not in it


def test_decoders_write_the_standard_form_where_the_vocabulary_has_both(prepared, fixture_vocab):
    """A model that likes 劒 and 浄 best writes 剑 and 净 when the vocabulary holds them, and 劒 when it
    has no other form of it."""
    import torch

    from couplet.generate import CoupletGenerator, Settings
    from couplet.model import CoupletModel, ModelConfig, PoemConfig, PoemModel
    from couplet.poetry import PoemGenerator, PoemRequest
    from couplet.prosody import Prosody
    prosody = Prosody.load(prepared / "prosody.json")

    def liking(vocab, model):
        with torch.no_grad():
            for ch, bias in (("劒", 60.0), ("浄", 60.0), ("剑", 50.0), ("净", 50.0)):
                if ch in vocab:
                    model.out_bias[vocab.stoi[ch]] = bias
        return model
    extra = [c for c in "劒剑浄净" if c not in fixture_vocab]
    both = Vocab(fixture_vocab.chars() + extra)
    only = Vocab(fixture_vocab.chars() + [c for c in extra if c not in "剑净"])
    settings = Settings(n=1, tone="off", beam=0, temperature=0.0)
    for vocab, want, never in ((both, set("剑净"), set("劒浄")), (only, set("劒浄"), set())):
        torch.manual_seed(0)
        model = liking(vocab, CoupletModel(ModelConfig(vocab_size=len(vocab), emb_dim=16, hidden=16, dropout=0.0)))
        lower = CoupletGenerator(model, vocab, prosody).generate("春风", settings).candidates[0].lower
        assert set(lower) == want and not set(lower) & never
        torch.manual_seed(0)
        poet = PoemGenerator(liking(vocab, PoemModel(PoemConfig(vocab_size=len(vocab), emb_dim=16, hidden=16,
                                                                dropout=0.0))), vocab, prosody)
        poem = "".join(poet.generate(PoemRequest(form="五绝", text="春", n=1, seed=1, pattern="off")).poems[0].lines)
        assert not set(poem) & never and set(poem) & want
