"""Poems, 1 vs N: the generator (seeds, jieba keywords, sampling and ranking), its result types and
the corpus tables it ships with (copied-line hashes, attested doubles and bigrams). The rules of
a poem and the decoding loop live in `couplet.poemrules`; their names are re-exported here.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import torch

from .checkpoint import Companion, load_checkpoint, load_prosody, load_table
from .checkpoint import identity as checkpoint_identity
from .model import for_decoding, is_quantized, quantized, shift_right
from .occasions import MOURNING, Occasion, occasion_of
from .poemrules import (FORMS, MODES, SEASONS, LineJudge, PairedLines, PoemPlan, PoemRequest, PoemState, PoemSteps, PoemTables, Written,  # noqa: F401 (re-exported)
                        check_form, distinct_titles, first_line_rhymes, format_poem, make_poem_plan, punct_after, rhyme_groups,
                        form_of, rhyme_lines, sample_poems, seed_batch, split_poem, strict_positions, tone_pattern)
from .plan import PlanTable, plan_lines
from .prosody import Prosody
from .requests import (DEFAULT_CHECKPOINT, DEFAULT_LINES_CHECKPOINT, DEFAULT_POEM_CHECKPOINT,  # noqa: F401 (re-exported)
                       DEFAULT_TITLE_CHECKPOINT, PATTERNS, REPLY_RHYMES, REPO_ROOT)
from .decode import LOCK_BLANKS
from .text import PUNCT, InputError, check_input, check_ranges, is_han, normalise_width
from .vocab import Vocab

BLANKS = "".join(c for c in LOCK_BLANKS if c not in PUNCT)  # in a poem's lock; its ？ ends a line


def has_lock(req: PoemRequest) -> bool:
    """Whether a request locks chars (a blank box does not)."""
    return not isinstance(req.lock, str) or bool(req.lock.strip())


TITLE_CHOICES = 5  # titles offered per poem, of which the first not already given in the request or batch
OCCASION_TITLES = True  # a poem for an occasion has a title that begins as its own do (`Occasion.title`)
OCCASION_WORD_SETS = True  # a poem for an occasion is written from one of its keyword sets, drawn per request
# a poem for an occasion naming its season as if its seed had (`Occasion.season`): 七夕's spring poems went
# 9 of 24 -> 0, but readers kept the poems without it 24 times to 19 (docs/judging/poems-occasion-season-*). Off.
OCCASION_SEASONS = False
# a happy occasion's poem leaves out the chars of grief as it is written (`Occasion.festive`, `MOURNING`)
OCCASION_FESTIVE = True
# the words typed beside an occasion's (春节 平安: 平安; `Occasion.beside`) joining its keyword set, steered toward
# as typed keywords are (`PoemRequest.cover`): 4 of 16 poems held the word, and readers kept the poems without it
# 13 times to 9 (2 ties; fit 2.62 -> 2.83, fluency 3.25 -> 2.96; docs/judging/poems-beside-*). Off.
OCCASION_BESIDE = False


@lru_cache(maxsize=1)
def _jieba():
    import jieba
    import jieba.analyse
    jieba.setLogLevel(logging.WARNING)
    return jieba.analyse


def keywords(text: str, k: int = 3) -> list[str]:
    """Keywords of a free text (TF-IDF over jieba words); falls back to its Han chars."""
    words = [w for w in _jieba().extract_tags(text, topK=k) if any(is_han(c) for c in w)]
    return words or [c for c in dict.fromkeys(text) if is_han(c)][:k]


def seed_chars(words: list[str], max_seed: int) -> str:
    """Distinct Han chars of the keywords, in order, at most max_seed."""
    return "".join(dict.fromkeys(c for w in words for c in w if is_han(c)))[:max_seed]


def request_seed(req: "PoemRequest") -> int:
    """The RNG seed of a request: the user's seed mixed with the form and the seed text, so that one
    seed gives one poem per request and different requests do not share their first lines."""
    return mixed_seed(req.seed, req.form, req.mode, req.text)


def mixed_seed(*parts) -> int:
    """An RNG seed from the user's seed and the request's text, stable across runs and machines."""
    key = "|".join(map(str, parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") & (2 ** 63 - 1)


def line_hash(line: str) -> int:
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=4).digest(), "little", signed=True)


@dataclass
class Poem:
    lines: list[str]             # with punctuation
    score: float
    rhyme_group: str | None
    copied_lines: list[int]      # 1-based lines found verbatim in the training poems
    title: str | None = None     # written by the title model (N vs M), when there is one


@dataclass
class PoemResult:
    request: PoemRequest
    seed: str                    # the seed chars the model read
    keywords: list[str]
    poems: list[Poem]
    notes: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)  # the keyword each line was written around


# ---------------------------------------------------------------- the generator
class PoemGenerator:
    def __init__(self, model, vocab: Vocab, prosody: Prosody, meta: dict | None = None,
                 corpus_lines: torch.Tensor | None = None, doubles: str = "", bigrams: torch.Tensor | None = None,
                 couplet_path: Path | None = None, identity: str = "in-memory model", plan_table: PlanTable | None = None,
                 char_counts: torch.Tensor | None = None, seasons: torch.Tensor | None = None,
                 double_contexts: torch.Tensor | None = None, season_pairs: tuple[torch.Tensor, torch.Tensor] | None = None):
        self.model, self.vocab, self.prosody, self.meta = model.eval(), vocab, prosody, meta or {}
        self.tables = PoemTables(vocab, prosody, doubles, bigrams, char_counts, seasons, double_contexts, season_pairs)
        self.known = set(vocab.chars())
        self.corpus_lines = corpus_lines  # sorted int32 hashes of the corpus lines
        self.identity = identity  # path and weights hash: what batch fingerprints record
        self.plan_table = plan_table  # the words of a poem's plan (keywords, theme and first-char seeds)
        # the models that serve beside this one, each loaded when a poem first wants it
        self.couplet = Companion(couplet_path, self._load_couplet)   # the 律诗's middle couplets
        self.titler = Companion(None, self._load_titler)               # a title for each poem
        self.line_scorer = Companion(None, self._load_lines)           # the line-pair (coherence) scorer

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, *, prosody: str | Path | None = None,
             device: str = "cpu", int8: bool | None = None) -> "PoemGenerator":
        """Load a poem checkpoint, its tone table and its tables; int8: decode with a quantized copy."""
        path = Path(checkpoint) if checkpoint else DEFAULT_POEM_CHECKPOINT
        model, vocab, meta = load_checkpoint(path, device=device, kind="poem")
        model = for_decoding(model, int8=int8, device=device)
        table = load_prosody(path, prosody)
        tables = load_table(path, "lines.safetensors", meta) or {}
        lines = tables.get("hashes")
        doubles = "".join(map(chr, tables["doubles"].tolist())) if "doubles" in tables else ""
        plan = PlanTable.from_checkpoint(meta["plan"], tables) if "plan" in meta and "plan_neighbours" in tables else None
        gen = cls(model, vocab, table, meta, lines, doubles, tables.get("bigrams"), couplet_path=DEFAULT_CHECKPOINT,
                  identity=checkpoint_identity(path, meta), plan_table=plan, char_counts=tables.get("char_counts"),
                  seasons=tables.get("seasons"), double_contexts=tables.get("double_contexts"),
                  season_pairs=(tables["season_pairs"], tables["season_pair_of"]) if "season_pairs" in tables else None)
        gen.titler.path, gen.line_scorer.path = DEFAULT_TITLE_CHECKPOINT, DEFAULT_LINES_CHECKPOINT
        return gen

    def _load_lines(self, path: Path):
        """score(previous lines (R, W), lines (R, W)) -> (R,) log P(the line follows), from the line-pair
        scorer, which reads its own vocabulary."""
        model, vocab, _ = load_checkpoint(path, kind="scorer")
        to_lines = torch.tensor([vocab.stoi.get(c, vocab.unk_id) for c in self.vocab.itos])
        model.eval()  # small: fp32 costs little here

        def score(prev: torch.Tensor, line: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.logsigmoid(model(to_lines[prev], to_lines[line]).float())
        return score

    def _load_titler(self, path: Path):
        """The title model, in the precision of the poem model (int8 or fp32)."""
        from .title import TitleGenerator
        return TitleGenerator.load(path, int8=is_quantized(self.model))

    def _load_couplet(self, path: Path):
        """(couplet model, its vocab) for PairedLines, in the precision of the poem model it is mixed with."""
        model, vocab, _ = load_checkpoint(path, kind="couplet")
        return quantized(model) if is_quantized(self.model) else model, vocab

    def copied(self, lines: list[str]) -> list[int]:
        if self.corpus_lines is None or not len(self.corpus_lines):
            return []
        hashes = torch.tensor([line_hash(x.rstrip("，。")) for x in lines], dtype=torch.int32)
        idx = torch.searchsorted(self.corpus_lines, hashes).clamp(max=len(self.corpus_lines) - 1)
        return [i + 1 for i, hit in enumerate((self.corpus_lines[idx] == hashes).tolist()) if hit]

    def _check_chars(self, text: str, what: str) -> str:
        text = check_input(text, known=self.known, max_len=64, what=what).text
        return "".join(c for c in text if is_han(c))

    @staticmethod
    def occasion(req: PoemRequest) -> Occasion | None:
        """The occasion a keywords or theme seed names (`couplet.occasions`), unless the request reads it as typed."""
        return occasion_of(req.text, "poem") if req.occasion and req.mode in ("keywords", "theme") else None

    def prepare(self, req: PoemRequest) -> tuple[str, list[str], dict[tuple[int, int], str], list[str]]:
        """Validate a request: (seed chars, keywords shown to the user, forced chars, notes). A lock's
        characters join the ones the seed mode places; without a seed text, its words are the seed."""
        if not has_lock(req):
            return self._seeded(req)
        lines, form = self.locked(req.lock)
        if form != req.form:
            raise InputError("the lock sets the form; `resolve` the request first")
        kept = {(i, j): c for i, line in enumerate(lines) for j, c in enumerate(line) if c not in BLANKS}
        if req.mode in ("keywords", "theme") and not req.text.strip():
            self._check_choices(req)
            runs = [w for line in lines for w in re.split(f"[{BLANKS}]+", line) if w]
            words = [w for w in keywords(" ".join(runs), 3) if all(c in self.known for c in w)] or runs
            seed, forced, notes = seed_chars(words, self.model.cfg.max_seed), {}, []
        else:
            seed, words, forced, notes = self._seeded(req)
        clash = [f"{forced[k]}/{c} in line {k[0] + 1}" for k, c in kept.items() if forced.get(k, c) != c]
        if clash:
            raise InputError(f"the lock puts other characters where the {req.mode} seed places its own: "
                             f"{'、'.join(clash)}")
        notes.append(f"kept as locked: {len(kept)} of {len(lines) * len(lines[0])} characters")
        return seed, words, {**forced, **kept}, notes

    def locked(self, lock: str) -> tuple[list[str], str]:
        """A lock's lines (Han chars the poem model knows, converted as a seed is, and blanks) and the
        form their shape gives. Lines are split at punctuation or spaces."""
        from .generate import check_lock
        text = check_lock(re.sub(r"\s+", "，", normalise_width(lock).strip()) if isinstance(lock, str) else lock,
                          self.known)
        lines = [x for x in re.split(f"[{PUNCT}]+", text) if x]
        widths = sorted({len(x) for x in lines})
        form = form_of(lines)
        if form is None:
            raise InputError("a lock is the whole poem, a 五绝, 七绝, 五律 or 七律 (4 or 8 lines of 5 or 7 characters, "
                             f"_ for each one to write); this has {len(lines)} lines of {'/'.join(map(str, widths))} "
                             "characters")
        unknown = sorted({c for x in lines for c in x if c not in BLANKS and c not in self.known})
        if unknown:
            raise InputError(f"the poem model does not know {'、'.join(unknown)}; lock other characters")
        if not any(c in BLANKS for x in lines for c in x):
            raise InputError("the lock keeps every character: put _ where the poem should be written")
        return lines, form

    @staticmethod
    def _check_choices(req: PoemRequest) -> None:
        check_ranges(req)
        if req.form not in FORMS:
            raise InputError(f"unknown form {req.form!r}; choose one of {'、'.join(FORMS)}")
        if req.mode not in MODES:
            raise InputError(f"unknown seed mode {req.mode!r}; choose one of {', '.join(MODES)}")
        if req.pattern not in PATTERNS:
            raise InputError(f"pattern must be one of {', '.join(PATTERNS)}")

    def _seeded(self, req: PoemRequest) -> tuple[str, list[str], dict[tuple[int, int], str], list[str]]:
        """`prepare` by the seed mode alone."""
        self._check_choices(req)
        n_lines, width = FORMS[req.form]
        max_seed = self.model.cfg.max_seed
        forced: dict[tuple[int, int], str] = {}
        notes: list[str] = []
        if req.mode == "reply":
            if req.reply_rhyme not in REPLY_RHYMES:
                raise InputError(f"a reply rhymes by {' or '.join(REPLY_RHYMES)}, not {req.reply_rhyme!r}")
            lines, form, first_rhymes = self.answered(req.text)
            if (form, first_rhymes) != (req.form, req.first_rhymes):
                raise InputError("a reply keeps the form and rhyme of the poem it answers; `resolve` the request first")
            ends = [lines[i][-1] for i in rhyme_lines(n_lines, first_rhymes)]
            words = [w for w in keywords("".join(lines), 3) if all(c in self.known for c in w)]
            if req.reply_rhyme == "依韵":
                notes.append(f"依韵: rhymes in {req.rhyme}, the group of the poem answered ({'、'.join(ends)})")
                return seed_chars(words or [req.rhyme], max_seed), words, forced, notes
            unknown = [c for c in ends if c not in self.known]
            if unknown:
                raise InputError(f"the poem model does not know the rhyme character {'、'.join(unknown)}, which a "
                                 "次韵 reply must write; answer with 依韵")
            forced.update({(i, width - 1): lines[i][-1] for i in rhyme_lines(n_lines, first_rhymes)})
            notes.append(f"次韵: the rhyme characters {'、'.join(ends)} stand where the poem answered has them")
            if not rhyme_groups(lines, self.prosody, first_rhymes):
                notes.append("they share no 平声 group of 平水韵 (a poem rhyming in 仄声?): the reply keeps them as they "
                             "are, outside the rhyme rule")
            return seed_chars(words or ends[-1:], max_seed), words or ends[-1:], forced, notes
        what = {"keywords": "keywords", "first": "first character", "theme": "theme",
                "acrostic": "acrostic", "embed": "embedded characters"}[req.mode]
        occasion = self.occasion(req)
        if occasion is not None:   # the classical words a poem for it is written from
            sets = occasion.poem if OCCASION_WORD_SETS else occasion.poem[:1]
            words = list(sets[request_seed(req) % len(sets)])
            notes.append(f"read as {occasion.name}: written from {' '.join(words)} (occasion off: the words as typed)")
            typed = keywords(req.text, 3) if req.mode == "theme" else re.split(r"[\s,，、]+", req.text)
            beside = [w for w in occasion.beside(typed) if all(c in self.known for c in w)] if OCCASION_BESIDE else []
            if beside:
                notes.append(f"steered toward {' '.join(beside)}")
            return seed_chars(words, max_seed), words + beside, forced, notes
        if req.mode == "theme":
            theme = check_input(req.text, max_len=200, what="theme").text
            words = [w for w in keywords(theme, 3) if all(c in self.known for c in w if is_han(c))]
            if not words:
                raise InputError("the theme gives no keyword the model knows; try other words")
            return seed_chars(words, max_seed), words, forced, notes
        chars = self._check_chars(req.text, what)
        if req.mode == "keywords":  # each word checked (and converted) as the whole text was
            parts = [w for w in re.split(r"[\s,，、]+", req.text) if any(is_han(c) for c in w)]
            words = [self._check_chars(w, what) for w in parts]
            return seed_chars(words or [chars], max_seed), words or [chars], forced, notes
        if req.mode == "first":
            if len(chars) != 1:
                raise InputError(f"first character mode takes one character, not {len(chars)}")
            forced[(0, 0)] = chars
            return chars, [chars], forced, notes
        if len(chars) != n_lines:
            fits = [f for f, (lines, w) in FORMS.items() if lines == len(chars) and w == width]
            raise InputError(f"{req.form} has {n_lines} lines, so the {what} needs {n_lines} characters, "
                             f"not {len(chars)}" + (f" (for {len(chars)}, write a {fits[0]})" if fits else ""))
        pos = 0
        if req.mode == "embed":
            if not 1 <= req.embed_pos <= width:
                raise InputError(f"embed position must be 1..{width} for {req.form}")
            pos = req.embed_pos - 1
        for i, ch in enumerate(chars):
            forced[(i, pos)] = ch
        return chars[:max_seed], [chars], forced, notes

    def answered(self, text: str) -> tuple[list[str], str, bool]:
        """The poem a reply answers: its lines, its form, and whether its first line rhymes (its
        last char shares a 平声 group of 平水韵 with the other rhyme chars; else the form's habit). Lines
        are split at punctuation or line breaks."""
        lines, form = split_poem(text, what="the poem a reply answers", known=self.known)
        rhymes = rhyme_groups(lines, self.prosody, False)
        first = bool(rhymes and rhyme_groups(lines, self.prosody, True)) or (not rhymes and FORMS[form][1] == 7)
        return lines, form, first

    def resolve(self, req: PoemRequest) -> PoemRequest:
        """The request as it will be written: a lock sets the form; a reply takes the form of the poem
        it answers, whether its first line rhymes, and with 依韵 its 平声 group."""
        if has_lock(req):
            lines, form = self.locked(req.lock)
            theirs = self.answered(req.text)[1] if req.mode == "reply" else form
            if theirs != form:
                raise InputError(f"the lock is a {form} but the poem answered is a {theirs}: a reply keeps the form "
                                 "of the poem it answers")
            end = lines[0][-1]   # a first line locked to end in a char of no 平声 group does not rhyme
            off = req.first_rhymes is None and end not in BLANKS and not self.tables.rhymes[self.vocab.stoi[end]]
            req = replace(req, form=form, first_rhymes=False if off else req.first_rhymes)
        if req.mode != "reply":
            return req
        lines, form, first_rhymes = self.answered(req.text)
        rhyme = "auto"   # 次韵: the rhyme chars are placed
        if req.reply_rhyme == "依韵":
            groups = sorted(rhyme_groups(lines, self.prosody, first_rhymes))
            if not groups:
                ends = [lines[i][-1] for i in rhyme_lines(len(lines), first_rhymes)]
                raise InputError(f"the rhyme characters {'、'.join(ends)} share no 平声 group of 平水韵, so 依韵 has no "
                                 "group to keep: answer with 次韵")
            rhyme = groups[0].rstrip("平")
        return replace(req, form=form, first_rhymes=first_rhymes, rhyme=rhyme)

    def plan(self, req: PoemRequest) -> tuple[str, list[str], PoemPlan, list[str]]:
        """Validate a request and build its decoding plan: (seed chars, keywords, plan, notes).
        With seed_once, a keyword or theme seed char is used once, and a char the user placed (first
        char, acrostic, 嵌字) appears only where it was placed."""
        return self._plan(self.resolve(req))

    def _plan(self, req: PoemRequest) -> tuple[str, list[str], PoemPlan, list[str]]:
        """`plan` of a request already resolved."""
        seed, words, forced, notes = self.prepare(req)
        occasion = self.occasion(req)
        season = occasion.season if occasion is not None and OCCASION_SEASONS else ""
        # the mood of any occasion the seed names, one without classical words (婚庆) too, and an acrostic's or
        # 嵌字's (生日快乐, 新年快乐)
        named = occasion_of(req.text, "name") if req.occasion and req.mode != "reply" else None
        avoid = MOURNING if named is not None and named.festive and OCCASION_FESTIVE else ""
        plan, plan_notes = make_poem_plan(req, forced, self.tables, seed, words, season=season, avoid=avoid)
        return seed, words, plan, notes + plan_notes

    def generate(self, req: PoemRequest, *, avoid: Written | None = None) -> PoemResult:
        """Poems for a request. avoid: lines (without punctuation) written earlier in the same batch,
        not to be written again where a draw offers another, nor their phrases; the poems' own lines
        are added to it."""
        asked, req = req, self.resolve(req)
        seed, words, plan, notes = self._plan(req)
        if req.form != asked.form:
            notes.append(f"a reply keeps the form of the poem it answers: {req.form}" if req.mode == "reply" else
                         f"the lock is a {req.form}: written as one")
        if req.rhyme != asked.rhyme and asked.rhyme not in ("", "auto"):
            notes.append(f"the rhyme group asked for ({asked.rhyme}) is not used: a reply rhymes as the poem it answers")
        # a reply does not take the lines it answers, nor (at the shared-phrase cost) their phrases
        answered = Written(self.answered(req.text)[0]) if req.mode == "reply" else None
        seed_ids = seed_batch(self.vocab, [seed], self.model.cfg.max_seed)
        n = max(1, req.n)
        sampler = req.sampler(torch.Generator().manual_seed(request_seed(req)))
        sampled = not sampler.greedy
        groups = 3 * n if req.max_copied >= 0 else n  # extra poems, so that enough pass the copy limit
        group = req.draws if sampled and req.per_line else 1  # rows that write one poem line by line
        rows = (groups * group if req.per_line else max(n * req.draws, groups)) if sampled else 1
        pair = None
        if plan.n_lines == 8 and req.parallel > 0:
            couplet = self.couplet.get()
            if couplet is None:
                notes.append("no couplet model: the 颔联 and 颈联 are written by the poem model alone")
            else:
                pair = PairedLines(couplet[0], couplet[1], self.vocab, plan, req.parallel)
        line_words = self.line_plan(req, words, plan.n_lines)
        steps = PoemSteps(self.model, seed_ids, rows, line_seeds=self.line_seeds(line_words, seed) if line_words
                          else None, width=plan.width + 1)
        ids, scores, relaxed = sample_poems(steps, plan, self.tables, rows=rows, sampler=sampler, pair=pair,
                                            group=group,
                                            judge=self.line_judge(req, plan, line_words, seed, avoid, answered) if group > 1
                                            else None)
        poems, seen = [], set()
        # poems that kept every soft rule first, then by score
        for row, s, _ in sorted(zip(ids.tolist(), scores.tolist(), relaxed.tolist()), key=lambda x: (x[2], -x[1])):
            text = self.vocab.decode(row)
            if text in seen:
                continue
            seen.add(text)
            w = plan.width + 1
            lines = [text[i * w:(i + 1) * w] for i in range(plan.n_lines)]
            copied = self.copied(lines)
            if 0 <= req.max_copied < len(copied):
                continue
            shared = sorted(rhyme_groups(lines, self.prosody, first_line_rhymes(req.form, req.first_rhymes)))
            group = shared[0].rstrip("平") if shared else None
            poems.append(Poem(lines=lines, score=s / len(row), rhyme_group=group, copied_lines=copied))
        if not poems:
            notes.append("every candidate broke the copy limit; raise --max-copied or the temperature")
        elif len(poems) < n:
            notes.append(f"{len(poems)} of the {n} poems asked for: at temperature 0 there is one poem per seed"
                         if not sampled else f"{len(poems)} of the {n} poems asked for were distinct")
        poems = poems[:n]
        titler = self.titler.get() if req.title else None
        if titler is not None:   # several of the beam's best, so that two poems of a request or batch differ
            occasion = self.occasion(req)
            start = occasion.title if occasion is not None and OCCASION_TITLES else ""
            options = [[t for t, _ in titler.titles([x.rstrip("，。") for x in p.lines], n=TITLE_CHOICES, start=start)]
                       for p in poems]
            for p, title in zip(poems, distinct_titles(options, avoid)):
                p.title = title
        if avoid is not None:
            avoid.update(x.rstrip("，。") for p in poems for x in p.lines)
            avoid.update(Written.title(p.title) for p in poems if p.title)
        return PoemResult(request=req, seed=seed, keywords=words, poems=poems, notes=notes, plan=line_words)

    def line_judge(self, req: PoemRequest, plan: PoemPlan, line_words: list[str], seed: str,
                   avoid: Written | None = None, answered: Written | None = None) -> LineJudge:
        """The terms of the line-by-line choice, from the request's weights."""
        score = self.line_scorer.get() if req.coherence > 0 else None
        keywords = seed_batch(self.vocab, [w if all(c in self.known for c in w) else "" for w in line_words],
                              max(map(len, line_words))) if line_words else None
        wanted = torch.tensor(self.vocab.encode(seed)) if req.mode in ("keywords", "theme") else None
        return LineJudge(width=plan.width + 1, reuse=req.reuse, keywords=keywords, keyword_bonus=req.keyword_bonus,
                         seed=wanted, seed_bonus=req.seed_bonus,
                         coherence=None if score is None else (lambda prev, line: req.coherence * score(prev, line)),
                         stock=(lambda line: req.stock * self.unseeded_logp(line)) if req.stock > 0 else None,
                         avoid=avoid, answered=answered, shared=req.shared_phrase, itos=self.vocab.itos, season=req.season,
                         season_of=self.tables.season_of, season_pair=self.tables.season_pair, free=plan.forced < 0,
                         seed_seasons=plan.seed_seasons)

    @torch.inference_mode()
    def unseeded_logp(self, lines: torch.Tensor) -> torch.Tensor:
        """(R,) summed log-probs of lines (R, W) as the first line of a poem with no seed: how likely
        the model finds a line whatever the poem is about (a stock line scores high)."""
        seed = seed_batch(self.vocab, [""], self.model.cfg.max_seed).expand(len(lines), -1)
        logits = self.model(seed, shift_right(lines, Vocab.bos_id))
        return torch.log_softmax(logits.float(), dim=-1).gather(2, lines.unsqueeze(2)).squeeze(2).sum(dim=1)

    def line_plan(self, req: PoemRequest, words: list[str], n_lines: int) -> list[str]:
        """The keyword of each line, for the seed modes that do not already place chars in every line."""
        if not (req.plan and self.plan_table is not None and req.mode in ("keywords", "theme", "first")):
            return []
        words = [w for w in words if all(c in self.known for c in w)]
        return plan_lines(words, n_lines, self.plan_table, rng=random.Random(request_seed(req)))

    def line_seeds(self, line_words: list[str], seed: str) -> torch.Tensor:
        """(L, max_seed) ids: each line's keyword first, then the poem's seed chars."""
        size = self.model.cfg.max_seed
        return seed_batch(self.vocab, ["".join(dict.fromkeys(w + seed))[:size] for w in line_words], size)


def load_corpus_lines(poems_path: str | Path) -> torch.Tensor:
    """Sorted int32 hashes of every line of the prepared poems, for the copy check."""
    import json
    hashes = set()
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            hashes.update(line_hash(x) for x in json.loads(line)["lines"])
    return torch.tensor(sorted(hashes), dtype=torch.int32)


def attested_doubles(poems_path: str | Path, min_count: int = 5) -> torch.Tensor:
    """Code points of the chars that the prepared poems double (萧萧, 依依) at least min_count times."""
    import json
    from collections import Counter
    counts: Counter = Counter()
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            for x in json.loads(line)["lines"]:
                counts.update(a for a, b in zip(x, x[1:]) if a == b)
    return torch.tensor(sorted(ord(c) for c, k in counts.items() if k >= min_count), dtype=torch.int32)


def double_contexts(poems_path: str | Path, vocab: Vocab) -> torch.Tensor:
    """Sorted int32 keys x * V + a: a doubled char a (萧萧) after the char x in a line of the prepared
    poems (x = the pad id 0 where the double opens the line). A double the generator writes must stand
    where people wrote one: 雨萧萧 and 柳垂垂 are there, 绕江江 and 琴瑟瑟 (two words that meet) are not."""
    import json
    v, keys = len(vocab), set()
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            for x in json.loads(line)["lines"]:
                body = x.rstrip("，。")
                for i in range(1, len(body)):
                    if body[i] == body[i - 1] and body[i] in vocab.stoi:
                        before = vocab.stoi.get(body[i - 2]) if i >= 2 else vocab.pad_id
                        if before is not None:
                            keys.add(before * v + vocab.stoi[body[i]])
    return torch.tensor(sorted(keys), dtype=torch.int32)


def char_counts(poems_path: str | Path, vocab: Vocab) -> torch.Tensor:
    """(V,) int32: how often each vocabulary char occurs in the prepared poems' lines (the unigram that
    the poem frequency penalty divides out)."""
    import json
    from collections import Counter
    counts: Counter = Counter()
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            counts.update("".join(json.loads(line)["lines"]))
    return torch.tensor([counts.get(ch, 0) for ch in vocab.itos], dtype=torch.int32)


SEASON_MIN_POEMS = 30   # a char in fewer of the poems that name one season gets none
SEASON_ODDS = 4.0       # how many times the seasons' own odds its poems must name its season by


def _one_season_poems(poems_path: str | Path):
    """(lines, season) of each train-split poem that names exactly one season (春夏秋冬 as chars)."""
    import json
    from .corpus import split_of
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            lines = json.loads(line)["lines"]
            named = [k for k, s in enumerate(SEASONS) if s in "".join(lines)]
            if lines and len(named) == 1 and split_of(lines[0]) == "train":
                yield lines, named[0]


def _season_marks(holds: dict, min_poems: int, share: float, odds: float) -> dict:
    """key -> season for the keys (chars, pairs) that `holds` (key -> Counter of seasons, one count per
    poem) marks: held by min_poems or more poems, `share` of them naming one season, at `odds` times the
    odds with which all held keys name it."""
    from collections import Counter
    totals: Counter = Counter()
    for counts in holds.values():
        totals.update(counts)
    prior = {k: totals[k] / max(sum(totals.values()), 1) for k in range(4)}
    marked = {}
    for key, counts in holds.items():
        total = sum(counts.values())
        season, n = counts.most_common(1)[0]
        p = n / total
        lift = p / max(1 - p, 1e-9) / max(prior[season] / max(1 - prior[season], 1e-9), 1e-9)
        if total >= min_poems and p >= share and lift >= odds:
            marked[key] = season
    return marked


def season_images(poems_path: str | Path, vocab: Vocab) -> torch.Tensor:
    """(V,) int8: the season (0..3 for 春夏秋冬, -1: none) whose poems a char belongs to. Of the
    train-split poems that name exactly one season, those that hold the char name one season at least
    half the time and SEASON_ODDS times more often, in odds, than all of them do: 桃杏莺絮 spring,
    菊蝉梧蛩 autumn (summer and winter poems are too few to mark any)."""
    from collections import Counter
    holds: dict[int, Counter] = {}
    for lines, season in _one_season_poems(poems_path):
        for c in set("".join(lines)):
            if c in vocab.stoi and c not in SEASONS:
                holds.setdefault(vocab.stoi[c], Counter())[season] += 1
    out = torch.full((len(vocab),), -1, dtype=torch.int8)
    for i, season in _season_marks(holds, SEASON_MIN_POEMS, 0.5, SEASON_ODDS).items():
        out[i] = season
    return out


# a pair of neighbouring chars marks a season when at least SEASON_PAIR_MIN_POEMS of the poems naming one
# season hold it, SEASON_PAIR_SHARE of them name its season, at SEASON_PAIR_ODDS times the seasons' own
# odds: 东风 落花 二月 柳絮 spring, 西风 黄花 落叶 凉风 autumn (44 and 25), where each char alone marks none
SEASON_PAIR_MIN_POEMS, SEASON_PAIR_SHARE, SEASON_PAIR_ODDS = 60, 0.7, 10.0


def season_pairs(poems_path: str | Path, vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted int32 keys a * V + b of the char pairs that mark a season, and (int8) that season (0..3 for
    春夏秋冬), read as `season_images` reads chars (pairs with a season char left out)."""
    from collections import Counter
    holds: dict[int, Counter] = {}
    v = len(vocab)
    for lines, season in _one_season_poems(poems_path):
        keys = set()
        for x in lines:
            ids = [vocab.stoi.get(c, -1) if c not in SEASONS else -1 for c in x.rstrip("，。")]
            keys.update(a * v + b for a, b in zip(ids, ids[1:]) if a >= 0 and b >= 0)
        for key in keys:
            holds.setdefault(key, Counter())[season] += 1
    marked = _season_marks(holds, SEASON_PAIR_MIN_POEMS, SEASON_PAIR_SHARE, SEASON_PAIR_ODDS)
    keys = sorted(marked)
    return torch.tensor(keys, dtype=torch.int32), torch.tensor([marked[k] for k in keys], dtype=torch.int8)


def attested_bigrams(poems_path: str | Path, vocab: Vocab, min_count: int = 2) -> torch.Tensor:
    """Sorted keys a * V + b (vocabulary ids) of the neighbouring char pairs that the prepared
    poems use at least min_count times within a line: the classical usage the poem rule keeps to."""
    import json
    from collections import Counter
    counts: Counter = Counter()
    with open(poems_path, encoding="utf-8") as f:
        for line in f:
            for x in json.loads(line)["lines"]:
                counts.update(zip(x, x[1:]))
    v, ids = len(vocab), vocab.stoi
    keys = [ids[a] * v + ids[b] for (a, b), k in counts.items() if k >= min_count and a in ids and b in ids]
    return torch.tensor(sorted(keys), dtype=torch.int32 if v * v < 2 ** 31 else torch.int64)  # int32: half the file


