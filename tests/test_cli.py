"""The command line on the shipped default checkpoint, as a user on a fresh clone runs it."""
import json
import subprocess
import sys
from pathlib import Path

from couplet.generate import DEFAULT_CHECKPOINT, CoupletGenerator, Settings
from couplet.prosody import PING, ZE

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "couplet", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_default_checkpoint_works_with_no_flags(tmp_path):
    proc = run("couplet", "春回大地千山秀", cwd=tmp_path)  # from another folder, too
    assert proc.returncode == 0, proc.stderr
    lowers = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("下联")]
    assert len(lowers) == 5 and all(len(x) == 7 for x in lowers)
    assert all(not set(x) & set("春回大地千山秀") for x in lowers)


def test_shipped_model_follows_the_rules_on_common_uppers():
    gen = CoupletGenerator.load()
    assert DEFAULT_CHECKPOINT.exists() and len(gen.vocab) == gen.model.cfg.vocab_size
    for upper in ("春回大地千山秀", "一帆风顺年年好", "海内存知己，天涯若比邻", "白日依山尽"):
        res = gen.generate(upper, Settings(n=3, beam=3))
        want = {ZE: PING, PING: ZE}.get(gen.prosody.tone(upper[-1]))
        for c in res.candidates:
            assert len(c.lower) == len(upper)
            assert want is None or gen.prosody.tone(c.lower[-1]) == want


def test_bad_input_gets_a_message_not_a_traceback():
    for bad in ("", "hello", "春回😀", "春" * 80):
        proc = run("couplet", bad)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_several_uppers_each_get_their_lowers_and_a_bad_one_is_named():
    proc = run("couplet", "春回大地", "hello", "明月几时有", "--n", "2", "--beam", "2", "--json")
    assert proc.returncode == 2 and "error: hello:" in proc.stderr and "Traceback" not in proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["upper"] for a in answers] == ["春回大地", "明月几时有"]
    assert all(len(a["candidates"]) == 2 and all(len(c["lower"]) == len(a["upper"]) for c in a["candidates"])
               for a in answers)
    assert run("couplet", "春回大地", "明月几时有", "--poster", "x.png").returncode == 2


def test_missing_checkpoint_says_what_to_run(tmp_path):
    proc = run("couplet", "春回大地千山秀", "--checkpoint", str(tmp_path / "none"))
    assert proc.returncode == 2 and "train" in proc.stderr and "Traceback" not in proc.stderr


