"""The poem's plan (a keyword per line) and the line-by-line choice of the best draw."""
import random
from dataclasses import replace

import pytest
import torch

from couplet.plan import PlanTable, build_plan_table, plan_lines
from couplet.poemrules import LineJudge, PoemSteps, sample_poems, seed_batch
from couplet.sampling import Sampler
from couplet.poetry import FORMS, PoemRequest, check_form


@pytest.fixture(scope="module")
def table():
    words = ["明月", "清风", "孤舟", "故人", "江水", "白云", "月色"]
    neighbours = {"月": [0, 1, 2, 6], "明月": [1, 3, 2, 6], "清风": [0, 5], "秋": [4, 5, 2]}
    return PlanTable(words, [0.1, 0.3, 0.5, 0.9, 0.2, 0.4, 0.6], [0.001] * len(words), neighbours)


@pytest.mark.parametrize("form", list(FORMS))
def test_plan_has_a_keyword_per_line(table, form):
    n_lines = FORMS[form][0]
    plan = plan_lines(["明月"], n_lines, table, rng=random.Random(0))
    assert len(plan) == n_lines and plan[0] == "明月"
    distinct = list(dict.fromkeys(plan))
    assert len(distinct) == 4
    assert all(not set(a) & set(b) for i, a in enumerate(distinct) for b in distinct[i + 1:])  # no shared char
    if n_lines == 8:
        assert all(plan[2 * i] == plan[2 * i + 1] for i in range(4))   # one keyword per 联
    later = [table.position[table.words.index(w)] for w in distinct[1:]]
    assert later == sorted(later)                                      # scenes before feelings


def test_plan_is_reproducible_and_falls_back(table):
    a = plan_lines(["秋"], 4, table, rng=random.Random(3))
    assert a == plan_lines(["秋"], 4, table, rng=random.Random(3))
    assert plan_lines(["无关"], 4, table, rng=random.Random(0)) == ["无关"] * 4   # nothing related: carried on
    assert plan_lines([], 4, table, rng=random.Random(0)) == []
    assert table.related("秋月")[:2] == [4, 0]                          # an unknown word: its chars' rows


def test_build_plan_table_from_poems(prepared):
    t = build_plan_table(prepared / "poems.jsonl", min_poems=1, min_shared=1)
    assert t.words and all(len(w) == 2 for w in t.words)
    assert all(0.0 <= x <= 1.0 for x in t.position) and all(0.0 < x <= 1.0 for x in t.share)
    assert t.neighbours and all(0 <= i < len(t.words) for row in t.neighbours.values() for i in row)
    back = PlanTable.from_checkpoint(*t.to_checkpoint())
    assert back.neighbours == t.neighbours and back.words == t.words
    assert back.position == pytest.approx(t.position) and back.share == pytest.approx(t.share)


def SAMPLER():
    return Sampler(temperature=0.9, top_k=0, top_p=1.0, generator=torch.Generator().manual_seed(5))


def _sample(poet, req, *, rows, line_seeds=None, **kw):
    seed, _, plan, _ = poet.plan(req)
    ids = seed_batch(poet.vocab, [seed], poet.model.cfg.max_seed)
    steps = PoemSteps(poet.model, ids, rows, line_seeds=line_seeds, width=plan.width + 1)
    out, score, _ = sample_poems(steps, plan, poet.tables, rows=rows, sampler=SAMPLER(), **kw)
    return plan, out, score


def test_line_seeds_equal_to_the_poem_seed_change_nothing(tiny_poet):
    req = PoemRequest(form="五绝", mode="keywords", text="山水", seed=1)
    seed, _, plan, _ = tiny_poet.plan(req)
    same = tiny_poet.line_seeds([""] * plan.n_lines, seed)
    _, plain, s1 = _sample(tiny_poet, req, rows=4)
    _, steered, s2 = _sample(tiny_poet, req, rows=4, line_seeds=same)
    assert torch.equal(plain, steered) and torch.allclose(s1, s2)
    other = tiny_poet.line_seeds(["月", "风", "花", "雪"], seed)
    _, moved, _ = _sample(tiny_poet, req, rows=4, line_seeds=other)
    assert not torch.equal(plain, moved)


def test_each_line_is_the_best_of_its_group(tiny_poet):
    """With a coherence score that dwarfs the log-probs, every kept line is the group's candidate
    with the smallest first char; the rows of a group end identical."""
    seen = []

    def coherence(prev, line):
        seen.append(line.clone())
        return -100.0 * line[:, 0].float()
    req = PoemRequest(form="七绝", mode="keywords", text="山", seed=2)
    plan, out, _ = _sample(tiny_poet, req, rows=6, group=3, judge=LineJudge(width=8, coherence=coherence))
    w = plan.width + 1
    assert len(seen) == plan.n_lines - 1
    for k, cands in enumerate(seen, start=1):
        for g in range(2):
            best = cands[3 * g:3 * g + 3, 0].min()
            assert out[3 * g, k * w] == best
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2]) and torch.equal(out[3], out[5])


