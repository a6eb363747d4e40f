"""Training: the config, the loop, validation, checkpoints, resume, DDP, time budgets.

Six tasks share the loop (`couplet.tasks`, `couplet.texttasks`): `couplet` (上联 -> 下联 pairs), `poem`
(the seeded poem language model), `whole` (the seeded whole-couplet model), `title` (poem -> title,
N vs M), `scorer` (the N-vs-1 pair scorer) and `lines` (the N-vs-1 line-pair scorer over poems).
Run through `train.py couplet|poem|whole|title|scorer|lines ...`
(single process) or `torchrun --nproc-per-node N train.py ...`
(DistributedDataParallel; gloo on CPU, nccl on CUDA).
"""
from __future__ import annotations

import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from .checkpoint import load_averaged, load_checkpoint, load_train_state, read_meta, save_checkpoint
from .fileio import resolve_dir
from .model import count_parameters, native_bf16
from .tasks import CoupletTask, ScorerTask
from .texttasks import LineScorerTask, PoemTask, TitleTask, WholeTask

TASKS = {"couplet": CoupletTask, "poem": PoemTask, "scorer": ScorerTask, "lines": LineScorerTask, "whole": WholeTask,
         "title": TitleTask}


@dataclass
class TrainConfig:
    task: str = "couplet"                # couplet | poem | whole | title | scorer
    data: str = "data/processed"
    out: str = "runs/couplet"
    sources: str = "couplet:3,lvshi:1"   # source:weight; weights above 1 repeat, below 1 subsample
    arch: str = "bigru"
    emb_dim: int = 256
    hidden: int = 384
    layers: int = 1
    dropout: float = 0.1
    attention: bool = True
    decoder: bool = True                 # couplet: False trains the per-position tagger baseline
    aligned_head: bool = False           # couplet: add the per-position head, trained jointly with the decoder
    prev_dropout: float = 0.0            # couplet: share of previous 下联 chars the decoder sees as <unk>
    structure_sampling: float = 0.0      # couplet: s in [0, 1]; a pair is drawn (1 - s + s * POS agreement) as often
    unk_rate: float = 0.0                # couplet: share of 上联 Han chars the encoder sees as <unk>
    init_from: str = ""                  # start from this checkpoint's weights (its architecture and vocab)
    max_vocab: int = 7000
    min_count: int = 2
    max_len: int = 32                    # longest training pair; longer ones are skipped
    max_seed: int = 4                    # poem: seed characters the model reads
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    warmup_steps: int = 200
    weight_decay: float = 0.0
    clip: float = 1.0
    # decay per step of an exponential moving average of the weights (e.g. 0.999, about the last 1,000 steps):
    # validation reads the average and best/ keeps it; the weights a run passes through late average to a
    # point that scores better than any one of them (0: off)
    ema: float = 0.0
    seed: int = 1234
    save_every: int = 500                # steps between resumable checkpoints (0: each epoch)
    max_steps: int = 0                   # stop after this many steps (0: no limit)
    max_pairs: int = 0                   # cap on training pairs per epoch (0: all), for quick runs
    max_minutes: float = 0.0             # stop after this much training time; the lr decays over it (0: off)
    eval_every: int = 0                  # steps between validations inside an epoch (0: only at epoch ends)
    valid_max_pairs: int = 0             # cap per validation source (0: all)
    device: str = "auto"
    amp: bool = True                     # bf16 autocast on CUDA and on CPUs with native bf16 (see native_bf16)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# Fields that describe the network and its vocabulary; they come from a checkpoint, not the command line.
ARCH_FIELDS = ("arch", "emb_dim", "hidden", "layers", "dropout", "attention", "decoder", "max_vocab", "min_count",
               "max_seed")


