"""Fail on any import cycle inside ``src/agegender``, on any import that goes back up the
layers, and on any module over 400 lines.

The layers, bottom up (a module may import its own layer and those below it; peers within
one layer may import each other, which the cycle check keeps acyclic)::

    errors, _fs, _version, runtime -> ages -> faces -> io, mask, align -> convert -> models
    -> detect, estimate -> analyzer, annotation -> track
    -> video, eval, server, train, batch -> cli, __main__

The package's own ``__init__`` (lazy attributes) sits on top: nothing inside imports it.

Every import counts, including those inside functions (a lazy import that goes back up
is still an arrow going back up); only imports under ``if TYPE_CHECKING:`` are left out,
since they never run. ``from pkg import name`` is an arrow to ``pkg.name`` when that is a
module, else to ``pkg`` itself.

Usage: ``python tools/check_structure.py [--max-lines 400] [--graph]``; exit 1 with one
line per problem, 0 when the tree is clean.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "agegender"


def module_names(root: Path) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[str, int, list[str]]]:
    """(module, level, names) for every import outside ``if TYPE_CHECKING``."""
    found: list[tuple[str, int, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, 0, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    names = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module, level, imported in _imports(tree):
            if level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (level - 1)]
                module = ".".join(base + ([module] if module else []))
            if module != PACKAGE and not module.startswith(PACKAGE + "."):
                continue
            targets = [f"{module}.{n}" for n in imported if f"{module}.{n}" in names]
            if len(targets) < len(imported) or not imported:
                targets.append(module)
            for target in targets:
                while target not in names and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in names and target != name:
                    graph[name].add(target)
    return graph


LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_fs", "_version", "runtime"),
    ("ages", "labels"),
    ("faces",),
    ("io", "mask", "align"),
    ("convert",),
    ("models",),
    ("detect", "estimate"),
    ("analyzer", "annotation", "inventory"),
    ("track",),
    ("video", "eval", "server", "train", "batch"),
    ("cli", "__main__"),
)


def layer_of(module: str) -> int:
    """The layer of ``agegender.<part>...``; the package itself is above them all."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS)
    for rank, names in enumerate(LAYERS):
        if parts[1] in names:
            return rank
    raise KeyError(f"{module}: its top-level part {parts[1]!r} has no layer in LAYERS")


def upward(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer to a higher one."""
    out = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            try:
                if layer_of(b) > layer_of(a):
                    out.append((a, b))
            except KeyError as e:
                out.append((a, f"{b} ({e.args[0]})"))
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def long_modules(root: Path, max_lines: int) -> list[tuple[Path, int]]:
    out = []
    for path in module_names(root).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > max_lines:
            out.append((path, n))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=400)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--graph", action="store_true", help="print every module's imports")
    args = parser.parse_args(argv)
    graph = import_graph(args.root)
    if args.graph:
        for name in sorted(graph):
            print(name, "->", ", ".join(sorted(graph[name])) or "-")
    problems = []
    for component in cycles(graph):
        inside = {m: sorted(graph[m] & set(component)) for m in component}
        edges = "; ".join(f"{m} -> {', '.join(t)}" for m, t in inside.items())
        problems.append(f"import cycle among {len(component)} modules: {edges}")
    for a, b in upward(graph):
        problems.append(f"{a} imports {b}, a layer above it (see LAYERS); move the code down")
    for path, n in long_modules(args.root, args.max_lines):
        rel = path.relative_to(args.root.parent) if args.root.parent in path.parents else path
        problems.append(f"{rel}: {n} lines (at most {args.max_lines}); split it by concern")
    for line in problems:
        print(line)
    if not problems:
        print(f"ok: {len(graph)} modules, no import cycle, no import up a layer, "
              f"none over {args.max_lines} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
