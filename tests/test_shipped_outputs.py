"""The shipped models' outputs, byte for byte, for fixed requests and seeds: a change to the code
must not change what a user gets. When a shipped model is retrained on purpose, read its new
outputs and record them again: `python tests/test_shipped_outputs.py`."""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path(__file__).with_name("shipped_outputs.json")
UPPERS = ["春回大地千山秀", "海内存知己，天涯若比邻", "风风雨雨年年有", "一帆风顺年年好，万事如意步步高"]


def outputs(tmp: Path) -> dict:
    """What the shipped models write for a fixed set of requests: one 上联 (beam, sampled, locked),
    a batch file, poems of each form (sampled line by line, and greedy) and a poem batch file, whole
    couplets and a whole-couplet batch file."""
    from couplet.batch import format_wholes, run_batch, run_poem_batch
    from couplet.generate import CoupletGenerator, Settings
    from couplet.poetry import PoemGenerator, PoemRequest
    from couplet.whole import WholeGenerator, WholeRequest

    def lines(result) -> list[str]:
        return [f"{c.lower} {c.score:.5f}" for c in result.candidates] + result.notes

    couplets = CoupletGenerator.load()
    out = {}
    for upper in UPPERS:
        out[f"beam {upper}"] = lines(couplets.generate(upper, Settings.for_request(batch=False)))
        out[f"sampled {upper}"] = lines(couplets.generate(upper, Settings(temperature=0.9, top_p=0.95, seed=3)))
    out["locked"] = lines(couplets.generate(UPPERS[0], Settings.for_request(batch=False), lock="__大____"))
    inp = tmp / "uppers.txt"
    inp.write_text("\n".join(UPPERS + ["abc", "两岸猿声啼不住"]) + "\n", encoding="utf-8")
    run_batch(couplets, inp, tmp / "out.jsonl", Settings.for_request(batch=True, temperature=0.7, seed=9),
              progress=False, warn=lambda _: None)
    out["batch file"] = (tmp / "out.jsonl").read_text(encoding="utf-8").splitlines()
    poet = PoemGenerator.load()
    seeds = ["秋 山", "江 月", "秋 山"]   # the same seed twice: a batch does not repeat its lines
    run_poem_batch(poet, [PoemRequest(form="五绝", text=t, n=1, seed=2) for t in seeds], seeds, tmp / "poems.txt",
                   fingerprint={}, progress=False, warn=lambda _: None)
    out["poem batch file"] = (tmp / "poems.txt").read_text(encoding="utf-8").splitlines()
    for form, mode, text in [("五绝", "keywords", "秋 月"), ("七绝", "acrostic", "春夏秋冬"), ("五律", "theme", "思念故乡"),
                             ("七律", "first", "山")]:
        res = poet.generate(PoemRequest(form=form, mode=mode, text=text, n=2, seed=4))
        out[f"poem {form} {mode}"] = [f"{p.title} {''.join(p.lines)} {p.score:.5f}" for p in res.poems] + res.notes + res.plan
    res = poet.generate(PoemRequest(form="七律", text="中秋 明月 思乡", n=1, seed=4))   # words the cover steers to
    out["poem words"] = [f"{p.title} {''.join(p.lines)} {p.score:.5f}" for p in res.poems] + res.notes
    res = poet.generate(PoemRequest(form="七绝", text="江 雪", temperature=0, n=1))
    out["poem greedy"] = [''.join(p.lines) for p in res.poems]
    whole = WholeGenerator.load(couplets=couplets)
    for req in (WholeRequest(theme="中秋 团圆", n=3), WholeRequest(head="福华", n=3)):
        out[f"whole {req.theme}{req.head}"] = [f"{c.upper} {c.lower} {c.hengpi}" for c in whole.generate(req).couplets]
    wishes = ["春节 新年", "春节 新年"]
    run_poem_batch(whole, [WholeRequest(theme=t, n=1) for t in wishes], wishes, tmp / "whole.txt", fingerprint={},
                   progress=False, warn=lambda _: None, formatter=format_wholes, what="couplets")
    out["whole batch file"] = (tmp / "whole.txt").read_text(encoding="utf-8").splitlines()
    names = {"couplet": couplets, "poem": poet, "whole": whole}
    return {"models": {k: g.identity.rsplit("@", 1)[1] for k, g in names.items()}, "machine": machine(),
            "outputs": out}


def machine() -> str:
    """The torch build and the CPU kernels it picks: float rounding may differ across them."""
    import torch
    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"


NUMBER = re.compile(r"-?\d+\.\d+")


def same(got: list[str], want: list[str], tol: float = 0.01) -> bool:
    """The same text, and the same scores to within tol: the last digits of a score move between two
    machines that report the same kernels (the sum order of a product differs)."""
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if NUMBER.sub("#", a) != NUMBER.sub("#", b):
            return False
        if any(abs(float(x) - float(y)) > tol for x, y in zip(NUMBER.findall(a), NUMBER.findall(b))):
            return False
    return True


def test_same_tells_a_score_drift_from_a_change():
    assert same(["日日天天 -1.40526", '{"a": 2.33925}'], ["日日天天 -1.40536", '{"a": 2.33934}'])
    assert not same(["日日天天 -1.40526"], ["日日夜夜 -1.40526"])
    assert not same(["日日天天 -1.40526"], ["日日天天 -1.45526"])
    assert not same(["a 1.0"], ["a 1.0", "b"])


def test_shipped_models_write_what_they_wrote():
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    if recorded["machine"] != machine():  # another kernel set may round a near-tie the other way
        pytest.skip(f"recorded with {recorded['machine']}, this is {machine()}")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        current = outputs(Path(d))
    assert current["models"] == recorded["models"], (
        "a shipped checkpoint changed: read its outputs, then record them again (python tests/test_shipped_outputs.py)")
    assert current["outputs"].keys() == recorded["outputs"].keys()
    for key, value in recorded["outputs"].items():
        assert same(current["outputs"][key], value), (key, current["outputs"][key], value)


if __name__ == "__main__":
    import tempfile
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        RECORD.write_text(json.dumps(outputs(Path(d)), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"recorded {RECORD}")
