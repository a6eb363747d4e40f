"""Constrained decoding for the N-vs-N model. This module owns the rules of a 下联:

- length: one output char per 上联 position (the model's structure guarantees it);
- punctuation: punctuation and other non-Han chars of the 上联 reappear at the same positions;
- 重字: where the 上联 repeats a char (positions i, j), the 下联 repeats one at i and j; elsewhere
  the 下联 repeats nothing, and (no_copy) uses no char of the 上联;
- 平仄: the 下联 ends on 平 when the 上联 ends on 仄 (and on 仄 after 平); "rhythm" also opposes
  tones at the even positions of every clause;
- 词性相对 (word structure): a soft rule, applied by reordering the candidates (`couplet.generate`)
  by the share of positions whose word has the same part of speech in both lines (`couplet.postag`).

Rules are masks over the vocabulary built once per input (`Plan`); `CoupletState` narrows them for
each row as it writes (重字). Greedy, sampling and beam search are one loop, `decode`, over a model
step (`CoupletSteps` carries the hidden state; `couplet.reference` reruns the model) and a choice
(`couplet.sampling.Sampler`, or `Beam`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .model import CoupletModel
from .phrases import Follows, PhraseMemory
from .prosody import PING, ZE, Prosody
from .requests import TONE_MODES
from .sampling import BLOCKED, Sampler, mask_out_
from .stock import StockPairs
from .text import is_han
from .vocab import RESERVED, Vocab

LOCK_BLANKS = "_＿?？□○"


@dataclass(frozen=True)
class Rules:
    punctuation: bool = True
    repeats: bool = True
    no_copy: bool = True
    tone: str = "end"  # off | end | rhythm
    avoid: str = ""    # chars the 下联 leaves out (a whole couplet's: another year's animal, a happy occasion's grief)
    follow: bool = False  # beside a locked char, one people write there (`Tables.follows`), where one is allowed

    def __post_init__(self):
        if self.tone not in TONE_MODES:
            raise ValueError(f"tone rule must be one of {', '.join(TONE_MODES)}, not {self.tone!r}")


@dataclass
class Plan:
    """Everything decoding needs to know about one 上联, computed once (by `make_plans`, with the
    other plans made together: its tensors are its row of theirs, read when asked for, as a batch of
    hundreds of plans seldom asks)."""
    upper: str
    literal: list[str | None]         # chars written as-is (punctuation, digits, locked chars)
    notes: list[str]
    # the plans made together: (their (src, allowed, forced, link), this plan's row), see `_stack`
    batch: tuple[tuple[torch.Tensor, ...], int] = field(repr=False, compare=False)

    @property
    def src(self) -> torch.Tensor:        # (T,) ids of the 上联
        return self.batch[0][0][self.batch[1]]

    @property
    def allowed(self) -> torch.Tensor:    # (T, V) bool: chars allowed at each position
        return self.batch[0][1][self.batch[1]]

    @property
    def forced(self) -> torch.Tensor:     # (T,) id forced at a position, -1 where free
        return self.batch[0][2][self.batch[1]]

    @property
    def link(self) -> torch.Tensor:       # (T,) earlier position whose output must repeat here, -1
        return self.batch[0][3][self.batch[1]]


class Tables:
    """Per-vocabulary masks, built once per loaded model."""

    def __init__(self, vocab: Vocab, prosody: Prosody, follows: Follows | None = None):
        self.vocab, self.prosody = vocab, prosody
        self.follows = follows   # the neighbours people write (`couplet.phrases`); None: the checkpoint has none
        v = len(vocab)
        self.han = torch.tensor(vocab.writable(), dtype=torch.bool)   # the chars a line is written with
        self.ping = torch.zeros(v, dtype=torch.bool)
        self.ze = torch.zeros(v, dtype=torch.bool)
        for i, ch in enumerate(vocab.itos):
            if i >= len(RESERVED) and is_han(ch):
                tone = prosody.tone(ch)
                self.ping[i] = tone == PING
                self.ze[i] = tone == ZE


def rows_with_any(mask: torch.Tensor, keepdim: bool = False) -> torch.Tensor:
    """(R,) or (R, 1): whether each row of a bool mask (R, V) holds any True; the same as
    mask.any(dim=1), read as bytes, which CPU torch reduces several times faster over a vocabulary."""
    return mask.view(torch.uint8).amax(dim=1, keepdim=keepdim) > 0


def keep_choice(mask: torch.Tensor, narrowed: torch.Tensor) -> torch.Tensor:
    """narrowed (R, V), a subset of mask (R, V), in the rows where it keeps a choice, else mask's row:
    how a soft rule narrows a step. `torch.where` over bools costs ~10x these bitwise ops on CPU."""
    ok = rows_with_any(narrowed, keepdim=True)
    if bool(ok.all()):
        return narrowed
    return narrowed | (mask & ~ok)


def count_true(mask: torch.Tensor) -> torch.Tensor:
    """How many True each row of a bool mask (..., V) holds: the bytes summed in int16 where the
    count fits, which CPU torch does ~15x faster than a bool sum (int64)."""
    return mask.view(torch.uint8).sum(dim=-1, dtype=torch.int16 if mask.shape[-1] < 2 ** 15 else torch.int32)


# `_roomy` counts a plan's allowed chars among the commonest this many first: a free position allows
# thousands of chars, so these alone nearly always settle it, at a fifteenth of the bytes
ROOMY_HEAD = 512


def _roomy(allowed: torch.Tensor) -> list[bool]:
    """(T,) for allowed (P, T, V): whether every plan allows more chars at t than t (what its rows can
    have written before t). Counted in the first ROOMY_HEAD columns, which bound the count from below,
    and over the whole vocabulary only at the positions that bound does not settle."""
    need = torch.arange(allowed.shape[1])
    roomy = (count_true(allowed[..., :ROOMY_HEAD]) > need).all(dim=0)
    if not roomy.all():
        rest = (~roomy).nonzero().squeeze(1)
        roomy[rest] = (count_true(allowed[:, rest]) > need[rest]).all(dim=0)
    return roomy.tolist()


def tone_targets(upper: str, prosody: Prosody, mode: str) -> list[str | None]:
    """The tone each 下联 position must have: the opposite of the 上联's where the rule applies."""
    targets: list[str | None] = [None] * len(upper)
    if mode == "off":
        return targets
    opposite = {PING: ZE, ZE: PING}
    han_pos = [i for i, c in enumerate(upper) if is_han(c)]
    if not han_pos:
        return targets
    positions = {han_pos[-1]}
    if mode == "rhythm":
        clause: list[int] = []
        for i, c in enumerate(upper + "。"):
            if i < len(upper) and is_han(c):
                clause.append(i)
            elif clause:
                positions.update(clause[1::2])  # 2nd, 4th, 6th char of the clause
                positions.add(clause[-1])
                clause = []
    for i in positions:
        targets[i] = opposite.get(prosody.tone(upper[i]))
    return targets


