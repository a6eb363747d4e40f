"""Bad numbers, text, files and checkpoints: a result or one clear message, never a traceback,
and nothing lost."""
import json
import math
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from couplet.batch import BatchError, _exclusive, read_lines, run_batch
from couplet.checkpoint import CheckpointError, load_checkpoint, load_prosody, load_table, save_checkpoint
from couplet.cli import main
from couplet.generate import Settings
from couplet.model import CoupletModel, ModelConfig, PoemConfig, PoemModel
from couplet.poetry import PoemRequest
from couplet.text import InputError


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory, prepared, fixture_vocab):
    """Tiny couplet and poem checkpoints with the fixture's tone table beside them."""
    root = tmp_path_factory.mktemp("ck")
    torch.manual_seed(0)
    save_checkpoint(root / "couplet", model=CoupletModel(ModelConfig(vocab_size=len(fixture_vocab), emb_dim=8,
                                                                     hidden=8)), vocab=fixture_vocab)
    save_checkpoint(root / "poem", model=PoemModel(PoemConfig(vocab_size=len(fixture_vocab), emb_dim=8, hidden=8)),
                    vocab=fixture_vocab, kind="poem",
                    tables={"lines.safetensors": {"hashes": torch.zeros(1, dtype=torch.int32)}})
    (root / "prosody.json").write_bytes((prepared / "prosody.json").read_bytes())
    return root


def cli(capsys, *args):
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse: a usage message and status 2
        rc = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.out, out.err


@pytest.mark.parametrize("flags", [
    ("--temperature", "nan"), ("--temperature", "inf"), ("--temperature", "-1"), ("--n", "0"), ("--n", "-5"),
    ("--n", "100000"), ("--beam", "100000"), ("--top-p", "2"), ("--top-p", "0"), ("--top-p", "-1"),
    ("--top-k", "-1"), ("--align", "5"), ("--align", "nan"), ("--seed", "-3"), ("--diversity", "inf"),
])
def test_bad_couplet_numbers_are_one_message(capsys, tiny_dirs, flags):
    rc, _, err = cli(capsys, "couplet", "春回大地千山秀", *flags, "--checkpoint", tiny_dirs / "couplet")
    assert rc == 2 and err.startswith("error: --") and "from" in err


@pytest.mark.parametrize("flags", [("--temperature", "nan"), ("--n", "100000"), ("--top-p", "0"),
                                   ("--seed", "-1")])
def test_bad_poem_numbers_are_one_message(capsys, tiny_dirs, flags):
    rc, _, err = cli(capsys, "poem", "--keywords", "春", *flags, "--checkpoint", tiny_dirs / "poem")
    assert rc == 2 and "error: --" in err


def test_a_tiny_temperature_is_greedy(capsys, tiny_dirs):
    rc, out, _ = cli(capsys, "couplet", "春回大地千山秀", "--temperature", "1e-45", "--checkpoint",
                     tiny_dirs / "couplet", "--json")
    assert rc == 0 and len(json.loads(out)["candidates"][0]["lower"]) == 7


@pytest.mark.parametrize("lock", ["\x1b______", "😀______", "abc____"])
def test_a_lock_with_other_symbols_is_refused(capsys, tiny_dirs, lock):
    rc, _, err = cli(capsys, "couplet", "天增岁月人增寿", "--lock", lock, "--checkpoint", tiny_dirs / "couplet")
    assert rc == 2 and "lock pattern" in err


def test_poem_keywords_are_converted_like_every_other_text(tiny_poet):
    han = [c for c in tiny_poet.vocab.chars() if "\u4e00" <= c <= "\u9fff"]
    trad = {"风": "風", "云": "雲", "东": "東", "马": "馬", "门": "門"}
    pick = next(c for c in trad if c in han)
    seed, words, _, _ = tiny_poet.prepare(PoemRequest(text=trad[pick]))
    assert seed == pick and words == [pick]