# ---------------------------------------------------------------- loop helpers
def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def bf16_autocast(device: torch.device) -> bool:
    """Whether training on this device runs under bf16 autocast (with `amp` on): CUDA, or a CPU
    with native bf16."""
    return device.type == "cuda" or (device.type == "cpu" and native_bf16())


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def lr_lambda(step: int, *, warmup: int, total: int, time_progress=None) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak, over the steps or, for a run with a
    time budget, over that time (time_progress() in [0, 1])."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if time_progress is not None:
        progress = time_progress()
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def _rng_state() -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ---------------------------------------------------------------- main entry
def train(cfg: TrainConfig, *, resume: bool = False, log=print) -> dict:
    """Train (or resume) a model; returns the final training record."""
    rank, world, local_rank = _dist_info()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo")
    device = pick_device(cfg.device, local_rank)
    is_main = rank == 0
    out = Path(cfg.out)
    last_dir, best_dir = out / "last", out / "best"

    record: dict = {"epoch": 0, "step": 0, "batch_in_epoch": 0, "best": None, "history": []}
    if resume:
        if not (resolve_dir(last_dir) / "checkpoint.json").exists():
            raise FileNotFoundError(f"--resume: no checkpoint in {last_dir}")
        meta = read_meta(last_dir)
        saved = TrainConfig.from_dict(meta["train_config"])
        saved.epochs, saved.max_steps, saved.device = cfg.epochs, cfg.max_steps, cfg.device
        saved.max_minutes = cfg.max_minutes
        saved.ema = cfg.ema or saved.ema   # a run resumed with --ema keeps an average from there on
        cfg = saved  # the architecture and the data come from the run, not the command line
        task = TASKS[cfg.task](cfg)
        model, vocab, _ = load_checkpoint(last_dir, device=device, kind=task.kind)
        record = meta["record"]
    elif cfg.init_from:
        meta = read_meta(cfg.init_from)
        if "train_config" not in meta:
            raise ValueError(f"--init-from {cfg.init_from}: no train_config in its checkpoint.json "
                             "(it was not written by train.py or export)")
        saved = TrainConfig.from_dict(meta["train_config"])
        for name in ARCH_FIELDS:  # the weights fix the architecture and the vocabulary
            setattr(cfg, name, getattr(saved, name))
        cfg.aligned_head = cfg.aligned_head or saved.aligned_head  # the one part a fine-tune may add
        task = TASKS[cfg.task](cfg)
        start, vocab, _ = load_checkpoint(cfg.init_from, kind=task.kind)
        torch.manual_seed(cfg.seed)
        model = task.build_model(vocab)
        missing, unexpected = model.load_state_dict(start.state_dict(), strict=False)
        if unexpected or any(not k.startswith("align.") for k in missing):
            raise ValueError(f"--init-from {cfg.init_from}: weights do not fit ({missing + unexpected})")
        model = model.to(device)
    else:
        task = TASKS[cfg.task](cfg)
        vocab = task.build_vocab()
        torch.manual_seed(cfg.seed)
        model = task.build_model(vocab).to(device)
    model.train()
    n_train, n_valid = task.load(vocab)

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    per_epoch = len(task.data.epoch_batches(0, seed=cfg.seed, batch_size=cfg.batch_size, max_pairs=cfg.max_pairs)) // world
    total_steps = max(1, per_epoch * cfg.epochs)
    record.setdefault("seconds", 0.0)  # training time so far, over all stretches of the run
    budget = cfg.max_minutes * 60
    stretch_start = time.perf_counter()
    seconds_before = record["seconds"]

    def elapsed() -> float:
        return seconds_before + time.perf_counter() - stretch_start

    time_progress = (lambda: min(1.0, elapsed() / budget)) if budget > 0 else None
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_lambda(s, warmup=cfg.warmup_steps, total=total_steps, time_progress=time_progress))
    if resume:
        _set_rng_state(load_train_state(last_dir, optimizer))
        scheduler.load_state_dict(meta["scheduler"])
    random.seed(cfg.seed)
    params = list(model.parameters())
    averaged = None      # the moving average of the weights (`TrainConfig.ema`), in parameter order
    if cfg.ema > 0:
        saved_average = load_averaged(last_dir) if resume else None
        averaged = ([v.to(device) for v in saved_average] if saved_average is not None
                    else [p.detach().clone() for p in params])

    ddp_model = model
    if world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if device.type == "cuda" else None)
    use_amp = cfg.amp and bf16_autocast(device)
    if is_main and (Path(cfg.data) / "prosody.json").exists():  # generation reads it beside the run
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(cfg.data) / "prosody.json", out / "prosody.json")
    if is_main:
        log(f"{task.kind} model: {cfg.arch}, {count_parameters(model):,} parameters, vocab {len(vocab)}; "
            f"{n_train:,} training items, {n_valid:,} valid; device {device}, world {world}")
        if not n_valid:
            log("warning: no validation items; validation metrics are computed on training items")

    def checkpoint(path: Path, with_state: bool) -> None:
        extra = {"train_config": asdict(cfg), "record": record, "scheduler": scheduler.state_dict(),
                 "parameters": count_parameters(model), **getattr(task, "extra", {})}
        save_checkpoint(path, model=model, vocab=vocab, kind=task.kind, extra=extra,
                        optimizer=optimizer if with_state else None,
                        rng=_rng_state() if with_state else None, averaged=averaged if with_state else None)

    def swap_average() -> None:
        """Exchange the model's weights and the moving average (twice: back as they were)."""
        with torch.no_grad():
            for p, a in zip(params, averaged):
                held = p.detach().clone()
                p.copy_(a)
                a.copy_(held)

    def validate(loss_avg, chars: int, t0: float) -> None:
        """Validation metrics; best/ when they improve; last/ (resumable) always."""
        record["seconds"] = round(elapsed(), 1)
        if averaged is not None:   # validation reads the average, and best/ keeps it
            swap_average()
        metrics = task.evaluate(model, device)
        if not is_main:
            if averaged is not None:
                swap_average()
            return
        entry = {"epoch": record["epoch"], "step": record["step"], "seconds": record["seconds"],
                 "train_loss": loss_avg, "chars_per_s": round(chars / max(time.perf_counter() - t0, 1e-9)), **metrics}
        record["history"].append(entry)
        key = task.best_key if task.best_key in metrics else "ppl"
        log(f"epoch {record['epoch']} step {record['step']} ({record['seconds']:.0f} s): "
            + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if k.startswith(("ppl", "accuracy"))
                        or task.kind == "scorer")
            + f", {entry['chars_per_s']:,} chars/s")
        if record["best"] is None or metrics[key] < record["best"]["value"]:
            record["best"] = {"metric": key, "value": metrics[key], "epoch": record["epoch"],
                              "step": record["step"]}
            checkpoint(best_dir, with_state=False)
        if averaged is not None:
            swap_average()
        checkpoint(last_dir, with_state=True)

    done = False
    while record["epoch"] < cfg.epochs and not done:
        epoch = record["epoch"]
        batches = task.data.epoch_batches(epoch, seed=cfg.seed, batch_size=cfg.batch_size, max_pairs=cfg.max_pairs)
        batches = batches[: len(batches) // world * world][rank::world]
        bar = tqdm(total=len(batches), initial=record["batch_in_epoch"], desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not is_main, unit="batch", mininterval=2.0)
        t0, chars, loss_avg = time.perf_counter(), 0, None
        for item in batches[record["batch_in_epoch"]:]:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss, n_chars = task.loss(ddp_model, item, device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(averaged, [p.detach() for p in params], 1.0 - cfg.ema)
            record["step"] += 1
            record["batch_in_epoch"] += 1
            chars += n_chars * world
            loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{loss_avg:.3f}", chars_s=f"{chars / (time.perf_counter() - t0):,.0f}",
                            refresh=False)
            if (cfg.max_steps and record["step"] >= cfg.max_steps) or (budget > 0 and elapsed() >= budget):
                done = True
                break
            if cfg.eval_every and record["step"] % cfg.eval_every == 0:
                validate(loss_avg, chars, t0)
            elif is_main and cfg.save_every and record["step"] % cfg.save_every == 0:
                record["seconds"] = round(elapsed(), 1)
                checkpoint(last_dir, with_state=True)
        bar.close()
        if record["batch_in_epoch"] >= len(batches):
            record["epoch"] += 1
            record["batch_in_epoch"] = 0
        validate(loss_avg, chars, t0)
        if world > 1:
            dist.barrier()
    if world > 1:
        dist.destroy_process_group()
    return record
