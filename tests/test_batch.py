import json
from contextlib import contextmanager

import pytest

from couplet import batch as batch_mod
from couplet.batch import run_batch
from couplet.generate import Settings

LINES = ["天增岁月人增寿", "", "hello", "爆竹声中辞旧岁", "春回😀地", "明月几时有", "海内存知己，天涯若比邻", "春回龘地"] * 5


@contextmanager
def _interrupted_at_state_write(monkeypatch, k: int):
    """Within the block, the k-th write of the resume state raises KeyboardInterrupt (a kill)."""
    real, calls = batch_mod.atomic_write_text, []

    def stop(path, text):
        calls.append(path)
        if len(calls) == k:
            raise KeyboardInterrupt
        return real(path, text)
    monkeypatch.setattr(batch_mod, "atomic_write_text", stop)
    try:
        yield
    finally:
        monkeypatch.setattr(batch_mod, "atomic_write_text", real)


def _write(tmp_path, lines):
    p = tmp_path / "uppers.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".tsv"])
def test_batch_output_is_aligned_with_bad_lines(tiny_generator, tmp_path, suffix):
    warnings = []
    out = tmp_path / f"lowers{suffix}"
    counts = run_batch(tiny_generator, _write(tmp_path, LINES), out, Settings(n=1), warn=warnings.append,
                       progress=False)
    rows = out.read_text(encoding="utf-8").splitlines()
    if suffix == ".tsv":
        assert rows[0].startswith("upper\tlower") and len(rows) == len(LINES) + 1
        rows = [r.split("\t")[1] for r in rows[1:]]
    elif suffix == ".jsonl":
        recs = [json.loads(r) for r in rows]
        assert [r["line"] for r in recs] == list(range(1, len(LINES) + 1))
        assert all(r["settings"]["seed"] == 0 for r in recs)
        assert "error" in recs[2] and "error" not in recs[0]
        rows = [r["lower"] for r in recs]
    assert len(rows) == len(LINES)
    for upper, lower in zip(LINES, rows):
        good = upper in ("天增岁月人增寿", "爆竹声中辞旧岁", "明月几时有", "海内存知己，天涯若比邻", "春回龘地")
        assert (len(lower) == len(upper)) if good else lower == ""
    assert counts["bad"] == 15 and len(warnings) == 15
    assert not list(tmp_path.glob("*.partial*"))


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".tsv"])
def test_a_batch_with_n_above_one_writes_each_lines_candidates_as_one_line_gets_them(tiny_generator, tmp_path,
                                                                                     suffix):
    uppers = ["天增岁月人增寿", "abc", "明月几时有"]
    settings = Settings.for_request(batch=True, n=3, shared_pair=0.0)   # each line as it is alone
    out = tmp_path / f"lowers{suffix}"
    run_batch(tiny_generator, _write(tmp_path, uppers), out, settings, warn=lambda m: None, progress=False)
    rows = out.read_text(encoding="utf-8").splitlines()
    if suffix == ".txt":
        got = [r.split("\t") if r else [] for r in rows]
    elif suffix == ".jsonl":
        recs = [json.loads(r) for r in rows]
        assert [r["lower"] for r in recs] == [r["candidates"][0]["lower"] if r["candidates"] else "" for r in recs]
        got = [[c["lower"] for c in r["candidates"]] for r in recs]
    else:   # a row per candidate, the bad line one empty row
        got, last = [], None
        for r in rows[1:]:
            upper, lower = r.split("\t")[:2]
            if upper != last:
                got.append([])
                last = upper
            got[-1] += [lower] if lower else []
    assert len(got) == len(uppers)
    for upper, lowers in zip(uppers, got):
        want = [] if upper == "abc" else [c.lower for c in tiny_generator.generate(upper, settings).candidates]
        assert lowers == want
    assert len(got[0]) > 1


