"""The cluster inventory: which machines, how to reach them, and which cluster is the current one.

An inventory is a JSON (or YAML) file following ``schemas/inventory.schema.json``. Problems are all
reported at once, each naming the file and the key path (``nodes[1].address``), like compose files.

Named clusters work like docker contexts: ``STACKCTL_HOME/clusters/NAME.json`` points at an
inventory file and ``STACKCTL_HOME/current-cluster`` names the current one. ``--cluster FILE`` and
``$STACKCTL_CLUSTER`` (a file or a cluster name) override it; :func:`resolve_inventory_path` decides.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.errors import ClusterError, Problem
from stackctl.nodes import NodeSpec as NodeSpec  # noqa: PLC0414 - re-exported (mypy strict needs the alias)
from stackctl.nodes import SshSettings as SshSettings  # noqa: PLC0414

SCHEMA_FILE = "inventory.schema.json"
CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class InventoryError(ClusterError):
    """An inventory file is wrong; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True)
class Inventory:
    name: str
    file: str
    nodes: tuple[NodeSpec, ...]
    etcd_endpoints: tuple[str, ...] = ()

    @property
    def managers(self) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.is_manager)

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        known = ", ".join(n.name for n in self.nodes)
        raise ClusterError(f"{self.file}: no node named {name!r} (nodes: {known})")


# --- parsing (pure) --------------------------------------------------------------------------------

def _json_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def schema_problems(doc: Any, schema: Mapping[str, Any], *, file: str) -> list[Problem]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    return [Problem(file, _json_path(err.absolute_path), err.message)
            for err in validator.iter_errors(doc)]


def _ssh(raw: Mapping[str, Any], base: SshSettings, base_dir: pathlib.Path) -> SshSettings:
    def path(key: str, default: pathlib.Path | None) -> pathlib.Path | None:
        value = raw.get(key)
        return (base_dir / pathlib.Path(value).expanduser()) if value else default

    return SshSettings(user=raw.get("user", base.user), port=raw.get("port", base.port),
                       identity_file=path("identity_file", base.identity_file),
                       known_hosts=path("known_hosts", base.known_hosts))


def parse_inventory(doc: Any, *, file: str, base_dir: pathlib.Path, schema: Mapping[str, Any],
                    default_name: str = "cluster") -> Inventory:
    """Validate a loaded document and build the Inventory; raises InventoryError with every problem."""
    problems = schema_problems(doc, schema, file=file)
    if problems:
        raise InventoryError(problems)
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc["nodes"]):
        if raw["name"] in seen:
            problems.append(Problem(file, f"nodes[{i}].name",
                                    f"duplicate node name {raw['name']!r} (also nodes[{seen[raw['name']]}])"))
        seen.setdefault(raw["name"], i)
    if problems:
        raise InventoryError(problems)
    defaults = _ssh(doc.get("ssh", {}), SshSettings(), base_dir)
    nodes = tuple(NodeSpec(name=raw["name"], address=raw["address"], role=raw.get("role", "worker"),
                           labels=dict(raw.get("labels", {})),
                           ssh=_ssh(raw.get("ssh", {}), defaults, base_dir))
                  for raw in doc["nodes"])
    return Inventory(name=doc.get("name", default_name), file=file, nodes=nodes,
                     etcd_endpoints=tuple(doc.get("etcd", {}).get("endpoints", [])))


# --- files ----------------------------------------------------------------------------------------

def load_schema() -> dict[str, Any]:
    from stackctl import schema_files

    return schema_files.load(SCHEMA_FILE)


def load_inventory(path: pathlib.Path | str) -> Inventory:
    """Read, validate and parse an inventory file."""
    import yaml

    path = pathlib.Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError([Problem(file, "", f"cannot read inventory: {exc.strerror or exc}")]) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InventoryError([Problem(file, "", f"not valid JSON/YAML: {exc}", line)]) from exc
    return parse_inventory(doc, file=file, base_dir=path.resolve().parent, schema=load_schema(),
                           default_name=path.stem)


def dump_inventory(doc: Mapping[str, Any], path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- named clusters ------------------------------------------------------------------------------

def default_home(env: Mapping[str, str], home: pathlib.Path) -> pathlib.Path:
    """``$STACKCTL_HOME``, else ``$XDG_CONFIG_HOME/stackctl``, else ``~/.config/stackctl``."""
    if env.get("STACKCTL_HOME"):
        return pathlib.Path(env["STACKCTL_HOME"])
    if env.get("XDG_CONFIG_HOME"):
        return pathlib.Path(env["XDG_CONFIG_HOME"]) / "stackctl"
    return home / ".config" / "stackctl"


@dataclass(frozen=True)
class ClusterEntry:
    name: str
    inventory: pathlib.Path
    current: bool


class ClusterStore:
    """Named clusters under one directory, and which one is current."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root

    @property
    def _dir(self) -> pathlib.Path:
        return self.root / "clusters"

    @property
    def _current_file(self) -> pathlib.Path:
        return self.root / "current-cluster"

    def register(self, name: str, inventory: pathlib.Path, *, make_current: bool = False) -> None:
        if not CLUSTER_NAME_RE.match(name):
            raise ClusterError(f"cluster name {name!r} is invalid (letters, digits, '_', '.', '-')")
        self._dir.mkdir(parents=True, exist_ok=True)
        entry = {"inventory": str(pathlib.Path(inventory).resolve())}
        (self._dir / f"{name}.json").write_text(json.dumps(entry) + "\n", encoding="utf-8")
        if make_current:
            self.use(name)

    def remove(self, name: str) -> None:
        (self._dir / f"{name}.json").unlink(missing_ok=True)
        if self.current() == name:
            self._current_file.unlink(missing_ok=True)

    def inventory_of(self, name: str) -> pathlib.Path:
        entry = self._dir / f"{name}.json"
        try:
            return pathlib.Path(json.loads(entry.read_text(encoding="utf-8"))["inventory"])
        except FileNotFoundError:
            known = ", ".join(e.name for e in self.entries()) or "none"
            raise ClusterError(f"no cluster named {name!r} (known: {known})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"{entry}: not a cluster entry ({exc})") from exc

    def use(self, name: str) -> None:
        self.inventory_of(name)  # raises if unknown
        self.root.mkdir(parents=True, exist_ok=True)
        self._current_file.write_text(name + "\n", encoding="utf-8")

    def current(self) -> str | None:
        try:
            return self._current_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def entries(self) -> list[ClusterEntry]:
        if not self._dir.is_dir():
            return []
        current = self.current()
        out = []
        for f in sorted(self._dir.glob("*.json")):
            try:
                inv = pathlib.Path(json.loads(f.read_text(encoding="utf-8"))["inventory"])
            except (ValueError, KeyError, TypeError, OSError):
                continue
            out.append(ClusterEntry(f.stem, inv, f.stem == current))
        return out


def resolve_inventory_path(*, flag: str | None, env: Mapping[str, str], store: ClusterStore) -> pathlib.Path:
    """``--cluster FILE`` > ``$STACKCTL_CLUSTER`` (file or name) > the current cluster."""
    if flag:
        return pathlib.Path(flag)
    value = env.get("STACKCTL_CLUSTER", "")
    if value:
        if "/" in value or value.endswith((".json", ".yaml", ".yml")):
            return pathlib.Path(value)
        return store.inventory_of(value)
    current = store.current()
    if current is None:
        raise ClusterError("no cluster selected: run `stackctl lab up`, `stackctl cluster use NAME`, "
                           "or pass --cluster FILE (or set STACKCTL_CLUSTER)")
    return store.inventory_of(current)
