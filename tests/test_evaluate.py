"""Metrics on hand-made cases with known answers."""
import json

import pytest
import torch

from couplet.evaluate import (best_pattern_accuracy, bleu, couplet_metrics, couplet_rules, distinct,
                              poem_metrics)
from couplet.prosody import Prosody


@pytest.fixture(scope="module")
def prosody(prepared):
    return Prosody.load(prepared / "prosody.json")


def test_bleu_known_values():
    same = bleu(["春满乾坤福满门", "梅花香里报新春"], ["春满乾坤福满门", "梅花香里报新春"])
    assert same["bleu4_corpus"] == pytest.approx(100) and same["bleu4_sentence_mean"] == pytest.approx(100)
    none = bleu(["天天天天天天天"], ["春满乾坤福满门"])
    assert none["bleu4_corpus"] == pytest.approx(0)


def test_distinct_known_values():
    assert distinct(["春春春春"], 1) == 0.25
    assert distinct(["春夏，秋冬"], 2) == 1.0          # 2 bigrams, none across the comma
    assert distinct(["天地天地"], 2) == pytest.approx(2 / 3)


def test_couplet_rules_known_cases(prosody):
    good = couplet_rules("天增岁月人增寿", "春满乾坤福满门", prosody)
    assert good["equal_length"] == good["punctuation_aligned"] == good["repeats_mirrored"] == 1.0
    assert good["no_copied_char"] == 1.0 and good["final_tone_opposed"] == 1.0   # 寿 仄 -> 门 平
    copied = couplet_rules("天增岁月人增寿", "天满乾坤福满门", prosody)
    assert copied["no_copied_char"] == 0.0
    broken = couplet_rules("天增岁月人增寿", "春满乾坤福来门", prosody)
    assert broken["repeats_mirrored"] == 0.0
    assert couplet_rules("海内存知己，天涯", "天涯若比邻。海内", prosody)["punctuation_aligned"] == 0.0
    short = couplet_rules("天增岁月人增寿", "春满", prosody)
    assert short["equal_length"] == 0.0 and short["final_tone_opposed"] is None
    assert couplet_rules("明月几时有", "清风何处来", prosody)["final_tone_opposed"] == 1.0  # 有 仄 -> 来 平


def test_structure_agreement_known_cases():
    from couplet.postag import char_pos, structure_agreement
    assert len(char_pos("天增岁月人增寿")) == 7
    assert structure_agreement("天增岁月人增寿", "天增岁月人增寿") == 1.0
    assert structure_agreement("海阔凭鱼跃", "天高任鸟飞") == 1.0      # two idioms: i / i at every position
    # an idiom line (jieba: one word, 海上生明月) is also read by its smaller words, so a 下联 that is not
    # an idiom can agree with it: 海上 / 天边 (s), 生 / 起 (v)
    assert structure_agreement("海上生明月", "天边起彩云") >= 0.6
    assert structure_agreement("天增岁月人增寿", "春满") is None
    m = couplet_rules("海阔凭鱼跃", "天高任鸟飞", Prosody({}, {}, {}))
    assert m["pos_agreement"] == 1.0


def test_split_word_covers_the_word_with_smaller_words():
    from couplet.postag import split_word
    for word in ["海上生明月", "百年好合", "永结同心", "一帆风顺", "风调雨顺"]:
        pieces = split_word(word)
        assert "".join(pieces) == word and len(pieces) > 1


def test_couplet_metrics_counts_only_answered_pairs(prosody):
    m = couplet_metrics(["天增岁月人增寿", "明月几时有"], ["春满乾坤福满门", ""], ["春满乾坤福满门", "清风何处来"],
                        prosody)
    assert m["answered"] == 0.5 and m["equal_length"] == 1.0
    assert 0 < m["bleu4_corpus"] < 100


