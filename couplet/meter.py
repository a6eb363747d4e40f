"""格律 check of a 绝句, a 律诗 or a couplet anyone wrote (a user, a student, or this tool).

Poems: the 平仄 pattern of regulated verse at the positions it binds (二四六分明), 粘 and 对 between
lines, the 平水韵 rhyme, 孤平, 三平尾 and 重字; the two 拗 lines the rules accept (对句相救, 特拗) are
named as such, not as faults. The pattern, the bound positions and the rhyme are the
ones the poem decoder enforces (`couplet.poemrules`); 孤平, 三平尾 and 重字 are read here only.
Couplets: equal length and punctuation, 上仄下平, 平仄相对 at the positions the 下联 decoder binds
(`decode.tone_targets`: the 2nd, 4th, 6th char of each clause and its end), 重字 mirrored and no
char of one line in the other, and 马蹄韵 across clause ends (a convention, named only). Parts of
speech are not checked: jieba's tags of classical lines are too unreliable to judge a person's
couplet by (it reads 天增岁月人增寿 / 春满乾坤福满门 as 14% alike).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .decode import tone_targets
from .poemrules import FORMS, form_of, poem_lines, rhyme_groups, split_poem, strict_positions, tone_pattern
from .prosody import EITHER, PING, ZE, Prosody
from .text import PUNCT, InputError, check_input, is_han


@dataclass
class Finding:
    kind: str      # 平仄, 失对, 失粘, 出韵, 仄韵, 孤平, 三平尾, 重字, 拗救 (a note); couplets 字数, 收尾, 平仄, 重字, 马蹄韵
    line: int      # 1-based (a couplet: 1 上联, 2 下联); 0: the whole poem or couplet
    pos: int       # 1-based char; 0: the whole line
    text: str

    @property
    def where(self) -> str:
        return f"line {self.line}" + (f", char {self.pos}" if self.pos else "") if self.line else "poem"

    @property
    def couplet_where(self) -> str:
        line = {1: "上联", 2: "下联"}.get(self.line, "couplet")
        return line + (f", char {self.pos}" if self.pos else "")


# the findings a rewrite mends, by writing again the chars they name (a whole-line one: the chars that
# decide it); 拗救 is allowed, and 仄韵 is a 古体 poem, not a char to change
MENDED = ("平仄", "失粘", "失对", "出韵", "孤平", "三平尾", "重字")


class _Report:
    """What a poem's and a couplet's check say alike: where a finding is, how many there are."""
    findings: list[Finding]

    def place(self, f: Finding) -> str:
        return f.where

    @property
    def counted(self) -> str:
        n = len(self.findings)
        return f"{n} finding{'s' * (n > 1)}"

    @property
    def summary(self) -> str:
        """regular, regular; N findings (notes only), or N findings."""
        if not self.findings:
            return "regular"
        return f"{'regular; ' if self.regular else ''}{self.counted}"


@dataclass
class Meter(_Report):
    form: str
    lines: list[str]
    tones: list[str]        # each char's tone: 平, 仄, 中 (either reading), ？ (unknown)
    start: str              # 平起 or 仄起: the tone of the first line's second char
    first_rhymes: bool
    pattern: list[str]      # the pattern read against
    rhyme_group: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return (f"{self.form} · {self.start} · first line {'rhymes' if self.first_rhymes else 'does not rhyme'} · "
                f"韵 {self.rhyme_group or '—'}")

    @property
    def regular(self) -> bool:
        """No finding but 重字 (which classical verse avoids, but does not forbid) and 拗救 (an 拗 the
        rules accept)."""
        return all(f.kind in ("重字", "拗救") for f in self.findings)

    @property
    def faults(self) -> list[tuple[int, int]]:
        """(line, char), 0-based: the chars a rewrite writes again to mend the findings; for 孤平 the
        first and third of the line's last five (平 there mends it), for 三平尾 the third from the end."""
        width, out = len(self.lines[0]), set()
        for f in self.findings:
            if f.kind not in MENDED or not f.line:
                continue
            if f.pos:
                out.add((f.line - 1, f.pos - 1))
            elif f.kind == "孤平":
                out |= {(f.line - 1, width - 5), (f.line - 1, width - 3)}
            elif f.kind == "三平尾":
                out.add((f.line - 1, width - 3))
        return sorted(out)

    def rewrite_request(self, **given):
        """A poem request that keeps every char but the faulty ones and writes those again under the
        poem's own pattern, first-line rhyme and rhyme group (`PoemRequest.lock`); None when no
        finding names a char to change. given: other PoemRequest fields (n, seed)."""
        from .requests import PoemRequest
        rows = [list(line) for line in self.lines]
        for i, j in self.faults:
            rows[i][j] = "_"
        if rows == [list(line) for line in self.lines]:
            return None
        lock = "".join("".join(r) + "，。"[k % 2] for k, r in enumerate(rows))
        return PoemRequest(form=self.form, lock=lock, pattern=self.start, first_rhymes=self.first_rhymes,
                           rhyme=self.rhyme_group or "auto", **given)


