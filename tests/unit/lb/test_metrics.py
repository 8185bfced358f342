"""The Prometheus text rendered from listener stats."""

from __future__ import annotations

from stackctl.lb.metrics import render


def stats() -> list[dict]:
    backend = {"address": "10.0.0.1:80", "state": "down", "connections": 7, "active": 2, "bytes_in": 100,
               "bytes_out": 2000, "connect_failures": 3, "check_failures": 1}
    return [{"name": 'we"b', "protocol": "tcp", "bind": "0.0.0.0:80", "connections": 9, "active": 2,
             "rejected": 1, "no_backend": 0, "bytes_in": 100, "bytes_out": 2000, "backends": [backend]}]


def test_listener_and_backend_counters_with_labels() -> None:
    lines = render(stats()).splitlines()
    assert 'stackctl_lb_listener_connections_total{listener="we\\"b",protocol="tcp"} 9' in lines
    assert 'stackctl_lb_listener_rejected_total{listener="we\\"b",protocol="tcp"} 1' in lines
    assert 'stackctl_lb_backend_connect_failures_total{listener="we\\"b",backend="10.0.0.1:80"} 3' in lines
    assert 'stackctl_lb_backend_sent_bytes_total{listener="we\\"b",backend="10.0.0.1:80"} 2000' in lines
    assert "# TYPE stackctl_lb_backend_active gauge" in lines


def test_exactly_one_health_state_is_set_per_backend() -> None:
    states = [ln for ln in render(stats()).splitlines() if ln.startswith("stackctl_lb_backend_state{")]
    assert len(states) == 5
    assert [ln for ln in states if ln.endswith(" 1")] == [
        'stackctl_lb_backend_state{listener="we\\"b",backend="10.0.0.1:80",state="down"} 1']
