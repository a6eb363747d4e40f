"""Part-of-speech classes of the characters of a line (jieba), for the 词性相对 rule.

Loading jieba's tagger takes about as long as importing torch on a 2-core machine (1.5 s), and a
one-shot command needs both. `start_helper` loads jieba in a forked helper process while the
caller imports torch and loads its model; `char_pos` then asks the helper. Without a helper (the
app, the tests, a batch), jieba loads in this process on first use.
"""
from __future__ import annotations

import logging
import math
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


# jieba tags an idiom or set phrase (成语 i, 习用语 l) as one word, and whole famous lines with it (海上生明月,
# 百年好合): an idiom 上联 then agreed with no 下联 but another idiom. Such a word is also read as the
# dictionary's own smaller words (海上 / 生 / 明月: s, v, t), and a position agrees when either reading does,
# so 海阔凭鱼跃 / 天高任鸟飞 still agree throughout. Without the HMM, unknown runs stay apart instead of one
# new "word" (迎新春福满门 as one n). Real 下联 outscore a shuffled one of the same length for 76.0% of 2,000
# validation 上联 (jieba as it is: 71.9%), and 81.6% of the 272 with an idiom (73.0%)
SPLIT_FLAGS = ("i", "l")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, int], float, dict[str, str]]:
    import jieba
    posseg = _posseg()
    jieba.dt.check_initialized()
    return jieba.dt.FREQ, math.log(jieba.dt.total), posseg.dt.word_tag_tab


def split_word(word: str) -> list[str]:
    """A word of 2+ chars as the dictionary's smaller words: the most probable route through it (jieba's
    own unigram scores) that does not use the word itself; a char the dictionary lacks stands alone."""
    freq, log_total, _ = _lexicon()
    n = len(word)
    best: list[tuple[float, int]] = [(0.0, n)] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i] = max((math.log(freq.get(word[i:j]) or 1) - log_total + best[j][0], j)
                      for j in range(i + 1, n + 1) if j - i < n and (j - i == 1 or freq.get(word[i:j])))
    pieces, i = [], 0
    while i < n:
        pieces.append(word[i:best[i][1]])
        i = best[i][1]
    return pieces


def _tags(line: str) -> tuple[str, ...]:
    """Per char: the class of its word, then the class of its smaller word (the same letter twice
    unless the word is an idiom or set phrase of 3+ chars)."""
    tags: list[str] = []
    table = _lexicon()[2]
    for word, flag in _posseg().cut(line, HMM=False):
        cls = flag[:1] or "x"
        if len(word) > 2 and cls in SPLIT_FLAGS:
            tags += [cls + (table.get(piece) or "x")[:1] for piece in split_word(word) for _ in piece]
        else:
            tags += [cls * 2] * len(word)
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
    """Per char, the jieba part-of-speech classes (first letters) of its word and its smaller word (`_tags`)."""
    global _helper
    if _helper is not None:
        try:
            _helper[1].send(line)
            return tuple(_helper[1].recv())
        except (OSError, EOFError):  # the helper is gone: tag here
            _helper = None
    return _tags(line)


def structure_agreement(upper: str, lower: str) -> float | None:
    """Share of positions whose char has the same part of speech in both lines, read by its word or
    by its smaller word (`_tags`) (None: not comparable)."""
    pu, pl = char_pos(upper), char_pos(lower)
    if len(pu) != len(pl) or not pu:
        return None
    return sum(a[0] == b[0] or a[1] == b[1] for a, b in zip(pu, pl)) / len(pu)


# the commonest surnames, for `is_person_name`: jieba tags 全家福 a person's name too
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
            "卢姜崔钟谭陆汪范石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯史陶黎贺顾毛郝龚邵钱严覃武戴莫孔向汤欧")
NAME_PREFIXES = "老小阿"   # 老王, 小明


def is_person_name(word: str) -> bool:
    """Whether a word of 2-3 chars reads as a person's name (张伟, 王芳, 老王): it opens with a common surname
    or 老, 小, 阿 and is no word of jieba's dictionary. The dictionary tags 白云, 杨柳 and 田园 as names too, and
    a name a user types is seldom in it (a famous one is, 李娜, and reads as a word)."""
    return 2 <= len(word) <= 3 and word[0] in SURNAMES + NAME_PREFIXES and dictionary().get(word, 0) == 0
