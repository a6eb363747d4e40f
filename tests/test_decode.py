"""Property tests: every rule holds for random 上联 and random decoding settings."""
import pytest
import torch
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from couplet.decode import Beam, tone_targets
from couplet.generate import Settings
from couplet.prosody import PING, ZE
from couplet.sampling import Sampler, filter_logits, sample_next
from couplet.text import MARKS, InputError, is_han
from couplet.vocab import Vocab

PUNCT = "，。；！？"


@st.composite
def uppers(draw, alphabet, length=None):
    n = length or draw(st.integers(1, 16))
    pool = draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=6, unique=True))
    chars = [draw(st.sampled_from(pool)) for _ in range(n)]  # a small pool makes 重字 likely
    for i in range(1, n - 1):
        if draw(st.integers(0, 5)) == 0:
            chars[i] = draw(st.sampled_from(PUNCT + MARKS))   # 《》 are outside the vocabulary: <unk> inside
    return "".join(chars)


decoding = st.builds(
    Settings,
    n=st.integers(1, 4), temperature=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    top_k=st.sampled_from([0, 1, 5, 10 ** 6]), top_p=st.sampled_from([1.0, 0.9, 0.3]),
    beam=st.sampled_from([0, 0, 1, 3]), seed=st.integers(0, 2 ** 31), tone=st.sampled_from(["end", "rhythm"]))


def check_rules(gen, upper: str, lower: str, s: Settings) -> None:
    assert len(lower) == len(upper)
    for i, (a, b) in enumerate(zip(upper, lower)):
        assert is_han(a) == is_han(b)
        if not is_han(a):
            assert a == b                                       # punctuation in place
    han = [i for i, c in enumerate(upper) if is_han(c)]
    for i in han:
        for j in han:
            if i < j:
                assert (upper[i] == upper[j]) == (lower[i] == lower[j])   # 重字 mirrored, nothing else
    assert not set(upper) & {lower[i] for i in han}             # no 上联 char copied
    targets = tone_targets(upper, gen.prosody, s.tone)
    for i, want in enumerate(targets):
        if want is not None:
            linked = any(upper[k] == upper[i] for k in han if k != i)
            if not linked or s.tone == "end":
                assert gen.prosody.tone(lower[i]) == want, (upper, lower, i)


@given(data=st.data())
@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rules_hold_for_random_inputs(tiny_generator, data):
    alphabet = [c for c in tiny_generator.vocab.chars() if is_han(c)]
    upper = data.draw(uppers(alphabet))
    s = data.draw(decoding)
    res = tiny_generator.generate(upper, s)
    assert 1 <= len(res.candidates) <= s.n
    for c in res.candidates:
        check_rules(tiny_generator, upper, c.lower, s)


def test_end_tone_opposes_the_upper(tiny_generator):
    for upper in ("白日依山尽", "天增岁月人增寿", "明月几时有"):
        res = tiny_generator.generate(upper, Settings(n=3, beam=3))
        want = {PING: ZE, ZE: PING}[tiny_generator.prosody.tone(upper[-1])]
        assert all(tiny_generator.prosody.tone(c.lower[-1]) == want for c in res.candidates)


def test_same_seed_same_output_and_greedy_is_deterministic(tiny_generator):
    s = Settings(n=4, temperature=1.0, seed=7)
    a = tiny_generator.generate("春回大地千山秀", s)
    b = tiny_generator.generate("春回大地千山秀", s)
    assert [c.lower for c in a.candidates] == [c.lower for c in b.candidates]
    outs = {tiny_generator.generate("春回大地千山秀", Settings(n=4, temperature=1.0, seed=k)).candidates[0].lower
            for k in range(6)}
    assert len(outs) > 1  # the seed matters
    g1 = tiny_generator.generate("春回大地千山秀", Settings(temperature=0, seed=1)).candidates[0].lower
    g2 = tiny_generator.generate("春回大地千山秀", Settings(temperature=0, seed=2)).candidates[0].lower
    assert g1 == g2


