"""The shape of src/hati: layers import downward only, no cycles, no module over 700
lines, and only branching/layout.py spells where hati keeps its things.

    python3 -m pytest -q tests/unit/test_layers.py      # what this checks
    python3 tests/unit/test_layers.py                    # prints the layer of every module

Layers, lowest first (a module may import its own layer and those below it):
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS: list[tuple[str, ...]] = [
    ("hati.wording", "hati.errors"),
    ("hati.config", "hati.auth", "hati.wire", "hati.results", "hati.gate"),
    ("hati.storage",),
    ("hati.pg", "hati.branching"),
    (
        "hati.audit",
        "hati.pipeline",
        "hati.functions",
        "hati.copying",
        "hati.checkpoint",
        "hati.cursors",
        "hati.prepared",
        "hati.session",
        "hati.doblocks",
        "hati.triggerbody",
        "hati.triggers",
        "hati.transactions",
        "hati.advisory",
        "hati.referential",
        "hati.lengths",
        "hati.compactor",
        "hati.state",
    ),
    ("hati.app",),
    ("hati.server",),
    ("hati.daemon", "hati.compact", "hati.demo", "hati.integrations", "hati.cli", "hati"),
]
MAX_LINES = 700
# Names of where hati keeps things in the DuckDB file (branching/layout.py spells them).
_LAYOUT_NAME = re.compile(r"(?<![\w])_(?:hbd?_|hati(?:_snap|_pg)?(?![\w]))")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "hati").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def layer_of(module: str) -> int:
    best, found = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), i
    if found < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return found


def _imports(module: str, path: Path) -> set[str]:
    """The hati modules ``module`` imports (also inside functions)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = _modules()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            # "hati" itself is the package's face: importing a submodule runs it, and it
            # loads nothing until a public name is asked for.
            if name and name not in (module, "hati"):
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    return {mod: _imports(mod, path) for mod, path in _modules().items()}


def test_every_module_has_a_layer() -> None:
    for mod in _modules():
        layer_of(mod)


def test_no_import_runs_upward() -> None:
    upward = [
        f"{mod} (layer {layer_of(mod)}) imports {dep} (layer {layer_of(dep)})"
        for mod, deps in _graph().items()
        if mod != "hati"  # the package's face names the public API, lazily
        for dep in sorted(deps)
        if layer_of(dep) > layer_of(mod)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = {m: deps for m, deps in _graph().items() if m != "hati"}
    # Drop a package -> its own submodule edge (an __init__ handing names on), which is
    # not a cycle of meaning.
    for mod, deps in graph.items():
        graph[mod] = {d for d in deps if not d.startswith(mod + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_module_is_too_long() -> None:
    long = {
        mod: n
        for mod, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def _code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are code, not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_only_layout_spells_the_storage_names() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {text!r}"
        for mod, path in _modules().items()
        if mod != "hati.branching.layout"
        for line, text in _code_strings(ast.parse(path.read_text()))
        if _LAYOUT_NAME.search(text)
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    "text",
    ["_hb_1", "_hbd_", "x _hati.branches", "_hati_snap", '"_hati_pg"', "FROM _hati"],
)
def test_the_storage_name_pattern_sees_them(text: str) -> None:
    assert _LAYOUT_NAME.search(text)


@pytest.mark.parametrize("text", ["hati_audit", "__hati_param_", "hati_regclass(x)", "_hatix"])
def test_the_storage_name_pattern_spares_others(text: str) -> None:
    assert not _LAYOUT_NAME.search(text)


if __name__ == "__main__":  # pragma: no cover - a map for readers
    graph = _graph()
    for mod in sorted(graph, key=lambda m: (layer_of(m), m)):
        print(f"{layer_of(mod)}  {mod:40} -> {', '.join(sorted(graph[mod])) or '-'}")
    sys.exit(0)
