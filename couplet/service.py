"""What the web app calls: the generators behind functions that never raise on bad input.

Every function returns text or HTML for the page. Bad input becomes a short message; all
user text is HTML-escaped before it reaches the page. About 400 lines because it renders all four
tabs (couplets, whole couplets, poems, batch files) and the models' page; no generation logic lives here.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from typing import TYPE_CHECKING

# No torch here (nor in couplet.requests): the page is laid out and served before the models'
# libraries load; the generators are imported when the models load.
from .prosody import EITHER, PING, ZE, Prosody
from .batch import COUPLET_FORMATS, POEM_FORMATS
from .requests import (ALIGN_BY_DEFAULT, DEFAULT_PROSODY, FORMS, RERANK_BY_DEFAULT,
                       STRUCTURE_BY_DEFAULT, TONE_BY_DEFAULT, PoemRequest, Settings, WholeRequest)
from .text import InputError, is_han

if TYPE_CHECKING:
    from .generate import CoupletGenerator
    from .poetry import PoemGenerator
    from .whole import WholeGenerator

MAX_BATCH_LINES = 2000  # per upload; the CLI takes any number
BATCH_SECONDS = 120  # a page batch stops after this long and returns what it has
MAX_UPLOAD = "2mb"  # gradio's max_file_size for uploads
TEMP_TTL_S = 3600  # batch results older than this are removed
TONE_CLASS = {PING: "ping", ZE: "ze", EITHER: "either"}
CORPUS_OF = {"poem": "Tang/Song poems", "whole": "whole couplets (上联 and 下联) seeded by their keywords or heads"}
def legend(marked: str = "locked, rhyme, acrostic or 嵌字 characters, and your keywords where they stand") -> str:
    return ('<div class="legend">tones: <ruby class="ping">平<rt>平</rt></ruby> blue · <ruby class="ze">仄<rt>仄</rt>'
            '</ruby> red · <ruby class="either">中<rt>中</rt></ruby> either; <span class="mark-key">underlaid</span>: '
            f'{marked}</div>')


LEGEND = legend()
# A click on a character of a candidate locks it there (in the lock box) and writes the 下联 again.
LOCK_ON_CLICK = ("var r=event.target.closest('ruby');if(!r)return;var c=this,rs=[...c.querySelectorAll('ruby')],"
                 "i=rs.indexOf(r),low=c.dataset.lower,box=document.querySelector('#lock textarea');"
                 "var cur=box.value.length===low.length?box.value:'_'.repeat(low.length);"
                 "box.value=cur.slice(0,i)+low[i]+cur.slice(i+1);box.dispatchEvent(new Event('input',{bubbles:true}));"
                 "setTimeout(function(){document.querySelector('#couplet-go').click()},100);")
# A click on a character of a poem locks it (or frees it again) in the poem's lock box, in the poem's
# shape; the poem is written again when asked, so that several characters or lines can be kept first.
POEM_LOCK_ON_CLICK = ("var r=event.target.closest('ruby'),l=r&&r.closest('.line');if(!l)return;"
                      "var ls=[...this.querySelectorAll('.line')],li=ls.indexOf(l),ci=[...l.querySelectorAll('ruby')]"
                      ".indexOf(r),lines=this.dataset.lines.split('|'),w=lines[0].length-1;if(ci>=w)return;"
                      "var box=document.querySelector('#poem-lock textarea'),cur=box.value.split('\\n');"
                      "if(cur.length!==lines.length||!cur.every(function(x,k){return x.length===lines[k].length}))"
                      "cur=lines.map(function(x){return '_'.repeat(w)+x.slice(-1)});"
                      "var ch=lines[li][ci],row=cur[li];cur[li]=row.slice(0,ci)+(row[ci]===ch?'_':ch)+row.slice(ci+1);"
                      "box.value=cur.join('\\n');box.dispatchEvent(new Event('input',{bubbles:true}));")
COPY_ON_CLICK = ("event.stopPropagation();navigator.clipboard&&navigator.clipboard.writeText("
                 "this.parentElement.dataset.lower);this.textContent='已复制';")


def _corpus(name: str, meta: dict) -> str:
    """What a model was trained on, for the models tab: the couplet model's sources, the poems'
    dynasty weights when it had some."""
    from .corpus import DYNASTIES
    from .tasks import parse_sources
    sources = meta.get("train_config", {}).get("sources", "")
    if name == "couplet":
        return sources or "couplets"
    if name == "poem" and any(d in parse_sources(sources) for d in DYNASTIES):
        return f"{CORPUS_OF[name]}, weighted by dynasty ({sources})"
    return CORPUS_OF[name]


def _as_field(cls, name: str, value):
    """A page value as the request field's type (sliders give floats, numbers may be None)."""
    from dataclasses import fields
    f = {f.name: f for f in fields(cls)}[name]
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if value is None or value == "":
        return f.default  # a cleared box keeps the field's default
    return int(value) if kind == "int" else float(value) if kind == "float" else value


