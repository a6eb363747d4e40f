"""Keep and rewrite (`--lock`), checked on real poems of our test split: for each form, poems locked
three ways (the first line kept; the first and third lines kept; a quarter of the chars kept at
random), one poem written for each with the defaults. Counts the form, the kept chars in place,
a shared 平声 rhyme group where the kept rhymes allow one, free lines that are the real poem's own,
and lines found in the corpus; prints some to read. Run from the repository root:

    python docs/judging/poem_locks.py --rng 91 --per-form 10
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
sys.path.insert(0, str(Path(__file__).resolve().parent))
from couplet.poetry import FORMS, PoemGenerator, PoemRequest, check_form  # noqa: E402
from couplet.prosody import PING  # noqa: E402
from couplet.poemrules import first_line_rhymes  # noqa: E402
from poem_readings import real_poems  # noqa: E402

KINDS = ("first line", "lines 1 and 3", "a quarter of the chars")


def lock_of(lines: list[str], kind: str, rng: random.Random) -> str:
    """The lock of a real poem's lines: the kept chars, _ elsewhere, a line each."""
    if kind == "a quarter of the chars":
        return "\n".join("".join(c if rng.random() < 0.25 else "_" for c in x) for x in lines)
    keep = {0} if kind == "first line" else {0, 2}
    return "\n".join(x if i in keep else "_" * len(x) for i, x in enumerate(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rng", type=int, default=91, help="draws the poems and the random locks")
    ap.add_argument("--per-form", type=int, default=10, help="real poems per form (each locked three ways)")
    ap.add_argument("--show", type=int, default=8, help="poems printed to read")
    args = ap.parse_args()
    gen = PoemGenerator.load()
    rng = random.Random(args.rng)
    pool = real_poems(gen, [])
    counts = dict.fromkeys(("poems", "form", "kept in place", "rhymes", "rhymes possible", "free lines",
                            "free lines the real poem's", "free lines found in the corpus"), 0)
    shown, times = [], []
    for form in FORMS:
        for p in rng.sample(pool[form], args.per_form):
            lines = [x.rstrip("，。") for x in p["lines"]]
            for kind in KINDS:
                lock = lock_of(lines, kind, rng)
                t0 = time.perf_counter()
                res = gen.generate(PoemRequest(lock=lock, n=1, seed=rng.randrange(10 ** 6)))
                times.append(time.perf_counter() - t0)
                poem = res.poems[0]
                got = [x.rstrip("，。") for x in poem.lines]
                kept = [(i, j, c) for i, x in enumerate(lock.split("\n")) for j, c in enumerate(x) if c != "_"]
                first = first_line_rhymes(form, res.request.first_rhymes)
                ends = [i for i in range(len(lines)) if i % 2 == 1 or (i == 0 and first)]
                # the kept rhymes leave a group open when they share one (a lock of 仄 rhymes cannot)
                locked_ends = [lines[i] for i in ends if any(k[0] == i and k[1] == len(lines[0]) - 1 for k in kept)]
                shared = None
                for x in locked_ends:
                    g = {g for g in gen.prosody.rhymes.get(x[-1], []) if gen.prosody.groups.get(g) == PING}
                    shared = g if shared is None else shared & g
                possible = shared is None or bool(shared)
                free = [i for i in range(len(lines)) if not any(k[0] == i for k in kept)]
                counts["poems"] += 1
                counts["form"] += check_form(poem.lines, form) and res.request.form == form
                counts["kept in place"] += all(got[i][j] == c for i, j, c in kept)
                counts["rhymes possible"] += possible
                counts["rhymes"] += possible and poem.rhyme_group is not None
                counts["free lines"] += len(free)
                counts["free lines the real poem's"] += sum(got[i] == lines[i] for i in free)
                counts["free lines found in the corpus"] += sum(i + 1 in poem.copied_lines for i in free)
                if len(shown) < args.show and kind != "a quarter of the chars" and rng.random() < 0.5:
                    shown.append((kind, lines, poem))
    for k, v in counts.items():
        print(f"{k:28s} {v}")
    print(f"p50 {1000 * statistics.median(times):.0f} ms a poem (one thread)")
    for kind, lines, poem in shown:
        print(f"\n{kind}: real {'，'.join(lines)}\n  ours 《{poem.title}》 {''.join(poem.lines)} ({poem.score:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