def test_generated_poems_carry_their_plan(tiny_poet, table):
    poet = tiny_poet
    chars = [c for c in poet.vocab.chars() if len(c) == 1 and "\u4e00" <= c <= "\u9fff"]
    words = [chars[i] + chars[i + 1] for i in range(0, 14, 2)]
    poet.plan_table = replace(table, words=words, neighbours={words[0]: [1, 2, 3, 4], chars[0]: [1, 2, 3]})
    try:
        res = poet.generate(PoemRequest(form="七绝", mode="keywords", text=words[0], n=2, seed=3, plan=True))
        assert len(res.plan) == 4 and res.plan[0] == words[0]
        assert all(check_form(p.lines, "七绝") for p in res.poems)
        acrostic = poet.generate(PoemRequest(form="五绝", mode="acrostic", text="".join(chars[:4]), plan=True))
        assert acrostic.plan == []                                      # every line already has its char
        off = poet.generate(PoemRequest(form="七绝", mode="keywords", text=words[0]))   # off by default
        assert off.plan == []
    finally:
        poet.plan_table = None


def test_reuse_cost_keeps_lines_from_repeating_earlier_chars(tiny_poet):
    def reused(poem):
        bodies = [x.rstrip("，。") for x in poem.lines]
        return sum(c in "".join(bodies[:i]) for i, b in enumerate(bodies) for c in b)
    counts = {}
    for cost in (0.0, 10.0):
        counts[cost] = sum(reused(p) for k in range(6) for p in tiny_poet.generate(
            PoemRequest(form="七律", mode="keywords", text="春山", n=2, seed=k, reuse=cost, max_uses=0)).poems)
    assert counts[10.0] < counts[0.0]


def test_line_judge_terms():
    # two lines of width 3 (+ punctuation id 9): ids 1 2 3 | 4 1 5
    out = torch.tensor([[1, 2, 3, 9, 4, 1, 5, 9], [1, 2, 3, 9, 6, 7, 8, 9], [1, 2, 3, 9, 4, 6, 5, 9]])
    keywords = torch.tensor([[1, 0], [4, 5]])
    judge = LineJudge(width=4, reuse=1.0, keywords=keywords, keyword_bonus=2.0)
    assert judge(1, out).tolist() == [-1.0 + 2.0, 0.0, 2.0]       # reused 1; whole keyword 4 5 / none / whole
    again = torch.tensor([[1, 2, 3, 9, 7, 8, 7, 9]])
    assert LineJudge(width=4, reuse=1.0)(1, again).tolist() == [-1.0]   # 7 twice in its own line
    assert LineJudge(width=4, keywords=keywords, keyword_bonus=2.0)(0, out[:, :4]).tolist() == [2.0, 2.0, 2.0]
    half = torch.tensor([[1, 2, 3, 9, 4, 6, 7, 9]])
    assert LineJudge(width=4, keywords=keywords, keyword_bonus=2.0)(1, half).tolist() == [1.0]


def test_seed_chars_brought_in_count_once():
    out = torch.tensor([[1, 2, 3, 9, 4, 1, 5, 9], [1, 2, 3, 9, 4, 6, 7, 9], [1, 2, 3, 9, 6, 7, 8, 9]])
    judge = LineJudge(width=4, seed=torch.tensor([1, 4]), seed_bonus=3.0)
    assert judge(1, out).tolist() == [3.0, 3.0, 0.0]     # 1 was in line 1 already; 4 is new in rows 0 and 1
    assert judge(0, out[:, :4]).tolist() == [3.0, 3.0, 3.0]


def test_keywords_find_their_way_into_the_poem(tiny_poet):
    chars = [c for c in tiny_poet.vocab.chars() if "\u4e00" <= c <= "\u9fff"]
    used = {}
    for bonus in (0.0, 10.0):
        used[bonus] = 0
        for k in range(8):
            a, b = chars[2 * k + 5], chars[2 * k + 6]
            res = tiny_poet.generate(PoemRequest(form="七绝", mode="keywords", text=f"{a} {b}", n=1, seed=k,
                                                 seed_bonus=bonus))
            text = "".join(res.poems[0].lines)
            used[bonus] += (a in text) + (b in text)
    assert used[10.0] > used[0.0]