def test_interrupted_batch_resumes_without_loss_or_duplicates(tiny_generator, tmp_path, monkeypatch):
    inp = _write(tmp_path, LINES)
    s = Settings(n=1, temperature=1.0, seed=3)
    full = tmp_path / "full.jsonl"
    run_batch(tiny_generator, inp, full, s, chunk=4, progress=False, warn=lambda m: None)

    calls = {"n": 0}
    real = tiny_generator.generate_batch

    def flaky(lines, settings, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(lines, settings, **kw)

    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(tiny_generator, "generate_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_batch(tiny_generator, inp, out, s, chunk=4, progress=False, warn=lambda m: None)
    assert not out.exists() and (tmp_path / "out.jsonl.partial").exists()
    with open(tmp_path / "out.jsonl.partial", "a", encoding="utf-8") as f:
        f.write('{"line": 9, "upper": "torn')  # a chunk cut off mid-write, as after a crash
    monkeypatch.setattr(tiny_generator, "generate_batch", real)
    msgs = []
    counts = run_batch(tiny_generator, inp, out, s, chunk=4, progress=False, warn=msgs.append)
    assert counts["resumed_at"] == 8 and any("resuming" in m for m in msgs)
    assert out.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")


def test_changed_settings_are_refused_then_start_over_when_asked(tiny_generator, tmp_path):
    from couplet.batch import BatchError
    inp = _write(tmp_path, LINES[:3])
    out = tmp_path / "o.txt"
    (tmp_path / "o.txt.partial").write_text("stale\n", encoding="utf-8")
    (tmp_path / "o.txt.partial.json").write_text('{"fingerprint": {}, "done": 1, "offset": 6}', encoding="utf-8")
    with pytest.raises(BatchError, match="--overwrite"):
        run_batch(tiny_generator, inp, out, Settings(n=1), progress=False, warn=lambda m: None)
    assert (tmp_path / "o.txt.partial").read_text(encoding="utf-8") == "stale\n"  # nothing lost
    run_batch(tiny_generator, inp, out, Settings(n=1), progress=False, warn=lambda m: None, overwrite=True)
    assert "stale" not in out.read_text(encoding="utf-8")


def test_unknown_output_format(tiny_generator, tmp_path):
    with pytest.raises(ValueError, match="output must end"):
        run_batch(tiny_generator, _write(tmp_path, LINES[:1]), tmp_path / "x.csv", Settings(), progress=False)
    assert batch_mod.COUPLET_FORMATS == (".txt", ".jsonl", ".tsv")


def test_a_finished_batch_is_not_redone_silently_and_counts_cover_the_whole_run(tiny_generator, tmp_path,
                                                                                monkeypatch):
    from couplet.batch import BatchError
    inp, out = _write(tmp_path, LINES), tmp_path / "lowers.txt"
    full = run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False, chunk=8)
    with pytest.raises(BatchError, match="already exists"):
        run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False, chunk=8)
    again = run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False, chunk=8,
                      overwrite=True)
    assert (again["ok"], again["bad"]) == (full["ok"], full["bad"])
    # interrupted after the second chunk, then resumed: the summary counts every line once
    out2 = tmp_path / "resumed.txt"
    with _interrupted_at_state_write(monkeypatch, 4), pytest.raises(KeyboardInterrupt):
        run_batch(tiny_generator, inp, out2, Settings(n=1), warn=lambda m: None, progress=False, chunk=8)
    resumed = run_batch(tiny_generator, inp, out2, Settings(n=1), warn=lambda m: None, progress=False, chunk=8)
    assert resumed["resumed_at"] > 0 and (resumed["ok"], resumed["bad"]) == (full["ok"], full["bad"])


