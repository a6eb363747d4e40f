"""The vocabulary: the one place where characters become ids and ids become characters."""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from .text import PUNCT, is_han, standard_form

PAD, UNK, BOS = "<pad>", "<unk>", "<bos>"
RESERVED = (PAD, UNK, BOS)


class Vocab:
    """Characters <-> ids. Ids 0..2 are reserved (pad, unknown, begin-of-line)."""

    pad_id, unk_id, bos_id = 0, 1, 2

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary characters must be unique")
        if any(c in RESERVED for c in chars):
            raise ValueError("vocabulary characters may not be reserved tokens")
        self.itos: list[str] = list(RESERVED) + chars
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def build(cls, counts: Counter, *, min_count: int = 1, max_size: int | None = None) -> "Vocab":
        """Most frequent characters first (ties by code point, so builds are deterministic)."""
        ranked = sorted((c for c, n in counts.items() if n >= min_count and c not in RESERVED),
                        key=lambda c: (-counts[c], c))
        keep = [c for c in PUNCT]
        keep += [c for c in ranked if c not in PUNCT]
        if max_size is not None:
            keep = keep[: max(0, max_size - len(RESERVED))]
        return cls(keep)

    def is_variant(self, ch: str) -> bool:
        """Whether ch is a variant form of another char of this vocabulary (劒 of 剑, `standard_form`):
        the decoders write the standard one, as a reader of simplified Chinese expects."""
        std = standard_form(ch)
        return std != ch and std in self.stoi

    def writable(self) -> list[bool]:
        """Per id: whether decoding may write it, a Han char that is not reserved and not a variant
        form of another of its chars (the one mask every decoder starts from)."""
        return [i >= len(RESERVED) and is_han(ch) and not self.is_variant(ch) for i, ch in enumerate(self.itos)]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, ch: str) -> bool:
        return ch in self.stoi and ch not in RESERVED

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, self.unk_id) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.itos[i] for i in ids if i >= len(RESERVED))

    def chars(self) -> list[str]:
        return self.itos[len(RESERVED):]

    def to_json(self) -> list[str]:
        return self.chars()

    @classmethod
    def from_json(cls, chars: list[str]) -> "Vocab":
        return cls(chars)
