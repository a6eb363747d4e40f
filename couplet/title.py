"""Poem titles, N vs M: the title model reads a poem and writes a short title (2-8 chars).

Training titles come from chinese-poetry, cleaned: a trailing 其二/二首 is cut, and titles that
say nothing of the poem (无题, 绝句, 句, 偈, 诗一首 ...) are left out. Generation is beam search
over the title's chars until the end mark, with the length held to MIN_TITLE..max_title.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .checkpoint import identity as checkpoint_identity
from .decode import index_hidden
from .model import for_decoding
from .occasions import FESTIVAL_NAMES
from .poemrules import format_poem
from .requests import DEFAULT_TITLE_CHECKPOINT
from .text import InputError, check_input, is_han
from .vocab import Vocab

END = "。"          # the end mark the model writes after a title
MIN_TITLE = 2
NOISE = {"无题", "绝句", "句", "偈", "诗", "诗一首", "失题", "颂", "杂诗", "杂咏", "杂题", "杂兴", "偈颂", "颂古",
         "又", "其一", "其二", "题", "佚句", "残句", "律诗", "五言", "七言", "五绝", "七绝", "五律", "七律"}
NOISE_START = ("偈颂", "颂古", "偈", "拟寒山")  # Buddhist verse series: titles that name no subject
# a series number at the end: 其二, 二首, 二首一, 第三十一 (登科后第三十一 for a poem of its own)
_NUMBERED = re.compile(r"((其|第)[一二三四五六七八九十百千零〇]+|[一二三四五六七八九十百千零〇]+首[一二三四五六七八九十]?)$")
MAX_PER_TITLE = 20  # a title that many poems share (宫词 ×810) is kept for at most this many
# chars by which a corpus title names an occasion or a series outside the poem: a reply (次韵, 和, 答,
# 酬, 见寄), a gift or letter (寄, 赠, 呈, 奉, 谢), a parting (送, 别), a collection (集句, 十绝, 二首,
# 杂曲歌辞). The model learnt them with the titles (《次韵子瞻见寄》 for a poem about wine), so a title
# takes one only where the poem holds it.
OCCASION = "次韵和答酬见寄赠呈奉谢送别集绝句首其辞一二三四五六七八九十百"
# and a death (挽, 悼, 哭, 吊, 祭): poems of 金榜登科 were titled 挽吕东莱先生 10 times in 12, the elegies of the
# corpus summing up a career
MOURNING = "挽悼哭吊祭"
# a title that names a festival or day the poem does not hold is left out (端午帖子词皇帝合 for a birthday poem,
# 中秋夜闻雁 for 七夕), and the court's festival verses (帖子) with it
FESTIVALS = tuple(w for names in FESTIVAL_NAMES.values() for w in names) + (
    "元日", "元旦", "人日", "立春", "上巳", "中元", "冬至", "守岁", "帖子")


def clean_title(title: str) -> str | None:
    """The title as training uses it, or None for a noise title (无题, 其一 ...) or one of the wrong size."""
    t, prev = "".join(title.split()), None
    while t != prev:  # 金陵杂兴二百首其一 -> 金陵杂兴二百首 -> 金陵杂兴
        prev, t = t, _NUMBERED.sub("", t)
    if not t or not all(is_han(c) for c in t) or t in NOISE or t.startswith(NOISE_START) \
            or not MIN_TITLE <= len(t) <= 8:
        return None
    return t


def keyword_title(lines: list[str], k: int = 2) -> str:
    """The baseline: the poem's first jieba keywords joined, at most 8 chars."""
    from .poetry import keywords
    return "".join(keywords("，".join(lines), k))[:8]


