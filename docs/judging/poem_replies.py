"""Replies (次韵) read blind: for real poems of our test split, two replies written with (A) and without
(B) a variant (by default the rule that the char before a rhyme the reply must keep is one the corpus
writes before it; else --fields), shown as x and y in random order under the poem they answer. Both
are written with --base (default: no lookahead, the generator these readings compared against). Run from the
repository root:

    python docs/judging/poem_replies.py make --rng 5501 --per-form 8 --prefix poems-reply \
        --exclude docs/judging/poems-*key.json
    python docs/judging/poem_replies.py tally --prefix poems-reply
    python docs/judging/poem_replies.py make --rng 5601 --seed-base 5600 --prefix poems-reply16 \
        --fields '{"draws": 16}' --exclude docs/judging/poems-*key.json
    python docs/judging/poem_replies.py make --rng 5801 --seed-base 5800 --prefix poems-reply-group \
        --fields '{"reply_rhyme": "依韵"}' --exclude docs/judging/poems-*key.json

Writes docs/judging/PREFIX-key.json and PREFIX-part1.md, PREFIX-part2.md; the judges answer into
PREFIX-part{1,2}.answers.jsonl.
"""
import argparse
import json
import random
import statistics
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
sys.path.insert(0, str(Path(__file__).resolve().parent))
from couplet.poetry import FORMS, PoemGenerator, PoemRequest, check_form  # noqa: E402
from couplet.text import InputError  # noqa: E402
from poem_readings import real_poems, write_parts  # noqa: E402

CRITERIA = ("fluency (each line reads as natural classical Chinese), coherence (the lines belong together: one scene, "
            "thought or feeling that develops), meaning (the poem says something clear), poeticness (imagery, diction, "
            "craft), reply (it answers the poem above: its subject or feeling, and its rhyme characters sit naturally "
            "rather than forced)")
SCORES = ("fluency", "coherence", "meaning", "poeticness", "reply")


