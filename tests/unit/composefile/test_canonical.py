"""Short syntax -> long syntax (compose-go's transform package), one row per rule."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.composefile.canonical import canonicalize
from stackctl.composefile.syntax.ports import PortMapping
from stackctl.composefile.syntax.volumes import VolumeMount
from stackctl.errors import SpecError


def service(**attrs: Any) -> dict[str, Any]:
    return {"services": {"web": attrs}}


def web(doc: dict[str, Any]) -> dict[str, Any]:
    return canonicalize(doc, file="compose.yaml")["services"]["web"]


def port(target: int, published: str = "", host_ip: str = "", protocol: str = "tcp") -> dict[str, Any]:
    out: dict[str, Any] = {"mode": "ingress", "target": target, "protocol": protocol}
    if published:
        out["published"] = published
    if host_ip:
        out["host_ip"] = host_ip
    return out


@pytest.mark.parametrize(("short", "expected"), [
    ("80", [port(80)]),
    (80, [port(80)]),
    ("8080:80", [port(80, "8080")]),
    ("127.0.0.1:8001:8001", [port(8001, "8001", "127.0.0.1")]),
    ("[::1]:6001:6001", [port(6001, "6001", "::1")]),
    ("6060:6060/udp", [port(6060, "6060", protocol="udp")]),
    ("80-82:8080-8082", [port(8080, "80"), port(8081, "81"), port(8082, "82")]),
    ("9090-9091:8080", [port(8080, "9090-9091")]),
    ("127.0.0.1::5000", [port(5000, "", "127.0.0.1")]),
    ("9999-10000:9999-10000", [port(10000, "10000"), port(9999, "9999")]),  # sorted as strings, like Go
])
def test_port_short_syntax_becomes_one_long_entry_per_container_port(short: Any, expected: list[Any]) -> None:
    assert web(service(ports=[short]))["ports"] == expected


@pytest.mark.parametrize("bad", ["localhost:80:80", "80-79:80", "8080:80/icmp", "70000:80", "1-3:1-2"])
def test_invalid_port_names_the_key_path(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        canonicalize(service(ports=[bad]), file="compose.yaml")
    assert err.value.problems[0].path == "services.web.ports"
    assert err.value.problems[0].file == "compose.yaml"


def test_unparsable_port_is_kept_when_lenient() -> None:
    doc = canonicalize(service(ports=["${PORT}:80"]), file="c.yaml", lenient=True)
    assert doc["services"]["web"]["ports"] == ["${PORT}:80"]


@pytest.mark.parametrize(("short", "expected"), [
    ("./data:/data", {"type": "bind", "source": "./data", "target": "/data", "bind": {"create_host_path": True}}),
    ("db:/var/lib/db", {"type": "volume", "source": "db", "target": "/var/lib/db", "volume": {}}),
    ("/anon", {"type": "volume", "target": "/anon", "volume": {}}),
    ("~/cfg:/cfg:ro", {"type": "bind", "source": "~/cfg", "target": "/cfg", "read_only": True,
                       "bind": {"create_host_path": True}}),
    ("./x:/x:ro,z", {"type": "bind", "source": "./x", "target": "/x", "read_only": True,
                     "bind": {"selinux": "z", "create_host_path": True}}),
    ("./x:/x:rshared", {"type": "bind", "source": "./x", "target": "/x",
                        "bind": {"propagation": "rshared", "create_host_path": True}}),
    ("data:/d:nocopy", {"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": True}}),
    ("data:/a/../b//c/", {"type": "volume", "source": "data", "target": "/b/c", "volume": {}}),
    ("C:\\data:/data", {"type": "bind", "source": "C:\\data", "target": "/data", "bind": {"create_host_path": True}}),
    ("${SRC:-./a}:/a", {"type": "volume", "source": "${SRC:-./a}", "target": "/a", "volume": {}}),
])
def test_volume_short_syntax(short: str, expected: dict[str, Any]) -> None:
    assert web(service(volumes=[short]))["volumes"] == [expected]


@pytest.mark.parametrize("bad", ["ab::/c", "ab:/b:ro:x"])
def test_invalid_volume_is_an_error(bad: str) -> None:
    with pytest.raises(SpecError, match="invalid spec"):
        canonicalize(service(volumes=[bad]), file="c.yaml")


def test_value_types_round_trip_to_short_form() -> None:
    for text in ("./a:/a:ro,z", "db:/var/lib:rw,nocopy", "/anon"):
        assert str(VolumeMount.parse(text)) == text
    assert [str(p) for p in PortMapping.parse("127.0.0.1:8080-8081:80-81/udp")] == [
        "127.0.0.1:8080:80/udp", "127.0.0.1:8081:81/udp"]


def test_depends_on_list_and_map_get_defaults() -> None:
    assert web(service(depends_on=["db"]))["depends_on"] == {
        "db": {"condition": "service_started", "required": True}}
    assert web(service(depends_on={"db": {"condition": "service_healthy"}}))["depends_on"] == {
        "db": {"condition": "service_healthy", "required": True}}


@pytest.mark.parametrize(("key", "short", "long"), [
    ("build", ".", {"context": "."}),
    ("extends", "base", {"service": "base"}),
    ("env_file", ".env", [{"path": ".env", "required": True}]),
    ("env_file", [".env", {"path": "b.env", "required": False}],
     [{"path": ".env", "required": True}, {"path": "b.env", "required": False}]),
    ("networks", ["front", "back"], {"front": None, "back": None}),
    ("secrets", ["token"], [{"source": "token"}]),
    ("configs", ["cfg"], [{"source": "cfg"}]),
    ("devices", ["/dev/sda:/dev/xvda:r"], [{"source": "/dev/sda", "target": "/dev/xvda", "permissions": "r"}]),
    ("devices", ["/dev/fuse"], [{"source": "/dev/fuse", "target": "/dev/fuse", "permissions": "rwm"}]),
    ("gpus", "all", [{"count": "all"}]),
    ("dns", "8.8.8.8", ["8.8.8.8"]),
    ("dns", ["", "1.1.1.1"], ["1.1.1.1"]),
    ("label_file", "labels.env", ["labels.env"]),
    ("ulimits", {"nproc": 65535, "nofile": {"soft": 1, "hard": 2}}, {"nproc": 65535, "nofile": {"soft": 1, "hard": 2}}),
])
def test_service_short_forms(key: str, short: Any, long: Any) -> None:
    assert web(service(**{key: short}))[key] == long


def test_build_details() -> None:
    build = web(service(build={"context": ".", "ssh": ["default", "key=/k"], "additional_contexts": ["a=./a"],
                               "secrets": ["s"], "provenance": True}))["build"]
    assert build == {"context": ".", "ssh": {"default": None, "key": "/k"}, "additional_contexts": {"a": "./a"},
                     "secrets": [{"source": "s"}], "provenance": "true"}


def test_external_name_becomes_name_and_external_true() -> None:
    doc = canonicalize({"networks": {"n": {"external": {"name": "real"}}}, "volumes": {"v": None}}, file="c")
    assert doc["networks"] == {"n": {"external": True, "name": "real"}}
    assert doc["volumes"] == {"v": None}


def test_external_name_conflict_is_an_error() -> None:
    with pytest.raises(SpecError, match="name and external.name conflict"):
        canonicalize({"volumes": {"v": {"name": "a", "external": {"name": "b"}}}}, file="c")


def test_input_is_left_untouched() -> None:
    doc = service(ports=["80"], depends_on=["db"])
    canonicalize(doc, file="c")
    assert doc == service(ports=["80"], depends_on=["db"])
