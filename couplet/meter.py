"""格律 check of a 绝句 or 律诗 anyone wrote (a user, a student, or this tool): the 平仄 pattern of
regulated verse at the positions it binds (二四六分明), 粘 and 对 between lines, the 平水韵 rhyme,
孤平, 三平尾 and 重字. The pattern, the bound positions and the rhyme are the ones the poem decoder
enforces (`couplet.poemrules`); 孤平, 三平尾 and 重字 are read here only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .poemrules import FORMS, rhyme_groups, split_poem, strict_positions, tone_pattern
from .prosody import EITHER, PING, ZE, Prosody


@dataclass
class Finding:
    kind: str      # 平仄, 失对, 失粘, 出韵, 仄韵, 孤平, 三平尾, 重字
    line: int      # 1-based; 0: the whole poem
    pos: int       # 1-based char; 0: the whole line
    text: str

    @property
    def where(self) -> str:
        return f"line {self.line}" + (f", char {self.pos}" if self.pos else "") if self.line else "poem"


@dataclass
class Meter:
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
        """No finding but 重字 (which classical verse avoids, but does not forbid)."""
        return all(f.kind == "重字" for f in self.findings)


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
                out.append(Finding("平仄", i + 1, j + 1, f"{line[j]} is {t[j]}; the pattern wants {want[j]}"))
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
