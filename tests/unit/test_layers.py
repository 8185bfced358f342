"""The layering of DESIGN.md, checked on the source: pure modules stay pure, lower layers never import
higher ones nor a sibling package of their layer (compose and cluster are independent), no import cycle
among stackctl modules, no private name imported across packages, the relay's C files call each other
one way, and `stackctl --help` does not import the heavy libraries."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parents[2] / "stackctl"

# Pure decision code: no engine, no network, no processes, no environment, no clock.
PURE = sorted(
    [p for p in (PKG / "composefile").rglob("*.py")
     if p.name not in {"loader.py", "fileload.py", "discovery.py", "include.py", "environment.py", "readers.py"}]
    + list((PKG / "model").rglob("*.py"))
    + list((PKG / "plan").rglob("*.py"))
    + [PKG / "engine" / name for name in ("container_config.py", "mounts.py", "durations.py", "images.py", "bind.py")]
    + [PKG / "lb" / "pool.py", PKG / "lb" / "config.py", PKG / "humanize.py"]
    + [PKG / "cluster" / name for name in ("tasks.py", "scheduler.py", "constraints.py", "reconcile.py",
                                           "election.py", "naming.py", "state.py", "health.py", "kv.py",
                                           "deploy.py", "views.py", "converge.py", "traffic.py", "updates.py",
                                           "restarts.py", "ordering.py", "status.py")]
)
FORBIDDEN_MODULES = {"docker", "asyncssh", "paramiko", "socket", "subprocess", "requests", "asyncio",
                     "importlib"}  # importlib: looking for installed modules is I/O too
FORBIDDEN_CALLS = {("os", "environ"), ("os", "getenv"), ("time", "time"), ("time", "monotonic"),
                   ("datetime", "now"), ("os", "system")}
# Lower layers must not import these higher ones.
HIGHER = ("stackctl.drivers", "stackctl.compose", "stackctl.cli", "stackctl.execute", "stackctl.lab",
          "stackctl.cluster.agent", "stackctl.cluster.reconciler")


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PKG)))
def test_pure_module_does_no_io(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = sorted(m for m in _imports(tree) if m.split(".")[0] in FORBIDDEN_MODULES)
    assert not bad, f"{path.name} imports {bad}"
    uses = sorted({f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
                   if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                   and (n.value.id, n.attr) in FORBIDDEN_CALLS})
    assert not uses, f"{path.name} uses {uses}"
    upward = sorted(m for m in _imports(tree) if any(m == h or m.startswith(h + ".") for h in HIGHER))
    assert not upward, f"{path.name} imports a higher layer: {upward}"


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from stackctl.cli.main import build_parser; build_parser().format_help();"
            "print(','.join(sorted(m for m in ('docker','jsonschema','networkx','asyncssh','yaml','uvloop')"
            " if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at --help: {out.stdout.strip()}"


# -- the import graph of stackctl: layers, cycles, private names ------------------------------------
# Every import counts, at module level or inside a function (a lazy import is still a dependency).

# Packages by layer, lowest first: a module imports its own package and lower layers only, never a
# higher one nor a sibling of its own layer (compose and cluster sit side by side on the engine layer).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("stackctl", "stackctl.errors", "stackctl.labels", "stackctl.nodes", "stackctl.schema_files", "stackctl.humanize",
     "stackctl._schemas"),
    ("stackctl.model", "stackctl.lb"),
    ("stackctl.composefile",),
    ("stackctl.plan",),
    ("stackctl.drivers", "stackctl.execute"),
    ("stackctl.engine",),
    ("stackctl.compose", "stackctl.cluster"),
    ("stackctl.lab",),
    ("stackctl.cli",),
    ("stackctl.__main__",),
)

def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES.get(name, PKG).name == "__init__.py"


def _imported_names(module: str, tree: ast.AST) -> list[tuple[str, int]]:
    """Every dotted name imported (``pkg.mod`` or ``pkg.mod.name``), relative imports made absolute."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if _is_package(module) else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name == "stackctl" or name.startswith("stackctl.")]


