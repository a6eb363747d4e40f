"""Checkpoints as plain data: a directory holding

- `model.safetensors`: the weights (fp32, or fp16 for shipped models);
- `checkpoint.json`: model config, vocabulary, training config/state/metrics, data summary;
- `train_state.safetensors` (resumable runs only): optimizer tensors and RNG state.

Nothing needs pickle. The architecture is rebuilt from the saved config; the vocabulary size
is checked against the config and the weights on load. Directories are replaced atomically.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .fileio import atomic_dir, resolve_dir
from .model import KINDS
from .vocab import Vocab

FORMAT = "couplet-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint is missing or unusable; the message says what to do."""


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, meta = {}, {"param_groups": state["param_groups"], "scalars": {}}
    for pid, st in state["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                meta["scalars"][f"{pid}.{k}"] = v
    return tensors, meta


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, v in tensors.items():
        if name.startswith("opt."):
            _, pid, k = name.split(".", 2)
            state.setdefault(int(pid), {})[k] = v
    for name, v in meta["scalars"].items():
        pid, k = name.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | Path, *, model: torch.nn.Module, vocab: Vocab, kind: str = "couplet",
                    extra: dict | None = None, optimizer: torch.optim.Optimizer | None = None,
                    rng: dict[str, torch.Tensor] | None = None, half: bool = False) -> None:
    """Write a checkpoint directory atomically. `extra` is any JSON-able training record."""
    if model.cfg.vocab_size != len(vocab):
        raise ValueError(f"model has {model.cfg.vocab_size} ids but the vocabulary {len(vocab)}")
    weights = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "kind": kind, "config": model.cfg.to_dict(),
            "vocab": vocab.to_json(), **(extra or {})}
    with atomic_dir(path) as tmp:
        save_file(weights, str(tmp / "model.safetensors"))
        if optimizer is not None:
            tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
            tensors.update({f"rng.{k}": v for k, v in (rng or {}).items()})
            save_file(tensors, str(tmp / "train_state.safetensors"))
            meta["optimizer"] = opt_meta
        with open(tmp / "checkpoint.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)


def read_meta(path: str | Path) -> dict:
    d = resolve_dir(path)
    meta_path = d / "checkpoint.json"
    if not meta_path.exists():
        raise CheckpointError(f"no checkpoint at {path} (expected {meta_path}); train one with "
                              "`python train.py couplet ...` or pass --checkpoint")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{meta_path} is not valid JSON ({e}); re-export or retrain") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a {FORMAT} checkpoint")
    return meta


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu", kind: str | None = None
                    ) -> tuple[torch.nn.Module, Vocab, dict]:
    """Rebuild the model from its saved config and load weights (as fp32). Returns (model, vocab, meta)."""
    d = resolve_dir(path)
    meta = read_meta(d)
    saved_kind = meta.get("kind", "couplet")
    if kind is not None and saved_kind != kind:
        raise CheckpointError(f"{path} holds a {saved_kind} model, not a {kind} model")
    model_cls, cfg_cls = KINDS[saved_kind]
    cfg = cfg_cls.from_dict(meta["config"])
    vocab = Vocab.from_json(meta["vocab"])
    if cfg.vocab_size != len(vocab):
        raise CheckpointError(f"{path}: config says {cfg.vocab_size} ids, vocabulary has {len(vocab)}")
    try:
        weights = load_file(str(d / "model.safetensors"))
    except Exception as e:  # safetensors raises several types for truncated or foreign files
        raise CheckpointError(f"{d / 'model.safetensors'} cannot be read ({e}); re-export or retrain") from e
    if weights["embed.weight"].shape[0] != len(vocab):
        raise CheckpointError(f"{path}: weights have {weights['embed.weight'].shape[0]} ids, "
                              f"vocabulary has {len(vocab)}")
    model = model_cls(cfg)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    return model.to(device).eval(), vocab, meta


def load_train_state(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Restore optimizer state; return the saved RNG tensors."""
    d = resolve_dir(path)
    meta = read_meta(d)
    tensors = load_file(str(d / "train_state.safetensors"))
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    return {k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}
