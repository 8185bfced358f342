"""The lb.yaml format: what it accepts, every problem reported at once with its key path."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.errors import SpecError
from stackctl.lb import config
from stackctl.lb.config import Address, BackendSpec, HealthCheck


def parse(doc: Any) -> config.Config:
    return config.parse(doc, file="lb.yaml")


def problems(doc: Any) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse(doc)
    return info.value.lines()


def test_a_full_listener_with_defaults_and_explicit_options() -> None:
    cfg = parse({
        "metrics": 9100,
        "listeners": {
            "web": {"bind": "8080", "backends": ["127.0.0.1:8001", {"address": "[::1]:8002", "health": "starting"}]},
            "dns": {"bind": "127.0.0.1:5353", "protocol": "udp", "backends": ["10.0.0.2:53"], "idle_timeout": "500ms"},
            "db": {"bind": "[::]:5432", "health": False, "proxy_protocol": "v2", "max_connections": 5,
                   "connect_timeout": 1, "drain_timeout": "1m", "backends": []},
        },
    })
    web, dns, db = cfg.listeners
    assert cfg.metrics == Address("127.0.0.1", 9100)
    assert web.bind == Address("0.0.0.0", 8080) and web.protocol == "tcp"
    assert web.backends == (BackendSpec(Address("127.0.0.1", 8001)), BackendSpec(Address("::1", 8002), "starting"))
    assert web.health == HealthCheck() and web.idle_timeout == 300.0 and web.proxy_protocol == "none"
    assert dns.protocol == "udp" and dns.idle_timeout == 0.5
    assert db.bind == Address("::", 5432) and db.health is None and db.proxy_protocol == "v2"
    assert (db.max_connections, db.connect_timeout, db.drain_timeout) == (5, 1.0, 60.0)


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    assert problems({
        "metrics": "0.0.0.0:9100",
        "extra": 1,
        "listeners": {
            "web": {"bind": "127.0.0.1:99999", "backends": ["nohost", "10.0.0.1:80", "10.0.0.1:80"],
                    "protocol": "sctp", "health": {"interval": "fast", "rise": 0}, "colour": "red"},
            "bad name": {"bind": 80},
            "udp": {"bind": 53, "protocol": "udp", "proxy_protocol": "v1", "idle_timeout": "-1s"},
        },
    }) == [
        "lb.yaml: extra: unknown key",
        "lb.yaml: listeners.bad name: a listener name must be letters, digits, '_', '.' or '-'",
        "lb.yaml: listeners.udp.idle_timeout: expected a duration like 500ms, 2s or 1m, got '-1s'",
        "lb.yaml: listeners.udp.proxy_protocol: PROXY protocol headers are for tcp listeners only",
        "lb.yaml: listeners.web.backends[0]: expected host:port, got 'nohost'",
        "lb.yaml: listeners.web.backends[2]: 10.0.0.1:80 is listed twice",
        "lb.yaml: listeners.web.bind: port must be 1-65535, got '99999'",
        "lb.yaml: listeners.web.colour: unknown key",
        "lb.yaml: listeners.web.health.interval: expected a duration like 500ms, 2s or 1m, got 'fast'",
        "lb.yaml: listeners.web.health.rise: expected an integer from 1 to 1000, got 0",
        "lb.yaml: listeners.web.protocol: expected one of tcp, udp, got 'sctp'",
        "lb.yaml: metrics: the metrics endpoint must bind to loopback, not 0.0.0.0",
    ]


@pytest.mark.parametrize(("doc", "message"), [
    (None, "lb.yaml: expected a mapping with a `listeners` key"),
    ({}, "lb.yaml: listeners: required"),
    ({"listeners": []}, "lb.yaml: listeners: expected a mapping of listener names"),
    ({"listeners": {"a": {"backends": []}}}, "lb.yaml: listeners.a.bind: required"),
    ({"listeners": {"a": {"bind": 80, "backends": [{"address": "h:1", "health": "fine"}]}}},
     "lb.yaml: listeners.a.backends[0].health: expected one of healthy, unhealthy, starting, got 'fine'"),
    ({"listeners": {"a": {"bind": 80, "connect_timeout": 0}}},
     "lb.yaml: listeners.a.connect_timeout: must be greater than zero"),
    ({"listeners": {"a": {"bind": 80}, "b": {"bind": "0.0.0.0:80"}}},
     "lb.yaml: listeners.b.bind: 0.0.0.0:80/tcp is already bound by a"),
])
def test_single_problems(doc: Any, message: str) -> None:
    assert problems(doc) == [message]


def test_the_same_port_may_serve_tcp_and_udp() -> None:
    cfg = parse({"listeners": {"a": {"bind": 53}, "b": {"bind": 53, "protocol": "udp"}}})
    assert [lst.protocol for lst in cfg.listeners] == ["tcp", "udp"]


@pytest.mark.parametrize(("text", "seconds"), [(2, 2.0), (0.5, 0.5), ("250ms", 0.25), ("3s", 3.0), ("2m", 120.0),
                                               ("1h", 3600.0), (" 1.5 s ", 1.5)])
def test_durations(text: Any, seconds: float) -> None:
    assert config.parse_duration(text) == seconds


def test_dump_reads_back_into_the_same_config() -> None:
    cfg = parse({"admin": "/tmp/x.sock", "metrics": "127.0.0.1:9000", "listeners": {
        "web": {"bind": "[::]:8080", "backends": ["10.0.0.1:80", {"address": "10.0.0.2:80", "health": "healthy"}],
                "proxy_protocol": "v1", "health": {"interval": "500ms", "rise": 3}},
        "dns": {"bind": 53, "protocol": "udp", "health": False}}})
    assert parse(config.dump(cfg)) == cfg


def test_the_engine_option_and_an_unbuilt_native_engine_named_by_its_key_path() -> None:
    doc = {"listeners": {"web": {"bind": 80, "engine": "native"}, "api": {"bind": 81, "engine": "asyncio"},
                         "any": {"bind": 82}}}
    web, api, default = config.parse(doc, file="lb.yaml", native_built=True).listeners
    assert (web.engine, api.engine, default.engine) == ("native", "asyncio", "auto")
    with pytest.raises(SpecError) as info:
        config.parse(doc, file="lb.yaml", native_built=False)
    assert info.value.lines() == [
        ("lb.yaml: listeners.web.engine: the native engine is not built here (stackctl.lb._relay; reinstall "
         "with a C compiler and the Python headers) - use engine: asyncio or auto")]
    assert problems({"listeners": {"dns": {"bind": 53, "protocol": "udp", "engine": "native"},
                                   "web": {"bind": 80, "engine": "fast"}}}) == [
        "lb.yaml: listeners.dns.engine: the native engine is for tcp listeners only",
        "lb.yaml: listeners.web.engine: expected one of auto, native, asyncio, got 'fast'"]
    cfg = config.parse(doc, file="lb.yaml", native_built=True)
    assert config.parse(config.dump(cfg), file="lb.yaml", native_built=True) == cfg