def test_a_half_done_batch_is_not_continued_with_another_model(tiny_generator, tmp_path, monkeypatch):
    from couplet.batch import BatchError
    inp, out = _write(tmp_path, LINES), tmp_path / "lowers.txt"
    with _interrupted_at_state_write(monkeypatch, 3), pytest.raises(KeyboardInterrupt):
        run_batch(tiny_generator, inp, out, Settings(n=1), checkpoint="model-A@1", warn=lambda m: None,
                  progress=False, chunk=8)
    with pytest.raises(BatchError, match="another checkpoint"):
        run_batch(tiny_generator, inp, out, Settings(n=1), checkpoint="model-B@2", warn=lambda m: None,
                  progress=False, chunk=8)
    with pytest.raises(BatchError, match="another settings"):
        run_batch(tiny_generator, inp, out, Settings(n=1, seed=9), checkpoint="model-A@1", warn=lambda m: None,
                  progress=False, chunk=8)
    done = run_batch(tiny_generator, inp, out, Settings(n=1), checkpoint="model-A@1", warn=lambda m: None,
                     progress=False, chunk=8)
    assert done["resumed_at"] > 0


def test_what_a_batch_remembers_survives_a_resume(tmp_path, monkeypatch):
    """resumable_write keeps `memory` (the lines a poem batch has written) with its resume state."""
    inputs = [f"line {i}" for i in range(6)]
    seen_at_start = {}

    def run(memory):
        def produce(lo, block):
            seen_at_start.setdefault(lo, set(memory))
            memory.update(block)
            return "".join(x + "\n" for x in block)
        return batch_mod.resumable_write(inputs=inputs, output=tmp_path / "out.txt", fingerprint={"t": 1}, header="",
                                         chunk=2, produce=produce, warn=lambda m: None, progress=False, desc="t",
                                         memory=memory)
    with _interrupted_at_state_write(monkeypatch, 3), pytest.raises(KeyboardInterrupt):
        run(set())          # state writes: start, after chunk 1, killed after chunk 2
    seen_at_start.clear()
    assert run(set()) == 2  # a fresh process resumes at the second chunk, remembering the first
    assert seen_at_start[2] == {"line 0", "line 1"} and seen_at_start[4] == {f"line {i}" for i in range(4)}
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines() == inputs


def test_a_beam_batch_reads_its_candidates_back_together_and_matches_one_line_at_a_time(tiny_generator):
    """The default batch (a beam per line): in fp32 the lines' beams run side by side and their
    candidates are read back (MMI) in one pass; each line gets the 下联 and the backward scores that
    generating it alone gives."""
    s = Settings.for_request(batch=True, shared_pair=0.0)   # each line as it is alone
    assert s.beam > 0 and s.mmi > 0
    lines = ["天增岁月人增寿", "爆竹声中辞旧岁", "明月几时有", "海内存知己，天涯若比邻", "春回大地"] * 3
    batch = tiny_generator.generate_batch(lines, s)
    for line, got in zip(lines, batch):
        alone = tiny_generator.generate(line, s)
        assert got.candidates[0].lower == alone.candidates[0].lower
        assert got.candidates[0].backward == pytest.approx(alone.candidates[0].backward, abs=1e-5)
    # an int8 model alone decodes a batch's beams line by line: exactly what each line gets alone
    from couplet.generate import CoupletGenerator
    from couplet.model import is_quantized, quantized
    int8 = CoupletGenerator(quantized(tiny_generator.model), tiny_generator.vocab, tiny_generator.prosody)
    for line, got in zip(lines, int8.generate_batch(lines, s)):
        alone = int8.generate(line, s).candidates[0]
        assert (got.candidates[0].lower, got.candidates[0].backward) == (alone.lower, alone.backward)
    # given its fp32 weights (as `load` gives them), the batch's beams run side by side in fp32
    both = CoupletGenerator(quantized(tiny_generator.model), tiny_generator.vocab, tiny_generator.prosody,
                            batch_model=tiny_generator.model)
    assert is_quantized(both.model) and not is_quantized(both.batch_model)
    for got, want in zip(both.generate_batch(lines, s), batch):
        assert (got.candidates[0].lower, got.candidates[0].backward) == (want.candidates[0].lower,
                                                                          want.candidates[0].backward)
    pairs = [("天增岁月人增寿", "春回大地千山秀"), ("爆竹声中辞旧岁", "梅花香里报新春")]
    together = tiny_generator.backward(pairs)
    assert together == pytest.approx([tiny_generator.backward([p])[0] for p in pairs], abs=1e-5)


