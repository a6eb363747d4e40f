"""`python -m couplet bench`: speed and memory on this machine, fast path beside the naive one.

Every latency is measured after warm-up over repeated runs (median and p95). The naive figures
come from the reference decoders in the same run (the whole model rerun over the prefix at every
step, one item at a time), so each speed-up is a ratio measured side by side.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import NamedTuple

import torch

from .decode import HEAD_PER_STEP_ROWS, decode
from .reference import CoupletRerun, PoemRerun, beam_search_naive
from .generate import REPO_ROOT, CoupletGenerator, Settings
from .model import (BATCH_DECODER_LINES, CoupletModel, ModelConfig, as_function, is_bf16, is_quantized, native_bf16,
                    shift_right)
from .poetry import FORMS, PoemGenerator, PoemRequest, sample_poems, seed_batch
from .tasks import projected_cross_entropy, seq_cross_entropy
from .trainer import bf16_autocast

UPPER7, UPPER20 = "春回大地千山秀", "绿水青山皆是画，风调雨顺，国泰民安家业兴"


def timed(fn, *, warmup: int, repeat: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return {"p50": statistics.median(ts), "p95": ts[min(len(ts) - 1, int(0.95 * len(ts)))]}


def _naive_couplet(gen: CoupletGenerator, upper: str, s: Settings):
    plan, _ = gen.plan(upper, s)
    if s.beam:
        return beam_search_naive(gen.model, plan, beam=s.beam, align=s.align)
    return decode(CoupletRerun(gen.model, [plan], s.align), [plan], s.sampler(torch.Generator().manual_seed(0)),
                  repeats=s.repeats)


def _naive_poem(gen: PoemGenerator, req: PoemRequest):
    seed, _, plan, _ = gen.plan(req)
    ids = seed_batch(gen.vocab, [seed], gen.model.cfg.max_seed)
    return sample_poems(PoemRerun(gen.model, ids), plan, gen.tables, rows=1,
                        sampler=req.sampler(torch.Generator().manual_seed(0)))


def train_speed(device: str, *, steps: int = 10, amp: bool = True) -> dict[str, float]:
    """chars/s of the training step for a fixed config (vocab 6000, emb 192, hidden 320, BiGRU,
    batch 128 x 7 chars); on CUDA also a bare fused-cuDNN loop with the same shapes."""
    torch.manual_seed(0)
    dev = torch.device(device)
    v, b, n = 6000, 128, 7
    model = CoupletModel(ModelConfig(vocab_size=v, emb_dim=192, hidden=320)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    src, tgt = torch.randint(3, v, (b, n), device=dev), torch.randint(3, v, (b, n), device=dev)
    use_amp = amp and bf16_autocast(dev)

    def step():   # the loss as training computes it, the output layer inside it
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = projected_cross_entropy(model, model(src, shift_right(tgt, 2), features=True), tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def rate(fn) -> float:
        for _ in range(3):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return b * n * steps / (time.perf_counter() - t0)

    out = {"train_chars_per_s": rate(step)}
    if dev.type == "cuda":  # the bare loop: the same layers called directly, no rules, no wrappers
        emb = torch.nn.Embedding(v, 192).to(dev)
        enc = torch.nn.GRU(192, 320, batch_first=True, bidirectional=True).to(dev)
        dec = torch.nn.GRU(192 + 320, 320, batch_first=True).to(dev)
        proj = torch.nn.Linear(640, 192).to(dev)
        head = torch.nn.Linear(192, v).to(dev)
        params = [p for m in (emb, enc, dec, proj, head) for p in m.parameters()]
        bare_opt = torch.optim.AdamW(params, lr=1e-3)

        def bare():
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                mem, _ = enc(emb(src))
                mem = mem[..., :320]
                out_, _ = dec(torch.cat([emb(tgt), mem], dim=-1))
                logits = head(proj(torch.cat([out_, mem], dim=-1)))
            loss = seq_cross_entropy(logits.float(), tgt)
            bare_opt.zero_grad(set_to_none=True)
            loss.backward()
            bare_opt.step()
        out["train_chars_per_s_bare"] = rate(bare)
        out["train_vs_bare_ratio"] = out["train_chars_per_s"] / out["train_chars_per_s_bare"]
    return out


class Work(NamedTuple):
    """One matrix product of a decoder's work: a linear layer of `shape` (in, out) applied `times` to
    `rows` rows, inside `loop`: the products of one loop run step by step in turn, as decoding makes
    them (a decoder step's GRU, combine and output layers, then the next step's), so each finds the
    cache as decoding leaves it."""
    name: str
    shape: tuple[int, int]
    rows: int
    times: int
    loop: str


def _loops(work: list[Work]) -> list[tuple[int, list[Work]]]:
    """The work as loops: (times, the products of one step), consecutive products of one loop together."""
    loops: list[tuple[int, list[Work]]] = []
    for i, w in enumerate(work):
        if not i or w.loop != work[i - 1].loop:
            loops.append((w.times, []))
        if w.times != loops[-1][0]:
            raise ValueError(f"the products of loop {w.loop!r} run different numbers of times")
        loops[-1][1].append(w)
    return loops


def run_order(work: list[Work]) -> list[str]:
    """The names of the products in the order `products` runs them."""
    return [w.name for times, step in _loops(work) for _ in range(times) for w in step]


def products(work: list[Work], *, int8: bool, also=None, fp32: tuple[str, ...] = (), bf16: bool = False):
    """A function that runs a list of matrix products alone, in the order decoding makes them
    (`Work`), in the weight precision the decoders use (fp32, or int8 as `model.quantized` makes
    it, but for the products named in fp32; or bf16, as `model.for_batches` makes a batch's copy);
    `also()` adds other products (attention). Nothing else runs: timed, this is the floor of the
    work on this machine."""
    import warnings
    layers = torch.nn.ModuleDict({w.name: torch.nn.Linear(*w.shape) for w in work}).eval()
    dtype = torch.bfloat16 if bf16 else torch.float32
    if bf16:
        layers = layers.to(dtype)
    elif int8:
        spec = {name: torch.ao.quantization.default_dynamic_qconfig for name in layers if name not in fp32}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = torch.ao.quantization.quantize_dynamic(layers, spec, dtype=torch.qint8)
    # each product as the plain op the decoders call (`as_function`): no module machinery in the floor
    loops = [(times, [(as_function(layers[w.name]), torch.randn(w.rows, w.shape[0], dtype=dtype)) for w in step])
             for times, step in _loops(work)]

    @torch.inference_mode()
    def once():
        for times, step in loops:
            for _ in range(times):
                for product, x in step:
                    product(x)
        if also is not None:
            also()
    return once


def paired(fn, floors: dict, *, warmup: int, repeat: int) -> dict[str, tuple[float, float]]:
    """fn and its floors timed in turn, run after run, so that all see the same machine: the load
    of a shared host moves memory-bound products twofold within seconds, and a ratio of two
    medians taken at different moments moves with it. Returns, per floor, its p50 and the median
    of the per-run ratios of fn to it."""
    for _ in range(warmup):
        fn()
        for floor in floors.values():
            floor()
    ts, fs = [], {name: [] for name in floors}
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        for name, floor in floors.items():
            t0 = time.perf_counter()
            floor()
            fs[name].append(time.perf_counter() - t0)
    return {name: (1000 * statistics.median(f), statistics.median(t / x for t, x in zip(ts, f)))
            for name, f in fs.items()}


def _rnn(prefix: str, inp: int, h: int, gates: int, rows: int, steps: int, loop: str) -> list[Work]:
    """An RNN layer's products: input and recurrent, one step at a time."""
    return [Work(f"{prefix}_ih", (inp, gates * h), rows, steps, loop),
            Work(f"{prefix}_hh", (h, gates * h), rows, steps, loop)]


def _encoder(prefix: str, inp: int, h: int, gates: int, rows: int, steps: int, dirs: int) -> list[Work]:
    """A (bi)directional encoder's products: each direction's weights over the whole line in turn."""
    names = [prefix] if dirs == 1 else [f"{prefix}_fw", f"{prefix}_bw"]
    return [w for name in names for w in _rnn(name, inp, h, gates, rows, steps, loop=name)]


def couplet_work(cfg, *, chars: int, rows: int, lines: int | None = None, head: bool = True) -> list[Work]:
    """The products of decoding `rows` 下联 of `chars` characters for `lines` 上联 (default: one per
    row; a beam's rows share one), with the model's real shapes, in order: the encoder's input and
    recurrent products (each direction), the memory, key and first-state projections and the
    per-position head for each 上联 (unless head is off; once per line, or at each step for a batch,
    as `CoupletSteps` does), then per step the decoder GRU's two products, the combine layer and the
    output projection (the attention over the 上联 is added by `couplet_floor`). The same products
    score given 下联 (the MMI reorder reads candidates back)."""
    e, h, v, t = cfg.emb_dim, cfg.hidden, cfg.vocab_size, chars
    g = 4 if cfg.cell == "lstm" else 3
    dirs = 2 if cfg.bidirectional else 1
    lines = rows if lines is None else lines
    work = _encoder("enc", e, h, g, lines, t, dirs) + [
        Work("mem", (h * dirs, h), lines * t, 1, "line"), Work("key", (h, h), lines * t, 1, "line"),
        Work("init", (h, h * cfg.layers), lines, 1, "line")]
    per_step = lines >= HEAD_PER_STEP_ROWS
    if cfg.aligned_head and head:
        work += [Work("align", (h, e), lines, t, "step") if per_step else Work("align", (h, e), lines * t, 1, "line"),
                 Work("head", (e, v), lines, t, "step") if per_step else Work("head", (e, v), lines * t, 1, "line")]
    return work + _rnn("dec", e + h, h, g, rows, t, "step") + [
        Work("comb", (3 * h, e), rows, t, "step"), Work("out", (e, v), rows, t, "step")]


def couplet_floor_fn(cfg, *, chars: int, rows: int, int8: bool, lines: int | None = None, backward: int = 0,
                     bf16: bool = False):
    """A function that runs `couplet_work` plus the attention scores at each step; with backward,
    also the products that read `backward` candidates back (MMI); bf16: all of it in bf16 (a batch's
    copy on a CPU with native bf16, `model.for_batches`)."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    mem, query = torch.randn(rows, chars, cfg.hidden, dtype=dtype), torch.randn(rows, cfg.hidden, 1, dtype=dtype)
    work = couplet_work(cfg, chars=chars, rows=rows, lines=lines)
    if backward:
        work += [w._replace(name=f"back_{w.name}", loop=f"back_{w.loop}")
                 for w in couplet_work(cfg, chars=chars, rows=backward, head=False)]
    batch = (rows if lines is None else lines) >= BATCH_DECODER_LINES     # the int8 copy's fp32 GRU
    return products(work, int8=int8, also=lambda: [torch.bmm(mem, query) for _ in range(chars)],
                    fp32=("dec_ih", "dec_hh") if batch else (), bf16=bf16)


def poem_work(cfg, *, lines: int, width: int, rows: int) -> list[Work]:
    """The poem model's products for one poem of `lines` x `width` chars with `rows` rows drawn side
    by side, in order: the seed encoder (the poem's seed and one plan seed per line), then per step
    (each char and its punctuation) the decoder GRU's two products, the combine layer and the output
    projection."""
    e, h, v, s = cfg.emb_dim, cfg.hidden, cfg.vocab_size, cfg.max_seed
    g = 4 if cfg.cell == "lstm" else 3
    steps = lines * (width + 1)
    return _encoder("seed", e, h, g, 1 + lines, s, 2 if cfg.bidirectional else 1) + _rnn(
        "dec", e + h, h, g, rows, steps, "step") + [
        Work("comb", (2 * h, e), rows, steps, "step"), Work("out", (e, v), rows, steps, "step")]


def title_work(cfg, *, chars: int, beam: int = 5) -> list[Work]:
    """The title model's products for a poem of `chars` chars, in order: the encoder (each
    direction), the memory projection, then a beam of `beam` rows over max_title + 1 steps."""
    e, h, v, t = cfg.emb_dim, cfg.hidden, cfg.vocab_size, cfg.max_title + 1
    g = 4 if cfg.cell == "lstm" else 3
    dirs = 2 if cfg.bidirectional else 1
    return _encoder("t_enc", e, h, g, 1, chars, dirs) + [Work("t_mem", (dirs * h, h), chars, 1, "t_line")] + _rnn(
        "t_dec", e, h, g, beam, t, "t_step") + [
        Work("t_comb", (2 * h, e), beam, t, "t_step"), Work("t_out", (e, v), beam, t, "t_step")]


def poem_floor_fn(cfg, title_cfg=None, *, lines: int, width: int, rows: int, int8: bool):
    """A function that runs the floor of one poem: `poem_work`, and with title_cfg `title_work` and
    the title's attention at each step."""
    work, also = poem_work(cfg, lines=lines, width=width, rows=rows), None
    if title_cfg is not None:
        chars, beam = lines * (width + 1), 5   # the beam of TitleGenerator.titles
        work += title_work(title_cfg, chars=chars, beam=beam)
        mem, query = torch.randn(beam, chars, title_cfg.hidden), torch.randn(beam, title_cfg.hidden, 1)
        also = lambda: [torch.bmm(mem, query) for _ in range(title_cfg.max_title + 1)]   # noqa: E731
    return products(work, int8=int8, also=also)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def startup_times() -> dict[str, float]:
    """Process start to first 下联 for the CLI, and to the first served page for the app."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "couplet", "couplet", UPPER7], env=env, check=True, capture_output=True)
    cli = time.perf_counter() - t0
    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py"), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = float("nan")
    try:
        while time.perf_counter() - t0 < 120 and proc.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                app = time.perf_counter() - t0
                break
            except OSError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"cli_first_result_s": cli, "app_ready_s": app}


def rss_child() -> float:
    """Peak RSS (MB) of a fresh process that loads both models and generates."""
    code = ("import resource; from couplet.generate import CoupletGenerator; from couplet.poetry import "
            "PoemGenerator, PoemRequest; c = CoupletGenerator.load(); p = PoemGenerator.load(); "
            f"c.generate('{UPPER7}'); p.generate(PoemRequest(form='七律', text='春')); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def run(*, repeat: int = 30, batch_lines: int = 10000, naive_batch_lines: int = 200, startup: bool = True,
        int8: bool | None = None, log=print) -> dict[str, float]:
    cg, pg = CoupletGenerator.load(int8=int8), PoemGenerator.load(int8=int8)
    r: dict[str, float] = {}
    w = max(2, repeat // 10)
    # decoding alone (the structure rule off), so each case can be checked against the naive way
    cases = {"greedy": Settings(n=1, structure=0.0), "beam5": Settings(beam=5, structure=0.0),
             "sample": Settings(n=1, temperature=0.8, structure=0.0)}
    for name, s in cases.items():
        for suffix, upper in (("", UPPER7), ("_20char", UPPER20)):
            t = timed(lambda: cg.generate(upper, s), warmup=w, repeat=repeat)
            r[f"couplet_{name}{suffix}_p50_ms"], r[f"couplet_{name}{suffix}_p95_ms"] = t["p50"], t["p95"]
            t = timed(lambda: _naive_couplet(cg, upper, s), warmup=1, repeat=max(3, repeat // 3))
            r[f"couplet_{name}{suffix}_p50_ms_naive"] = t["p50"]
        log(f"couplet {name}: {r[f'couplet_{name}_p50_ms']:.2f} ms (naive {r[f'couplet_{name}_p50_ms_naive']:.2f})")
    # what `python -m couplet couplet` and the app do by default: beam 5 plus the structure rule
    t = timed(lambda: cg.generate(UPPER7, Settings.for_request(batch=False)), warmup=w, repeat=repeat)
    r["couplet_default_p50_ms"], r["couplet_default_p95_ms"] = t["p50"], t["p95"]
    log(f"couplet default (beam 5, structure {Settings().structure:g}, align {Settings().align:g}): "
        f"{t['p50']:.2f} ms")
    poems = {"poem_7jue": PoemRequest(text="春", n=1),
             "poem_7lv": PoemRequest(form="七律", text="春", n=1),
             "poem_7jue_rules": PoemRequest(text="春", n=1, pattern="平起"),
             "poem_7lv_rules": PoemRequest(form="七律", text="春", n=1, pattern="仄起")}
    for name, req in poems.items():
        t = timed(lambda: pg.generate(req), warmup=w, repeat=repeat)
        r[f"{name}_p50_ms"], r[f"{name}_p95_ms"] = t["p50"], t["p95"]
        r[f"{name}_p50_ms_naive"] = timed(lambda: _naive_poem(pg, req), warmup=1, repeat=max(3, repeat // 3))["p50"]
        log(f"{name}: {r[f'{name}_p50_ms']:.2f} ms (naive {r[f'{name}_p50_ms_naive']:.2f})")
    # the app's request path: the 下联 page (its HTML, a 横批 for each candidate) and the 写诗 page
    from .service import Loaded, Studio
    from .whole import WholeGenerator
    studio = Studio(Loaded(cg, pg, {}, WholeGenerator.load(couplets=cg, int8=int8)))
    for name, request in (("app_couplet", lambda: studio.couplet(UPPER7)), ("app_poem", lambda: studio.poem("春")),
                          ("app_couplet_first", lambda: next(studio.couplet_steps(UPPER7)))):
        t = timed(request, warmup=1, repeat=max(5, repeat // 3))
        r[f"{name}_p50_ms"] = t["p50"]
    log(f"app: 下联 page {r['app_couplet_p50_ms']:.1f} ms with its 横批 ({r['app_couplet_first_p50_ms']:.1f} ms to "
        f"the 下联, shown first), 写诗 page {r['app_poem_p50_ms']:.1f} ms")
    base = ["春回大地千山秀", "一帆风顺年年好", "天增岁月人增寿", "海内存知己", "书山有路勤为径，学海无涯苦作舟"]
    lines = [base[i % len(base)] for i in range(batch_lines)]
    t0 = time.perf_counter()
    cg.generate_batch(lines, Settings(n=1))
    r["couplet_batch_per_s"] = batch_lines / (time.perf_counter() - t0)
    t0 = time.perf_counter()   # what a batch file gets by default: the beam, one 下联 a line
    cg.generate_batch(lines[:naive_batch_lines], Settings.for_request(batch=True))
    r["couplet_batch_default_per_s"] = naive_batch_lines / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for x in lines[:naive_batch_lines]:
        _naive_couplet(cg, x, Settings(n=1))
    r["couplet_batch_per_s_naive"] = naive_batch_lines / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    k = max(1, repeat // 3)
    for i in range(k):
        pg.generate(PoemRequest(text="春山", n=10, seed=i))
    r["poem_batch_per_s"] = 10 * k / (time.perf_counter() - t0)
    log(f"batch: {r['couplet_batch_per_s']:.0f} couplets/s greedy (naive {r['couplet_batch_per_s_naive']:.0f}), "
        f"{r['couplet_batch_default_per_s']:.0f} with the default beam, {r['poem_batch_per_s']:.1f} poems/s")
    # the floor of the same work, each timed in turn with the path it bounds: ratios hold across
    # machines (and across a shared host's load) where times do not
    cfg, int8 = cg.model.cfg, is_quantized(cg.model)
    floor = couplet_floor_fn(cfg, chars=len(UPPER7), rows=1, int8=int8)
    r["couplet_greedy_floor_ms"], r["couplet_greedy_vs_floor"] = paired(
        lambda: cg.generate(UPPER7, cases["greedy"]), {"floor": floor}, warmup=w, repeat=repeat)["floor"]
    # the default beam against the floor of 5 rows and against what it really decodes: diverse
    # groups (more rows than the width) and the MMI reorder, which reads every candidate back
    beam5 = cases["beam5"]
    beam = cg._beam(beam5, beam5.n, chars=len(UPPER7))
    beam_rows = beam.width + (beam.groups - 1) * beam.group_width
    p = paired(lambda: cg.generate(UPPER7, beam5),
               {"floor": couplet_floor_fn(cfg, chars=len(UPPER7), rows=5, lines=1, int8=int8),
                "work": couplet_floor_fn(cfg, chars=len(UPPER7), rows=beam_rows, lines=1, int8=int8,
                                         backward=beam_rows if beam5.mmi else 0)}, warmup=w, repeat=repeat)
    r["couplet_beam5_floor_ms"], r["couplet_beam5_vs_floor"] = p["floor"]
    r["couplet_beam5_rows"] = beam_rows
    r["couplet_beam5_work_floor_ms"], r["couplet_beam5_vs_work_floor"] = p["work"]
    from .generate import BATCH_ROWS
    chars_per_line = round(sum(map(len, base)) / len(base))
    chunk = couplet_floor_fn(cfg, chars=chars_per_line, rows=BATCH_ROWS, int8=int8, bf16=is_bf16(cg.batch_model))
    chunks = -(-batch_lines // 5 // BATCH_ROWS)   # a fifth of the batch per round, five rounds
    floor_ms, ratio = paired(lambda: cg.generate_batch(lines[:batch_lines // 5], Settings(n=1)),
                             {"floor": lambda: [chunk() for _ in range(chunks)]}, warmup=1, repeat=5)["floor"]
    r["couplet_batch_limit_per_s"] = BATCH_ROWS * chunks / (floor_ms / 1000)
    r["couplet_batch_vs_limit"] = 1 / ratio * (batch_lines // 5) / (BATCH_ROWS * chunks)
    # a poem as bench writes it (n 1): `draws` rows side by side, a title; a 律诗 also mixes the
    # couplet model into its 颔联 and 颈联 (its products for two lines of the same rows)
    titler, rows = pg.titler.get(), PoemRequest.draws
    for name, form in (("poem_7jue", "七绝"), ("poem_7lv", "七律")):
        n_lines, width = FORMS[form]
        floor = poem_floor_fn(pg.model.cfg, titler.model.cfg if titler else None, lines=n_lines, width=width,
                              rows=rows, int8=is_quantized(pg.model))
        if n_lines == 8:
            pair = couplet_floor_fn(cfg, chars=width, rows=rows, int8=int8)
            floor = (lambda poem, pair: lambda: (poem(), pair(), pair()))(floor, pair)
        r[f"{name}_floor_ms"], r[f"{name}_vs_floor"] = paired(
            lambda: pg.generate(poems[name]), {"floor": floor}, warmup=w, repeat=repeat)["floor"]
    log(f"floors ({'int8' if int8 else 'fp32'} products alone, timed in turn with each path): greedy "
        f"{r['couplet_greedy_floor_ms']:.2f} ms (measured {r['couplet_greedy_vs_floor']:.1f}x), beam-5 "
        f"{r['couplet_beam5_floor_ms']:.2f} ms ({r['couplet_beam5_vs_floor']:.1f}x; {beam_rows} rows and the MMI pass "
        f"{r['couplet_beam5_work_floor_ms']:.2f} ms, {r['couplet_beam5_vs_work_floor']:.1f}x), batch limit "
        f"{r['couplet_batch_limit_per_s']:.0f}/s (measured {100 * r['couplet_batch_vs_limit']:.0f}%), 七绝 "
        f"{r['poem_7jue_floor_ms']:.1f} ms ({r['poem_7jue_vs_floor']:.1f}x), 七律 {r['poem_7lv_floor_ms']:.1f} ms "
        f"({r['poem_7lv_vs_floor']:.1f}x)")
    r.update(train_speed("cpu"))
    if native_bf16():  # the same step in fp32, beside the bf16 autocast training uses here
        r["train_chars_per_s_fp32"] = train_speed("cpu", amp=False)["train_chars_per_s"]
    log(f"training: {r['train_chars_per_s']:.0f} chars/s" + (f" (bf16; fp32 {r['train_chars_per_s_fp32']:.0f})"
                                                           if "train_chars_per_s_fp32" in r else ""))
    if torch.cuda.is_available():
        r.update({f"{k}_cuda": v for k, v in train_speed("cuda").items()})
    r["peak_rss_mb"] = rss_child()
    if startup:
        r.update(startup_times())
    r["threads"] = torch.get_num_threads()
    return r


def compare_couplet(paths: list[str], *, repeat: int = 30, batch_lines: int = 2000, int8: bool | None = None,
                    log=print) -> dict[str, float]:
    """The default 下联 path (7 chars) and greedy batch throughput for several couplet checkpoints,
    interleaved in one run so that their ratios hold on any machine; ratios are to the first path."""
    # "DIR:int8" loads DIR's int8 copy, "DIR:fp32" its fp32 weights, plain "DIR" the generator's default
    mode = {"int8": True, "fp32": False}
    gens = {p: CoupletGenerator.load(p.rsplit(":", 1)[0], int8=mode.get(p.rsplit(":", 1)[-1], int8)) for p in paths}
    default = Settings.for_request(batch=False)  # what the CLI and the app do for one 上联
    base = ["春回大地千山秀", "一帆风顺年年好", "天增岁月人增寿", "海内存知己", "书山有路勤为径，学海无涯苦作舟"]
    lines = [base[i % len(base)] for i in range(batch_lines)]
    lat: dict[str, list[float]] = {p: [] for p in paths}
    rate: dict[str, list[float]] = {p: [] for p in paths}
    for g in gens.values():
        g.generate(UPPER7, default)
    for _ in range(3):  # alternate the models so that machine noise falls on both
        for p, g in gens.items():
            lat[p].append(timed(lambda: g.generate(UPPER7, default), warmup=2, repeat=max(3, repeat // 3))["p50"])
            t0 = time.perf_counter()
            g.generate_batch(lines, Settings(n=1))
            rate[p].append(batch_lines / (time.perf_counter() - t0))
    r: dict[str, float] = {}
    first = paths[0]
    for i, p in enumerate(paths):
        r[f"compare{i}_default_p50_ms"] = statistics.median(lat[p])
        r[f"compare{i}_batch_per_s"] = statistics.median(rate[p])
        r[f"compare{i}_default_vs_first"] = r[f"compare{i}_default_p50_ms"] / statistics.median(lat[first])
        r[f"compare{i}_batch_vs_first"] = r[f"compare{i}_batch_per_s"] / statistics.median(rate[first])
        log(f"[{i}] {p}: default {r[f'compare{i}_default_p50_ms']:.2f} ms, batch {r[f'compare{i}_batch_per_s']:.0f}/s")
    return r


TARGETS = {"poem_7jue_p50_ms": ("<=", 60), "cli_first_result_s": ("<=", 2), "app_ready_s": ("<=", 5)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m couplet bench", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--repeat", type=int, default=30, help="timed runs per latency figure")
    p.add_argument("--batch-lines", type=int, default=10000, help="上联 in the batch-throughput run")
    p.add_argument("--no-startup", action="store_true", help="skip the CLI and app start-up timings")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fp32", action="store_true", help="decode with the fp32 weights instead of the int8 copies "
                                                         "(the floors follow)")
    p.add_argument("--compare", nargs="+", default=None, metavar="CHECKPOINT",
                   help="only compare couplet checkpoints side by side (default path and batch), "
                        "ratios to the first one; DIR:int8 or DIR:fp32 picks the weights")
    args = p.parse_args(argv)
    quiet = args.json
    if args.compare:
        r = compare_couplet(args.compare, repeat=args.repeat, log=(lambda *_: None) if quiet else print)
    else:
        r = run(repeat=args.repeat, batch_lines=args.batch_lines, startup=not args.no_startup,
                int8=False if args.fp32 else None, log=(lambda *_: None) if quiet else print)
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in r.items()}))
        return 0
    print()
    width = max(len(k) for k in r)
    for k, v in r.items():
        target = TARGETS.get(k)
        mark = ""
        if target:
            ok = v <= target[1] if target[0] == "<=" else v >= target[1]
            mark = f"   target {target[0]} {target[1]}: {'met' if ok else 'MISSED'}"
        print(f"{k:<{width}}  {v:10.2f}{mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
