"""Poem rules as properties: exact forms, rhyme, acrostic and 嵌字, patterns, bad input, batch."""
import json
from dataclasses import replace

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings as hsettings, strategies as st

from couplet.batch import run_poem_batch
from couplet.checkpoint import load_checkpoint, save_checkpoint
from couplet.model import PoemConfig, PoemModel, shift_right
from couplet.poetry import (FORMS, PoemRequest, check_form, format_poem, rhyme_groups, strict_positions,
                            tone_pattern)
from couplet.text import InputError, is_han


def test_tone_patterns_of_regulated_verse():
    assert tone_pattern("五绝", "仄", False) == ["仄仄平平仄", "平平仄仄平", "平平平仄仄", "仄仄仄平平"]
    assert tone_pattern("五绝", "平", True) == ["平平仄仄平", "仄仄仄平平", "仄仄平平仄", "平平仄仄平"]
    assert tone_pattern("七绝", "平", True)[0] == "平平仄仄仄平平"
    assert tone_pattern("七绝", "仄", False) == ["仄仄平平平仄仄", "平平仄仄仄平平", "平平仄仄平平仄", "仄仄平平仄仄平"]
    lv = tone_pattern("七律", "仄", True)
    assert len(lv) == 8 and all(len(x) == 7 for x in lv)
    # 登高's pattern: the fifth line does not rhyme, so the second half is the no-first-rhyme one's
    assert lv == ["仄仄平平仄仄平", "平平仄仄仄平平", "平平仄仄平平仄", "仄仄平平仄仄平",
                  "仄仄平平平仄仄", "平平仄仄仄平平", "平平仄仄平平仄", "仄仄平平仄仄平"]
    assert tone_pattern("五律", "平", False) == tone_pattern("五绝", "平", False) * 2
    for form in FORMS:
        for start in "平仄":
            for first in (True, False):
                pat = tone_pattern(form, start, first)
                assert pat[0][1] == start
                assert all(p[-1] == "平" for p in pat[1::2])            # even lines end 平 (rhyme)
                assert (pat[0][-1] == "平") == first


@st.composite
def requests(draw, alphabet):
    form = draw(st.sampled_from(list(FORMS)))
    n_lines, width = FORMS[form]
    mode = draw(st.sampled_from(["keywords", "first", "acrostic", "embed"]))
    k = {"keywords": draw(st.integers(1, 3)), "first": 1, "acrostic": n_lines, "embed": n_lines}[mode]
    text = "".join(draw(st.lists(st.sampled_from(alphabet), min_size=k, max_size=k)))
    return PoemRequest(form=form, mode=mode, text=text, embed_pos=draw(st.integers(1, width)),
                       pattern=draw(st.sampled_from(["off", "auto", "平起", "仄起"])),
                       first_rhymes=draw(st.sampled_from([None, True, False])),
                       n=draw(st.integers(1, 3)), temperature=draw(st.sampled_from([0.0, 0.7, 1.5])),
                       top_k=draw(st.sampled_from([0, 20])), top_p=draw(st.sampled_from([1.0, 0.9])),
                       seed=draw(st.integers(0, 10 ** 6)), cover=draw(st.sampled_from([0.0, 4.0])))


@given(data=st.data())
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_poem_has_the_form_asked(tiny_poet, data):
    alphabet = [c for c in tiny_poet.vocab.chars() if is_han(c)]
    req = data.draw(requests(alphabet))
    res = tiny_poet.generate(req)
    n_lines, width = FORMS[req.form]
    first_rhymes = req.first_rhymes if req.first_rhymes is not None else width == 7
    assert res.poems
    for poem in res.poems:
        assert check_form(poem.lines, req.form), poem.lines
        assert len({x[:-1] for x in poem.lines}) == n_lines          # no line repeated
        forced_rhyme = req.mode == "embed" and req.embed_pos == width  # the user's chars stand there
        assert forced_rhyme or rhyme_groups(poem.lines, tiny_poet.prosody, first_rhymes), poem.lines
        if req.mode == "acrostic":
            assert "".join(x[0] for x in poem.lines) == req.text
        if req.mode == "embed":
            assert "".join(x[req.embed_pos - 1] for x in poem.lines) == req.text
        if req.mode == "first":
            assert poem.lines[0][0] == req.text
        if req.pattern != "off":
            forced = {(i, 0) for i in range(n_lines)} if req.mode in ("acrostic", "first") else set()
            forced |= {(i, req.embed_pos - 1) for i in range(n_lines)} if req.mode == "embed" else set()
            # auto: the row's own second char (平, else 仄) chose its pattern
            start = req.pattern[0] if req.pattern != "auto" else "平" if tiny_poet.prosody.tone(poem.lines[0][1]) == "平" \
                else "仄"
            pattern = tone_pattern(req.form, start, first_rhymes)
            for i, line in enumerate(poem.lines):
                for j in strict_positions(width):
                    if (i, j) not in forced and not (req.pattern == "auto" and (i, j) == (0, 1)):
                        assert tiny_poet.prosody.tone(line[j]) == pattern[i][j], (poem.lines, i, j)


def test_same_seed_same_poems(tiny_poet):
    req = PoemRequest(form="五绝", mode="keywords", text="春山", n=3, temperature=1.0, seed=11)
    a, b = tiny_poet.generate(req), tiny_poet.generate(req)
    assert [p.lines for p in a.poems] == [p.lines for p in b.poems]


def test_chosen_rhyme_group(tiny_poet):
    res = tiny_poet.generate(PoemRequest(form="七绝", mode="first", text="春", rhyme="十一尤", n=2, seed=1))
    for poem in res.poems:
        assert "十一尤平" in rhyme_groups(poem.lines, tiny_poet.prosody, True)
        assert poem.rhyme_group == "十一尤"


@pytest.mark.parametrize("req, words", [
    (PoemRequest(form="七绝", mode="acrostic", text="春山风"), "needs 4"),
    (PoemRequest(form="五律", mode="embed", text="春山风月"), "needs 8.*write a 五绝"),   # the form that fits
    (PoemRequest(form="七绝", mode="acrostic", text="春山风月春山风月"), "write a 七律"),
    (PoemRequest(form="七绝", mode="embed", text="春山风月", embed_pos=9), "embed-pos"),
    (PoemRequest(form="六绝", mode="keywords", text="春"), "unknown form"),
    (PoemRequest(form="七绝", mode="theme", text="   "), "empty"),
    (PoemRequest(form="七绝", mode="keywords", text="龘"), "does not know"),
    (PoemRequest(form="七绝", mode="keywords", text="春", rhyme="九九"), "rhyme group"),
    (PoemRequest(form="七绝", mode="first", text="春山"), "one character"),
    (PoemRequest(form="七绝", mode="story", text="春"), "seed mode"),
])
def test_bad_requests_get_clear_messages(tiny_poet, req, words):
    with pytest.raises(InputError, match=words):
        tiny_poet.generate(req)


