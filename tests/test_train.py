"""Training end to end on the fixture corpora: dry run, resume, DDP, then generation from the result."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import train as train_cli
from couplet.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(emb_dim=16, hidden=16, batch_size=4, sources="couplet:2,lvshi:1,poem:1", max_len=16,
            min_count=1, warmup_steps=2, save_every=3, dropout=0.2)


def test_dry_run_then_generate(prepared, tmp_path, capsys):
    out = tmp_path / "run"
    rc = train_cli.main(["couplet", "--dry-run", "--data", str(prepared), "--out", str(out), "--min-count", "1"])
    assert rc == 0
    meta = json.loads((out / "best" / "checkpoint.json").read_text(encoding="utf-8"))
    history = meta["record"]["history"]
    assert history and "ppl" in history[-1]
    from couplet.cli import main as cli
    capsys.readouterr()
    rc = cli(["couplet", "天增岁月人增寿", "--checkpoint", str(out / "best"), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(res["candidates"]) == 5
    assert all(len(c["lower"]) == 7 for c in res["candidates"])


def test_loss_falls(prepared, tmp_path):
    cfg = TrainConfig(data=str(prepared), out=str(tmp_path / "r"), epochs=8, lr=1e-2, **TINY)
    history = train(cfg, log=lambda *_: None)["history"]
    assert history[-1]["loss"] < history[0]["loss"]


def test_resume_continues_the_same_run(prepared, tmp_path):
    """3 epochs straight == 1 epoch + stop mid-epoch + resume: same weights, same history."""
    straight = TrainConfig(data=str(prepared), out=str(tmp_path / "a"), epochs=3, **TINY)
    rec_a = train(straight, log=lambda *_: None)
    part = TrainConfig(data=str(prepared), out=str(tmp_path / "b"), epochs=3, max_steps=rec_a["step"] // 2, **TINY)
    train(part, log=lambda *_: None)
    resumed = TrainConfig(data="ignored-on-resume", out=str(tmp_path / "b"), epochs=3, arch="lstm")
    rec_b = train(resumed, resume=True, log=lambda *_: None)
    assert rec_b["step"] == rec_a["step"]
    wa = load_file(str(tmp_path / "a" / "last" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "last" / "model.safetensors"))
    assert wa.keys() == wb.keys()          # architecture came from the checkpoint, not arch=lstm
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-6)
    assert rec_a["history"][-1]["loss"] == pytest.approx(rec_b["history"][-1]["loss"], rel=1e-5)


def test_init_from_fine_tunes_the_saved_network(prepared, tmp_path):
    """--init-from starts from the saved weights; the architecture on the command line is ignored."""
    base = TrainConfig(data=str(prepared), out=str(tmp_path / "base"), epochs=2, **TINY)
    train(base, log=lambda *_: None)
    before = load_file(str(tmp_path / "base" / "best" / "model.safetensors"))
    tune = TrainConfig(data=str(prepared), out=str(tmp_path / "tune"), epochs=1, arch="lstm", emb_dim=8, hidden=8,
                       init_from=str(tmp_path / "base" / "best"), prev_dropout=0.3, lr=1e-3,
                       **{k: v for k, v in TINY.items() if k not in ("emb_dim", "hidden")})
    rec = train(tune, log=lambda *_: None)
    after = load_file(str(tmp_path / "tune" / "last" / "model.safetensors"))
    assert after.keys() == before.keys() and all(after[k].shape == before[k].shape for k in after)
    assert any(not torch.equal(after[k], before[k]) for k in after)   # it trained
    # the first validation after a short, gentle fine-tune stays near the starting model
    meta = json.loads((tmp_path / "base" / "best" / "checkpoint.json").read_text(encoding="utf-8"))
    start = meta["record"]["best"]["value"]
    assert rec["history"][0]["ppl_couplet"] < 2 * start


def test_prev_dropout_hides_decoder_history(prepared, tmp_path):
    from couplet.tasks import CoupletTask
    cfg = TrainConfig(data=str(prepared), out=str(tmp_path / "x"), prev_dropout=1.0, **TINY)
    task = CoupletTask(cfg)
    vocab = task.build_vocab()
    task.load(vocab)
    seen = []

    class Spy(torch.nn.Module):   # a tied output layer, as the loss reads the model's features
        def __init__(self):
            super().__init__()
            self.embed, self.out_bias = torch.nn.Embedding(len(vocab), 4), torch.nn.Parameter(torch.zeros(len(vocab)))

        def forward(self, src, prev, features=False):
            seen.append(prev)
            return torch.zeros(*src.shape, 4 if features else len(vocab), requires_grad=True)
    n, idx, _ = task.data.epoch_batches(0, seed=1, batch_size=4)[0]
    task.loss(Spy(), (n, idx), torch.device("cpu"))
    prev = seen[0]
    assert (prev[:, 0] == vocab.bos_id).all() and (prev[:, 1:] == vocab.unk_id).all()


def test_ddp_two_processes_on_cpu(prepared, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
           str(ROOT / "train.py"), "couplet", "--data", str(prepared), "--out", str(out), "--device", "cpu",
           "--emb-dim", "16", "--hidden", "16", "--batch-size", "4", "--epochs", "2", "--min-count", "1",
           "--sources", "couplet:2,lvshi:1,poem:1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "last" / "checkpoint.json").read_text(encoding="utf-8"))
    assert meta["record"]["epoch"] == 2 and meta["record"]["step"] > 0


def test_scorer_task_negatives(prepared, tmp_path):
    from couplet.prosody import Prosody
    from couplet.tasks import ScorerTask
    cfg = TrainConfig(task="scorer", data=str(prepared), out=str(tmp_path / "s"), epochs=2, lr=1e-2,
                      **{**TINY, "sources": "couplet:1"})
    rec = train(cfg, log=lambda *_: None)
    assert rec["history"][-1]["accuracy"] >= 0 and rec["best"]["metric"] == "loss"
    task = ScorerTask(cfg)
    task.load(task.build_vocab())
    n = 7
    src, tgt = task.data.batch(n, torch.arange(len(task.data.buckets[n][0])))
    g = torch.Generator().manual_seed(0)
    neg = task.corrupt(src, tgt, g)
    assert neg.shape == tgt.shape and (neg != tgt).any(dim=1).float().mean() > 0.8
    tones = Prosody.load(prepared / "prosody.json")
    vocab = task.vocab
    kind = torch.randint(0, 4, (len(src),), generator=torch.Generator().manual_seed(0))
    for row in torch.nonzero(kind == 2).flatten().tolist():   # tone-broken: last chars share a tone
        a, b = vocab.itos[src[row, -1]], vocab.itos[neg[row, -1]]
        if tones.tone(a) in ("平", "仄"):
            assert tones.tone(a) == tones.tone(b)


def test_line_scorer_learns_consecutive_lines(prepared, tmp_path):
    """The coherence scorer trains on consecutive lines of the poems, in the poem model's vocabulary."""
    from couplet.checkpoint import load_checkpoint
    from couplet.texttasks import LineScorerTask, PoemTask
    cfg = TrainConfig(task="lines", data=str(prepared), out=str(tmp_path / "l"), epochs=2, lr=1e-2, **TINY)
    rec = train(cfg, log=lambda *_: None)
    assert rec["best"]["metric"] == "loss" and 0 <= rec["history"][-1]["accuracy"] <= 1
    task = LineScorerTask(cfg)
    vocab = task.build_vocab()
    assert vocab.itos == PoemTask(cfg).build_vocab().itos
    n_train, _ = task.load(vocab)
    poems = [json.loads(x)["lines"] for x in (prepared / "poems.jsonl").read_text(encoding="utf-8").splitlines()]
    assert 0 < n_train <= sum(len(p) - 1 for p in poems)
    for n, (src, tgt, _) in task.data.buckets.items():
        for a, b in zip(src[:5].tolist(), tgt[:5].tolist()):
            a, b = vocab.decode(a), vocab.decode(b)
            assert any(x == a and y == b for p in poems for x, y in zip(p, p[1:]))
    model, _, meta = load_checkpoint(tmp_path / "l" / "best")
    assert meta["kind"] == "scorer" and model(src[:2], tgt[:2]).shape == (2,)


