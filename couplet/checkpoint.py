"""Checkpoints as plain data: a directory holding

- `model.safetensors`: the weights (fp32, or fp16 for shipped models);
- `checkpoint.json`: model config, vocabulary, training config/state/metrics, data summary;
- `train_state.safetensors` (resumable runs only): optimizer tensors and RNG state.

Nothing needs pickle. The architecture is rebuilt from the saved config. Loading checks the
JSON's structure, the config's keys and sizes, the sha256 of each weights file (stored in the
JSON), and every tensor's name and shape against the config (whose sizes are bounded first), so
a damaged or foreign checkpoint is one clear `CheckpointError`. Directories are replaced atomically.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import fields
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from .fileio import atomic_dir, resolve_dir
from .model import KINDS
from .requests import DEFAULT_PROSODY
from .vocab import Vocab

FORMAT = "couplet-checkpoint/1"
# Sizes above these are not a model this project trains; refusing them avoids a huge allocation.
SIZE_LIMITS = {"vocab_size": 200_000, "emb_dim": 4096, "hidden": 4096, "layers": 8, "max_len": 1024, "max_seed": 64}


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class CheckpointError(RuntimeError):
    """A checkpoint is missing or unusable; the message says what to do."""


class Companion:
    """A model that serves beside a generator's own (its title model, its line-pair scorer, the couplet
    model of a 律诗), loaded from its folder by `load(path)` on first use. `get()` is None, and the
    folder is not tried again, when there is no folder or it does not load: the generator goes on
    without it."""

    def __init__(self, path: Path | None, load, value=None):
        self.path, self._load, self.value = path, load, value

    def get(self):
        if self.value is None and self.path is not None:
            try:
                self.value = self._load(self.path)
            except (CheckpointError, OSError):
                self.path = None
        return self.value


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
                    rng: dict[str, torch.Tensor] | None = None, half: bool = False,
                    tables: dict[str, dict[str, torch.Tensor]] | None = None,
                    averaged: list[torch.Tensor] | None = None) -> None:
    """Write a checkpoint directory atomically. `extra` is any JSON-able training record; `tables`
    are further safetensors files by name (e.g. the poem model's `lines.safetensors`)."""
    if model.cfg.vocab_size != len(vocab):
        raise ValueError(f"model has {model.cfg.vocab_size} ids but the vocabulary {len(vocab)}")
    weights = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "kind": kind, "config": model.cfg.to_dict(),
            "vocab": vocab.to_json(), **(extra or {})}
    meta.pop("sha256", None)
    with atomic_dir(path) as tmp:
        save_file(weights, str(tmp / "model.safetensors"))
        meta["sha256"] = {"model.safetensors": sha256_of(tmp / "model.safetensors")}
        for name, tensors in (tables or {}).items():
            save_file(tensors, str(tmp / name))
            meta["sha256"][name] = sha256_of(tmp / name)
        if optimizer is not None:
            tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
            tensors.update({f"rng.{k}": v for k, v in (rng or {}).items()})
            tensors.update({f"ema.{i}": v.detach().cpu().contiguous() for i, v in enumerate(averaged or [])})
            save_file(tensors, str(tmp / "train_state.safetensors"))
            meta["optimizer"] = opt_meta
            meta["sha256"]["train_state.safetensors"] = sha256_of(tmp / "train_state.safetensors")
        with open(tmp / "checkpoint.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)


def add_tables(path: str | Path, tables: dict[str, dict[str, torch.Tensor]]) -> None:
    """Write further safetensors files into an existing checkpoint (replacing any of the same name),
    atomically, with their sha256 recorded; the weights and every other file stay as they are."""
    d = resolve_dir(path)
    meta = read_meta(d)
    with atomic_dir(d) as tmp:
        for f in d.iterdir():
            if f.is_file() and f.name != "checkpoint.json" and f.name not in tables:
                shutil.copy2(f, tmp / f.name)
        meta.setdefault("sha256", {})
        for name, tensors in tables.items():
            save_file(tensors, str(tmp / name))
            meta["sha256"][name] = sha256_of(tmp / name)
        with open(tmp / "checkpoint.json", "w", encoding="utf-8") as f:
            json.dump(meta, f, ensure_ascii=False, indent=1)


def read_meta(path: str | Path) -> dict:
    d = resolve_dir(path)
    meta_path = d / "checkpoint.json"
    if not meta_path.is_file():
        raise CheckpointError(f"no checkpoint at {path} (expected the file {meta_path}); train one with "
                              "`python train.py couplet ...` or pass --checkpoint")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError, OSError) as e:  # bad JSON, bad UTF-8, absurd nesting, unreadable
        raise CheckpointError(f"{meta_path} is not a readable JSON file ({str(e)[:120]}); re-export or retrain") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a {FORMAT} checkpoint")
    return meta


def _verified(d: Path, name: str, meta: dict) -> dict[str, torch.Tensor]:
    """Read a safetensors file of the checkpoint, checking its sha256 when the JSON records one."""
    path = d / name
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; re-export or retrain")
    want = (meta.get("sha256") or {}).get(name) if isinstance(meta.get("sha256"), dict) else None
    data = path.read_bytes()  # read once: hashed, then parsed
    if want is not None and hashlib.sha256(data).hexdigest() != want:
        raise CheckpointError(f"{path} is damaged (its sha256 differs from the one in checkpoint.json); "
                              "re-export or retrain")
    try:
        return load_safetensors(data)
    except Exception as e:  # safetensors raises several types for truncated or foreign files
        raise CheckpointError(f"{path} cannot be read ({str(e)[:120]}); re-export or retrain") from e


