"""The rules of a poem and its constrained decoding (1 vs N).

This module owns the rules: line length and count, alternating ，。, 平水韵 rhyme on the even lines
(and the first line of 七言 by default), optional 平仄 patterns of regulated verse (平起/仄起),
acrostic (藏头) and 嵌字 placement, no repeated line or rhyme char, the rules against degenerate
repeats and unattested bigrams, and the couplet model's share in a 律诗's middle couplets. They are
masks over the vocabulary applied at every step, so each poem has the exact form asked.
`couplet.poetry` holds the generator that uses them.

Over 400 lines because the rules and the loop that applies them belong together (as in
`couplet.decode` for 下联): the mask at each step reads the rows' state as they write.
"""
from __future__ import annotations

import functools

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .decode import Tables, index_hidden, keep_choice, rows_with_any
from .prosody import PING, ZE, Prosody
from .requests import FORMS, MAX_POEMS, MODES, PoemRequest  # noqa: F401 (re-exported)
from .sampling import BLOCKED, Sampler, mask_out_
from .text import PUNCT, InputError, check_input, is_han
from .vocab import Vocab


# The four basic 五言 lines; 七言 lines put two chars of the opposite tone in front.
_BASE = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
_PREFIX7 = {"A": "平平", "B": "仄仄", "C": "仄仄", "D": "平平"}
_SEQUENCES = {("A", False): "ABCD", ("A", True): "DBCD", ("C", False): "CDAB", ("C", True): "BDAB"}


def punct_after(i: int) -> str:
    return "，" if i % 2 == 0 else "。"


def format_poem(lines: list[str]) -> str:
    """Lines joined with alternating ，。 — the text the poem model reads and writes."""
    return "".join(line + punct_after(i) for i, line in enumerate(lines))


def tone_pattern(form: str, start: str, first_rhymes: bool) -> list[str]:
    """平仄 pattern of each line for a form, 平起 or 仄起 (by the 2nd char of the first line). A 律诗's
    second half is the pattern of a first line that does not rhyme: its fifth line never rhymes."""
    n_lines, width = FORMS[form]
    for first in "AC":
        halves = [[(_PREFIX7[c] + _BASE[c]) if width == 7 else _BASE[c] for c in _SEQUENCES[(first, rhymes)]]
                  for rhymes in (first_rhymes, False)]
        if halves[0][0][1] == start:
            return (halves[0] + halves[1])[:n_lines]
    raise ValueError(f"start must be 平 or 仄, not {start!r}")


def strict_positions(width: int) -> list[int]:
    """一三五不论，二四六分明: the positions whose tone is enforced (and the last)."""
    return [1, 3, 4] if width == 5 else [1, 3, 5, 6]


def first_line_rhymes(form: str, first_rhymes: bool | None) -> bool:
    """Whether the first line rhymes: as asked, else yes for 七言 and no for 五言."""
    return first_rhymes if first_rhymes is not None else FORMS[form][1] == 7


def rhyme_lines(n_lines: int, first_rhymes: bool) -> list[int]:
    return ([0] if first_rhymes else []) + list(range(1, n_lines, 2))


def form_of(lines: list[str]) -> str | None:
    """The form whose shape (lines x chars) these lines have, if any."""
    widths = {len(x) for x in lines}
    shape = (len(lines), min(widths)) if len(widths) == 1 else None
    return next((f for f, s in FORMS.items() if s == shape), None)


def poem_lines(text: str) -> list[str]:
    """The lines of a pasted poem, split at punctuation or line breaks, without what people paste
    around one: a title in 《》, a closing ——author, and up to two lines before the poem (its title,
    its author) when the rest is a 绝句 or 律诗 and they are not of its lines' length."""
    text = re.sub(r"《[^》]*》", "，", re.sub(r"\s+", "，", text.strip()))
    text = re.sub(r"[—-]{1,2}[^，。；！？、—-]*[，。]?$", "", text)
    lines = [x for x in re.split(f"[{PUNCT}]+", text) if x]
    for skip in (1, 2):
        if (form_of(lines) is None and len(lines) > skip and form_of(lines[skip:]) is not None
                and all(len(x) != len(lines[-1]) for x in lines[:skip])):
            return lines[skip:]
    return lines


def split_poem(text: object, *, what: str, known: set[str] | None = None) -> tuple[list[str], str]:
    """A pasted poem's lines (`poem_lines`; converted as any input is) and its form; an InputError
    that says what it found when it is not a 五绝, 七绝, 五律 or 七律."""
    text = check_input(re.sub(r"\s+", "，", text.strip()) if isinstance(text, str) else text, known=known,
                       max_len=96, what=what, allow_unknown=True).text
    lines = poem_lines(text)
    form = form_of(lines)
    if form is None or not all(is_han(c) for x in lines for c in x):
        widths = "/".join(map(str, sorted({len(x) for x in lines})))
        raise InputError(f"{what} must be a 五绝, 七绝, 五律 or 七律: 4 or 8 lines of 5 or 7 Chinese characters split by "
                         f"punctuation; this has {len(lines)} lines of {widths} characters")
    return lines, form


# ---------------------------------------------------------------- requests and plans
@dataclass
class PoemPlan:
    n_lines: int
    width: int
    allowed: torch.Tensor        # (T, V) static masks
    forced: torch.Tensor         # (T,) id or -1
    rhyme_pos: list[int]         # positions (in the T steps) of rhyme chars
    line_end: dict[int, int]     # position of a line's last char -> line index
    groups: torch.Tensor         # (G,) bool: rhyme groups allowed at the start
    repeat_rules: tuple[bool, bool, bool] = (False, False, False)  # no_triples, no_doubles, no_repeat_bigrams
    attested: bool = False                # neighbours within a line must be an attested bigram
    limited: torch.Tensor | None = None  # (V,) bool: seed chars a free position may use only once in all
    reserved: torch.Tensor | None = None  # (V,) bool: chars the user placed, kept off the free positions
    max_uses: int = 0                     # a char at most this many times in the poem (0: no limit)
    freq_penalty: float = 0.0             # weight of -log p(char) of the corpus unigram added to each step
    # the free steps whose next step is bound (a placed char; with rhyme_lookahead a rhyme), see `_look_ahead`
    ahead: frozenset[int] = frozenset()
    # pattern auto: (2, T, V) the chars each start (0 平起, 1 仄起) allows at each step; a row's start is
    # the tone of its step 1
    by_start: torch.Tensor | None = None
    # the user's keywords as ids, and the log-prob bonus that steers a draw toward each one not yet in the
    # poem (its first char where the line has room for it, then its next chars), see `_KeywordCover`
    keywords: tuple[tuple[int, ...], ...] = ()
    cover: float = 0.0
    # the log-prob cost, at each draw, of a char of a season the poem has not named once it has named one
    # (the seed's keywords or theme count), see `_SeasonSteer`
    season_steer: float = 0.0
    seed_seasons: tuple[int, ...] = ()