class TitleGenerator:
    def __init__(self, model, vocab: Vocab, meta: dict | None = None, identity: str = "in-memory model"):
        self.model, self.vocab, self.meta, self.identity = model.eval(), vocab, meta or {}, identity
        self.known = set(vocab.chars())
        self.han = torch.tensor(vocab.writable(), dtype=torch.bool)
        self.occasion = torch.tensor(sorted({vocab.stoi[c] for c in OCCASION + MOURNING if c in vocab.stoi}),
                                     dtype=torch.long)

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, *, device: str = "cpu", int8: bool | None = None
             ) -> "TitleGenerator":
        path = Path(checkpoint) if checkpoint else DEFAULT_TITLE_CHECKPOINT
        model, vocab, meta = load_checkpoint(path, device=device, kind="title")
        return cls(for_decoding(model, int8=int8, device=device), vocab, meta, checkpoint_identity(path, meta))

    def poem_text(self, poem: str | list[str]) -> str:
        """A pasted poem (any punctuation, traditional or simplified) as the model reads it."""
        text = poem if isinstance(poem, str) else "，".join(poem)
        checked = check_input(text, known=self.known, max_len=200, what="the poem", allow_unknown=True).text
        lines = [x for x in re.split(r"[，。；：！？、,.;:!?\s]+", checked) if x]
        if not lines or sum(len(x) for x in lines) < 4:
            raise InputError("the poem is too short to title: paste at least one line of Chinese characters")
        return format_poem(lines)

    @torch.inference_mode()
    def titles(self, poem: str | list[str], *, n: int = 1, beam: int = 5, start: str = "") -> list[tuple[str, float]]:
        """The n best titles (title, mean log-prob per char incl. the end mark), best first; with start,
        titles that begin with it (an occasion's, `Occasion.title`: 七夕…), its chars read as written."""
        text = self.poem_text(poem)
        src = torch.tensor([self.vocab.encode(text)])
        memory, keys, hidden = self.model.encode(src)
        advance = self.model.stepper()
        end, max_len = self.vocab.stoi[END], self.model.cfg.max_title
        allowed = self.han.clone()       # Han chars, less the occasions the poem does not hold (OCCASION)
        allowed[self.occasion[~torch.isin(self.occasion, src)]] = False
        beams: list[tuple[list[int], float]] = [([], 0.0)]     # chars so far, summed log-prob
        done: list[tuple[str, float]] = []
        head = [self.vocab.stoi[c] for c in start if c in self.vocab.stoi]
        for step in range(max_len + 1):
            prev = torch.tensor([ids[-1] if ids else Vocab.bos_id for ids, _ in beams])
            k = len(beams)
            logits, hidden = advance(prev, memory.expand(k, -1, -1), keys.expand(k, -1, -1), hidden)
            logp = torch.log_softmax(logits.float(), dim=-1)
            ends = logp[:, end].tolist()
            mask = allowed.expand(k, -1).clone()
            rows = [r for r, (ids, _) in enumerate(beams) for _ in ids]
            if rows:                                   # no char twice in a title
                mask[rows, [i for ids, _ in beams for i in ids]] = False
            if step < len(head):                       # the start, as given
                mask[:] = False
                mask[:, head[step]] = True
            top = logp.masked_fill(~mask, float("-inf")).topk(beam, dim=-1)   # every row at once
            values, indices = top.values.tolist(), top.indices.tolist()
            cands = []                                 # (chars, score, the row it grows from)
            for r, (ids, score) in enumerate(beams):
                if step >= max(MIN_TITLE, len(head)):  # the end mark closes a title of 2+ chars, past the start
                    done.append((self.vocab.decode(ids), (score + ends[r]) / (len(ids) + 1)))
                if step == max_len:
                    continue
                cands += [(ids + [i], score + v, r) for v, i in zip(values[r], indices[r]) if v > float("-inf")]
            if not cands:
                break
            cands = sorted(cands, key=lambda c: -c[1])[:beam]
            beams = [(ids, score) for ids, score, _ in cands]
            hidden = index_hidden(hidden, torch.tensor([r for _, _, r in cands]))
        best: dict[str, float] = {}
        for t, s in sorted(done, key=lambda x: -x[1]):
            t = clean_title(t)  # numbering the model learned from the corpus (二首一) is cut, as in training
            if t is not None and not any(f in t and f not in text and f not in start for f in FESTIVALS):
                best.setdefault(t, s)
        return list(best.items())[:n]
