"""`extends` and `include` on plain dicts, with the real merge rules."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.composefile import extends, include
from stackctl.composefile.fileload import merge_service
from stackctl.composefile.merge import enforce_unicity
from stackctl.errors import SpecError


def _no_other_file(other: str, name: str, current: str) -> extends.BaseFile:
    raise AssertionError(f"unexpected load of {other}")


def _extend(services: dict[str, Any], load_base: extends.LoadBase = _no_other_file) -> dict[str, Any]:
    doc = {"services": services}
    extends.apply_extends(doc, file="c.yaml", load_base=load_base, merge_service=merge_service)
    return doc["services"]


def test_recursive_extends_merges_each_level() -> None:
    out = _extend({
        "base": {"image": "busybox", "environment": {"LEVEL": "base", "KEEP": "1"}, "ports": ["80:80"]},
        "middle": {"extends": "base", "environment": {"LEVEL": "middle"}},
        "top": {"extends": {"service": "middle"}, "ports": ["81:81"]},
    })
    top = enforce_unicity({"services": out})["services"]["top"]  # as the loader does after each merge
    assert "extends" not in top
    assert top["image"] == "busybox"
    assert sorted(top["environment"]) == ["KEEP=1", "LEVEL=middle"]
    assert len(top["ports"]) == 2


def test_extends_from_another_file_uses_that_file_services() -> None:
    calls = []

    def load_base(other: str, name: str, current: str) -> extends.BaseFile:
        calls.append((other, name, current))
        return extends.BaseFile(other, {"web": {"image": "nginx", "command": ["a"]}})

    out = _extend({"front": {"extends": {"file": "base.yaml", "service": "web"}, "command": ["b"]}}, load_base)
    assert out["front"] == {"image": "nginx", "command": ["b"]}
    assert calls == [("base.yaml", "front", "c.yaml")]


@pytest.mark.parametrize(("services", "message"), [
    ({"a": {"extends": "b"}, "b": {"extends": "a"}}, "Circular reference: a in c.yaml, extends b in c.yaml"),
    ({"a": {"extends": "a"}}, "Circular reference"),
    ({"a": {"extends": "nope"}}, 'cannot extend service "a" in c.yaml: service "nope" not found'),
    ({"a": {"extends": {"file": "x.yaml"}}}, "extends.a.service is required"),
    ({"a": "not a mapping"}, "services.a must be a mapping"),
])
def test_extends_errors_are_one_line_each(services: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        _extend(services)
    assert len(caught.value.lines()) == 1
    assert message in caught.value.lines()[0]


def test_included_resources_conflict_only_when_they_differ() -> None:
    target: dict[str, Any] = {"services": {"db": {"image": "postgres"}}}
    include.import_resources({"services": {"db": {"image": "postgres"}, "cache": {"image": "redis"}},
                              "volumes": {"data": {}}}, target, file="c.yaml")
    assert set(target["services"]) == {"db", "cache"} and target["volumes"] == {"data": {}}
    with pytest.raises(SpecError, match="services.db conflicts with imported resource"):
        include.import_resources({"services": {"db": {"image": "mysql"}}}, target, file="c.yaml")


def test_include_entries_short_and_long_forms() -> None:
    entries = include.parse_entries(["a.yaml", {"path": ["b.yaml", "c.yaml"], "env_file": "e.env"}],
                                    file="c.yaml")
    assert entries[0]["path"] == ["a.yaml"]
    assert entries[1] == {"path": ["b.yaml", "c.yaml"], "env_file": ["e.env"], "project_directory": None}
    with pytest.raises(SpecError, match="must be a list"):
        include.parse_entries("a.yaml", file="c.yaml")


def test_include_cycle_is_refused(tmp_path: Any) -> None:
    entry = {"path": ["compose.yaml"], "env_file": [], "project_directory": None}
    main = str(tmp_path / "compose.yaml")
    with pytest.raises(SpecError, match="include cycle detected"):
        include.make_request(entry, base_dir=str(tmp_path), file=main, included=[main])
