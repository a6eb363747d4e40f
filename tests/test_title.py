"""Poem titles (N vs M): cleaning, the structure, generation limits, training and the CLI."""
import json

import pytest
import torch

from couplet.model import TitleConfig, TitleModel
from couplet.text import InputError
from couplet.title import TitleGenerator, clean_title
from couplet.vocab import Vocab


@pytest.fixture(scope="module")
def tiny_titler(fixture_vocab):
    torch.manual_seed(0)
    return TitleGenerator(TitleModel(TitleConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0)),
                          fixture_vocab)


@pytest.mark.parametrize("raw, clean", [("春日其二", "春日"), ("送友人 ", "送友人"), ("无题", None), ("绝句二首", None),
                                        ("句", None), ("登鹳雀楼", "登鹳雀楼"), ("和张十一（一作舍人）", None),
                                        ("送元二使安西送元二使安西", None), ("金陵杂兴二百首其一", "金陵杂兴"),
                                        ("偈颂一百零二首", None), ("宫词一百首", "宫词"), ("望海楼怀古二首一", "望海楼怀古"),
                                        ("登科后第三十一", "登科后"), ("十五夜望月", "十五夜望月")])
def test_clean_title(raw, clean):
    assert clean_title(raw) == clean


def test_output_length_is_free_of_the_input_length():
    model = TitleModel(TitleConfig(vocab_size=50, emb_dim=8, hidden=8)).eval()
    for n_src, n_tgt in ((24, 3), (64, 9), (5, 1)):
        out = model(torch.randint(3, 50, (2, n_src)), torch.randint(3, 50, (2, n_tgt)))
        assert out.shape == (2, n_tgt, 50)


def test_titles_are_short_han_and_distinct(tiny_titler):
    titles = tiny_titler.titles("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", n=3)
    assert 1 <= len(titles) <= 3 and len({t for t, _ in titles}) == len(titles)
    for t, score in titles:
        assert 2 <= len(t) <= 8 and all("\u4e00" <= c <= "\u9fff" for c in t) and len(set(t)) == len(t)
        assert score <= 0
    assert tiny_titler.titles(["白日依山尽", "黄河入海流"], n=1)  # lines as a list work too


@pytest.mark.parametrize("bad", ["", "abc", "春"])
def test_bad_poem_gets_a_message(tiny_titler, bad):
    with pytest.raises(InputError):
        tiny_titler.titles(bad)


def test_poems_carry_their_titles(prepared, fixture_vocab, tiny_titler):
    from couplet.model import PoemConfig, PoemModel
    from couplet.poetry import PoemGenerator, PoemRequest
    from couplet.prosody import Prosody
    torch.manual_seed(0)
    gen = PoemGenerator(PoemModel(PoemConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0)),
                        fixture_vocab, Prosody.load(prepared / "prosody.json"))
    gen.titler.value = tiny_titler
    res = gen.generate(PoemRequest(form="五绝", mode="acrostic", text="春山风月", n=2))
    assert res.poems and all(p.title and 2 <= len(p.title) <= 8 for p in res.poems)
    res = gen.generate(PoemRequest(form="五绝", mode="acrostic", text="春山风月", n=1, title=False))
    assert res.poems[0].title is None


def test_train_then_title(prepared, tmp_path, capsys):
    import train as train_cli
    from couplet.cli import main as cli
    out = tmp_path / "t"
    assert train_cli.main(["title", "--dry-run", "--data", str(prepared), "--out", str(out), "--min-count", "1"]) == 0
    capsys.readouterr()
    assert cli(["title", "白日依山尽，黄河入海流", "--n", "2", "--checkpoint", str(out / "best"), "--json"]) == 0
    titles = json.loads(capsys.readouterr().out)
    assert titles and all(2 <= len(t["title"]) <= 8 for t in titles)
    assert cli(["title", "abc", "--checkpoint", str(out / "best")]) == 2
    assert cli(["title", "白日依山尽", "--checkpoint", str(tmp_path / "none")]) == 2