def make_plan(upper: str, tables: Tables, rules: Rules, lock: str | None = None) -> Plan:
    """The plan of one 上联 (see `make_plans`)."""
    return make_plans([upper], tables, rules, locks=[lock])[0]


def make_plans(uppers: list[str], tables: Tables, rules: Rules, locks: list[str | None] | None = None) -> list[Plan]:
    """The plans of 上联 of one length, their masks built together: a batch file makes hundreds of
    plans, and a few tensor operations over all of them cost less than a few per line.
    Raises ValueError when the lines differ in length or a locked pattern does not fit its line."""
    vocab = tables.vocab
    n = len(uppers[0])
    if any(len(u) != n for u in uppers):
        raise ValueError("the plans made together need 上联 of one length")
    b = len(uppers)
    locks = locks or [None] * b
    base = tables.han.expand(b, -1).clone()
    if rules.no_copy:
        copied = [(k, vocab.stoi[ch]) for k, upper in enumerate(uppers) for ch in set(upper) if ch in vocab.stoi]
        if copied:
            rows, ids = zip(*copied)
            base[list(rows), list(ids)] = False
    avoided = [vocab.stoi[ch] for ch in set(rules.avoid) if ch in vocab.stoi]
    if avoided:   # a handful of chars: every position keeps thousands
        base[:, avoided] = False
    allowed = base.unsqueeze(1).expand(b, n, -1).clone()          # (B, T, V)
    forced = [[-1] * n for _ in uppers]    # lists while the plans are built: a tensor write per char costs more
    link = [[-1] * n for _ in uppers]
    literal: list[list[str | None]] = [[None] * n for _ in uppers]
    notes: list[list[str]] = [[] for _ in uppers]

    def force(k: int, i: int, ch: str) -> None:  # the row of a forced position is written once, at the end
        literal[k][i] = ch
        forced[k][i] = vocab.stoi.get(ch, vocab.unk_id)

    other = [(k, i) for k, upper in enumerate(uppers) for i, ch in enumerate(upper) if not is_han(ch)]
    if rules.punctuation:
        for k, i in other:
            force(k, i, uppers[k][i])
    elif other:
        rows, pos = map(list, zip(*other))
        allowed[rows, pos] = True
        allowed[rows, pos, :len(RESERVED)] = False

    targets = [tone_targets(upper, tables.prosody, rules.tone) for upper in uppers]
    toned = [(k, i) for k in range(b) for i, want in enumerate(targets[k])
             if want is not None and literal[k][i] is None]
    if toned:  # every position with a tone target narrowed at once, where a char is left
        rows, pos = map(list, zip(*toned))
        tones = torch.stack([tables.ping, tables.ze])[[0 if targets[k][i] == PING else 1 for k, i in toned]]
        kept = _narrow(allowed, rows, pos, allowed[rows, pos] & tones)
        for (k, i), x in zip(toned, kept):
            if not x:
                notes[k].append(f"no {targets[k][i]} character is allowed at position {i + 1}; tone rule relaxed there")

    if rules.repeats:
        rounds: list[list[tuple[int, int, int]]] = []    # the r-th repeat of each char, in order
        for k, upper in enumerate(uppers):
            first: dict[str, int] = {}
            seen: dict[str, int] = {}
            for j, ch in enumerate(upper):
                if not is_han(ch):
                    continue
                if ch not in first:
                    first[ch], seen[ch] = j, 0
                    continue
                link[k][j] = first[ch]
                if seen[ch] == len(rounds):
                    rounds.append([])
                rounds[seen[ch]].append((k, first[ch], j))
                seen[ch] += 1
        for pairs in rounds:  # the char chosen at i must also fit at j, where one is left
            rows, at, rep = map(list, zip(*pairs))
            _narrow(allowed, rows, at, allowed[rows, at] & allowed[rows, rep])

    for k, lock in enumerate(locks):
        if lock is not None:
            _apply_lock(uppers[k], lock, allowed[k], targets[k], forced[k], link[k], notes[k],
                        lambda i, ch, k=k: force(k, i, ch), tables, rules)
            if rules.follow and tables.follows is not None:
                _follow_lock(lock, allowed[k], forced[k], link[k], tables)
    fixed = [(k, i, forced[k][i]) for k in range(b) for i in range(n) if forced[k][i] >= 0]
    if fixed:
        rows, pos, ids = map(list, zip(*fixed))
        allowed[rows, pos] = False
        allowed[rows, pos, ids] = True
    src = torch.tensor([vocab.encode(upper) for upper in uppers], dtype=torch.long).view(b, n)
    forced_t, link_t = torch.tensor(forced).view(b, n), torch.tensor(link).view(b, n)
    batch = (src, allowed, forced_t, link_t)
    return [Plan(upper=uppers[k], literal=literal[k], notes=notes[k], batch=(batch, k)) for k in range(b)]