@contextmanager
def with_neighbour_rule(gen: PoemGenerator):
    """The variant read (not built into the generator): with the attested-bigram rule on, the char
    written right before a placed one (a reply's rhyme, a 嵌字 char) is one the corpus writes before it,
    where the other rules leave one."""
    from couplet import poemrules
    v, bigrams, rows = len(gen.vocab), gen.tables.bigrams, {}

    def preceders(b: int) -> torch.Tensor:
        if b not in rows:
            rows[b] = torch.zeros(v, dtype=torch.bool)
            rows[b][bigrams[bigrams % v == b] // v] = True
        return rows[b]

    plain = poemrules.PoemState.mask

    def mask(self, t: int) -> torch.Tensor:
        m, plan, nxt = plain(self, t), self.plan, t + 1
        if (plan.attested and nxt < len(plan.forced) and plan.forced[t] < 0 and plan.forced[nxt] >= 0
                and nxt % (plan.width + 1) != plan.width):
            narrowed = m & preceders(int(plan.forced[nxt]))
            ok = poemrules.rows_with_any(narrowed)
            m[ok] = narrowed[ok]
        return m

    poemrules.PoemState.mask = mask
    try:
        yield
    finally:
        poemrules.PoemState.mask = plain


def make(args) -> None:
    gen = PoemGenerator.load()
    rng = random.Random(args.rng)
    real = real_poems(gen, args.exclude)
    items = []
    for form in FORMS:
        kept = 0
        for i, p in enumerate(rng.sample(real[form], len(real[form]))):
            if kept == args.per_form:
                break
            text = "".join(x + ("，" if k % 2 == 0 else "。") for k, x in enumerate(p["lines"]))
            req = replace(PoemRequest(mode="reply", text=text, n=1, seed=args.seed_base + i, title=False),
                          **json.loads(args.base))
            if args.fields:   # A: these request fields instead of the neighbour rule
                try:
                    a = gen.generate(replace(req, **json.loads(args.fields))).poems[0].lines
                except InputError:   # 依韵 of a poem that rhymes in 仄声
                    continue
            else:
                with with_neighbour_rule(gen):
                    a = gen.generate(req).poems[0].lines
            b = gen.generate(req).poems[0].lines
            if a == b:
                continue
            kept += 1
            cands = [{"who": "A", "lines": a}, {"who": "B", "lines": b}]
            rng.shuffle(cands)
            items.append({"form": form, "title": p["title"], "author": p["author"], "answered": text, "cands": cands})
    rng.shuffle(items)
    for i, it in enumerate(items, 1):
        it["item"] = i
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    how = ("with its rhyme characters in the same places (次韵)" if "reply_rhyme" not in args.fields else
           "rhyming with it, either with its rhyme characters in the same places (次韵) or in its rhyme group (依韵), "
           "both accepted ways of answering a poem")
    title = "和诗" if "reply_rhyme" in args.fields else "次韵"
    head = (f"# {title} reading, part %d\n\nEach item gives a classical Chinese poem and two replies to it, x and y, written "
            f"in its form {how}, in no particular order. For each reply give "
            f"1–5 scores on: {CRITERIA}. Then say which reply you would keep (or tie).\n\nAnswer in one JSON line per "
            "item: {\"item\": N, \"x\": [fluency, coherence, meaning, poeticness, reply], \"y\": [...], "
            "\"better\": \"x|y|tie\"}\n\n")
    write_parts(args.prefix, items, head, lambda it: (
        f"## item {it['item']} ({it['form']})\nthe poem: {it['answered']}\n"
        + "\n".join(f"{lab}: " + "".join(c["lines"]) for lab, c in zip("xy", it["cands"])) + "\n"))


def auto(args) -> None:
    """Replies to per-form test-split poems written with --base, with the neighbour rule beside it, and
    with the lookahead: form, rhyme chars in place, lines of the answered poem taken, how many (char,
    rhyme after it) pairs the corpus never writes, and the rhyme chars' mean log-prob."""
    gen = PoemGenerator.load()
    real = real_poems(gen, args.exclude)
    v = len(gen.vocab)
    pairs = set(gen.tables.bigrams.tolist())
    base = json.loads(args.base)
    for name, fields, rule in (("neighbour rule", base, True), ("base", base, False),
                               ("lookahead", {**base, "lookahead": True}, False)):
        counts = dict.fromkeys(("replies", "form", "rhymes in place", "lines taken", "rhymes", "unattested"), 0)
        logps = []
        for form in FORMS:
            width = FORMS[form][1]
            for i, p in enumerate(random.Random(args.rng).sample(real[form], args.per_form)):
                text = "".join(x + ("，" if k % 2 == 0 else "。") for k, x in enumerate(p["lines"]))
                lines, _, first = gen.answered(text)
                ends = [k for k in range(len(lines)) if k % 2 == 1 or (k == 0 and first)]
                req = PoemRequest(mode="reply", text=text, n=1, seed=args.seed_base + i, title=False, **fields)
                if rule:
                    with with_neighbour_rule(gen):
                        res = gen.generate(req)
                else:
                    res = gen.generate(req)
                for q in res.poems:
                    counts["replies"] += 1
                    counts["form"] += check_form(q.lines, form)
                    counts["rhymes in place"] += all(q.lines[k][width - 1] == lines[k][-1] for k in ends)
                    counts["lines taken"] += any(x.rstrip("，。") in lines for x in q.lines)
                    for k in ends:
                        a, b = gen.vocab.encode(q.lines[k][width - 2:width])
                        counts["rhymes"] += 1
                        counts["unattested"] += a * v + b not in pairs
                    logps += rhyme_logps(gen, res.seed, q.lines, ends, width)
        print(f"{name}: " + ", ".join(f"{k} {n}" for k, n in counts.items())
              + f", the rhyme chars' mean log-prob {statistics.mean(logps):.3f}")


@torch.inference_mode()
def rhyme_logps(gen: PoemGenerator, seed: str, lines: list[str], ends: list[int], width: int) -> list[float]:
    """The poem model's log-prob of each rhyme char (lines `ends`) given the poem before it and the seed."""
    from couplet.model import shift_right
    from couplet.poemrules import seed_batch
    from couplet.vocab import Vocab
    ids = torch.tensor([gen.vocab.encode("".join(lines))])
    logits = gen.model(seed_batch(gen.vocab, [seed], gen.model.cfg.max_seed), shift_right(ids, Vocab.bos_id))
    logp = torch.log_softmax(logits.float(), dim=-1)[0]
    return [float(logp[k * (width + 1) + width - 1, ids[0, k * (width + 1) + width - 1]]) for k in ends]


def tally(args) -> None:
    key = {it["item"]: it for it in json.load(open(f"docs/judging/{args.prefix}-key.json", encoding="utf-8"))}
    scores = {"A": [], "B": []}
    kept = {"A": 0, "B": 0, "tie": 0}
    for part in (1, 2):
        path = Path(f"docs/judging/{args.prefix}-part{part}.answers.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            a = json.loads(line)
            who = {lab: c["who"] for lab, c in zip("xy", key[a["item"]]["cands"])}
            for lab in "xy":
                scores[who[lab]].append(a[lab])
            kept[who.get(a["better"], "tie")] += 1
    for name, rows in scores.items():
        means = " / ".join(f"{statistics.mean(r[k] for r in rows):.2f}" for k in range(len(SCORES)))
        rated = sum(statistics.mean(r[:4]) >= 3 for r in rows)
        print(f"{name}: {' / '.join(SCORES)} {means}; rated 3+ {rated} / {len(rows)}; kept {kept[name]}")
    print(f"ties {kept['tie']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["make", "auto", "tally"])
    ap.add_argument("--prefix", default="poems-reply", help="make, tally: file names under docs/judging/")
    ap.add_argument("--rng", type=int, default=0, help="make: seed of the draws of poems and order")
    ap.add_argument("--seed-base", type=int, default=5500, help="make: request seeds are this plus the poem's index")
    ap.add_argument("--per-form", type=int, default=8, help="make: poems per form")
    ap.add_argument("--exclude", nargs="*", default=[], help="make: keys of earlier readings whose poems are left out")
    ap.add_argument("--base", default='{"lookahead": false}',
                    help="make: PoemRequest fields (JSON) of both systems; the default is the generator as these "
                         "readings had it, before the lookahead went on")
    ap.add_argument("--fields", default="", help="make: A is the shipped generator with these PoemRequest fields "
                                                 "(JSON) instead of the neighbour rule")
    args = ap.parse_args()
    {"make": make, "auto": auto, "tally": tally}[args.what](args)


if __name__ == "__main__":
    main()
