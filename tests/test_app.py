"""The web app: service functions on bad input, and the real page in headless Chromium."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from couplet.service import Loaded, Studio, load_models

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
BAD = ["", "   ", "春" * 201, "hello 123", "😀😀😀", "<script>alert(1)</script>", "春回\x07大地"]


@pytest.fixture(scope="module")
def studio(tiny_generator, tiny_poet, tiny_whole):
    return Studio(Loaded(tiny_generator, tiny_poet, {}, tiny_whole))


@pytest.mark.parametrize("bad", BAD)
def test_bad_couplet_input_is_a_message(studio, bad):
    out = studio.couplet(bad)
    assert out.startswith('<div class="msg error">') and "<script" not in out


def test_unknown_character_in_a_couplet_is_answered_with_a_note(studio):
    out = studio.couplet("春回龘地千山秀")
    assert 'class="cand"' in out and "unknown characters" in out and "&lt;unk" not in out


@pytest.mark.parametrize("bad", BAD + ["春回龘地千山秀"])  # a poem seed must be a char the model knows
def test_bad_poem_input_is_a_message(studio, bad):
    out = studio.poem(bad, mode="theme" if bad.strip() == "" else "keywords")
    assert out.startswith('<div class="msg error">') and "<script" not in out


def test_traditional_input_is_converted_with_a_note(studio):
    out = studio.couplet("天增歲月人增壽")
    assert 'class="cand"' in out and "traditional" in out


def test_couplet_and_poem_html(studio):
    out = studio.couplet("天增岁月人增寿", n=3)
    assert out.count('class="cand"') == 3 and "<rt>平</rt>" in out
    out = studio.poem("春山风月", mode="acrostic", form="五绝", n=2)
    assert out.count('class="poem"') == 2 and "ruby" in out


@pytest.mark.parametrize("theme, head", [("", ""), ("", "福华吉"), ("<script>", ""), ("", "😀😀")])
def test_bad_wish_is_a_message(studio, theme, head):
    out = studio.whole(theme, head)
    assert out.startswith('<div class="msg error">') and "<script" not in out


def test_whole_couplet_html_marks_the_heads(studio):
    out = studio.whole("", "春秋", length=7, n=2, draws=2, temperature=0.8, seed=None)
    assert out.count('class="whole"') == 2 and out.count(" mark\"") == 4 and "复制" in out


def test_couplet_candidates_get_a_hengpi(tiny_generator, tiny_poet, tiny_whole):
    from couplet.whole import WholeGenerator
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:8]
    phrases = [["".join(chars[:4]), 9], ["".join(chars[4:8]), 8]]
    whole = WholeGenerator(tiny_whole.model, tiny_whole.vocab, tiny_generator, {"hengpi": phrases})
    studio = Studio(Loaded(tiny_generator, tiny_poet, {}, whole))
    out = studio.couplet("天增岁月人增寿", n=2)
    assert out.count('class="hengpi"') == 2
    assert 'class="hengpi"' not in studio.couplet("天增岁月人增寿", n=2, hengpi=False)
    # the page shows the 下联 first, their 横批 marked as coming, then the same page with them
    first, last = studio.couplet_steps("天增岁月人增寿", n=2)
    assert first.count('class="hengpi pending"') == 2 and 'class="hengpi"' not in first
    assert last == out and first.replace('<span class="hengpi pending">横批 …</span>', "") == \
        re.sub(r'<span class="hengpi">横批 [^<]*</span>', "", last)
    assert len(list(studio.couplet_steps("天增岁月人增寿", n=2, hengpi=False))) == 1
    assert [x[:23] for x in studio.couplet_steps("hello", n=2)] == ['<div class="msg error">']


def test_whole_couplets_show_first_then_their_hengpi(tiny_generator, tiny_poet, tiny_whole):
    from couplet.requests import WholeRequest
    from couplet.whole import WholeGenerator
    chars = [c for c in tiny_whole.vocab.chars() if c >= "\u4e00"][:8]
    phrases = [["".join(chars[:4]), 9], ["".join(chars[4:8]), 8]]
    whole = WholeGenerator(tiny_whole.model, tiny_whole.vocab, tiny_generator, {"hengpi": phrases})
    studio = Studio(Loaded(tiny_generator, tiny_poet, {}, whole))
    wish = dict(length=7, n=2, draws=2, temperature=0.8, seed=7)
    first, last = studio.whole_steps("中秋", "", **wish)
    assert first[0].count('class="line pending"') == 2 and first[3] is None and first[1] == last[1]
    assert 'pending' not in last[0] and last[3] in {p for p, _ in phrases}
    # the same couplets and 横批 as one call that chooses them at once
    res = whole.generate(WholeRequest(theme="中秋", **wish))
    assert (last[1], last[2], last[3]) == (res.couplets[0].upper, res.couplets[0].lower, res.couplets[0].hengpi)
    assert len(list(studio.whole_steps("中秋", "", hengpi=False, **wish))) == 1


def test_a_failing_step_ends_the_page_with_a_message():
    from couplet.service import friendly

    @friendly
    def steps():
        yield "one"
        raise RuntimeError("boom")
    out = list(steps())
    assert out[0] == "one" and out[1].startswith('<div class="msg error">') and "boom" not in out[1]


def test_the_page_is_laid_out_without_torch():
    """The app imports no torch before its page is served (the models load after)."""
    code = "import sys, app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120).returncode == 0


def test_lazy_models_load_once_and_failures_become_messages(tiny_generator, tiny_poet):
    from couplet.checkpoint import CheckpointError
    calls = []

    def poem():
        calls.append(1)
        return tiny_poet

    def whole():
        raise CheckpointError("no such folder")
    models = Loaded(tiny_generator, None, {}, loaders={"poem": poem, "whole": whole})
    studio = Studio(models)
    assert not calls and 'class="poem"' in studio.poem("春山风月", mode="acrostic", form="五绝", n=1)
    models.warm()
    assert calls == [1] and "python train.py whole" in studio.whole("中秋")


def test_missing_checkpoints_become_messages(tmp_path):
    models = load_models(str(tmp_path / "none"), str(tmp_path / "none2"))
    studio = Studio(models)
    assert "python train.py couplet" in studio.couplet("春回大地千山秀")
    assert "python train.py poem" in studio.poem("春")
    assert "couplet model" in studio.whole("中秋")
    proc = subprocess.run([sys.executable, str(ROOT / "app.py"), "--couplet-checkpoint", str(tmp_path / "x"),
                           "--poem-checkpoint", str(tmp_path / "y")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "train" in proc.stderr and "Traceback" not in proc.stderr


def test_batch_tab(studio, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("天增岁月人增寿\n\n明月几时有\n", encoding="utf-8")
    path, msg = studio.batch(str(f), kind="couplet", fmt=".txt")
    assert Path(path).read_text(encoding="utf-8").count("\n") == 3 and "1 bad" in msg
    f.write_text("春秋\n\n福华 新春\n", encoding="utf-8")
    path, msg = studio.batch(str(f), kind="whole", fmt=".txt", mode="head")
    assert Path(path).read_text(encoding="utf-8").count("# ") == 3 and "2 done, 1 bad" in msg
    path, msg = studio.batch(None)
    assert path is None and "upload" in msg


# ---------------------------------------------------------------- the real page
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_app():
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"app exited: {proc.stdout.read()}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian chromium is needed for the browser test (apt-get install chromium)")
    return path


@pytest.mark.browser
def test_page_in_headless_chromium(served_app):
    from playwright.sync_api import expect, sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        # the first 下联 shows without scrolling, on a laptop and on a phone
        for name, size in (("app-phone.png", {"width": 390, "height": 844}), ("app-couplet.png", None)):
            page = browser.new_page(viewport=size or {"width": 1280, "height": 800})
            page.goto(served_app)
            page.locator("#upper textarea").fill("春回大地千山秀")
            page.locator("#couplet-go").click()
            cand = page.locator("#couplet-out .cand").first
            expect(cand).to_be_visible(timeout=30000)
            # the 下联 come first, then their 横批 fill in the same page
            expect(page.locator("#couplet-out .hengpi.pending")).to_have_count(0, timeout=30000)
            expect(page.locator("#couplet-out .hengpi").first).to_contain_text("横批")
            box, height = cand.bounding_box(), page.viewport_size["height"]
            assert box["y"] + box["height"] <= height, f"first 下联 below the fold at {page.viewport_size}"
            page.screenshot(path=str(ARTIFACTS / name))
        lowers = page.locator("#couplet-out .cand").evaluate_all("els => els.map(e => e.dataset.lower)")
        assert lowers and all(len(x) == 7 for x in lowers)
        # selecting a 下联 selects its characters, not the tone marks above them
        selected = cand.evaluate("""el => { const r = document.createRange();
            r.setStartBefore(el.querySelector('ruby')); r.setEndAfter([...el.querySelectorAll('ruby')].pop());
            const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); return s.toString(); }""")
        assert selected.replace("\n", "") == lowers[0], selected
        # clicking a character of the second candidate locks it there and writes again
        second = page.locator("#couplet-out .cand").nth(1)
        ch = lowers[1][2]
        second.locator("ruby").nth(2).click()
        expect(page.locator("#lock textarea")).to_have_value(f"__{ch}____", timeout=10000)
        page.wait_for_function(f"""() => [...document.querySelectorAll('#couplet-out .cand')].length > 0 &&
            [...document.querySelectorAll('#couplet-out .cand')].every(e => e.dataset.lower[2] === '{ch}')""",
                               timeout=30000)
        page.locator("#lock textarea").fill("")
        # bad input: a message in the page, no injected markup
        page.locator("#upper textarea").fill("<script>alert(1)</script>")
        page.locator("#couplet-go").click()
        expect(page.locator("#couplet-out .msg.error")).to_be_visible(timeout=30000)
        assert page.locator("#couplet-out script").count() == 0
        # 写诗: a 七绝 acrostic
        page.get_by_role("tab", name="写诗").click()
        page.locator("#poem-text textarea").fill("春夏秋冬")
        page.locator("#poem-mode").get_by_text("acrostic", exact=True).click()
        page.locator("#poem-form").get_by_text("七绝", exact=True).click()
        page.locator("#poem-go").click()
        poem = page.locator("#poem-out .poem").first
        expect(poem).to_be_visible(timeout=60000)
        lines = poem.get_attribute("data-lines").split("|")
        assert len(lines) == 4 and all(len(x) == 8 for x in lines)
        assert "".join(x[0] for x in lines) == "春夏秋冬" and [x[-1] for x in lines] == list("，。，。")
        assert poem.locator(".plan").count() == 0           # an acrostic has no plan
        # keywords with the plan box ticked: one keyword beside each line
        page.locator("#poem-plan input").check()
        page.locator("#poem-text textarea").fill("秋 山")
        page.locator("#poem-mode").get_by_text("keywords", exact=True).click()
        page.locator("#poem-form").get_by_text("五律", exact=True).click()
        page.locator("#poem-go").click()
        page.wait_for_function("() => document.querySelectorAll('#poem-out .poem .plan').length >= 8", timeout=60000)
        plan = page.locator("#poem-out .poem").first.locator(".plan").all_inner_texts()
        assert len(plan) == 8 and plan[0] == "秋" and plan[0] == plan[1]
        page.screenshot(path=str(ARTIFACTS / "app-poem.png"), full_page=True)
        # a reply (次韵) to a 五绝 with 五律 still chosen: the poem's form, its rhymes in place, and a note
        page.locator("#poem-plan input").uncheck()
        page.locator("#poem-text textarea").fill("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
        page.locator("#poem-mode").get_by_text("reply", exact=True).click()
        page.locator("#poem-go").click()
        page.wait_for_function("""() => { const p = document.querySelector('#poem-out .poem');
            return p !== null && p.dataset.lines.split('|').length === 4; }""", timeout=60000)
        lines = page.locator("#poem-out .poem").first.get_attribute("data-lines").split("|")
        assert [x[4] for x in lines[1::2]] == ["流", "楼"], lines
        expect(page.locator("#poem-out")).to_contain_text("keeps the form of the poem it answers")
        # keep and rewrite: two clicked chars of the reply fill the lock box in its shape; written again,
        # every poem keeps them there (and a click on a kept char frees it)
        reply = page.locator("#poem-out .poem").first
        reply.locator(".line").nth(2).locator("ruby").nth(1).click()
        reply.locator(".line").nth(0).locator("ruby").nth(0).click()
        reply.locator(".line").nth(0).locator("ruby").nth(3).click()
        reply.locator(".line").nth(0).locator("ruby").nth(3).click()
        kept = [lines[0][0] + "____" + lines[0][5], "_____" + lines[1][5], "_" + lines[2][1] + "___" + lines[2][5],
                "_____" + lines[3][5]]
        expect(page.locator("#poem-lock textarea")).to_have_value("\n".join(kept), timeout=10000)
        page.locator("#poem-text textarea").fill("")
        page.locator("#poem-mode").get_by_text("keywords", exact=True).click()
        page.locator("#poem-go").click()
        expect(page.locator("#poem-out")).to_contain_text("kept as locked: 2 of 20", timeout=60000)
        for written in page.locator("#poem-out .poem").evaluate_all("els => els.map(e => e.dataset.lines)"):
            got = written.split("|")
            assert got[0][0] == lines[0][0] and got[2][1] == lines[2][1], got
        page.locator("#poem-lock textarea").fill("")
        # the 格律 check of a classic: regular, each line with its pattern
        page.locator("#meter").get_by_text("格律 check").click()
        page.locator("#meter-text textarea").fill("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
        page.locator("#meter-go").click()
        expect(page.locator("#meter-out")).to_contain_text("regular: no finding", timeout=30000)
        expect(page.locator("#meter-out .line")).to_have_count(4)
        # 改: a 古绝 read against the pattern, its faulty chars written again
        page.locator("#meter-text textarea").fill("床前明月光，疑是地上霜。举头望明月，低头思故乡。")
        page.locator("#meter-rewrite").click()
        expect(page.locator("#meter-out")).to_contain_text("rewrite 1", timeout=60000)
        # the couplet's 格律 check on the 对联 tab: two lines, a swapped pair named
        page.get_by_role("tab", name="对联", exact=True).click()
        page.locator("#couplet-meter").get_by_text("格律 check").click()
        page.locator("#couplet-meter-text textarea").fill("春满乾坤福满门\n天增岁月人增寿")
        page.locator("#couplet-meter-go").click()
        expect(page.locator("#couplet-meter-out")).to_contain_text("收尾", timeout=30000)
        expect(page.locator("#couplet-meter-out .line")).to_have_count(2)
        page.locator("#couplet-meter-text textarea").fill("一帆风顺年年好\n万事如意步步高")
        page.locator("#couplet-meter-rewrite").click()
        expect(page.locator("#couplet-meter-out")).to_contain_text("rewrite 1", timeout=60000)
        # 整副对联: a 藏头联 with the heads in place
        page.get_by_role("tab", name="整副对联").click()
        page.locator("#whole-head textarea").fill("福华")
        page.locator("#whole-go").click()
        first = page.locator("#whole-out .whole").first
        expect(first).to_be_visible(timeout=60000)
        expect(page.locator("#whole-out .pending")).to_have_count(0, timeout=30000)  # the 横批 are in
        upper, lower = first.get_attribute("data-lower").split("\n")
        assert upper[0] == "福" and lower[0] == "华" and len(upper) == len(lower)
        page.screenshot(path=str(ARTIFACTS / "app-whole.png"), full_page=True)
        # the 春联 picture: the boxes hold the first couplet; drawn as an image
        page.locator("#poster").get_by_text("春联 picture").click()
        expect(page.locator("#poster-upper textarea")).to_have_value(upper, timeout=10000)
        expect(page.locator("#poster-hengpi textarea")).not_to_have_value("", timeout=10000)
        page.locator("#poster-hengpi textarea").fill("五福临门")
        page.locator("#poster-go").click()
        expect(page.locator("#poster-image img")).to_be_visible(timeout=30000)
        page.locator("#poster-image").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "app-poster.png"), full_page=True)
        browser.close()


def test_a_locked_poem_page_marks_the_kept_chars_and_a_bad_lock_is_a_message(studio):
    out = studio.poem("", lock="春____\n_____\n_____\n____月", n=1)
    lines = re.findall(r'<div class="line">(.*?)</div>', out)
    assert len(lines) == 4 and "kept as locked: 2 of 20" in out and "the lock is a 五绝" in out
    assert re.search(r'^<ruby class="\w+ mark">春<rt>', lines[0]) and re.search(r'class="\w+ mark">月<rt>', lines[3])
    out = studio.poem("春", lock="春风又绿江南岸")
    assert out.startswith('<div class="msg error">') and "a lock is the whole poem" in out
    assert 'class="poem"' in studio.poem("春", lock="  \n ", n=1)      # a blank box locks nothing


def test_the_meter_check_marks_what_its_findings_name(studio):
    """With the fixture's small tone table: the page's shape (its verdicts are tests/test_meter.py's)."""
    from couplet.meter import check_poem
    text = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    meter, out = check_poem(text, studio.models.poem.prosody), studio.check(text)
    lines = re.findall(r'<div class="line">(.*?)</div>', out)
    assert len(lines) == 4 and all(f"pattern {p}" in out for p in meter.pattern) and meter.findings
    for f in meter.findings:
        assert f.kind in out
        if f.line and f.pos:
            assert re.search(rf'class="\w+ mark">{meter.lines[f.line - 1][f.pos - 1]}<rt>', lines[f.line - 1])
    out = studio.check("<b>春风</b>")
    assert out.startswith('<div class="msg error">') and "<b>" not in out


def test_placed_characters_are_marked_and_fewer_poems_say_why(studio):
    out = studio.poem("春山风月", mode="acrostic", form="五绝", n=1)
    assert out.count('class="ping mark"') + out.count('class="ze mark"') + out.count('class="either mark"') >= 4
    out = studio.poem("春", form="五绝", n=3, temperature=0)
    assert out.count('class="poem"') == 1 and "one poem per seed" in out


def test_a_taken_port_is_one_line(served_app):
    port = served_app.rsplit(":", 1)[1]
    proc = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", port], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 2 and "choose another with --port" in proc.stderr and "Traceback" not in proc.stderr


def test_a_reply_page_takes_the_poems_form_and_marks_its_rhymes(studio):
    out = studio.poem("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", mode="reply", form="七律", n=1)
    lines = re.findall(r'<div class="line">(.*?)</div>', out)
    assert len(lines) == 4 and "keeps the form of the poem it answers: 五绝" in out
    # the rhyme of lines 2 and 4 is the answered poem's, marked as a rhyme
    assert re.search(r'class="\w+ mark">流<rt>', lines[1]) and re.search(r'class="\w+ mark">楼<rt>', lines[3])
    out = studio.poem("春风又绿江南岸", mode="reply")
    assert out.startswith('<div class="msg error">') and "4 or 8 lines" in out


def test_the_couplet_check_marks_what_its_findings_name(studio):
    from couplet.meter import check_couplet
    text = "春满乾坤福满门春\n天增岁月人增寿秋"
    meter, out = check_couplet(text, studio.models.poem.prosody), studio.check(text)
    lines = re.findall(r'<div class="line">(.*?)</div>', out)
    assert len(lines) == 2 and "上联" in lines[0] and "下联" in lines[1] and meter.findings
    for f in meter.findings:
        assert f.kind in out and f.couplet_where in out
        if f.line and f.pos:
            line = (meter.upper, meter.lower)[f.line - 1]
            assert re.search(rf'class="\w+ mark">{line[f.pos - 1]}<rt>', lines[f.line - 1])
    assert studio.check("一二三").startswith('<div class="msg error">')


def test_the_rewrite_page_writes_only_the_faulty_chars_again(studio, prepared):
    import json
    from couplet.meter import check_poem
    from couplet.text import InputError
    prosody = studio.models.poem.prosody

    def faulty():      # a fixture poem with its lines reversed (the tiny model knows its chars): 粘对 broken
        for row in (prepared / "poems.jsonl").read_text(encoding="utf-8").splitlines():
            lines = json.loads(row)["lines"][::-1]
            try:
                meter = check_poem("，".join(lines), prosody)
            except InputError:
                continue
            if meter.faults:
                return "，".join(lines), meter
    text, meter = faulty()
    n_lines, width = len(meter.lines), len(meter.lines[0])
    out = studio.rewrite(text, n=2, seed=1)
    assert out.startswith('<div class="poem meter">'), out
    rewrites = out.split('<div class="poem rewrite">')[1:]
    assert rewrites, out
    for block in rewrites:
        lines = [re.sub(r"<rt>.*?</rt>|<[^>]+>", "", x) for x in re.findall(r'<div class="line">(.*?)</div>', block)]
        assert len(lines) == n_lines
        kept = [(i, j) for i in range(n_lines) for j in range(width) if (i, j) not in meter.faults]
        assert all(lines[i][j] == meter.lines[i][j] for i, j in kept), (lines, meter.faults)
    assert studio.rewrite("abc").startswith('<div class="msg error">')


def test_the_rewrite_page_writes_a_couplets_faulty_lower_chars_again(studio):
    from couplet.meter import check_couplet
    text = "风声雨声读书声声声入耳\n家事国事天下事件件关心"
    meter = check_couplet(text, studio.models.poem.prosody)
    out = studio.rewrite(text, n=2, seed=1)
    rewrites = out.split('<div class="poem rewrite">')[1:]
    assert meter.faults and rewrites, out
    for block in rewrites:
        upper, lower = [re.sub(r"<rt>.*?</rt>|<[^>]+>", "", x) for x in re.findall(r'<div class="line">(.*?)</div>', block)]
        assert upper == meter.upper
        assert all(lower[i] == meter.lower[i] for i in range(len(lower)) if i not in meter.faults), lower
        assert lower[6] == lower[7] == lower[8] and lower[1] == lower[3] == lower[6]    # 声 mirrored at every place
    assert "nothing to rewrite" in studio.rewrite("天增岁月人增寿\n春满乾坤福满门")


def test_the_typed_keywords_are_marked_where_they_stand(studio):
    vocab = studio.models.poem.vocab.stoi
    words = [w for w in ("春风", "明月", "山水", "江南", "白日") if all(c in vocab for c in w)][:2]
    out = studio.poem(" ".join(words), mode="keywords", form="七绝", n=3, cover=10.0)
    seen = 0
    for block in out.split('<div class="poem" ')[1:]:
        for line in re.findall(r'<div class="line">(.*?)</div>', block):
            chars = re.findall(r'<ruby class="(\w+)( mark)?">(.)<rt>', line)
            text = "".join(c for _, _, c in chars)
            for w in words:
                for j in (j for j in range(len(text)) if text.startswith(w, j)):
                    seen += 1
                    assert all(chars[j + d][1] for d in range(len(w))), (text, w)
    assert seen, out