def message(text: str, kind: str = "error") -> str:
    return f'<div class="msg {kind}">{html.escape(text)}</div>'


def friendly(fn=None, *, file_out: bool = False, outputs: int = 1):
    """A page handler never raises: bad values become a message, anything else a logged error.
    file_out: the handler returns (file, message), so a failure returns (None, message);
    outputs > 1: it returns (html, ...), so a failure returns (message, None, ...)."""
    if fn is None:
        return functools.partial(friendly, file_out=file_out, outputs=outputs)

    def failure(e: Exception):
        if isinstance(e, (InputError, ValueError, TypeError, OverflowError)):
            out = message(f"bad request: {e}")
        else:  # the page must answer; the log keeps the traceback
            logging.getLogger("couplet").error("request failed", exc_info=e)
            out = message("something went wrong on the server; the error was logged")
        if file_out:
            return None, out
        return (out,) + (None,) * (outputs - 1) if outputs > 1 else out

    if inspect.isgeneratorfunction(fn):  # a page shown in steps: a failure is its last step
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                yield failure(e)
        return steps

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            return failure(e)
    return wrapper


def remove_old_results(root: str | Path | None = None, ttl: float = TEMP_TTL_S) -> int:
    """Delete page batch folders older than ttl seconds; return how many were removed."""
    root = Path(root or tempfile.gettempdir())
    removed = 0
    for d in root.glob("couplet-batch-*"):
        try:
            if time.time() - d.stat().st_mtime > ttl:
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def annotate(line: str, tone_of, marks: set[int] = frozenset()) -> str:
    """A line as ruby-annotated HTML: each char with its 平/仄 above it; marked chars underlined."""
    out = []
    for i, ch in enumerate(line):
        tone = tone_of(ch) if is_han(ch) else None
        cls = TONE_CLASS.get(tone, "none") + (" mark" if i in marks else "")
        out.append(f'<ruby class="{cls}">{html.escape(ch)}<rt>{html.escape(tone or "")}</rt></ruby>')
    return "".join(out)


_HOW_TO_TRAIN = {
    "couplet": "Train one with `python train.py couplet ...` and export it to checkpoints/couplet, or pass "
               "--couplet-checkpoint.",
    "poem": "Train one with `python train.py poem ...` and export it to checkpoints/poem, or pass --poem-checkpoint.",
    "whole": "Train one with `python train.py whole ...` and export it to checkpoints/whole.",
}


def _load_errors() -> tuple[type[Exception], ...]:
    from .checkpoint import CheckpointError
    return CheckpointError, OSError, ValueError, KeyError


class Loaded:
    """The generators. Those given as loaders are loaded on first use or by `warm()`, so the page can
    be served before them; a model that does not load becomes a message in `errors`."""

    def __init__(self, couplet: CoupletGenerator | None, poem: PoemGenerator | None, errors: dict[str, str],
                 whole: WholeGenerator | None = None, *, loaders: dict | None = None):
        self._models = {"couplet": couplet, "poem": poem, "whole": whole}
        self.errors = errors
        self._loaders = dict(loaders or {})
        self._lock = threading.RLock()  # a loader may ask for another model (whole needs couplet)

    def get(self, name: str):
        with self._lock:
            loader = self._loaders.pop(name, None)
            if loader is not None:
                try:
                    self._models[name] = loader()
                except _load_errors() as e:
                    self.errors[name] = f"{name} model not loaded: {e}. {_HOW_TO_TRAIN[name]}"
            return self._models[name]

    couplet = property(lambda self: self.get("couplet"))
    poem = property(lambda self: self.get("poem"))
    whole = property(lambda self: self.get("whole"))

    def warm(self) -> None:
        """Load every model still waiting (the app calls it once the page is up), and the 横批
        phrases' seed vectors that a wish's theme is matched against."""
        for name in list(self._loaders):
            self.get(name)
        whole = self._models["whole"]
        if whole is not None and whole.hengpi:
            whole.hengpi.vectors()