def test_batch_lines_split_on_newlines_only(tmp_path, tiny_generator):
    inp = tmp_path / "in.txt"
    inp.write_bytes("天增岁月人增寿\r\n春回\u2028大地\n春\x1c回\n爆竹\x0b声中\n".encode("utf-8"))
    assert len(read_lines(inp)) == 4
    out = tmp_path / "out.txt"
    run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False)
    assert len(out.read_text(encoding="utf-8").split("\n")) == 5  # four records and the final newline


def test_output_equal_to_input_is_refused_and_the_input_kept(capsys, tmp_path, tiny_dirs):
    inp = tmp_path / "same.txt"
    inp.write_text("天增岁月人增寿\n", encoding="utf-8")
    rc, _, err = cli(capsys, "couplet", "--input", inp, "--output", inp, "--checkpoint", tiny_dirs / "couplet")
    assert rc == 2 and "input file" in err and inp.read_text(encoding="utf-8") == "天增岁月人增寿\n"


def test_a_second_run_on_the_same_output_waits_its_turn(tmp_path, tiny_generator):
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("天增岁月人增寿\n" * 3, encoding="utf-8")
    with _exclusive(out):
        with pytest.raises(BatchError, match="another run"):
            run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False)
    run_batch(tiny_generator, inp, out, Settings(n=1), warn=lambda m: None, progress=False)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_os_errors_are_one_line(capsys, tmp_path, tiny_dirs):
    inp = tmp_path / "in.txt"
    inp.write_text("天增岁月人增寿\n", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    rc, _, err = cli(capsys, "couplet", "--input", inp, "--output", blocker / "out.txt", "--checkpoint",
                     tiny_dirs / "couplet")
    assert rc == 2 and err.startswith("error:") and "rerun" in err
    rc, _, err = cli(capsys, "couplet", "--input", tmp_path, "--output", tmp_path / "o.txt", "--checkpoint",
                     tiny_dirs / "couplet")
    assert rc == 2 and "not a file" in err


def test_disk_full_keeps_the_resume_state(capsys, tmp_path, tiny_dirs, monkeypatch):
    import couplet.batch as batch
    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("天增岁月人增寿\n" * 600, encoding="utf-8")
    real, calls = batch.atomic_write_text, []

    def full(path, text):
        calls.append(path)
        if len(calls) == 3:  # the second chunk's state write
            raise OSError(28, "No space left on device", str(path))
        return real(path, text)
    monkeypatch.setattr(batch, "atomic_write_text", full)
    rc, _, err = cli(capsys, "couplet", "--input", inp, "--output", out, "--checkpoint", tiny_dirs / "couplet")
    assert rc == 2 and "No space left" in err
    monkeypatch.setattr(batch, "atomic_write_text", real)
    rc, _, _ = cli(capsys, "couplet", "--input", inp, "--output", out, "--checkpoint", tiny_dirs / "couplet")
    assert rc == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 600


# ---------------------------------------------------------------- checkpoints
def _copy(src, dst):
    dst.mkdir(parents=True)
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _edit_meta(d, fn):
    meta = json.loads((d / "checkpoint.json").read_text(encoding="utf-8"))
    fn(meta)
    (d / "checkpoint.json").write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize("damage, words", [
    (lambda d: _edit_meta(d, lambda m: m.pop("config")), "no model config"),
    (lambda d: _edit_meta(d, lambda m: m.pop("vocab")), "no vocabulary"),
    (lambda d: _edit_meta(d, lambda m: m["config"].update(colour="red")), "unknown config keys"),
    (lambda d: _edit_meta(d, lambda m: m["config"].update(hidden=300000)), "not a size"),
    (lambda d: _edit_meta(d, lambda m: m["config"].update(hidden=12)), "do not fit"),
    (lambda d: _edit_meta(d, lambda m: m["config"].update(aligned_head=True)), "missing align"),
    (lambda d: (d / "checkpoint.json").write_text("[" * 100000 + "]" * 100000, encoding="utf-8"), "JSON"),
    (lambda d: ((d / "checkpoint.json").unlink(), (d / "checkpoint.json").mkdir()), "no checkpoint"),
    (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:100]), "damaged"),
])
def test_damaged_checkpoints_are_one_clear_error(tmp_path, tiny_dirs, damage, words):
    d = _copy(tiny_dirs / "couplet", tmp_path / "ck")
    damage(d)
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(d)


