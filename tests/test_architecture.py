"""The import rule of the package, read from its source with ``ast``.

Layers, lowest first (``docs/architecture.md``): errors and config, format,
codecs, storage, chunks, index, hl, catalog and transfer, then the cli and the
package ``__init__``.  A module imports only from its own layer or lower ones;
no two modules import each other, even through others; imports sit at module
top, and one inside a function or under ``if`` says why on its line or the
line above (``if TYPE_CHECKING:`` blocks need no reason); no module is longer
than 600 lines; every module lists its public names in ``__all__``.

The checks are functions of plain data (module name -> source, module ->
imported modules), so the self-tests at the bottom plant violations in small
synthetic inputs and make sure each check reports them.
"""
from __future__ import annotations

import ast
import importlib.util
import io
from pathlib import Path
import tokenize
from typing import NamedTuple

import pytest

PACKAGE = "dosna_like"
# found without importing it: the source is checked even when importing it fails
PACKAGE_DIR = Path(importlib.util.find_spec(PACKAGE).submodule_search_locations[0]).resolve()
MAX_LINES = 600

# first component under the package -> layer; a module imports only from layers <= its own
LAYERS = {
    "errors": 0, "config": 0,
    "format": 1,
    "codecs": 2,
    "storage": 3,
    "chunks": 4,
    "index": 5,
    "hl": 6,
    "catalog": 7, "transfer": 7,
    "cli": 8, "compat": 8, "serve": 8, "__init__": 8,
}


class Import(NamedTuple):
    """One import statement of a module, resolved to the package module it names."""

    target: str  # a module of the package, e.g. "dosna_like.chunks.selection"
    lineno: int
    type_checking: bool  # under ``if TYPE_CHECKING:``: never executed


class Misplaced(NamedTuple):
    """An import inside a function, class or ``if`` (not ``if TYPE_CHECKING:``)."""

    module: str
    lineno: int
    statement: str
    reason: str | None  # the comment on its line or the line above; None if there is none


# ------------------------------------------------------------------ reading
def package_sources() -> dict[str, str]:
    """Module name -> source, for every module of the installed package
    (a package by its own name: ``dosna_like``, ``dosna_like.hl``)."""
    out = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([PACKAGE, *parts])] = path.read_text(encoding="utf-8")
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_imports(tree: ast.Module):
    """(import node, nested, under TYPE_CHECKING) for every import statement.

    ``nested``: inside a function, class or ``if`` block.  Module-level
    ``try`` blocks count as module top: that is where an optional dependency
    is imported.
    """
    def visit(nodes, nested: bool, type_checking: bool):
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, nested, type_checking
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.body, nested, True)
                yield from visit(node.orelse, True, type_checking)
            elif isinstance(node, ast.If):
                yield from visit(node.body + node.orelse, True, type_checking)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(node.body, True, type_checking)
            else:
                yield from visit(list(ast.iter_child_nodes(node)), nested, type_checking)
    yield from visit(tree.body, False, False)


def resolve(module: str, node: ast.Import | ast.ImportFrom, sources: dict[str, str]) -> list[str]:
    """The package modules an import statement of ``module`` names (other imports give none).

    ``from .. import x`` names module ``x`` when there is one, else the package
    whose ``__init__`` defines ``x``.
    """
    if isinstance(node, ast.Import):
        return sorted({_nearest_module(alias.name, sources) for alias in node.names
                       if alias.name.split(".")[0] == PACKAGE})
    origin = node.module or ""
    if node.level:
        is_package = any(m.startswith(module + ".") for m in sources)
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        origin = ".".join(base + ([node.module] if node.module else []))
    if origin.split(".")[0] != PACKAGE:
        return []
    return sorted({f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in sources
                   else _nearest_module(origin, sources) for alias in node.names})


def _nearest_module(name: str, sources: dict[str, str]) -> str:
    """``name`` or the closest enclosing package that is a module of ``sources``."""
    while name not in sources and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_table(sources: dict[str, str]) -> dict[str, list[Import]]:
    """Module -> the package modules it imports, with where and how."""
    table = {}
    for module, source in sources.items():
        entries = []
        for node, _nested, type_checking in _walk_imports(ast.parse(source)):
            for target in resolve(module, node, sources):
                if target != module:
                    entries.append(Import(target, node.lineno, type_checking))
        table[module] = entries
    return table


