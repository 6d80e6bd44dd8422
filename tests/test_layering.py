"""The layering of ``../shared/DESIGN.md``, checked statically on the source of ``pmm_sde``.

Imports inside functions count (see ``import_graph``). Rules: no import cycle; no import of a higher
layer (a package ``__init__`` may re-export its own submodules); every module is placed in a layer;
no module named like a standard-library module; no backend selection in ``pmm_sde/solvers``.
"""

import sys
import textwrap
from pathlib import Path

import pytest

from import_graph import (ImportGraph, Layering, build_import_graph, called_names, cycles, external_imports,
                          in_package, lines_mentioning)

PACKAGE = Path(__file__).resolve().parents[1] / "pmm_sde"

# Bottom to top. A module may import its own layer and the layers below it.
LAYERS = Layering([
    ("utilities", ["pmm_sde._validation", "pmm_sde.result", "pmm_sde.distributed"]),
    ("streams: random streams, reference and backends", ["pmm_sde.streams.*"]),
    ("kernels: fused ops over the streams", ["pmm_sde.kernels.*"]),
    ("families", ["pmm_sde.families.*"]),
    ("schedules and grids", ["pmm_sde.schedules", "pmm_sde.grids"]),
    ("targets", ["pmm_sde.targets.*"]),
    ("chain: the discrete PMM chain and prediction checks", ["pmm_sde.chain"]),
    ("processes", ["pmm_sde.processes.*"]),
    ("step-size control: the PI controller", ["pmm_sde.stepsize"]),
    ("solvers", ["pmm_sde.solvers.*"]),
    ("driver: sample(), its adaptive loop, and samples to files in shards",
     ["pmm_sde.driver", "pmm_sde.adaptive", "pmm_sde.adaptive_sde", "pmm_sde.shards"]),
    ("convergence", ["pmm_sde.convergence.*"]),
    ("networks, metrics, data, testing", ["pmm_sde.networks.*", "pmm_sde.metrics", "pmm_sde.data.*",
                                          "pmm_sde.testing.*"]),
    ("training", ["pmm_sde.training.*"]),
    ("entry points", ["pmm_sde.demo", "pmm_sde.cli", "pmm_sde.__main__", "pmm_sde"]),
])

BACKEND_MODULES = ("pmm_sde.streams.backend", "pmm_sde.streams.native")
BACKEND_CALLS = ("resolve_backend", "fused_backend")


def standard_library_names(graph: ImportGraph) -> list[str]:
    """The modules of which one part of the dotted name is a standard-library module's name."""
    return [name for name in graph.modules if set(name.split(".")) & sys.stdlib_module_names]


def backend_selection(graph: ImportGraph, package: str, backend_modules: tuple[str, ...]) -> list[str]:
    """Each line of the modules of ``package`` that mentions a backend, calls ``resolve_backend``
    or ``fused_backend``, imports one of ``backend_modules``, or imports triton."""
    problems = []
    for name in sorted(graph.modules):
        if not in_package(name, package):
            continue
        tree = graph.trees[name]
        problems += [f"{name}:{line} mentions backend: {text}"
                     for line, text in lines_mentioning(graph.modules[name], tree, "backend")]
        problems += [f"{name}:{line} calls {called}" for line, called in called_names(tree) if called in BACKEND_CALLS]
        problems += [f"{name}:{line} imports {imported}" for imported, line in sorted(graph.edges[name].items())
                     if imported in backend_modules]
        problems += [f"{name}:{line} imports triton" for line, top in external_imports(tree) if top == "triton"]
    return problems


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_import_graph(PACKAGE)


def test_graph_reads_the_package(graph):
    assert not graph.unresolved, "imports of modules that do not exist:\n" + "\n".join(
        f"  {importer}:{line} imports {name}" for importer, line, name in graph.unresolved)
    assert "pmm_sde.solvers" in graph.edges["pmm_sde.driver"]


def test_no_import_cycle(graph):
    found = cycles(graph)
    report = []
    for component, edges in found:
        report.append(f"cycle of {len(component)} modules: {', '.join(component)}")
        report += [f"    {a} -> {b}  ({a}:{line})" for a, b, line in edges]
    assert not found, "import cycles (imports inside functions included):\n" + "\n".join(report)


def test_every_module_is_placed_in_a_layer(graph):
    unplaced = LAYERS.unplaced(graph)
    assert not unplaced, f"modules missing from LAYERS in {__file__}: {unplaced}"