def _narrow(allowed: torch.Tensor, rows: list[int], pos: list[int], narrowed: torch.Tensor) -> list[bool]:
    """Write narrowed (K, V) over allowed[rows, pos] where it leaves a char; returns which did."""
    ok = rows_with_any(narrowed)
    kept = ok.tolist()
    allowed[[r for r, x in zip(rows, kept) if x], [p for p, x in zip(pos, kept) if x]] = narrowed[ok]
    return kept


def _apply_lock(upper: str, lock: str, allowed: torch.Tensor, targets: list[str | None], forced: list[int],
                link: list[int], notes: list[str], force, tables: Tables, rules: Rules) -> None:
    """Chars the user fixed in place (one line's plan, written through)."""
    n = len(upper)
    if len(lock) != n:
        raise ValueError(f"the locked pattern has {len(lock)} characters but the 上联 has {n}")
    vocab = tables.vocab
    for i, ch in enumerate(lock):
        if ch not in LOCK_BLANKS and forced[i] < 0:
            # a locked char also fills the positions that repeat it under the 重字 rule
            group = [j for j in range(n) if upper[j] == upper[i]] if rules.repeats else [i]
            for j in group:
                why = []
                if rules.no_copy and ch in upper:
                    why.append("it is in the 上联")
                if targets[j] is not None and tables.prosody.tone(ch) not in (targets[j], None):
                    why.append(f"position {j + 1} wants {targets[j]} (平仄 rule)")
                if why:
                    notes.append(f"locked {ch} kept as asked, though {' and '.join(why)}")
                force(j, ch)
                link[j] = -1
    if rules.repeats:  # a locked char is taken: no free position may repeat it
        taken = [vocab.stoi[c] for c in set(lock) if c not in LOCK_BLANKS and is_han(c) and c in vocab]
        free = [i for i in range(n) if forced[i] < 0]
        for idx in taken:
            allowed[free, idx] = False


