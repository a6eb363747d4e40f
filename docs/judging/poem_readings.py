"""The poem readings' files: seeds drawn from real poems of our test split, written by the shipped
generator, the key kept apart from what the judges read. Run from the repository root.

    # ours against real poems (6 per form: keywords ×3, title as theme, first char, acrostic)
    python docs/judging/poem_readings.py real --rng 83 --seed-base 1100 --prefix poems-v4 \
        --exclude docs/judging/poems-v3-key.json docs/judging/poems-lines-key.json ...
    # variants of our decoding side by side on the same seeds
    python docs/judging/poem_readings.py variants --rng 59 --seed-base 900 --per-form 10 \
        --prefix poems-draws --systems '{"B": {}, "D": {"draws": 8}}'

Writes docs/judging/PREFIX-key.json and PREFIX-part1.md, PREFIX-part2.md. The recorded readings
were made with earlier one-off versions of this code (their acrostic lists and wording differed a
little), so it does not redraw them exactly; their keys are the record of what was read.
"""
import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
from couplet.corpus import split_of  # noqa: E402
import couplet.poetry as P  # noqa: E402
from couplet.poetry import FORMS, PoemGenerator, PoemRequest, Written  # noqa: E402

ACROSTICS = {4: ["风花雪月", "琴棋书画", "梅兰竹菊", "春夏秋冬", "山高水长"], 8: ["春夏秋冬风花雪月", "山高水长云淡风轻"]}
CRITERIA = ("fluency (each line reads as natural classical Chinese), coherence (the lines belong together: one scene, "
            "thought or feeling that develops), meaning (the poem says something clear), poeticness (imagery, diction, "
            "craft)")