def _config(meta: dict, cfg_cls, path) -> object:
    """The model config from the JSON, checked: known keys only, sane sizes."""
    raw = meta.get("config")
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: checkpoint.json has no model config")
    known = {f.name for f in fields(cfg_cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CheckpointError(f"{path}: unknown config keys {', '.join(unknown)} (written by another version?)")
    for key, limit in SIZE_LIMITS.items():
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= limit):
            raise CheckpointError(f"{path}: config {key} = {value!r} is not a size this project trains (1..{limit})")
    try:
        return cfg_cls.from_dict(raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: config is unusable ({e})") from e


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu", kind: str | None = None
                    ) -> tuple[torch.nn.Module, Vocab, dict]:
    """Rebuild the model from its saved config and load weights (as fp32). Returns (model, vocab, meta)."""
    d = resolve_dir(path)
    meta = read_meta(d)
    saved_kind = meta.get("kind", "couplet")
    if saved_kind not in KINDS:
        raise CheckpointError(f"{path}: unknown model kind {saved_kind!r}")
    if kind is not None and saved_kind != kind:
        raise CheckpointError(f"{path} holds a {saved_kind} model, not a {kind} model")
    model_cls, cfg_cls = KINDS[saved_kind]
    cfg = _config(meta, cfg_cls, path)
    chars = meta.get("vocab")
    if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
        raise CheckpointError(f"{path}: checkpoint.json has no vocabulary (a list of characters)")
    try:
        vocab = Vocab.from_json(chars)
    except ValueError as e:
        raise CheckpointError(f"{path}: bad vocabulary ({e})") from e
    if cfg.vocab_size != len(vocab):
        raise CheckpointError(f"{path}: config says {cfg.vocab_size} ids, vocabulary has {len(vocab)}")
    weights = _verified(d, "model.safetensors", meta)
    model = model_cls(cfg)  # its size is bounded by SIZE_LIMITS, so building it first is safe
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in weights.items()}
    if got != expected:
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
        parts = [f"missing {', '.join(missing[:5])}" if missing else "", f"unexpected {', '.join(extra[:5])}" if extra
                 else "", "wrong shape " + ", ".join(f"{k} {got[k]} (want {expected[k]})" for k in wrong[:3])
                 if wrong else ""]
        raise CheckpointError(f"{path}: weights do not fit the config: {'; '.join(p for p in parts if p)}")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    return model.to(device).eval(), vocab, meta


def load_table(path: str | Path, name: str, meta: dict | None = None) -> dict[str, torch.Tensor] | None:
    """A further safetensors file of the checkpoint (checked like the weights), or None if absent.
    meta: the checkpoint's JSON when the caller has read it already."""
    d = resolve_dir(path)
    if not (d / name).exists():
        return None
    return _verified(d, name, meta if meta is not None else read_meta(d))


def prosody_paths(checkpoint: str | Path) -> list[Path]:
    """Where a checkpoint's tone and rhyme table may be, in order: in its folder, beside it, beside
    the shipped checkpoints."""
    here = resolve_dir(checkpoint)
    return [here / "prosody.json", here.parent / "prosody.json", DEFAULT_PROSODY]


def load_prosody(checkpoint: str | Path, override: str | Path | None = None):
    """The tone and rhyme table for a checkpoint: `override`, else the first of `prosody_paths`."""
    from .prosody import Prosody
    candidates = [Path(override)] if override else prosody_paths(checkpoint)
    for p in candidates:
        if p.is_file():
            try:
                return Prosody.load(p)
            except ValueError as e:
                raise CheckpointError(str(e)) from e
    raise CheckpointError(f"no prosody.json for {checkpoint} (looked at {', '.join(map(str, candidates))}); run "
                          "`python -m couplet prepare` and pass --prosody data/processed/prosody.json")


def identity(path: str | Path, meta: dict | None = None) -> str:
    """A checkpoint's name for batch fingerprints: its resolved path and its weights' sha256."""
    d = resolve_dir(path)
    meta = meta if meta is not None else read_meta(d)
    digest = (meta.get("sha256") or {}).get("model.safetensors") or sha256_of(d / "model.safetensors")
    return f"{d.resolve()}@{digest[:16]}"


def load_train_state(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Restore optimizer state; return the saved RNG tensors."""
    d = resolve_dir(path)
    meta = read_meta(d)
    tensors = _verified(d, "train_state.safetensors", meta)
    try:
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{d}: the optimizer state does not fit this model ({str(e)[:120]})") from e
    return {k[4:]: v for k, v in tensors.items() if k.startswith("rng.")}


def load_averaged(path: str | Path) -> list[torch.Tensor] | None:
    """The moving average of the weights a resumable run keeps (`TrainConfig.ema`), in parameter order;
    None if it kept none."""
    d = resolve_dir(path)
    tensors = _verified(d, "train_state.safetensors", read_meta(d))
    kept = sorted((int(k[4:]), v) for k, v in tensors.items() if k.startswith("ema."))
    return [v for _, v in kept] or None
