"""Character classes, normalisation and user-input checks shared by prepare and generation."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field, fields
from functools import lru_cache

# Chinese punctuation kept in the data; ASCII punctuation is mapped onto it.
PUNCT = "，。；：！？、"
# other marks a 上联 may hold: around a title or a quotation (读《论语》), an ellipsis or a dash, a name's
# middle dot; the 下联 writes them at the same positions, as it does punctuation
MARKS = "《》〈〉“”‘’「」『』…—·"
LITERALS = PUNCT + MARKS   # what a couplet line may hold beside Han chars, each written back in place
_ASCII_PUNCT = {",": "，", ".": "。", ";": "；", ":": "：", "!": "！", "?": "？"}


class InputError(ValueError):
    """A user-facing problem with an input line; the message says what to fix."""


def is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF
            or 0x20000 <= cp <= 0x2EBEF or 0xF900 <= cp <= 0xFAFF
            or cp == 0x3007)  # 〇, the numeral zero written among Han characters (二〇二六)


def is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or 0xFE00 <= cp <= 0xFE0F
            or cp == 0x200D or unicodedata.category(ch) == "So")


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc  # the OpenCC library; its configs handle phrases, not just single chars
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def normalise_width(text: str) -> str:
    """Full-width letters/digits -> ASCII, ASCII punctuation -> Chinese punctuation."""
    out = []
    for ch in text:
        cp = ord(ch)
        if 0xFF01 <= cp <= 0xFF5E and ch not in PUNCT:
            half = chr(cp - 0xFEE0)
            out.append(_ASCII_PUNCT.get(half, half))
        elif ch == "\u3000":
            out.append(" ")
        else:
            out.append(_ASCII_PUNCT.get(ch, ch))
    return "".join(out)


def clean_corpus_line(line: str) -> str:
    """Normalise a corpus line: drop spaces (couplet-dataset separates chars), fix width, t2s."""
    line = "".join(normalise_width(line).split())
    return to_simplified(line)


def is_clean(line: str) -> bool:
    """True if the line holds only Han characters and Chinese punctuation, at least one Han."""
    return any(is_han(c) for c in line) and all(is_han(c) or c in PUNCT for c in line)


@dataclass
class CheckedInput:
    text: str                                   # the line the model will see
    notes: list[str] = field(default_factory=list)  # what was changed, for the user


def check_input(text: object, *, known: "set[str] | None" = None, max_len: int = 64,
                what: str = "上联", allow_unknown: bool = False, han_only: bool = False) -> CheckedInput:
    """Validate and normalise one user line; raise InputError with a clear message.

    known: the model's characters; an unknown Han char is first mapped to a known variant form, and
    if none exists it is refused, or with allow_unknown kept (the couplet model reads it as <unk>)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what} is empty: type a line of Chinese characters.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} holds an invalid character (a lone surrogate); retype the line.") from None
    controls = sorted({c for c in text if unicodedata.category(c) in ("Cc", "Cf")
                       and c not in "\t\r\n\u200d"})
    if controls:
        names = ", ".join(f"U+{ord(c):04X}" for c in controls)
        raise InputError(f"{what} contains control characters ({names}); remove them.")
    emoji = sorted({c for c in text if is_emoji(c)})
    if emoji:
        raise InputError(f"{what} contains emoji or symbols ({' '.join(emoji)}); use Chinese characters.")
    notes: list[str] = []
    line = "".join(normalise_width(text).split())
    if line.startswith(what + "：") and len(line) > len(what) + 1:   # 上联：春回大地, pasted with its label
        line = line[len(what) + 1:]
        notes.append(f"the label {what}： left out")
    simplified = to_simplified(line)
    if known is not None and len(simplified) == len(line):
        # keep chars the model knows: t2s turns simplified-text chars such as 乾 (乾坤) into 干
        simplified = "".join(o if o in known else s for o, s in zip(line, simplified))
    if simplified != line:
        notes.append(f"traditional characters converted: {line} → {simplified}")
        line = simplified
    if not any(is_han(c) for c in line):
        raise InputError(f"{what} has no Chinese characters: {line[:40]!r}.")
    if len(line) > max_len:
        raise InputError(f"{what} is {len(line)} characters long; the limit is {max_len}.")
    if han_only:
        other = sorted({c for c in line if not (is_han(c) or c in LITERALS)}, key=line.index)
        if other:
            raise InputError(f"{what} holds {' '.join(other)}: a couplet takes Chinese characters and "
                             "punctuation only; write numbers in Chinese characters (2025 → 二〇二五).")
    if known is not None:
        mapped = "".join(c if c in known or not is_han(c) else variant_of(c, known) for c in line)
        if mapped != line:
            notes.append(f"variant characters mapped: {line} → {mapped}")
            line = mapped
        unknown = sorted({c for c in line if is_han(c) and c not in known}, key=line.index)
        if unknown and not allow_unknown:
            raise InputError(f"{what} has characters the model does not know: {' '.join(unknown)}; "
                             "replace them with more common ones.")
        if unknown:
            notes.append(f"read as unknown characters (outside the model's vocabulary): {' '.join(unknown)}")
    return CheckedInput(text=line, notes=notes)


# chars the 2013 通用规范汉字表 put back into standard use (瞭望, 甦醒, 釐定, 蒐集, 束脩, 宫商角徵羽) that
# MediaWiki's table still folds into another char
RESTORED = frozenset("瞭甦釐蒐脩徵")
# variant forms common in the poem data that neither table knows (黄鶑, 慇懃, 堦前)
OTHER_FORMS = {"鶑": "莺", "慇": "殷", "懃": "勤", "堦": "阶", "蘂": "蕊", "椀": "碗", "鬬": "斗", "鬭": "斗"}


def _gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


@lru_cache(maxsize=None)
def standard_form(ch: str) -> str:
    """The standard simplified char of a variant form (劒 → 剑, 鴈 → 雁, 簷 → 檐, 呌 → 叫, 浄 → 净), else ch:
    a char outside GB2312 that MediaWiki's conversion table (zhconv), or OpenCC read as a Japanese
    form, writes as one GB2312 char. OpenCC's t2s, which `prepare` uses, leaves these as they are,
    so the poem data holds both forms."""
    if ch in RESTORED or _gb2312(ch):
        return ch
    if ch in OTHER_FORMS:
        return OTHER_FORMS[ch]
    import zhconv
    for alt in (zhconv.convert(ch, "zh-cn"), to_simplified(_converter("jp2t").convert(ch))):
        if len(alt) == 1 and _gb2312(alt):
            return alt
    return ch


def variant_of(ch: str, known: "set[str]") -> str:
    """A known form of an unknown char: its Taiwan/Hong Kong standard or simplified variant, else itself."""
    for config in ("tw2s", "hk2s", "t2s", "s2t", "s2tw", "s2hk"):
        alt = _converter(config).convert(ch)
        if len(alt) == 1 and alt in known:
            return alt
    return ch


def check_ranges(obj) -> None:
    """Check every dataclass field that declares metadata["range"] = (low, high): a finite number
    (an integer for int fields) within the range. Raise InputError naming the field and the range."""
    for f in fields(obj):
        bounds = f.metadata.get("range")
        if bounds is None:
            continue
        low, high = bounds
        value = getattr(obj, f.name)
        want_int = f.type in (int, "int")
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{flag} must be a number from {low} to {high}, not {value!r}")
        if not math.isfinite(value) or not low <= value <= high or (want_int and value != int(value)):
            kind = "a whole number" if want_int else "a number"
            raise InputError(f"{flag} must be {kind} from {low} to {high}, not {value!r}")
