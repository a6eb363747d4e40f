"""A whole couplet from a wish: 藏头联 with names, themed 春联; both lines written by the project.

Three stages, as acrostic-couplet systems do: the whole-couplet model (1 vs N, `couplet.wholetext`)
samples 上联 from the seed (theme keywords or the heads) under the rules of a line (length and
layout, heads placed, a 仄 last char, no degenerate repeats); the couplet model (N vs N) writes each
one's 下联 with every couplet rule, its heads locked; then the pairs are ranked by both models,
the N-vs-1 pair scorer and how well the pair carries the theme.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import CheckpointError, load_checkpoint
from .checkpoint import identity as checkpoint_identity
from .generate import FILL_DIFFERENCE, CoupletGenerator, Settings, apart
from .model import for_decoding, shift_right
from .decode import index_hidden
from .poemrules import PoemPlan, PoemSteps, PoemTables, sample_poems, seed_batch
from .occasions import BESIDE, MOURNING, Occasion, occasion_of, year_of
from .poetry import keywords, mixed_seed, seed_chars
from .postag import is_person_name
from .requests import DEFAULT_WHOLE_CHECKPOINT, LENGTHS, MAX_COUPLETS, WholeRequest  # noqa: F401 (re-exported)
from .text import InputError, check_input, check_ranges, is_han
from .vocab import Vocab
from .wholetext import LENGTH_TOKENS, SEP, clause_heads, layout_of, length_token

SPARE = 2                  # 上联 carried to the 下联 stage per couplet asked for
FOUR_HEADS_LENGTH = 8      # the fewest chars a line with two clauses (four heads, 4,4) can hold
# an occasion's couplets take their 横批 from its own (`Occasion.hengpi`), not the phrase table's nearest
OCCASION_HENGPI = True
# beside them, the phrase table's commonest holding a word typed beside the occasion's (四季平安 for 春节 平安):
# readers hung them as often as not (25 to 24, 3 ties) and scored the phrases lower (人民幸福, 国家兴旺 among
# them; docs/judging/whole-holding-*). Off.
OCCASION_HOLDING = False
# an occasion's couplets that name another season, or hold another occasion's words, come after the
# others (`Occasion.off_season`, `Occasion.off_words`)
OCCASION_SEASON = True
OCCASION_WORDS = True
# an occasion whose wish names its subject (茶馆开业) is seeded with the subject (`Occasion.subject`)
OCCASION_SUBJECT = True
# a wish that names a year (羊年, 2027) is 春节's with the year's seeds and 横批 (`occasions.year_of`)
OCCASION_YEAR = True
# another year's animal (猴 for 羊年) is left out as the lines are written: the couplet model answers one
# animal with another (羊年… / 猴岁…), so ranking alone left few couplets without one. Seasons stay ranked
# (`OCCASION_SEASON`): left out as written too, readers kept the couplets 9 to 8 (docs/judging/whole-avoid-*)
OCCASION_AVOID = True
# a head is followed by a char people write after it, in both lines (`couplet.phrases.Follows`; the 下联's by its
# lock, `Rules.follow`): the 下联 answered 丽日 with 华天 under the heads 丽华
HEADS_FOLLOW = True
# a person's name among a wish's words is noted, not steered toward (`WholeGenerator._is_name`)
NAMES = True
# a happy occasion's lines leave out the chars of grief as they are written (`Occasion.festive`, `MOURNING`)
OCCASION_FESTIVE = True


@dataclass
class WholeCouplet:
    upper: str
    lower: str
    score: float                 # what the order used (higher is better)
    upper_score: float           # mean log p of the 上联 under the whole-couplet model
    lower_score: float           # mean log p of the 下联 under the couplet model
    theme_fit: float | None      # mean log p gain of the pair from the theme seed (PMI per char)
    scorer: float | None         # log P(real pair) from the pair scorer
    hengpi: str | None = None    # the 4-char scroll over the couplet, when asked for
    seed: str = ""               # the seed its 上联 was drawn from (one of an occasion's)
    off_theme: bool = False      # it holds a word its occasion's couplets leave out (shown only when too few others)


@dataclass
class WholeResult:
    request: WholeRequest
    seed: str                    # the seed chars the model read
    keywords: list[str]
    layout: str                  # clause lengths, e.g. 4,7
    couplets: list[WholeCouplet]
    notes: list[str] = field(default_factory=list)
    hengpi_from: tuple[str, ...] = ()   # the phrases its 横批 are chosen from (an occasion's), else the table's

    @property
    def size(self) -> str:
        """Chars per line and the layout, as the CLI and the page show them: 9 字 (4,5)."""
        return f"{layout_chars(self.layout)} 字 ({self.layout})"


def split_layout(layout: str, clauses: int) -> str:
    """A layout with at least `clauses` clauses: 7 -> 3,4 when two clause heads are asked for."""
    parts = [int(x) for x in layout.split(",")]
    if len(parts) >= clauses:
        return layout
    n = sum(parts)
    return f"{n // 2},{n - n // 2}"


def layout_chars(layout: str) -> int:
    """The Han chars a line of this layout holds: 4,5 -> 9."""
    return sum(int(x) for x in layout.split(","))


def layout_text(layout: str) -> list[int]:
    """Start position of each clause in the line, commas counted: "4,7" -> [0, 5]."""
    starts, pos = [], 0
    for part in layout.split(","):
        starts.append(pos)
        pos += int(part) + 1
    return starts


def words_held(text: str, words: list[str]) -> int:
    """How many of the theme's words a text holds whole."""
    return sum(1 for w in words if w and w in text)


