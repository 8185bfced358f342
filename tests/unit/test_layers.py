"""The layering of DESIGN.md, checked on the source: pure modules stay pure, lower layers never import
higher ones, and `stackctl --help` does not import the heavy libraries."""

from __future__ import annotations

import ast
import pathlib
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
    + [PKG / "lb" / "pool.py", PKG / "lb" / "config.py"]
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