def test_title_model_follows_the_poem_models_precision():
    """The companions of a poem generator decode in its precision: fp32 with fp32, int8 with int8."""
    from couplet.model import is_quantized
    from couplet.poetry import PoemGenerator
    from couplet.requests import DEFAULT_TITLE_CHECKPOINT
    if not (DEFAULT_TITLE_CHECKPOINT / "model.safetensors").exists():
        pytest.skip("no shipped title model")
    for int8 in (False, True):
        gen = PoemGenerator.load(int8=int8)
        assert is_quantized(gen.model) == int8
        assert is_quantized(gen.titler.get().model) == int8


def test_a_title_names_no_occasion_the_poem_does_not_hold(fixture_vocab):
    """A title model that would write only occasion chars (寄, 赠, 次韵 ...) writes none of them for a
    poem that holds none, and may use one the poem holds."""
    from couplet.title import OCCASION
    torch.manual_seed(0)
    model = TitleModel(TitleConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0)).eval()
    ids = [fixture_vocab.stoi[c] for c in OCCASION if c in fixture_vocab.stoi]
    assert len(ids) >= 3, "the fixture vocabulary should hold some occasion chars"
    with torch.no_grad():
        model.out_bias[ids] = 50.0
    gen = TitleGenerator(model, fixture_vocab)
    plain = [c for c in "白日依山尽黄河入海流欲穷千里目更上层楼春风花月" if c in fixture_vocab.stoi and c not in OCCASION][:10]
    poem = "".join(plain[:5]) + "，" + "".join(plain[5:10]) + "。"
    for title, _ in gen.titles(poem, n=3):
        assert not set(title) & set(OCCASION)
    held = next(c for c in OCCASION if c in fixture_vocab.stoi)
    titles = gen.titles(held + poem[1:], n=3)
    assert any(held in t for t, _ in titles)


def test_a_title_mourns_no_one_and_names_no_festival_the_poem_does_not_hold(fixture_vocab, monkeypatch):
    """A model that would write only mourning chars (挽, 悼 …) writes none for a poem that holds none; a
    title naming a festival the poem does not hold is left out (the others kept, in order)."""
    import couplet.title as T
    torch.manual_seed(0)
    vocab = Vocab(fixture_vocab.chars() + [c for c in T.MOURNING + "端午秋" if c not in fixture_vocab.stoi])
    model = TitleModel(TitleConfig(vocab_size=len(vocab), emb_dim=16, hidden=16, dropout=0.0)).eval()
    with torch.no_grad():
        model.out_bias[[vocab.stoi[c] for c in T.MOURNING]] = 50.0
    gen = TitleGenerator(model, vocab)
    plain = [c for c in "白日依山尽黄河入海流欲穷千里目更上层楼春风花月" if c in vocab.stoi and c not in T.OCCASION][:10]
    poem = "".join(plain[:5]) + "，" + "".join(plain[5:10]) + "。"
    assert all(not set(t) & set(T.MOURNING) for t, _ in gen.titles(poem, n=3))
    with torch.no_grad():
        model.out_bias[[vocab.stoi[c] for c in T.MOURNING]] = 0.0
    free = [t for t, _ in gen.titles(poem, n=50)]
    word = free[0][:2]
    monkeypatch.setattr(T, "FESTIVALS", (word,))            # as if the best title named a festival
    assert [t for t, _ in gen.titles(poem, n=50)] == [t for t in free if word not in t]


def test_a_title_begins_as_asked(tiny_titler):
    """start: every title begins with it (an occasion's, 七夕…) and is longer than it or it alone."""
    poem = "白日依山尽，黄河入海流。"
    start = next(c for c in "春秋月花山水" if c in tiny_titler.vocab.stoi) * 1 + next(
        c for c in "夜风云雨日" if c in tiny_titler.vocab.stoi)
    titles = tiny_titler.titles(poem, n=5, start=start)
    assert titles and all(t.startswith(start) for t, _ in titles)
    assert all(len(set(t)) == len(t) for t, _ in titles)
