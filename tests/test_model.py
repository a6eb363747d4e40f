import json
import os

import pytest
import torch
import torch.nn.functional as F

from couplet.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from couplet.model import ARCHS, CoupletModel, ModelConfig, shift_right
from couplet.generate import Settings
from couplet.vocab import Vocab

VOCAB = Vocab(list("，天增岁月人寿春满乾坤福门爆竹声中辞旧梅花香里报新"))
PAIRS = [("天增岁月人增寿", "春满乾坤福满门"), ("爆竹声中辞旧岁", "梅花香里报新春")]


def batch():
    src = torch.tensor([VOCAB.encode(a) for a, _ in PAIRS])
    tgt = torch.tensor([VOCAB.encode(b) for _, b in PAIRS])
    return src, tgt


@pytest.mark.parametrize("arch, decoder", [(a, True) for a in ARCHS] + [("bilstm", False)])
def test_every_structure_learns(arch, decoder):
    cell, bidir = ARCHS[arch]
    torch.manual_seed(0)
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), cell=cell, bidirectional=bidir,
                                     emb_dim=16, hidden=24, layers=2, dropout=0.0, decoder=decoder))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    src, tgt = batch()
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(src, shift_right(tgt, VOCAB.bos_id)).transpose(1, 2), tgt)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_output_length_equals_input_length():
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8))
    for n in (1, 4, 13):
        src = torch.randint(3, len(VOCAB), (2, n))
        assert model(src, shift_right(src, 2)).shape == (2, n, len(VOCAB))


def test_stepwise_decoding_equals_teacher_forcing():
    torch.manual_seed(1)
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), cell="lstm", emb_dim=8, hidden=8, layers=2)).eval()
    src, tgt = batch()
    prev = shift_right(tgt, VOCAB.bos_id)
    full = model(src, prev)
    memory, keys, hidden = model.encode(src)
    steps = []
    for t in range(src.shape[1]):
        logits, hidden = model.decode(prev[:, t:t + 1], memory, keys, hidden, start=t)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["bigru", "rnn-manual", "bilstm"])
def test_save_load_gives_same_logits(tmp_path, arch):
    cell, bidir = ARCHS[arch]
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), cell=cell, bidirectional=bidir,
                                     emb_dim=8, hidden=8)).eval()
    save_checkpoint(tmp_path / "ck", model=model, vocab=VOCAB, extra={"note": "test"})
    loaded, vocab, meta = load_checkpoint(tmp_path / "ck")
    src, tgt = batch()
    prev = shift_right(tgt, 2)
    assert torch.equal(model(src, prev), loaded(src, prev))
    assert vocab.itos == VOCAB.itos and meta["note"] == "test"
    assert not any(p.suffix == ".pt" for p in (tmp_path / "ck").iterdir())
    mask = os.umask(0)
    os.umask(mask)
    # every file of a checkpoint readable as an ordinary file is (safetensors alone writes 0600)
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "ck").iterdir()} == {0o666 & ~mask}


def test_half_precision_export_is_close(tmp_path):
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8)).eval()
    save_checkpoint(tmp_path / "ck", model=model, vocab=VOCAB, half=True)
    loaded, _, _ = load_checkpoint(tmp_path / "ck")
    src, tgt = batch()
    torch.testing.assert_close(loaded(src, shift_right(tgt, 2)), model(src, shift_right(tgt, 2)),
                               rtol=1e-2, atol=1e-2)


