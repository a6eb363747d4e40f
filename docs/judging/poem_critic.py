"""Would a critic that tells people's poems from the generator's pick the poems readers keep? Writes
the generator's poems for seeds of train-split real poems (as the readings draw them from the test
split), trains a small Bi-GRU to tell them from real train-split poems, and counts how often, in every
judged pair of the side-by-side readings, the poem the judge kept (or ranked higher) scores higher,
beside the model's own score. Run from the repository root (about 10 minutes on 2 cores each step):

    python docs/judging/poem_critic.py fakes --shard 0 --shards 2 --per-form 400 --out ~/runs/critic &
    python docs/judging/poem_critic.py fakes --shard 1 --shards 2 --per-form 400 --out ~/runs/critic
    python docs/judging/poem_critic.py train --out ~/runs/critic --epochs 5
"""
import argparse
import glob
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for `couplet`
from couplet.corpus import split_of  # noqa: E402
from couplet.poetry import FORMS, PoemGenerator, PoemRequest, Written  # noqa: E402

SHAPES = {(4, 5): "五绝", (4, 7): "七绝", (8, 5): "五律", (8, 7): "七律"}
POEMS = "data/processed/poems.jsonl"


def punctuated(lines: list[str]) -> list[str]:
    return [x if x[-1] in "，。" else x + "，。"[k % 2] for k, x in enumerate(lines)]


def real_poems(split: str, known) -> list[dict]:
    out = []
    for line in open(POEMS, encoding="utf-8"):
        p = json.loads(line)
        if ((len(p["lines"]), len(p["lines"][0])) in SHAPES and split_of(p["lines"][0]) == split
                and all(c in known for x in p["lines"] for c in x)):
            out.append(p)
    return out


def fakes(args) -> None:
    """The shipped generator's poems (3 a request, batches of 20 requests) for train-split seeds, in
    the readings' seed modes; the acrostic is the real poem's own line openings. Resumes."""
    torch.set_num_threads(1)
    gen = PoemGenerator.load()
    pool = {f: [] for f in FORMS}
    for p in real_poems("train", gen.known):
        if p.get("keywords") and 2 <= len(p.get("title", "")) <= 12 and all(c in gen.known for c in p["title"]):
            pool[SHAPES[(len(p["lines"]), len(p["lines"][0]))]].append(p)
    rng = random.Random(7)
    items = [(f, p) for f in FORMS for p in rng.sample(pool[f], args.per_form * args.shards)]
    rng.shuffle(items)
    items = items[args.shard::args.shards]
    path = Path(args.out).expanduser() / f"fake{args.shard}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    done = sum(1 for _ in open(path, encoding="utf-8")) if path.exists() else 0
    written, t0 = Written(), time.time()
    with open(path, "a", encoding="utf-8") as out:
        for i, (form, p) in enumerate(items):
            if i % 20 == 0:
                written = Written()
            if i < done:
                continue
            kw = p["keywords"]
            mode, text = [("keywords", " ".join(kw[:2])), ("keywords", kw[0]), ("keywords", " ".join(kw[1:3]) or kw[0]),
                          ("theme", p["title"]), ("first", p["lines"][0][0]),
                          ("acrostic", "".join(x[0] for x in p["lines"]))][i % 6]
            res = gen.generate(PoemRequest(form=form, mode=mode, text=text, n=3, seed=10000 * args.shard + i,
                                           title=False), avoid=written)
            out.write(json.dumps({"i": i, "form": form, "mode": mode, "seed": text,
                                  "poems": [{"lines": q.lines, "score": q.score} for q in res.poems]},
                                 ensure_ascii=False) + "\n")
            out.flush()
            if i % 100 == 0:
                print(f"{i} of {len(items)}, {time.time() - t0:.0f} s", flush=True)


class Critic(nn.Module):
    """N vs 1: a Bi-GRU reads a whole poem (its punctuation too); mean and max pooled, one logit."""

    def __init__(self, vocab_size: int, emb: int = 128, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb)
        self.rnn = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(4 * hidden, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.drop(self.embed(x)))
        return self.head(self.drop(torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=-1))).squeeze(-1)