def test_beam_returns_sorted_n_best_and_greedy_is_its_own_width_one(tiny_generator):
    # by model score alone: the MMI and 词性 terms reorder them (tested on their own)
    res = tiny_generator.generate("书山有路勤为径", Settings(n=4, beam=4, structure=0.0, mmi=0.0))
    scores = [c.score for c in res.candidates]
    assert scores == sorted(scores, reverse=True) and len(set(c.lower for c in res.candidates)) == len(scores)
    greedy = tiny_generator.generate("书山有路勤为径", Settings(temperature=0)).candidates[0]
    assert res.candidates[0].score >= greedy.score - 1e-6


def test_lock_pattern_keeps_fixed_chars(tiny_generator):
    res = tiny_generator.generate("天增岁月人增寿", Settings(n=2, beam=2), lock="春_乾__满_")
    for c in res.candidates:
        assert c.lower[0] == "春" and c.lower[2] == "乾" and c.lower[5] == "满" and c.lower[1] == c.lower[5]
    with pytest.raises(InputError, match="locked pattern"):
        tiny_generator.generate("天增岁月人增寿", lock="春_")


@pytest.mark.parametrize("lock", ["春______", "___春___", "______春", "_满___满_", "春_乾__满_"])
@pytest.mark.parametrize("settings", [Settings(n=5, beam=5), Settings(n=5, temperature=1.5, seed=3)])
def test_a_locked_char_is_not_repeated_elsewhere(tiny_generator, lock, settings):
    from couplet.evaluate import couplet_rules
    for c in tiny_generator.generate("天增岁月人增寿", settings, lock=lock).candidates:
        assert all(c.lower[i] == ch for i, ch in enumerate(lock) if ch != "_")
        assert couplet_rules("天增岁月人增寿", c.lower, tiny_generator.prosody)["repeats_mirrored"] == 1.0, c.lower


def test_rules_can_be_switched_off(tiny_generator):
    s = Settings(n=1, beam=2, punctuation=False, repeats=False, no_copy=False, tone="off")
    res = tiny_generator.generate("海内存知己，天涯若比邻", s)
    assert len(res.candidates[0].lower) == 11


def test_sampling_is_a_pure_function_of_logits():
    logits = torch.tensor([[0.0, 1.0, 3.0, 2.0]])
    off = {"top_k": 0, "top_p": 1.0}
    assert sample_next(logits, temperature=0, **off).item() == 2
    assert Sampler(temperature=0.0005, **off).greedy and not Sampler(temperature=0.5, **off).greedy
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = [sample_next(logits, temperature=1.0, generator=g1, **off).item() for _ in range(20)]
    b = [Sampler(temperature=1.0, generator=g2, **off)(logits).item() for _ in range(20)]
    assert a == b
    assert torch.isfinite(filter_logits(logits, top_k=10 ** 6, top_p=1.0)).all()     # top-k clamped
    kept = torch.isfinite(filter_logits(logits, top_k=2, top_p=1.0))[0].tolist()
    assert kept == [False, False, True, True]
    nucleus = torch.isfinite(filter_logits(logits, top_k=0, top_p=0.5))[0].tolist()
    assert nucleus == [False, False, True, False]
    masked = logits.clone()
    masked[0, 2] = float("-inf")
    g = torch.Generator().manual_seed(0)
    assert all(sample_next(masked, temperature=5.0, generator=g, **off).item() != 2 for _ in range(50))



