"""The fast decoders (encoder once, hidden state carried, rows batched) give what the simple
ones give (the whole model rerun over the prefix at every step, one item at a time)."""
import pytest
import torch

from couplet.decode import Beam, Beams, CoupletSteps, decode, make_plan, make_plans
from couplet.generate import Settings
from couplet.poetry import PoemRequest, PoemSteps, sample_poems
from couplet.reference import CoupletRerun, PoemRerun, beam_search_naive
from couplet.sampling import Sampler
from couplet.text import InputError

UPPERS = ["天增岁月人增寿", "海内存知己，天涯若比邻", "明月几时有", "书山有路勤为径，学海无涯苦作舟"]


def sampler(temperature: float, seed: int = 5) -> Sampler:
    return Sampler(temperature=temperature, top_k=0, top_p=1.0, generator=torch.Generator().manual_seed(seed))


def sample(model, plans, *, temperature=0.0, align=0.0, repeats=True, seed=5, steps=CoupletSteps):
    return decode(steps(model, plans, align), plans, sampler(temperature, seed), repeats=repeats)


def beam(model, plan, *, width, align=0.0):
    return decode(CoupletSteps(model, [plan], align), [plan], Beam(width), repeats=True)


@pytest.mark.parametrize("upper", UPPERS)
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_sample_equals_naive(tiny_generator, upper, temperature):
    plan = make_plan(upper, tiny_generator.tables, Settings().rules())
    fast, fs = sample(tiny_generator.model, [plan], temperature=temperature)
    slow, ss = sample(tiny_generator.model, [plan], temperature=temperature, steps=CoupletRerun)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def aligned_model(tiny_generator):
    """A tiny encoder-decoder with the per-position head (untrained)."""
    from couplet.model import CoupletModel, ModelConfig
    torch.manual_seed(1)
    return CoupletModel(ModelConfig(vocab_size=len(tiny_generator.vocab), emb_dim=16, hidden=16, dropout=0.0,
                                    aligned_head=True)).eval()


@pytest.mark.parametrize("upper", UPPERS[:2])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_mixed_decoding_equals_naive(tiny_generator, aligned_model, upper, temperature):
    plan = make_plan(upper, tiny_generator.tables, Settings().rules())
    fast, fs = sample(aligned_model, [plan], temperature=temperature, align=0.4)
    slow, ss = sample(aligned_model, [plan], temperature=temperature, align=0.4, steps=CoupletRerun)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)
    fast, fs = beam(aligned_model, plan, width=4, align=0.4)
    slow, ss = beam_search_naive(aligned_model, plan, beam=4, align=0.4)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)