def check_poem(text: object, prosody: Prosody) -> Meter:
    """The 格律 of a pasted poem; InputError when it is not a 绝句 or 律诗."""
    lines, form = split_poem(text, what="the poem to check")
    n_lines, width = FORMS[form]
    tones = ["".join(prosody.tone(c) or "？" for c in x) for x in lines]
    even = rhyme_groups(lines, prosody, False)
    with_first = rhyme_groups(lines, prosody, True)
    # the first line rhymes where its last char shares the even lines' group (or, with no shared
    # group to go by, where it ends in 平)
    first = bool(with_first) if even else tones[0][-1] == PING
    groups = sorted(with_first if first else even)
    best = None
    for start in ((tones[0][1],) if tones[0][1] in (PING, ZE) else (PING, ZE)):   # 中: the closer reading
        pattern = tone_pattern(form, start, first)
        findings = _findings(lines, tones, pattern, width, prosody, first, bool(groups))
        if best is None or len(findings) < len(best[2]):
            best = (start, pattern, findings)
    start, pattern, findings = best
    findings.sort(key=lambda f: (f.line, f.pos))
    return Meter(form=form, lines=lines, tones=tones, start=start + "起", first_rhymes=first, pattern=pattern,
                 rhyme_group=groups[0].rstrip("平") if groups else None, findings=findings)


def rewrites(meter: Meter, generator, **given) -> list[tuple[str, Meter, set[tuple[int, int]]]]:
    """The poem with its faulty chars written again by `generator` (a `PoemGenerator`): each rewrite,
    its own check and the (line, char) it changed, the most regular first. [] when nothing is faulty.
    given: PoemRequest fields (n, seed)."""
    req = meter.rewrite_request(**given)
    if req is None:
        return []
    out = []
    for poem in generator.generate(req).poems:
        lines = [line.rstrip(PUNCT) for line in poem.lines]
        again = check_poem("，".join(lines), generator.prosody)
        changed = {(i, j) for i, (a, b) in enumerate(zip(meter.lines, lines)) for j in range(len(a)) if a[j] != b[j]}
        out.append(("".join(poem.lines), again, changed))
    return sorted(out, key=lambda r: (not r[1].regular, len(r[1].faults)))


