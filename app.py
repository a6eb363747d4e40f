"""Web app: `python app.py` serves the couplet, whole-couplet and poem generators on http://127.0.0.1:7860.

This file only lays out the page and wires it to `couplet.service`; all logic lives in the package.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool

import gradio as gr  # noqa: E402

# the page needs only the requests' defaults and the torch-free service layer; torch and the models
# load once the page is served
from couplet.batch import COUPLET_FORMATS, POEM_FORMATS  # noqa: E402
from couplet.poster import COLORS  # noqa: E402
from couplet.requests import (DEFAULT_CHECKPOINT, DEFAULT_POEM_CHECKPOINT, FORMS, LINE_MODES, MODES,  # noqa: E402
                              PoemRequest, Settings, WholeRequest)
from couplet.service import MAX_UPLOAD, TEMP_TTL_S, Studio, load_models  # noqa: E402

CSS = """
.couplet ruby, .poem ruby { font-size: 1.6em; margin: 0 .08em; ruby-position: over; }
.couplet rt, .poem rt { font-size: .45em; color: #666; }
ruby.ping { color: #1d4ed8; } ruby.ze { color: #b91c1c; } ruby.either { color: #6b21a8; }
ruby.mark { background: #fde68a; border-radius: 4px; }
.label { display: inline-block; width: 4em; color: #555; } .score { margin-left: 1em; color: #888; }
.cand, .upper { margin: .3em 0; } .poem, .whole { margin: 1em 0; } .meta, .poem-head { color: #555; }
.poem .title { font-size: 1.25em; margin: .2em 0; } .hengpi { margin-left: 1em; color: #92400e; }
.hengpi.pending, .line.pending { color: #bbb; }  /* a 横批 still being chosen */
.msg.error { color: #b91c1c; font-weight: 600; } .msg.note { color: #92400e; }
.couplet rt, .poem rt, .legend rt { user-select: none; }  /* copying a line copies its characters only */
.copy { margin-left: .8em; font-size: .85em; cursor: pointer; } .legend { color: #555; font-size: .9em; }
.cand ruby { cursor: pointer; } .mark-key { background: #fde68a; border-radius: 4px; }
.poem .plan { margin-left: 1em; color: #0f766e; font-size: .9em; user-select: none; }
"""
POEM_MODES = list(MODES)
EXAMPLES = ["春回大地千山秀", "一帆风顺年年好", "天增岁月人增寿", "海内存知己，天涯若比邻", "书山有路勤为径"]


def _slider(cls, name: str, label: str, *, high: float | None = None, step: float = 1, **kw) -> gr.Slider:
    """A slider for a request field: its range and default come from the field."""
    f = cls.__dataclass_fields__[name]
    low, top = f.metadata["range"]
    return gr.Slider(low, min(top, high) if high is not None else top, value=f.default, step=step, label=label, **kw)


def _radio(cls, name: str, label: str, **kw) -> gr.Radio:
    """Radio buttons for a request field: its choices and default come from the field."""
    f = cls.__dataclass_fields__[name]
    return gr.Radio(list(f.metadata["choices"]), value=f.default, label=label, **kw)


def _check(cls, name: str, label: str, **kw) -> gr.Checkbox:
    """A checkbox for a request's switch: its default comes from the field."""
    return gr.Checkbox(value=cls.__dataclass_fields__[name].default, label=label, **kw)


def _number(cls, name: str, label: str) -> gr.Number:
    """A whole-number box for a request field (a seed): default and lower bound from the field."""
    f = cls.__dataclass_fields__[name]
    return gr.Number(value=f.default, precision=0, minimum=f.metadata["range"][0], label=label)


def build_app(studio: Studio) -> gr.Blocks:
    with gr.Blocks(title="对联 · 写诗", delete_cache=(TEMP_TTL_S, TEMP_TTL_S)) as demo:
        gr.Markdown("# 对联 · 写诗 — couplets and classical poems with RNNs")
        for err in studio.models.errors.values():  # what did not load; the rest is served
            gr.Markdown(f"**Not available:** {err}")
        with gr.Tab("对联", id="couplet"):
            # the answer sits right under the button; the expert knobs are folded away
            upper = gr.Textbox(label="上联", lines=1, max_lines=3, elem_id="upper")
            with gr.Row():
                go = gr.Button("写下联", variant="primary", elem_id="couplet-go", scale=2)
                n = _slider(Settings, "n", "candidates", high=10, scale=1)
                temperature = _slider(Settings, "temperature", "temperature (0 = beam search)", high=2.0, step=0.05,
                                      scale=1)
            out = gr.HTML(elem_id="couplet-out")
            lock = gr.Textbox(label="Lock and regenerate: 下联 pattern, _ for blanks (e.g. 春_大_万家_); "
                                    "or click a character of a candidate", elem_id="lock")
            gr.Examples(EXAMPLES, inputs=upper)
            with gr.Accordion("advanced", open=False, elem_id="couplet-advanced"):
                with gr.Row():
                    top_k = _slider(Settings, "top_k", "top-k (0: off)", high=100)
                    top_p = _slider(Settings, "top_p", "top-p", step=0.05)
                    seed = _number(Settings, "seed", "seed")
                with gr.Row():
                    beam = gr.Checkbox(value=True, label="beam search (at temperature 0)")
                    tone = _radio(Settings, "tone", "平仄 rule")
                    repeats = _check(Settings, "repeats", "重字 rule (and no 上联 char reused)")
                    punct = _check(Settings, "punctuation", "punctuation in place")
                with gr.Row():
                    rerank = _check(Settings, "rerank", "rerank with the pair scorer (beam)")
                    structure = _slider(Settings, "structure", "词性相对 weight (same part of speech per position; "
                                        "0: off)", high=3.0, step=0.25)
                    align = _slider(Settings, "align", "per-position head weight (0: decoder only)", step=0.05)
                    hengpi = gr.Checkbox(value=True, label="横批 for each candidate")
            inputs = [upper, temperature, top_k, top_p, n, beam, seed, tone, repeats, punct, lock, rerank, structure,
                      align, hengpi]

            def couplet(u, t, k, p, n_, b, s, tn, r, pu, lk, rr, st, al, hp):  # the 下联 first, then their 横批
                yield from studio.couplet_steps(u, temperature=t, top_k=k, top_p=p, n=n_, beam=b, seed=s, tone=tn,
                                                repeats=r, punctuation=pu, lock=lk, rerank=rr, structure=st,
                                                align=al, hengpi=hp)
            # a click while the 横批 of the last request are still coming runs once they are in
            go.click(couplet, inputs, out, api_name="couplet", trigger_mode="always_last")
            upper.submit(couplet, inputs, out, trigger_mode="always_last")
            with gr.Accordion("格律 check of any couplet: 上仄下平, 平仄相对, 重字", open=False, elem_id="couplet-meter"):
                ctext = gr.Textbox(label="a couplet (yours, a classic, or one written above): the 上联 and the 下联 on "
                                         "two lines", lines=2, elem_id="couplet-meter-text")
                with gr.Row():
                    cgo = gr.Button("检查格律", elem_id="couplet-meter-go")
                    cfix = gr.Button("改: write the 下联's faulty chars again", elem_id="couplet-meter-rewrite")
                cout = gr.HTML(elem_id="couplet-meter-out")
            cgo.click(studio.check, ctext, cout, api_name="check_couplet")
            cfix.click(lambda t, n_, s: studio.rewrite(t, n=n_, seed=s), [ctext, n, seed], cout,
                       api_name="rewrite_couplet")

        with gr.Tab("整副对联", id="whole"):
            # a wish in, whole couplets out: a theme, 藏头 heads, or both
            with gr.Row():
                wtheme = gr.Textbox(label="主题 theme (e.g. 中秋 团圆, 新店开张, 羊年)", elem_id="whole-theme", scale=3)
                whead = gr.Textbox(label="藏头 heads: 1 char (上联 only), 2 (one per line) or 4", elem_id="whole-head", scale=2)
            with gr.Row():
                wgo = gr.Button("写对联", variant="primary", elem_id="whole-go", scale=2)
                wlength = _slider(WholeRequest, "length", "characters per line", scale=1)
                wn = _slider(WholeRequest, "n", "couplets", high=10, scale=1)
            wout = gr.HTML(elem_id="whole-out")
            gr.Examples([["羊年春联", ""], ["春节 平安 健康", ""], ["中秋 团圆", ""], ["", "福华"], ["婚礼", "李梅"]],
                        inputs=[wtheme, whead])
            with gr.Accordion("advanced", open=False):
                with gr.Row():
                    wtemp = _slider(WholeRequest, "temperature", "temperature (上联)", high=2.0, step=0.05)
                    wdraws = _slider(WholeRequest, "draws", "上联 drawn per couplet")
                    wfit = _slider(WholeRequest, "theme_weight", "theme-fit weight", high=3.0, step=0.1)
                    wseed = _number(WholeRequest, "seed", "seed")
                    wocc = _check(WholeRequest, "occasion", "read an occasion (结婚, 开业, 祝寿…) as its couplets' words")
            winputs = [wtheme, whead, wlength, wn, wtemp, wdraws, wfit, wseed, wocc]
            with gr.Accordion("春联 picture: edit the lines, then draw", open=False, elem_id="poster"):
                with gr.Row():
                    pup = gr.Textbox(label="上联 (right scroll)", elem_id="poster-upper")
                    plow = gr.Textbox(label="下联 (left scroll)", elem_id="poster-lower")
                    ptop = gr.Textbox(label="横批 (read right to left)", elem_id="poster-hengpi")
                with gr.Row():
                    pcolor = gr.Radio(list(COLORS), value=next(iter(COLORS)), label="characters")
                    pdraw = gr.Button("draw 春联", elem_id="poster-go")
                pimg = gr.Image(type="filepath", label="春联 (PNG, 300 dpi)", elem_id="poster-image")
                pmsg = gr.HTML()
            wouts = [wout, pup, plow, ptop]

            def whole(th, hd, ln, n_, t, d, f, s, o):  # the couplets first, then their 横批
                steps = studio.whole_steps(th, hd, length=ln, n=n_, temperature=t, draws=d, theme_weight=f, seed=s,
                                           occasion=o)
                for k, (page, up, low, top) in enumerate(steps):
                    # once the poster's 上联/下联 boxes are filled, a later step leaves them (and any edit) alone
                    yield (page, up, low, top) if k == 0 else (page, gr.skip(), gr.skip(), top)
            wgo.click(whole, winputs, wouts, api_name="whole", trigger_mode="always_last")
            wtheme.submit(whole, winputs, wouts, trigger_mode="always_last")
            pdraw.click(studio.poster, [pup, plow, ptop, pcolor], [pimg, pmsg], api_name="poster")

        with gr.Tab("写诗", id="poem"):
            with gr.Row():
                with gr.Column(scale=3):
                    text = gr.Textbox(label="seed: keywords, first char, theme, acrostic or 嵌字 chars, or a poem to answer "
                                            "(reply: 次韵, its rhyme characters kept in place)",
                                      elem_id="poem-text")
                    mode = _radio(PoemRequest, "mode", "seed mode", elem_id="poem-mode")
                    form = _radio(PoemRequest, "form", "form", elem_id="poem-form")
                    embed_pos = _slider(PoemRequest, "embed_pos", "嵌字 position")
                    reply_rhyme = _radio(PoemRequest, "reply_rhyme", "reply: 次韵 keeps its rhyme characters, 依韵 "
                                         "its rhyme group (reads more fluently)", elem_id="poem-reply-rhyme")
                    pgo = gr.Button("写诗", variant="primary", elem_id="poem-go")
                with gr.Column(scale=2):
                    rhyme = gr.Dropdown([PoemRequest.rhyme] + studio.rhyme_groups(), value=PoemRequest.rhyme,
                                        label="韵 (平水韵 平声 group, or auto)")
                    pattern = _radio(PoemRequest, "pattern", "平仄 pattern")
                    ptemp = _slider(PoemRequest, "temperature", "temperature", high=2.0, step=0.05)
                    ptop_k = _slider(PoemRequest, "top_k", "top-k (0: off)", high=100)
                    ptop_p = _slider(PoemRequest, "top_p", "top-p", step=0.05)
                    pn = _slider(PoemRequest, "n", "candidates", high=10)
                    pplan = _check(PoemRequest, "plan", "plan: a keyword for each line, shown beside it",
                                   elem_id="poem-plan")
                    pocc = _check(PoemRequest, "occasion", "read an occasion (毕业, 高考, 生日…) as a poem's words")
                    pseed = _number(PoemRequest, "seed", "seed")
            pout = gr.HTML(elem_id="poem-out")
            plock = gr.Textbox(label="Keep and rewrite: the poem with _ for each character to write again (it sets "
                                     "the form; the seed may stay empty); or click characters of a poem to keep them, "
                                     "then 写诗", lines=4, elem_id="poem-lock")
            pinputs = [text, form, mode, embed_pos, reply_rhyme, rhyme, pattern, ptemp, ptop_k, ptop_p, pn, pplan, pocc,
                       pseed, plock]

            def poem(tx, f, m, e, rr, r, pa, t, k, p, n_, pl, oc, s, lk):
                return studio.poem(tx, form=f, mode=m, embed_pos=e, reply_rhyme=rr, rhyme=r, pattern=pa,
                                   temperature=t, top_k=k, top_p=p, n=n_, plan=pl, occasion=oc, seed=s, lock=lk)
            pgo.click(poem, pinputs, pout, api_name="poem")
            with gr.Accordion("格律 check: 平仄, 粘对, rhyme, 孤平 of any 绝句 or 律诗", open=False, elem_id="meter"):
                mtext = gr.Textbox(label="a poem (yours, a classic, or one written above)", lines=4,
                                   elem_id="meter-text")
                with gr.Row():
                    mgo = gr.Button("检查格律", elem_id="meter-go")
                    mfix = gr.Button("改: write the faulty chars again (the rest kept)", elem_id="meter-rewrite")
                mout = gr.HTML(elem_id="meter-out")
            mgo.click(studio.check, mtext, mout, api_name="check")
            mfix.click(lambda t, n_, s: studio.rewrite(t, n=n_, seed=s), [mtext, pn, pseed], mout, api_name="rewrite")
            form.change(lambda f: gr.update(maximum=FORMS[f][1], value=PoemRequest.embed_pos), form, embed_pos)

        with gr.Tab("批量 batch", id="batch"):
            upload = gr.File(label="one 上联 or seed per line (.txt)", file_types=[".txt"], type="filepath")
            with gr.Row():
                kind = gr.Radio(["couplet", "whole", "poem"], value="couplet", label="what to write")
                fmt = gr.Radio(list(COUPLET_FORMATS), value=".jsonl", label="result file")
                bmode = gr.Radio(POEM_MODES, value=PoemRequest.mode, label="seed mode (whole: a theme, or heads then a "
                                 "theme)", visible=False)
                bform = gr.Radio(list(FORMS), value=PoemRequest.form, label="poem form", visible=False)
            kind.change(lambda k: [gr.update(visible=k != "couplet", choices=POEM_MODES if k == "poem" else
                                             list(LINE_MODES), value=PoemRequest.mode if k == "poem" else LINE_MODES[0]),
                                   gr.update(visible=k == "poem"),
                                   gr.update(choices=list(POEM_FORMATS if k != "couplet" else COUPLET_FORMATS),
                                             value=".jsonl")],
                        kind, [bmode, bform, fmt])
            bgo = gr.Button("run", variant="primary")
            result = gr.File(label="result")
            bmsg = gr.HTML()
            def batch(f, k, x, m, fo, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 - gradio's idiom
                return studio.batch(f, kind=k, fmt=x, mode=m, form=fo, progress=True)
            bgo.click(batch, [upload, kind, fmt, bmode, bform], [result, bmsg], api_name="batch")

        with gr.Tab("模型 models", id="models"):
            info = gr.Markdown()  # filled when the page opens: the models may still be loading at start
        demo.load(studio.model_info, None, info)
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the couplet and poem generators in a web page.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on")
    parser.add_argument("--couplet-checkpoint", default=None, help="couplet checkpoint (none: checkpoints/couplet)")
    parser.add_argument("--poem-checkpoint", default=None, help="poem checkpoint (none: checkpoints/poem)")
    parser.add_argument("--whole-checkpoint", default=None, help="whole-couplet checkpoint (none: checkpoints/whole)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests generated at the same time")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = parser.parse_args(argv)
    # the models load once the page is up (or on a first request before that)
    models = load_models(args.couplet_checkpoint, args.poem_checkpoint, args.whole_checkpoint, lazy=True)
    folders = [Path(args.couplet_checkpoint or DEFAULT_CHECKPOINT), Path(args.poem_checkpoint or DEFAULT_POEM_CHECKPOINT)]
    if not any((d / "checkpoint.json").is_file() for d in folders):
        print(f"error: no model to serve: neither {folders[0]} nor {folders[1]} holds a checkpoint.json; train one "
              "with `python train.py couplet ...` or `python train.py poem ...` and export it there, or pass "
              "--couplet-checkpoint / --poem-checkpoint", file=sys.stderr)
        return 2
    demo = build_app(Studio(models))
    demo.queue(default_concurrency_limit=args.concurrency, max_size=256)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS, show_error=False,
                    max_file_size=MAX_UPLOAD, prevent_thread_lock=True)
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port} ({e}); is it taken? choose another with --port",
              file=sys.stderr)
        return 2
    models.warm()
    for err in models.errors.values():
        print(f"warning: {err}", file=sys.stderr)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
