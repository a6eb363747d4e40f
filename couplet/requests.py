"""What a user can ask for: the request types of the three generators, with every default, choice
list, range and help text. The one home of those decisions: the CLI builds its flags and the app
its widgets from these fields, and the generators check them. Nothing here needs torch, so the
page can be laid out before the models' libraries load.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .text import InputError, check_ranges

# the shipped models and the tone table, used when no other checkpoint is given
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "couplet"
DEFAULT_SCORER = REPO_ROOT / "checkpoints" / "scorer"
DEFAULT_POEM_CHECKPOINT = REPO_ROOT / "checkpoints" / "poem"
DEFAULT_WHOLE_CHECKPOINT = REPO_ROOT / "checkpoints" / "whole"
DEFAULT_TITLE_CHECKPOINT = REPO_ROOT / "checkpoints" / "title"
DEFAULT_LINES_CHECKPOINT = REPO_ROOT / "checkpoints" / "lines"
DEFAULT_PROSODY = REPO_ROOT / "checkpoints" / "prosody.json"

TONE_MODES = ("off", "end", "rhythm")  # 平仄 rule of a 下联

# ---------------------------------------------------------------- couplets
RERANK_BY_DEFAULT = False  # set from the eval numbers (checkpoints/README.md): on only if it helps
TONE_BY_DEFAULT = "rhythm"  # 平仄 rule: off | end | rhythm; set from the eval numbers
ALIGN_BY_DEFAULT = 0.3  # weight of the per-position head in decoding (models that have one)
STRUCTURE_BY_DEFAULT = 1.0  # weight of the 词性相对 rule, relative to the N-best spread; set from the eval numbers
DIVERSITY_BY_DEFAULT = 1.0  # diverse beam search: penalty per earlier group that chose the same char
FREQ_PENALTY_BY_DEFAULT = 0.2  # anti-LM weight against stock chars; chosen on the validation split (model card)
MEMORY_BY_DEFAULT = 0.0  # phrase memory: off; readers never preferred it in seven readings (couplet.phrases)
# weight of the stock-pair table's log excess in the search (couplet.stock): off; at 0.5 it lifts distinct-2
# (test 67.5% -> 74.4%) but readers kept it 18 to 20 and BLEU fell 3.43 -> 3.34 (checkpoints/README.md)
STOCK_PENALTY_BY_DEFAULT = 0.0
# a batch's cost for a pair of chars its earlier 下联 wrote (couplet.stock.WrittenPairs): at 0.5 readers kept
# the lines it changes as often as before (18 to 17, 3 ties; at 1, 16 to 24) and the 1,000 test 下联 hold
# more distinct pairs (distinct-2 66.9% -> 74.2%, BLEU 3.50 -> 3.59; docs/judging/couplets-sharedpair*)
SHARED_PAIR_BY_DEFAULT = 0.5
MMI_BY_DEFAULT = 0.6  # weight of log p(上联 | 下联) when ordering candidates (MMI-bidi); chosen on validation
MAX_CANDIDATES = 20  # n and beam width: one line's candidates fit one screen and a few MB
SEED_MAX = 2 ** 63 - 1
# the beam width of a request that is not sampled, one 上联 or a batch file: the decoding the model card
# measures (greedy, --beam 0, is ~20x faster in a batch and lower on every measure; docs/judging)
DEFAULT_BEAM = 5


def add_flags(p, cls, skip: tuple[str, ...] = (), no_default: tuple[str, ...] = ()) -> None:
    """One flag per field of a request dataclass that has a help text, with its help, choices and
    default from there (a flag not given leaves the field's default). A switch whose metadata names
    a `flag` gets only that flag, which turns it off (e.g. --no-punctuation). The CLI and `eval` use it."""
    import argparse
    for f in fields(cls):
        if f.name in skip or "help" not in f.metadata:
            continue
        name = f.type if isinstance(f.type, str) else f.type.__name__
        flag = "--" + f.name.replace("_", "-")
        if name.startswith("bool") and "flag" in f.metadata:
            p.add_argument(f.metadata["flag"], dest=f.name, action="store_const", const=not f.default, default=None,
                           help=f.metadata["help"])
            continue
        if name.startswith("bool"):
            shown = "" if f.default is None else f" (default: {'on' if f.default else 'off'})"
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                           help=f.metadata["help"] + shown)
            continue
        kind = {"int": int, "float": float}.get(name, str)
        shown = f" (default: {f.default})" if f.default != "" and f.name not in no_default else ""
        extra = {"choices": list(f.metadata["choices"])} if "choices" in f.metadata else {}
        p.add_argument(flag, dest=f.name, type=kind, default=None, help=f.metadata["help"] + shown, **extra)


def _num(default, low, high, help: str):
    return field(default=default, metadata={"range": (low, high), "help": help})


def _switch(default, help: str, flag: str | None = None):
    """A rule switch; `flag` names a CLI flag that turns it off (e.g. --no-punctuation)."""
    return field(default=default, metadata={"help": help, **({"flag": flag} if flag else {})})


class _Sampled:
    """For the request types: the one place decoding reads their temperature, top-k and top-p."""

    def sampler(self, generator=None):
        """How each row's next char is picked (`couplet.sampling.Sampler`); the generator makes it
        reproducible. A request without top-k samples from the whole nucleus."""
        from .sampling import Sampler
        return Sampler(temperature=self.temperature, top_k=getattr(self, "top_k", 0), top_p=self.top_p,
                       generator=generator)


@dataclass
class Settings(_Sampled):
    """How to decode; stored beside every batch output so results can be reproduced.
    The one home of every decoding default, range and help text: the CLI builds its flags from
    these fields, and `check()` enforces the ranges for the CLI, the app and the API."""
    n: int = _num(5, 1, MAX_CANDIDATES, "number of candidates (the CLI: 5 for one line, 1 in batch mode)")
    temperature: float = _num(0.0, 0.0, 5.0, "sampling temperature; 0 = greedy or beam search")
    top_k: int = _num(0, 0, 10 ** 9, "sample only among the k most likely chars (0: off; clamped to the vocabulary)")
    top_p: float = _num(1.0, 0.01, 1.0, "nucleus sampling mass (1: off)")
    beam: int = _num(0, 0, MAX_CANDIDATES,
                     "beam width (the CLI and the page: 5 at temperature 0; 0: greedy, the fastest); the search "
                     "is at least 10 wide when the 词性 order reads its N-best, and 16 for a 上联 of 15+ chars")
    seed: int = _num(0, 0, SEED_MAX, "random seed for sampling")
    punctuation: bool = _switch(True, "do not copy the 上联's punctuation", "--no-punctuation")
    repeats: bool = _switch(True, "do not enforce the 重字 rule", "--no-repeats")
    no_copy: bool = _switch(True, "allow 上联 characters in the 下联", "--allow-copy")
    # off for the page's and the CLI's locks: a char fixed inside the line, its neighbours narrowed, read 17 to 22
    # against (对仗 4.00 -> 3.80, docs/judging/couplets-follow-*); on for a whole couplet's 藏头 heads (`whole`)
    follow: bool = _switch(False, "beside a locked char, only one people write there (华年, not 华天), where one is "
                           "allowed", "--follow")
    tone: str = field(default=TONE_BY_DEFAULT, metadata={
        "help": "平仄 rule: end = last char opposes the 上联's; rhythm = also the 2nd, 4th, 6th char of each clause",
        "choices": TONE_MODES})
    rerank: bool = _switch(RERANK_BY_DEFAULT, "rerank beam candidates with the pair scorer in checkpoints/scorer")
    rerank_weight: float = _num(1.0, 0.0, 10.0, "weight of the pair scorer's log-probability when reranking")
    structure: float = _num(STRUCTURE_BY_DEFAULT, 0.0, 1e6, "weight of the 词性相对 rule (same part of speech at "
                            "each position) when ordering candidates, relative to their score spread; 0 = off")
    align: float = _num(ALIGN_BY_DEFAULT, 0.0, 1.0, "weight of the model's per-position head mixed with its "
                        "decoder, 0..1 (models trained with --aligned-head)")
    diversity: float = _num(DIVERSITY_BY_DEFAULT, 0.0, 10.0, "diverse beam search: penalty on a char an earlier "
                            "candidate took at the same position; 0 = plain beam")
    freq_penalty: float = _num(FREQ_PENALTY_BY_DEFAULT, 0.0, 10.0, "subtract this times log p(char) of the "
                               "training 下联 unigram, against stock chars")
    stock_penalty: float = _num(STOCK_PENALTY_BY_DEFAULT, 0.0, 10.0, "the search's cost for a char that makes a "
                                "pair the model writes far more often than people do (展宏, 欣逢), times the log of "
                                "how many times as often (the checkpoint's stock table), e.g. 0.5 for more varied 下联; 0 = off")
    shared_pair: float = _num(SHARED_PAIR_BY_DEFAULT, 0.0, 10.0, "a batch file: the search's cost for a char that "
                              "makes a pair of chars the batch's earlier 下联 wrote, times log(1 + how often), so "
                              "unrelated 上联 do not all get the same stock pairs; 0 = off (one line alone: no effect)")
    memory: float = _num(MEMORY_BY_DEFAULT, 0.0, 20.0, "phrase memory: the search lifts each char's log-probability "
                         "by this times its probability under what people wrote opposite the 上联's rarer 4-char "
                         "phrases in the training couplets (the scores stay the model's), e.g. 8; 0 = off")
    mmi: float = _num(MMI_BY_DEFAULT, 0.0, 5.0, "order candidates with this times mean log p(上联 | 下联), "
                      "the model read backwards; 0 = off")

    @classmethod
    def for_request(cls, *, batch: bool, beam_search: bool = True, **given) -> "Settings":
        """The policy for n and the beam, for the CLI and the page alike: a batch writes one 下联 per
        line, one 上联 gets n candidates, and either is decoded by beam search of DEFAULT_BEAM when it
        is not sampled (unless beam_search is off or a width is given). `given`: the fields the user set."""
        if batch:
            given.setdefault("n", 1)
        if "beam" not in given:
            given["beam"] = DEFAULT_BEAM if beam_search and cls(**given).sampler().greedy else 0
        return cls(**given)

    def check(self) -> "Settings":
        """Raise InputError for a number out of range, NaN or infinite, or an unknown tone rule."""
        check_ranges(self)
        if self.tone not in TONE_MODES:
            raise InputError(f"--tone must be one of {', '.join(TONE_MODES)}, not {self.tone!r}")
        return self

    def rules(self):
        """The couplet rules these settings switch on (`couplet.decode.Rules`)."""
        from .decode import Rules
        return Rules(punctuation=self.punctuation, repeats=self.repeats, no_copy=self.no_copy, tone=self.tone,
                     follow=self.follow)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- poems
FORMS = {"五绝": (4, 5), "七绝": (4, 7), "五律": (8, 5), "七律": (8, 7)}
# reply: 次韵, a poem answering the one given, with its rhyme characters in their places (its form too)
MODES = ("keywords", "first", "theme", "acrostic", "embed", "reply")
PATTERNS = ("off", "auto", "平起", "仄起")  # 平仄 pattern of regulated verse; auto: the first line's 2nd char picks
REPLY_RHYMES = ("次韵", "依韵")    # how a reply rhymes with the poem it answers

MAX_POEMS = 20  # poems per request


def _opt(default, help: str, **meta):
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class PoemRequest(_Sampled):
    """One poem request: the one home of the poem defaults, choices, ranges and help texts (the CLI
    builds its flags and the app its widgets from these fields); ranges are checked by
    `PoemGenerator.prepare`."""
    form: str = _opt("七绝", "五绝, 七绝, 五律 or 七律", choices=tuple(FORMS))
    mode: str = _opt("keywords", "seed mode", choices=MODES)
    text: str = _opt("", "the keywords, first char, theme, acrostic or embedded chars, or the poem to answer (reply)")
    embed_pos: int = _num(1, 1, 7, "嵌字: 1-based position in each line")
    rhyme: str = _opt("auto", "平水韵 平声 group (e.g. 七阳), or auto")
    reply_rhyme: str = _opt("次韵", "how a reply rhymes: 次韵 (the poem's rhyme characters, in their places) or 依韵 "
                                   "(its rhyme group, other characters)", choices=REPLY_RHYMES)
    lock: str = _opt("", "keep these characters where they stand and write the rest: the whole poem with _ for "
                         "each character to write, lines split by punctuation or spaces (e.g. a poem written "
                         "before, with the characters to rewrite replaced by _); it sets the form")
    first_rhymes: bool | None = _opt(None, "the first line rhymes too (default: yes for 七言, no for 五言)")
    # auto: 绝句 and 律诗 are regulated verse, and readers did not mind it (kept 21-10, 14-18, 16-16 against off,
    # docs/judging/poems-pattern*); `check` reads 76 of 80 poems regular with it, 67 without
    pattern: str = _opt("auto", "enforce the 平仄 pattern of regulated verse at positions 2, 4, 6 and the end (auto: "
                                "平起 or 仄起 as the first line's second char falls; off: not enforced)",
                        choices=PATTERNS)
    n: int = _num(3, 1, MAX_POEMS, "poems per seed")
    # 0.5: blind side-by-sides kept 0.6 over 0.8 27 to 11 and 0.5 over 0.65 29 to 11 (docs/judging); a
    # batch keeps its poems from repeating each other's lines, which low temperatures would do
    temperature: float = _num(0.5, 0.0, 5.0, "sampling temperature; 0 = greedy")
    top_k: int = _num(0, 0, 10 ** 9, "sample among the k most likely chars (0: off; clamped to the vocabulary)")
    top_p: float = _num(0.95, 0.01, 1.0, "nucleus sampling mass (1: off)")
    seed: int = _num(0, 0, 2 ** 63 - 1, "random seed")
    max_copied: int = _num(-1, -1, 8, "drop poems with more lines copied verbatim from the corpus (-1: no limit)")
    draws: int = _num(8, 1, 16, "candidates drawn for each line (or, with --no-per-line, for each poem); the "
                      "best-scored is kept")
    # off by default: a blind side-by-side kept poems written without the plan 24 times to 12 (docs/judging)
    plan: bool = _opt(False, "write each line around one keyword of a plan expanded from the seed (keywords, "
                             "theme and first-character modes)")
    per_line: bool = _opt(True, "choose each line as the best of its draws before the next line is written "
                                "(off: draw whole poems and keep the best)")
    coherence: float = _num(0.0, 0.0, 100.0, "weight of the line-pair scorer (does this line follow the one before?) "
                            "in the line-by-line choice (0: off)")
    # degenerate repeats, each rule switchable: a char three times in a line; a doubled char (AA)
    # that the classical corpus never doubles; a bigram twice in the poem; a seed char more than once
    no_triples: bool = True
    no_doubles: bool = True
    no_repeat_bigrams: bool = True
    # 1: no 重字 (141 in 206 poems at 2, none at 1, every other check the same); readers kept poems written
    # with it 37 times to 26 in two readings (docs/judging/poems-once*); a doubled word (萧萧) is one use
    max_uses: int = _num(1, 0, 8, "a character at most this many times in a poem (0: no limit; a doubled word such "
                         "as 萧萧 counts once); classical verse avoids 重字")
    # off by default: it makes poems less alike (distinct-2 55.9% to 62.8% at 0.6 on the 206-poem set)
    # but a blind side-by-side kept poems written without it 23 times to 10 (docs/judging)
    stock: float = _num(0.0, 0.0, 2.0, "line-by-line choice: weight of a line's log-probability as any poem's "
                        "first line with no seed, subtracted from its score (anti-LM against stock lines; 0: off)")
    reuse: float = _num(3.0, 0.0, 10.0, "line-by-line choice: log-probability cost of each char the poem already "
                        "used (in an earlier line or earlier in the same line)")
    keyword_bonus: float = _num(2.0, 0.0, 10.0, "line-by-line choice: log-probability bonus for a line that holds "
                                "its plan keyword (half for part of it)")
    seed_bonus: float = _num(8.0, 0.0, 10.0, "line-by-line choice: log-probability bonus for each char of the "
                             "keywords or theme that a line brings into the poem")
    # 4.0: on 26 seeds whose poems it changed, readers kept it 20 times to 6, coherence 3.23 against 2.15
    # (docs/judging/poems-season-*); it changes about 1 poem in 12
    season: float = _num(4.0, 0.0, 10.0, "line-by-line choice: log-probability cost of a line that names a season "
                          "(春夏秋冬) other than the one the poem or its seed already named (0: off)")
    # 2.0: on seeds whose poems marked two seasons, readers kept poems written with it 20 times to 9 (1 tie),
    # coherence 2.77 against 2.30 (docs/judging/poems-steer*); with the pairs that mark a season (东风, 落叶)
    # too, 17 to 11 against the chars alone (poems-pairs*)
    season_steer: float = _num(2.0, 0.0, 10.0, "at each draw, subtract this from the log-probabilities of the chars "
                               "of a season (春夏秋冬 and its images, 杏 or 菊, or a pair's second char: 东风, 落叶) other "
                               "than the one the poem or its seed already named (0: off; `season` judges whole lines)")
    # 4.0: the model's favourite phrases (不知何处) came back in most poems of a batch (4-char ones in 80% of
    # 206 poems, 1.5% at 4.0); readers kept poems written with it 22 times to 10 (docs/judging/poems-phrase-*)
    # 4.0: of three typed keywords a poem held 46% as whole words without it, 69% with it (15 seed sets x 4
    # forms), and readers kept it as often as not (36 to 34 in two readings, docs/judging/poems-cover*)
    cover: float = _num(4.0, 0.0, 10.0, "keywords mode: log-probability bonus, at each draw, for the next char of a "
                        "keyword of two or more chars the poem has not written yet, where the line has room for it "
                        "(0: off)")
    shared_phrase: float = _num(4.0, 0.0, 10.0, "line-by-line choice: log-probability cost of each 3-char phrase a line "
                                "shares with another poem of the request or batch (0: off)")
    # 0.35: sampling at 0.5 wrote the commonest chars twice as often as people (不 in 69% of poems, 32%);
    # with it distinct-1 19.0% (people's poems 19.3%); readers ranked it first 15 of 32 in a three-way
    # reading (0: 8, 0.2: 9) and kept it 22 to 18 (docs/judging/poems-freq*)
    freq_penalty: float = _num(0.35, 0.0, 2.0, "add this times -log p(char) of the classical poems' unigram to each "
                               "step's log-probabilities, against the commonest chars (不, 一, 风, 月); 0: off")
    seed_once: bool = True
    attested_bigrams: bool = True  # each pair of neighbouring chars in a line is attested in the classical poems
    # 0.5: 0.3 read better once (kept 19 to 13) and even on 40 more seeds (19 to 20, 对仗 weaker); pooled a
    # wash (docs/judging/poems-parallel2-*, -parallel3-*), so the default stays
    parallel: float = _num(0.5, 0.0, 1.0, "律诗: weight of the couplet model in the even lines of the 颔联 and 颈联 "
                           "(0: off)")
    title: bool = _opt(True, "give each poem a title written by the title model (when there is one)")
    occasion: bool = _opt(True, "keywords and theme modes: read a seed that names an occasion (毕业, 祝寿, 春节, 七夕, "
                                "重阳…; couplet/occasions.py) as the classical words a poem for it is written from "
                                "(off: the words as typed)")
    # on: replies written with it were kept 22 to 10 and 19 to 13 (docs/judging/poems-reply-ahead*)
    lookahead: bool = _opt(True, "the char before a placed one (a reply's rhyme, a 嵌字 char) is drawn with the model's "
                                 "probability of the placed char after it (one step of lookahead)")
    # off: before the free rhymes of keyword poems readers kept poems without it 19 to 13, and it costs half
    # again the time (docs/judging/poems-ahead-*)
    rhyme_lookahead: bool = _opt(False, "the same before each free rhyme, with the probability that a char of the "
                                        "poem's open rhyme groups follows")

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- whole couplets
LENGTHS = (5, 16)          # 上联 lengths (Han chars) a request may ask for
LINE_MODES = ("theme", "head")  # what a line of a whole-couplet batch file holds
MAX_COUPLETS = 20


@dataclass
class WholeRequest(_Sampled):
    """One wish; the one home of the whole-couplet defaults (the CLI and the app build on it)."""
    theme: str = field(default="", metadata={"help": "what the couplet is about, e.g. \"中秋 团圆\" or a sentence"})
    head: str = field(default="", metadata={"help": "藏头: 1 char (the 上联's head only), 2 (上联 head, 下联 head) or 4 "
                                                     "(the heads of two clauses in each line; at least 8 characters, so a shorter length "
                                                     "is written at 8), e.g. 福华"})
    length: int = _num(7, *LENGTHS, "characters per line (commas not counted); 8 and up have two clauses")
    n: int = _num(5, 1, MAX_COUPLETS, "number of couplets")
    # 0.6, not 0.8: a blind side-by-side kept the couplets written at 0.6 18 times to 9 (docs/judging)
    temperature: float = _num(0.6, 0.0, 5.0, "sampling temperature of the 上联; 0 = the single most likely")
    top_p: float = _num(0.9, 0.01, 1.0, "nucleus sampling mass of the 上联")
    draws: int = _num(8, 1, 32, "上联 sampled per couplet returned; the best are kept")
    seed: int = _num(0, 0, 2 ** 63 - 1, "random seed")
    theme_weight: float = _num(1.0, 0.0, 10.0, "weight of theme fit when ranking (log-probability gain per char)")
    scorer_weight: float = _num(0.5, 0.0, 10.0, "weight of the N-vs-1 pair scorer when ranking")
    word_bonus: float = _num(2.0, 0.0, 10.0, "ranking: bonus for each theme word the couplet holds whole")
    cover: float = _num(8.0, 0.0, 10.0, "log-probability bonus, in half the 上联 draws, for the next char of a typed word "
                        "the seeds leave out: beside an occasion's (春节 平安: 平安) or past the seed's four chars "
                        "(平安 幸福 健康: 健康); 0 = off")
    hengpi: bool = field(default=True, metadata={"help": "choose a 横批 for each couplet"})
    occasion: bool = field(default=True, metadata={"help": "read a theme that names an occasion (结婚, 开业, 祝寿, "
                                                          "乔迁, 升学, 春节, 教师节, 七夕, 重阳, 添丁, 挽联) as the words its couplets are written with "
                                                          "(couplet/occasions.py); off: the words as typed"})

    @classmethod
    def from_line(cls, line: str, mode: str, **given) -> "WholeRequest":
        """A wish from one line of a batch file: a theme, or (mode head) heads then an optional
        theme after a space; `given`: the other fields."""
        if mode == "head":
            head, _, theme = line.strip().partition(" ")
            return cls(**{**given, "head": head, "theme": theme})
        return cls(**{**given, "head": "", "theme": line})

    def to_dict(self) -> dict:
        return asdict(self)
