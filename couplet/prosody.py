"""Tones (平/仄) and 平水韵 rhyme groups of characters, built once by `prepare` and saved as JSON.

Sources, in order of trust: the 平水韵 table (classical readings, so 入声 characters such as
白 国 石 are 仄), the 平仄 marks of the poems (`strains`), and pypinyin only for characters
neither covers (modern tones 1/2 -> 平, 3/4 -> 仄).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .fileio import atomic_write_text
from .text import is_han

PING, ZE, EITHER = "平", "仄", "中"


def read_pingshuiyun(path: str | Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Parse `origin.txt`: lines `一东平=+风中...`, continuation lines, `其它僻字：` lines.

    Returns ({char: [group, ...]}, {group: 平|仄}); 上/去/入 groups are 仄.
    """
    groups: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    current = None
    head = re.compile(r"^(\S+?)([平上去入])=")
    for raw in Path(path).read_text(encoding="utf-8-sig").splitlines():
        line = raw.strip()
        if not line:
            continue
        m = head.match(line)
        if m:
            current = m.group(1) + m.group(2)
            groups[current] = PING if m.group(2) == "平" else ZE
            line = line[m.end():]
        elif current is None:
            continue
        line = re.sub(r"\[[^\]]*\]", "", line)  # glosses such as 重[重复]
        line = re.sub(r"^其它僻字[:：]", "", line)   # the label before a group's rare characters
        for ch in line:
            if is_han(ch):
                lst = members.setdefault(ch, [])
                if current not in lst:
                    lst.append(current)
    return members, groups


def pinyin_tone(ch: str) -> str | None:
    """Modern-Mandarin fallback: tones 1/2 -> 平, 3/4 -> 仄, mixed readings -> 中."""
    from pypinyin import Style, pinyin
    tones = set()
    for reading in pinyin(ch, style=Style.TONE3, heteronym=True)[0]:
        digit = reading[-1:]
        if digit in "12":
            tones.add(PING)
        elif digit in "34":
            tones.add(ZE)
    if not tones:
        return None
    return tones.pop() if len(tones) == 1 else EITHER


def _majority(ping: int, ze: int, min_count: int, share: float) -> str | None:
    total = ping + ze
    if total < min_count:
        return None
    if ping / total >= share:
        return PING
    if ze / total >= share:
        return ZE
    return EITHER


def build_tones(*, rhymes: dict[str, list[str]], groups: dict[str, str],
                strains: dict[str, Counter], chars: set[str]) -> tuple[dict[str, str], Counter]:
    """Decide one tone class for each of `chars` (the corpus characters); return the table and
    how many came from each source. Other characters fall back to pypinyin at lookup time."""
    table: dict[str, str] = {}
    source: Counter = Counter()
    for ch in sorted(chars):
        marks = strains.get(ch, Counter())
        ping, ze = marks.get(PING, 0), marks.get(ZE, 0)
        classes = {groups[g] for g in rhymes.get(ch, [])}
        if len(classes) == 1:
            table[ch] = classes.pop()
            source["pingshuiyun"] += 1
        elif classes:  # several readings: the poems say which one is used, else either
            table[ch] = _majority(ping, ze, 5, 0.85) or EITHER
            source["pingshuiyun+strains"] += 1
        elif (tone := _majority(ping, ze, 3, 0.8)) is not None:
            table[ch] = tone
            source["strains"] += 1
        elif (tone := pinyin_tone(ch)) is not None:
            table[ch] = tone
            source["pypinyin"] += 1
    return table, source


class Prosody:
    """Lookup of tone class and rhyme groups for characters."""

    def __init__(self, tones: dict[str, str], rhymes: dict[str, list[str]], groups: dict[str, str]):
        self.tones, self.rhymes, self.groups = tones, rhymes, groups

    def tone(self, ch: str) -> str | None:
        """平, 仄, 中 (either), or None for non-Han characters."""
        if ch in self.tones:
            return self.tones[ch]
        return _fallback_tone(ch) if is_han(ch) else None

    def save(self, path: str | Path) -> None:
        data = {"format": "couplet-prosody/1", "groups": self.groups,
                "tones": self.tones, "rhymes": self.rhymes}
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> "Prosody":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (ValueError, RecursionError, OSError) as e:
            raise ValueError(f"{path} is not a readable JSON file ({str(e)[:120]})") from e
        if not isinstance(data, dict) or data.get("format") != "couplet-prosody/1":
            raise ValueError(f"{path} is not a prosody table written by `couplet prepare`")
        parts = [data.get(k) for k in ("tones", "rhymes", "groups")]
        if not all(isinstance(x, dict) for x in parts):
            raise ValueError(f"{path} lacks its tones, rhymes or groups; rerun `couplet prepare`")
        return cls(*parts)


@lru_cache(maxsize=4096)
def _fallback_tone(ch: str) -> str | None:
    return pinyin_tone(ch)
