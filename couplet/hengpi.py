"""横批: the 4-character scroll over a couplet, chosen from the 4-character phrases of the couplets.

Candidates are the 4-character clauses that the training couplets use most (stored in the
whole-couplet checkpoint by `export --counts-from`). A candidate h is scored by how much reading it
as the seed raises the whole-couplet model's probability of the couplet,
    fit(h) = mean log p(⑦上联｜下联 | seed h) - mean log p(⑦上联｜下联 | no seed),
the model that was trained to write couplets from their keywords (an N-vs-1 use of the 1-vs-N
model). The shortlist scored: phrases sharing a character with the couplet, and the most common ones.
A wish's theme adds the phrases nearest it and a term for that nearness: the cosine of the model's seed
vectors (its seed encoder reads a phrase as it reads the theme), so a teacher's couplet gets 尊师重教
rather than the commonest phrase that fits any couplet.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch

from .occasions import ZODIAC, year_named
from .poemrules import seed_batch
from .text import is_han

PHRASES_KEPT = 10000   # 4-char phrases stored with the whole-couplet model
# the shortlist: every phrase on it is a full pass of the model, so it is most of a 横批's time. 60 and
# 40 against 150 and 100: 2.2x faster, another first choice for 109 of 300 validation couplets, and
# readers kept the shorter list's 21 times to 16 (3 ties; docs/judging/hengpi-shortlist-*)
COMMON = 40            # the most common phrases, always on the shortlist
SHARED = 60            # at most this many phrases sharing a char with the couplet (the commonest)
PRIOR = 0.2            # weight of log count, calibrated on the 175 real triples (top-5 hits 8 vs 3 at 0)
THEME = 1.0            # weight of the cosine between a phrase's seed vector and the theme's
NEAR_THEME = 20        # the phrases nearest the theme, added to the shortlist
# a bonus for a phrase that is a word of jieba's dictionary (a set phrase, 成语) at 0.5 made 199 of 200
# first choices such words (128 without), but readers kept the choice without it 23 times to 16: the
# set phrases it brings (众志成城, 两袖清风) fit less (docs/judging/hengpi-idiom-*). Off.
IDIOM = 0.0
HOLDING = 3            # phrases holding a word typed beside an occasion's, beside its own 横批 (四季平安 for 平安)
APART = 3              # a page's couplets take their best 横批 not already shown, among their best APART
SCORED_ROWS = 128      # (couplet, phrase) rows a pass: a pass's (rows x chars x vocabulary) log-probs stay
                       # in cache (1,024 rows took 1.5x as long for one 上联's five 下联)


def four_char_phrases(pairs, *, min_count: int = 4, keep: int = PHRASES_KEPT) -> list[list]:
    """[phrase, lines] of the 4-Han-char clauses of the couplets, commonest first, counted once per
    distinct line that holds them: a contest's given line answered 175 times (广府古城，…) is one use
    of its phrases, not 175."""
    counts: Counter = Counter()
    for line in {line for p in pairs for line in (p.upper, p.lower)}:
        clause = []
        for c in line + "，":
            if is_han(c):
                clause.append(c)
                continue
            if len(clause) == 4 and len(set(clause)) > 1:
                counts["".join(clause)] += 1
            clause = []
    ranked = sorted((x for x in counts.items() if x[1] >= min_count), key=lambda x: (-x[1], x[0]))
    return [[ph, n] for ph, n in ranked[:keep]]


@dataclass
class Hengpi:
    text: str
    fit: float           # log-probability gain per char of the couplet from this seed
    score: float         # fit plus the small frequency prior and the theme term: what the order uses


class HengpiChooser:
    def __init__(self, whole, phrases: list[list]):
        self.whole = whole
        known = whole.known
        self.phrases = [(ph, n) for ph, n in phrases if all(c in known for c in ph)]
        self.by_char: dict[str, list[int]] = {}
        for i, (ph, _) in enumerate(self.phrases):
            for c in set(ph):
                self.by_char.setdefault(c, []).append(i)
        self._vectors: torch.Tensor | None = None
        self._idioms: list[bool] | None = None

    def __bool__(self) -> bool:
        return bool(self.phrases)

    @torch.inference_mode()
    def _seed_vectors(self, seeds: list[str]) -> torch.Tensor:
        """(N, H) unit seed vectors of the whole-couplet model."""
        model, vocab = self.whole.model, self.whole.vocab
        vecs = [model.encode(seed_batch(vocab, seeds[i:i + 1024], model.cfg.max_seed))[0].float()
                for i in range(0, len(seeds), 1024)]
        return torch.nn.functional.normalize(torch.cat(vecs), dim=1)

    def vectors(self) -> torch.Tensor:
        """(phrases, H) the phrases' seed vectors, computed on first use (about 1 s; the app's warm-up)."""
        if self._vectors is None:
            self._vectors = self._seed_vectors([ph for ph, _ in self.phrases])
        return self._vectors

    def idioms(self) -> list[bool]:
        """Whether each phrase is a word of jieba's dictionary (loaded on first use, about 1 s)."""
        if self._idioms is None:
            from .postag import dictionary
            words = dictionary()
            self._idioms = [words.get(ph, 0) > 0 for ph, _ in self.phrases]
        return self._idioms

    def theme_fit(self, theme: str) -> torch.Tensor:
        """(phrases,) cosine of each phrase's seed vector with the theme's."""
        return self.vectors() @ self._seed_vectors([theme])[0]

    def shortlist(self, upper: str, lower: str, near: set[int] = frozenset()) -> list[int]:
        """Phrase indices (commonest first) worth scoring: up to SHARED that share a char with the
        couplet, the COMMON commonest and `near` (those nearest a theme); none that the couplet holds,
        and none that names a year the couplet does not greet (`year_fits`)."""
        hits = set(sorted({i for c in set(upper + lower) for i in self.by_char.get(c, [])})[:SHARED])
        hits |= set(range(min(COMMON, len(self.phrases)))) | set(near)
        return sorted(i for i in hits if self.phrases[i][0] not in upper and self.phrases[i][0] not in lower
                      and year_fits(self.phrases[i][0], upper, lower))

    def choose(self, upper: str, lower: str, k: int = 5, *, theme: str = "") -> list[Hengpi]:
        """The k best 横批 for a couplet, best first (empty if there is no phrase table)."""
        return self.choose_many([(upper, lower)], k, theme=theme)[0]

    def choose_many(self, couplets: list[tuple[str, str]], k: int = 1, batch: int = SCORED_ROWS, *,
                    theme: str | list[str] = "", only: tuple[str, ...] = ()) -> list[list[Hengpi]]:
        """The k best 横批 for each couplet; the model over all the shortlists, `batch` rows a pass, a
        phrase's rows side by side (couplets of one 上联 share the pass over it, `pair_logp`).
        theme: the seed chars of the wish the couplets were written for, if any (or each couplet's own).
        only: the phrases to choose from instead of the table's (an occasion's, `couplet.occasions`),
        ordered by fit alone: each is what people hang for it, and the fit finds the couplet's; the
        table's when the model can read none of them."""
        themes = theme if isinstance(theme, list) else [theme] * len(couplets)
        # each couplet's candidates as (order, phrase, what the score adds to the fit)
        cands: list[list[tuple[int, str, float]]]
        usable = [ph for ph in only if all(c in self.whole.known for c in ph)]   # else the table's
        if usable:
            cands = [[(j, ph, 0.0) for j, ph in enumerate(usable) if ph not in u and ph not in w] for u, w in couplets]
        else:
            near: dict[str, set[int]] = {t: set() for t in themes}
            # what the score adds per phrase beyond fit and prior, for each theme
            extra: dict[str, list[float]] = {t: [0.0] * len(self.phrases) for t in themes}
            for t in near:
                if t and THEME > 0 and self.phrases:
                    bonus = THEME * self.theme_fit(t)
                    near[t] = set(bonus.topk(min(NEAR_THEME, len(bonus))).indices.tolist())
                    extra[t] = bonus.tolist()
            if IDIOM:
                extra = {t: [x + IDIOM * idiom for x, idiom in zip(xs, self.idioms())] for t, xs in extra.items()}
            cands = [[(i, self.phrases[i][0], PRIOR * math.log(self.phrases[i][1]) + extra[themes[c]][i])
                      for i in self.shortlist(u, w, near[themes[c]])] for c, (u, w) in enumerate(couplets)]
        if not any(cands):
            return [[] for _ in couplets]
        out: list[list[Hengpi]] = [[] for _ in couplets]
        by_len: dict[int, list[int]] = {}  # pair_logp takes one length at a time
        for c, (u, _) in enumerate(couplets):
            by_len.setdefault(len(u), []).append(c)
        for members in by_len.values():
            base = self.whole.pair_logp([couplets[c] for c in members], "")
            base_of = dict(zip(members, base.tolist()))
            todo = sorted(((order, c, ph, add) for c in members for order, ph, add in cands[c]), key=lambda x: x[:2])
            for lo in range(0, len(todo), batch):
                part = todo[lo:lo + batch]
                fits = self.whole.pair_logp([couplets[c] for _, c, _, _ in part], [ph for _, _, ph, _ in part])
                for (_, c, ph, add), f in zip(part, fits.tolist()):
                    fit = f - base_of[c]
                    out[c].append(Hengpi(ph, fit, fit + add))
        return [_distinct(sorted(h, key=lambda x: -x.score), k) for h in out]

    def for_page(self, couplets: list[tuple[str, str]], *, theme: str | list[str] = "",
                 only: tuple[str, ...] = ()) -> list[str | None]:
        """One 横批 per couplet of a page (the 下联 candidates of one 上联, a wish's couplets), in page
        order: each takes its best that no couplet above it shows, among its APART best (any of an
        occasion's own), else its best."""
        shown: set[str] = set()
        out: list[str | None] = []
        for ranked in self.choose_many(couplets, max(len(only), APART), theme=theme, only=only):
            pick = next((h.text for h in ranked if h.text not in shown), ranked[0].text if ranked else None)
            shown.add(pick)
            out.append(pick)
        return out

    def holding(self, words: list[str], k: int = HOLDING) -> list[str]:
        """The k commonest phrases that hold each word (平安: 竹报平安, 岁岁平安, 四季平安), words in turn."""
        return list(dict.fromkeys(ph for w in words for ph in [ph for ph, _ in self.phrases if w in ph][:k]))

    def common(self, k: int = 5) -> list[str]:
        """The frequency baseline: the k commonest phrases, whatever the couplet."""
        return [ph for ph, _ in self.phrases[:k]]


def year_fits(phrase: str, upper: str, lower: str) -> bool:
    """Whether a 横批 that names a year (金猴贺岁, 骏马迎春; `occasions.year_named`) fits a couplet: its 下联
    names that animal, or its 上联 does and its 下联 names no other. A 春联 sees the old year off in its 上联
    and greets the new one in its 下联 (骏马奔腾辞旧岁 / 灵羊起舞贺新春 is hung under 吉羊开泰, not 骏马迎春), and
    a couplet that names no monkey is not hung under 金猴贺岁. The dragon, every year's emblem, is no other."""
    animal = year_named(phrase)
    return (not animal or animal in lower
            or animal in upper and not any(a in lower for a in ZODIAC if a not in (animal, "龙")))


def _distinct(ranked: list[Hengpi], k: int) -> list[Hengpi]:
    """The first k that are not the same chars reordered (大地回春, 大地春回)."""
    kept, seen = [], set()
    for h in ranked:
        key = "".join(sorted(h.text))
        if key not in seen:
            seen.add(key)
            kept.append(h)
        if len(kept) == k:
            break
    return kept