def test_load_gives_a_batch_bf16_weights_where_the_cpu_multiplies_bf16_else_fp32(tmp_path, prepared, fixture_vocab,
                                                                                 monkeypatch):
    import torch

    from couplet import model as model_mod
    from couplet.checkpoint import save_checkpoint
    from couplet.evaluate import couplet_rules
    from couplet.generate import CoupletGenerator
    from couplet.model import CoupletModel, ModelConfig, is_bf16, is_quantized
    save_checkpoint(tmp_path / "c", model=CoupletModel(ModelConfig(vocab_size=len(fixture_vocab), emb_dim=16,
                                                                   hidden=16, dropout=0.0)), vocab=fixture_vocab)

    def load(int8: bool, bf16: bool) -> CoupletGenerator:
        monkeypatch.setattr(model_mod, "native_bf16", lambda: bf16)
        return CoupletGenerator.load(tmp_path / "c", prosody=prepared / "prosody.json", int8=int8)
    s = Settings.for_request(batch=True)
    lines = ["天增岁月人增寿", "明月几时有", "海内存知己，天涯若比邻"]
    # without native bf16: an int8 generator keeps the fp32 weights for a batch's beams
    int8, fp32 = load(int8=True, bf16=False), load(int8=False, bf16=False)
    assert is_quantized(int8.model) and not is_quantized(int8.batch_model) and not is_bf16(int8.batch_model)
    assert fp32.batch_model is fp32.model
    assert [r.candidates[0].lower for r in int8.generate_batch(lines, s)] == \
        [r.candidates[0].lower for r in fp32.generate_batch(lines, s)]
    # with it: a bf16 copy, unless the user asked for fp32
    assert load(int8=False, bf16=True).batch_model.embed.weight.dtype == torch.float32
    gen = load(int8=True, bf16=True)
    assert is_quantized(gen.model) and is_bf16(gen.batch_model)
    # a chunk of many lines (greedy) and the beams side by side both decode with it, every rule kept
    encoded, real = [], gen.batch_model.encode
    monkeypatch.setattr(gen.batch_model, "encode", lambda src: encoded.append(len(src)) or real(src))
    many = ["天增岁月人增寿", "爆竹声中辞旧岁"] * 20
    for settings in (Settings(n=1), s):
        encoded.clear()
        results = gen.generate_batch(many, settings)
        assert sum(encoded) >= len(many)
        for line, r in zip(many, results):
            rules = couplet_rules(line, r.candidates[0].lower, gen.prosody)
            del rules["pos_agreement"]          # a measure, not a rule
            assert all(v in (None, 1.0) for v in rules.values()), (line, r.candidates[0].lower, rules)


def test_a_batch_pays_for_the_pairs_it_wrote_and_a_resume_remembers_them(tiny_generator, tmp_path, monkeypatch):
    """With shared_pair a later line is decoded knowing the pairs earlier lines wrote: the same 上联
    line after line gets other 下联 (off, the same one every time), and a batch killed midway and run
    again writes exactly the file an unbroken run writes (the 下联 so far are kept with the resume state)."""
    lines = ["天增岁月人增寿", "爆竹声中辞旧岁", "春回大地"] * 4
    inp = _write(tmp_path, lines)

    def run(out, weight, **kw):
        run_batch(tiny_generator, inp, out, Settings.for_request(batch=True, shared_pair=weight), chunk=3,
                  progress=False, warn=lambda m: None, **kw)
        return out.read_text(encoding="utf-8").splitlines()
    off, on = run(tmp_path / "off.txt", 0.0), run(tmp_path / "on.txt", 5.0)
    assert len(set(off[0::3])) == 1 and len(set(on[0::3])) > 1
    assert on[:3] == off[:3]                                   # nothing written before the first chunk
    with _interrupted_at_state_write(monkeypatch, 3), pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed.txt", 5.0)
    assert run(tmp_path / "resumed.txt", 5.0) == on