def test_nucleus_draws_stay_in_the_nucleus_with_its_frequencies():
    """sample_next draws again outside the nucleus: every draw lies in filter_logits's nucleus, and the
    draws follow the renormalised nucleus (peaked and flat rows, masked chars, a small top_p that
    needs the sorted fallback)."""
    torch.manual_seed(0)
    for trial in range(40):
        logits = torch.randn(6, 900) * (0.3 if trial % 4 == 0 else 3.0)
        logits[torch.rand(6, 900) < 0.3] = float("-inf")
        temperature, top_p = ((0.5, 0.95), (1.3, 0.7), (1.0, 0.02))[trial % 3]
        got = sample_next(logits, temperature=temperature, top_k=0, top_p=top_p,
                          generator=torch.Generator().manual_seed(trial))
        kept = filter_logits(logits / temperature, top_k=0, top_p=top_p)
        assert torch.isfinite(kept.gather(1, got[:, None])).all()
    logits = torch.tensor([[2.0, 1.5, 1.0, 0.5, 0.0, -1.0, float("-inf")]]).repeat(20000, 1)
    got = sample_next(logits, temperature=1.0, top_k=0, top_p=0.8, generator=torch.Generator().manual_seed(1))
    want = torch.softmax(filter_logits(logits[:1], top_k=0, top_p=0.8), dim=-1)[0]
    freq = torch.bincount(got, minlength=7).float() / len(got)
    assert want[4:].sum() == 0 and (freq - want).abs().max() < 0.015


def test_nucleus_matches_a_full_sort():
    """`in_nucleus` (a token's own test) and `_nucleus_mask` (every token at once) keep exactly what
    sorting every prob keeps: peaked and flat rows, masked chars, top_p near 1."""
    from couplet.sampling import _nucleus_mask, in_nucleus
    torch.manual_seed(1)
    v = 1000
    for trial in range(60):
        logits = torch.randn(5, v) * (0.2, 1.0, 4.0)[trial % 3]
        logits[torch.rand(5, v) < 0.2] = float("-inf")
        probs = torch.softmax(logits, dim=-1)
        top_p = (0.5, 0.9, 0.95, 0.999)[trial % 4]
        mask = _nucleus_mask(probs, top_p)
        for r, row in enumerate(probs):
            top, order = row.double().sort(descending=True)
            want = set(order[(top.cumsum(0) - top) < top_p].tolist())
            assert set(mask[r].nonzero().squeeze(1).tolist()) == want
            tok = torch.randint(v, (50,))
            assert in_nucleus(row.expand(50, -1), tok, top_p).tolist() == [t in want for t in tok.tolist()]


def test_generation_rejects_bad_input(tiny_generator):
    for bad in ("", "   ", "😀😀", "abc", "春" * 100):
        with pytest.raises(InputError):
            tiny_generator.generate(bad)
    res = tiny_generator.generate("天增歲月人增壽")  # traditional input is converted
    assert res.upper == "天增岁月人增寿" and any("traditional" in n for n in res.notes)


@pytest.mark.parametrize("settings", [Settings(n=3, beam=3), Settings(n=1), Settings(n=2, temperature=1.0, seed=5)])
def test_unknown_characters_are_answered_never_emitted(tiny_generator, settings):
    # 龘 and 䶵 are outside the vocabulary; 龘 twice is a 重字 the 下联 must mirror
    upper = "龘风龘雨䶵春秋"
    res = tiny_generator.generate(upper, settings)
    assert res.candidates and any("unknown" in n for n in res.notes)
    for c in res.candidates:
        assert len(c.lower) == len(upper) and c.lower[0] == c.lower[2]
        assert all(ch in tiny_generator.known for ch in c.lower)
        assert len(set(c.lower)) == len(c.lower) - 1


def test_variant_forms_are_mapped_before_the_unknown_path():
    from couplet.text import check_input
    checked = check_input("爲", known={"为"}, max_len=8)
    assert checked.text == "为" and checked.notes


def test_rules_hold_for_the_tagger_baseline(tiny_generator):
    from couplet.generate import CoupletGenerator
    from couplet.model import CoupletModel, ModelConfig
    torch.manual_seed(1)
    tagger = CoupletModel(ModelConfig(vocab_size=len(tiny_generator.vocab), cell="lstm", emb_dim=16, hidden=16,
                                      decoder=False))
    gen = CoupletGenerator(tagger, tiny_generator.vocab, tiny_generator.prosody)
    for upper in ("天增岁月人增寿", "海内存知己，天涯若比邻", "风声雨声读书声"):
        for s in (Settings(n=3, beam=3), Settings(n=2, temperature=1.0, seed=3)):
            for c in gen.generate(upper, s).candidates:
                check_rules(gen, upper, c.lower, s)


