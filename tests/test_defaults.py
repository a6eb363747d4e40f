"""One home for each default: the request dataclasses (couplet/requests.py) state them; no other
module restates them (a keyword argument or parameter named after a field, set to that field's
default), and only the request types and the sampler read the sampling knobs."""
import ast
from dataclasses import MISSING, fields
from pathlib import Path

from couplet.generate import Settings
from couplet.poetry import PoemRequest
from couplet.whole import WholeRequest

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "couplet" / "requests.py"
MODULES = sorted(p for p in [*(ROOT / "couplet").glob("*.py"), ROOT / "app.py", ROOT / "train.py"] if p != HOME)


CLASSES = (Settings, PoemRequest, WholeRequest)


def _defaults(classes=CLASSES) -> dict[str, set]:
    """Field name -> the defaults it has (empty strings and switches are not decisions to restate)."""
    out: dict[str, set] = {}
    for cls in classes:
        for f in fields(cls):
            if f.default not in (MISSING, None, "") and not isinstance(f.default, bool):
                out.setdefault(f.name, set()).add(f.default)
    return out


def restated(source: str, defaults: dict[str, set]) -> list[str]:
    """`name=<literal equal to a field's default>` keyword arguments and parameter defaults; in a call
    of a request class itself, that class's own defaults."""
    hits = []
    tree = ast.parse(source)
    own = {cls.__name__: _defaults((cls,)) for cls in CLASSES}
    for node in ast.walk(tree):
        pairs, table = [], defaults
        if isinstance(node, ast.Call):
            pairs = [(k.arg, k.value) for k in node.keywords if k.arg]
            table = own.get(getattr(node.func, "id", None), defaults)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args[len(node.args.args) - len(node.args.defaults):] if node.args.defaults else []
            pairs = list(zip((a.arg for a in args), node.args.defaults))
            pairs += [(a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
        for name, value in pairs:
            if name in table and isinstance(value, ast.Constant) and not isinstance(value.value, bool) \
                    and value.value in table[name]:
                hits.append(f"line {value.lineno}: {name}={value.value!r}")
    return sorted(hits, key=lambda h: int(h.split(":")[0].split()[1]))


def test_the_check_finds_a_restated_default():
    t, p = PoemRequest.temperature, PoemRequest.top_p
    assert restated(f"f(temperature={t}, n=2)\ndef g(top_p={p}): pass\nSettings(temperature={t})\n",
                    _defaults()) == [f"line 1: temperature={t}", f"line 2: top_p={p}"]


def test_no_module_restates_a_default():
    defaults = _defaults()
    found = {p.name: restated(p.read_text(encoding="utf-8"), defaults) for p in MODULES}
    assert len(found) > 30 and not any(found.values()), {k: v for k, v in found.items() if v}


KNOBS = {"temperature", "top_k", "top_p"}


def knob_reads(source: str) -> list[str]:
    """`x.temperature`-style reads of the sampling knobs."""
    return [f"line {n.lineno}: .{n.attr}" for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Attribute) and n.attr in KNOBS]


def test_the_sampling_knobs_are_read_in_one_place():
    """The temperature goes from the page's widget (app.py, built from the field) to the request
    (requests.py), whose `sampler()` hands it to `sampling.Sampler`: no other module reads it."""
    assert knob_reads("s.temperature\nf(temperature=1)\n") == ["line 1: .temperature"]
    found = {p.name: knob_reads(p.read_text(encoding="utf-8")) for p in MODULES if p.name != "sampling.py"}
    assert not any(found.values()), {k: v for k, v in found.items() if v}
    assert knob_reads(HOME.read_text(encoding="utf-8"))


def choice_lists(module: str = "") -> list[set]:
    """Every choice list a request offers (its fields' choices, the batch-line modes) and the batch
    output formats, less those whose home is `module`."""
    from couplet import batch, requests
    lists = [set(f.metadata["choices"]) for cls in CLASSES for f in fields(cls) if "choices" in f.metadata]
    lists += [set(requests.LINE_MODES), set(requests.MODES), set(requests.FORMS)]
    return lists + ([] if module == "batch.py" else [set(batch.COUPLET_FORMATS), set(batch.POEM_FORMATS)])


def retyped(source: str, lists: list[set]) -> list[str]:
    """Tuples, lists and sets of strings that spell out one of the choice lists."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 \
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts) \
                and {e.value for e in node.elts} in lists:
            hits.append(f"line {node.lineno}")
    return hits


def test_no_module_retypes_a_choice_list():
    assert retyped('x = ("off", "end", "rhythm")\ny = ["a", "b"]\n', choice_lists()) == ["line 1"]
    found = {p.name: retyped(p.read_text(encoding="utf-8"), choice_lists(p.name)) for p in MODULES}
    assert not any(found.values()), {k: v for k, v in found.items() if v}
