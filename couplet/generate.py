"""The generation API used by the CLI, batch jobs and the app: text in, checked 下联 out."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, load_checkpoint, load_prosody, load_table
from .checkpoint import identity as checkpoint_identity
from .model import BATCH_DECODER_LINES, for_batches, for_decoding, is_bf16, is_quantized
from .decode import LOCK_BLANKS, Beam, Beams, CoupletSteps, Plan, Tables, decode, make_plan, make_plans
from .phrases import FILE as PHRASES_FILE
from .phrases import FOLLOWS_FILE, Follows, PhraseMemory
from .postag import structure_agreement
from .prosody import Prosody
from .requests import (ALIGN_BY_DEFAULT, DEFAULT_BEAM, DIVERSITY_BY_DEFAULT,  # noqa: F401 (re-exported)
                       FREQ_PENALTY_BY_DEFAULT, MAX_CANDIDATES, MMI_BY_DEFAULT, RERANK_BY_DEFAULT, SEED_MAX,
                       STRUCTURE_BY_DEFAULT, TONE_BY_DEFAULT, DEFAULT_CHECKPOINT, DEFAULT_SCORER, REPO_ROOT,
                       Settings)
from .stock import FILE as STOCK_FILE
from .stock import StockPairs, WrittenPairs
from .text import LITERALS, CheckedInput, InputError, check_input, is_han, variant_of

BATCH_ROWS = 256  # rows decoded together in batch mode (1024 measured no faster on 2 cores)
# lines whose beams a batch decodes side by side (32 x the width rows), and whose candidates it reads
# back together (MMI), with fp32 weights: 2.1x the lines/s of one at a time here, the same 下联. An int8
# copy would go line by line: each call quantizes its activations with one scale for all its rows, and
# shared by 32 lines that cost 5% BLEU on 500 validation lines (3.11 against 3.27; fp32 3.28). So a
# generator that decodes in int8 keeps the fp32 weights for a batch's beams (`batch_model`): 65 lines/s
# against 59 one at a time in int8 (bench's 200 lines, 2 threads, medians of three alternated runs). On a
# CPU with native bf16 they are a bf16 copy (`model.for_batches`): 72-75 -> 93-104 lines/s (bench, two
# alternated runs), validation BLEU 3.78 -> 3.73 on 3,000 lines (fp32 beside it), every rule 100%
BEAM_LINES = 32
RERANK_WIDTH = 10  # beam width when candidates are reordered: reordering wants a wider N-best
# a 上联 of this many chars or more is searched with a beam this wide: on 15+ chars a beam of 16 read
# better than 10 (kept 23 to 15, docs/judging/couplets-widebeam-*; validation BLEU 2.12 -> 2.35), while on
# 12-14 chars it moved BLEU by noise only; short lines keep their speed
LONG_LINE_CHARS = 15
LONG_LINE_WIDTH = 16
# any two candidates shown differ in at least this share of their free positions. 1/2, not 1/3: at a third,
# half the lists repeated one frame (万事和谐岁岁新 / 万事和谐处处春); readers chose the half-apart list to
# pick from 28 times to 1 (docs/judging/couplets-sets-*). A list still short is filled with candidates
# FILL_DIFFERENCE apart, as lists were before: the whole couplets of a wish, half apart alone, came out
# short and lost 10 to 16; filled, they won 20 to 8 (docs/judging/whole-sets*)
MIN_DIFFERENCE, FILL_DIFFERENCE = 1 / 2, 1 / 3


def apart(items: list, differ: Callable[[Any, Any], float], n: int, shares: tuple[float, ...] | None = None) -> list:
    """Up to n of items (best first), in their order: those that differ from every one kept before
    in at least shares[0] (`differ`: the share of positions in which two items differ); while the
    list is short, the others that differ from every kept one in shares[1], and so on (default:
    MIN_DIFFERENCE, then FILL_DIFFERENCE)."""
    kept: list[int] = []
    for share in shares or (MIN_DIFFERENCE, FILL_DIFFERENCE):
        for i, item in enumerate(items):
            if len(kept) == n:
                return [items[k] for k in sorted(kept)]
            if i not in kept and all(differ(item, items[k]) >= share for k in kept):
                kept.append(i)
    return [items[k] for k in sorted(kept)]


@dataclass
class Candidate:
    lower: str
    score: float  # mean log-probability per character under the model's decoding mix (higher is better)
    scorer: float | None = None  # log P(real pair) from the N-vs-1 scorer, when reranked
    structure: float | None = None  # share of positions with the same part of speech, when reordered
    ranking: float | None = None  # what the order starts from: score less the frequency term, per char
    backward: float | None = None  # mean log p(上联 | 下联) under the same model, when mmi > 0


@dataclass
class Result:
    upper: str
    candidates: list[Candidate]
    notes: list[str] = field(default_factory=list)


def check_lock(lock: object, known: set[str]) -> str:
    """A lock pattern as the decoder reads it: Han chars (converted like the 上联), punctuation and
    blanks; anything else (letters, emoji, control chars) is an InputError."""
    if not isinstance(lock, str):
        raise InputError("the lock pattern must be text, e.g. 春_大_万家_")
    raw = "".join(lock.split())
    bad = sorted({c for c in raw if not (is_han(c) or c in LOCK_BLANKS or c in LITERALS)}, key=raw.index)
    if bad:
        shown = " ".join(c if c.isprintable() else f"U+{ord(c):04X}" for c in bad)
        raise InputError(f"the lock pattern may hold Chinese characters and _ for blanks only, not {shown}")
    return "".join(variant_of(c, known) if is_han(c) and c not in known else c for c in raw)


def _chars(plan: Plan) -> int:
    """The chars a 下联 writes (not its punctuation)."""
    return sum(lit is None for lit in plan.literal)


class CoupletGenerator:
    def __init__(self, model, vocab, prosody: Prosody, meta: dict | None = None, scorer=None,
                 scorer_path: Path | None = None, identity: str = "in-memory model",
                 phrases: PhraseMemory | None = None, stock: StockPairs | None = None, batch_model=None,
                 follows: Follows | None = None):
        self.model, self.vocab, self.prosody, self.meta = model.eval(), vocab, prosody, meta or {}
        # what a batch decodes many rows with (`model.for_batches`): its beams BEAM_LINES lines side by
        # side, and on a CPU with native bf16 its greedy or sampled chunks too. None: model itself (an
        # int8 one then takes a batch's beams line by line)
        self.batch_model = model if batch_model is None else batch_model.eval()
        self.phrases = phrases  # the phrase memory (`couplet.phrases`); None: the checkpoint has none
        self.stock = stock      # the stock-pair table (`couplet.stock`); None: the checkpoint has none
        self.tables = Tables(vocab, prosody, follows)
        self.known = set(vocab.chars())
        self._scorer = scorer  # (ScorerModel, its Vocab); else loaded from scorer_path when rerank asks
        self.scorer_path = scorer_path
        self.identity = identity  # path and weights hash: what batch fingerprints record
        counts = self.meta.get("lower_counts")  # 下联 char counts of the training data, for freq_penalty
        self.log_freq = None
        if counts and len(counts) == len(vocab):
            c = torch.tensor(counts, dtype=torch.float) + 1.0
            self.log_freq = (c / c.sum()).log()

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, *, prosody: str | Path | None = None,
             scorer: str | Path | None = None, device: str = "cpu", int8: bool | None = None
             ) -> "CoupletGenerator":
        """Load a couplet checkpoint and its tone table; the pair scorer is loaded when first asked for.
        int8: decode with a dynamically quantized copy (CPU; default INT8_BY_DEFAULT)."""
        path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
        model, vocab, meta = load_checkpoint(path, device=device, kind="couplet")
        table, stock = load_table(path, PHRASES_FILE, meta), load_table(path, STOCK_FILE, meta)
        follows = load_table(path, FOLLOWS_FILE, meta)
        try:
            stock = StockPairs(stock, len(vocab)) if stock else None
            follows = Follows(follows, len(vocab)) if follows else None
        except ValueError as e:
            raise CheckpointError(f"{path}: {e}") from e
        decoding = for_decoding(model, int8=int8, device=device)
        return cls(decoding, vocab, load_prosody(path, prosody), meta,
                   scorer_path=Path(scorer) if scorer else DEFAULT_SCORER, identity=checkpoint_identity(path, meta),
                   phrases=PhraseMemory(table, vocab) if table else None, stock=stock,
                   batch_model=for_batches(model, decoding), follows=follows)

    @property
    def scorer(self):
        """The N-vs-1 pair scorer (model, vocab), loaded on first use; None if there is none.
        A broken scorer is an InputError for the request that asked to rerank, nothing else."""
        if self._scorer is None and self.scorer_path is not None and (self.scorer_path / "checkpoint.json").exists():
            try:
                s_model, s_vocab, _ = load_checkpoint(self.scorer_path, kind="scorer")
            except CheckpointError as e:
                raise InputError(f"reranking is unavailable: {e}") from e
            self._scorer = (s_model.eval(), s_vocab)
        return self._scorer

    @property
    def max_len(self) -> int:
        return self.model.cfg.max_len

    def _check(self, upper: object) -> CheckedInput:
        return check_input(upper, known=self.known, max_len=self.max_len, allow_unknown=True, han_only=True)

    def plan(self, upper: str, settings: Settings, lock: str | None = None, avoid: str = "") -> tuple[Plan, list[str]]:
        """Check the input (raises InputError) and build its decoding plan; avoid: chars the 下联 leaves out."""
        checked = self._check(upper)
        if lock is not None:
            lock = check_lock(lock, self.known)
        try:
            plan = make_plan(checked.text, self.tables, replace(settings.rules(), avoid=avoid), lock=lock or None)
        except ValueError as e:
            raise InputError(str(e)) from e
        return plan, checked.notes + plan.notes + self._memory_notes(settings)

    def _memory_notes(self, settings: Settings) -> list[str]:
        if settings.memory > 0 and self.phrases is None:
            return ["this model has no phrase memory (`export --counts-from` makes one), so --memory has no effect"]
        return []

    def _text(self, plan: Plan, ids: list[int]) -> str:
        return "".join(lit if lit is not None else self.vocab.itos[i] for lit, i in zip(plan.literal, ids))

    def generate(self, upper: str, settings: Settings | None = None, *, lock: str | None = None,
                 written: WrittenPairs | None = None, avoid: str = "") -> Result:
        """Candidates for one 上联, best first. Raises InputError for bad input. written: what the batch
        this line belongs to wrote before (`settings.shared_pair`); the first candidate is added to it.
        avoid: chars the 下联 leaves out (a whole couplet's, `couplet.whole`)."""
        settings = (settings or Settings()).check()
        plan, notes = self.plan(upper, settings, lock, avoid)
        n = settings.n  # at least 1: check() holds it to its range
        sampler = settings.sampler(torch.Generator().manual_seed(int(settings.seed)))
        greedy = settings.beam == 0 and sampler.greedy
        free = [i for i, lit in enumerate(plan.literal) if lit is None]    # the chars it writes
        if settings.beam > 0:
            ids, scores = self._decode([plan], settings, self._beam(settings, n, chars=len(free)), written=written)
        else:  # spare rows when sampling: near-duplicates are dropped
            ids, scores = self._decode([plan] * (1 if greedy else 2 * n), settings, sampler, written=written)
        if greedy and n > 1:
            notes.append(f"greedy decoding gives one 下联; for {n}, use beam search (--beam) or a temperature above 0")
        candidates = apart(self._order(plan, self._rank(plan, ids.tolist(), scores.tolist()), settings),
                           lambda a, b: sum(a.lower[i] != b.lower[i] for i in free) / max(len(free), 1), n)
        if len(candidates) < n and not greedy:
            notes.append(f"{len(candidates)} of the {n} candidates asked for differ from each other in at least "
                         f"{FILL_DIFFERENCE:.0%} of their characters; the rest were near-duplicates and are not shown")
        if written is not None and candidates:
            written.update([candidates[0].lower])
        return Result(upper=plan.upper, candidates=candidates[:n], notes=notes)

    def _generate_or_error(self, upper: str, settings: Settings, written: WrittenPairs | None = None
                           ) -> Result | InputError:
        try:
            return self.generate(upper, settings, written=written)
        except InputError as e:
            return e

    def _decode(self, plans: list[Plan], settings: Settings, choose, model=None, *,
                written: WrittenPairs | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        memory = (self.phrases, settings.memory) if self.phrases is not None and settings.memory > 0 else None
        stock = [(self.stock, settings.stock_penalty)] if self.stock is not None and settings.stock_penalty > 0 else []
        shared = written.table(self.vocab) if written is not None and settings.shared_pair > 0 else None
        if shared is not None:
            stock.append((shared, settings.shared_pair))
        steps = CoupletSteps(self.model if model is None else model, plans, settings.align, phrases=memory, stock=stock)
        return decode(steps, plans, choose, repeats=settings.repeats)

    def _beam(self, settings: Settings, n: int, chars: int) -> Beam:
        """Beam search as the settings say for a 上联 of `chars` chars to write: diverse groups (one per
        further candidate) when n > 1."""
        groups = n if settings.diversity > 0 and n > 1 else 1
        bonus = -settings.freq_penalty * self.log_freq if self.log_freq is not None and settings.freq_penalty else None
        return Beam(self._width(settings, n if groups == 1 else 1, chars), groups=groups, diversity=settings.diversity,
                    bonus=bonus)

    def _firsts(self, plans: list[Plan], settings: Settings, written: WrittenPairs | None = None
                ) -> list[list[Candidate]]:
        """The best 下联 of each plan (a batch file's answer): their beams decoded side by side and
        their candidates read back (MMI) together, then each line's candidates ordered on their own."""
        beams = self._beams(settings, plans)
        ids, scores = self._decode(plans, settings, beams, self.batch_model, written=written)  # each line's best first
        ids, scores = ids.view(len(plans), beams.width, -1).tolist(), scores.view(len(plans), -1).tolist()
        ranked = [self._rank(plan, i, sc) for plan, i, sc in zip(plans, ids, scores)]
        backs: list[list[float] | None] = [None] * len(plans)
        if settings.mmi > 0:
            read = iter(self.backward([(p.upper, c.lower) for p, cs in zip(plans, ranked) if len(cs) > 1 for c in cs],
                                      self.batch_model))
            backs = [[next(read) for _ in cs] if len(cs) > 1 else None for cs in ranked]
        return [self._order(plan, cs, settings, first_only=True, backward=back)[:1]
                for plan, cs, back in zip(plans, ranked, backs)]

    def _beams(self, settings: Settings, plans: list[Plan]) -> Beams:
        """The beams of a batch: one `_beam(settings, 1)` per line, decoded side by side (as wide as
        its longest line's)."""
        one = self._beam(settings, 1, chars=max(map(_chars, plans)))
        return Beams(one.width, len(plans), bonus=one.bonus)

    def _width(self, settings: Settings, n: int, chars: int) -> int:
        reorder = (settings.rerank and self.scorer is not None) or settings.structure > 0
        return max(settings.beam, n, RERANK_WIDTH if reorder else 0, LONG_LINE_WIDTH if chars >= LONG_LINE_CHARS else 0)

    def _order(self, plan: Plan, candidates: list[Candidate], settings: Settings, *, first_only: bool = False,
               backward: list[float] | None = None) -> list[Candidate]:
        """The distinct candidates (`_rank`), best first: model score, then the optional scorer and
        structure terms. first_only: only the first is wanted (a batch), so a candidate that could
        not come first even with full 词性 agreement is not tagged (jieba is most of a batch line's
        time); the first is the same either way, the order of the rest is not. backward: the
        candidates' MMI scores when already computed (a batch reads all its lines' back at once)."""
        for c in candidates:
            c.ranking = c.score
            if self.log_freq is not None and settings.freq_penalty:
                ids_c = [self.vocab.stoi.get(ch, self.vocab.unk_id) for ch in c.lower]
                c.ranking -= settings.freq_penalty * float(self.log_freq[ids_c].mean())
        if settings.mmi > 0 and len(candidates) > 1:
            if backward is None:
                backward = self.backward([(plan.upper, c.lower) for c in candidates])
            for c, back in zip(candidates, backward):
                c.backward = back
                c.ranking += settings.mmi * back
        candidates.sort(key=lambda c: -c.ranking)
        rerank = settings.rerank and self.scorer is not None
        if rerank:
            self.rerank(plan.upper, candidates)
        structure = settings.structure > 0 and len(candidates) > 1
        if rerank or structure:
            # the 词性 term is scaled by the spread of the N-best's scores, so it reorders close
            # candidates but never lifts one over a clearly better-scored line
            rankings = [c.ranking for c in candidates]
            weight = settings.structure * (max(rankings) - min(rankings))

            def key(c: Candidate) -> float:
                return c.ranking + settings.rerank_weight * (c.scorer or 0.0) + weight * (c.structure or 0.0)
            if structure:
                best = float("-inf")
                for c in sorted(candidates, key=lambda c: -key(c)):   # best possible first: no tags yet
                    if first_only and key(c) + weight < best:
                        break                                       # no agreement would bring it first
                    c.structure = structure_agreement(plan.upper, c.lower) or 0.0
                    best = max(best, key(c))
            candidates.sort(key=lambda c: -key(c))
        return candidates

    @torch.inference_mode()
    def backward(self, pairs: list[tuple[str, str]], model=None) -> list[float]:
        """Mean log p(上联 | 下联) for (上联, 下联) pairs of one length: the couplet model read backwards,
        which asks how well a 下联 explains its own 上联 (Li et al. 2016, MMI-bidi); stock lines explain
        little. Up to BATCH_ROWS pairs a pass (a batch file reads its lines' candidates together, with
        `batch_model`); model: the weights to read with (default the generator's)."""
        from .model import shift_right
        out: list[float] = []
        for start in range(0, len(pairs), BATCH_ROWS):
            part = pairs[start:start + BATCH_ROWS]
            src = torch.tensor([self.vocab.encode(lower) for _, lower in part])
            tgt = torch.tensor([self.vocab.encode(upper) for upper, _ in part])
            logp = torch.log_softmax((self.model if model is None else model)(src, shift_right(tgt, self.vocab.bos_id)).float(),
                                     dim=-1)
            tok = logp.gather(2, tgt.unsqueeze(2)).squeeze(2)                 # (K, T)
            known = tgt != self.vocab.unk_id
            out += ((tok * known).sum(1) / known.sum(1).clamp(min=1)).tolist()
        return out

    def rerank(self, upper: str, candidates: list[Candidate], weight: float = 1.0) -> list[Candidate]:
        """Set log P(real pair) from the N-vs-1 scorer; order by model score + weight * that."""
        for c, lp in zip(candidates, self.pair_scores([(upper, c.lower) for c in candidates])):
            c.scorer = lp
        return sorted(candidates, key=lambda c: -(c.score + weight * c.scorer))

    @torch.inference_mode()
    def pair_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        """log P(real pair) from the N-vs-1 scorer for (上联, 下联) pairs of one length."""
        model, vocab = self.scorer
        src = torch.tensor([vocab.encode(u) for u, _ in pairs])
        tgt = torch.tensor([vocab.encode(w) for _, w in pairs])
        return torch.nn.functional.logsigmoid(model(src, tgt).float()).tolist()

    def _rank(self, plan: Plan, ids: list[list[int]], scores: list[float]) -> list[Candidate]:
        seen, out = set(), []
        for row, s in sorted(zip(ids, scores), key=lambda x: -x[1]):
            if s == float("-inf"):
                break                                   # rows a beam could not fill (`Beams`)
            text = self._text(plan, row)
            if text not in seen:
                seen.add(text)
                out.append(Candidate(lower=text, score=s / len(row)))
        return out

    def generate_batch(self, uppers: list[str], settings: Settings, *, written: WrittenPairs | None = None
                       ) -> list[Result | InputError]:
        """One best 下联 per input (n of them, each line as `generate` writes it, when settings.n > 1).
        Same-length inputs are planned together, BATCH_ROWS at a time; greedy or sampled they are
        decoded together too (many lines with `batch_model` where it is bf16); with the beam, BEAM_LINES
        side by side with `batch_model` unless it is int8 (`_firsts`). With settings.shared_pair each
        group of lines decoded together pays for the pairs that the groups before it wrote (`written`:
        what earlier calls of the same batch file wrote; the answers are added to it)."""
        settings.check()
        if settings.shared_pair > 0 and written is None:
            written = WrittenPairs()
        elif settings.shared_pair <= 0:
            written = None

        def wrote(results: list[Result]) -> None:
            if written is not None:
                written.update(r.candidates[0].lower for r in results if r.candidates)
        if settings.n > 1:   # several real alternatives per line: the one-line path's choice
            return [self._generate_or_error(text, settings, written) for text in uppers]
        results: list[Result | InputError] = [None] * len(uppers)  # type: ignore[list-item]
        by_length: dict[int, list[tuple[int, CheckedInput]]] = {}
        for i, text in enumerate(uppers):
            try:
                checked = self._check(text)
            except InputError as e:
                results[i] = e
                continue
            by_length.setdefault(len(checked.text), []).append((i, checked))
        sampler = settings.sampler(torch.Generator().manual_seed(int(settings.seed)))
        rules, memory_notes = settings.rules(), self._memory_notes(settings)
        for items in by_length.values():
            for start in range(0, len(items), BATCH_ROWS):
                chunk = items[start:start + BATCH_ROWS]
                plans = make_plans([c.text for _, c in chunk], self.tables, rules)
                if settings.beam > 0:   # a beam per line; BEAM_LINES lines side by side unless int8
                    side = 1 if is_quantized(self.batch_model) else BEAM_LINES
                    for at in range(0, len(chunk), side):
                        firsts = self._firsts(plans[at:at + side], settings, written)
                        for (i, checked), plan, first in zip(chunk[at:at + side], plans[at:at + side], firsts):
                            results[i] = Result(plan.upper, first, checked.notes + plan.notes + memory_notes)
                        wrote([results[i] for i, _ in chunk[at:at + side]])
                    continue
                # many lines: the bf16 copy where there is one (an int8 model steps its fp32 GRU then)
                wide = self.batch_model if len(plans) >= BATCH_DECODER_LINES and is_bf16(self.batch_model) else None
                ids, scores = self._decode(plans, settings, sampler, wide, written=written)
                # as lists: a tensor per row cost more than the rest of the row's result
                for (i, checked), plan, row, s in zip(chunk, plans, ids.tolist(), scores.tolist()):
                    results[i] = Result(plan.upper, self._rank(plan, [row], [s]),
                                        checked.notes + plan.notes + memory_notes)
                wrote([results[i] for i, _ in chunk])
        return results