PHRASE = 3  # chars in a phrase that the poems of one request or batch should not share (see `Written`)
SEASONS = "春夏秋冬"  # the season chars whose clash across a poem's lines `LineJudge.season` costs
FOLLOWER_ROWS = 4096  # chars whose follower rows are kept (8 KB each)


class PoemTables(Tables):
    """The couplet masks (Han, 平, 仄) plus membership of the 平声 rhyme groups, the chars the
    classical corpus doubles (萧萧, 依依), the bigrams it uses and how often it uses each char."""

    def __init__(self, vocab: Vocab, prosody: Prosody, doubles: str = "", bigrams: torch.Tensor | None = None,
                 char_counts: torch.Tensor | None = None, seasons: torch.Tensor | None = None,
                 double_contexts: torch.Tensor | None = None,
                 season_pairs: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(vocab, prosody)
        # each char's season (0..3 for 春夏秋冬, -1: none): the season chars themselves, and with the
        # export's table (`poetry.season_images`) the images of one season's poems
        self.season_of = torch.full((len(vocab),), -1, dtype=torch.long)
        if seasons is not None and len(seasons) == len(vocab):
            self.season_of = seasons.long()
        for k, ch in enumerate(SEASONS):
            if ch in vocab.stoi:
                self.season_of[vocab.stoi[ch]] = k
        # the char pairs that mark a season (东风, 落叶: `poetry.season_pairs`): (a, b) -> season, and
        # a -> [(b, season)] for the pairs a char would close
        self.season_pair: dict[tuple[int, int], int] = {}
        self.season_after: dict[int, list[tuple[int, int]]] = {}
        if season_pairs is not None:
            v = len(vocab)
            for key, season in zip(season_pairs[0].tolist(), season_pairs[1].tolist()):
                self.season_pair[(key // v, key % v)] = season
                self.season_after.setdefault(key // v, []).append((key % v, season))
        # -log p(char) of the corpus unigram (add-one), 0 off the Han chars: what freq_penalty weighs
        self.rarity = None
        if char_counts is not None and len(char_counts) == len(vocab):
            c = char_counts.double() + 1.0
            self.rarity = (-(c / c.sum()).log()).float().where(self.han, torch.zeros(()))
        self.double_ok = torch.zeros(len(vocab), dtype=torch.bool)
        for ch in doubles:
            if ch in vocab.stoi:
                self.double_ok[vocab.stoi[ch]] = True
        self.double_ids = set(torch.nonzero(self.double_ok).flatten().tolist())   # the same, for Python-side checks
        # where a double may stand: keys x * V + a of the char before it (`poetry.double_contexts`); None: anywhere
        self.double_contexts = set(double_contexts.tolist()) if double_contexts is not None else None
        # attested bigrams as sorted keys a * V + b; row a's followers sit between starts[a] and starts[a + 1]
        self.bigrams, self.bigram_starts = (bigrams.long() if bigrams is not None else None), None
        self._follower_rows: dict[tuple[int, bool, bool], torch.Tensor] = {}
        if bigrams is not None and len(bigrams):
            v = len(vocab)
            self.bigram_starts = torch.searchsorted(bigrams, torch.arange(v + 1, dtype=torch.int64) * v)
        self.tone = {PING: self.ping, ZE: self.ze}
        self._start_masks: dict[tuple[str, bool], torch.Tensor] = {}
        self.group_names = sorted(g for g, t in prosody.groups.items() if t == PING)
        gi = {g: i for i, g in enumerate(self.group_names)}
        self.member = torch.zeros(len(vocab), len(self.group_names), dtype=torch.bool)  # (V, G)
        for i in torch.nonzero(self.han).flatten().tolist():
            for g in prosody.rhymes.get(vocab.itos[i], []):
                if g in gi:
                    self.member[i, gi[g]] = True
        self.rhymes = rows_with_any(self.member)                   # (V,) chars of any 平声 group

    def followers(self, prev: torch.Tensor) -> torch.Tensor:
        """(R, V) bool: the chars attested right after each row's previous char."""
        return ~self.banned_after(prev, attested=True, doubles=False)

    def banned_after(self, prev: torch.Tensor, *, attested: bool, doubles: bool) -> torch.Tensor:
        """(R, V) bool: what may not follow each row's previous char: the chars never attested after
        it (attested), and the char itself where the corpus does not double it (doubles)."""
        return torch.stack([self._banned_after(a, attested, doubles) for a in prev.tolist()])

    def _banned_after(self, a: int, attested: bool, doubles: bool) -> torch.Tensor:
        """(V,) bool for one char, kept once built: a poem asks for the same few hundred chars."""
        key = (a, attested, doubles)
        row = self._follower_rows.get(key)
        if row is None:
            v = len(self.vocab)
            row = torch.zeros(v, dtype=torch.bool)
            if attested:
                row[:] = True
                row[self.bigrams[self.bigram_starts[a]:self.bigram_starts[a + 1]] - a * v] = False
            if doubles and not self.double_ok[a]:
                row[a] = True
            if len(self._follower_rows) < FOLLOWER_ROWS:
                self._follower_rows[key] = row
        return row

    def start_masks(self, form: str, first_rhymes: bool) -> torch.Tensor:
        """(2, T, V) bool, read-only: the chars each start (0 平起, 1 仄起) allows at each step of a poem
        of this form, by the tone its pattern binds there (the first line's second char, which chooses
        the start, is not bound). Built once per form."""
        key = (form, first_rhymes)
        if key not in self._start_masks:
            n_lines, width = FORMS[form]
            masks = torch.ones(2, n_lines * (width + 1), len(self.vocab), dtype=torch.bool)
            for k, start in enumerate((PING, ZE)):
                pattern = tone_pattern(form, start, first_rhymes)
                for i in range(n_lines):
                    for j in strict_positions(width):
                        if (i, j) != (0, 1):
                            masks[k, i * (width + 1) + j] = self.tone[pattern[i][j]]
            self._start_masks[key] = masks
        return self._start_masks[key]

    def find_group(self, name: str) -> int:
        hits = [i for i, g in enumerate(self.group_names) if name and (g == name or g.rstrip("平") == name
                                                                       or g[-2:-1] == name)]
        if len(hits) != 1:
            some = "、".join(g.rstrip("平") for g in self.group_names[:8])
            raise InputError(f"unknown rhyme group {name!r}; use a 平声 group of 平水韵 such as {some} …")
        return hits[0]


def make_poem_plan(req: PoemRequest, forced_chars: dict[tuple[int, int], str], tables: PoemTables,
                   seed: str = "", words: list[str] | tuple[str, ...] = (), season: str = "", avoid: str = ""
                   ) -> tuple[PoemPlan, list[str]]:
    """The plan of a poem; season: a season char (春夏秋冬) the request names besides its seed's (an
    occasion's), read as the seed's are by the season steer and the line choice; avoid: chars the free
    positions leave out (a happy occasion's grief, `occasions.MOURNING`), but the seed's."""
    n_lines, width = FORMS[req.form]
    vocab = tables.vocab
    t_len = n_lines * (width + 1)
    allowed = tables.han.unsqueeze(0).repeat(t_len, 1)
    forced = torch.full((t_len,), -1, dtype=torch.long)
    notes: list[str] = []
    first_rhymes = first_line_rhymes(req.form, req.first_rhymes)
    patterns = tone_pattern(req.form, req.pattern[0], first_rhymes) if req.pattern in ("平起", "仄起") else None
    rhyme_pos = [i * (width + 1) + width - 1 for i in rhyme_lines(n_lines, first_rhymes)]
    for i in range(n_lines):
        p = i * (width + 1) + width
        allowed[p] = False
        forced[p] = vocab.stoi[punct_after(i)]
        allowed[p, forced[p]] = True
        if patterns:
            for j in strict_positions(width):
                narrowed = allowed[i * (width + 1) + j] & tables.tone[patterns[i][j]]
                if narrowed.any():
                    allowed[i * (width + 1) + j] = narrowed
    for p in rhyme_pos:  # rhyme chars are 平 in a 平声 group
        allowed[p] &= tables.rhymes
    by_start = None
    if req.pattern == "auto":   # the tones each start binds, read per row once its second char is written
        by_start = tables.start_masks(req.form, first_rhymes)
        narrowed = allowed[1] & (tables.ping | tables.ze)   # a second char of one reading
        if narrowed.any():
            allowed[1] = narrowed
    left_out = [vocab.stoi[c] for c in set(avoid) - set(seed) if c in vocab.stoi]
    if left_out:   # a couple of dozen chars: every position keeps thousands
        allowed[:, left_out] = False
    for (i, j), ch in forced_chars.items():
        p = i * (width + 1) + j
        if not allowed[p, vocab.stoi[ch]] and not (req.mode == "reply" and p in rhyme_pos):  # a reply says why once
            notes.append(f"{ch} in line {i + 1} breaks the tone or rhyme rule there; kept as asked")
        allowed[p] = False
        forced[p] = vocab.stoi[ch]
        allowed[p, forced[p]] = True
    groups = torch.ones(len(tables.group_names), dtype=torch.bool)
    if req.rhyme not in ("", "auto"):
        groups[:] = False
        groups[tables.find_group(req.rhyme)] = True
    # placed rhyme chars (a lock's, a 嵌字 at the line's end) choose the group from the start, so that a
    # free rhyme written before them already rhymes with them (a reply's are all placed)
    for p in rhyme_pos:
        if forced[p] >= 0 and (groups & tables.member[forced[p]]).any():
            groups &= tables.member[forced[p]]
        elif forced[p] >= 0 and tables.rhymes[forced[p]] and req.mode != "reply":  # else noted above
            asked = req.rhyme not in ("", "auto")
            notes.append(f"{vocab.itos[forced[p]]} shares no 平声 group with "
                         f"{'the rhyme group asked for' if asked else 'the rhyme placed before it'}; kept as asked")
    free_rhymes = [p for p in rhyme_pos if forced[p] < 0]
    if free_rhymes:  # a group needs a distinct allowed char for every rhyme position
        fits = (tables.member & allowed[free_rhymes[-1]].unsqueeze(1)).sum(0) >= len(rhyme_pos)
        if (groups & fits).any():
            groups &= fits
        else:
            notes.append("the rhyme group has too few characters for this form; some rhymes may break")
    if req.freq_penalty and tables.rarity is None:
        notes.append("this poem model has no char counts (`export --poems` makes them), so the frequency penalty "
                     "has no effect")
    placed_at = forced.tolist()
    line_end = {}  # last free position of each line -> line index (where a repeat is blocked)
    for i in range(n_lines):
        free = [i * (width + 1) + j for j in range(width) if placed_at[i * (width + 1) + j] < 0]
        if free:
            line_end[free[-1]] = i
    limited = None
    placed = {c for c in forced_chars.values() if c in vocab.stoi}
    once = placed | {c for c in seed if c in vocab.stoi}    # a reply's seed is its keywords, not its rhymes
    reserved = None
    if req.seed_once and once:
        limited = torch.zeros(len(vocab), dtype=torch.bool)
        limited[[vocab.stoi[c] for c in once]] = True
        if placed:                                          # placed chars: never at a free position
            reserved = torch.zeros(len(vocab), dtype=torch.bool)
            reserved[[vocab.stoi[c] for c in placed]] = True
    rules = (req.no_triples, req.no_doubles, req.no_repeat_bigrams)
    attested = req.attested_bigrams and tables.bigram_starts is not None
    ahead = frozenset(p - 1 for p in range(1, t_len) if 0 < p % (width + 1) < width and placed_at[p - 1] < 0
                      and (req.lookahead and placed_at[p] >= 0 or req.rhyme_lookahead and p in rhyme_pos))
    # the words the user typed as keywords (not a theme's extracted words, nor a lock's), each steered toward
    # once; a one-char keyword needs no steer (the seed and the line choice bring it into every poem)
    cover = req.cover if req.mode == "keywords" and req.text.strip() else 0.0
    kw = tuple(tuple(vocab.stoi[c] for c in w) for w in dict.fromkeys(words)
               if 1 < len(w) <= width and all(c in vocab and is_han(c) for c in w)) if cover else ()
    seed_seasons = tuple(sorted({int(tables.season_of[vocab.stoi[c]]) for c in seed + season if c in vocab.stoi}
                                - {-1})) if req.mode in ("keywords", "theme") else ()
    return PoemPlan(n_lines, width, allowed, forced, rhyme_pos, line_end, groups, rules, attested, limited,
                    reserved, req.max_uses, req.freq_penalty if tables.rarity is not None else 0.0, ahead,
                    by_start, kw, cover if kw else 0.0, req.season_steer, seed_seasons), notes


# ---------------------------------------------------------------- decoding
class PoemState:
    """Per-row decoding state: chosen ids, rhyme groups still open, rhyme chars used. What each
    position needs is read from the plan once, as Python values, and the rows' state is kept up to
    date char by char, so a step does few tensor ops (a 七绝 step made ~150, most of its time)."""

    def __init__(self, plan: PoemPlan, tables: PoemTables, rows: int):
        t_len, v = plan.allowed.shape
        self.plan, self.tables = plan, tables
        self.forced = plan.forced.tolist()
        self.rhyme_pos = set(plan.rhyme_pos)
        self.width = plan.width + 1
        self.out = torch.zeros(rows, t_len, dtype=torch.long)
        self.groups = plan.groups.unsqueeze(0).repeat(rows, 1)            # (R, G)
        self.used_rhyme = torch.zeros(rows, v, dtype=torch.bool)
        self.member_f = tables.member.float()
        self.banned_now: torch.Tensor | None = None      # (R, V) what the soft rules ban at this step
        self.relaxed = torch.zeros(rows, dtype=torch.long)  # steps where a row broke a soft rule, having no choice
        # what the repeat rules ban, kept up to date char by char as rows write (see `update`): in the rest
        # of the poem (reserved, a seed char used once, max_uses: `uses` counts) and in the rest of the
        # line (no triples: a char the line already holds once, `line_seen`, is banned at its second use)
        self.uses = torch.zeros(rows, v, dtype=torch.int16)
        self.line_seen = torch.zeros(rows, v, dtype=torch.bool)
        self.poem_banned = torch.zeros(rows, v, dtype=torch.bool)
        if plan.reserved is not None:
            self.poem_banned |= plan.reserved
        self.line_banned = torch.zeros(rows, v, dtype=torch.bool)
        # pattern auto: (2, T, V) the chars each start allows at each step (its tones, where they leave a
        # choice), and each row's start (R,) once its second char is written
        self.by_start, self.start = None, None
        if plan.by_start is not None:
            both = plan.allowed & plan.by_start
            either = plan.allowed.expand(2, -1, -1).reshape(-1, v)
            self.by_start = keep_choice(either, both.view(-1, v)).view(2, t_len, v)

    def mask(self, t: int) -> torch.Tensor:
        """(R, V) chars allowed at step t, given what each row has written so far (a new tensor)."""
        plan = self.plan
        if self.forced[t] >= 0:
            return plan.allowed[t].expand(len(self.out), -1).clone()
        if self.start is not None:   # each row's pattern, from its second char
            mask = self.by_start[self.start, t]
        else:
            mask = plan.allowed[t].expand(len(self.out), -1).clone()
        if t in self.rhyme_pos:
            mask = self._rhyming(mask)
        if t in plan.line_end:  # no line may repeat an earlier one
            mask = self._no_repeated_line(t, mask)
        return self._no_degenerate_repeats(t, mask)  # last: the rhyme and the no-repeated-line rules come first

    def _no_repeated_line(self, t: int, mask: torch.Tensor) -> torch.Tensor:
        """At a line's last free char: not the char that would make the line an earlier one."""
        out, width = self.out, self.width
        line = self.plan.line_end[t]
        j = t - line * width                                                 # column of this step
        rest = self.plan.forced[t + 1:(line + 1) * width - 1]                # forced chars after it
        for k in range(line):
            same = (out[:, k * width: k * width + j] == out[:, line * width: t]).all(dim=1)
            same &= (out[:, k * width + j + 1: (k + 1) * width - 1] == rest).all(dim=1)
            if same.any():
                narrowed = mask.clone()
                narrowed[same, out[same, k * width + j]] = False
                mask = keep_choice(mask, narrowed)
        return mask

    def _rhyming(self, mask: torch.Tensor) -> torch.Tensor:
        """The (R, V) mask at a rhyme narrowed to each row's open rhyme groups, less the rhyme chars it
        used, where a row keeps a choice."""
        return keep_choice(mask, mask & ((self.groups.float() @ self.member_f.T) > 0) & ~self.used_rhyme)

    def options(self, t: int) -> torch.Tensor:
        """(R, V) what step t may write as far as the rows' state tells before step t - 1 is written:
        the placed char, or at a rhyme the chars of each row's open groups (what `_look_ahead` sums)."""
        mask = self.plan.allowed[t].expand(len(self.out), -1).clone()
        if t in self.rhyme_pos and self.forced[t] < 0:
            mask = self._rhyming(mask)
        return mask

    def _no_degenerate_repeats(self, t: int, mask: torch.Tensor) -> torch.Tensor:
        """The (R, V) mask at free step t narrowed by the repeat rules and the attested-bigram rule,
        where a row keeps a choice."""
        plan, out = self.plan, self.out
        triples, doubles, bigrams = plan.repeat_rules
        if not (triples or doubles or bigrams or plan.attested or plan.limited is not None or plan.reserved is not None
                or plan.max_uses):
            return mask
        start = t - t % self.width                              # first position of this line
        banned = self.poem_banned | self.line_banned if triples and t > start else self.poem_banned.clone()
        if t > start:
            prev = out[:, t - 1]
            if plan.attested or doubles:
                banned |= self.tables.banned_after(prev, attested=plan.attested, doubles=doubles)
            if bigrams and t >= 2:                              # a bigram (prev, x) seen before bans x
                seen = out[:, :t - 1] == prev.unsqueeze(1)
                rows_seen, cols = torch.nonzero(seen, as_tuple=True)
                banned[rows_seen, out[rows_seen, cols + 1]] = True
            if plan.max_uses and doubles:       # 萧萧: a doubled word is one use (`update` counts it once)
                again = self.tables.double_ok[prev] & (self.uses.gather(1, prev.unsqueeze(1)).squeeze(1) == plan.max_uses)
                if t - 1 > start:                                # not a third time
                    again &= out[:, t - 2] != prev
                for extra in (plan.limited, plan.reserved):
                    if extra is not None:
                        again &= ~extra[prev]
                rows = again.nonzero().squeeze(1)
                banned[rows, prev[rows]] = False
            if doubles and self.tables.double_contexts is not None:
                self._doubles_in_context(banned, t, start)
        self.banned_now = banned
        return keep_choice(mask, mask > banned)                 # bools: allowed and not banned

    def _doubles_in_context(self, banned: torch.Tensor, t: int, start: int) -> None:
        """Ban doubling the previous char where the poems never double it after the char before it
        (绕江江, 琴瑟瑟: two words that meet), in the rows that could double it (banned: (R, V), in place).
        Read as Python values: a row whose previous char may be doubled at all is rare."""
        tables = self.tables
        v, contexts, doubled = len(tables.vocab), tables.double_contexts, tables.double_ids
        for r, a in enumerate(self.out[:, t - 1].tolist()):
            if a in doubled and not banned[r, a]:
                before = int(self.out[r, t - 2]) if t - 1 > start else Vocab.pad_id
                if before * v + a not in contexts:
                    banned[r, a] = True

    def select(self, rows: torch.Tensor) -> None:
        """Keep these rows (R,) in this order: what the line-by-line choice copies across a group."""
        self.out, self.groups = self.out[rows], self.groups[rows]
        self.used_rhyme, self.relaxed = self.used_rhyme[rows], self.relaxed[rows]
        self.uses, self.line_seen = self.uses[rows], self.line_seen[rows]
        self.poem_banned, self.line_banned = self.poem_banned[rows], self.line_banned[rows]
        if self.start is not None:
            self.start = self.start[rows]

    def update(self, t: int, tok: torch.Tensor) -> None:
        self.out[:, t] = tok
        at = tok.unsqueeze(1)                         # scatter/gather: cheaper than indexing by (rows, tok)
        plan = self.plan
        if t % self.width == 0:
            self.line_seen.zero_()
            self.line_banned.zero_()
        self.line_banned.scatter_(1, at, self.line_seen.gather(1, at))   # counts only grow within a line
        self.line_seen.scatter_(1, at, True)
        if plan.max_uses:
            doubled = (self.out[:, t - 1] == tok).unsqueeze(1) if t % self.width else torch.zeros_like(at, dtype=torch.bool)
            uses = self.uses.gather(1, at) + ~doubled          # a doubled word (萧萧) is one use of its char
            self.uses.scatter_(1, at, uses)
            now = uses >= plan.max_uses
            if plan.limited is not None:
                now |= plan.limited[at]
            self.poem_banned.scatter_(1, at, self.poem_banned.gather(1, at) | now)
        elif plan.limited is not None:
            self.poem_banned.scatter_(1, at, self.poem_banned.gather(1, at) | plan.limited[at])
        if self.banned_now is not None:
            self.relaxed += self.banned_now.gather(1, at).squeeze(1)
            self.banned_now = None
        if t == 1 and self.by_start is not None:
            self.start = (~self.tables.ping[tok]).long()   # 0: 平起, 1: 仄起
        if t in self.rhyme_pos:
            narrowed = self.groups & self.tables.member[tok]
            keep = narrowed.any(dim=1)
            self.groups[keep] = narrowed[keep]
            self.used_rhyme.scatter_(1, at, True)


class PairedLines:
    """律诗: the 颔联 and 颈联 are couplets. While the even line of each is written, the couplet model
    reads the odd line as its 上联 and its log-probs are mixed into the poem model's, log p ∝
    (1 - w) log p_poem + w log p_couplet, and the odd line's chars are kept out of the even line
    (where a char remains), so the pair is parallel as a 对联 is."""

    def __init__(self, couplet_model, couplet_vocab: Vocab, poem_vocab: Vocab, plan: PoemPlan, weight: float):
        self.model, self.weight, self.width = couplet_model, weight, plan.width + 1
        self.step = couplet_model.stepper()
        self.to_couplet = torch.tensor([couplet_vocab.stoi.get(c, couplet_vocab.unk_id) for c in poem_vocab.itos])
        self.unknown = self.to_couplet == couplet_vocab.unk_id        # poem ids the couplet model cannot write
        self.even = {3, 5} if plan.n_lines == 8 else set()            # line index -> the odd line before it
        self.state = None

    def active(self, t: int) -> bool:
        return t // self.width in self.even and t % self.width < self.width - 1

    def mix(self, t: int, logp: torch.Tensor, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mixed log-probs (R, V) for step t; narrows `mask` in place (no char of the odd line)."""
        line, col = divmod(t, self.width)
        upper = out[:, (line - 1) * self.width:(line - 1) * self.width + self.width - 1]     # (R, width)
        if col == 0:
            memory, keys, hidden = self.model.encode(self.to_couplet[upper])
            self.state = (memory, keys, hidden, torch.full((len(out), 1), Vocab.bos_id, dtype=torch.long))
        memory, keys, hidden, prev = self.state
        logits, hidden = self.step(prev[:, 0], memory, keys, hidden, col)
        self.state = (memory, keys, hidden, prev)
        pair = torch.log_softmax(logits.float(), dim=-1)[:, self.to_couplet]                 # (R, V poem)
        pair.masked_fill_(self.unknown, -30.0)  # chars the couplet model lacks: possible, unlikely
        mask.copy_(keep_choice(mask, mask.scatter(1, upper, False)))
        return torch.log_softmax(logp.lerp(pair, self.weight), dim=-1)

    def advance(self, t: int, tok: torch.Tensor) -> None:
        if self.state is not None and self.active(t):
            memory, keys, hidden, _ = self.state
            self.state = (memory, keys, hidden, self.to_couplet[tok].view(-1, 1))


def season_marks(ids: list[int], season_of: list[int], pair: dict[tuple[int, int], int] | None = None,
                 free: list[bool] | None = None) -> set[int]:
    """The seasons (0..3 for 春夏秋冬) a run of char ids marks: each char's (春, or an image of one season's
    poems such as 杏), and each pair of neighbours that marks one (东风, 落叶); with `free`, only the
    positions the model wrote (punctuation never is, so no pair crosses a line)."""
    marks = set()
    for p, c in enumerate(ids):
        if free is None or free[p]:
            marks.add(season_of[c])
            if pair and p and (free is None or free[p - 1]):
                marks.add(pair.get((ids[p - 1], c), -1))
    marks.discard(-1)
    return marks


@dataclass
class LineJudge:
    """What the line-by-line choice adds to a line's log-prob, each term with its weight: a cost for
    each char the poem already used, in an earlier line or earlier in this one (重字), a bonus when
    the line holds its plan keyword (the whole word; half for part of it), a bonus for each of the
    user's seed chars the line brings into the poem, the line-pair scorer's log P(this line follows
    the one before), a cost for a stock line (one the model would write with no seed and nothing
    before it: MMI-antiLM, Li et al. 2016), a line written earlier in the batch counted as a broken
    soft rule and a cost for each phrase it shares with the batch's earlier lines (the request's own
    poems are compared in `_best_distinct`), and a cost for a line that names another season than
    the poem so far."""
    width: int                                   # chars per line, its punctuation included
    reuse: float = 0.0
    keywords: torch.Tensor | None = None         # (L, K) ids of each line's keyword, 0-padded
    keyword_bonus: float = 0.0
    seed: torch.Tensor | None = None             # (S,) ids of the user's seed chars
    seed_bonus: float = 0.0
    coherence: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # weighted already
    stock: Callable[[torch.Tensor], torch.Tensor] | None = None    # weighted already: cost of a stock line
    avoid: Written | None = None                 # what the batch wrote before: its lines as a broken rule
    answered: Written | None = None              # the poem a reply answers, kept out the same way
    shared: float = 0.0                          # cost of each phrase shared with another poem (`Written`)
    itos: list[str] | None = None                # the vocabulary, to read a line of ids as text (for avoid)
    season: float = 0.0                          # cost of a line naming a season the poem has not named
    seed_seasons: tuple[int, ...] = ()           # the seasons the request named (`PoemPlan.seed_seasons`)
    season_of: torch.Tensor | None = None        # (V,) each char's season, 0..3 for 春夏秋冬 (-1: none)
    season_pair: dict[tuple[int, int], int] | None = None   # the char pairs that mark a season (东风, 落叶)
    free: torch.Tensor | None = None             # (T,) bool: positions the model writes (not forced chars)

    def __call__(self, line: int, out: torch.Tensor) -> torch.Tensor:
        """(R,) for the rows' line `line` of `out` (R, T), its earlier lines written."""
        w = self.width
        chars = out[:, line * w:line * w + w - 1]
        key = torch.zeros(len(out))
        if self.reuse:  # a char used earlier in the poem, or earlier in this line
            earlier = (chars.unsqueeze(2) == chars.unsqueeze(1)).tril(diagonal=-1).any(dim=2)
            if line > 0:
                earlier |= (chars.unsqueeze(2) == out[:, :line * w].unsqueeze(1)).any(dim=2)
            key -= self.reuse * earlier.sum(dim=1).float()
        if self.keywords is not None and self.keyword_bonus:
            kw = self.keywords[line][self.keywords[line] > 0]
            if len(kw):
                present = (chars.unsqueeze(2) == kw).any(dim=1)                     # (R, K)
                whole = present.all(dim=1)
                key += self.keyword_bonus * (whole.float() + 0.5 * (present.any(dim=1) & ~whole).float())
        if self.seed is not None and self.seed_bonus and len(self.seed):
            here = (chars.unsqueeze(2) == self.seed).any(dim=1)                      # (R, S)
            before = (out[:, :line * w].unsqueeze(2) == self.seed).any(dim=1)
            key += self.seed_bonus * (here & ~before).sum(dim=1).float()
        if self.coherence is not None and line > 0:
            key += self.coherence(out[:, (line - 1) * w:line * w - 1], chars)
        if self.stock is not None:
            key -= self.stock(chars)
        if self.season and self.season_of is not None and line > 0:
            key -= self.season * self._season_clash(line, out).float()
        memories = [m for m in (self.avoid, self.answered) if m]
        if memories:
            texts = ["".join(self.itos[i] for i in row) for row in chars.tolist()]
            key -= 1000.0 * torch.tensor([any(x in m for m in memories) for x in texts], dtype=torch.float)
            if self.shared:   # each phrase once, whichever memory holds it
                key -= self.shared * torch.tensor([sum(any(p in m.phrases for m in memories) for p in _phrases(x))
                                                   for x in texts], dtype=torch.float)
        return key

    def _season_clash(self, line: int, out: torch.Tensor) -> torch.Tensor:
        """(R,) whether the rows' line `line` names a season (春夏秋冬, an image of one season's poems such
        as 杏 or 菊, or a pair that marks one, 东风 or 落叶, at positions the model chose: `season_marks`)
        that neither the earlier lines nor the request named, when they named one: autumn wind beside spring
        rain, the readers' commonest complaint about a poem's coherence."""
        of, w = self._season_list, self.width
        cut, end = line * w, line * w + w - 1
        free = None if self.free is None else self.free[:end].tolist()
        seed = set(self.seed_seasons)
        clash = []
        for row in out[:, :end].tolist():
            before = season_marks(row[:cut], of, self.season_pair, free and free[:cut]) | seed
            now = season_marks(row[cut:], of, self.season_pair, free and free[cut:])
            clash.append(bool(before) and bool(now - before))
        return torch.tensor(clash)

    @functools.cached_property
    def _season_list(self) -> list[int]:
        return self.season_of.tolist()


def seed_batch(vocab: Vocab, seeds: list[str], size: int) -> torch.Tensor:
    """(B, size) ids of seed texts, 0-padded to the model's max_seed as in training: the
    bidirectional seed encoder reads the padding too, so generation pads the same way."""
    rows = [vocab.encode(x)[:size] for x in seeds]
    return torch.tensor([r + [0] * (size - len(r)) for r in rows], dtype=torch.long)


class PoemSteps:
    """The poem model one char at a time, the fast way: the seed encoded once, the hidden state
    carried. line_seeds (L, S): the plan, one seed per line; the seed vector that enters every step is
    the line's own while that line is written (the poem's seed still sets the start). Called with what
    the rows wrote (R, T) and the step; returns the next char's log-probs (R, V)."""

    def __init__(self, model, seed_ids: torch.Tensor, rows: int, *, line_seeds: torch.Tensor | None = None,
                 width: int = 0):
        self.model, self.rows, self.width = model, rows, width
        self.device = next(model.parameters()).device
        self.vec, self.hidden = model.encode(seed_ids.to(self.device).expand(rows, -1))
        self.line_vecs = model.encode(line_seeds.to(self.device))[0] if line_seeds is not None else None  # (L, H)
        self.step = model.stepper()
        self.cpu = self.device.type == "cpu"   # then no copies between devices at each step

    def __call__(self, out: torch.Tensor, t: int) -> torch.Tensor:
        if self.line_vecs is not None and t % self.width == 0:
            self.vec = self.line_vecs[t // self.width].expand(self.rows, -1)
        prev = out[:, t - 1] if t else torch.full((len(out),), Vocab.bos_id, dtype=torch.long)
        logits, self.hidden = self.step(prev if self.cpu else prev.to(self.device), self.vec, self.hidden)
        logp = torch.log_softmax(logits.float(), dim=-1)
        return logp if self.cpu else logp.cpu()

    def select(self, rows: torch.Tensor) -> None:
        self.hidden = index_hidden(self.hidden, rows.to(self.device))  # every row reads the same seed vector

    def peek(self, out: torch.Tensor, t: int, cand: torch.Tensor) -> torch.Tensor:
        """(R, K, V) log-probs of the char after step t, were each row to write each of its candidates
        cand (R, K) there; called after step t's log-probs, the rows' state is left as it is."""
        r, k = cand.shape
        every = torch.arange(r, device=self.device).repeat_interleave(k)
        logits, _ = self.step(cand.flatten().to(self.device), self.vec[every], index_hidden(self.hidden, every))
        return torch.log_softmax(logits.float(), dim=-1).view(r, k, -1).cpu()


@torch.inference_mode()
def sample_poems(steps, plan: PoemPlan, tables: PoemTables, *, rows: int, sampler: Sampler,
                 pair: PairedLines | None = None, group: int = 1, judge: LineJudge | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The poem task's one decoding loop: write `rows` poems at once, one step per char: the model's
    log-probs (`steps`: `PoemSteps`, or the naive `couplet.reference.PoemRerun`), the rules' mask
    (`PoemState`), the couplet model's mix on paired lines, the frequency penalty, the sampler's choice.
    Returns ids (R, T), summed log-probs (R,) of the distribution sampled from (less the frequency
    penalty's term, which only steers), and how many times each row had to break a soft rule (R,).

    group > 1: the rows come in groups that write one poem line by line, best of `group`: when a
    line ends, every row of a group takes the group's best line (fewest broken soft rules, then
    its log-prob plus what `judge` adds), so a weak line is replaced before the poem goes on."""
    state = PoemState(plan, tables, rows)
    score, line_score = torch.zeros(rows), torch.zeros(rows)
    width = plan.width + 1
    firsts = torch.arange(0, rows, group)
    phrases: set[tuple[int, ...]] = set()  # what the request's poems wrote in their chosen lines
    # anti-LM against the commonest chars (不, 一, 风, 月), which sampling at a low temperature favours
    rarity = plan.freq_penalty * tables.rarity if plan.freq_penalty else None
    cover = _KeywordCover(plan) if plan.cover else None
    season = _SeasonSteer(plan, tables) if plan.season_steer else None
    for t, placed in enumerate(state.forced):
        logp = steps(state.out, t)                                            # (R, V)
        if rarity is not None:
            logp.add_(rarity)     # in place: `steps` gives a fresh tensor
        if placed >= 0:           # punctuation or a placed char: nothing to choose, no draw spent
            if pair is not None and pair.active(t):
                logp = pair.mix(t, logp, state.out, state.mask(t))
            tok = torch.full((rows,), placed, dtype=torch.long)
        else:
            mask = state.mask(t)
            if pair is not None and pair.active(t):
                logp = pair.mix(t, logp, state.out, mask)
            steer = cover.steer(logp, state.out, t) if cover is not None else None
            away = season.steer(logp, state.out, t) if season is not None else None
            if t in plan.ahead:
                tok = sampler(_look_ahead(steps, state.out, t, mask_out_(logp, mask), state.options(t + 1)))
            else:
                tok = sampler(mask_out_(logp, mask))   # in place: the chosen char keeps its log-prob
        state.update(t, tok)
        if pair is not None:
            pair.advance(t, tok)
        chosen = logp.gather(1, tok.unsqueeze(1)).squeeze(1)
        if placed < 0 and steer is not None:        # the keyword bonus only steers the draw
            chosen = chosen - cover.lifted(steer, tok)
        if placed < 0 and away is not None:          # and so does the season cost
            chosen = chosen + away.gather(1, tok.unsqueeze(1)).squeeze(1)
        score += chosen if rarity is None else chosen - rarity[tok]
        line_score += chosen
        if group > 1 and t % width == width - 1:
            key = line_score - 1000.0 * state.relaxed.float()
            if judge is not None:
                key = key + judge(t // width, state.out)
            best = _best_distinct(key.view(-1, group), state.out[:, t + 1 - width:t],
                                  shared=judge.shared if judge is not None else 0.0, phrases=phrases)
            keep = (best + firsts).repeat_interleave(group)
            state.select(keep)
            steps.select(keep)
            score = score[keep]
            line_score.zero_()
    return state.out, score, state.relaxed


class _KeywordCover:
    """Steers each row's draws toward the user's keywords it has not written yet: a bonus on a keyword's
    first char where the line has room for the whole word, and on its next char right after the chars
    before it. Each keyword once (a written one steers no more); the rules' mask still decides. Every
    (keyword, chars written) pair is matched at once against the rows' last chars: a few tensor ops a
    step, however many keywords."""

    def __init__(self, plan: PoemPlan):
        words = plan.keywords
        self.width, self.weight, self.span = plan.width + 1, plan.cover, max(map(len, words))
        span = self.span

        def right_aligned(ids):    # a template of the last `span` chars: ids at its end, -1 elsewhere
            return [-1] * (span - len(ids)) + list(ids)
        pairs = [(k, j) for k, w in enumerate(words) for j in range(len(w))]
        self.word = torch.tensor([k for k, _ in pairs])                                     # (P,)
        self.target = torch.tensor([words[k][j] for k, j in pairs])                         # (P,)
        self.prefix = torch.tensor([right_aligned(words[k][:j]) for k, j in pairs])         # (P, S)
        self.full = torch.tensor([right_aligned(w) for w in words])                        # (K, S)
        # which pairs may steer at each column: j chars already in this line, and room for the rest
        self.usable = torch.tensor([[j <= col and (j > 0 or col + len(words[k]) <= plan.width) for k, j in pairs]
                                    for col in range(self.width)])                          # (W, P)
        self.done: torch.Tensor | None = None     # (R, K) rows that wrote each keyword, up to step `seen`
        self.seen = 0

    def _windows(self, out: torch.Tensor, since: int, t: int) -> torch.Tensor:
        """(R, W, S) the rows' last S chars before each step since..t, -2 before the poem's start."""
        pad = torch.full((len(out), self.span), -2, dtype=out.dtype)
        return torch.cat([pad, out[:, :t]], dim=1)[:, since:].unfold(1, self.span, 1)

    @staticmethod
    def _matches(last: torch.Tensor, templates: torch.Tensor) -> torch.Tensor:
        """(R, ..., N) whether each window of last chars (R, ..., S) ends with each template (N, S) (-1: any)."""
        return ((last.unsqueeze(-2) == templates) | (templates < 0)).all(dim=-1)

    def _written(self, out: torch.Tensor, t: int) -> None:
        """Bring `done` up to step t: the whole poem at a line's start (the line-by-line choice may have
        replaced the rows there), else the windows ending since the last call."""
        since = 0 if t % self.width == 0 or self.done is None else self.seen
        found = self._matches(self._windows(out, since, t), self.full).any(dim=1)
        self.done = found if since == 0 else self.done | found
        self.seen = t

    def steer(self, logp: torch.Tensor, out: torch.Tensor, t: int) -> torch.Tensor | None:
        """Add the bonus at step t to logp (R, V) in place, given what the rows wrote (R, T); returns the
        (R, P) pairs it lifted (what `lifted` takes back from a chosen char's score), or None."""
        self._written(out, t)
        last = self._windows(out, t, t)[:, 0]
        lift = self._matches(last, self.prefix) & ~self.done[:, self.word] & self.usable[t % self.width]
        if not bool(lift.any()):
            return None
        logp.scatter_add_(1, self.target.expand(len(out), -1), lift.float() * self.weight)
        return lift

    def lifted(self, lift: torch.Tensor, tok: torch.Tensor) -> torch.Tensor:
        """(R,) the bonus each row's chosen char tok (R,) got."""
        return self.weight * (lift & (tok.unsqueeze(1) == self.target)).sum(dim=1).float()


class _SeasonSteer:
    """Steers each row's draws away from the chars of a season (春夏秋冬, an image of one season's poems
    such as 杏 or 菊, or the second char of a pair that marks one, 东风 or 落叶) other than those the poem
    has named, once it has named one: what the row chose so far at the positions the model writes, and the
    seed's keywords or theme. `LineJudge` costs a clashing line after it is drawn; this keeps the draws
    themselves from clashing."""

    def __init__(self, plan: PoemPlan, tables: PoemTables):
        self.of, self.weight = tables.season_of.tolist(), plan.season_steer
        self.pair, self.after = tables.season_pair, tables.season_after
        self.chars = (tables.season_of.unsqueeze(0) == torch.arange(4).unsqueeze(1)).float()  # (4, V)
        self.free, self.width = (plan.forced < 0).tolist(), plan.width + 1
        self.seed = set(plan.seed_seasons)
        self.named: list[set[int]] = []           # per row, the seasons it named before step `seen`
        self.seen = 0
        self._costs: dict[frozenset[int], torch.Tensor] = {}

    def _named(self, out: torch.Tensor, t: int) -> list[set[int]]:
        """Per row: read from the whole poem at a new line (the line-by-line choice may have replaced the
        rows), else brought up to step t from the chars written since the last call (and the one before,
        for a pair that ends after it). Python values: a row adds a char or two a step."""
        since = self.seen if self.named and t // self.width == self.seen // self.width else 0
        if since == 0:
            self.named = [set(self.seed) for _ in range(len(out))]
        start = max(since - 1, 0)
        for named, row in zip(self.named, out[:, start:t].tolist()):
            named |= season_marks(row, self.of, self.pair, self.free[start:t])
        self.seen = t
        return self.named

    def _cost(self, other: frozenset[int]) -> torch.Tensor:
        """(V,) the cost of each char for a row that has not named the seasons `other`, kept once built."""
        if other not in self._costs:
            self._costs[other] = self.weight * self.chars[sorted(other)].sum(dim=0)
        return self._costs[other]

    def steer(self, logp: torch.Tensor, out: torch.Tensor, t: int) -> torch.Tensor | None:
        """Subtract the cost at step t from logp (R, V) in place; returns the (R, V) cost, or None."""
        others = [frozenset(range(4)) - named if named else frozenset() for named in self._named(out, t)]
        if not any(others):
            return None
        cost = torch.stack([self._cost(other) for other in others])
        if self.after and t and self.free[t - 1]:           # the second char of a pair of another season
            for r, (a, other) in enumerate(zip(out[:, t - 1].tolist(), others)):
                for b, s in self.after.get(a, ()):
                    if s in other:
                        cost[r, b] += self.weight
        logp.sub_(cost)
        return cost


LOOKAHEAD = 16  # candidates for the char before a bound one, each scored with what may follow it


def _look_ahead(steps, out: torch.Tensor, t: int, logp: torch.Tensor, options: torch.Tensor) -> torch.Tensor:
    """What a row chooses by at step t when step t+1 is bound to `options` (R, V) (a placed char; a
    rhyme group): for its LOOKAHEAD likeliest allowed chars b, log p(b) + log p(next in options | b),
    so b is drawn as the model would draw it knowing how the line must go on (a rhyme ends a phrase
    the line leads to, not one forced onto it); every other char is left out. logp (R, V): masked
    log-probs. A new tensor: the score of the char chosen stays its own log-prob."""
    top, cand = logp.topk(min(LOOKAHEAD, logp.shape[1]), dim=1)                    # (R, K)
    nxt = steps.peek(out, t, cand).masked_fill_(~options.unsqueeze(1), float("-inf"))
    return torch.full_like(logp, BLOCKED).scatter_(1, cand, top + nxt.logsumexp(dim=2))


def _phrases(line) -> set:
    """The PHRASE-char runs of a line (a str, or a list of ids: then tuples)."""
    return {line[i:i + PHRASE] if isinstance(line, str) else tuple(line[i:i + PHRASE])
            for i in range(len(line) - PHRASE + 1)}


class Written(set):
    """The strings a batch has written: its lines (without punctuation) and its poems' titles, each
    as 《title》 (one set, so a resumed batch restores both), with the lines' phrases. A later poem
    does not repeat a line or a title where a draw or the title beam offers another, and each phrase
    it shares costs `PoemRequest.shared_phrase`. Real poems seldom share a 3-char phrase; the model's
    favourites (不知何处, 春风吹尽) came back in most poems of a batch."""

    def __init__(self, lines=()):
        super().__init__()
        self.phrases: set[str] = set()
        self.update(lines)

    @staticmethod
    def title(title: str) -> str:
        """How a title is kept among the lines."""
        return f"《{title}》"

    def add(self, line: str) -> None:
        super().add(line)
        if not line.startswith("《"):
            self.phrases |= _phrases(line)

    def update(self, *groups) -> None:
        for lines in groups:
            for line in lines:
                self.add(line)


def distinct_titles(options: list[list[str]], taken: set[str] | None = None) -> list[str | None]:
    """One title per poem from each poem's options (best first): the best one that neither an earlier
    poem of the request nor `taken` (a batch's `Written`, titles as 《title》) has, else the best."""
    taken = set() if taken is None else taken
    mine: set[str] = set()
    out = []
    for opts in options:
        pick = next((t for t in opts if t not in mine and Written.title(t) not in taken), opts[0] if opts else None)
        out.append(pick)
        mine.add(pick)
    return out


def _best_distinct(keys: torch.Tensor, lines: torch.Tensor, *, shared: float = 0.0,
                   phrases: set | None = None) -> torch.Tensor:
    """The best draw of each group (G, D), group by group, where a line another group already took
    gives way to the group's next best (the n poems of one request do not share a line where a draw
    offers another), and each phrase a draw shares with `phrases` costs `shared`. lines: (G * D, W)
    ids of the draws' current lines. phrases: what the request's poems wrote in earlier lines (id
    tuples); each group's chosen line is added, so the groups after it see it too."""
    best = keys.argmax(dim=1)
    rows = lines.tolist()
    taken: set[tuple[int, ...]] = set()
    d = keys.shape[1]
    for g in range(len(keys)):
        key = keys[g]
        if shared and phrases:
            key = key - shared * torch.tensor([len(_phrases(rows[g * d + k]) & phrases) for k in range(d)],
                                              dtype=key.dtype)
        order = torch.argsort(key, descending=True, stable=True).tolist()
        best[g] = next((k for k in order if tuple(rows[g * d + k]) not in taken), order[0])
        chosen = rows[g * d + int(best[g])]
        taken.add(tuple(chosen))
        if phrases is not None:
            phrases |= _phrases(chosen)
    return best


def check_form(lines: list[str], form: str) -> bool:
    n_lines, width = FORMS[form]
    return len(lines) == n_lines and all(
        len(x) == width + 1 and all(is_han(c) for c in x[:-1]) and x[-1] == punct_after(i)
        for i, x in enumerate(lines))


def rhyme_groups(lines: list[str], prosody: Prosody, first_rhymes: bool) -> set[str]:
    """The 平声 groups shared by every rhyme char of the poem (empty: the rhyme is broken)."""
    ends = [lines[i].rstrip("，。")[-1] for i in rhyme_lines(len(lines), first_rhymes)]
    if len(set(ends)) != len(ends):  # the same rhyme char twice does not count
        return set()
    shared = None
    for ch in ends:
        groups = {g for g in prosody.rhymes.get(ch, []) if prosody.groups.get(g) == PING}
        shared = groups if shared is None else shared & groups
    return shared or set()