def test_export_averages_checkpoints_of_one_architecture(tmp_path, capsys):
    from couplet.cli import main
    cfg = ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8)
    a, b = CoupletModel(cfg), CoupletModel(cfg)
    save_checkpoint(tmp_path / "a", model=a, vocab=VOCAB)
    save_checkpoint(tmp_path / "b", model=b, vocab=VOCAB)
    assert main(["export", "--from", str(tmp_path / "a"), "--average", str(tmp_path / "b"), "--weight", "0.25",
                 "--fp32", "--to", str(tmp_path / "avg")]) == 0
    got, _, meta = load_checkpoint(tmp_path / "avg")
    for k, v in got.state_dict().items():
        torch.testing.assert_close(v, 0.25 * a.state_dict()[k] + 0.75 * b.state_dict()[k])
    assert meta["averaged_with"]["weight"] == 0.25
    # several: the plain mean of the run's and theirs
    third = CoupletModel(cfg)
    save_checkpoint(tmp_path / "d", model=third, vocab=VOCAB)
    assert main(["export", "--from", str(tmp_path / "a"), "--average", str(tmp_path / "b"), str(tmp_path / "d"),
                 "--fp32", "--to", str(tmp_path / "mean")]) == 0
    got, _, meta = load_checkpoint(tmp_path / "mean")
    for k, v in got.state_dict().items():
        torch.testing.assert_close(v, (a.state_dict()[k] + b.state_dict()[k] + third.state_dict()[k]) / 3)
    assert meta["averaged_with"]["weight"] == pytest.approx(1 / 3) and len(meta["averaged_with"]["checkpoints"]) == 2
    other = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=16))
    save_checkpoint(tmp_path / "c", model=other, vocab=VOCAB)
    assert main(["export", "--from", str(tmp_path / "a"), "--average", str(tmp_path / "c"),
                 "--to", str(tmp_path / "bad")]) == 2
    assert "same architecture" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_load_checks_vocabulary_size_and_reports_broken_files(tmp_path):
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8))
    save_checkpoint(tmp_path / "ck", model=model, vocab=VOCAB)
    meta_path = tmp_path / "ck" / "checkpoint.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["vocab"] = meta["vocab"][:-1]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match="vocabulary"):
        load_checkpoint(tmp_path / "ck")
    meta_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not a readable JSON"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(CheckpointError, match="train one"):
        load_checkpoint(tmp_path / "missing")
    with pytest.raises(ValueError, match="vocabulary"):
        save_checkpoint(tmp_path / "x", model=model, vocab=Vocab(list("春")))


def test_scorer_learns_real_from_shuffled():
    from couplet.model import ScorerConfig, ScorerModel
    torch.manual_seed(0)
    model = ScorerModel(ScorerConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    src, tgt = batch()
    neg = tgt.flip(1)
    upper, lower = torch.cat([src, src]), torch.cat([tgt, neg])
    label = torch.tensor([1.0, 1.0, 0.0, 0.0])
    for _ in range(60):
        loss = F.binary_cross_entropy_with_logits(model(upper, lower), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(upper, lower) > 0).tolist() == [True, True, False, False]


def test_aligned_head_saves_loads_and_trains_with_the_decoder(tmp_path):
    model = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8, aligned_head=True)).eval()
    src, tgt = batch()
    prev = shift_right(tgt, 2)
    logits, aligned = model(src, prev, with_aligned=True)
    assert logits.shape == aligned.shape == (*src.shape, len(VOCAB))
    assert torch.equal(logits, model(src, prev))           # the head does not change the decoder
    save_checkpoint(tmp_path / "ck", model=model, vocab=VOCAB)
    loaded, _, _ = load_checkpoint(tmp_path / "ck")
    assert loaded.has_aligned_head
    assert torch.equal(aligned, loaded(src, prev, with_aligned=True)[1])
    plain = CoupletModel(ModelConfig(vocab_size=len(VOCAB), emb_dim=8, hidden=8))
    assert not plain.has_aligned_head and not any(k.startswith("align.") for k in plain.state_dict())


def test_int8_copy_keeps_the_logits_and_the_rules(tiny_generator):
    from couplet.generate import CoupletGenerator
    from couplet.model import quantized
    torch.manual_seed(3)
    model = tiny_generator.model
    q = quantized(model)
    src = torch.randint(10, len(tiny_generator.vocab), (4, 7))
    prev = torch.randint(10, len(tiny_generator.vocab), (4, 7))
    with torch.no_grad():
        ref, got = model(src, prev), q(src, prev)
    assert q.out_proj is not None and model.out_proj is None  # the fp32 model is untouched
    assert (got - ref).abs().max() < 0.05 * ref.abs().max()
    gen = CoupletGenerator(q, tiny_generator.vocab, tiny_generator.prosody)
    for c in gen.generate("天增岁月人增寿", Settings(n=3, beam=3)).candidates:
        assert len(c.lower) == 7 and c.lower[1] == c.lower[5]  # 增 repeats, so must the 下联