def test_structure_sampling_favours_parallel_references(prepared, tmp_path):
    from couplet.corpus import Pair
    from couplet.postag import structure_agreement
    from couplet.tasks import PairData, structure_weights
    from couplet.vocab import Vocab
    from collections import Counter
    parallel = Pair("海阔凭鱼跃", "天高任鸟飞", "couplet")       # idiom against idiom: agreement 1
    pairs = [parallel, Pair("天增岁月人增寿", "春满乾坤福满门", "couplet")]
    assert structure_weights(pairs, 0.0) is None
    w = structure_weights(pairs, 1.0)
    assert w[parallel] == 1.0 and w[pairs[1]] == pytest.approx(structure_agreement(pairs[1].upper, pairs[1].lower))
    half = structure_weights(pairs, 0.5)
    assert half[pairs[1]] == pytest.approx(0.5 + 0.5 * w[pairs[1]])
    counts = Counter(c for p in pairs for c in p.upper + p.lower)
    vocab = Vocab.build(counts)
    data = PairData(pairs, vocab, {"couplet": 4.0}, pair_weight={parallel: 1.0, pairs[1]: 0.0})
    drawn = [len(idx) for epoch in range(3) for n, idx, _ in data.epoch_batches(epoch, seed=1, batch_size=100)
             if n == 7]
    assert sum(drawn) == 0                                   # weight 0: never drawn
    five = [len(idx) for n, idx, _ in data.epoch_batches(0, seed=1, batch_size=100) if n == 5]
    assert sum(five) == 4                                    # weight 4 x 1.0: four times per epoch