def couplet_rewrites(meter: CoupletMeter, generator, **given) -> list[tuple[str, CoupletMeter, set[int]]]:
    """The 下联 with its faulty chars written again by `generator` (a `CoupletGenerator`, under its
    rules: 平仄, 重字 mirrored, no 上联 char), the rest locked: each (couplet, its check, the 下联
    chars changed), the regular ones first. A swapped pair is answered by the pair swapped. [] when
    nothing is faulty or the lines differ in length. given: Settings fields (n, seed)."""
    from .decode import LOCK_BLANKS
    from .requests import Settings
    if meter.swapped:
        text = f"{meter.lower}\n{meter.upper}"
        return [(text, check_couplet(text, generator.prosody), set(range(len(meter.lower))))]
    faults = meter.faults
    if not faults or any(f.kind == "字数" for f in meter.findings):
        return []
    lock = "".join(LOCK_BLANKS[0] if i in faults else c for i, c in enumerate(meter.lower))
    settings = Settings.for_request(batch=False, **given)
    out = []
    for cand in generator.generate(meter.upper, settings, lock=lock).candidates:
        text = f"{meter.upper}\n{cand.lower}"
        changed = {i for i, (a, b) in enumerate(zip(meter.lower, cand.lower)) if a != b}
        out.append((text, check_couplet(text, generator.prosody), changed))
    return sorted(out, key=lambda r: (not r[1].regular, len(r[1].findings)))