def judged_pairs() -> list[tuple[str, dict, dict]]:
    """(reading, kept, other) for every decided pair of our poems in the side-by-side readings."""
    pairs = []
    for key_path in sorted(glob.glob("docs/judging/poems-*-key.json")):
        prefix = key_path[:-len("-key.json")]
        key = json.load(open(key_path, encoding="utf-8"))
        if not isinstance(key, list) or "cands" not in key[0]:
            continue
        key = {it["item"]: it for it in key}
        for part in (1, 2):
            path = Path(f"{prefix}-part{part}.answers.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
                if not line.strip():
                    continue
                a = json.loads(line)
                cands = dict(zip("xyz", key[a["item"]]["cands"]))
                if "rank" in a:
                    order = list(a["rank"])
                elif a.get("better") in ("x", "y"):
                    order = [a["better"], "y" if a["better"] == "x" else "x"]
                else:
                    continue
                pairs += [(Path(prefix).name, cands[hi], cands[lo]) for i, hi in enumerate(order)
                          for lo in order[i + 1:] if cands[hi]["lines"] != cands[lo]["lines"]]
    return pairs


def train(args) -> None:
    torch.manual_seed(0)
    gen = PoemGenerator.load()
    vocab = gen.vocab
    machine = [punctuated(p["lines"]) for f in glob.glob(str(Path(args.out).expanduser() / "fake*.jsonl"))
               for line in open(f, encoding="utf-8") for p in json.loads(line)["poems"]]
    rng = random.Random(1)
    people = [punctuated(p["lines"]) for p in real_poems("train", gen.known)]
    people = rng.sample(people, min(len(people), 3 * len(machine)))

    def held(lines):   # a tenth of each kind, by hash, for validation
        return int(hashlib.md5("".join(lines).encode()).hexdigest()[:4], 16) % 10 == 0

    data = [(x, 1.0) for x in people] + [(x, 0.0) for x in machine]
    train_set, valid = [d for d in data if not held(d[0])], [d for d in data if held(d[0])]
    print(f"people's {len(people)}, machine {len(machine)}; train {len(train_set)}, valid {len(valid)}")
    model = Critic(len(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)

    def batches(items, size, shuffle):
        by_len: dict[int, list] = {}
        for x, y in items:
            by_len.setdefault(len("".join(x)), []).append((x, y))
        out = []
        for group in by_len.values():
            if shuffle:
                rng.shuffle(group)
            out += [group[i:i + size] for i in range(0, len(group), size)]
        if shuffle:
            rng.shuffle(out)
        return [(torch.tensor([vocab.encode("".join(x)) for x, _ in b]), torch.tensor([y for _, y in b]))
                for b in out]

    @torch.no_grad()
    def score(lines):
        return model(torch.tensor([vocab.encode("".join(punctuated(lines)))])).item()

    pairs = judged_pairs()
    weight = len(machine) / len(people)   # the classes weigh the same
    for epoch in range(args.epochs):
        model.train()
        for x, y in batches(train_set, 64, True):
            loss = F.binary_cross_entropy_with_logits(model(x), y, weight=torch.where(y > 0, weight, 1.0))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        with torch.no_grad():
            right = sum(((model(x) > 0).float() == y).sum().item() for x, y in batches(valid, 256, False))
        agree = sum(score(hi["lines"]) > score(lo["lines"]) for _, hi, lo in pairs)
        by_score = sum(hi["score"] > lo["score"] for _, hi, lo in pairs)
        print(f"epoch {epoch}: validation accuracy {right / len(valid):.3f}; the kept poem scores higher in "
              f"{agree} of {len(pairs)} judged pairs by the critic, {by_score} by the model's score", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["fakes", "train"])
    ap.add_argument("--out", required=True, help="folder of the machine poems (fake*.jsonl)")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--per-form", type=int, default=400, help="requests per form and shard")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    fakes(args) if args.what == "fakes" else train(args)


if __name__ == "__main__":
    main()