def test_rerank_orders_by_model_plus_scorer(tiny_generator, monkeypatch):
    monkeypatch.setattr("couplet.generate.MIN_DIFFERENCE", 0.0)  # compare whole N-best lists
    monkeypatch.setattr("couplet.generate.FILL_DIFFERENCE", 0.0)
    from couplet.generate import CoupletGenerator
    from couplet.model import ScorerConfig, ScorerModel
    torch.manual_seed(2)
    scorer = ScorerModel(ScorerConfig(vocab_size=len(tiny_generator.vocab), emb_dim=8, hidden=8)).eval()
    gen = CoupletGenerator(tiny_generator.model, tiny_generator.vocab, tiny_generator.prosody,
                           scorer=(scorer, tiny_generator.vocab))
    res = gen.generate("天增岁月人增寿", Settings(n=10, beam=10, rerank=True, rerank_weight=2.0,
                                                                structure=0.0, diversity=0.0))
    combined = [c.ranking + 2.0 * c.scorer for c in res.candidates]
    assert all(c.scorer is not None and c.scorer <= 0 for c in res.candidates)
    assert combined == sorted(combined, reverse=True)
    plain = gen.generate("天增岁月人增寿", Settings(n=10, beam=10, structure=0.0, diversity=0.0))
    assert sorted(c.lower for c in plain.candidates) == sorted(c.lower for c in res.candidates)


def test_structure_rule_reorders_the_same_candidates(tiny_generator, monkeypatch):
    monkeypatch.setattr("couplet.generate.MIN_DIFFERENCE", 0.0)
    monkeypatch.setattr("couplet.generate.FILL_DIFFERENCE", 0.0)
    plain = tiny_generator.generate("天增岁月人增寿", Settings(n=10, beam=10, structure=0.0, diversity=0.0))
    res = tiny_generator.generate("天增岁月人增寿", Settings(n=10, beam=10, structure=5.0, diversity=0.0))
    spread = max(c.ranking for c in res.candidates) - min(c.ranking for c in res.candidates)
    combined = [c.ranking + 5.0 * spread * c.structure for c in res.candidates]
    assert all(c.structure is not None and 0.0 <= c.structure <= 1.0 for c in res.candidates)
    assert combined == sorted(combined, reverse=True)
    assert sorted(c.lower for c in plain.candidates) == sorted(c.lower for c in res.candidates)
    assert all(c.structure is None for c in plain.candidates)  # weight 0: order untouched, nothing computed
    best = max(c.structure for c in res.candidates)
    huge = tiny_generator.generate("天增岁月人增寿", Settings(n=10, beam=10, structure=1e6, diversity=0.0))
    assert huge.candidates[0].structure == best


def test_structure_rule_widens_the_beam_for_one_answer(tiny_generator):
    one = tiny_generator.generate("天增岁月人增寿", Settings(n=1, beam=1, structure=1e6))
    wide = tiny_generator.generate("天增岁月人增寿", Settings(n=10, beam=10, structure=1e6, diversity=0.0))
    assert one.candidates[0].lower == wide.candidates[0].lower
    batch = tiny_generator.generate_batch(["天增岁月人增寿"], Settings(n=1, beam=1, structure=1e6))
    assert batch[0].candidates[0].lower == one.candidates[0].lower


@pytest.mark.parametrize("upper", ["天增岁月人增寿", "海内存知己，天涯若比邻", "风声雨声读书声"])
@pytest.mark.parametrize("settings", [Settings(n=5, beam=5), Settings(n=5, beam=5, diversity=0.0),
                                      Settings(n=4, temperature=1.2, seed=3), Settings(n=5, beam=5, freq_penalty=0.3)])
def test_candidates_are_real_alternatives(tiny_generator, upper, settings):
    import math
    res = tiny_generator.generate(upper, settings)
    free = [i for i, ch in enumerate(upper) if is_han(ch)]
    need = math.ceil(len(free) / 3)
    lows = [c.lower for c in res.candidates]
    assert lows and all(sum(a[i] != b[i] for i in free) >= need for k, a in enumerate(lows) for b in lows[k + 1:])
    assert len(lows) == settings.n or any("near-duplicates" in n for n in res.notes)
    for c in res.candidates:
        check_rules(tiny_generator, upper, c.lower, settings)