def test_json_output(tmp_path):
    proc = run("couplet", "明月几时有", "--temperature", "0.7", "--n", "3", "--seed", "5", "--json")
    again = run("couplet", "明月几时有", "--temperature", "0.7", "--n", "3", "--seed", "5", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == json.loads(again.stdout)


# ---------------------------------------------------------------- the shipped poem model
def test_poem_cli_default_checkpoint(tmp_path):
    proc = run("poem", "--acrostic", "春夏秋冬", "--form", "七绝", "--n", "2", "--seed", "3", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from couplet.poetry import check_form
    poems = json.loads(proc.stdout)["poems"]
    assert len(poems) == 2
    for p in poems:
        assert check_form(p["lines"], "七绝") and "".join(x[0] for x in p["lines"]) == "春夏秋冬"
        assert p["rhyme_group"]
    bad = run("poem", "--acrostic", "春夏秋", "--form", "七绝")
    assert bad.returncode == 2 and "needs 4" in bad.stderr and "Traceback" not in bad.stderr
    # the seed as the first word, read by --mode (keywords unless told): the same poems as the flag
    plain = run("poem", "春夏秋冬", "--mode", "acrostic", "--form", "七绝", "--n", "2", "--seed", "3", "--json")
    assert plain.returncode == 0 and json.loads(plain.stdout) == json.loads(proc.stdout)
    for extra in ([], ["--keywords", "春"]):   # no seed, or two
        bad = run("poem", *(["秋"] if extra else []), *extra)
        assert bad.returncode == 2 and "give one seed" in bad.stderr and "Traceback" not in bad.stderr


def test_a_lock_alone_keeps_its_chars_and_sets_the_form():
    proc = run("poem", "--lock", "春风又绿江南岸 _______ _______ _______", "--form", "五绝", "--n", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    from couplet.poetry import check_form
    out = json.loads(proc.stdout)
    assert out["keywords"] and any("the lock is a 七绝" in x for x in out["notes"])
    for p in out["poems"]:
        assert check_form(p["lines"], "七绝") and p["lines"][0] == "春风又绿江南岸，" and p["rhyme_group"]
    bad = run("poem", "--lock", "春风又绿江南岸")
    assert bad.returncode == 2 and "a lock is the whole poem" in bad.stderr and "Traceback" not in bad.stderr


def test_check_reads_a_poem_and_says_what_is_not_one():
    proc = run("check", "床前明月光 疑是地上霜 举头望明月 低头思故乡", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["form"] == "五绝" and not out["regular"] and {"失粘", "失对"} <= {f["kind"] for f in out["findings"]}
    bad = run("check", "春风又绿江南岸")
    assert bad.returncode == 2 and "1 clause of 7" in bad.stderr and "a poem to check is" in bad.stderr \
        and "Traceback" not in bad.stderr
    couplet = run("check", "春满乾坤福满门；天增岁月人增寿", "--json")
    out = json.loads(couplet.stdout)
    assert out["upper"] == "春满乾坤福满门" and [f["kind"] for f in out["findings"]] == ["收尾"] and not out["regular"]


def test_check_a_file_line_by_line(tmp_path):
    lines = ["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "天增岁月人增寿 春满乾坤福满门", "abc", "",
             "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"]
    inp, out = tmp_path / "class.txt", tmp_path / "reports.jsonl"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run("check", "--input", str(inp), "--output", str(out))
    assert proc.returncode == 0 and "checked 5 lines" in proc.stdout and "2 regular, 2 not read" in proc.stdout, proc
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5] and [r["text"] for r in records] == lines
    assert [r.get("kind") for r in records] == ["poem", "couplet", None, None, "poem"]
    assert [r.get("regular") for r in records] == [False, True, None, None, True] and "error" in records[2]
    again = run("check", "--input", str(inp), "--output", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr
    assert run("check", "--input", str(inp), "--output", str(out), "--overwrite").returncode == 0
    assert run("check", "--input", str(inp)).returncode == 2
    assert run("check").returncode == 2


def test_check_rewrite_keeps_all_but_the_faulty_chars():
    poem = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    proc = run("check", poem, "--rewrite", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    faults = {divmod(k, 5) for k, ch in enumerate("床前明月光疑是地_霜举_望__低_思故乡") if ch == "_"}
    assert len(out["rewrites"]) == 2 and any(r["regular"] for r in out["rewrites"])
    for r in out["rewrites"]:
        assert {tuple(x) for x in r["changed"]} <= faults and len(r["text"]) == len(poem)
    couplet = run("check", "一帆风顺年年好 万事如意步步高", "--rewrite", "2")
    assert couplet.returncode == 0 and "[2] 一帆风顺年年好 / 万事如" in couplet.stdout and "步步高  (regular" in couplet.stdout
    bad = run("check", poem, "--rewrite", "99")
    assert bad.returncode == 2 and "1 to 20" in bad.stderr and "Traceback" not in bad.stderr


def test_poem_seed_steers_the_poem():
    """Poems from the same seed share more characters with each other than with another seed's
    (averaged over four seed pairs, 8 poems each), and the seed characters show up."""
    from couplet.poetry import PoemGenerator, PoemRequest
    gen = PoemGenerator.load()

    def poems(word, seed):
        req = PoemRequest(form="五绝", mode="keywords", text=word, n=8, temperature=0.8, seed=seed)
        return [set("".join(p.lines)) - set("，。") for p in gen.generate(req).poems]

    def overlap(xs, ys):
        pairs = [(a, b) for a in xs for b in ys if a is not b]
        return sum(len(a & b) / len(a | b) for a, b in pairs) / len(pairs)

    within, across = [], []
    for a, b in (("春风", "秋雨"), ("明月", "战马"), ("梅花", "江水"), ("故乡", "边塞")):
        a1, a2, b1 = poems(a, 1), poems(a, 2), poems(b, 1)
        within.append(overlap(a1, a2))
        across.append(overlap(a1, b1))
        assert sum(any(c in p for c in a) for p in a1) >= 6
    assert sum(within) > 1.1 * sum(across)


def test_the_pos_helper_tags_like_this_process():
    """A one-shot command loads jieba in a forked helper while torch loads; the tags are the same."""
    code = ("from couplet.postag import start_helper, char_pos, _tags; started = start_helper(); "
            "import torch; line = '海内存知己，天涯若比邻'; print(started, char_pos(line) == _tags(line))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.split() == ["True", "True"], proc.stderr


def test_help_shows_defaults_and_only_the_task_flags():
    app = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, timeout=120)
    assert "(default: 7860)" in " ".join(app.stdout.split())
    train = subprocess.run([sys.executable, str(ROOT / "train.py"), "couplet", "--help"], capture_output=True,
                           text=True, timeout=120)
    text = " ".join(train.stdout.split())  # argparse wraps lines at the terminal width
    assert "--max-seed" not in text and "(default: none)" in text and "(default: )" not in text
    bench = run("bench", "--help")
    assert "(default: 30)" in " ".join(bench.stdout.split())


def test_the_readme_batch_examples_run(tmp_path):
    out = tmp_path / "lowers.jsonl"
    proc = run("couplet", "--input", str(ROOT / "data/examples/uppers.txt"), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    n = len((ROOT / "data/examples/uppers.txt").read_text(encoding="utf-8").splitlines())
    assert len(out.read_text(encoding="utf-8").splitlines()) == n
    again = run("couplet", "--input", str(ROOT / "data/examples/uppers.txt"), "--output", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_couplet_flags_come_from_settings():
    """Every Settings field is a flag; a flag not given leaves the field's default (one home)."""
    from dataclasses import fields, replace

    from couplet.cli import _settings, build_parser
    from couplet.generate import DEFAULT_BEAM
    parser = build_parser()
    args = parser.parse_args(["couplet", "春回大地千山秀"])
    assert all(hasattr(args, f.name) and getattr(args, f.name) is None for f in fields(Settings))
    assert _settings(args, batch=False) == replace(Settings(), beam=DEFAULT_BEAM)
    assert _settings(args, batch=True) == replace(Settings(), n=1, beam=DEFAULT_BEAM)
    args = parser.parse_args(["couplet", "x", "--no-punctuation", "--mmi", "0.3", "--tone", "end"])
    s = _settings(args, batch=False)
    assert (s.punctuation, s.mmi, s.tone) == (False, 0.3, "end")


def test_one_policy_for_n_and_beam():
    """Settings.for_request: the CLI and the page decide n and the beam the same way."""
    from couplet.generate import DEFAULT_BEAM
    assert Settings.for_request(batch=False).beam == DEFAULT_BEAM
    assert Settings.for_request(batch=False, temperature=0.8).beam == 0          # sampled: no beam
    assert Settings.for_request(batch=False, beam_search=False).beam == 0        # the page's box off
    assert Settings.for_request(batch=False, beam=3).beam == 3                   # a width given wins
    assert (Settings.for_request(batch=True).n, Settings.for_request(batch=True).beam) == (1, DEFAULT_BEAM)
    assert Settings.for_request(batch=True, beam=0).beam == 0                   # greedy when asked
    assert Settings.for_request(batch=True, temperature=0.7).beam == 0          # sampled: no beam
    assert Settings.for_request(batch=True, n=4).n == 4