def _resolve(name: str) -> str:
    """The stackctl module a dotted name lives in (``stackctl.errors.DriverError`` -> ``stackctl.errors``)."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _import_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported name) -> where ("stackctl/x.py:12"), the name kept whole for the private check."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, path in MODULES.items():
        for name, line in _imported_names(module, ast.parse(path.read_text(), filename=str(path))):
            edges.setdefault((module, name), []).append(f"{path.relative_to(PKG.parent)}:{line}")
    return edges


EDGES = _import_edges()


def _module_graph(ignored: frozenset[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer, name in EDGES:
        target = _resolve(name)
        if target != importer and (importer, name) not in ignored and (importer, target) not in ignored:
            graph[importer].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_closed_path(graph, set(group)) for group in groups]


def _closed_path(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path from the group's first module back to itself, inside the group (breadth first: shortest)."""
    start = min(group)
    came: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(came[chain[-1]])
                    return [*reversed(chain), start]
                if nxt not in came:
                    came[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start}")


def test_no_import_cycle_among_stackctl_modules() -> None:
    cycles = _cycles(_module_graph(frozenset()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]  # a self-import is not a cycle between modules


def _layer(module: str) -> tuple[int, str]:
    """(layer number, package) of a module: the longest package prefix named in LAYERS."""
    best = (-1, "")
    for rank, packages in enumerate(LAYERS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and len(package) > len(best[1]):
                best = (rank, package)
    assert best[0] >= 0, f"{module} is in no layer: add its package to LAYERS"
    return best


def test_no_module_imports_a_higher_layer_or_a_sibling_package() -> None:
    bad = []
    for (importer, name), where in sorted(EDGES.items()):
        target = _resolve(name)
        (mine, my_pkg), (theirs, their_pkg) = _layer(importer), _layer(target)
        if my_pkg == their_pkg or their_pkg == "stackctl":
            continue
        if theirs >= mine:
            bad.append(f"{where[0]}: {importer} (layer {mine}, {my_pkg}) imports {target} "
                       f"(layer {theirs}, {their_pkg})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("importer, imported", [
    ("stackctl.model", "stackctl.plan"), ("stackctl.model", "stackctl.composefile"),
    ("stackctl.drivers", "stackctl.cluster"), ("stackctl.drivers", "stackctl.compose"),
    ("stackctl.compose", "stackctl.cluster"), ("stackctl.cluster", "stackctl.compose"),
    ("stackctl.nodes", "stackctl.drivers"), ("stackctl.nodes", "stackctl.cluster"),
])
def test_the_layers_forbid(importer: str, imported: str) -> None:
    """The arrows DESIGN.md names, spelt out: the layer order above must keep forbidding them."""
    (mine, my_pkg), (theirs, their_pkg) = _layer(importer + ".x"), _layer(imported + ".x")
    assert my_pkg != their_pkg and theirs >= mine


def _private_part(name: str) -> str | None:
    """The package or module that owns the first private (``_x``) part of a dotted name, if any."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:i])
            return owner if _is_package(owner) else owner.rpartition(".")[0]
    return None


def test_no_private_name_is_imported_across_packages() -> None:
    bad = []
    for (importer, name), where in sorted(EDGES.items()):
        owner = _private_part(name)
        if owner and not (importer == owner or importer.startswith(owner + ".")):
            bad.append(f"{where[0]}: {importer} imports {name}, private to {owner}")
    assert not bad, "\n".join(bad)


# -- the native relay's C files call each other one way ---------------------------------------------

_C_DEFINITION = re.compile(r"^(?!static\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$", re.MULTILINE)


def test_c_files_of_the_relay_depend_one_way() -> None:
    sources = {p.name: p.read_text() for p in sorted((PKG / "lb").glob("*.c"))}
    defined = {name: file for file, text in sources.items() for name in _C_DEFINITION.findall(text)}
    calls = {file: {defined[n] for n in re.findall(r"\b([A-Za-z_]\w*)\s*\(", text)
                    if n in defined and defined[n] != file} for file, text in sources.items()}
    assert "proxy_header" in defined and len(sources) >= 2
    cycles = _cycles(calls)
    assert not cycles, "C files calling each other: " + "; ".join(" -> ".join(c) for c in cycles)