def test_diverse_groups_keep_the_plain_best_first(tiny_generator):
    for upper in ("天增岁月人增寿", "书山有路勤为径"):
        plain = tiny_generator.generate(upper, Settings(n=1, beam=5, structure=0.0)).candidates[0]
        diverse = tiny_generator.generate(upper, Settings(n=5, beam=5, structure=0.0, diversity=3.0))
        assert diverse.candidates[0].lower == plain.lower


def test_frequency_penalty_moves_away_from_frequent_chars(tiny_generator):
    import torch as T
    gen = tiny_generator
    freq = T.zeros(len(gen.vocab))
    plain = gen.generate("天增岁月人增寿", Settings(n=1, beam=5, structure=0.0)).candidates[0].lower
    for ch in set(plain):  # make the plain answer's chars the most frequent ones
        freq[gen.vocab.stoi[ch]] = 10.0
    gen.log_freq = T.log_softmax(freq, dim=0)
    try:
        pushed = gen.generate("天增岁月人增寿", Settings(n=1, beam=5, structure=0.0, freq_penalty=5.0)).candidates[0]
    finally:
        gen.log_freq = None
    assert sum(a != b for a, b in zip(pushed.lower, plain)) >= 3


def test_latin_letters_and_digits_are_refused_not_copied(tiny_generator):
    for bad in ("春风送暖abc", "2025春回大地"):
        with pytest.raises(InputError, match="Chinese characters"):
            tiny_generator.generate(bad)


def test_a_lock_that_breaks_a_rule_is_noted(tiny_generator):
    res = tiny_generator.generate("明月松间照", Settings(n=1, beam=2), lock="____月")
    assert res.candidates[0].lower.endswith("月")
    assert any("locked 月" in n and "上联" in n for n in res.notes)


def test_fewer_results_than_asked_say_why(tiny_generator):
    res = tiny_generator.generate("天增岁月人增寿", Settings(n=3, beam=0))
    assert len(res.candidates) == 1 and any("greedy" in n for n in res.notes)


def test_structure_rule_does_not_bury_a_clearly_better_line(tiny_generator):
    """The 词性 term is relative to the N-best's spread: with weight 1 a candidate moves past another
    only if their scores differ by less than the whole spread times the agreement gap."""
    s = Settings(n=5, beam=5, structure=1.0, diversity=0.0)
    gen = tiny_generator
    plan, _ = gen.plan("书山有路勤为径", s)
    ids, scores = gen._decode([plan], s, gen._beam(s, 5, chars=7))
    # every candidate the order sees (the page shows fewer: near-duplicates dropped, the first n)
    ordered = gen._order(plan, gen._rank(plan, ids.tolist(), scores.tolist()), s)
    best = max(ordered, key=lambda c: c.ranking)
    spread = best.ranking - min(c.ranking for c in ordered)
    for c in ordered:    # none ahead of the best-scored by more than its agreement gap allows
        if c is best:
            break
        assert best.ranking - c.ranking <= spread * (c.structure - best.structure) + 1e-9


def test_rows_with_any_is_any_per_row():
    from couplet.decode import rows_with_any
    torch.manual_seed(0)
    for shape, p in (((5, 300), 0.01), ((1, 50), 0.0), ((7, 1000), 0.5)):
        m = torch.rand(shape) < p
        m[0] = False
        assert torch.equal(rows_with_any(m), m.any(dim=1))
        assert torch.equal(rows_with_any(m, keepdim=True), m.any(dim=1, keepdim=True))
        sliced = m[:, ::3]                                   # a strided view reads the same
        assert torch.equal(rows_with_any(sliced), sliced.any(dim=1))


def test_count_true_counts_per_row():
    from couplet.decode import count_true
    torch.manual_seed(0)
    for shape, p in (((5, 300), 0.01), ((2, 3, 1000), 0.5), ((1, 40000), 0.9)):
        m = torch.rand(shape) < p
        assert torch.equal(count_true(m).long(), m.sum(dim=-1))
    m = torch.rand(4, 900) < 0.5
    assert torch.equal(count_true(m[:, ::3]).long(), m[:, ::3].sum(dim=-1))   # a strided view counts the same