def test_flipped_bytes_are_caught_by_the_checksum(tmp_path, tiny_dirs):
    d = _copy(tiny_dirs / "couplet", tmp_path / "ck")
    data = bytearray((d / "model.safetensors").read_bytes())
    for i in range(len(data) - 1000, len(data), 7):
        data[i] ^= 0xFF
    (d / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(d)


def test_wrong_and_extra_tensors_are_named(tmp_path, tiny_dirs):
    from safetensors.torch import load_file, save_file
    d = _copy(tiny_dirs / "couplet", tmp_path / "ck")
    w = load_file(str(d / "model.safetensors"))
    w["extra.weight"] = torch.zeros(2)
    save_file(w, str(d / "model.safetensors"))
    _edit_meta(d, lambda m: m.pop("sha256"))
    with pytest.raises(CheckpointError, match="unexpected extra.weight"):
        load_checkpoint(d)


def test_bad_tables_and_prosody(tmp_path, tiny_dirs):
    d = _copy(tiny_dirs / "poem", tmp_path / "poem")
    (d / "lines.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="damaged"):
        load_table(d, "lines.safetensors")
    bad = tmp_path / "prosody.json"
    bad.write_text(json.dumps({"format": "couplet-prosody/1", "rhymes": {}, "groups": {}}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="tones"):
        load_prosody(d, bad)


def test_resume_from_truncated_files_is_a_message(prepared, tmp_path, capsys):
    import train as train_cli
    out = tmp_path / "run"
    args = ["couplet", "--data", str(prepared), "--out", str(out), "--emb-dim", "8", "--hidden", "8",
            "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--device", "cpu"]
    assert train_cli.main(args) == 0
    for name in ("model.safetensors", "train_state.safetensors"):
        path = out / "last" / name
        good = path.read_bytes()
        path.write_bytes(good[:len(good) // 2])
        assert train_cli.main(args[:5] + ["--epochs", "2", "--resume"]) == 2
        assert "damaged" in capsys.readouterr().err
        path.write_bytes(good)


def test_the_app_serves_what_loaded(tmp_path, tiny_dirs):
    from couplet.service import Studio, load_models
    poem = _copy(tiny_dirs / "poem", tmp_path / "poem")
    (poem / "model.safetensors").write_bytes(b"broken")
    models = load_models(str(tiny_dirs / "couplet"), str(poem))
    assert models.couplet is not None and models.poem is None and "poem" in models.errors
    studio = Studio(models)
    assert 'class="cand"' in studio.couplet("天增岁月人增寿")
    assert "poem model not loaded" in studio.poem("春")
    scorer = _copy(tiny_dirs / "couplet", tmp_path / "scorer")
    (scorer / "model.safetensors").write_bytes(b"broken")
    models.couplet.scorer_path, models.couplet._scorer = scorer, None
    assert 'class="cand"' in studio.couplet("天增岁月人增寿", rerank=False)  # a broken scorer blocks nothing
    assert "reranking is unavailable" in studio.couplet("天增岁月人增寿", rerank=True)
    couplet = _copy(tiny_dirs / "couplet", tmp_path / "couplet")
    (couplet / "checkpoint.json").write_text("{}", encoding="utf-8")
    models = load_models(str(couplet), str(tiny_dirs / "poem"))
    assert models.couplet is None and models.poem is not None  # and the other way round
    assert 'class="poem"' in Studio(models).poem("春")


def test_page_requests_with_bad_values_are_messages(tiny_generator, tiny_poet):
    from couplet.service import Loaded, Studio
    studio = Studio(Loaded(tiny_generator, tiny_poet, {}))
    for kwargs in ({"temperature": math.nan}, {"seed": 1e30}, {"n": math.inf}, {"top_p": -1}):
        assert studio.couplet("天增岁月人增寿", **kwargs).startswith('<div class="msg error">')
        assert studio.poem("春", **kwargs).startswith('<div class="msg error">')
    assert studio.couplet("\ud800春").startswith('<div class="msg error">')


def test_page_batch_limits(tmp_path, tiny_generator, tiny_poet, monkeypatch):
    import couplet.service as service
    studio = service.Studio(service.Loaded(tiny_generator, tiny_poet, {}))
    big = tmp_path / "big.txt"
    big.write_text("天增岁月人增寿\n" * (service.MAX_BATCH_LINES + 1), encoding="utf-8")
    assert studio.batch(str(big))[0] is None
    monkeypatch.setattr(service, "BATCH_SECONDS", -1)
    small = tmp_path / "small.txt"
    small.write_text("天增岁月人增寿\n" * 3, encoding="utf-8")
    path, msg = studio.batch(str(small), fmt=".txt")
    assert path and "time limit" in msg
    old = tmp_path / "couplet-batch-old"
    old.mkdir()
    os.utime(old, (0, 0))
    assert service.remove_old_results(tmp_path) == 1 and not old.exists()


# ---------------------------------------------------------------- fuzz
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 20, 10 ** 20))


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40), n=numbers, temperature=numbers, top_k=numbers, top_p=numbers, beam=numbers,
       seed=numbers, align=numbers, lock=st.one_of(st.none(), st.text(max_size=10)))
def test_api_fuzz_gives_a_result_or_a_clear_message(tiny_generator, text, n, temperature, top_k, top_p, beam,
                                                    seed, align, lock):
    try:
        res = tiny_generator.generate(text, Settings(n=n, temperature=temperature, top_k=top_k, top_p=top_p,
                                                     beam=beam, seed=seed, align=align), lock=lock)
    except InputError as e:
        assert str(e)
        return
    assert all(len(c.lower) == len(res.upper) for c in res.candidates)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=12), n=numbers, temperature=numbers, seed=numbers, embed_pos=numbers,
       form=st.sampled_from(["五绝", "七绝", "五律", "七律", "六绝"]),
       mode=st.sampled_from(["keywords", "first", "theme", "acrostic", "embed", "x"]))
