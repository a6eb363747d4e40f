"""Part-of-speech classes of the characters of a line (jieba), for the 词性相对 rule.

Loading jieba's tagger takes about as long as importing torch on a 2-core machine (1.5 s), and a
one-shot command needs both. `start_helper` loads jieba in a forked helper process while the
caller imports torch and loads its model; `char_pos` then asks the helper. Without a helper (the
app, the tests, a batch), jieba loads in this process on first use.
"""
from __future__ import annotations

import logging
import multiprocessing
import sys
from functools import lru_cache

_helper = None  # (process, connection) of the helper, when one serves the tagging


@lru_cache(maxsize=1)
def _posseg():
    import jieba
    import jieba.posseg
    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg


def dictionary() -> dict[str, int]:
    """jieba's word frequencies (its dictionary, loaded on first use)."""
    import jieba
    _posseg()
    jieba.dt.check_initialized()
    return jieba.dt.FREQ


def _tags(line: str) -> tuple[str, ...]:
    tags: list[str] = []
    for word, flag in _posseg().cut(line):
        tags += [flag[:1]] * len(word)
    return tuple(tags)


def _serve(conn) -> None:
    _tags("春回大地")  # load the tagger and its dictionary now, while the parent loads torch
    while True:
        try:
            line = conn.recv()
        except EOFError:
            return
        conn.send(_tags(line))


def start_helper() -> bool:
    """Fork the helper (POSIX, and only before torch is imported: a fork after torch's threads
    start is not safe). Returns whether one runs."""
    global _helper
    if _helper is not None:
        return True
    if "torch" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return False
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    _helper = (proc, parent)
    return True


@lru_cache(maxsize=65536)
def char_pos(line: str) -> tuple[str, ...]:
    """The jieba part-of-speech class (first letter) of the word each char belongs to."""
    global _helper
    if _helper is not None:
        try:
            _helper[1].send(line)
            return tuple(_helper[1].recv())
        except (OSError, EOFError):  # the helper is gone: tag here
            _helper = None
    return _tags(line)


def structure_agreement(upper: str, lower: str) -> float | None:
    """Share of positions whose word has the same part of speech in both lines (None: not comparable)."""
    pu, pl = char_pos(upper), char_pos(lower)
    if len(pu) != len(pl) or not pu:
        return None
    return sum(a == b for a, b in zip(pu, pl)) / len(pu)