@given(data=st.data())
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_plans_made_together_equal_plans_made_alone(tiny_generator, data):
    from couplet.decode import Rules, make_plan, make_plans
    alphabet = [c for c in tiny_generator.vocab.itos if len(c) == 1 and is_han(c)][:40] + ["龘"]   # and one unknown char
    n = data.draw(st.integers(1, 12))
    lines = data.draw(st.lists(uppers(alphabet, length=n), min_size=1, max_size=5))
    rules = Rules(punctuation=data.draw(st.booleans()), repeats=data.draw(st.booleans()),
                  no_copy=data.draw(st.booleans()), tone=data.draw(st.sampled_from(["off", "end", "rhythm"])))
    for line, plan in zip(lines, make_plans(lines, tiny_generator.tables, rules)):
        alone = make_plan(line, tiny_generator.tables, rules)
        for name in ("src", "allowed", "forced", "link"):
            assert torch.equal(getattr(plan, name), getattr(alone, name)), name
        assert (plan.upper, plan.literal, plan.notes) == (alone.upper, alone.literal, alone.notes)


def test_plans_made_together_need_one_length(tiny_generator):
    from couplet.decode import Rules, make_plans
    with pytest.raises(ValueError, match="one length"):
        make_plans(["春风", "春风化雨"], tiny_generator.tables, Rules())