def test_poem_metrics_known_poems(prosody, tiny_poet):
    chunwang = {"form": "五律", "lines": ["国破山河在，", "城春草木深。", "感时花溅泪，", "恨别鸟惊心。",
                                        "烽火连三月，", "家书抵万金。", "白头搔更短，", "浑欲不胜簪。"]}
    broken = {"form": "五绝", "lines": ["国破山河在", "城春草木深。"]}
    acro = {"form": "五绝", "acrostic": "国城感恨", "lines": chunwang["lines"][:4]}
    m = poem_metrics([chunwang, broken, acro], prosody, tiny_poet.corpus_lines)
    assert m["format_accuracy"] == pytest.approx(2 / 3)
    assert m["acrostic_accuracy"] == 1.0
    assert m["copied_line_share"] == 1.0        # every well-formed line is from the fixture corpus
    assert 0.5 < best_pattern_accuracy(chunwang["lines"], "五律", prosody) <= 1.0


def test_eval_cli_on_a_predictions_file(prepared, tmp_path, capsys):
    from couplet.cli import main
    pred = tmp_path / "pred.txt"
    from couplet.corpus import read_pairs
    pairs = [p for s in ("train", "valid", "test") for p in read_pairs(prepared / f"{s}.tsv") if p.source == "couplet"]
    split = tmp_path / "pairs.tsv"
    split.write_text("".join(f"{p.upper}\t{p.lower}\t{p.source}\n" for p in pairs), encoding="utf-8")
    pred.write_text("".join(p.lower + "\n" for p in pairs), encoding="utf-8")
    rc = main(["eval", "couplet", "--pairs", str(split), "--predictions", str(pred), "--json",
               "--prosody", str(prepared / "prosody.json")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["predictions"]["bleu4_corpus"] == pytest.approx(100)
    assert out["predictions"]["pairs"] == len(pairs)


def test_eval_cli_puts_checkpoints_side_by_side(prepared, tmp_path, capsys):
    """Two checkpoints, one table, decoded the same way; the predictions column beside them."""
    from couplet.checkpoint import save_checkpoint
    from couplet.cli import main
    from couplet.generate import REPO_ROOT
    from couplet.model import CoupletModel, ModelConfig
    from couplet.vocab import Vocab
    shipped = REPO_ROOT / "checkpoints" / "couplet"
    vocab = Vocab.from_json(json.loads((shipped / "checkpoint.json").read_text(encoding="utf-8"))["vocab"])
    torch.manual_seed(0)
    tagger = CoupletModel(ModelConfig(vocab_size=len(vocab), emb_dim=8, hidden=8, decoder=False))
    save_checkpoint(tmp_path / "tagger" / "best", model=tagger, vocab=vocab)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("天增岁月人增寿\t春满乾坤福满门\tcouplet\n海阔凭鱼跃\t天高任鸟飞\tcouplet\n", encoding="utf-8")
    pred = tmp_path / "pred.txt"
    pred.write_text("春满乾坤福满门\n天高任鸟飞\n", encoding="utf-8")
    rc = main(["eval", "couplet", "--pairs", str(pairs), "--beam", "2", "--structure", "0", "--align", "0", "--json",
               "--predictions", str(pred),
               "--checkpoint", str(shipped), str(tmp_path / "tagger" / "best")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert list(out) == ["predictions", "couplet, beam 2", "tagger/best, beam 2", "reference 下联"]
    assert out["predictions"]["bleu4_corpus"] == pytest.approx(100)
    for name in ("couplet, beam 2", "tagger/best, beam 2"):
        assert out[name]["pairs"] == 2 and out[name]["equal_length"] == 1.0
        assert out[name]["perplexity"] > 1
    # an untrained tagger is far less sure of the references than the shipped model
    assert out["tagger/best, beam 2"]["perplexity"] > 10 * out["couplet, beam 2"]["perplexity"]


def test_a_column_names_every_setting_that_is_not_its_default():
    from couplet.evaluate import column_name
    from couplet.generate import Settings
    plain = column_name(None, Settings(beam=5), mixed=False)
    assert plain == "couplet, beam 5, structure 1"
    named = column_name(None, Settings(beam=5, mmi=1.5, tone="end", no_copy=False), mixed=False)
    assert named == plain + ", no_copy False, tone end, mmi 1.5"