def _findings(lines: list[str], tones: list[str], pattern: list[str], width: int, prosody: Prosody, first: bool,
              rhymes: bool) -> list[Finding]:
    out: list[Finding] = []
    ends = ([0] if first else []) + list(range(1, len(lines), 2))
    # 对 within each couplet, 粘 across them: the second chars' tones
    second = [t[1] for t in tones]
    bound = set()
    for i in range(1, len(lines)):
        a, b = second[i - 1], second[i]
        if a not in (PING, ZE) or b not in (PING, ZE):
            continue
        if i % 2 == 1 and a == b:
            out.append(Finding("失对", i + 1, 2, f"{lines[i][1]} is {b} like {lines[i - 1][1]} above it: the lines of a "
                                                  "couplet oppose their second chars"))
            bound.add(i)
        elif i % 2 == 0 and a != b:
            out.append(Finding("失粘", i + 1, 2, f"{lines[i][1]} is {b}, {lines[i - 1][1]} above it {a}: a couplet's first "
                                                  "line takes the tone of the line before it"))
            bound.add(i)
    for i, (line, t, want) in enumerate(zip(lines, tones, pattern)):
        for j in strict_positions(width):
            if j == 1 and i in bound:    # said once, as 粘 or 对
                continue
            if t[j] not in (want[j], EITHER, "？") and not (i in ends and j == width - 1):
                rescue = _rescued(i, j, lines, tones, pattern)
                out.append(Finding("拗救", i + 1, j + 1, rescue) if rescue else
                           Finding("平仄", i + 1, j + 1, f"{line[j]} is {t[j]}; the pattern wants {want[j]}"))
        core = t[-5:]                    # 孤平: a 平-ending line of the 平平仄仄平 kind with one 平 before its rhyme
        if want[-5:] == "平平仄仄平" and core[:4].count(PING) + core[:4].count(EITHER) <= 1 and core[-1] != ZE:
            out.append(Finding("孤平", i + 1, 0, f"{line[-5:]} has one 平 besides its last char (孤平)"))
        if i in ends and t[-3:] == PING * 3:
            out.append(Finding("三平尾", i + 1, 0, f"{line[-3:]}: three 平 at the end of the line (三平尾)"))
    end_chars = [lines[i][-1] for i in ends]
    if all(tones[i][-1] == ZE for i in ends):
        out.append(Finding("仄韵", 0, 0, f"the rhymes {'、'.join(end_chars)} are 仄: regulated verse rhymes in 平声 "
                                        "(this reads as 古体)"))
    elif not rhymes:
        out += _out_of_rhyme(lines, ends, prosody)
    seen: dict[str, int] = {}
    text = "".join(lines)
    for k, ch in enumerate(text):
        doubled = k > 0 and text[k - 1] == ch and k % width != 0   # 萧萧: a doubled char is one word
        if ch in seen and not doubled and seen[ch] != k - 1:
            out.append(Finding("重字", k // width + 1, k % width + 1, f"{ch} again (first in line {seen[ch] // width + 1})"))
        seen.setdefault(ch, k)
    return out


def _rescued(i: int, j: int, lines: list[str], tones: list[str], pattern: list[str]) -> str | None:
    """Why the wrong tone at char j of line i is an 拗 that regulated verse accepts (王力,《诗词格律》),
    or None. Both sit at the fourth of a line's last five chars: 对句相救, a 仄仄平平仄 line with 仄
    there, its couplet's next line taking 平 at its third (仄仄平仄仄 / 平平平仄平, 野火烧不尽 / 春风吹又生);
    特拗, 平平平仄仄 written 平平仄平仄 with its first char 平 (清新庾开府)."""
    width = len(lines[i])
    c = width - 5                                   # where the last five chars begin (七言: after two)
    if j != c + 3:
        return None
    t, want = tones[i], pattern[i]
    fits = lambda tone, wanted: tone in (wanted, EITHER)   # noqa: E731
    if (want[c:] == "仄仄平平仄" and t[j] == ZE and i % 2 == 0 and i + 1 < len(lines)
            and pattern[i + 1][c:] == "平平仄仄平" and fits(tones[i + 1][c + 2], PING)):
        return (f"{lines[i][j]} is 仄 where the pattern wants 平 (拗), answered by {lines[i + 1][c + 2]} (平) at char "
                f"{c + 3} of the next line (对句相救)")
    if want[c:] == "平平平仄仄" and t[j] == PING and fits(t[c + 2], ZE) and fits(t[c], PING):
        return f"{lines[i][c:]} reads 平平仄平仄 with 平 at its first char: an accepted 拗 (特拗)"
    return None


def _out_of_rhyme(lines: list[str], ends: list[int], prosody: Prosody) -> list[Finding]:
    """出韵: the rhyme chars outside the 平声 group most of them share."""
    def groups(ch: str) -> set[str]:
        return {g for g in prosody.rhymes.get(ch, []) if prosody.groups.get(g) == PING}
    counts: dict[str, int] = {}
    for i in ends:
        for g in groups(lines[i][-1]):
            counts[g] = counts.get(g, 0) + 1
    if not counts:
        return [Finding("出韵", 0, 0, "no rhyme char is in a 平声 group of 平水韵")]
    main = max(sorted(counts), key=counts.get)
    return [Finding("出韵", i + 1, len(lines[i]), f"{lines[i][-1]} is not in {main.rstrip('平')}, the group of the "
                                                  "other rhymes")
            for i in ends if main not in groups(lines[i][-1])] or \
        [Finding("出韵", 0, 0, "a rhyme char repeats")]


# ---------------------------------------------------------------- couplets
# what splits a pasted couplet's 上联 from its 下联 when the user marks it: a line break, a space,
# a tab, ；, | or /
_LINES = re.compile(r"[\s|/；;]+")


@dataclass
class CoupletMeter(_Report):
    upper: str
    lower: str
    tones: list[str]        # each line's tones: 平, 仄, 中 (either reading), ？ (unknown), punctuation as is
    findings: list[Finding] = field(default_factory=list)

    @property
    def heading(self) -> str:
        n = sum(is_han(c) for c in self.upper)
        ends = " · ".join(f"{name} ends in {t.rstrip(PUNCT)[-1:] or '—'}" for name, t in zip(("上联", "下联"), self.tones))
        return f"对联 · {n} 字 · {ends}"

    @property
    def regular(self) -> bool:
        """No finding but 马蹄韵 (a convention of long couplets, not a rule)."""
        return all(f.kind == "马蹄韵" for f in self.findings)

    def place(self, f: Finding) -> str:
        return f.couplet_where

    @property
    def swapped(self) -> bool:
        return any(f.kind == "收尾" and not f.line for f in self.findings)

    @property
    def faults(self) -> list[int]:
        """0-based 下联 chars a rewrite writes again: those a 平仄, 收尾 or 重字 finding names there, and
        under a 上联 repeat the 下联 does not mirror, every place of it (the decoder then mirrors it).
        A 上联 that ends in 平, lines of different length or a swapped pair are not mended by rewriting."""
        out = set()
        for f in self.findings:
            if f.line == 2 and f.pos and f.kind in ("平仄", "收尾", "重字"):
                out.add(f.pos - 1)
            elif f.line == 1 and f.kind == "重字":
                out |= {i for i, c in enumerate(self.upper) if c == self.upper[f.pos - 1]}
        return sorted(out)


def split_couplet(text: object) -> tuple[str, str]:
    """A pasted couplet's 上联 and 下联 (converted as any input is): two parts split by a line break, a
    space, ；, | or /, or else the two halves of its clauses where they mirror (A，B or A，B，C，D);
    labels (上联：) and a 横批 are left out."""
    what = "the couplet to check"
    if not isinstance(text, str):
        raise InputError(f"{what} must be text")
    # what people paste around a couplet, left out: its labels (上联：, 下联：) and its 横批
    text = re.sub(r"(上联|下联)\s*[:：]", " ", re.sub(r"横批\s*[:：]\s*\S*", " ", text))
    parts = [x for x in _LINES.split(text.strip()) if x]
    if len(parts) == 2:
        upper, lower = (check_input(x, max_len=64, what=w, allow_unknown=True).text.rstrip(PUNCT)
                        for x, w in zip(parts, ("the 上联", "the 下联")))
        return upper, lower
    line = check_input(text, max_len=130, what=what, allow_unknown=True).text
    clauses = [x for x in re.split(f"[{PUNCT}]", line) if x]
    k = len(clauses) // 2
    if len(clauses) % 2 or not k or [len(x) for x in clauses[:k]] != [len(x) for x in clauses[k:]]:
        raise InputError(f"{what}: put the 上联 and the 下联 on two lines (or split them by a space or ；); this "
                         f"reads as {len(clauses)} clause{'s' * (len(clauses) != 1)} of {'/'.join(str(len(x)) for x in clauses)} "
                         "characters")
    cut = [m.end() for m in re.finditer(f"[{PUNCT}]+", line)][k - 1]
    return line[:cut].rstrip(PUNCT), line[cut:].rstrip(PUNCT)


def check_couplet(text: object, prosody: Prosody) -> CoupletMeter:
    """The 格律 of a pasted couplet (see `split_couplet`)."""
    upper, lower = split_couplet(text)
    tones = ["".join((prosody.tone(c) or "？") if is_han(c) else c for c in x) for x in (upper, lower)]
    meter = CoupletMeter(upper=upper, lower=lower, tones=tones)
    han_u, han_l = [i for i, c in enumerate(upper) if is_han(c)], [i for i, c in enumerate(lower) if is_han(c)]
    if len(upper) != len(lower) or han_u != han_l or any(a != b for a, b in zip(upper, lower) if not is_han(a)):
        meter.findings.append(Finding("字数", 0, 0, f"the 上联 has {len(han_u)} chars and the 下联 {len(han_l)}, or their "
                                                    "punctuation differs: a couplet's lines match clause by clause"))
        return meter
    meter.findings += _ending(upper, lower, tones, han_u[-1])
    for i, want in enumerate(tone_targets(upper, prosody, "rhythm")):
        t = tones[1][i]
        if want is not None and i != han_u[-1] and t in (PING, ZE) and t != want:
            meter.findings.append(Finding("平仄", 2, i + 1, f"{lower[i]} is {t} like {upper[i]} above it: the 下联 "
                                                            "opposes the 上联's tone at the 2nd, 4th, 6th char of "
                                                            "each clause and at its end"))
    meter.findings += _couplet_repeats(upper, lower, han_u)
    meter.findings += _horse_hoof(upper, lower, tones)
    meter.findings.sort(key=lambda f: (f.line, f.pos))
    return meter


def _horse_hoof(upper: str, lower: str, tones: list[str]) -> list[Finding]:
    """马蹄韵, the convention of couplets of several clauses: read back from the last, the clause
    ends go 仄 平平 仄仄 平平 … in the 上联 (仄平平仄, 平平仄, 平仄) and 平 仄仄 平平 … in the 下联; a
    clause end against it is named (a convention, so the couplet stays regular). The last clause's
    end is 收尾's."""
    out = []
    ends = [i for i, c in enumerate(upper) if is_han(c) and (i + 1 == len(upper) or not is_han(upper[i + 1]))]
    for no, (name, line, t, last) in enumerate((("上联", upper, tones[0], ZE), ("下联", lower, tones[1], PING)), 1):
        other = PING if last == ZE else ZE
        for k, i in enumerate(reversed(ends[:-1])):          # k: clauses back from the one before the last
            want = other if (k // 2) % 2 == 0 else last
            if t[i] in (PING, ZE) and t[i] != want:
                wanted = "".join(other if (j // 2) % 2 == 0 else last for j in reversed(range(len(ends) - 1))) + last
                out.append(Finding("马蹄韵", no, i + 1, f"{line[i]} ends clause {len(ends) - 1 - k} in {t[i]}: the {name}'s "
                                                        f"clause ends go {wanted} (马蹄韵, a convention)"))
    return out


def _ending(upper: str, lower: str, tones: list[str], last: int) -> list[Finding]:
    """收尾: a 上联 ends in 仄 and its 下联 in 平 (上仄下平)."""
    a, b = tones[0][last], tones[1][last]
    if (a, b) == (PING, ZE):
        return [Finding("收尾", 0, 0, f"the 上联 ends in 平 ({upper[last]}) and the 下联 in 仄 ({lower[last]}): a "
                                      "couplet's 上联 ends in 仄 and its 下联 in 平, so these read as swapped")]
    out = []
    if a == PING:
        out.append(Finding("收尾", 1, last + 1, f"{upper[last]} is 平: a 上联 ends in 仄"))
    if b == ZE:
        out.append(Finding("收尾", 2, last + 1, f"{lower[last]} is 仄: a 下联 ends in 平"))
    return out


def _couplet_repeats(upper: str, lower: str, han: list[int]) -> list[Finding]:
    """重字: a char repeated in one line is repeated at the same places in the other, and no char of
    the 下联 is in the 上联 (at the same place, function words such as 之, 不 are tolerated)."""
    out = []
    for name, line, other, no in (("上联", upper, lower, 1), ("下联", lower, upper, 2)):
        for ch in dict.fromkeys(line[i] for i in han):
            at = [i for i in han if line[i] == ch]
            if len(at) > 1 and len({other[i] for i in at}) > 1:
                places = "、".join(str(i + 1) for i in at)
                out.append(Finding("重字", no, at[1] + 1, f"the {name} repeats {ch} (chars {places}); the other line "
                                                        f"has {'、'.join(other[i] for i in at)} there: a repeat is "
                                                        "mirrored"))
    for i in han:
        if lower[i] in upper:
            j = upper.index(lower[i])
            same = " (the same place: tolerated only for function words such as 之、不、而)" if upper[i] == lower[i] else ""
            out.append(Finding("重字", 2, i + 1, f"{lower[i]} is in the 上联 too (char {j + 1}){same}"))
    return out


def check_text(text: object, prosody: Prosody) -> Meter | CoupletMeter:
    """A poem's 格律 when the text is a 绝句 or 律诗, else a couplet's; an InputError that names both
    readings when it is neither."""
    if isinstance(text, str) and form_of(poem_lines(text)) is not None:
        return check_poem(text, prosody)
    try:
        return check_couplet(text, prosody)
    except InputError as e:
        raise InputError(f"{e} (a poem to check is a 五绝, 七绝, 五律 or 七律: 4 or 8 lines of 5 or 7 characters)") from None