def test_argmax_rows_is_argmax_with_first_of_ties():
    from couplet.sampling import argmax_rows
    torch.manual_seed(0)
    for rows, v in ((32, 7705), (40, 640), (16, 1000), (3, 7705)):
        x = torch.randn(rows, v)
        assert torch.equal(argmax_rows(x), x.argmax(dim=-1))
        ties = torch.randint(0, 3, (rows, v)).float()            # many equal maxima: the first one wins
        assert torch.equal(argmax_rows(ties), ties.argmax(dim=-1))
        x[:, :] = float("-inf")
        x[0, -1] = 0.0                                            # the maximum in the last, partial block
        x[1, 5] = x[1, v // 2] = 1.0
        assert torch.equal(argmax_rows(x), x.argmax(dim=-1))


def test_mask_out_keeps_allowed_scores_and_blocks_the_rest():
    from couplet.sampling import BLOCKED, mask_out_
    torch.manual_seed(0)
    logp = torch.log_softmax(torch.randn(20, 500), dim=-1)
    mask = torch.rand(20, 500) < 0.3
    mask[:, 0] = True
    out = mask_out_(logp.clone(), mask)
    assert torch.equal(out[mask], logp[mask])                     # exactly, not within rounding
    assert (out[~mask] <= BLOCKED / 2).all()
    reference = logp.masked_fill(~mask, float("-inf"))
    assert torch.equal(torch.softmax(out, dim=-1), torch.softmax(reference, dim=-1))
    assert torch.equal(out.argmax(dim=-1), reference.argmax(dim=-1))


def test_first_only_order_keeps_the_first_and_tags_fewer(tiny_generator, monkeypatch):
    """A batch wants one 下联: candidates that could not come first are not tagged, and the first
    is the one the full order puts first."""
    import random
    import zlib
    calls = []

    def fake_agreement(upper, lower):  # a fixed pseudo-random agreement per line
        calls.append(lower)
        return zlib.crc32(lower.encode()) % 1000 / 999
    monkeypatch.setattr("couplet.generate.structure_agreement", fake_agreement)
    s = Settings(n=1, beam=10, structure=1.0, mmi=0.0)
    plan, _ = tiny_generator.plan("天增岁月人增寿", s)
    chars = [i for i, c in enumerate(tiny_generator.vocab.itos) if len(c) == 1 and is_han(c)]
    rng = random.Random(0)
    tagged = {True: 0, False: 0}
    for _ in range(100):
        ids = torch.tensor([[rng.choice(chars) for _ in range(7)] for _ in range(10)])
        scores = torch.tensor([rng.uniform(-30.0, -5.0) for _ in range(10)])
        firsts = []
        for first_only in (False, True):
            calls.clear()
            ranked = tiny_generator._rank(plan, ids.tolist(), scores.tolist())
            firsts.append(tiny_generator._order(plan, ranked, s, first_only=first_only)[0])
            tagged[first_only] += len(calls)
        assert firsts[0].lower == firsts[1].lower and firsts[0].structure == firsts[1].structure
    assert tagged[True] < tagged[False]


def test_roomy_equals_the_full_count():
    """`_roomy` reads the first ROOMY_HEAD columns first; the answer is the full count's, for plans
    whose allowed chars sit inside the head, outside it, or are a single forced char."""
    from couplet.decode import ROOMY_HEAD, _roomy, count_true
    g = torch.Generator().manual_seed(0)
    v = ROOMY_HEAD * 3
    for trial in range(40):
        p, t = 1 + trial % 4, 1 + trial % 9
        allowed = torch.rand(p, t, v, generator=g) < torch.rand(p, t, 1, generator=g) * 0.02
        if trial % 3 == 0:      # some positions allow only chars past the head
            allowed[:, ::2, :ROOMY_HEAD] = False
        if trial % 5 == 0:      # a forced char: one allowed
            allowed[:, -1] = False
            allowed[:, -1, 7] = True
        want = (count_true(allowed) > torch.arange(t)).all(dim=0).tolist()
        assert _roomy(allowed) == want


def test_apart_keeps_the_list_varied_then_fills_it():
    """Items half apart first (in their order); a short list is filled with items a third apart; never
    more than n; the order stays the items' (best first)."""
    from couplet.generate import apart
    differ = lambda a, b: sum(x != y for x, y in zip(a, b)) / len(a)
    items = ["万事和谐岁", "万事和谐春", "百业兴旺春", "万事如意岁", "千家同乐日"]
    assert apart(items, differ, 5, (0.5,)) == ["万事和谐岁", "百业兴旺春", "千家同乐日"]
    assert apart(items, differ, 4, (0.5, 0.2)) == ["万事和谐岁", "万事和谐春", "百业兴旺春", "千家同乐日"]
    assert apart(items, differ, 5, (0.5, 0.2)) == items
    assert apart(items, differ, 2, (0.5, 0.2)) == ["万事和谐岁", "百业兴旺春"]


def test_a_long_line_is_searched_with_a_wider_beam(tiny_generator):
    """From LONG_LINE_CHARS chars (punctuation aside) the beam is LONG_LINE_WIDTH wide; shorter lines
    keep the width the settings give; a batch's beams are as wide as its longest line's."""
    from couplet.generate import LONG_LINE_CHARS, LONG_LINE_WIDTH, RERANK_WIDTH
    gen = tiny_generator
    s = Settings(n=1, beam=5, structure=1.0)
    short, _ = gen.plan("白日依山尽，黄河入海流", s)      # 10 chars and a comma
    long_, _ = gen.plan("白日依山尽，黄河入海流，欲穷千里目", s)
    assert LONG_LINE_CHARS == 15 and sum(lit is None for lit in long_.literal) == 15
    assert gen._beam(s, 1, chars=10).width == RERANK_WIDTH
    assert gen._beam(s, 1, chars=15).width == LONG_LINE_WIDTH
    assert gen._beams(s, [short, long_]).width == LONG_LINE_WIDTH and gen._beams(s, [short]).width == RERANK_WIDTH
    res = gen.generate(long_.upper, s)
    assert len(res.candidates[0].lower) == len(long_.upper)


def test_marks_outside_the_vocabulary_are_written_in_place_and_not_scored(tiny_generator):
    """读《论语》: the marks come back at their positions, and the <unk> the model steps through there
    costs nothing (a line's score is its chars' own), as the naive beam scores it too."""
    from couplet.reference import beam_search_naive
    assert "《" not in tiny_generator.vocab
    upper = "读《春秋》知大义"
    res = tiny_generator.generate(upper, Settings(n=2, beam=3))
    for c in res.candidates:
        assert c.lower[1] == "《" and c.lower[4] == "》" and "<unk>" not in c.lower
    # a lock copied from a candidate, marks and all (the page's click on a char builds one)
    locked = tiny_generator.generate(upper, Settings(n=1, beam=2), lock="_《" + res.candidates[0].lower[2] + "_》___")
    assert locked.candidates[0].lower[:3] == res.candidates[0].lower[:3]
    plan, _ = tiny_generator.plan(upper, Settings(beam=3))
    ids, scores = tiny_generator._decode([plan], Settings(beam=3, structure=0.0), Beam(3))
    naive_ids, naive_scores = beam_search_naive(tiny_generator.model, plan, beam=3, align=Settings().align)
    assert torch.equal(ids, naive_ids) and torch.allclose(scores, naive_scores, atol=1e-4)
    # the best row's score, read back teacher-forced: its chars' log-probs, the marks' positions left out
    from couplet.decode import _aligned_prior, _log_probs
    from couplet.model import shift_right
    model, align = tiny_generator.model, Settings().align
    with torch.no_grad():
        memory, keys, hidden = model.encode(plan.src.unsqueeze(0))
        logits, _ = model.decode(shift_right(ids[:1], Vocab.bos_id), memory, keys, hidden)
        prior = _aligned_prior(model, memory, align)
        logp = [_log_probs(logits[:, t].float(), prior[:, t] if prior is not None else None, align)[0, ids[0, t]]
                for t in range(len(upper))]
    want = sum(float(x) for t, x in enumerate(logp) if is_han(upper[t]) or upper[t] == "，")
    assert float(scores[0]) == pytest.approx(want, abs=1e-3)


def test_a_locked_char_is_followed_by_one_people_write_after_it(tiny_generator, monkeypatch):
    """The table of neighbours (`build_follows`: pairs seen min_count times) round-trips both ways; the free
    positions after and before a locked char allow only chars seen there, where the rules leave one, with
    `--follow` (a whole couplet's heads; off by default); a model without the table leaves them as they were."""
    from couplet.decode import make_plan
    from couplet.phrases import Follows, build_follows
    vocab = tiny_generator.vocab
    a, b, c, d = [x for x in vocab.chars() if is_han(x) and x not in "天增岁月人寿"][:4]
    table = Follows(build_follows([a + b, a + b, a + c, d + a + b], vocab, min_count=2), len(vocab))
    assert table.after(vocab.stoi[a]).nonzero().flatten().tolist() == [vocab.stoi[b]]
    assert not table.after(vocab.stoi[b]).any() and not table.after(vocab.stoi[d]).any()
    assert table.before(vocab.stoi[b]).nonzero().flatten().tolist() == [vocab.stoi[a]]
    assert not table.before(vocab.stoi[a]).any()
    upper, lock = "天增岁月人增寿", a + "______"
    on = Settings(follow=True)
    assert make_plan(upper, tiny_generator.tables, on.rules(), lock=lock).allowed[1].sum() > 1
    monkeypatch.setattr(tiny_generator.tables, "follows", table)
    plan = make_plan(upper, tiny_generator.tables, on.rules(), lock=lock)
    assert plan.allowed[1].nonzero().flatten().tolist() == [vocab.stoi[b]]
    for c_ in tiny_generator.generate(upper, Settings(n=2, beam=2, follow=True), lock=lock).candidates:
        assert c_.lower[:2] == a + b
    assert make_plan(upper, tiny_generator.tables, Settings().rules(), lock=lock).allowed[1].sum() > 1   # off by default
    # nothing seen after d: the position keeps the rules' own choice
    assert make_plan(upper, tiny_generator.tables, on.rules(), lock=d + "______").allowed[1].sum() > 1
    # the char before a lock too: the decoder chooses it before it reaches the locked one
    before = make_plan(upper, tiny_generator.tables, on.rules(), lock="__" + b + "____")
    assert before.allowed[1].nonzero().flatten().tolist() == [vocab.stoi[a]] and before.allowed[3].sum() > 1
