"""Static import graph of a Python package, read from its source with ``ast``; checks on it.

Every ``import`` and ``from ... import`` statement of every module counts, those inside functions
and methods included (``ast.walk`` visits the whole tree). An edge ``a -> b`` means that running
module ``a`` may run module ``b``:

- ``import p.m`` and ``from p.m import name`` give ``a -> p.m``;
- ``from p import name`` gives ``a -> p.name`` when ``p.name`` is a module, else ``a -> p``;
- relative imports resolve against ``a``'s package (``a`` itself when ``a`` is a package ``__init__``);
- importing ``p.q.m`` also runs the ``__init__`` of ``p.q`` and ``p``, so those are edges too,
  except the packages that contain ``a`` (they run before ``a`` does).

Only imports of the package itself are kept; an import of a module of the package that does not
exist is recorded as unresolved rather than silently attached to its parent.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence


@dataclass(frozen=True)
class Module:
    """One module of the package: its dotted name, its source file, whether it is a package."""

    name: str
    path: Path
    is_package: bool


@dataclass
class ImportGraph:
    """``edges[a][b]`` is the first line of ``a`` whose import runs ``b``; ``unresolved`` lists
    ``(importer, line, dotted name)`` for imports of package modules that do not exist."""

    modules: dict[str, Module]
    trees: dict[str, ast.Module]
    edges: dict[str, dict[str, int]]
    unresolved: list[tuple[str, int, str]] = field(default_factory=list)


def package_modules(root: Path) -> dict[str, Module]:
    """Every ``.py`` file under the package directory ``root``, keyed by its dotted module name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def ancestors(name: str) -> list[str]:
    """The packages that contain module ``name``, outermost first (``a.b.c`` -> ``a``, ``a.b``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def in_package(name: str, package: str) -> bool:
    """Whether module ``name`` is ``package`` or lies under it."""
    return name == package or name.startswith(package + ".")


def _from_base(module: Module, node: ast.ImportFrom) -> str:
    """The absolute name of ``from <base> import ...``, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    if node.level - 1 >= len(package):
        raise ValueError(f"{module.path}:{node.lineno}: relative import beyond the top-level package")
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _direct_imports(module: Module, tree: ast.Module, root: str) -> Iterator[tuple[int, str, str | None]]:
    """``(line, module name, attribute)`` for each import of the package in ``tree``: the name that
    must be a module, and for ``from m import attribute`` the name that may be a submodule."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if in_package(alias.name, root):
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(module, node)
            if in_package(base, root):
                for alias in node.names:
                    yield node.lineno, base, None if alias.name == "*" else alias.name


def build_import_graph(root: Path) -> ImportGraph:
    """The import graph of the package whose directory is ``root`` (its name is the package's)."""
    modules = package_modules(root)
    trees = {name: ast.parse(module.path.read_text(), filename=str(module.path))
             for name, module in modules.items()}
    graph = ImportGraph(modules, trees, {name: {} for name in modules})
    for name, module in modules.items():
        edges = graph.edges[name]
        for line, base, attribute in _direct_imports(module, trees[name], root.name):
            if base not in modules:
                graph.unresolved.append((name, line, base))
                continue
            submodule = f"{base}.{attribute}" if attribute else None
            target = submodule if submodule in modules else base
            for imported in [*ancestors(target), target]:
                runs_first = imported in ancestors(name) and imported != target
                if imported != name and not runs_first:
                    edges.setdefault(imported, line)
    return graph


def strongly_connected_components(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of the graph, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in edges.get(node, {}):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def cycles(graph: ImportGraph) -> list[tuple[list[str], list[tuple[str, str, int]]]]:
    """Every strongly connected component of more than one module, with the edges inside it
    ``(importer, imported, line)``: the imports that close the cycle."""
    found = []
    for component in strongly_connected_components(graph.edges):
        if len(component) > 1:
            members = set(component)
            inside = [(a, b, line) for a in component for b, line in sorted(graph.edges[a].items()) if b in members]
            found.append((component, inside))
    return found


def _specificity(pattern: str, name: str) -> tuple[int, bool] | None:
    """How closely ``pattern`` names module ``name`` (longer, then exact, is closer); None if it
    does not match."""
    if pattern.endswith(".*"):
        return (len(pattern) - 2, False) if in_package(name, pattern[:-2]) else None
    return (len(pattern), True) if name == pattern else None


class Layering:
    """Layers bottom to top, each ``(label, patterns)``; a pattern is a dotted module name, or
    ``p.*`` for package (or module) ``p`` and everything under it. The closest matching pattern
    (the longest name, an exact name before ``p.*``) places a module, so a submodule can be placed
    apart from its package."""

    def __init__(self, layers: Sequence[tuple[str, Sequence[str]]]):
        self.layers = list(layers)

    def place(self, name: str) -> int | None:
        """The index (0 = bottom) of the layer of module ``name``; None if no pattern matches."""
        matches = [(closeness, level) for level, (_, patterns) in enumerate(self.layers)
                   for closeness in (_specificity(pattern, name) for pattern in patterns) if closeness]
        return max(matches)[1] if matches else None

    def label(self, name: str) -> str:
        """The label of module ``name``'s layer."""
        level = self.place(name)
        return "unplaced" if level is None else self.layers[level][0]

    def unplaced(self, graph: ImportGraph) -> list[str]:
        """The modules of the graph that no pattern places."""
        return [name for name in graph.modules if self.place(name) is None]

    def upward_imports(self, graph: ImportGraph) -> list[tuple[str, str, int]]:
        """``(importer, imported, line)`` for each import of a higher layer; a package importing
        its own submodules (re-exports) is allowed."""
        upward = []
        for importer, imported_lines in graph.edges.items():
            for imported, line in sorted(imported_lines.items()):
                low, high = self.place(importer), self.place(imported)
                own_submodule = imported.startswith(importer + ".")
                if low is not None and high is not None and high > low and not own_submodule:
                    upward.append((importer, imported, line))
        return upward


def _names_and_strings(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """``(node, text)`` for every identifier, attribute, parameter, keyword, definition, imported
    name and string constant (docstrings included) in ``tree``."""
    for node in ast.walk(tree):
        texts: list[str | None] = []
        if isinstance(node, ast.Name):
            texts = [node.id]
        elif isinstance(node, ast.Attribute):
            texts = [node.attr]
        elif isinstance(node, ast.arg):
            texts = [node.arg]
        elif isinstance(node, ast.keyword):
            texts = [node.arg]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            texts = [node.name]
        elif isinstance(node, ast.alias):
            texts = [node.name, node.asname]
        elif isinstance(node, ast.ImportFrom):
            texts = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts = [node.value]
        for text in texts:
            if text is not None:
                yield node, text


def lines_mentioning(module: Module, tree: ast.AST, word: str) -> list[tuple[int, str]]:
    """``(line, source line)`` for each line of ``module`` where an identifier, attribute,
    parameter, keyword, definition, imported name or string (docstrings included) contains
    ``word``, ignoring case; comments do not count."""
    source = module.path.read_text().splitlines()
    word = word.lower()
    found = set()
    for node, text in _names_and_strings(tree):
        if word in text.lower():
            first = node.lineno
            last = getattr(node, "end_lineno", None) or first
            lines = [n for n in range(first, last + 1) if word in source[n - 1].lower()]
            found.update(lines or [first])
    return [(n, source[n - 1].strip()) for n in sorted(found)]


def called_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, name)`` for every call ``name(...)`` or ``obj.name(...)`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                yield node.lineno, node.func.id
            elif isinstance(node.func, ast.Attribute):
                yield node.lineno, node.func.attr


def external_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, top-level name)`` for every absolute import in ``tree`` (``import a.b`` -> ``a``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.lineno, node.module.split(".")[0]
