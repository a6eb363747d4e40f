"""The phrase memory: the table's build, its mix against a plain per-row reading, and decoding with it."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from couplet import phrases
from couplet.phrases import MAX_SEEN, SMOOTHING, SPAN_POWER, PhraseMemory
from couplet.vocab import Vocab

PAIRS = [("春回大地", "福满人间")] * 3 + [("春回大地", "福临门第")] * 2 + [("春回大地", "日照神州")] + \
        [("明月清风", "青山绿水")] * 2 + [("春风", "秋月")] * 4 + [("春风", "夏雨")] * 2 + [("春风", "ab")] * 5


def _vocab():
    return Vocab(sorted({c for a, b in PAIRS for c in a + b if "\u4e00" <= c <= "\u9fff"}))


def test_build_counts_pairs_and_drops_rare_and_unknown():
    vocab = _vocab()
    t = phrases.build(PAIRS, vocab, lengths=(2, 3, 4))
    mem = PhraseMemory(t, vocab)
    got = {}
    for n in mem.lengths:
        for u in range(len(t[f"upper{n}"])):
            lo, hi = int(t[f"start{n}"][u]), int(t[f"start{n}"][u + 1])
            for p in range(lo, hi):
                got[(vocab.decode(t[f"upper{n}"][u].tolist()), vocab.decode(t[f"lower{n}"][p].tolist()))] = \
                    int(t[f"count{n}"][p])
    assert got[("春回大地", "福满人间")] == 3 and got[("春回", "福满")] == 3 and got[("春回", "福临")] == 2
    assert got[("回大地", "满人间")] == 3 and got[("明月清风", "青山绿水")] == 2 and got[("春风", "秋月")] == 4 and got[("春风", "夏雨")] == 2
    assert ("春回大地", "日照神州") not in got          # seen once
    assert not any("a" in b or "b" in b for _, b in got)  # not Han: never a phrase
    assert t["upper2"].dtype == torch.int16
    keys = phrases._keys(t["upper2"], mem.bits)
    assert torch.equal(keys, keys.sort().values)          # one row per phrase, in order
    assert len(set(keys.tolist())) == len(keys)


def reference_mix(logp, out, t, src_rows, pairs, weight, clause_break):
    """The memory as a plain reading per row: every phrase of the row's 上联 that covers t, seen at most
    MAX_SEEN times, that starts a clause or began before t, and whose 下联 agrees with what the row
    wrote gives its chars, weighted length ** SPAN_POWER * N / (N + SMOOTHING); each char's log-prob
    gains weight times its share, and the row is normalised again."""
    res = logp.clone()
    for r, src in enumerate(src_rows):
        acc, total = {}, 0.0
        for n in (2, 3, 4):
            for i in range(len(src) - n + 1):
                if not i <= t < i + n or (i == t and i > 0 and src[i - 1] != clause_break):
                    continue
                lows = [(low, c) for up, low, c in pairs if up == tuple(src[i:i + n])]
                if sum(c for _, c in lows) > MAX_SEEN:
                    continue  # a common phrase: left to the model
                ok = [(low, c) for low, c in lows if list(low[:t - i]) == out[r][i:t]]
                seen = sum(c for _, c in ok)
                if not seen:
                    continue
                w = n ** SPAN_POWER * seen / (seen + SMOOTHING)
                total += w
                for low, c in ok:
                    acc[low[t - i]] = acc.get(low[t - i], 0.0) + w * c / seen
        if total:
            boosted = logp[r].clone()
            for ch, a in acc.items():
                boosted[ch] += weight * a / total
            res[r] = torch.log_softmax(boosted, dim=0)
    return res


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_mix_equals_the_plain_reading(data):
    v, length = 8, data.draw(st.integers(2, 6))   # few chars: phrases meet and share prefixes
    ids = st.integers(3, v - 2)                   # Han chars; id v - 1 is a comma, a clause break
    table = {}
    for _ in range(data.draw(st.integers(1, 25))):
        n = data.draw(st.sampled_from((2, 3, 4)))
        key = (tuple(data.draw(st.lists(ids, min_size=n, max_size=n))),
               tuple(data.draw(st.lists(ids, min_size=n, max_size=n))))
        table[key] = table.get(key, 0) + data.draw(st.integers(1, 5))
    vocab = Vocab([chr(0x4e00 + i) for i in range(v - 4)] + ["，"])
    text = [("".join(vocab.itos[i] for i in u), "".join(vocab.itos[i] for i in low)) for (u, low), c in table.items()
            for _ in range(c)]
    spans = {}  # every aligned phrase of 2-4 chars of those couplets, as the table counts them
    for (u, low), c in table.items():
        for n in (2, 3, 4):
            for i in range(len(u) - n + 1):
                spans[(u[i:i + n], low[i:i + n])] = spans.get((u[i:i + n], low[i:i + n]), 0) + c
    pairs = [(u, low, c) for (u, low), c in spans.items()]
    mem = PhraseMemory(phrases.build(text, vocab, min_count=1, lengths=(2, 3, 4)), vocab)
    # one plan per row (a batch), one plan for every row (a beam), or a block of rows per plan (Beams)
    layout = data.draw(st.sampled_from(("rows", "beam", "blocks")))
    plans = 1 if layout == "beam" else data.draw(st.integers(2 if layout == "blocks" else 1, 4))
    per = 1 if layout == "rows" else data.draw(st.integers(2 if layout == "blocks" else 1, 4))
    rows = plans * per
    src = torch.tensor([data.draw(st.lists(st.integers(3, v - 1), min_size=length, max_size=length))
                        for _ in range(plans)])
    t = data.draw(st.integers(0, length - 1))
    out = torch.tensor([data.draw(st.lists(ids, min_size=length, max_size=length)) for _ in range(rows)])
    logp = torch.log_softmax(torch.randn(rows, v, dtype=torch.float64), dim=-1).float()
    weight = data.draw(st.floats(0.1, 10.0))
    got = mem.lookup(src).mix_(logp.clone(), out, t, weight)
    src_rows = [row for row in src.tolist() for _ in range(per)]
    want = reference_mix(logp.double(), out.tolist(), t, src_rows, pairs, weight, clause_break=v - 1).float()
    assert torch.allclose(got, want, atol=1e-5)
    # each row is still a distribution
    assert torch.allclose(got.exp().sum(dim=1), torch.ones(rows), atol=1e-5)


def test_no_phrase_leaves_the_scores_alone():
    vocab = _vocab()
    mem = PhraseMemory(phrases.build(PAIRS, vocab, lengths=(2, 3, 4)), vocab)
    src = torch.tensor([vocab.encode("福满人间")])
    logp = torch.log_softmax(torch.randn(1, len(vocab)), dim=-1)
    assert torch.equal(mem.lookup(src).mix_(logp.clone(), torch.zeros(1, 4, dtype=torch.long), 1, 0.5), logp)


def test_decoding_follows_a_strong_memory(tiny_generator, fixture_vocab):
    """An untrained model guided by a strong memory finds the phrase people wrote, where the rules
    allow it, and scores it as the model does (the memory guides the search, not the scores); at
    weight 0 the memory changes nothing."""
    from couplet.decode import Beam, CoupletSteps, decode, make_plan
    from couplet.generate import Settings
    from couplet.model import shift_right
    upper, lower = "白日依山尽", "黄河入海流"
    assert all(c in fixture_vocab for c in upper + lower)
    gen = tiny_generator
    saved = gen.phrases
    try:
        mem = PhraseMemory(phrases.build([(upper, lower)] * 3, fixture_vocab, lengths=(2, 3, 4)), fixture_vocab)
        gen.phrases = mem
        s = {"n": 1, "tone": "off", "mmi": 0.0, "structure": 0.0, "freq_penalty": 0.0}
        assert gen.generate(upper, Settings(memory=20, **s)).candidates[0].lower == lower   # greedy
        plan = make_plan(upper, gen.tables, Settings(**s).rules())
        ids, total = decode(CoupletSteps(gen.model, [plan], 0.0, phrases=(mem, 20.0)), [plan], Beam(3), repeats=True)
        assert lower in [gen._text(plan, row) for row in ids.tolist()]
        with torch.no_grad():
            logits = gen.model(plan.src[None].expand(len(ids), -1), shift_right(ids, fixture_vocab.bos_id))
        own = torch.log_softmax(logits, dim=-1).gather(2, ids.unsqueeze(2)).sum(dim=(1, 2))
        assert torch.allclose(total, own, atol=1e-4)
        off = gen.generate(upper, Settings(memory=0.0, **s))
        assert not any("phrase memory" in note for note in off.notes)
        gen.phrases = None
        res = gen.generate(upper, Settings(memory=20, **s))
        assert res.candidates[0].lower == off.candidates[0].lower
        assert any("no phrase memory" in note for note in res.notes)    # the user learns why
        assert any("no phrase memory" in note for note in gen.generate_batch([upper], Settings(memory=0.5))[0].notes)
    finally:
        gen.phrases = saved


def test_export_writes_the_memory_and_load_reads_it(tmp_path, prepared, fixture_vocab):
    from couplet.checkpoint import save_checkpoint
    from couplet.cli import main
    from couplet.generate import CoupletGenerator
    from couplet.model import CoupletModel, ModelConfig
    model = CoupletModel(ModelConfig(vocab_size=len(fixture_vocab), emb_dim=16, hidden=16, dropout=0.0))
    save_checkpoint(tmp_path / "run", model=model, vocab=fixture_vocab)
    (tmp_path / "prosody.json").write_bytes((prepared / "prosody.json").read_bytes())
    assert main(["export", "--from", str(tmp_path / "run"), "--to", str(tmp_path / "ship" / "couplet"),
                 "--counts-from", str(prepared / "train.tsv")]) == 0
    from couplet.checkpoint import load_table
    from couplet.corpus import read_pairs
    want = phrases.build([(p.upper, p.lower) for p in read_pairs(prepared / "train.tsv") if p.source == "couplet"],
                         fixture_vocab)
    got = load_table(tmp_path / "ship" / "couplet", phrases.FILE)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    gen = CoupletGenerator.load(tmp_path / "ship" / "couplet", prosody=prepared / "prosody.json")
    assert gen.phrases is not None and len(gen.phrases) == sum(len(want[f"count{n}"]) for n in phrases.SPAN_LENGTHS)
    assert math.isfinite(gen.generate("白日依山尽").candidates[0].score)


def test_a_vocabulary_too_large_for_the_keys_is_refused():
    with pytest.raises(ValueError):
        PhraseMemory({}, Vocab([chr(0x4e00 + i) for i in range(2 ** 16)]))
