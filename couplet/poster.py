"""A 春联 picture: two vertical red scrolls and the 横批 across the top, as people hang them.

The 上联 hangs on the right and the 下联 on the left, and the 横批 reads from right to left, the
traditional arrangement that goes with a 上联 on the right. Characters are drawn in a brush-style
楷书 font (Debian's fonts-arphic-ukai) where one is installed, else in any CJK font found (with a
note). Punctuation is not written on scrolls; a line of more than MAX_COLUMN characters wraps into
two columns (read right column first). The PNG is print size (300 dpi).
"""
from __future__ import annotations

import math
from pathlib import Path

from .text import InputError, check_input, is_han

FONTS = ("/usr/share/fonts/truetype/arphic/ukai.ttc",               # 楷书 (fonts-arphic-ukai)
         "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf",
         "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",          # fallbacks: any CJK font
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
         "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
BRUSH = FONTS[:2]
COLORS = {"black": (20, 20, 20), "gold": (255, 205, 60)}
RED, EDGE = (196, 18, 36), (235, 190, 80)
CHAR = 240          # px per character cell (about 2 cm at 300 dpi)
MAX_COLUMN = 11     # characters per scroll column before wrapping into two
MAX_CHARS = 32


def find_font(path: str | None = None) -> tuple[str, list[str]]:
    """The font file to draw with, and a note when it is not a brush-style one."""
    if path:
        if not Path(path).is_file():
            raise InputError(f"font {path} not found")
        return path, []
    for p in FONTS:
        if Path(p).is_file():
            notes = [] if p in BRUSH else [f"no 楷书 font installed (apt-get install fonts-arphic-ukai); drawn with {Path(p).name}"]
            return p, notes
    raise InputError("no CJK font found: install fonts-arphic-ukai (or fonts-wqy-microhei)")


def missing_glyphs(font, text: str) -> list[str]:
    """Chars the font has no glyph for: they would be drawn as the same box as a private-use char."""
    tofu = bytes(font.getmask("\ue000"))
    return [c for c in dict.fromkeys(text) if bytes(font.getmask(c)) == tofu]


def _chars(line: str, what: str) -> str:
    text = check_input(line, max_len=MAX_CHARS + 8, what=what).text
    return "".join(c for c in text if is_han(c))


def render_poster(upper: str, lower: str, hengpi: str = "", *, color: str = "black", font_path: str | None = None):
    """(PIL image, notes) of the 春联. Raises InputError for lines that cannot be drawn."""
    from PIL import Image, ImageDraw, ImageFont
    if color not in COLORS:
        raise InputError(f"color must be one of {', '.join(COLORS)}, not {color!r}")
    up, low = _chars(upper, "上联"), _chars(lower, "下联")
    top = _chars(hengpi, "横批") if hengpi and hengpi.strip() else ""
    if len(up) != len(low):
        raise InputError(f"the 上联 has {len(up)} characters and the 下联 {len(low)}: a couplet's lines are equal")
    if len(up) > MAX_CHARS or len(top) > 8:
        raise InputError(f"at most {MAX_CHARS} characters a line and 8 in the 横批")
    path, notes = find_font(font_path)
    font = ImageFont.truetype(path, int(CHAR * 0.8))
    missing = missing_glyphs(font, up + low + top)
    if missing:
        notes.append(f"the font has no glyph for {''.join(missing)}")
    cols = 1 if len(up) <= MAX_COLUMN else 2
    rows = math.ceil(len(up) / cols)
    pad = CHAR // 4
    scroll_w, scroll_h = cols * CHAR + 2 * pad, rows * CHAR + 2 * pad
    top_h = CHAR + 2 * pad if top else 0
    top_w = max(len(top) * CHAR + 2 * pad, 0)
    gap = max(CHAR, top_w - 2 * scroll_w + CHAR) if top else CHAR
    width = 2 * scroll_w + gap + 2 * CHAR
    height = scroll_h + (top_h + CHAR // 2 if top else 0) + 2 * CHAR
    img = Image.new("RGB", (width, height), (250, 246, 238))
    draw = ImageDraw.Draw(img)
    ink = COLORS[color]

    def paper(x: int, y: int, w: int, h: int) -> None:
        draw.rectangle([x, y, x + w, y + h], fill=RED)
        draw.rectangle([x + pad // 3, y + pad // 3, x + w - pad // 3, y + h - pad // 3], outline=EDGE, width=6)

    def glyph(ch: str, cx: int, cy: int) -> None:
        draw.text((cx, cy), ch, font=font, fill=ink, anchor="mm")

    y0 = CHAR
    if top:
        x = (width - top_w) // 2
        paper(x, y0, top_w, top_h)
        for i, ch in enumerate(reversed(top)):  # right to left
            glyph(ch, x + pad + i * CHAR + CHAR // 2, y0 + top_h // 2)
        y0 += top_h + CHAR // 2
    for line, x in ((up, width - CHAR - scroll_w), (low, CHAR)):
        paper(x, y0, scroll_w, scroll_h)
        for i, ch in enumerate(line):
            col, row = divmod(i, rows)
            cx = x + scroll_w - pad - col * CHAR - CHAR // 2  # the first column on the right
            glyph(ch, cx, y0 + pad + row * CHAR + CHAR // 2)
    return img, notes


def save_poster(path: str | Path, image) -> None:
    """Write the PNG atomically, at 300 dpi."""
    import io

    from .fileio import atomic_write_bytes
    if Path(path).suffix.lower() != ".png":
        raise InputError(f"the poster is a .png file, not {Path(path).name!r}")
    buf = io.BytesIO()
    image.save(buf, format="PNG", dpi=(300, 300))
    atomic_write_bytes(path, buf.getvalue())