# ------------------------------------------------------------------- checks
def layer_of(module: str) -> int:
    """The layer of a package module (KeyError names a module no layer lists)."""
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"  # the package itself: its __init__
    if key not in LAYERS:
        raise KeyError(f"{module} is in no layer: add {key!r} to LAYERS (and to docs/architecture.md)")
    return LAYERS[key]


def upward_imports(table: dict[str, list[Import]]) -> list[str]:
    """Every import of a module from a higher layer, as readable lines."""
    out = []
    for module, imports in sorted(table.items()):
        for imp in imports:
            if layer_of(imp.target) > layer_of(module):
                out.append(f"{module}:{imp.lineno} (layer {layer_of(module)}) imports {imp.target} "
                           f"(layer {layer_of(imp.target)})")
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> modules it imports): its strongly
    connected components of more than one module, or of one module importing itself.

    Tarjan's algorithm, iterative so deep graphs cannot exhaust the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return sorted(cycles)


def runtime_graph(table: dict[str, list[Import]]) -> dict[str, set[str]]:
    """Module -> modules it imports when run (``if TYPE_CHECKING:`` imports left out)."""
    return {m: {i.target for i in imports if not i.type_checking} for m, imports in table.items()}


def _comments(source: str) -> dict[int, str]:
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def misplaced_imports(sources: dict[str, str]) -> list[Misplaced]:
    """Imports inside a function, class or ``if`` block, with the comment that gives
    their reason (on the import's line or the line above), if any."""
    out = []
    for module, source in sorted(sources.items()):
        lines = source.splitlines()
        comments = _comments(source)
        for node, nested, type_checking in _walk_imports(ast.parse(source)):
            if not nested or type_checking:
                continue
            reason = comments.get(node.lineno) or comments.get(node.lineno - 1)
            out.append(Misplaced(module, node.lineno, lines[node.lineno - 1].strip(), reason))
    return out


def long_modules(sources: dict[str, str], limit: int = MAX_LINES) -> list[str]:
    return [f"{m}: {len(s.splitlines())} lines" for m, s in sorted(sources.items()) if len(s.splitlines()) > limit]


def all_problems(sources: dict[str, str]) -> list[str]:
    """Modules whose ``__all__`` is missing, names something the module lacks, or
    leaves out a public name it defines (a package ``__init__``: one it imports)."""
    out = []
    for module, source in sorted(sources.items()):
        tree = ast.parse(source)
        defined, imported, declared = [], [], None
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if "__all__" in names:
                    declared = ast.literal_eval(node.value)
                elif node.value is not None:
                    defined += names
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__" or isinstance(node, ast.Import):
                imported += [(a.asname or a.name).split(".")[0] for a in node.names]
        if declared is None:
            out.append(f"{module}: no __all__")
            continue
        is_package = any(m.startswith(module + ".") for m in sources)
        for name in declared:
            if name not in defined and name not in imported:
                out.append(f"{module}: __all__ names {name!r}, which it does not define")
        public = [n for n in defined + (imported if is_package else []) if not n.startswith("_")]
        out += [f"{module}: {name!r} missing from __all__" for name in dict.fromkeys(public) if name not in declared]
    return out


# -------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return package_sources()


@pytest.fixture(scope="module")
def table(sources) -> dict[str, list[Import]]:
    return import_table(sources)


def test_every_module_is_in_a_layer(sources):
    for module in sources:
        layer_of(module)


def test_no_module_imports_from_a_higher_layer(table):
    assert upward_imports(table) == []


def test_no_import_cycles(table):
    assert find_cycles(runtime_graph(table)) == []


def test_imports_inside_functions_say_why(sources):
    unexplained = [f"{m.module}:{m.lineno}: {m.statement}" for m in misplaced_imports(sources) if not m.reason]
    assert unexplained == [], "move these imports to the module top, or say why on their line or the line above"


def test_no_module_is_too_long(sources):
    assert long_modules(sources) == []


def test_every_module_declares_its_public_names(sources):
    assert all_problems(sources) == []