@pytest.mark.parametrize("task", ["couplet", "poem", "lines"])
def test_dry_run_works_on_a_fresh_clone(tmp_path, capsys, task):
    """No `prepare` yet: the dry run trains on the built-in sample and says so."""
    import train as train_cli
    rc = train_cli.main([task, "--dry-run", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "dry")])
    assert rc == 0 and (tmp_path / "dry" / "best" / "checkpoint.json").exists()
    assert "built-in sample" in capsys.readouterr().out
    assert train_cli.main([task, "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "prepare" in capsys.readouterr().err


@pytest.mark.parametrize("kw", [{}, {"reduction": "none"}, {"reduction": "sum"}, {"ignore_index": 3}])
def test_sequence_cross_entropy_reads_the_classes_last_and_means_the_same(kw):
    import torch.nn.functional as F

    from couplet.tasks import seq_cross_entropy
    logits, tgt = torch.randn(4, 5, 30), torch.randint(0, 30, (4, 5))
    tgt[0, :2] = 3
    got, want = seq_cross_entropy(logits, tgt, **kw), F.cross_entropy(logits.transpose(1, 2), tgt, **kw)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("kind", ["couplet", "tagger", "poem", "title"])
def test_projected_cross_entropy_gives_the_plain_loss_and_gradients(kind):
    """The output layer fused into the loss (`projected_cross_entropy`, in chunks smaller than the
    batch) gives the loss and every parameter's gradient of seq_cross_entropy over the model's logits,
    ignored targets included."""
    from couplet.model import (CoupletModel, ModelConfig, PoemConfig, PoemModel, TitleConfig, TitleModel,
                               shift_right)
    from couplet.tasks import projected_cross_entropy, seq_cross_entropy
    torch.manual_seed(0)
    v = 40
    if kind in ("couplet", "tagger"):
        model = CoupletModel(ModelConfig(vocab_size=v, emb_dim=8, hidden=12, dropout=0.0, aligned_head=kind == "couplet",
                                         decoder=kind == "couplet"))
        src = torch.randint(3, v, (5, 7))
    elif kind == "poem":
        model, src = PoemModel(PoemConfig(vocab_size=v, emb_dim=8, hidden=12, dropout=0.0)), torch.randint(0, v, (5, 3))
    else:
        model, src = TitleModel(TitleConfig(vocab_size=v, emb_dim=8, hidden=12, dropout=0.0)), torch.randint(3, v, (5, 9))
    tgt = torch.randint(3, v, (5, 7))
    tgt[0, 2:] = 0                                  # padding, ignored
    prev = shift_right(tgt, 2)
    heads = {"with_aligned": True} if kind == "couplet" else {}

    def grads(fused: bool):
        model.zero_grad()
        out = model(src, prev, features=fused, **heads)
        outs = out if isinstance(out, tuple) else (out,)
        # chunks of 4 rows over the 35 of the batch: the chunk loop's edges are exercised
        loss = sum(projected_cross_entropy(model, o, tgt, ignore_index=0, chunk=4) if fused
                   else seq_cross_entropy(o, tgt, ignore_index=0) for o in outs)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    got_loss, got = grads(True)
    want_loss, want = grads(False)
    assert torch.allclose(got_loss, want_loss, atol=1e-6)
    assert got.keys() == want.keys()
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-6), name


def test_poem_sources_weigh_dynasties(prepared, tmp_path):
    """--sources for the poem task: rows of a dynasty repeat by its weight, a dynasty not named is
    left out of training and validation, and validation reports each dynasty's perplexity."""
    from couplet.poetry import format_poem
    from couplet.texttasks import PoemTask
    poems = [json.loads(x) for x in (prepared / "poems.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = {d: {format_poem(p["lines"]) for p in poems if p["dynasty"] == d} for d in ("tang", "song")}
    vocab = None
    for sources, kept in (("tang:2", "tang"), ("song:1", "song"), ("all", None)):
        task = PoemTask(TrainConfig(task="poem", data=str(prepared), out=str(tmp_path / "p"),
                                    **{**TINY, "sources": sources}))
        vocab = vocab or task.build_vocab()
        task.load(vocab)
        rows = [vocab.decode(r.tolist()) for t, _, _ in task.data.buckets.values() for r in t]
        want = texts[kept] if kept else texts["tang"] | texts["song"]
        assert set(rows) == want
        taken = sum(len(idx) for _, idx, _ in task.data.epoch_batches(0, seed=1, batch_size=4))
        assert taken == (2 if sources == "tang:2" else 1) * len(rows)
        model = task.build_model(vocab)
        metrics = task.evaluate(model, "cpu")
        assert (f"ppl_{kept}" in metrics) == bool(kept) and metrics["ppl"] > 1
    with pytest.raises(ValueError, match="weight 0"):
        PoemTask(TrainConfig(task="poem", data=str(prepared), out=str(tmp_path / "p"),
                             **{**TINY, "sources": "tang:0"})).load(vocab)


def test_a_moving_average_of_the_weights_is_validated_kept_and_resumed(prepared, tmp_path):
    """--ema: best/ holds the average (not the weights of the last step), validation reads it, and a run
    stopped and resumed ends with the same weights and the same average as one run straight through."""
    from couplet.checkpoint import load_averaged, load_checkpoint
    cfg = dict(data=str(prepared), epochs=3, ema=0.8, eval_every=0, **TINY)
    rec_a = train(TrainConfig(out=str(tmp_path / "a"), **cfg), log=lambda *_: None)
    last = load_file(str(tmp_path / "a" / "last" / "model.safetensors"))
    averaged = load_averaged(tmp_path / "a" / "last")
    names = [k for k, _ in load_checkpoint(tmp_path / "a" / "last")[0].named_parameters()]   # the average's order
    assert averaged is not None and len(averaged) == len(names)
    assert any(not torch.equal(last[k], a) for k, a in zip(names, averaged))
    best = load_file(str(tmp_path / "a" / "best" / "model.safetensors"))
    assert rec_a["best"]["step"] == rec_a["step"]     # the last validation was the best (the loss still falls),
    for k, a in zip(names, averaged):                 # so best/ is that average
        torch.testing.assert_close(best[k], a, rtol=0, atol=0)
    train(TrainConfig(out=str(tmp_path / "b"), max_steps=rec_a["step"] // 2, **cfg), log=lambda *_: None)
    rec_b = train(TrainConfig(data="x", out=str(tmp_path / "b"), epochs=3), resume=True, log=lambda *_: None)
    assert rec_b["step"] == rec_a["step"]
    for k, a, b in zip(names, averaged, load_averaged(tmp_path / "b" / "last")):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert rec_a["history"][-1]["ppl"] == pytest.approx(rec_b["history"][-1]["ppl"], rel=1e-5)