def test_theme_mode_reports_keywords(tiny_poet):
    res = tiny_poet.generate(PoemRequest(form="五绝", mode="theme", text="春天的山和水", n=1))
    assert res.keywords and all(w in "春天的山和水" for w in res.keywords)
    assert set(res.seed) <= set("春天的山和水")


def test_copied_lines_are_reported(tiny_poet):
    assert tiny_poet.copied(["国破山河在，", "城春草木深。", "春风春雨春，"]) == [1, 2]


def test_poem_checkpoint_round_trip(tiny_poet, tmp_path):
    save_checkpoint(tmp_path / "p", model=tiny_poet.model, vocab=tiny_poet.vocab, kind="poem")
    model, vocab, meta = load_checkpoint(tmp_path / "p", kind="poem")
    seed = torch.tensor([tiny_poet.vocab.encode("春山")])
    text = torch.tensor([tiny_poet.vocab.encode(format_poem(["明月松间照", "清泉石上流"]))])
    assert isinstance(model, PoemModel) and meta["kind"] == "poem"
    assert torch.equal(model(seed, shift_right(text, 2)), tiny_poet.model(seed, shift_right(text, 2)))
    with pytest.raises(Exception, match="poem model, not a couplet"):
        load_checkpoint(tmp_path / "p", kind="couplet")


def test_seed_enters_every_step():
    torch.manual_seed(0)
    model = PoemModel(PoemConfig(vocab_size=30, emb_dim=8, hidden=8, dropout=0.0)).eval()
    text = torch.randint(3, 30, (1, 12))
    vec_a, _ = model.encode(torch.tensor([[5, 6]]))
    vec_b, _ = model.encode(torch.tensor([[7, 0]]))
    h0 = torch.zeros(1, 1, 8)  # same start state: any difference comes from the per-step seed input
    a, _ = model.decode(text, vec_a, h0)
    b, _ = model.decode(text, vec_b, h0)
    assert (a - b).abs().amax(dim=-1).min() > 0   # differs at every position


