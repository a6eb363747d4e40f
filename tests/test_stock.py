"""The stock-pair table: what counts as overused, its lookup against a plain reading, decoding with it."""
from __future__ import annotations

import math
from collections import Counter

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from couplet import stock
from couplet.stock import StockPairs, overused, pairs_of
from couplet.vocab import Vocab


def test_pairs_are_adjacent_han_chars_within_a_clause():
    assert pairs_of("春风，大地") == ["春风", "大地"]
    assert pairs_of("春") == [] and pairs_of("a春风b") == ["春风"]


def test_overused_keeps_pairs_written_often_and_rarely_by_people():
    people = Counter({"春风": 100, "宏图": 1, "明月": 50})
    written = ["展宏图"] * 6 + ["春风明月"] * 3 + ["新奇"] * 3    # 24 pairs against 151
    got = overused(written, people)
    scale = 24 / 151
    assert math.isclose(got["宏图"], math.log(7 / (scale + 1)))
    assert math.isclose(got["展宏"], math.log(7 / 1))
    assert "春风" not in got                 # written 3 times: below MIN_COUNT, and people write it often
    assert "新奇" not in got                 # written 3 times only
    assert "明月" not in got and "风明" not in got
    assert overused(written, people, min_count=3)["新奇"] == math.log(4)
    # as often as people write it (at the same scale) is no excess
    assert "春风" not in overused(["春风"] * 100, Counter({"春风": 100}))


def test_merge_adds_a_later_rounds_excess():
    assert stock.merge({"宏图": 1.0, "欣逢": 0.5}, {"宏图": 0.25, "盛世": 2.0}) == {"宏图": 1.25, "欣逢": 0.5, "盛世": 2.0}


def _reference_penalty(table: dict[tuple[int, int], float], prev: list[int], v: int) -> torch.Tensor:
    out = torch.zeros(len(prev), v)
    for r, p in enumerate(prev):
        for (a, b), val in table.items():
            if a == p:
                out[r, b] = val
    return out


def _dense(sp: StockPairs, prev: torch.Tensor) -> torch.Tensor | None:
    """Each row's (V,) costs, from the table's entries."""
    found = sp.entries(prev)
    if found is None:
        return None
    out = torch.zeros(len(prev), sp.vocab_size)
    out[found[0], found[1]] = found[2]
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_penalty_equals_the_plain_reading(data):
    v = data.draw(st.integers(2, 12))
    keys = data.draw(st.lists(st.tuples(st.integers(0, v - 1), st.integers(0, v - 1)), unique=True, max_size=20))
    table = {k: data.draw(st.floats(0.1, 5.0)) for k in keys}
    rows = sorted((a, b, val) for (a, b), val in table.items())
    tensors = {"first": torch.tensor([r[0] for r in rows], dtype=torch.int32),
               "second": torch.tensor([r[1] for r in rows], dtype=torch.int32),
               "value": torch.tensor([r[2] for r in rows])}
    prev = data.draw(st.lists(st.integers(0, v - 1), min_size=1, max_size=8))
    got = _dense(StockPairs(tensors, v), torch.tensor(prev))
    want = _reference_penalty(table, prev, v)
    if not want.any():
        assert got is None
    else:
        assert torch.allclose(got, want)


def test_a_table_beyond_the_vocabulary_is_refused():
    import pytest
    with pytest.raises(ValueError):
        StockPairs({"first": torch.tensor([5], dtype=torch.int32), "second": torch.tensor([1], dtype=torch.int32),
                    "value": torch.tensor([1.0])}, 4)


def test_to_tensors_leaves_out_unknown_chars_and_sorts():
    vocab = Vocab(list("春风宏图"))
    t = stock.to_tensors({"风春": 1.0, "宏图": 2.0, "宏X": 3.0}, vocab)
    assert t["first"].tolist() == sorted(t["first"].tolist()) and len(t["value"]) == 2
    assert _dense(StockPairs(t, len(vocab)), torch.tensor([vocab.stoi["宏"]]))[0, vocab.stoi["图"]] == 2.0


def test_decoding_avoids_a_stock_pair_and_keeps_the_models_scores(tiny_generator, fixture_vocab):
    """A heavy cost on the pair greedy decoding wrote moves the search off it; the 下联 keeps its
    model score; weight 0, or no table, decodes as before."""
    from couplet.generate import Settings
    gen = tiny_generator
    saved = gen.stock
    s = {"n": 1, "tone": "off", "mmi": 0.0, "structure": 0.0, "freq_penalty": 0.0}
    upper = "白日依山尽"
    try:
        gen.stock = None
        plain = gen.generate(upper, Settings(**s)).candidates[0]
        pair = plain.lower[:2]
        gen.stock = StockPairs(stock.to_tensors({pair: 50.0}, fixture_vocab), len(fixture_vocab))
        moved = gen.generate(upper, Settings(stock_penalty=1.0, **s)).candidates[0]
        assert moved.lower[:2] != pair and moved.lower[0] == plain.lower[0]
        from couplet.model import shift_right
        ids = torch.tensor([fixture_vocab.encode(moved.lower)])
        with torch.no_grad():
            logits = gen.model(torch.tensor([fixture_vocab.encode(upper)]), shift_right(ids, fixture_vocab.bos_id))
        own = torch.log_softmax(logits, dim=-1).gather(2, ids.unsqueeze(2)).mean()
        assert math.isclose(moved.score, float(own), abs_tol=1e-4)     # the model's own score, no cost in it
        again = gen.generate(upper, Settings(stock_penalty=0.0, **s)).candidates[0]
        assert (again.lower, again.score) == (plain.lower, plain.score)
        beam = gen.generate(upper, Settings(stock_penalty=1.0, beam=3, **s)).candidates[0]
        assert pair not in pairs_of(beam.lower)
    finally:
        gen.stock = saved