ROUNDS = 3  # rounds of 上联 draws at most, while fewer than n couplets differ from each other


class WholeGenerator:
    def __init__(self, model, vocab: Vocab, couplets: CoupletGenerator, meta: dict | None = None,
                 identity: str = "in-memory model"):
        self.model, self.vocab, self.meta = model.eval(), vocab, meta or {}
        self.couplets = couplets
        self.tables = PoemTables(vocab, couplets.prosody, self.meta.get("doubles", ""))
        self.known = set(vocab.chars())
        self.layouts: dict[str, str] = self.meta.get("layouts", {})
        self.identity = identity
        self._hengpi = None

    @property
    def hengpi(self):
        """The 横批 chooser over the phrase table stored with the model (falsy if there is none)."""
        if self._hengpi is None:
            from .hengpi import HengpiChooser
            self._hengpi = HengpiChooser(self, self.meta.get("hengpi", []))
        return self._hengpi

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, *, couplets: CoupletGenerator | None = None,
             device: str = "cpu", int8: bool | None = None) -> "WholeGenerator":
        path = Path(checkpoint) if checkpoint else DEFAULT_WHOLE_CHECKPOINT
        model, vocab, meta = load_checkpoint(path, device=device, kind="whole")
        couplets = couplets or CoupletGenerator.load(device=device, int8=int8)
        return cls(for_decoding(model, int8=int8, device=device), vocab, couplets, meta,
                   identity=checkpoint_identity(path, meta))

    # ------------------------------------------------------------ the request
    def prepare(self, req: WholeRequest) -> tuple[list[str], list[str], str, str, list[str], Occasion | None,
                                                  list[str]]:
        """Validate a wish: (seeds, keywords, layout, heads, notes, occasion, the words its 上联 are steered
        toward); one seed, or an occasion's (each a share of the draws, `couplet.occasions`); the typed words
        the seeds leave out (`Occasion.beside`, or past the seed's chars) are steered toward. Raises InputError."""
        check_ranges(req)
        notes: list[str] = []
        heads = ""
        if req.head.strip():
            checked = check_input(req.head, max_len=8, what="藏头")
            notes += checked.notes
            heads = "".join(c for c in checked.text if is_han(c))
            if len(heads) not in (1, 2, 4) or len(heads) != len(checked.text):
                raise InputError("藏头 takes 1 Chinese character (the 上联's head), 2 (one per line) or 4 (two per line), "
                                 f"not {req.head.strip()!r}")
        words: list[str] = []
        names: list[str] = []
        occasion = None
        if req.theme.strip():
            typed = req.theme.strip()   # a year alone (2027) is a wish for its 春联: read as 2027年
            theme = check_input(typed + "年" if OCCASION_YEAR and typed.isdigit() and year_of(typed) else req.theme,
                                max_len=200, what="the theme")
            notes += theme.notes
            occasion = occasion_of(theme.text, "seeds", years=OCCASION_YEAR) if req.occasion else None
            parts = [w for w in re.split(r"[\s,，、;；]+", theme.text) if w]
            # a list of words is kept as typed; a sentence is cut into its keywords
            words = parts if len(parts) > 1 and all(len(w) <= 4 for w in parts) else keywords(theme.text, 4)
            # a name typed among the words (结婚 张伟 李娜) is not steered toward: 良缘美满张伟业 wrote it as two words
            names = [w for w in words if self._is_name(w)]
            words = [w for w in words if any(is_han(c) and c in self.known for c in w)]
            if not words and occasion is None:
                raise InputError("the theme gives no keyword the model knows; try other words")
        if not heads and not words and occasion is None:
            raise InputError("give a theme (e.g. 中秋 团圆) or the heads of a 藏头联 (e.g. 福华), or both")
        if names and not heads:
            notes.append(f"{' '.join(names)}: a name? the 藏头 box (--head) writes a name's characters at the heads "
                         "of the lines")
        length = req.length
        if len(heads) == 4 and length < FOUR_HEADS_LENGTH:   # written at the nearest length that has two clauses
            length = FOUR_HEADS_LENGTH
            notes.append(f"4 heads put two clauses in each line: written at {length} characters, not {req.length}")
        layout = self.layouts.get(str(length), str(length))
        layout = split_layout(layout, max(1, len(heads) // 2))
        subject = occasion.subject_of(words) if occasion is not None and OCCASION_SUBJECT else []
        if subject:   # 茶馆开业: the tea house
            notes.append(f"read as {occasion.name} of {' '.join(subject)} (occasion off: the words as typed)")
            return [seed_chars(subject, self.model.cfg.max_seed)], subject, layout, heads, notes, occasion, []
        if occasion is not None:   # the words its couplets are written with, not the everyday word
            notes.append(f"read as {occasion.name}: seeded with {' '.join(occasion.seeds)} (occasion off: the words as typed)")
            seeds = [s[:self.model.cfg.max_seed] for s in occasion.seeds]
            beside = ([w for w in occasion.beside([w for w in words if w not in names]) if all(c in self.vocab for c in w)]
                      if req.cover > 0 else [])
            if beside:
                notes.append(f"steered toward {' '.join(beside)}")
            return (seeds, list(dict.fromkeys([w for s in seeds for w in (s[:2], s[2:]) if w] + beside)), layout,
                    heads, notes, occasion, beside)
        seed = seed_chars(words, self.model.cfg.max_seed) if words else heads[:self.model.cfg.max_seed]
        # the words past the seed's chars (平安 幸福 健康: 健康), steered toward as an occasion's other words are
        beside = [w for w in words if 2 <= len(w) <= 4 and not set(w) <= set(seed) and w not in names
                  and all(c in self.vocab for c in w)][:BESIDE] if req.cover > 0 else []
        if beside:
            notes.append(f"steered toward {' '.join(beside)}")
        return [seed], words, layout, heads, notes, None, beside

    def plan(self, layout: str, heads: str, seed: str, avoid: str = "", steer: tuple[list[str], float] = ([], 0.0)
             ) -> tuple[PoemPlan, list[str | None]]:
        """The 上联's decoding plan: the length token, the commas of the layout, the heads, a 仄 last
        char, no degenerate repeats, the seed's chars once, none of avoid's (`_avoided`), each draw lifted
        toward the words of steer not yet written (words, bonus; the poems' `_KeywordCover`). Also the
        chars written as-is (heads the model does not know) by position."""
        vocab, tables = self.vocab, self.tables
        starts = layout_text(layout)
        line_len = starts[-1] + int(layout.split(",")[-1])
        t_len = 1 + line_len
        allowed = tables.han.unsqueeze(0).repeat(t_len, 1)
        allowed[:, [vocab.stoi[c] for c in set(avoid) - set(seed) if c in vocab.stoi]] = False
        forced = torch.full((t_len,), -1, dtype=torch.long)
        literal: list[str | None] = [None] * t_len

        def force(t: int, ch: str) -> None:
            forced[t] = vocab.stoi.get(ch, vocab.unk_id)
            allowed[t] = False
            allowed[t, forced[t]] = True
            if ch not in vocab:
                literal[t] = ch
        force(0, length_token(layout_chars(layout)))
        for s in starts[1:]:
            force(s, "，")  # the comma sits right before the clause at s + 1 (1-based in t)
        upper_heads = heads[:len(heads) // 2] if len(heads) > 1 else heads
        for k, ch in enumerate(upper_heads):
            at = 1 + starts[k] if len(heads) == 4 else 1
            force(at, ch)
            after = self._after(ch) if HEADS_FOLLOW and at + 1 < t_len else None
            if after is not None and (allowed[at + 1] & after).any():
                allowed[at + 1] &= after
        last = t_len - 1
        if forced[last] < 0:
            allowed[last] &= tables.ze
        placed = {c for c in heads if c in vocab}  # the 下联's heads too: kept out of the 上联
        once = {c for c in seed if c in vocab} - placed  # a theme's chars at most once

        def mask_of(chars: set[str]) -> torch.Tensor | None:
            if not chars:
                return None
            m = torch.zeros(len(vocab), dtype=torch.bool)
            m[[vocab.stoi[c] for c in chars]] = True
            return m
        words, bonus = steer
        kw = tuple(tuple(vocab.stoi[c] for c in w) for w in words if len(w) <= t_len - 1)
        plan = PoemPlan(n_lines=1, width=t_len - 1, allowed=allowed, forced=forced, rhyme_pos=[], line_end={},
                        groups=torch.ones(len(tables.group_names), dtype=torch.bool),
                        repeat_rules=(True, True, True), attested=False, limited=mask_of(once),
                        reserved=mask_of(placed), keywords=kw, cover=bonus if kw else 0.0)
        return plan, literal

    def _is_name(self, word: str) -> bool:
        """A person's name (`postag.is_person_name`: a surname, no word of jieba's) whose first two chars the
        training couplets seldom write together (程门, 唐风 and 高朋 are no names)."""
        follows, cv = self.couplets.tables.follows, self.couplets.vocab
        if not NAMES or not is_person_name(word):
            return False
        return follows is None or not (word[0] in cv.stoi and word[1] in cv.stoi
                                       and follows.after(cv.stoi[word[0]])[cv.stoi[word[1]]])

    def _after(self, ch: str) -> torch.Tensor | None:
        """(V,) bool over this model's vocabulary: the chars people write right after ch, by the couplet
        model's table (`couplet.phrases.Follows`); None where it has none or does not know ch."""
        follows, cv = self.couplets.tables.follows, self.couplets.vocab
        if follows is None or ch not in cv.stoi:
            return None
        ids = [self.vocab.stoi[cv.itos[i]] for i in follows.after(cv.stoi[ch]).nonzero().flatten().tolist()
               if cv.itos[i] in self.vocab.stoi]
        row = torch.zeros(len(self.vocab), dtype=torch.bool)
        row[ids] = True
        return row

    # ------------------------------------------------------------ generation
    def generate(self, req: WholeRequest, *, avoid: set[str] | None = None) -> WholeResult:
        """Couplets for a wish. avoid: 上联 written earlier in the same batch, not written again; the
        couplets' own 上联 are added to it."""
        seeds, words, layout, heads, notes, occasion, beside = self.prepare(req)
        left_out, lower_left_out = _avoided(occasion), _avoided(occasion, lower=True)
        # with typed words the seeds leave out, half of each seed's draws are steered toward them: the ranking's
        # word bonus weighs a couplet that holds one against the seed's own lines
        steers = [([], 0.0)] + ([(beside, req.cover)] if beside else [])
        plans = [(seed, k, self.plan(layout, heads, seed, left_out, steer)) for seed in seeds
                 for k, steer in enumerate(steers)]
        lock_heads = heads[len(heads) // 2:] if len(heads) > 1 else ""
        at = layout_text(layout) if len(heads) == 4 else [0]  # where the 下联's heads go
        pairs: list[tuple[str, str, float, float, str]] = []
        seen: set[str] = set()
        for round_ in range(ROUNDS if not req.sampler().greedy else 1):  # more draws while too few differ
            drawn = [(seed, upper, up_score) for seed, k, (plan, literal) in plans
                     for upper, up_score in self._uppers(plan, literal, seed, req, words, round_, share=len(plans),
                                                         part=k)]
            for seed, upper, up_score in drawn:
                if upper in seen or (avoid is not None and upper in avoid):
                    continue
                seen.add(upper)
                lock = None
                if lock_heads:  # the 下联's heads at the starts of its clauses, the rest free
                    lock = list("_" * len(upper))
                    for k, ch in enumerate(lock_heads):
                        lock[at[k]] = ch
                    lock = "".join(lock)
                try:
                    result = self.couplets.generate(upper, Settings.for_request(batch=True, follow=HEADS_FOLLOW),
                                                    lock=lock, avoid=lower_left_out)
                except InputError as e:
                    notes.append(f"no 下联 for {upper}: {e}")
                    continue
                if result.candidates:
                    pairs.append((upper, result.candidates[0].lower, up_score, result.candidates[0].score, seed))
            couplets = self._rank(pairs, req, words, off=_off(occasion))
            kept = apart(couplets, _differ, req.n)   # as the 下联 list: half apart, filled at a third
            if sum(not c.off_theme for c in kept) >= req.n:
                break
        if len(kept) < req.n:
            notes.append(f"{len(kept)} of the {req.n} couplets asked for differ from each other in "
                         f"{FILL_DIFFERENCE:.0%} of their characters"
                         + ("; raise the temperature for more" if req.sampler().greedy else ""))
        if avoid is not None:
            avoid.update(c.upper for c in kept)
        hengpi_from = ()
        if occasion is not None and OCCASION_HENGPI:   # its own, and those holding a word typed beside it
            holding = self.hengpi.holding(beside) if self.hengpi and OCCASION_HOLDING else []
            hengpi_from = occasion.hengpi + tuple(h for h in holding if h not in occasion.hengpi)
        res = WholeResult(request=req, seed=" ".join(seeds), keywords=words, layout=layout, couplets=kept, notes=notes,
                          hengpi_from=hengpi_from)
        return self.add_hengpi(res) if req.hengpi else res

    def add_hengpi(self, res: WholeResult) -> WholeResult:
        """Each couplet's 横批, each shown once where it can (`HengpiChooser.for_page`), fitted to the
        wish's theme when it has one (a 藏头 wish without a theme: the couplet alone), chosen among an
        occasion's own 横批 for an occasion. The page calls it after showing the couplets, since it takes
        most of a request's time."""
        if self.hengpi and res.couplets:
            theme = [c.seed if res.keywords else "" for c in res.couplets]   # the seed each was drawn from
            pairs = [(c.upper, c.lower) for c in res.couplets]
            for c, h in zip(res.couplets, self.hengpi.for_page(pairs, theme=theme, only=res.hengpi_from)):
                c.hengpi = h
        return res

    def _uppers(self, plan: PoemPlan, literal: list[str | None], seed: str, req: WholeRequest,
                words: list[str], round_: int = 0, share: int = 1, part: int = 0) -> list[tuple[str, float]]:
        """Distinct 上联 sampled under the plan, best first: those that kept every soft rule, then by
        mean log-probability plus the bonus for the theme words they hold whole; at most SPARE per
        couplet asked for. Each round draws anew. share: the seeds the draws are split between (an
        occasion's, and for each the draws steered or not), this one drawing and keeping its share; part:
        which of a seed's shares (its draws differ)."""
        parts = ((req.seed, req.theme, req.head, req.length) + ((round_,) if round_ else ()) + ((seed,) if share > 1 else ())
                 + ((part,) if part else ()))
        sampler = req.sampler(torch.Generator().manual_seed(mixed_seed(*parts)))
        rows = 1 if sampler.greedy else -(-req.n * req.draws // share)
        steps = PoemSteps(self.model, seed_batch(self.vocab, [seed], self.model.cfg.max_seed), rows)
        ids, scores, relaxed = sample_poems(steps, plan, self.tables, rows=rows, sampler=sampler)
        out, seen = [], set()
        for row, s, r in zip(ids.tolist(), scores.tolist(), relaxed.tolist()):
            text = "".join(lit or self.vocab.itos[i] for lit, i in zip(literal[1:], row[1:]))
            if text not in seen:
                seen.add(text)
                out.append((r, text, s / (len(row) - 1)))
        out.sort(key=lambda x: (x[0], -(x[2] + req.word_bonus * words_held(x[1], words))))
        return [(text, mean) for _, text, mean in out[:-(-SPARE * req.n // share)]]

    @torch.inference_mode()
    def pair_logp(self, pairs: list[tuple[str, str]], seed: str | list[str]) -> torch.Tensor:
        """Mean log p of each whole text (⑦上联｜下联) of one length given the seed (one for all or one
        per pair; empty: no seed), per char."""
        seeds = seed if isinstance(seed, list) else [seed] * len(pairs)
        # pairs that share their seed and 上联 share the model's pass over ⑦上联｜ (横批 candidates are
        # scored over every 下联 of one 上联): that part is read once, then each 下联 goes on from it
        heads: dict[tuple[str, str], int] = {}
        head_of = torch.tensor([heads.setdefault((s, length_token(sum(is_han(c) for c in u)) + u + SEP), len(heads))
                                for s, (u, _) in zip(seeds, pairs)])
        head = torch.tensor([self.vocab.encode(h) for _, h in heads])                # (G, P) ⑦上联｜
        tail = torch.tensor([self.vocab.encode(w) for _, w in pairs])                # (R, W) the 下联
        vec, hidden = self.model.encode(seed_batch(self.vocab, [s for s, _ in heads], self.model.cfg.max_seed))
        logits, hidden = self.model.decode(shift_right(head, self.vocab.bos_id), vec, hidden)
        head_lp = torch.log_softmax(logits.float(), dim=-1).gather(2, head.unsqueeze(2)).squeeze(2)
        prev = torch.cat([head[head_of, -1:], tail[:, :-1]], dim=1)                 # ｜ then the 下联 but its last
        logits, _ = self.model.decode(prev, vec[head_of], index_hidden(hidden, head_of))
        tail_lp = torch.log_softmax(logits.float(), dim=-1).gather(2, tail.unsqueeze(2)).squeeze(2)
        tok = torch.cat([head_lp[head_of, 1:], tail_lp], dim=1)                     # the length token is given
        known = torch.cat([head[head_of, 1:], tail], dim=1) != self.vocab.unk_id
        return (tok * known).sum(1) / known.sum(1).clamp(min=1)

    def _rank(self, pairs: list[tuple[str, str, float, float, str]], req: WholeRequest,
              words: list[str], off: tuple[str, ...] = ()) -> list[WholeCouplet]:
        """The pairs (上联, 下联, their scores, the seed the 上联 was drawn from), best first, those holding
        a word of off (what an occasion's couplets leave out, `_off`) after the rest; the theme fit is
        read with each pair's own seed, when the wish has a theme (words)."""
        if not pairs:
            return []
        texts = [(u, w) for u, w, *_ in pairs]
        lengths = {len(u) for u, _ in texts}
        theme = None
        if words and len(lengths) == 1:
            theme = (self.pair_logp(texts, [p[4] for p in pairs]) - self.pair_logp(texts, "")).tolist()
        scorer = None
        if req.scorer_weight > 0 and self.couplets.scorer is not None:
            scorer = self.couplets.pair_scores(texts)
        out = []
        for i, (u, w, us, ws, seed) in enumerate(pairs):
            t = theme[i] if theme is not None else None
            sc = scorer[i] if scorer is not None else None
            total = (us + ws + req.theme_weight * (t or 0.0) + req.scorer_weight * (sc or 0.0)
                     + req.word_bonus * words_held(u + w, words))
            out.append(WholeCouplet(upper=u, lower=w, score=total, upper_score=us, lower_score=ws, theme_fit=t,
                                    scorer=sc, seed=seed, off_theme=any(x in u + w for x in off)))
        return sorted(out, key=lambda c: (c.off_theme, -c.score))


def _off(occasion: Occasion | None) -> tuple[str, ...]:
    """The words (a char is one) an occasion's couplets leave out while others are left: another
    season's chars, another occasion's words (each by its switch)."""
    if occasion is None:
        return ()
    return (tuple(occasion.off_season) if OCCASION_SEASON else ()) + (occasion.off_words if OCCASION_WORDS else ())


def _avoided(occasion: Occasion | None, lower: bool = False) -> str:
    """The one-char words of an occasion's `off_words` (another year's animal), which its lines leave out
    as they are written (`OCCASION_AVOID`); a seed's or a head's own are still written. lower: the 下联's,
    which also leave out the year before (`Occasion.year_before`): a 春联 sees the old year off in the
    上联 and greets the new one in the 下联 (送马年… / 迎羊岁…), and 金羊… / 骏马… reads backwards. A happy
    occasion's lines leave out the chars of grief too (`Occasion.festive`, `OCCASION_FESTIVE`)."""
    if occasion is None:
        return ""
    grief = MOURNING if occasion.festive and OCCASION_FESTIVE else ""
    if not (OCCASION_AVOID and OCCASION_WORDS):
        return grief
    return "".join(w for w in occasion.off_words if len(w) == 1) + (occasion.year_before if lower else "") + grief


def _differ(a: WholeCouplet, b: WholeCouplet) -> float:
    """The share of positions in which two couplets differ, the lesser of the 上联's and the 下联's."""
    han = max(sum(is_han(x) for x in a.upper), 1)
    return min(sum(x != y for x, y in zip(a.upper, b.upper)), sum(x != y for x, y in zip(a.lower, b.lower))) / han


def check_whole(upper: str, lower: str, heads: str, prosody) -> dict[str, bool]:
    """The hard rules of a whole couplet, for tests and the evaluation."""
    from .prosody import PING, ZE
    ups, lows = clause_heads(upper), clause_heads(lower)
    if len(heads) == 4:
        placed = ups[:2] == heads[:2] and lows[:2] == heads[2:]
    elif len(heads) == 2:
        placed = upper[0] == heads[0] and lower[0] == heads[1]
    else:
        placed = not heads or upper[0] == heads[0]
    repeats_mirror = all((upper[i] == upper[j]) == (lower[i] == lower[j])
                         for i in range(len(upper)) for j in range(i + 1, len(upper))
                         if is_han(upper[i]) and is_han(upper[j]))
    return {"heads": placed,
            "length": len(upper) == len(lower),
            "punctuation": layout_of(upper) == layout_of(lower)
            and all(a == b for a, b in zip(upper, lower) if not is_han(a)),
            "repeats": repeats_mirror,
            "no_copy": not ({c for c in upper if is_han(c)} & {c for c in lower if is_han(c)}),
            "tones": prosody.tone(upper[-1]) == ZE and prosody.tone(lower[-1]) == PING,
            "no_degenerate": all(line.count(c) < 3 for line in (upper, lower) for c in set(line) if is_han(c))
            and all(len(set(bg)) == len(bg) for bg in ([upper[i:i + 2] for i in range(len(upper) - 1)
                                                        if all(is_han(c) for c in upper[i:i + 2])],)),
            }


__all__ = ["WholeRequest", "WholeGenerator", "WholeResult", "WholeCouplet", "check_whole", "LENGTH_TOKENS",
           "CheckpointError"]