# ---------------------------------------------- the checks catch violations
SYNTHETIC = {
    "dosna_like": "from .hl.files import File\n",
    "dosna_like.errors": "class DosnaError(Exception):\n    pass\n",
    "dosna_like.format": "",
    "dosna_like.format.keys": (
        "from ..errors import DosnaError\n"
        "from ..hl import files\n"  # planted: format (1) imports hl (6)
    ),
    "dosna_like.hl": "",
    "dosna_like.hl.files": (
        "from typing import TYPE_CHECKING\n"
        "from ..format.keys import *\n"
        "import dosna_like.hl.group\n"
        "if TYPE_CHECKING:\n"
        "    from .dataset import Dataset\n"
        "def open_file():\n"
        "    from . import dataset\n"  # planted: no reason given
        "    # h5py is optional\n"
        "    import h5py\n"
        "    import numpy  # reason on the line\n"
        "if True:\n"
        "    import os\n"  # planted: no reason given
    ),
    "dosna_like.hl.group": "from .files import open_file\n",
    "dosna_like.hl.dataset": "from . import group\n",
}


def test_resolve_reads_relative_and_absolute_imports():
    table = import_table(SYNTHETIC)
    assert table["dosna_like"] == [Import("dosna_like.hl.files", 1, False)]
    assert table["dosna_like.format.keys"] == [Import("dosna_like.errors", 1, False),
                                               Import("dosna_like.hl.files", 2, False)]
    assert table["dosna_like.hl.files"] == [
        Import("dosna_like.format.keys", 2, False), Import("dosna_like.hl.group", 3, False),
        Import("dosna_like.hl.dataset", 5, True), Import("dosna_like.hl.dataset", 7, False)]
    assert table["dosna_like.hl.dataset"] == [Import("dosna_like.hl.group", 1, False)]
    assert table["dosna_like.errors"] == [] and table["dosna_like.hl"] == []


def test_layer_check_catches_a_planted_upward_import():
    found = upward_imports(import_table(SYNTHETIC))
    assert found == ["dosna_like.format.keys:2 (layer 1) imports dosna_like.hl.files (layer 6)"]
    assert layer_of("dosna_like") == 8 and layer_of("dosna_like.errors") == 0
    with pytest.raises(KeyError, match="no layer"):
        layer_of("dosna_like.nowhere.module")


def test_cycle_finder_catches_planted_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"a"}, "b": set()}) == [["a"]]
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}) == [["a", "b"], ["c", "d"]]
    chain = {f"m{i}": {f"m{i + 1}"} for i in range(5000)}  # deeper than the recursion limit
    chain["m5000"] = {"m0"}
    assert [len(c) for c in find_cycles(chain)] == [5001]
    # an import only for type checking never runs, so it closes no cycle
    assert find_cycles(runtime_graph({"a": [Import("b", 1, False)], "b": [Import("a", 1, True)]})) == []
    # the synthetic package: keys <-> files, files -> group -> files, files -> dataset -> group
    assert find_cycles(runtime_graph(import_table(SYNTHETIC))) == [
        ["dosna_like.format.keys", "dosna_like.hl.dataset", "dosna_like.hl.files", "dosna_like.hl.group"]]


def test_position_check_catches_unexplained_imports():
    found = {(m.module, m.lineno, m.reason) for m in misplaced_imports(SYNTHETIC)}
    assert found == {("dosna_like.hl.files", 7, None), ("dosna_like.hl.files", 9, "h5py is optional"),
                     ("dosna_like.hl.files", 10, "reason on the line"), ("dosna_like.hl.files", 12, None)}


def test_all_check_catches_missing_and_wrong_names():
    sources = {
        "dosna_like": "from .hl import File, Group\n__all__ = ['File']\n",
        "dosna_like.hl": "__all__ = []\n",
        "dosna_like.hl.files": "import os\n__all__ = ['File', 'gone']\nclass File: pass\ndef open_file(): pass\n"
                               "def _private(): pass\nLIMIT = 3\n",
        "dosna_like.hl.group": "class Group: pass\n",
    }
    assert all_problems(sources) == [
        "dosna_like: 'Group' missing from __all__",
        "dosna_like.hl.files: __all__ names 'gone', which it does not define",
        "dosna_like.hl.files: 'open_file' missing from __all__",
        "dosna_like.hl.files: 'LIMIT' missing from __all__",
        "dosna_like.hl.group: no __all__",
    ]


def test_length_check_catches_a_long_module():
    assert long_modules({"dosna_like.big": "x = 1\n" * 601, "dosna_like.ok": "x = 1\n" * 600}) == [
        "dosna_like.big: 601 lines"]