def _weight_shapes(model) -> set[tuple[int, int]]:
    """(in, out) of every matrix the model multiplies by (linear layers, RNN gates, the tied output)."""
    shapes = {(w.shape[1], w.shape[0]) for name, w in model.named_parameters() if w.dim() == 2 and "embed" not in name}
    return shapes | {(model.embed.weight.shape[1], model.embed.weight.shape[0])}


def test_bench_floors_use_the_models_real_shapes():
    """The floor multiplies by matrices of the shapes the model has, and only those."""
    from couplet.bench import couplet_floor_fn, couplet_work, poem_work, timed, title_work
    from couplet.model import PoemConfig, PoemModel, TitleConfig, TitleModel
    cfg = ModelConfig(vocab_size=50, emb_dim=8, hidden=12, aligned_head=True)
    work = {w.shape for w in couplet_work(cfg, chars=5, rows=2)}
    assert work <= _weight_shapes(CoupletModel(cfg)) and {(8, 50), (20, 36), (12, 36)} <= work  # output, decoder GRU
    pcfg = PoemConfig(vocab_size=40, emb_dim=8, hidden=10)
    assert {w.shape for w in poem_work(pcfg, lines=4, width=5, rows=3)} <= _weight_shapes(PoemModel(pcfg))
    tcfg = TitleConfig(vocab_size=30, emb_dim=6, hidden=14)
    assert {w.shape for w in title_work(tcfg, chars=24)} <= _weight_shapes(TitleModel(tcfg))
    for int8, bf16 in ((False, False), (True, False), (True, True)):
        assert timed(couplet_floor_fn(cfg, chars=5, rows=2, int8=int8, bf16=bf16), warmup=1, repeat=2)["p50"] > 0


def test_bench_work_follows_what_decoding_does():
    """The floors count the products decoding makes: the per-position head once per line for a few
    rows and at each step for a batch (`HEAD_PER_STEP_ROWS`), and a beam's 上联 encoded once."""
    from couplet.bench import couplet_work
    from couplet.decode import HEAD_PER_STEP_ROWS
    cfg = ModelConfig(vocab_size=50, emb_dim=8, hidden=12, aligned_head=True)

    def products(work):
        return {w.name: (w.rows, w.times) for w in work}
    assert products(couplet_work(cfg, chars=5, rows=2))["head"] == (10, 1)
    assert products(couplet_work(cfg, chars=5, rows=HEAD_PER_STEP_ROWS))["head"] == (HEAD_PER_STEP_ROWS, 5)
    beam = products(couplet_work(cfg, chars=5, rows=13, lines=1))
    assert beam["enc_fw_ih"] == beam["enc_bw_hh"] == (1, 5) and beam["head"] == (5, 1) and beam["out"] == (13, 5)


def test_bench_floor_runs_the_products_in_the_order_decoding_makes_them():
    """A decoder step's products run in turn, step after step (as decoding leaves the cache), not
    each layer's all at once; each encoder direction over the line, then what a line needs once."""
    import couplet.bench as bench
    from couplet.decode import HEAD_PER_STEP_ROWS
    cfg = ModelConfig(vocab_size=50, emb_dim=8, hidden=12, aligned_head=True)
    step = ["dec_ih", "dec_hh", "comb", "out"]
    assert bench.run_order(bench.couplet_work(cfg, chars=3, rows=1)) == (
        ["enc_fw_ih", "enc_fw_hh"] * 3 + ["enc_bw_ih", "enc_bw_hh"] * 3 + ["mem", "key", "init", "align", "head"]
        + step * 3)
    # a batch reads the head at each step, in the step's loop
    batch = bench.run_order(bench.couplet_work(cfg, chars=2, rows=HEAD_PER_STEP_ROWS))
    assert batch[-12:] == (["align", "head"] + step) * 2
    with pytest.raises(ValueError, match="different numbers"):
        bench.products([bench.Work("a", (2, 2), 1, 2, "x"), bench.Work("b", (2, 2), 1, 3, "x")], int8=False)