def test_poem_batch_resume(tiny_poet, tmp_path, monkeypatch):
    texts = ["春山风月", "", "山水", "风花雨月"] * 3
    reqs = [PoemRequest(form="五绝", mode="acrostic" if len(t) == 4 else "keywords", text=t, n=2,
                        temperature=1.0, seed=4) for t in texts]
    fp = {"test": 1}
    full = tmp_path / "full.jsonl"
    run_poem_batch(tiny_poet, reqs, texts, full, fingerprint=fp, chunk=2, progress=False, warn=lambda m: None)
    calls = {"n": 0}
    real = tiny_poet.generate

    def flaky(req, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(req, **kw)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(tiny_poet, "generate", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_poem_batch(tiny_poet, reqs, texts, out, fingerprint=fp, chunk=2, progress=False, warn=lambda m: None)
    monkeypatch.setattr(tiny_poet, "generate", real)
    counts = run_poem_batch(tiny_poet, reqs, texts, out, fingerprint=fp, chunk=2, progress=False,
                            warn=lambda m: None)
    assert counts["resumed_at"] == 4
    assert out.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")
    recs = [json.loads(x) for x in full.read_text(encoding="utf-8").splitlines()]
    assert [r["input_line"] for r in recs if "error" in r] == [2, 6, 10]
    assert all(check_form(r["lines"], "五绝") for r in recs if "error" not in r)
    assert all(r["settings"]["seed"] == 4 for r in recs)


def _repeats(lines: list[str], seed: str = "") -> list[str]:
    """The degenerate repeats of a poem, as the poem rules define them (empty: none)."""
    bodies = [x.rstrip("，。") for x in lines]
    found = [f"{c}×3 in {b}" for b in bodies for c in set(b) if b.count(c) >= 3]
    found += [f"{a}{a} in {b}" for b in bodies for a, c in zip(b, b[1:]) if a == c]
    grams = [b[i:i + 2] for b in bodies for i in range(len(b) - 1)]
    found += [f"bigram {g} twice" for g in set(grams) if grams.count(g) > 1]
    text = "".join(bodies)
    found += [f"seed {c} ×{text.count(c)}" for c in seed if text.count(c) > 1]
    inner = "".join(b[:-1] for b in bodies)  # line ends excepted: there the soft rules yield to the rhyme
    found += [f"{c}×{inner.count(c)} in the poem" for c in set(inner) if inner.count(c) > PoemRequest.max_uses]
    return found


@pytest.mark.parametrize("form", ["五绝", "七绝", "七律"])
@pytest.mark.parametrize("mode, text", [("keywords", "春 山"), ("acrostic", None), ("first", "明")])
def test_no_degenerate_repeats(tiny_poet, form, mode, text):
    n_lines = 8 if form == "七律" else 4
    text = text or "".join(c for c in tiny_poet.vocab.chars() if is_han(c))[:n_lines]
    seed = "春山" if mode == "keywords" else ""
    on = off = 0
    for k in range(4):
        req = PoemRequest(form=form, mode=mode, text=text, n=3, temperature=0.3, seed=k)
        for poem in tiny_poet.generate(req).poems:
            assert _repeats(poem.lines, seed) == []
            on += 1
        loose = replace(req, no_triples=False, no_doubles=False, no_repeat_bigrams=False, seed_once=False, max_uses=0,
                        reuse=0.0)
        off += sum(bool(_repeats(p.lines, seed)) for p in tiny_poet.generate(loose).poems)
    assert on and off  # the untrained model repeats itself when the rules are off


def test_attested_doubles_are_allowed(tiny_poet, prepared):
    from couplet.poetry import PoemTables, attested_doubles
    doubles = "".join(map(chr, attested_doubles(prepared / "poems.jsonl", min_count=1).tolist()))
    tables = PoemTables(tiny_poet.vocab, tiny_poet.prosody, doubles)
    assert all(tables.double_ok[tiny_poet.vocab.stoi[c]] for c in doubles if c in tiny_poet.vocab.stoi)
    assert int(tables.double_ok.sum()) == sum(c in tiny_poet.vocab.stoi for c in doubles)


def test_attested_bigram_rule(tiny_poet, prepared):
    from couplet.poetry import PoemGenerator, attested_bigrams
    keys = attested_bigrams(prepared / "poems.jsonl", tiny_poet.vocab, min_count=1)
    v = len(tiny_poet.vocab)
    pairs = {(int(k) // v, int(k) % v) for k in keys}
    gen = PoemGenerator(tiny_poet.model, tiny_poet.vocab, tiny_poet.prosody, bigrams=keys)
    a = next(iter(pairs))[0]
    assert set(torch.nonzero(gen.tables.followers(torch.tensor([a]))[0]).flatten().tolist()) == \
        {b for x, b in pairs if x == a}

    def attested_share(**kw):
        ok = total = 0
        for k in range(6):
            for p in gen.generate(PoemRequest(form="五绝", text="春", n=2, seed=k, **kw)).poems:
                for line in p.lines:
                    ids = tiny_poet.vocab.encode(line.rstrip("，。"))
                    ok += sum((x, y) in pairs for x, y in zip(ids, ids[1:]))
                    total += len(ids) - 1
        return ok / total
    assert attested_share() > attested_share(attested_bigrams=False)


@pytest.mark.parametrize("mode", ["acrostic", "embed"])
def test_placed_characters_appear_only_where_placed(tiny_poet, mode):
    heads = "".join(c for c in tiny_poet.vocab.chars() if is_han(c))[:4]
    for k in range(4):
        res = tiny_poet.generate(PoemRequest(form="五绝", mode=mode, text=heads, embed_pos=2, n=2, seed=k,
                                             temperature=0.3))
        for p in res.poems:
            body = "".join(x.rstrip("，。") for x in p.lines)
            assert all(body.count(c) == heads.count(c) for c in set(heads)), p.lines


def test_a_batch_does_not_repeat_its_lines(tiny_poet):
    """The same request twice in one batch: the second poem writes none of the first one's lines."""
    req = PoemRequest(form="五绝", mode="keywords", text="山水", n=1, seed=3)
    first, again = tiny_poet.generate(req), tiny_poet.generate(req)
    assert first.poems[0].lines == again.poems[0].lines                 # alone, one seed gives one poem
    from couplet.poemrules import Written
    written = Written()
    a = tiny_poet.generate(req, avoid=written).poems[0].lines
    b = tiny_poet.generate(req, avoid=written).poems[0].lines
    assert a == first.poems[0].lines and written >= {x.rstrip("，。") for x in a + b}
    assert not {x.rstrip("，。") for x in a} & {x.rstrip("，。") for x in b}


def test_poems_of_one_request_take_distinct_lines():
    """Group by group, a line another group already took gives way to the group's next best draw."""
    from couplet.poemrules import _best_distinct
    keys = torch.tensor([[0.0, 5.0, 1.0], [9.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    lines = torch.tensor([[1, 1], [2, 2], [3, 3],      # group 0's draws
                          [2, 2], [4, 4], [5, 5],      # group 1: its best (2, 2) is taken by group 0
                          [6, 6], [7, 7], [8, 8]])
    assert _best_distinct(keys, lines).tolist() == [1, 2, 0]
    same = torch.tensor([[1, 1]] * 9)                 # nothing else to offer: the best is kept
    assert _best_distinct(keys, same).tolist() == keys.argmax(dim=1).tolist()


def test_a_phrase_another_poem_of_the_request_wrote_costs():
    """With shared_phrase, each 3-char run a draw shares with the lines the request's poems chose
    before (earlier groups this line, any group earlier lines) costs; the phrases are collected."""
    from couplet.poemrules import _best_distinct
    keys = torch.tensor([[5.0, 0.0], [3.0, 2.0]])
    lines = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8],        # group 0 takes 1 2 3 4
                          [9, 2, 3, 4], [9, 8, 7, 6]])       # group 1's best shares 2 3 4 with it
    assert _best_distinct(keys, lines).tolist() == [0, 0]                       # off: the best
    phrases: set = set()
    assert _best_distinct(keys, lines, shared=0.9, phrases=phrases).tolist() == [0, 0]   # 3 - 0.9 > 2
    assert phrases == {(1, 2, 3), (2, 3, 4), (9, 2, 3)}
    assert _best_distinct(keys, lines, shared=1.5, phrases=set()).tolist() == [0, 1]     # 3 - 1.5 < 2
    earlier = {(9, 2, 3)}                                     # a phrase an earlier line wrote
    assert _best_distinct(keys, lines, shared=0.9, phrases=earlier).tolist() == [0, 1]  # 3 - 1.8 < 2
    assert _best_distinct(keys, lines, shared=3.0, phrases={(9, 8, 7), (8, 7, 6)}).tolist() == [0, 0]


def test_the_batch_memory_keeps_phrases_and_costs_them():
    from couplet.poemrules import LineJudge, Written
    written = Written(["春风吹尽柳"])
    assert written == {"春风吹尽柳"} and written.phrases == {"春风吹", "风吹尽", "吹尽柳"}
    written.update(["明月"], ["江上"])                      # as a resumed batch restores it
    assert "江上" in written and written.phrases == {"春风吹", "风吹尽", "吹尽柳"}
    itos = list("，春风吹尽柳花落明月")
    out = torch.tensor([[1, 2, 3, 4, 0], [1, 2, 3, 7, 0], [8, 9, 6, 7, 0]])   # 春风吹尽 / 春风吹落 / 明月花落
    judge = LineJudge(width=5, avoid=written, shared=2.0, itos=itos)
    assert judge(0, out).tolist() == [-4.0, -2.0, 0.0]
    assert LineJudge(width=5, avoid=written, itos=itos)(0, out).tolist() == [0.0] * 3    # off


def test_stock_cost_is_the_unseeded_line_logprob(tiny_poet):
    """The stock term scores a line as any poem's first line with no seed (teacher forcing equals
    the step-by-step log-probs) and the line-by-line choice subtracts it with its weight."""
    from couplet.poemrules import PoemSteps, seed_batch
    gen = tiny_poet
    lines = torch.tensor([gen.vocab.encode("春风吹雨过"), gen.vocab.encode("明月照高楼")])
    got = gen.unseeded_logp(lines)
    steps = PoemSteps(gen.model, seed_batch(gen.vocab, [""], gen.model.cfg.max_seed), rows=2)
    out = torch.cat([lines, torch.zeros(2, 1, dtype=torch.long)], dim=1)
    want = sum(steps(out, t).gather(1, lines[:, t:t + 1]).squeeze(1) for t in range(lines.shape[1]))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    req = PoemRequest(form="五绝", text="春", stock=0.5)
    plan = gen.plan(req)[2]
    judge = gen.line_judge(req, plan, [], "春")
    plain = gen.line_judge(PoemRequest(form="五绝", text="春"), plan, [], "春")
    rows = torch.cat([lines, torch.zeros(2, 1, dtype=torch.long)], dim=1)
    torch.testing.assert_close(plain(0, rows) - judge(0, rows), 0.5 * want, rtol=1e-4, atol=1e-4)
    assert plain.stock is None


def test_season_clash_costs_a_line_that_names_another_season():
    from couplet.poemrules import LineJudge
    ids = torch.full((10,), -1)
    ids[1:5] = torch.arange(4)                  # 春 夏 秋 冬 at 1..4
    # two lines of two chars and their punctuation slot; 9 is any other char
    out = torch.tensor([[1, 9, 0, 3, 9, 0],     # 春 then 秋: a clash
                        [1, 9, 0, 1, 9, 0],     # 春 then 春 again
                        [9, 9, 0, 3, 9, 0],     # no season before: the line may name one
                        [1, 9, 0, 9, 9, 0]])    # the line names none
    assert LineJudge(width=3, season=4.0, season_of=ids)(1, out).tolist() == [-4.0, 0.0, 0.0, 0.0]
    assert LineJudge(width=3, season=0.0, season_of=ids)(1, out).tolist() == [0.0] * 4       # off
    forced = torch.tensor([True, False, False, False, False, False])   # an acrostic's 春 at position 0
    assert LineJudge(width=3, season=4.0, season_of=ids, free=~forced)(1, out).tolist() == [0.0] * 4
    seeded = LineJudge(width=3, season=4.0, season_of=ids, seed_seasons=(0,))   # the request names 春
    assert seeded(1, out).tolist() == [-4.0, 0.0, -4.0, 0.0]


def test_char_counts_and_the_rarity_they_give(prepared, fixture_vocab):
    """The export's char counts are the poems' unigram; rarity is -log p (add-one), 0 off the Han chars."""
    from couplet.poemrules import PoemTables
    from couplet.poetry import char_counts
    from couplet.prosody import Prosody
    poems = [json.loads(x)["lines"] for x in (prepared / "poems.jsonl").read_text(encoding="utf-8").splitlines()]
    text = "".join("".join(p) for p in poems)
    counts = char_counts(prepared / "poems.jsonl", fixture_vocab)
    some = [c for c in fixture_vocab.chars() if c in text][:5]
    assert [int(counts[fixture_vocab.stoi[c]]) for c in some] == [text.count(c) for c in some]
    tables = PoemTables(fixture_vocab, Prosody.load(prepared / "prosody.json"), char_counts=counts)
    assert (tables.rarity[~tables.han] == 0).all() and (tables.rarity[tables.han] > 0).all()
    common, rare = max(some, key=text.count), min(some, key=text.count)
    if text.count(common) > text.count(rare):
        assert tables.rarity[fixture_vocab.stoi[common]] < tables.rarity[fixture_vocab.stoi[rare]]
    assert PoemTables(fixture_vocab, Prosody.load(prepared / "prosody.json")).rarity is None


def test_freq_penalty_leans_toward_rarer_chars(tiny_poet, prepared):
    """With freq_penalty the steps' log-probs gain w x rarity: greedy decoding writes rarer chars; a
    model without char counts ignores it, with a note."""
    from couplet.poetry import PoemGenerator, char_counts
    gen = PoemGenerator(tiny_poet.model, tiny_poet.vocab, tiny_poet.prosody,
                        char_counts=char_counts(prepared / "poems.jsonl", tiny_poet.vocab))
    req = PoemRequest(form="五绝", mode="keywords", text="山", n=1, temperature=0.0, title=False, freq_penalty=0.0)
    off, on = gen.generate(req).poems[0], gen.generate(replace(req, freq_penalty=2.0)).poems[0]
    rarity = lambda p: sum(float(gen.tables.rarity[gen.vocab.stoi[ch]]) for x in p.lines for ch in x.rstrip("，。"))
    assert on.lines != off.lines and rarity(on) > rarity(off)
    assert tiny_poet.generate(req).poems[0].lines == off.lines      # off: as if there were no counts
    plain = tiny_poet.generate(replace(req, freq_penalty=2.0))
    assert plain.poems[0].lines == tiny_poet.generate(req).poems[0].lines
    assert any("no char counts" in n for n in plain.notes)


def test_titles_of_a_request_and_a_batch_differ_where_the_beam_offers_another():
    from couplet.poemrules import Written, distinct_titles
    options = [["春日即事", "春晓"], ["春日即事", "山行"], ["春日即事"]]
    assert distinct_titles(options) == ["春日即事", "山行", "春日即事"]   # the last has nothing else
    written = Written(["春风吹尽柳", "《春晓》"])
    assert written.phrases == {"春风吹", "风吹尽", "吹尽柳"}              # a title is not a line's phrase
    # 春晓 is the batch's already; the second poem's 江上 is the first poem's now: each gives way
    assert distinct_titles([["春晓", "江上"], ["江上", "春晓", "溪居"]], written) == ["江上", "溪居"]



DENG_GUAN_QUE = "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"   # a 五绝 whose first line does not rhyme
DENG_GAO = ("風急天高猿嘯哀，渚清沙白鳥飛回。無邊落木蕭蕭下，不盡長江滾滾來。"
            "萬里悲秋常作客，百年多病獨登臺。艱難苦恨繁霜鬢，潦倒新停濁酒杯。")  # a 七律 whose first line rhymes


@pytest.mark.parametrize("text, form, ends", [(DENG_GUAN_QUE, "五绝", {1: "流", 3: "楼"}),
                                              (DENG_GAO, "七律", {0: "哀", 1: "回", 3: "来", 5: "台", 7: "杯"})])
def test_a_reply_keeps_the_form_and_the_rhyme_characters_in_place(tiny_poet, text, form, ends):
    for k in range(3):
        res = tiny_poet.generate(PoemRequest(form="七绝", mode="reply", text=text, n=2, seed=k))
        assert res.request.form == form and any("keeps the form" in x for x in res.notes)
        answered = {x.rstrip("，。") for x in tiny_poet.answered(text)[0]}
        for p in res.poems:
            assert check_form(p.lines, form), p.lines
            assert {i: p.lines[i][-2] for i in ends} == ends
            assert not answered & {x.rstrip("，。") for x in p.lines}     # its own lines, not the answered poem's


def test_a_reply_to_a_poem_pasted_with_its_title_and_author_answers_the_poem(tiny_poet):
    bare = tiny_poet.answered("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert tiny_poet.answered("登鹳雀楼\n王之涣\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。") == bare
    assert tiny_poet.answered("《登鹳雀楼》白日依山尽，黄河入海流。欲穷千里目，更上一层楼。——王之涣") == bare


@pytest.mark.parametrize("text, words", [("白日依山尽，黄河入海流。", "4 or 8 lines"),
                                         ("白日依山尽，黄河入海流。欲穷千里，更上一层楼。", "4/5 characters"),
                                         ("hello world", "Chinese"),
                                         ("", "empty")])
def test_a_reply_to_something_that_is_not_a_poem_gets_a_clear_message(tiny_poet, text, words):
    with pytest.raises(InputError, match=words):
        tiny_poet.generate(PoemRequest(mode="reply", text=text))


def test_a_reply_by_rhyme_group_keeps_the_group_not_the_characters(tiny_poet):
    req = PoemRequest(mode="reply", text=DENG_GUAN_QUE, reply_rhyme="依韵", rhyme="七阳", n=2)
    assert tiny_poet.resolve(req).rhyme == "十一尤"
    for k in range(3):
        res = tiny_poet.generate(replace(req, seed=k))
        assert any("依韵" in x for x in res.notes) and any("(七阳) is not used" in x for x in res.notes)
        for p in res.poems:
            assert check_form(p.lines, "五绝") and p.rhyme_group == "十一尤", p.lines
    with pytest.raises(InputError, match="no 平声 group"):   # 鸟 and 少 rhyme in 仄声
        tiny_poet.generate(PoemRequest(mode="reply", text="春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
                                       reply_rhyme="依韵"))


def test_lookahead_makes_the_placed_characters_likelier(tiny_poet):
    """Drawn with the placed char's probability after it, the char before a reply's rhyme leads to it:
    the rhymes' own log-probs rise (the same draws otherwise)."""
    from couplet.poetry import PoemSteps, sample_poems
    from couplet.sampling import Sampler
    from couplet.vocab import Vocab
    rows = 64
    seed, _, plan, _ = tiny_poet.plan(PoemRequest(mode="reply", text=DENG_GUAN_QUE, lookahead=True))
    placed = [t + 1 for t in plan.ahead]
    seed_ids = torch.tensor([tiny_poet.vocab.encode(seed)])

    def rhyme_logp(lookahead: bool) -> float:
        p = plan if lookahead else replace(plan, ahead=frozenset())
        ids, _, _ = sample_poems(PoemSteps(tiny_poet.model, seed_ids, rows), p, tiny_poet.tables, rows=rows,
                                 sampler=Sampler(0.8, 0, 1.0, torch.Generator().manual_seed(0)))
        with torch.inference_mode():
            logits = tiny_poet.model(seed_ids.expand(rows, -1), shift_right(ids, Vocab.bos_id))
        return torch.log_softmax(logits.float(), dim=-1).gather(2, ids.unsqueeze(2))[:, placed].mean().item()
    assert len(placed) == 2 and rhyme_logp(True) > rhyme_logp(False)


def test_a_reply_to_a_poem_rhyming_in_ze_says_so_once(tiny_poet):
    text = "国破山河深，城春草木在。恨别鸟惊心，感时花溅泪。"     # its rhymes 在 and 泪 are 仄
    res = tiny_poet.generate(PoemRequest(mode="reply", text=text, n=1))
    assert sum("仄声" in x for x in res.notes) == 1 and not any("breaks the tone" in x for x in res.notes)
    assert [p.lines[1][-2] + p.lines[3][-2] for p in res.poems] == ["在泪"]


@given(data=st.data())
@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_reply_keeps_the_form_and_the_rhyme_of_the_poem_it_answers(tiny_poet, data):
    alphabet = [c for c in tiny_poet.vocab.chars() if is_han(c)]
    form = data.draw(st.sampled_from(list(FORMS)))
    n_lines, width = FORMS[form]
    lines = ["".join(data.draw(st.lists(st.sampled_from(alphabet), min_size=width, max_size=width)))
             for _ in range(n_lines)]
    tables = tiny_poet.tables
    wide = [g for g in range(len(tables.group_names)) if int(tables.member[:, g].sum()) >= n_lines]
    how = data.draw(st.sampled_from(["次韵", "依韵"]))
    if wide and (how == "依韵" or data.draw(st.booleans())):   # rhymes of one 平声 group, as a real poem's
        members = [tiny_poet.vocab.itos[i] for i in torch.nonzero(tables.member[:, data.draw(st.sampled_from(wide))])
                   .flatten().tolist()]
        ends = data.draw(st.lists(st.sampled_from(members), min_size=n_lines, max_size=n_lines, unique=True))
        lines = [x[:-1] + e for x, e in zip(lines, ends)]
    text = "".join(x + "，。"[k % 2] for k, x in enumerate(lines))
    req = PoemRequest(mode="reply", text=text, reply_rhyme=how, n=2, seed=data.draw(st.integers(0, 10 ** 6)),
                      form=data.draw(st.sampled_from(list(FORMS))))
    try:
        res = tiny_poet.generate(req)
    except InputError as e:        # random rhymes often share no 平声 group: 依韵 has none to keep
        assert how == "依韵" and "no 平声 group" in str(e)
        event("依韵 refused")
        return
    event(f"{how} written")
    first = tiny_poet.answered(text)[2]
    ends = [k for k in range(n_lines) if k % 2 == 1 or (k == 0 and first)]
    assert res.request.form == form and res.poems
    for p in res.poems:
        assert check_form(p.lines, form), p.lines
        if how == "次韵":
            assert [p.lines[k][width - 1] for k in ends] == [lines[k][-1] for k in ends]
        else:
            group = res.request.rhyme + "平"     # the poem's group, which the reply's rhymes share
            assert group in rhyme_groups(lines, tiny_poet.prosody, first)
            assert group in rhyme_groups(p.lines, tiny_poet.prosody, first), p.lines
        assert not {x.rstrip("，。") for x in p.lines} & set(lines)


# ---------------------------------------------------------------- a lock: keep some chars, write the rest
@given(data=st.data())
@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_locked_poem_keeps_every_locked_char_in_place_and_the_form_the_lock_gives(tiny_poet, data):
    alphabet = [c for c in tiny_poet.vocab.chars() if is_han(c)]
    form = data.draw(st.sampled_from(list(FORMS)))
    n_lines, width = FORMS[form]
    cells = [[data.draw(st.sampled_from(alphabet)) if data.draw(st.integers(0, 3)) == 0 else "_"
              for _ in range(width)] for _ in range(n_lines)]
    cells[data.draw(st.integers(0, n_lines - 1))][data.draw(st.integers(0, width - 1))] = "_"   # something to write
    sep = data.draw(st.sampled_from(["，", "\n", " "]))
    lock = sep.join("".join(x) for x in cells)
    req = PoemRequest(form=data.draw(st.sampled_from(list(FORMS))), lock=lock, n=2,
                      seed=data.draw(st.integers(0, 10 ** 6)))
    res = tiny_poet.generate(req)
    assert res.request.form == form and res.poems
    kept = {(i, j): c for i, x in enumerate(cells) for j, c in enumerate(x) if c != "_"}
    for p in res.poems:
        assert check_form(p.lines, form), p.lines
        assert {k: p.lines[k[0]][k[1]] for k in kept} == kept


def test_locked_rhymes_choose_the_group_for_the_free_ones(tiny_poet):
    """Line 4's locked rhyme is known from the start, so line 2's free rhyme is of its group."""
    for k in range(4):
        res = tiny_poet.generate(PoemRequest(lock="_______，_______。_______，______楼。", n=2, seed=k))
        for p in res.poems:
            assert p.lines[3][-2] == "楼" and p.rhyme_group == "十一尤", p.lines
    res = tiny_poet.generate(PoemRequest(lock="______楼，_______。_______，_______。", n=1))   # 楼 is 平
    assert res.request.first_rhymes is None and res.poems[0].rhyme_group == "十一尤"
    res = tiny_poet.generate(PoemRequest(lock="无边落木萧萧下，_______。_______，_______。", n=1))   # 下 is 仄
    assert res.request.first_rhymes is False and res.poems[0].rhyme_group is not None


@pytest.mark.parametrize("lock, words", [("春风_____，_____。", "2 lines of 5/7"),
                                         ("春风又绿江南岸，_______。_______，______。", "6/7 characters"),
                                         ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "put _"),
                                         ("abc_____，_____。_____，_____。", "not a b c"),
                                         ("😀____，_____。_____，_____。", "not"),
                                         (5, "text")])
def test_a_bad_lock_gets_a_clear_message(tiny_poet, lock, words):
    with pytest.raises(InputError, match=words):
        tiny_poet.generate(PoemRequest(text="春", lock=lock))


def test_a_lock_without_a_seed_still_has_its_numbers_checked(tiny_poet):
    with pytest.raises(InputError, match="n must be"):
        tiny_poet.generate(PoemRequest(lock="春____，_____。_____，_____。", n=999))


def test_a_lock_that_clashes_with_the_placed_seed_is_refused_and_one_that_agrees_is_kept(tiny_poet):
    with pytest.raises(InputError, match="月/山 in line 2"):
        tiny_poet.generate(PoemRequest(mode="acrostic", text="春月风山", lock="春____，山____。_____，_____。"))
    res = tiny_poet.generate(PoemRequest(mode="acrostic", text="春山风月", lock="春风___，山____。_____，_____。"))
    assert all(p.lines[0][:2] == "春风" and [x[0] for x in p.lines] == list("春山风月") for p in res.poems)


def test_the_keyword_cover_steers_toward_words_not_yet_written():
    from couplet.poemrules import PoemPlan, _KeywordCover
    width, v = 5, 20
    plan = PoemPlan(n_lines=4, width=width, allowed=torch.ones(24, v, dtype=torch.bool), forced=torch.full((24,), -1),
                    rhyme_pos=[], line_end={}, groups=torch.ones(1, dtype=torch.bool), keywords=((7, 8),), cover=3.0)
    cover = _KeywordCover(plan)
    out = torch.zeros(3, 24, dtype=torch.long)
    out[1, 1] = 7                        # row 1 began the word: its next char is steered to as well
    out[2, 0:2] = torch.tensor([7, 8])   # row 2 wrote it: nothing more
    b = torch.zeros(3, v)
    lifted = cover.steer(b, out, 2)
    assert b[0, 7] == 3.0 and b[0, 8] == 0 and b[1, 8] == 3.0 and b[1, 7] == 3.0 and not b[2].any()
    assert cover.lifted(lifted, torch.tensor([7, 8, 7])).tolist() == [3.0, 3.0, 0.0]
    b = torch.zeros(3, v)
    cover.steer(b, out, 4)
    assert not b[:, 7].any()             # col 4: no room left in the line for 2 chars


def test_keywords_appear_more_often_with_the_cover(tiny_poet):
    words = [w for w in ("春风", "明月", "山水", "江南") if all(c in tiny_poet.vocab.stoi for c in w)][:2]
    assert len(words) == 2

    def whole(cover):
        texts = ["".join(p.lines) for s in range(6) for p in tiny_poet.generate(PoemRequest(
            form="七绝", text=" ".join(words), n=1, seed=s, cover=cover)).poems]
        return sum(w in t for t in texts for w in words)
    assert whole(10.0) > whole(0.0)


def test_with_max_uses_one_a_doubled_word_is_one_use(tiny_poet):
    from couplet.poemrules import PoemState, PoemTables, make_poem_plan
    vocab = tiny_poet.vocab
    a, b = [c for c in vocab.chars() if is_han(c)][10:12]
    tables = PoemTables(vocab, tiny_poet.prosody, doubles=a)           # a may be doubled (萧萧), b may not
    req = PoemRequest(form="五绝", text="", mode="keywords", max_uses=1, pattern="off", attested_bigrams=False)
    plan, _ = make_poem_plan(req, {}, tables)
    state = PoemState(plan, tables, rows=2)
    state.mask(0)
    state.update(0, torch.tensor([vocab.stoi[a], vocab.stoi[b]]))
    mask = state.mask(1)
    assert mask[0, vocab.stoi[a]] and not mask[1, vocab.stoi[b]]     # a again right after: its doubled word
    state.update(1, torch.tensor([vocab.stoi[a], vocab.stoi[a]]))
    later = state.mask(3)
    assert not later[0, vocab.stoi[a]] and not later[1, vocab.stoi[b]]   # then neither again


def test_a_double_stands_only_where_the_poems_double_that_char(tiny_poet, tmp_path):
    """萧萧 after 雨 (as people write it) but not 江江 after 绕 (two words that meet): the char before a
    double must be one the poems double it after; at a line's start, only where a line opens with it."""
    import json
    from couplet.poemrules import PoemState, PoemTables, make_poem_plan
    from couplet.poetry import double_contexts
    vocab = tiny_poet.vocab
    x, y, a = [c for c in vocab.chars() if is_han(c)][10:13]
    path = tmp_path / "poems.jsonl"
    path.write_text(json.dumps({"lines": [f"{x}{a}{a}{y}{x}，", f"{y}{x}{x}{a}{y}。"]}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    v = len(vocab)
    keys = double_contexts(path, vocab)
    assert sorted(keys.tolist()) == sorted([vocab.stoi[x] * v + vocab.stoi[a], vocab.stoi[y] * v + vocab.stoi[x]])
    tables = PoemTables(vocab, tiny_poet.prosody, doubles=a + x, double_contexts=keys)
    req = PoemRequest(form="五绝", text="", mode="keywords", max_uses=0, pattern="off", attested_bigrams=False)
    plan, _ = make_poem_plan(req, {}, tables)
    state = PoemState(plan, tables, rows=3)
    state.mask(0)
    state.update(0, torch.tensor([vocab.stoi[x], vocab.stoi[y], vocab.stoi[a]]))
    opening = state.mask(1)
    assert not opening[2, vocab.stoi[a]]                               # no line opens with a doubled a
    state.update(1, torch.tensor([vocab.stoi[a], vocab.stoi[a], vocab.stoi[x]]))
    mask = state.mask(2)
    assert mask[0, vocab.stoi[a]] and not mask[1, vocab.stoi[a]]       # x a a is written, y a a is not
    assert not mask[2, vocab.stoi[x]]                                  # a x x: not written either


def test_season_steer_costs_another_seasons_chars_once_one_is_named(tiny_poet):
    from couplet.poemrules import PoemTables, _SeasonSteer, make_poem_plan
    vocab = tiny_poet.vocab
    spring, autumn, plain = [vocab.stoi[c] for c in [c for c in vocab.chars() if is_han(c)][20:23]]
    seasons = torch.full((len(vocab),), -1, dtype=torch.int8)
    seasons[spring], seasons[autumn] = 0, 2
    tables = PoemTables(vocab, tiny_poet.prosody, seasons=seasons)
    req = PoemRequest(form="五绝", text="", mode="keywords", pattern="off", season_steer=2.0)
    plan, _ = make_poem_plan(req, {}, tables)
    steer = _SeasonSteer(plan, tables)
    out = torch.tensor([[plain, spring, 0], [plain, plain, 0]])
    assert steer.steer(torch.zeros(2, len(vocab)), out, 1) is None          # nothing named yet: no cost
    logp = torch.zeros(2, len(vocab))
    cost = steer.steer(logp, out, 2)
    assert cost[0, autumn] == 2.0 and cost[0, spring] == 0 and cost[0, plain] == 0 and not cost[1].any()
    assert torch.equal(logp, -cost)
    seeded, _ = make_poem_plan(req, {}, tables, seed=vocab.itos[autumn])     # the seed named autumn
    cost = _SeasonSteer(seeded, tables).steer(torch.zeros(1, len(vocab)), out[1:], 1)
    assert cost[0, spring] == 2.0 and cost[0, autumn] == 0
    # an occasion's season (七夕: 秋) reads as the seed's would, for the steer and the line choice
    told, _ = make_poem_plan(req, {}, tables, season="秋")
    assert told.seed_seasons == (2,)
    cost = _SeasonSteer(told, tables).steer(torch.zeros(1, len(vocab)), out[1:], 1)
    assert cost[0, spring] == 2.0 and cost[0, autumn] == 0


def test_a_poem_for_an_occasion_may_name_its_season(tiny_poet, monkeypatch):
    """With `poetry.OCCASION_SEASONS` on, a poem for 春节 (spring) plans as if its seed named spring (the
    fixture knows 春节's words, 元日 屠苏, which name none), and the line choice costs a line of another
    season from the first line on; off (the default), the plan is the seed's alone."""
    import couplet.poetry as P
    from couplet.occasions import occasion_of
    from couplet.poemrules import LineJudge
    assert occasion_of("七夕", "poem").season == "秋" and occasion_of("春节", "poem").season == "春"

    def seasons():
        return tiny_poet._plan(tiny_poet.resolve(PoemRequest(text="过年", form="五绝", n=1)))[2].seed_seasons
    monkeypatch.setattr(tiny_poet.tables, "season_of", torch.full_like(tiny_poet.tables.season_of, -1))
    tiny_poet.tables.season_of[tiny_poet.vocab.stoi["春"]] = 0
    assert seasons() == ()
    monkeypatch.setattr(P, "OCCASION_SEASONS", True)
    assert seasons() == (0,)
    vocab = tiny_poet.vocab
    of = torch.full((len(vocab),), -1, dtype=torch.long)
    spring_char = next(c for c in vocab.chars() if is_han(c))
    of[vocab.stoi[spring_char]] = 0
    judge = LineJudge(width=6, season=1.0, season_of=of, seed_seasons=(2,))
    other = next(c for c in vocab.chars() if is_han(c) and c != spring_char)
    first, second = (torch.tensor([[vocab.stoi[c]] * 5 + [0]] * 2) for c in (other, spring_char))
    out = torch.cat([first, second], dim=1)
    assert judge._season_clash(1, out).all()          # the request named autumn; the second line names spring
    assert not LineJudge(width=6, season=1.0, season_of=of)._season_clash(1, out).any()   # nothing named before


def _one_season_poems(tmp_path, n: int, tail: str, spring: str, autumn: str):
    """A poems.jsonl of n train-split poems: a first line of two varied chars and `tail`, then the spring
    line and the autumn line in turn."""
    import json
    from couplet.corpus import split_of
    rows, k = [], 0
    while len(rows) < n:
        first = chr(0x6000 + k % 400) + chr(0x6000 + (k * 7) % 400) + tail
        k += 1
        if split_of(first) == "train":
            rows.append({"lines": [first, spring if len(rows) % 2 == 0 else autumn]})
    path = tmp_path / "poems.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_season_pairs_mark_a_season_where_neither_char_does(tmp_path, tiny_poet):
    """东风 in spring poems, 西风 in autumn ones, 风 in both: the pairs mark their seasons, the char alone
    none; then a spring row that wrote 西 is steered off 风 (it would close 西风), another row is not."""
    from couplet.poemrules import PoemTables, _SeasonSteer, make_poem_plan
    from couplet.poetry import season_images, season_pairs
    from couplet.vocab import Vocab
    vocab = Vocab(list("春秋东西风山水月云，。") + [chr(0x6000 + k) for k in range(400)])
    path = _one_season_poems(tmp_path, 200, "山水月", "春东风云月", "秋西风云月")
    keys, of = season_pairs(path, vocab)
    v = len(vocab)
    marked = {(vocab.itos[key // v], vocab.itos[key % v]): int(s) for key, s in zip(keys.tolist(), of.tolist())}
    assert marked == {("东", "风"): 0, ("西", "风"): 2}
    assert season_images(path, vocab)[vocab.stoi["风"]] == -1
    tables = PoemTables(vocab, tiny_poet.prosody, season_pairs=(keys, of))   # 西 alone marks nothing here
    req = PoemRequest(form="五绝", text="", mode="keywords", pattern="off", season_steer=2.0)
    plan, _ = make_poem_plan(req, {}, tables)
    ids = [vocab.stoi[c] for c in "春西山"]
    out = torch.tensor([[ids[0], ids[1]], [ids[2], ids[1]]])
    cost = _SeasonSteer(plan, tables).steer(torch.zeros(2, len(vocab)), out, 2)
    assert cost[0, vocab.stoi["风"]] == 2.0 and cost[1, vocab.stoi["风"]] == 0    # row 1 named no season
    from couplet.poemrules import LineJudge
    judge = LineJudge(width=3, season=4.0, season_of=tables.season_of, season_pair=tables.season_pair)
    line = lambda text: [vocab.stoi[c] for c in text]   # noqa: E731
    out = torch.tensor([line("春山，西风，"), line("春山，山风，"), line("东风，西风，")])
    assert judge(1, out).tolist() == [-4.0, 0.0, -4.0]   # 西风 after 春 or after 东风: another season


def test_season_images_are_the_chars_of_one_seasons_poems(tmp_path):
    """Built from poems that name one season: a char only spring poems hold is spring's, one that both
    hold is nobody's; then a line with an autumn image in a spring poem clashes."""
    from couplet.poemrules import LineJudge, PoemTables
    from couplet.poetry import season_images
    from couplet.prosody import Prosody
    from couplet.vocab import Vocab
    vocab = Vocab(list("春秋杏菊山水风月云") + [chr(0x6000 + k) for k in range(400)])
    path = _one_season_poems(tmp_path, 120, "山水风", "春杏云月风", "秋菊云月风")
    table = season_images(path, vocab)
    assert table[vocab.stoi["杏"]] == 0 and table[vocab.stoi["菊"]] == 2 and table[vocab.stoi["云"]] == -1
    from couplet.requests import DEFAULT_PROSODY
    tables = PoemTables(vocab, Prosody.load(DEFAULT_PROSODY), seasons=table)
    assert tables.season_of[vocab.stoi["春"]] == 0 and tables.season_of[vocab.stoi["秋"]] == 2   # the chars themselves
    line = lambda *cs: [vocab.stoi[c] for c in cs]   # noqa: E731
    out = torch.tensor([line("杏", "山", "云", "菊", "水", "云"), line("杏", "山", "云", "杏", "水", "云")])   # 云: the punctuation slot
    judge = LineJudge(width=3, season=4.0, season_of=tables.season_of)
    assert judge(1, out).tolist() == [-4.0, 0.0]


def test_a_seed_naming_an_occasion_is_written_from_its_classical_words(tiny_poet):
    """毕业 is read as 毕业 (同窗 离别), with a note, in the keywords and theme modes; off, or in an
    acrostic, the words are as typed; an occasion with no poem words (开业) reads as typed."""
    from couplet.occasions import occasion_of
    sets = [list(x) for x in occasion_of("毕业", "poem").poem]
    seed, words, _, notes = tiny_poet.prepare(PoemRequest(text="毕业"))
    assert words in sets and any("毕业" in n for n in notes)
    assert tiny_poet.prepare(PoemRequest(mode="theme", text="今年毕业了"))[1] in sets
    _, plain, _, notes = tiny_poet.prepare(PoemRequest(text="春 江", occasion=False))
    assert plain == ["春", "江"] and not notes
    assert not any("开业" in n for n in tiny_poet.prepare(PoemRequest(text="春 开业"))[3])
    res = tiny_poet.generate(PoemRequest(text="毕业", n=1, draws=2))
    assert res.poems and all(len(line) == 8 for line in res.poems[0].lines)   # 七绝: 7 chars and a mark


def test_an_occasions_keyword_sets_are_drawn_per_request(tiny_poet, monkeypatch):
    """Each request draws one of the occasion's keyword sets by its seed, the same one every time for
    the same request; over seeds every set is drawn; with the switch off, always the first."""
    import couplet.poetry as P
    from couplet.occasions import OCCASIONS, occasion_of
    sets = [list(x) for x in occasion_of("毕业", "poem").poem]
    assert len(sets) >= 2 and all(all(len(w) == 2 for w in x) for o in OCCASIONS for x in o.poem)
    drawn = [tiny_poet.prepare(PoemRequest(text="毕业", seed=k))[1] for k in range(12)]
    assert all(d in sets for d in drawn) and all(s in drawn for s in sets)
    assert tiny_poet.prepare(PoemRequest(text="毕业", seed=3))[1] == drawn[3]
    monkeypatch.setattr(P, "OCCASION_WORD_SETS", False)
    assert {tuple(tiny_poet.prepare(PoemRequest(text="毕业", seed=k))[1]) for k in range(12)} == {tuple(sets[0])}


def test_words_typed_beside_an_occasion_join_its_keywords(tiny_poet, monkeypatch):
    """With the switch on, 毕业 X: the occasion's keyword set, and X beside it (steered toward as typed keywords
    are); the occasion's own words are not added; off (the default: readers kept the poems without), the set alone."""
    import couplet.poetry as P
    from couplet.occasions import occasion_of
    monkeypatch.setattr(P, "OCCASION_BESIDE", True)
    sets = [list(x) for x in occasion_of("毕业", "poem").poem]
    word = next(a + b for a, b in zip("杨明春江", "柳月风水") if a in tiny_poet.known and b in tiny_poet.known)
    seed, words, _, notes = tiny_poet.prepare(PoemRequest(text=f"毕业 {word}"))
    assert words[:-1] in sets and words[-1] == word and any(f"steered toward {word}" in n for n in notes)
    assert word not in seed     # the seed is the set's
    assert tiny_poet.prepare(PoemRequest(text="毕业 同窗"))[1] in sets
    monkeypatch.setattr(P, "OCCASION_BESIDE", False)
    assert tiny_poet.prepare(PoemRequest(text=f"毕业 {word}"))[1] in sets


def test_a_poem_for_a_happy_occasion_leaves_out_the_chars_of_grief(tiny_poet, monkeypatch):
    """生日 (祝寿) and a theme naming 结婚 (an occasion with no classical words of its own): no char of MOURNING at a free
    position; 毕业 keeps them (a parting may grieve), and so does a seed that names no occasion."""
    import couplet.poetry as P
    from couplet.occasions import MOURNING
    grief = [tiny_poet.tables.vocab.stoi[c] for c in MOURNING if c in tiny_poet.tables.vocab.stoi]
    assert grief     # the fixture knows some, so the test reads something
    for text in ("生日", "结婚那天春风明月照山河"):   # 结婚 in a theme: the fixture model knows neither char
        req = PoemRequest(text=text, mode="theme" if "结婚" in text else "keywords")
        assert not tiny_poet.plan(req)[2].allowed[:, grief].any(), text
    for text in ("毕业", "春 江"):
        assert tiny_poet.plan(PoemRequest(text=text))[2].allowed[:, grief].any(), text
    # an acrostic that names the occasion (新年…): its free chars too
    assert not tiny_poet.plan(PoemRequest(text="新年春月", mode="acrostic"))[2].allowed[:, grief].any()
    monkeypatch.setattr(P, "OCCASION_FESTIVE", False)
    assert tiny_poet.plan(PoemRequest(text="生日"))[2].allowed[:, grief].any()