def _follow_lock(lock: str, allowed: torch.Tensor, forced: list[int], link: list[int], tables: Tables) -> None:
    """The free positions right after and right before a locked char take a char people write there (华
    then 年, 灯, 夏, not 天; 中 or 年 before it), where the rules leave one (one line's plan, written through).
    The decoder writes left to right, so the char before a lock is chosen without seeing it."""
    vocab, follows = tables.vocab, tables.follows
    for i, ch in enumerate(lock):
        if ch in LOCK_BLANKS or ch not in vocab.stoi or not is_han(ch):
            continue
        for j, seen in ((i + 1, follows.after), (i - 1, follows.before)):
            if 0 <= j < len(lock) and forced[j] < 0 and link[j] < 0:
                narrowed = allowed[j] & seen(vocab.stoi[ch])
                if narrowed.any():
                    allowed[j] = narrowed


def _step_mask(allowed: torch.Tensor, forced: torch.Tensor, link: torch.Tensor, out: torch.Tensor,
               used: torch.Tensor, repeats: bool) -> torch.Tensor:
    """(R, V) bool mask of the chars each row may take at one step, from each row's plan at that step:
    allowed (R, V), forced (R,) and link (R,), what the rows wrote (R, T) and the free chars they used."""
    mask = allowed.clone()                                      # (R, V)
    linked = link >= 0
    if linked.any():
        prev = out[linked].gather(1, link[linked].unsqueeze(1)).squeeze(1)
        mask[linked] = False
        mask[linked, prev] = True
    free = (forced < 0) & ~linked
    if repeats and free.any():
        narrowed = mask & ~used
        ok = narrowed.any(dim=1) & free
        mask[ok] = narrowed[ok]
    return mask


def _shared(plans: list[Plan]) -> tuple[torch.Tensor, ...] | None:
    """The tensors the plans were made in, when they are all of them in order (else None)."""
    shared = plans[0].batch
    if len(shared[0][0]) == len(plans) and all(p.batch[0] is shared[0] and p.batch[1] == k for k, p in enumerate(plans)):
        return shared[0]
    return None


def _stack(plans: list[Plan]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The plans' src, allowed, forced and link side by side. Plans made together, all of them in
    order, are rows of one batch already, used as it is (not copied: a 256-line batch's masks are
    14 MB). Read-only."""
    shared = _shared(plans)
    if shared is not None:
        return shared
    return (torch.stack([p.src for p in plans]), torch.stack([p.allowed for p in plans]),
            torch.stack([p.forced for p in plans]), torch.stack([p.link for p in plans]))


# the per-position head is read once per line for a few rows, and step by step for a batch: its logits
# for every (row, position) of a 256-row batch are 55 MB, and that one product took twice as long as
# the seven products of one position each (bench)
HEAD_PER_STEP_ROWS = 32


def _aligned_prior(model: CoupletModel, memory: torch.Tensor, weight: float) -> torch.Tensor | None:
    """(R, T, V) logits of the model's per-position head (of memory (R, T, H), or of (R, H) at one
    position: (R, V)), when it has one and weight > 0. Its own
    normaliser, like the decoder's, is a per-row constant that the mix's log_softmax removes, so the
    head's raw logits serve (no pass over the whole (R, T, V) tensor per line)."""
    if weight <= 0 or not model.has_aligned_head:
        return None
    return model.aligned(memory).float().cpu()