def real_poems(gen: PoemGenerator, exclude: list[str], splits: tuple[str, ...] = ("test",)) -> dict[str, list[dict]]:
    """Held-out poems (test split, or the splits named) by form, in the model's vocabulary, with a plain
    title, none already read."""
    used = set()
    for path in exclude:
        for it in json.load(open(path, encoding="utf-8")):
            used.add(it.get("seed", ""))
            used.add("".join(it.get("lines", [])).replace("，", "").replace("。", ""))
    out = {f: [] for f in FORMS}
    with open("data/processed/poems.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            form = {(4, 5): "五绝", (4, 7): "七绝", (8, 5): "五律", (8, 7): "七律"}.get((len(p["lines"]), len(p["lines"][0])))
            title = p.get("title", "")
            if (form and split_of(p["lines"][0]) in splits and p.get("keywords") and 2 <= len(title) <= 12
                    and all("\u4e00" <= c <= "\u9fff" for c in title)
                    and all(c in gen.known for x in p["lines"] for c in x)
                    and "".join(p["lines"]) not in used and title not in used):
                out[form].append(p)
    return out


def seed_of(p: dict, i: int, rng: random.Random) -> tuple[str, str]:
    """The i-th seed mode of a real poem: its keywords (three ways), its title, its first char, an acrostic."""
    kw = p["keywords"]
    return [("keywords", " ".join(kw[:2])), ("keywords", kw[0]), ("keywords", " ".join(kw[1:3]) or kw[0]),
            ("theme", p["title"]), ("first", p["lines"][0][0]),
            ("acrostic", rng.choice(ACROSTICS[len(p["lines"])]))][i % 6]


def write_parts(prefix: str, items: list[dict], head: str, render) -> None:
    half = len(items) // 2
    for part in (1, 2):
        chunk = items[:half] if part == 1 else items[half:]     # an odd last item goes to part 2
        with open(f"docs/judging/{prefix}-part{part}.md", "w", encoding="utf-8") as f:
            f.write(head % part + "\n".join(render(it) for it in chunk))


def against_real(gen, real, rng, args) -> None:
    items, written = [], Written() if args.batch else None
    for form in FORMS:
        for i, p in enumerate(rng.sample(real[form], 6)):
            mode, text = seed_of(p, i, rng)
            res = gen.generate(PoemRequest(form=form, mode=mode, text=text, n=1, seed=args.seed_base + i),
                               avoid=written)
            human = [x + ("，" if k % 2 == 0 else "。") for k, x in enumerate(p["lines"])]
            items.append({"form": form, "who": "ours", "mode": mode, "seed": text, "lines": res.poems[0].lines})
            items.append({"form": form, "who": "human", "title": p["title"], "author": p["author"], "lines": human})
    rng.shuffle(items)
    for i, it in enumerate(items, 1):
        it["item"] = i
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    head = ("# 诗 blind reading, part %d\n\nEach item is a classical Chinese poem (五绝, 七绝, 五律 or 七律). Some were "
            "written by people (Tang and Song poets), some by a machine; you are not told which. For each poem give "
            f"1–5 scores on: {CRITERIA}, and guess who wrote it (human/machine).\n\nAnswer in one JSON line per item: "
            "{\"item\": N, \"fluency\": x, \"coherence\": x, \"meaning\": x, \"poeticness\": x, "
            "\"author\": \"human|machine\"}\n")
    write_parts(args.prefix, items, head, lambda it: f"## item {it['item']} ({it['form']})\n" + "\n".join(it["lines"]) + "\n")


def _without_pairs(line_judge):
    def judge(*args, **kwargs):
        j = line_judge(*args, **kwargs)
        j.season_pair = None
        return j
    return judge


def _stray_double(tables, lines: list[str]) -> bool:
    """Whether a poem doubles a char where the shipped rule would not let it (`PoemState._doubles_in_context`)."""
    v, contexts = len(tables.vocab), tables.double_contexts or set()
    for x in lines:
        body = x.rstrip("，。")
        for i in range(1, len(body)):
            if body[i] == body[i - 1]:
                a = tables.vocab.stoi[body[i]]
                before = tables.vocab.stoi[body[i - 2]] if i >= 2 else tables.vocab.pad_id
                if not tables.double_ok[a] or before * v + a not in contexts:
                    return True
    return False


def _seasons(tables, lines: list[str]) -> int:
    """How many seasons a poem marks, by chars and pairs (`couplet.poemrules.season_marks`)."""
    from couplet.poemrules import season_marks
    of, stoi, unk = tables.season_of.tolist(), tables.vocab.stoi, tables.vocab.unk_id
    return len(set().union(*(season_marks([stoi.get(c, unk) for c in x], of, tables.season_pair) for x in lines)))


def variants(gen, real, rng, args) -> None:
    systems = json.loads(args.systems)
    # a system may name its own checkpoint ("checkpoint": DIR); the rest of its fields are PoemRequest's
    gens = {name: PoemGenerator.load(cfg.pop("checkpoint")) if "checkpoint" in cfg else gen
            for name, cfg in systems.items()}
    for name, cfg in systems.items():   # "old_doubles": the doubles rule before contexts (the char alone)
        if cfg.pop("old_doubles", False):
            gens[name] = PoemGenerator.load()
            gens[name].tables.double_contexts = None
        if cfg.pop("no_season_pairs", False):   # the season steer by single chars alone
            gens[name] = PoemGenerator.load()
            gens[name].tables.season_pair, gens[name].tables.season_after = {}, {}
        if cfg.pop("judge_no_pairs", False):    # the line choice's season cost by single chars alone
            gens[name] = PoemGenerator.load()
            gens[name].line_judge = _without_pairs(gens[name].line_judge)
    # "occasion_seasons": false, the code before an occasion's season was read as the seed's
    seasons = {name: cfg.pop("occasion_seasons", True) for name, cfg in systems.items()}
    # "occasion_beside": true, the words typed beside an occasion's steered toward (off by default)
    beside = {name: cfg.pop("occasion_beside", False) for name, cfg in systems.items()}
    # "occasion_festive": false, the code before a happy occasion's poems left out the chars of grief
    festive = {name: cfg.pop("occasion_festive", True) for name, cfg in systems.items()}
    items, written = [], {name: Written() if args.batch else None for name in systems}
    if args.wishes:   # seeds as a user types them, the forms in turn
        forms = args.forms or list(FORMS)
        for i, text in enumerate(args.wishes.split(",")):
            form = forms[i % len(forms)]
            req = PoemRequest(form=form, mode="keywords", text=text, n=1, seed=args.seed_base + i, title=False)
            cands = []
            for name, cfg in systems.items():
                P.OCCASION_SEASONS, P.OCCASION_BESIDE, P.OCCASION_FESTIVE = seasons[name], beside[name], festive[name]
                res = gens[name].generate(replace(req, **cfg))
                cands.append({"who": name, "lines": res.poems[0].lines, "plan": res.plan, "score": res.poems[0].score})
            if args.differ and len({tuple(c["lines"]) for c in cands}) < 2:
                continue
            rng.shuffle(cands)
            items.append({"form": form, "mode": "keywords", "seed": text, "cands": cands})
    for form in (args.forms or FORMS) if not args.wishes else ():
        # --differ: seeds drawn until per_form of them give poems that differ between the systems
        pool = rng.sample(real[form], len(real[form]) if args.differ else args.per_form)
        kept = 0
        for i, p in enumerate(pool):
            if kept == args.per_form:
                break
            mode, text = seed_of(p, i, rng)
            req = PoemRequest(form=form, mode=mode, text=text, n=1, seed=args.seed_base + i, title=False)
            if args.embed:   # 嵌字: a four- or eight-char phrase, one char a line at a position past the first
                mode, text = "embed", rng.choice(ACROSTICS[len(p["lines"])])
                req = replace(req, mode=mode, text=text, embed_pos=rng.randint(2, FORMS[form][1]))
                text = f"{text} at {req.embed_pos}"
            cands = []
            for name, cfg in systems.items():
                res = gens[name].generate(replace(req, **cfg), avoid=written[name])
                cands.append({"who": name, "lines": res.poems[0].lines, "plan": res.plan, "score": res.poems[0].score})
            if args.differ and len({tuple(c["lines"]) for c in cands}) < 2:
                continue
            if args.doubled and not any(_stray_double(gen.tables, c["lines"]) for c in cands):
                continue
            if args.clashing and (mode == "acrostic" or not any(_seasons(gen.tables, c["lines"]) >= 2 for c in cands)):
                continue
            kept += 1
            rng.shuffle(cands)
            items.append({"form": form, "mode": mode, "seed": text, "cands": cands})
    rng.shuffle(items)
    for i, it in enumerate(items, 1):
        it["item"] = i
    json.dump(items, open(f"docs/judging/{args.prefix}-key.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    labels = "xyz"[:len(systems)]
    criteria, fields = CRITERIA, "fluency, coherence, meaning, poeticness"
    if args.wishes:   # seeds as typed name an occasion or a subject: does the poem suit it?
        criteria += ", fit (the poem suits the occasion or subject the seed names)"
        fields += ", fit"
    head = ("# 诗 reading, part %d\n\nEach item gives a seed (keywords, a theme, a first character or an acrostic) and "
            f"{len(systems)} classical Chinese poems (五绝, 七绝, 五律 or 七律) written for it, labelled "
            f"{', '.join(labels)} in no particular order. For each poem give 1–5 scores on: {criteria}. Then "
            + ("say which one you would keep (or tie).\n\nAnswer in one JSON line per item: {\"item\": N, "
               f"\"x\": [{fields}], \"y\": [...], \"better\": \"x|y|tie\"}}\n\n"
               if len(systems) == 2 else
               "rank them from best to worst as a reader who wants to keep one.\n\nAnswer in one JSON line per "
               "item: {\"item\": N, \"x\": [fluency, coherence, meaning, poeticness], \"y\": [...], \"z\": [...], "
               "\"rank\": \"yxz\"}\n\n"))
    write_parts(args.prefix, items, head, lambda it: (
        f"## item {it['item']} ({it['form']}; seed: {it['mode']} {it['seed']})\n"
        + "\n".join(f"{lab}: " + "".join(c["lines"]) for lab, c in zip(labels, it["cands"])) + "\n"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["real", "variants"])
    ap.add_argument("--rng", type=int, required=True, help="seed of the draws of poems, modes and order")
    ap.add_argument("--seed-base", type=int, required=True, help="request seeds are this plus the item's index")
    ap.add_argument("--prefix", required=True, help="file names under docs/judging/")
    ap.add_argument("--exclude", nargs="*", default=[], help="keys of earlier readings whose poems are left out")
    ap.add_argument("--splits", nargs="+", default=["test"],
                    help="where the real poems come from: test (default), and valid once the test 五绝 are all read")
    ap.add_argument("--per-form", type=int, default=12, help="variants: seeds per form")
    ap.add_argument("--systems", default='{"A": {}}',
                    help="variants: name -> PoemRequest fields (and \"checkpoint\"), as JSON")
    ap.add_argument("--forms", nargs="*", default=None, help="variants: only these forms (default: all four)")
    ap.add_argument("--embed", action="store_true", help="variants: 嵌字 seeds (an acrostic phrase at a random position)")
    ap.add_argument("--differ", action="store_true",
                    help="variants: keep only seeds whose poems differ between the systems (a rule that touches few)")
    ap.add_argument("--doubled", action="store_true",
                    help="variants: keep only seeds where a poem doubles a char the shipped doubles rule would not "
                         "let it double there (with a system of \"old_doubles\": true, the rule before contexts)")
    ap.add_argument("--clashing", action="store_true",
                    help="variants: keep only seeds (not acrostics) where a poem marks two seasons (春 and 菊, say)")
    ap.add_argument("--wishes", default=None,
                    help="variants: these keyword seeds as a user types them (comma-separated), the forms in turn, "
                         "instead of seeds drawn from real poems")
    ap.add_argument("--batch", action="store_true",
                    help="each system writes its poems as one batch file does, in order (no line repeated, and "
                         "with shared_phrase, phrases costed)")
    args = ap.parse_args()
    gen = PoemGenerator.load()
    real = real_poems(gen, args.exclude, tuple(args.splits))
    (against_real if args.what == "real" else variants)(gen, real, random.Random(args.rng), args)


if __name__ == "__main__":
    main()
