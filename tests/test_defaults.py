"""One home for each default: the request dataclasses state them; the CLI, the page and the glue
code must not restate them (a keyword argument named after a field, set to that field's default)."""
import ast
from dataclasses import MISSING, fields
from pathlib import Path

from couplet.generate import Settings
from couplet.poetry import PoemRequest
from couplet.whole import WholeRequest

ROOT = Path(__file__).resolve().parent.parent
GLUE = ["app.py", "train.py", "couplet/cli.py", "couplet/service.py", "couplet/evaluate.py", "couplet/batch.py",
        "couplet/bench.py"]


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
    assert restated("f(temperature=0.8, n=2)\ndef g(top_p=0.95): pass\nSettings(temperature=0.8)\n",
                    _defaults()) == ["line 1: temperature=0.8", "line 2: top_p=0.95"]


def test_no_glue_module_restates_a_default():
    defaults = _defaults()
    found = {name: restated((ROOT / name).read_text(encoding="utf-8"), defaults) for name in GLUE}
    assert not any(found.values()), {k: v for k, v in found.items() if v}