def _log_probs(logits: torch.Tensor, prior: torch.Tensor | None, weight: float) -> torch.Tensor:
    """Log-probs (R, V) of the next char: the decoder's, or the product of experts
    log p ∝ (1 - w) log p_decoder + w log p_head (prior: the head's logits at this position). Each model's
    normaliser is a per-row constant, so one log_softmax over (1 - w) * logits + w * head logits
    gives the same distribution. The logits are mixed in place (callers pass a fresh tensor): a
    batch's (R, V) tensors are megabytes, and each new one costs more than the arithmetic."""
    if prior is None:
        return torch.log_softmax(logits, dim=-1)
    r, p = len(logits), len(prior)
    if p in (1, r):
        return torch.log_softmax(logits.lerp_(prior, weight), dim=-1)   # (1 - w) logits + w prior, one pass
    # each plan's prior read by its block of rows (`per_row`) without copying it per row
    return torch.log_softmax(logits.view(p, r // p, -1).lerp_(prior.unsqueeze(1), weight).view(r, -1), dim=-1)


def index_hidden(hidden, idx):
    if hidden is None:  # the tagger has no decoder state
        return None
    if isinstance(hidden, tuple):
        return tuple(h[:, idx] for h in hidden)
    return hidden[:, idx]


def per_row(x: torch.Tensor, rows: int) -> torch.Tensor:
    """A per-plan tensor (P, ...) for `rows` rows: one plan per row, one plan shared by every row (a
    beam), or each plan shared by rows // P consecutive rows (the beams of a batch, `Beams`)."""
    p = len(x)
    if p == rows:
        return x
    if p == 1:
        return x.expand(rows, *x.shape[1:])
    return x.repeat_interleave(rows // p, dim=0)


class CoupletState:
    """The rules while rows are written (the loop's mask provider): what each row wrote so far and
    which free chars it used (重字). One plan per row, one plan shared by every row (a beam), or each
    plan by a block of rows (`per_row`).
    What each position needs is read from the plans once, as Python flags, so a step does only the
    tensor work its position asks for (`couplet.reference` keeps the plain `_step_mask` as a check)."""

    def __init__(self, plans: list[Plan], rows: int, repeats: bool):
        _, self.allowed, self.forced, self.link = _stack(plans)           # (P, T, V), (P, T), (P, T)
        self.repeats = repeats
        self.out = torch.zeros(rows, self.allowed.shape[1], dtype=torch.long)
        self.unused = torch.ones(rows, self.allowed.shape[-1], dtype=torch.bool)   # free chars not yet written
        free = self.forced < 0
        linked = self.link >= 0
        self.any_linked = linked.any(dim=0).tolist()                     # (T,) some row repeats an earlier char
        self.any_free = (free & ~linked).any(dim=0).tolist()             # (T,) some row chooses freely
        self.all_free = free.all(dim=0).tolist()                         # (T,) no row is forced
        # (T,) every row allows more chars at t than it can have written before t, so leaving out the
        # written ones never empties a row and the fallback check is not needed there
        self.roomy = _roomy(self.allowed)
        self.free = free.T.unsqueeze(2)                                  # (T, P, 1)

    def mask(self, t: int) -> torch.Tensor:
        """(R, V) bool: the chars each row may take at step t (read-only: it may be a view)."""
        k = len(self.out)
        mask = per_row(self.allowed[:, t], k)
        if self.any_linked[t]:
            return _step_mask(mask, per_row(self.forced[:, t], k), per_row(self.link[:, t], k),
                              self.out, ~self.unused, self.repeats)
        if self.repeats and t and self.any_free[t]:   # 重字: a free position repeats no char, where one is left
            narrowed = mask & self.unused
            if self.roomy[t] and self.all_free[t]:
                return narrowed
            mask = torch.where(rows_with_any(narrowed, keepdim=True) & per_row(self.free[t], k), narrowed, mask)
        return mask

    def select(self, rows: torch.Tensor) -> None:
        self.out, self.unused = self.out[rows], self.unused[rows]

    def update(self, t: int, tok: torch.Tensor) -> None:
        self.out[:, t] = tok
        at = tok.unsqueeze(1)                         # scatter/gather: cheaper than indexing by (rows, tok)
        if self.all_free[t]:
            self.unused.scatter_(1, at, False)
        else:                                         # a forced char does not count as used
            self.unused.scatter_(1, at, self.unused.gather(1, at) & ~per_row(self.free[t], len(tok)))


class CoupletSteps:
    """The couplet model one char at a time, the fast way: the 上联 encoded once, the decoder's
    hidden state carried from step to step. Called with what the rows wrote (R, T) and the step;
    returns the next char's log-probs (R, V) under the decoding mix (see `_log_probs`). Given a phrase
    memory as (memory, weight), `guide` lifts what the search reads toward it (`couplet.phrases`);
    given stock-pair tables as (table, weight) pairs (the checkpoint's, a batch's `WrittenPairs`), it
    lowers the chars that would make such a pair with the row's last char (`couplet.stock`)."""

    def __init__(self, model: CoupletModel, plans: list[Plan], align: float, *,
                 phrases: tuple[PhraseMemory, float] | None = None,
                 stock: list[tuple[StockPairs, float]] | None = None):
        self.model, self.align = model, align
        self.device = next(model.parameters()).device
        shared = _shared(plans)
        src = shared[0] if shared is not None else torch.stack([p.src for p in plans])
        self.memory, self.keys, self.hidden = model.encode(src.to(self.device))
        self.step = model.stepper(lines=len(plans))
        self.rows = (self.memory, self.keys)
        self.per_step = len(plans) >= HEAD_PER_STEP_ROWS
        self.prior = None if self.per_step else _aligned_prior(model, self.memory, align)
        self.phrases, self.weight = (phrases[0].lookup(src), phrases[1]) if phrases else (None, 0.0)
        self.stock = stock or []

    def __call__(self, out: torch.Tensor, t: int) -> torch.Tensor:
        k = len(out)
        prev = out[:, t - 1] if t else torch.full((k,), Vocab.bos_id, dtype=torch.long)
        if len(self.rows[0]) != k:     # the plans' memory for this many rows, kept while the count holds
            self.rows = (per_row(self.memory, k), per_row(self.keys, k) if self.keys is not None else None)
        memory, keys = self.rows
        logits, self.hidden = self.step(prev.to(self.device), memory, keys, self.hidden, t)
        if self.per_step:
            prior = _aligned_prior(self.model, self.memory[:, t], self.align)
        else:
            prior = self.prior[:, t] if self.prior is not None else None
        return _log_probs(logits.float().cpu(), prior, self.align)

    def guide(self, logp: torch.Tensor, out: torch.Tensor, t: int) -> torch.Tensor:
        """The scores the search chooses by: the model's log-probs, lifted by the phrase memory and
        lowered by the stock tables when they are on (a copy; the candidates' scores stay the model's own)."""
        search = logp if self.phrases is None else self.phrases.mix_(logp.clone(), out, t, self.weight)
        for table, weight in self.stock if t else ():
            search = table.lower(search, out[:, t - 1], weight)
        return search

    def select(self, rows: torch.Tensor) -> None:
        self.hidden = index_hidden(self.hidden, rows.to(self.device))


class Beam:
    """Beam search's choice at each step: the `width` best (row, char) pairs by summed score.

    groups > 1 is diverse beam search (Vijayakumar et al. 2016): the first group is the plain beam of
    width `width`, and groups - 1 more of width `group_width` run in step with it; at each step a group
    pays `diversity` for every earlier group that chose the same char there, so the groups settle on
    different lines instead of one line with a char swapped. The first group never pays, so the
    best line is the one plain beam search finds.
    bonus (V,) is added to every step's score: with -freq_penalty * log p(char) of the 下联 unigram it
    is an anti-language-model term (Li et al. 2016, MMI-antiLM) against stock chars.
    Both shape the search and the order; the loop's returned scores are the model's own log-probs.
    """

    def __init__(self, width: int, *, groups: int = 1, group_width: int = 2, diversity: float = 0.0,
                 bonus: torch.Tensor | None = None):
        self.width, self.group_width, self.diversity, self.bonus = width, group_width, diversity, bonus
        self.groups = max(1, groups)
        self.sizes = [1] * self.groups            # rows per group; a group's rows are contiguous, in group order
        self.score = torch.zeros(self.groups)     # search score (model + bonus)

    def __call__(self, logp: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows that go on, their chars) from log-probs and masks (K, V)."""
        v = logp.shape[1]
        step = logp if self.bonus is None else logp + self.bonus
        total = (self.score.unsqueeze(1) + step).masked_fill_(~mask, float("-inf"))  # (K, V)
        taken = torch.zeros(v)                    # how many earlier groups chose each char at this step
        rows, tok, start = [], [], 0              # Python lists: a group's few picks cost no tensor ops
        for g, size in enumerate(self.sizes):
            cand = total[start:start + size]
            cand = (cand - self.diversity * taken).view(-1) if self.diversity and g else cand.reshape(-1)
            top = torch.topk(cand, min(self.width if g == 0 else self.group_width, len(cand)))
            values, best = top.values.tolist(), top.indices.tolist()
            best = best[:max(sum(x > float("-inf") for x in values), 1)]   # a group with no allowed char keeps one row
            rows += [b // v + start for b in best]
            tok += [b % v for b in best]
            if self.diversity and g + 1 < self.groups:
                taken.index_add_(0, torch.tensor(tok[-len(best):]), torch.ones(len(best)))
            self.sizes[g], start = len(best), start + size
        rows, tok = torch.tensor(rows), torch.tensor(tok)
        self.score = total[rows, tok]
        return rows, tok

    def start(self, plans: int) -> torch.Tensor:
        """The plan of each starting row: every group starts from the one 上联."""
        return torch.zeros(self.groups, dtype=torch.long)

    def order(self) -> torch.Tensor:
        return torch.argsort(self.score, descending=True, stable=True)


class Beams:
    """Beam search for many 上联 at once (a batch file), the choice `Beam(width)` makes line by line:
    each line has `width` rows side by side (row r is line r // width's) and keeps the `width` best
    (row, char) pairs of its own rows, every line in one top-k. A line starts from one live row; the
    rows it cannot fill (fewer allowed continuations than its width) stay blocked and are dropped."""

    def __init__(self, width: int, lines: int, *, bonus: torch.Tensor | None = None):
        self.width, self.lines, self.bonus = width, lines, bonus
        score = torch.full((lines, width), BLOCKED)
        score[:, 0] = 0.0
        self.score = score.view(-1)                    # search score (model + bonus); BLOCKED: no row
        self.first = torch.arange(0, lines * width, width).unsqueeze(1)   # (L, 1) each line's first row

    def start(self, plans: int) -> torch.Tensor:
        """The plan of each starting row."""
        return torch.arange(plans).repeat_interleave(self.width)

    def __call__(self, logp: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = logp.shape[1]
        step = logp if self.bonus is None else logp + self.bonus
        total = mask_out_(self.score.unsqueeze(1) + step, mask)     # a new tensor: logp stays the model's
        top = total.view(self.lines, -1).topk(self.width, dim=1)          # (L, W) within each line
        self.score = top.values.reshape(-1)
        return (self.first + top.indices // v).reshape(-1), (top.indices % v).reshape(-1)

    def live(self) -> torch.Tensor:
        return self.score > BLOCKED / 2

    def order(self) -> torch.Tensor:
        return (self.first + self.score.view(self.lines, -1).argsort(dim=1, descending=True, stable=True)).reshape(-1)


@torch.inference_mode()
def decode(steps, plans: list[Plan], choose: Sampler | Beam | Beams, *, repeats: bool
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The couplet task's one decoding loop. At each position: the model's log-probs (`steps`), what
    the search reads (`steps.guide`: the same, or lifted by the phrase memory), the rules' mask
    (`CoupletState`), then the choice: a `Sampler` picks one char per row (greedy at temperature 0),
    a `Beam` picks the best (row, char) pairs from one plan's rows, `Beams` from each plan's block of
    rows. Returns ids (R, T) and the summed log-probs of the chosen chars (R,), a beam's best first
    (`Beams`: each line's; the rows a line could not fill score -inf).
    """
    beam = isinstance(choose, (Beam, Beams))
    start = choose.start(len(plans)) if beam else None      # the plan each row starts from
    rows = len(plans) if start is None else len(start)
    state = CoupletState(plans, rows, repeats)
    if rows != len(plans):
        steps.select(start)
    total = torch.zeros(rows)
    for t in range(state.out.shape[1]):
        logp = steps(state.out, t)                                            # (R, V)
        # <unk> is allowed only where the 上联 holds a mark the vocabulary lacks (《》): given, so neither
        # the search nor the score reads what the model thinks of it there
        logp[:, Vocab.unk_id] = 0.0
        search = steps.guide(logp, state.out, t)      # what the choice reads (logp, or lifted by a memory)
        mask = state.mask(t)
        if beam:
            kept, tok = choose(search, mask)
            steps.select(kept)
            state.select(kept)
            total, logp = total[kept], logp[kept]
        else:  # masked in place: the chosen char is allowed, so its log-prob is still there
            tok = choose(mask_out_(search, mask))
        total += logp.gather(1, tok.unsqueeze(1)).squeeze(1)
        state.update(t, tok)
    if beam:
        if isinstance(choose, Beams):
            total = total.masked_fill(~choose.live(), float("-inf"))
        order = choose.order()
        return state.out[order], total[order]
    return state.out, total