def test_no_upward_import(graph):
    upward = LAYERS.upward_imports(graph)
    assert not upward, "imports of a higher layer:\n" + "\n".join(
        f"  {a} [{LAYERS.label(a)}] -> {b} [{LAYERS.label(b)}]  ({a}:{line})" for a, b, line in upward)


def test_no_module_named_like_the_standard_library(graph):
    clashes = standard_library_names(graph)
    assert not clashes, f"modules named like a standard-library module: {clashes}"


def test_no_backend_selection_in_solvers(graph):
    problems = backend_selection(graph, "pmm_sde.solvers", BACKEND_MODULES)
    assert not problems, "backend selection in pmm_sde/solvers:\n" + "\n".join(f"  {p}" for p in problems)


# The checker itself, on a small package written for the purpose.

SYNTHETIC = {
    "__init__.py": "",
    "low.py": """
        def late():
            from .high import value
            return value
        """,
    "high.py": "from . import low\nvalue = 1\n",
    "sub/__init__.py": "from .leaf import thing\n",
    "sub/leaf.py": "from .. import low\nfrom ..high import value\nfrom pkg import missing_attribute\nthing = 2\n",
    "user.py": "import pkg.sub.leaf\n",
    "broken.py": "import pkg.absent\n",
    "sub/queue.py": "",
    "solve.py": """
        \"\"\"Steps on a Backend.\"\"\"
        import triton
        from .high import value

        def step(x):
            return x.resolve_backend()
        """,
}


@pytest.fixture
def synthetic(tmp_path) -> ImportGraph:
    for relative, source in SYNTHETIC.items():
        path = tmp_path / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return build_import_graph(tmp_path / "pkg")


def test_checker_resolves_relative_parent_and_attribute_imports(synthetic):
    assert synthetic.edges == {
        "pkg": {},
        "pkg.low": {"pkg.high": 3},
        "pkg.high": {"pkg.low": 1},
        "pkg.sub": {"pkg.sub.leaf": 1},
        "pkg.sub.leaf": {"pkg.low": 1, "pkg.high": 2, "pkg": 3},
        "pkg.user": {"pkg.sub": 1, "pkg.sub.leaf": 1},
        "pkg.broken": {},
        "pkg.sub.queue": {},
        "pkg.solve": {"pkg.high": 4},
    }
    assert synthetic.unresolved == [("pkg.broken", 1, "pkg.absent")]


def test_checker_finds_a_cycle_through_an_import_inside_a_function(synthetic):
    assert cycles(synthetic) == [(["pkg.high", "pkg.low"], [("pkg.high", "pkg.low", 1), ("pkg.low", "pkg.high", 3)])]


def test_checker_finds_upward_and_unplaced_modules(synthetic):
    layers = Layering([("bottom", ["pkg.low", "pkg.broken"]), ("middle", ["pkg.sub.*"]),
                       ("top", ["pkg.high", "pkg.solve", "pkg"]), ("above", ["pkg.sub.leaf"])])
    assert layers.unplaced(synthetic) == ["pkg.user"]
    labels = [layers.label(name) for name in ("pkg.sub.leaf", "pkg.sub", "pkg.sub.queue")]
    assert labels == ["above", "middle", "middle"]
    exact_first = Layering([("exact", ["pkg.sub"]), ("subtree", ["pkg.sub.*"])])
    assert [exact_first.label(name) for name in ("pkg.sub", "pkg.sub.leaf")] == ["exact", "subtree"]
    # pkg.sub re-exports its own submodule pkg.sub.leaf from a higher layer: allowed.
    assert layers.upward_imports(synthetic) == [("pkg.low", "pkg.high", 3)]


def test_checker_finds_standard_library_names_and_backend_selection(synthetic):
    assert standard_library_names(synthetic) == ["pkg.sub.queue"]
    assert backend_selection(synthetic, "pkg.solve", ("pkg.high",)) == [
        "pkg.solve:2 mentions backend: \"\"\"Steps on a Backend.\"\"\"",
        "pkg.solve:7 mentions backend: return x.resolve_backend()",
        "pkg.solve:7 calls resolve_backend",
        "pkg.solve:4 imports pkg.high",
        "pkg.solve:3 imports triton",
    ]
    assert backend_selection(synthetic, "pkg.sub", ()) == []


def test_checker_refuses_a_relative_import_beyond_the_package(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("from .. import other\n")
    with pytest.raises(ValueError, match="mod.py:1: relative import beyond the top-level package"):
        build_import_graph(tmp_path / "pkg")
