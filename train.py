"""Train a model from the command line; the work is done in `couplet.trainer`.

    python train.py couplet --data data/processed --out runs/couplet
    python train.py poem --data data/processed --out runs/poem
    python train.py scorer --data data/processed --out runs/scorer
    python train.py lines --data data/processed --out runs/lines
    python train.py whole --data data/processed --out runs/whole
    python train.py title --data data/processed --out runs/title
    python train.py couplet --out runs/couplet --resume
    torchrun --nproc-per-node 2 train.py couplet ...        # DistributedDataParallel
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from couplet.checkpoint import CheckpointError
from couplet.model import ARCHS
from couplet.trainer import TrainConfig, train

HELP = {
    "data": "directory written by `python -m couplet prepare` (train.tsv, valid.tsv)",
    "out": "run directory; last/ (resumable) and best/ checkpoints are written there",
    "sources": "training sources and weights: couplet and scorer, e.g. couplet:3,lvshi:1,poem:0.2; poem, by "
               "dynasty, e.g. tang:1,song:0.1 (a dynasty not named is left out; all: every poem once)",
    "arch": "RNN structure: " + ", ".join(ARCHS) + " (bi* = bidirectional encoder / seed encoder)",
    "emb_dim": "character embedding size (also the tied output projection)",
    "hidden": "RNN hidden size",
    "layers": "RNN layers in encoder and decoder",
    "dropout": "dropout probability",
    "attention": "couplet: decoder attends over the whole 上联 (--no-attention to turn off)",
    "decoder": "couplet: --no-decoder trains the per-position tagger baseline (softmax on the encoder)",
    "aligned_head": "couplet: also train a per-position softmax on the encoder, mixed into decoding "
                    "(generation's --align weight)",
    "prev_dropout": "couplet: probability that the decoder sees a previous 下联 char as <unk> (word dropout)",
    "init_from": "fine-tune: start from this checkpoint's weights; architecture and vocabulary come from it",
    "structure_sampling": "couplet: 0..1; draw each training pair (1 - s + s * its POS agreement) times as often, "
                          "so structurally parallel references weigh more",
    "max_vocab": "vocabulary size cap, reserved ids included",
    "min_count": "minimum count of a character in the training pairs to enter the vocabulary",
    "max_len": "couplet, whole: skip training pairs longer than this",
    "max_seed": "poem, whole: number of seed characters the model reads",
    "epochs": "number of epochs (on --resume: the new total)",
    "batch_size": "pairs per batch (per process under torchrun)",
    "lr": "peak learning rate (AdamW)",
    "warmup_steps": "linear warm-up steps before cosine decay",
    "weight_decay": "AdamW weight decay",
    "clip": "gradient-norm clipping threshold",
    "ema": "decay per step of a moving average of the weights that validation reads and best/ keeps (e.g. 0.999, "
           "about the last 1,000 steps; 0: off); with --resume it starts an average in a run that kept none",
    "seed": "random seed (model init, data order, dropout)",
    "save_every": "write a resumable checkpoint every N steps (0: only at epoch ends)",
    "max_steps": "stop after N optimizer steps (0: no limit)",
    "max_pairs": "use at most N training pairs per epoch (0: all)",
    "max_minutes": "stop after this many minutes of training (summed over --resume stretches); the learning "
                   "rate then decays over that time instead of over the epochs (0: no limit)",
    "eval_every": "validate (and keep best/) every N steps inside an epoch (0: only at epoch ends)",
    "unk_rate": "couplet: share of 上联 Han characters replaced by <unk> in training, so the model can answer "
                "characters outside its vocabulary",
    "valid_max_pairs": "use at most N validation pairs per source (0: all)",
    "device": "auto, cpu, cuda",
    "amp": "bf16 mixed precision on CUDA and on CPUs with native bf16, AMX or AVX512-BF16 (--no-amp to turn off)",
}


# Flags that mean something for one task only; the others do not list them.
ONLY_FOR = {"max_seed": ("poem", "whole"), "sources": ("couplet", "scorer", "poem"), "attention": ("couplet",),
            "decoder": ("couplet",), "aligned_head": ("couplet",), "prev_dropout": ("couplet",),
            "structure_sampling": ("couplet",), "unk_rate": ("couplet",), "max_len": ("couplet", "scorer", "whole")}

TASK_DEFAULTS = {"poem": {"out": "runs/poem", "batch_size": 64, "epochs": 2, "sources": "all"},
                 "scorer": {"out": "runs/scorer", "emb_dim": 128, "hidden": 128, "epochs": 3, "batch_size": 256},
                 "lines": {"out": "runs/lines", "emb_dim": 128, "hidden": 128, "epochs": 3, "batch_size": 256},
                 "whole": {"out": "runs/whole", "batch_size": 64, "epochs": 2},
                 "title": {"out": "runs/title", "emb_dim": 128, "hidden": 256, "batch_size": 128, "epochs": 2}}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train couplet models.")
    sub = parser.add_subparsers(dest="task", required=True)
    for task, what in (("couplet", "the N-vs-N couplet model"), ("poem", "the 1-vs-N seeded poem model"),
                       ("scorer", "the N-vs-1 pair scorer used to rerank 下联 candidates"),
                       ("lines", "the N-vs-1 line-pair scorer that judges a poem's next line (coherence)"),
                       ("whole", "the 1-vs-N whole-couplet model that writes a 上联 from a theme or heads"),
                       ("title", "the N-vs-M title model that writes a poem's title")):
        p = sub.add_parser(task, help=f"train {what}", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        for f in fields(TrainConfig):
            if f.name == "task" or task not in ONLY_FOR.get(f.name, (task,)):
                continue
            flag = "--" + f.name.replace("_", "-")
            default = f.default
            default = TASK_DEFAULTS.get(task, {}).get(f.name, default)
            if default == "":  # shown as "none" rather than an empty default
                p.add_argument(flag, default=argparse.SUPPRESS, metavar=f.name.upper(),
                               help=HELP[f.name] + " (default: none)")
            elif f.type in (bool, "bool"):
                p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=HELP[f.name])
            else:
                kwargs = {"choices": list(ARCHS)} if f.name == "arch" else {}
                typ = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
                p.add_argument(flag, type=typ, default=default, help=HELP[f.name], **kwargs)
        p.add_argument("--resume", action="store_true",
                       help="continue the run in --out (model, optimizer, schedule, data position, RNG)")
        p.add_argument("--dry-run", action="store_true",
                       help="tiny fast run: small model, a few steps, to check that everything wires up")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "task" and hasattr(args, f.name)}
    # flags of another task, or left unset (SUPPRESS), take the config's defaults
    values["task"] = args.task
    cfg = TrainConfig(**values)
    if args.dry_run:
        cfg.emb_dim, cfg.hidden, cfg.max_vocab, cfg.min_count = 32, 32, 2000, 1
        cfg.epochs, cfg.max_pairs, cfg.valid_max_pairs, cfg.batch_size = 1, 2048, 200, 64
        if not (Path(cfg.data) / "train.tsv").exists():  # a fresh clone: nothing prepared yet
            from couplet.sample import prepare_sample
            print(f"no prepared data in {cfg.data}: the dry run uses the built-in sample "
                  "(run `python -m couplet prepare ...` for the real corpora, see data/README.md)")
            cfg.data = str(prepare_sample())
    elif not (Path(cfg.data) / ("poems.jsonl" if cfg.task in ("poem", "title", "lines") else "train.tsv")).exists() \
            and not args.resume:
        print(f"error: no prepared data in {cfg.data}; run `python -m couplet prepare ...` first "
              "(data/README.md says where to get the corpora), or try --dry-run", file=sys.stderr)
        return 2
    try:
        record = train(cfg, resume=args.resume)
    except (FileNotFoundError, ValueError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}; the last saved checkpoint is kept, "
              "rerun with --resume", file=sys.stderr)
        return 2
    best = record.get("best") or {}
    print(f"done: step {record['step']}, best {best.get('metric')} {best.get('value', float('nan')):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