def load_models(couplet_checkpoint: str | None = None, poem_checkpoint: str | None = None,
                whole_checkpoint: str | None = None, *, lazy: bool = False) -> Loaded:
    """The generators; a missing or broken checkpoint becomes a message, not a crash. lazy: each is
    loaded on first use or by `warm()` (the app serves its page first), else all of them now."""
    models: Loaded

    def couplet():
        from .generate import CoupletGenerator
        return CoupletGenerator.load(couplet_checkpoint)

    def poem():
        from .poetry import PoemGenerator
        return PoemGenerator.load(poem_checkpoint)

    def whole():
        from .checkpoint import CheckpointError
        from .whole import WholeGenerator
        if models.couplet is None:
            raise CheckpointError("it writes its 下联 with the couplet model, which did not load")
        return WholeGenerator.load(whole_checkpoint, couplets=models.couplet)
    models = Loaded(None, None, {}, loaders={"couplet": couplet, "poem": poem, "whole": whole})
    if not lazy:
        models.warm()
    return models


class Studio:
    def __init__(self, models: Loaded):
        self.models = models

    # ------------------------------------------------------------ couplets
    def couplet(self, upper: str, **values) -> str:
        """The 下联 page as HTML, 横批 and all (the last of `couplet_steps`)."""
        *_, page = self.couplet_steps(upper, **values)
        return page

    @friendly
    def couplet_steps(self, upper: str, *, beam: bool = True, lock: str = "", hengpi: bool = True, **values):
        """下联 candidates as HTML, in two steps when there are 横批 to choose: the candidates as soon as
        they are written (their 横批 marked as coming), then with the 横批, which take most of the time.
        values are Settings fields, beam the page's beam-search box (see `Settings.for_request`); the
        page's 重字 box also keeps 上联 chars out (no_copy); hengpi: a 横批 for each candidate (from the
        whole-couplet model, when it loads)."""
        gen = self.models.couplet
        if gen is None:
            yield message(self.models.errors["couplet"])
            return
        # the page's values go through Settings.check like the CLI's (a bad one is a message)
        given = {k: _as_field(Settings, k, v) for k, v in values.items()}
        if "repeats" in given:
            given.setdefault("no_copy", given["repeats"])
        settings = Settings.for_request(batch=False, beam_search=bool(beam), **given)
        try:
            res = gen.generate(upper, settings, lock=lock.strip() or None if isinstance(lock, str) else None)
        except InputError as e:
            yield message(str(e))
            return
        locked = {i for i, ch in enumerate("".join(lock.split()) if isinstance(lock, str) else "") if is_han(ch)}
        whole = self.models.whole if hengpi and res.candidates else None
        if whole is not None and whole.hengpi:
            yield self._couplet_page(res, gen.prosody.tone, locked, pending=True)
            yield self._couplet_page(res, gen.prosody.tone, locked,
                                     whole.hengpi.for_page([(res.upper, c.lower) for c in res.candidates]))
        else:
            yield self._couplet_page(res, gen.prosody.tone, locked)

    @staticmethod
    def _couplet_page(res, tone_of, locked: set[int], tops: list | None = None, pending: bool = False) -> str:
        """The page; tops: each candidate's 横批 (None: none), pending: 横批 marked as coming."""
        rows = [f'<div class="upper"><span class="label">上联</span>{annotate(res.upper, tone_of)}</div>']
        for i, (c, top) in enumerate(zip(res.candidates, tops or [None] * len(res.candidates)), 1):
            scorer = f" · scorer {c.scorer:.2f}" if c.scorer is not None else ""
            scorer += f" · 词性 {100 * c.structure:.0f}%" if c.structure is not None else ""
            top_html = ('<span class="hengpi pending">横批 …</span>' if pending else
                        f'<span class="hengpi">横批 {html.escape(top)}</span>' if top else "")
            rows.append(f'<div class="cand" data-lower="{html.escape(c.lower)}" onclick="{html.escape(LOCK_ON_CLICK)}">'
                        f'<span class="label">下联{i}</span>{annotate(c.lower, tone_of, locked)}'
                        f'<span class="score">{c.score:.2f}{scorer}</span>{top_html}'
                        f'<button class="copy" onclick="{html.escape(COPY_ON_CLICK)}">复制</button></div>')
        notes = "".join(message(x, "note") for x in res.notes)
        return f'<div class="couplet">{"".join(rows)}{notes}{LEGEND}</div>'

    # ------------------------------------------------------------ poems
    @friendly
    def poem(self, text: str, **values) -> str:
        """Poems for a seed as HTML; values are PoemRequest fields (checked there)."""
        gen = self.models.poem
        if gen is None:
            return message(self.models.errors["poem"])
        req = PoemRequest(text=text or "", **{k: _as_field(PoemRequest, k, v) for k, v in values.items()})
        try:
            res = gen.generate(req)
        except InputError as e:
            return message(str(e))
        from .poemrules import first_line_rhymes, rhyme_lines
        from .poetry import BLANKS, has_lock
        req = res.request   # as written: a reply or a lock sets the form
        n_lines, width = FORMS[req.form]
        rhyme_at = set(rhyme_lines(n_lines, first_line_rhymes(req.form, req.first_rhymes)))
        head = f"seed {html.escape(res.seed)}"
        if req.mode in ("theme", "reply") or not req.text.strip():
            head += f" · keywords (jieba): {html.escape(' '.join(res.keywords))}"
        if res.plan:
            head += f" · plan: {html.escape(' → '.join(dict.fromkeys(res.plan)))}"
        parts = [f'<div class="poem-head">{head}</div>']
        kept = gen.locked(req.lock)[0] if has_lock(req) else []
        typed = res.keywords if req.mode == "keywords" and req.text.strip() else []
        for k, p in enumerate(res.poems, 1):
            lines = []
            for i, line in enumerate(p.lines):
                marks = {width - 1} if i in rhyme_at else set()
                marks |= {j + d for w in typed for j in range(len(line)) if line.startswith(w, j) for d in range(len(w))}
                if req.mode in ("acrostic", "embed"):  # the characters the user placed
                    marks.add(0 if req.mode == "acrostic" else req.embed_pos - 1)
                marks |= {j for j, c in enumerate(kept[i] if kept else "") if c not in BLANKS}
                plan = f'<span class="plan">{html.escape(res.plan[i])}</span>' if res.plan else ""
                lines.append(f'<div class="line">{annotate(line, gen.prosody.tone, marks)}{plan}</div>')
            copied = f" · copied lines {p.copied_lines}" if p.copied_lines else ""
            title = f'<div class="title">《{html.escape(p.title)}》</div>' if p.title else ""
            parts.append(f'<div class="poem" data-lines="{html.escape("|".join(p.lines))}" '
                         f'onclick="{html.escape(POEM_LOCK_ON_CLICK)}">'
                         f'<div class="meta">[{k}] 韵 {html.escape(p.rhyme_group or "—")} · score {p.score:.2f}'
                         f'{html.escape(copied)}</div>{title}{"".join(lines)}</div>')
        parts += [message(x, "note") for x in res.notes]
        return "".join(parts) + LEGEND

    # ------------------------------------------------------------ 格律 check
    @friendly
    def check(self, text: str) -> str:
        """The 格律 of a pasted poem or couplet as HTML: each line with its tones, the chars a finding
        names underlaid (a poem's pattern beside each line), then the findings."""
        from .meter import check_text
        try:
            meter = check_text(text or "", self._prosody())
        except InputError as e:
            return message(str(e))
        return self._meter_html(meter) + legend("the chars a finding names")

    @friendly
    def rewrite(self, text: str, **given) -> str:
        """A pasted poem's or couplet's check, then `n` rewrites of its faulty chars (the rest kept: a poem's
        by the poem model, `meter.rewrites`; a couplet's 下联 chars by the couplet model,
        `meter.couplet_rewrites`), each with its own check, the chars it changed underlaid. given: n and seed,
        as the request types check them."""
        from .meter import Meter, check_text, couplet_rewrites, rewrites
        try:
            meter = check_text(text or "", self._prosody())
        except InputError as e:
            return message(str(e))
        poem = isinstance(meter, Meter)
        gen = self.models.poem if poem else self.models.couplet
        if gen is None:
            return message(self.models.errors["poem" if poem else "couplet"])
        try:
            given = {k: int(v) for k, v in given.items() if v is not None}
            found = (rewrites(meter, gen, **given) if poem else
                     [(t, m, {(1, j) for j in ch}) for t, m, ch in couplet_rewrites(meter, gen, **given)])
        except InputError as e:
            return message(str(e))
        rows = [self._meter_html(meter)]
        if not found:
            rows.append(message("nothing to rewrite: no finding names a char to change" + (
                "" if poem else " in the 下联 (a 上联 ending in 平 or lines of different length are the writer's to mend)"),
                "note"))
        for k, (_, again, changed) in enumerate(found, 1):
            state = "regular" if again.regular else "; ".join(f"{f.kind} · {again.place(f)}" for f in again.findings)
            lines = again.lines if poem else [again.upper, again.lower]
            if not poem and meter.swapped:
                changed = set()
            body = "".join(f'<div class="line">{annotate(line, gen.prosody.tone, {j for i2, j in changed if i2 == i})}'
                           "</div>" for i, line in enumerate(lines))
            rows.append(f'<div class="poem rewrite"><div class="poem-head">rewrite {k} · {html.escape(state)}</div>'
                        f"{body}</div>")
        return "".join(rows) + legend("the chars a finding names; in a rewrite, the chars it wrote again")

    def _prosody(self) -> Prosody:
        gen = self.models.poem
        return gen.prosody if gen is not None else Prosody.load(DEFAULT_PROSODY)

    def _meter_html(self, meter) -> str:
        from .meter import Meter
        prosody = self._prosody()
        poem = isinstance(meter, Meter)
        lines = meter.lines if poem else [meter.upper, meter.lower]
        besides = [f"pattern {p}" for p in meter.pattern] if poem else ["上联", "下联"]
        rows = [f'<div class="poem-head">{html.escape(meter.heading)}</div>']
        for i, (line, beside) in enumerate(zip(lines, besides), 1):
            marks = {k for f in meter.findings if f.line == i
                     for k in ((f.pos - 1,) if f.pos else range(len(line)))}   # a whole-line finding: the line
            rows.append(f'<div class="line">{annotate(line, prosody.tone, marks)}'
                        f'<span class="plan">{html.escape(beside)}</span></div>')
        found = "".join(f"<li>{html.escape(f.kind)} · {meter.place(f)}: {html.escape(f.text)}</li>" for f in meter.findings)
        if found and meter.regular:
            rows.append(message("regular: what is named below is allowed (an accepted 拗, a repeat, a convention)",
                                "note"))
        rows.append(f'<ul class="findings">{found}</ul>' if found else message("regular: no finding", "note"))
        return f'<div class="poem meter">{"".join(rows)}</div>'

    # ------------------------------------------------------------ whole couplets
    def whole(self, theme: str = "", head: str = "", **values) -> str:
        """Whole couplets for a wish as HTML; values are WholeRequest fields (checked there)."""
        return self.whole_page(theme, head, **values)[0]

    def whole_page(self, theme: str = "", head: str = "", **values) -> tuple[str, str | None, str | None, str | None]:
        """(HTML, the first couplet's 上联, 下联 and 横批) for the page (the last of `whole_steps`)."""
        *_, page = self.whole_steps(theme, head, **values)
        return page

    @friendly(outputs=4)
    def whole_steps(self, theme: str = "", head: str = "", **values):
        """(HTML, the first couplet's 上联, 下联 and 横批), the lines filling the poster boxes: the couplets
        as soon as they are written, their 横批 marked as coming, then with the 横批."""
        gen = self.models.whole
        if gen is None:
            yield message(self.models.errors["whole"]), None, None, None
            return
        req = WholeRequest(theme=theme or "", head=head or "", **{k: _as_field(WholeRequest, k, v)
                                                                  for k, v in values.items()})
        try:
            res = gen.generate(replace(req, hengpi=False))
        except InputError as e:
            yield message(str(e)), None, None, None
            return
        if req.hengpi and gen.hengpi and res.couplets:
            yield self._whole_page(res, req, gen.couplets.prosody.tone, pending=True)
            gen.add_hengpi(res)
        yield self._whole_page(res, req, gen.couplets.prosody.tone)

    @staticmethod
    def _whole_page(res, req: WholeRequest, tone_of, pending: bool = False) -> tuple:
        heads = req.head.strip()
        from .whole import layout_text
        starts = layout_text(res.layout) if len(heads) == 4 else [0]
        marks = set(starts) if heads else set()
        lower_marks = marks if len(heads) > 1 else set()
        head = " · ".join(x for x in (f"藏头 {html.escape(heads)}" if heads else "",
                                      f"keywords: {html.escape(' '.join(res.keywords))}" if res.keywords else "",
                                      res.size) if x)
        parts = [f'<div class="poem-head">{head}</div>']
        for k, c in enumerate(res.couplets, 1):
            fit = f" · theme +{c.theme_fit:.2f}" if c.theme_fit is not None else ""
            top = ('<div class="line pending"><span class="label">横批</span>…</div>' if pending else
                   f'<div class="line"><span class="label">横批</span>{annotate(c.hengpi, tone_of)}</div>'
                   if c.hengpi else "")
            both = html.escape(c.upper + "\n" + c.lower)
            parts.append(f'<div class="whole" data-lower="{both}"><div class="meta">[{k}] score {c.score:.2f}{fit}'
                         f'<button class="copy" onclick="{html.escape(COPY_ON_CLICK)}">复制</button></div>'
                         f'<div class="line"><span class="label">上联</span>{annotate(c.upper, tone_of, marks)}</div>'
                         f'<div class="line"><span class="label">下联</span>{annotate(c.lower, tone_of, lower_marks)}</div>'
                         f'{top}</div>')
        parts += [message(x, "note") for x in res.notes]
        first = res.couplets[0] if res.couplets else None
        return (f'<div class="couplet">{"".join(parts)}{LEGEND}</div>', first and first.upper, first and first.lower,
                first and first.hengpi)

    # ------------------------------------------------------------ the 春联 picture
    @friendly(file_out=True)
    def poster(self, upper: str, lower: str, hengpi: str = "", color: str = "black") -> tuple[str | None, str]:
        """(PNG path, message) of the couplet drawn as 春联, from the (edited) lines."""
        from .poster import render_poster, save_poster
        try:
            image, notes = render_poster(upper or "", lower or "", hengpi or "", color=color or "black")
        except InputError as e:
            return None, message(str(e))
        remove_old_results()
        path = Path(tempfile.mkdtemp(prefix="couplet-batch-")) / "chunlian.png"
        save_poster(path, image)
        text = f"{image.size[0]} × {image.size[1]} px at 300 dpi"
        return str(path), message("; ".join([text] + notes), "note")

    # ------------------------------------------------------------ batch
    @friendly(file_out=True)
    def batch(self, file_path: str | None, *, kind: str = "couplet", fmt: str = ".jsonl", mode: str = PoemRequest.mode,
              form: str = PoemRequest.form, seed: int = Settings.seed, progress: bool = False
              ) -> tuple[str | None, str]:
        """progress: show a tqdm bar (the page tracks it with gr.Progress)."""
        from .batch import requests_fingerprint, run_batch, run_poem_batch
        if not file_path:
            return None, message("upload a .txt file with one 上联 or seed per line")
        from .batch import read_lines
        try:
            lines = read_lines(file_path)
        except (UnicodeDecodeError, OSError):
            return None, message("the file is not UTF-8 text")
        remove_old_results()
        deadline = time.monotonic() + BATCH_SECONDS
        if len(lines) > MAX_BATCH_LINES:
            return None, message(f"the file has {len(lines)} lines; the page takes at most {MAX_BATCH_LINES} "
                                 "(use `python -m couplet ... --input` for more)")
        out = Path(tempfile.mkdtemp(prefix="couplet-batch-")) / f"{kind}s{fmt}"
        warnings: list[str] = []
        if kind == "couplet":
            if self.models.couplet is None:
                return None, message(self.models.errors["couplet"])
            if fmt not in COUPLET_FORMATS:
                return None, message(f"couplet results can be {', '.join(COUPLET_FORMATS)}")
            settings = Settings.for_request(batch=True, seed=int(seed or 0))
            counts = run_batch(self.models.couplet, file_path, out, settings,
                               checkpoint=self.models.couplet.identity, warn=warnings.append, progress=progress,
                               deadline=deadline)
        elif kind == "whole":
            if self.models.whole is None:
                return None, message(self.models.errors["whole"])
            if fmt not in POEM_FORMATS:
                return None, message(f"whole-couplet results can be {' or '.join(POEM_FORMATS)}")
            from .batch import format_wholes
            reqs = [WholeRequest.from_line(t, mode, n=1, seed=int(seed or 0)) for t in lines]
            counts = run_poem_batch(self.models.whole, reqs, lines, out,
                                    fingerprint=requests_fingerprint(self.models.whole, reqs),
                                    warn=warnings.append, progress=progress, deadline=deadline,
                                    formatter=format_wholes, what="couplets")
        else:
            if self.models.poem is None:
                return None, message(self.models.errors["poem"])
            if fmt not in POEM_FORMATS:
                return None, message(f"poem results can be {' or '.join(POEM_FORMATS)}")
            reqs = [PoemRequest(form=form, mode=mode, text=t, n=1, seed=int(seed or 0)) for t in lines]
            counts = run_poem_batch(self.models.poem, reqs, lines, out,
                                    fingerprint=requests_fingerprint(self.models.poem, reqs),
                                    warn=warnings.append, progress=progress, deadline=deadline)
        text = f"{counts['ok']} done, {counts['bad']} bad line{'' if counts['bad'] == 1 else 's'}"
        if warnings:
            text += ": " + "; ".join(w.rstrip(".") for w in warnings[:5]) + (" …" if len(warnings) > 5 else "")
        return str(out), message(text, "note")

    @staticmethod
    def rhyme_groups(prosody: str | Path = DEFAULT_PROSODY) -> list[str]:
        """The 平声 groups of 平水韵 in their order (一东 … 十五咸), for the rhyme menu, read from the
        shipped tone table (no model needed); none if it cannot be read."""
        try:
            table = Prosody.load(prosody)
        except (OSError, ValueError, KeyError):
            return []
        return [g.rstrip("平") for g, t in table.groups.items() if t == PING]

    # ------------------------------------------------------------ models
    def model_info(self) -> str:
        rows = []
        try:
            scorer = self.models.couplet.scorer if self.models.couplet is not None else None
        except InputError as e:
            scorer, rows = None, [f"**scorer**: {e}"]
        if scorer is not None:
            rows.append(f"**scorer** (N vs 1, reranks 下联 candidates): {scorer[0].cfg.cell}, hidden "
                        f"{scorer[0].cfg.hidden}, {sum(p.numel() for p in scorer[0].parameters()):,} parameters; "
                        f"{'on' if RERANK_BY_DEFAULT else 'off'} by default")
        for name, gen in (("couplet", self.models.couplet), ("poem", self.models.poem), ("whole", self.models.whole)):
            if gen is None:
                rows.append(f"**{name}**: {self.models.errors[name]}")
                continue
            cfg, meta = gen.model.cfg, gen.meta
            arch = meta.get("train_config", {}).get("arch", cfg.cell)
            best = (meta.get("record") or {}).get("best") or {}
            head = ", with the per-position head" if getattr(cfg, "aligned_head", False) else ""
            stage = "fine-tuned from an earlier run for" if meta.get("train_config", {}).get("init_from") else "trained"
            rows.append(f"**{name}**: {arch} ({cfg.cell}, hidden {cfg.hidden}, embedding {cfg.emb_dim}, "
                        f"{cfg.layers} layer(s){head}), {meta.get('parameters', 0):,} parameters, vocabulary "
                        f"{len(gen.vocab):,}; {stage} {best.get('epoch', '?')} epochs on "
                        + _corpus(name, meta) +
                        f"; best validation {best.get('metric', 'ppl')} {best.get('value', float('nan')):.1f}")
        rows.append(f"**couplet decoding defaults**: 平仄 rule {TONE_BY_DEFAULT}, 词性相对 weight "
                    f"{STRUCTURE_BY_DEFAULT:g}, per-position head weight {ALIGN_BY_DEFAULT:g} (models that have one)")
        return "\n\n".join(rows)