def test_poem_api_fuzz_gives_a_result_or_a_clear_message(tiny_poet, text, n, temperature, seed, embed_pos, form,
                                                         mode):
    try:
        tiny_poet.generate(PoemRequest(form=form, mode=mode, text=text, n=n, temperature=temperature, seed=seed,
                                       embed_pos=embed_pos))
    except InputError as e:
        assert str(e)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(upper=st.text(min_size=1, max_size=12).filter(lambda s: not s.startswith("-")),
       flag=st.sampled_from(["--n", "--temperature", "--top-p", "--top-k", "--beam", "--align", "--seed"]),
       value=st.one_of(st.sampled_from(["nan", "inf", "-inf", "1e308", "-0", "x", ""]), st.integers().map(str)))
def test_cli_fuzz_never_shows_a_traceback(capsys, tiny_dirs, upper, flag, value):
    rc, _, _ = cli(capsys, "couplet", upper, flag, value, "--checkpoint", tiny_dirs / "couplet")
    assert rc in (0, 2)


def test_cli_poem_batch_runs_and_checkpoints_have_an_identity(capsys, tmp_path, tiny_dirs):
    """The poem batch command end to end; the fingerprint names the checkpoint by path and hash."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("春\n明月\n", encoding="utf-8")
    rc, out, err = cli(capsys, "poem", "--form", "五绝", "--input", seeds, "--output", tmp_path / "p.jsonl",
                       "--checkpoint", tiny_dirs / "poem")
    assert rc == 0, err
    recs = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["input_line"] for r in recs} == {1, 2} and all(len(r["lines"]) == 4 for r in recs)
    from couplet.checkpoint import identity
    a, b = identity(tiny_dirs / "couplet"), identity(tiny_dirs / "poem")
    assert a != b and "@" in a