def test_batch_reads_the_head_step_by_step_and_agrees(tiny_generator, aligned_model):
    """A batch of HEAD_PER_STEP_ROWS or more 上联 reads the per-position head at each step instead of
    once per line: the same log-probs as the naive decoder, row by row."""
    from couplet.decode import HEAD_PER_STEP_ROWS, make_plans
    lines = ("天增岁月人增寿", "春回大地千山秀", "一帆风顺年年好")
    uppers = [u for u in lines for _ in range(HEAD_PER_STEP_ROWS // 3 + 1)]
    plans = make_plans(uppers, tiny_generator.tables, Settings().rules())
    steps = CoupletSteps(aligned_model, plans, 0.4)
    assert steps.per_step and steps.prior is None
    fast, fs = decode(steps, plans, sampler(0.0), repeats=True)
    slow, ss = decode(CoupletRerun(aligned_model, plans, 0.4), plans, sampler(0.0), repeats=True)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)


def test_plans_made_together_are_read_as_their_batch(tiny_generator):
    """A whole batch of plans, in order, is used as the tensors it was made in (no copy); any other
    list of plans (a part, another order, one plan repeated) is stacked, with the same values."""
    from couplet.decode import _stack, make_plans
    plans = make_plans(["天增岁月人增寿", "春回大地千山秀", "一帆风顺年年好"], tiny_generator.tables, Settings().rules())
    whole = _stack(plans)
    assert all(a is b for a, b in zip(whole, plans[0].batch[0]))
    for others in (plans[::-1], plans[:2], [plans[1]] * 3):
        stacked = _stack(others)
        assert stacked[1].data_ptr() != whole[1].data_ptr()
        for got, name in zip(stacked, ("src", "allowed", "forced", "link")):
            assert torch.equal(got, torch.stack([getattr(p, name) for p in others]))


def test_layers_as_functions_compute_what_the_modules_do(tiny_generator):
    """`as_function`: an int8 linear or GRU layer called as its op, an fp32 linear as F.linear,
    give exactly what the module gives."""
    from couplet.model import as_function, quantized
    q = quantized(tiny_generator.model)
    torch.manual_seed(0)
    with torch.inference_mode():
        for layer in (q.combine, q.out_proj, tiny_generator.model.combine):
            x = torch.randn(3, layer.in_features)
            assert torch.equal(as_function(layer)(x), layer(x))
        x, h = torch.randn(2, 1, q.decoder.input_size), torch.randn(1, 2, q.decoder.hidden_size)
        for got, want in zip(as_function(q.decoder)(x, h), q.decoder(x, h)):
            assert torch.equal(got, want)
        assert as_function(tiny_generator.model.decoder) is tiny_generator.model.decoder


def test_align_weight_moves_between_decoder_and_head(tiny_generator, aligned_model):
    """0 is the decoder alone; 1 is the head alone, whose greedy pick is its per-position argmax."""
    upper = "天增岁月人增寿"
    plan = make_plan(upper, tiny_generator.tables, Settings(tone="off", repeats=False, no_copy=False).rules())
    base, _ = sample(aligned_model, [plan], align=0.0, repeats=False)
    ignored = tiny_generator.model  # a model without the head ignores the weight
    a, _ = sample(ignored, [plan], align=0.0, repeats=False)
    b, _ = sample(ignored, [plan], align=0.7, repeats=False)
    assert torch.equal(a, b)
    head_only, _ = sample(aligned_model, [plan], align=1.0, repeats=False)
    with torch.no_grad():
        memory = aligned_model.encode(plan.src[None])[0]
        logits = aligned_model.aligned(memory)[0].masked_fill(~plan.allowed, float("-inf"))
    assert torch.equal(head_only[0], logits.argmax(-1))
    assert base.shape == head_only.shape


@pytest.mark.parametrize("upper", UPPERS)
def test_beam_equals_naive(tiny_generator, upper):
    plan = make_plan(upper, tiny_generator.tables, Settings().rules())
    fast, fs = beam(tiny_generator.model, plan, width=4)
    slow, ss = beam_search_naive(tiny_generator.model, plan, beam=4)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("align", [0.0, 0.4])
def test_beams_of_a_batch_are_each_lines_own_beam(tiny_generator, aligned_model, align):
    """`Beams` decodes several 上联 side by side: each line's rows, scores and order are what
    `Beam(width)` gives that line alone, with the frequency bonus and the head's mix; a line with
    fewer continuations than the width (every char locked) leaves its extra rows at -inf."""
    uppers = ["天增岁月人增寿", "春回大地千山秀", "明月几时有", "海内存知己，天涯若比邻"]
    model = aligned_model if align else tiny_generator.model
    bonus = torch.randn(len(tiny_generator.vocab)) * 0.1
    dead = 0
    for group, locks in (([uppers[0], uppers[1]], None), ([uppers[2]] * 3, [None, "天增岁__", "天增岁月人"]),
                         ([uppers[3]], None)):
        plans = make_plans(group, tiny_generator.tables, Settings().rules(), locks=locks)
        beams = Beams(4, len(plans), bonus=bonus)
        ids, scores = decode(CoupletSteps(model, plans, align), plans, beams, repeats=True)
        for k, plan in enumerate(plans):
            alone, alone_scores = decode(CoupletSteps(model, [plan], align), [plan], Beam(4, bonus=bonus),
                                         repeats=True)
            got, got_scores = ids[4 * k:4 * k + 4], scores[4 * k:4 * k + 4]
            live = got_scores > float("-inf")
            assert int(live.sum()) == len(alone) and bool(live[:len(alone)].all())
            dead += 4 - len(alone)
            assert torch.equal(got[:len(alone)], alone)
            torch.testing.assert_close(got_scores[:len(alone)], alone_scores, rtol=1e-5, atol=1e-5)
    assert dead > 0


def test_beam_of_width_one_is_greedy(tiny_generator):
    """One loop for both: a beam of one row keeps the argmax at every step, as greedy does."""
    for upper in UPPERS:
        plan = make_plan(upper, tiny_generator.tables, Settings().rules())
        g, gs = sample(tiny_generator.model, [plan])
        b, bs = beam(tiny_generator.model, plan, width=1)
        assert torch.equal(g, b) and torch.allclose(gs, bs)


@pytest.mark.parametrize("form, mode, text, rows", [
    ("五绝", "acrostic", "春山风月", 1), ("七律", "keywords", "明月", 1), ("七绝", "first", "春", 1),
    ("七绝", "embed", "春山风月", 3),                                   # the char before each 嵌字 looks ahead
    ("五绝", "reply", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", 3)])   # and before a reply's rhymes
def test_poem_sample_equals_naive(tiny_poet, form, mode, text, rows):
    req = PoemRequest(form=form, mode=mode, text=text, pattern="平起", embed_pos=3, rhyme_lookahead=True)
    seed, _, plan, _ = tiny_poet.plan(req)
    width = plan.width + 1
    # the step before each rhyme looks ahead, and before each placed char after a free one
    placed = {i * width + 1 for i in range(len(text))} if mode == "embed" else set()
    assert plan.ahead == {t - 1 for t in plan.rhyme_pos} | placed
    seed_ids = torch.tensor([tiny_poet.vocab.encode(seed)])
    fast, fs, _ = sample_poems(PoemSteps(tiny_poet.model, seed_ids, rows), plan, tiny_poet.tables, rows=rows,
                               sampler=sampler(0.9, 2))
    slow, ss, _ = sample_poems(PoemRerun(tiny_poet.model, seed_ids), plan, tiny_poet.tables, rows=rows,
                               sampler=sampler(0.9, 2))
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fs, ss, rtol=1e-4, atol=1e-4)


def test_batched_rows_equal_single_rows(tiny_generator, monkeypatch):
    """generate_batch plans and decodes same-length lines together, BATCH_ROWS at a time; greedy
    gives each line its own result (a chunk of 18 rows picks with `argmax_rows`' block maxima).
    Exactly so with fp32 weights, as here: int8 quantizes a step's activations with one scale for
    the whole chunk (README, `--int8`)."""
    import random

    import couplet.generate as generate
    import couplet.sampling as sampling
    monkeypatch.setattr(generate, "BATCH_ROWS", 18)
    monkeypatch.setattr(sampling, "ARGMAX_BLOCK", 8)   # blocks narrow enough for the small fixture vocabulary
    pool = ["天增岁月人增寿", "爆竹声中辞旧岁", "一帆风顺年年好", "春回大地千山秀", "风风雨雨年年有"]
    rng = random.Random(0)
    lines = [rng.choice(pool) for _ in range(20)] + ["海内存知己", "abc", "书山有路勤"]
    results = tiny_generator.generate_batch(lines, Settings(n=1, shared_pair=0.0))  # each line on its own
    assert isinstance(results[21], InputError)
    for line, result in zip(lines, results):
        if line != "abc":
            assert result.candidates[0].lower == tiny_generator.generate(line, Settings(n=1)).candidates[0].lower


def test_paired_lines_fast_equals_naive(tiny_poet, tiny_generator):
    """律诗 with the couplet model mixed into the 颔联/颈联: the fast and the naive loop agree."""
    from couplet.poetry import PairedLines
    req = PoemRequest(form="七律", mode="keywords", text="明月")
    seed, _, plan, _ = tiny_poet.plan(req)
    seed_ids = torch.tensor([tiny_poet.vocab.encode(seed)])
    runs = []
    for steps in (PoemSteps(tiny_poet.model, seed_ids, 1), PoemRerun(tiny_poet.model, seed_ids)):
        pair = PairedLines(tiny_generator.model, tiny_generator.vocab, tiny_poet.vocab, plan, 0.5)
        runs.append(sample_poems(steps, plan, tiny_poet.tables, rows=1, sampler=sampler(0.9, 4), pair=pair))
    assert torch.equal(runs[0][0], runs[1][0])
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=1e-4, atol=1e-4)
    lines = tiny_poet.vocab.decode(runs[0][0][0].tolist())
    w = plan.width + 1
    for odd, even in ((2, 3), (4, 5)):
        assert not set(lines[odd * w:odd * w + plan.width]) & set(lines[even * w:even * w + plan.width])


def test_an_int8_copy_decodes_a_batch_with_its_fp32_gru(tiny_generator):
    """`quantized` keeps an fp32 copy of the decoder GRU, which the int8 step uses for a batch of
    BATCH_DECODER_LINES 上联 or more (a shared activation scale moved a batch's 下联); fewer lines,
    and a beam's rows, step through the int8 GRU."""
    import copy

    from couplet.model import BATCH_DECODER_LINES, CoupletModel, ModelConfig, quantized
    q = quantized(tiny_generator.model)
    fp32_gru = copy.deepcopy(q)
    fp32_gru.decoder = copy.deepcopy(tiny_generator.model.decoder)
    src = torch.randint(3, len(tiny_generator.vocab), (BATCH_DECODER_LINES, 6))
    prev = torch.randint(3, len(tiny_generator.vocab), (BATCH_DECODER_LINES,))
    with torch.inference_mode():
        memory, keys, hidden = q.encode(src)
        batch = q.stepper(lines=BATCH_DECODER_LINES)(prev, memory, keys, hidden, 2)
        alone = q.stepper(lines=1)(prev, memory, keys, hidden, 2)
        want = fp32_gru.stepper(lines=1)(prev, memory, keys, hidden, 2)
    assert torch.equal(batch[0], want[0]) and torch.equal(batch[1], want[1])
    assert not torch.equal(alone[1], want[1])
    tagger = quantized(CoupletModel(ModelConfig(vocab_size=20, emb_dim=8, hidden=8, decoder=False)))
    assert getattr(tagger, "batch_decoder", None) is None