def test_the_stock_command_writes_a_table_that_load_reads(tmp_path, prepared, fixture_vocab, capsys):
    from couplet.checkpoint import load_table, save_checkpoint
    from couplet.cli import main
    from couplet.generate import CoupletGenerator
    from couplet.model import CoupletModel, ModelConfig
    torch.manual_seed(0)
    model = CoupletModel(ModelConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0))
    save_checkpoint(tmp_path / "couplet", model=model, vocab=fixture_vocab)
    (tmp_path / "prosody.json").write_bytes((prepared / "prosody.json").read_bytes())
    before = (tmp_path / "couplet" / "model.safetensors").read_bytes()
    # an untrained model writes the same few pairs again and again: stock by any measure
    assert main(["stock", "--pairs", str(prepared / "train.tsv"), "--checkpoint", str(tmp_path / "couplet"),
                 "--lines", "40", "--rounds", "2"]) == 0
    assert (tmp_path / "couplet" / "model.safetensors").read_bytes() == before
    table = load_table(tmp_path / "couplet", stock.FILE)      # its sha256 recorded and checked
    assert table is not None and len(table["value"]) > 0 and bool((table["value"] > 0).all())
    gen = CoupletGenerator.load(tmp_path / "couplet")
    assert gen.stock is not None and len(gen.stock) == len(table["value"])
    assert math.isfinite(gen.generate("白日依山尽").candidates[0].score)
    assert main(["stock", "--pairs", str(prepared / "train.tsv"), "--checkpoint", str(tmp_path / "couplet"),
                 "--lines", "0"]) == 2
    (tmp_path / "notes.txt").write_text("春风\n", encoding="utf-8")
    assert main(["stock", "--pairs", str(tmp_path / "notes.txt"), "--checkpoint", str(tmp_path / "couplet")]) == 2
    assert "not a split written by `prepare`" in capsys.readouterr().err


def test_lower_equals_the_dense_cost_and_leaves_its_input_alone():
    vocab = Vocab(list("春风宏图展欣逢"))
    sp = StockPairs(stock.to_tensors({"宏图": 2.0, "展宏": 1.0, "欣逢": 0.5}, vocab), len(vocab))
    prev = torch.tensor([vocab.stoi[c] for c in "宏春展宏"])
    scores = torch.randn(4, len(vocab))
    kept = scores.clone()
    got = sp.lower(scores, prev, 0.7)
    assert torch.allclose(got, scores - 0.7 * _dense(sp, prev)) and torch.equal(scores, kept)
    assert sp.lower(scores, torch.tensor([vocab.stoi["春"]]), 0.7) is scores


def test_written_pairs_count_a_batchs_pairs_and_cost_log_one_plus_count():
    from couplet.stock import WrittenPairs
    vocab = Vocab(list("春风大地满"))
    w = WrittenPairs(["春风大地", "春风，满地"])
    assert w.pairs == {"春风": 2, "风大": 1, "大地": 1, "满地": 1} and list(w) == ["春风大地", "春风，满地"]
    table = w.table(vocab)
    assert w.table(vocab) is table                          # built again only after new lines
    got = _dense(table, torch.tensor([vocab.stoi["春"], vocab.stoi["大"]]))
    assert math.isclose(float(got[0, vocab.stoi["风"]]), math.log(3), rel_tol=1e-6)
    assert math.isclose(float(got[1, vocab.stoi["地"]]), math.log(2), rel_tol=1e-6)
    w.update(["大地"])
    assert w.table(vocab) is not table and w.pairs["大地"] == 2
    assert WrittenPairs().table(vocab) is None


def test_a_batch_with_shared_pairs_moves_a_later_line_off_what_earlier_lines_wrote(tiny_generator):
    """generate_batch with shared_pair: a 上联 decoded after a batch wrote its 下联 gets another one,
    with none of the pairs written before at a weight that outweighs the model; off, the same."""
    from couplet.generate import Settings
    from couplet.stock import WrittenPairs
    upper = "白日依山尽"
    for beam in (0, 3):
        s = Settings(n=1, beam=beam, tone="off", shared_pair=10.0)
        written = WrittenPairs()
        first = tiny_generator.generate_batch([upper], s, written=written)[0].candidates[0].lower
        assert list(written) == [first]
        second = tiny_generator.generate_batch([upper], s, written=written)[0].candidates[0].lower
        assert not set(pairs_of(second)) & set(pairs_of(first))
        plain = Settings(n=1, beam=beam, tone="off", shared_pair=0.0)
        assert tiny_generator.generate_batch([upper], plain, written=WrittenPairs([first]))[0].candidates[0].lower == first
