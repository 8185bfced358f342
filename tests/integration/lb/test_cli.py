"""`stackctl lb serve` and `stackctl lb stats` as a user runs them (real processes, loopback)."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

from stackctl.lb import native
from tests.integration.lb.servers import ask_blocking as ask
from tests.integration.lb.servers import backend_process, free_port, serve_process


def test_a_bad_file_is_reported_in_one_line_per_problem(tmp_path: Path, cli) -> None:
    bad = tmp_path / "lb.yaml"
    bad.write_text("listeners:\n  web:\n    bind: 127.0.0.1:http\n    backends: [10.0.0.1]\n")
    out = cli("lb", "serve", "-c", str(bad))
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"stackctl: {bad}: listeners.web.backends[0]: expected host:port, got '10.0.0.1'",
        f"stackctl: {bad}: listeners.web.bind: port must be 1-65535, got 'http'",
    ]


def test_unreadable_and_malformed_files_are_named(tmp_path: Path, cli) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("listeners:\n  web: [\n")
    out = cli("lb", "serve", "-c", str(broken))
    assert (out.returncode, out.stderr.strip()) == (
        1, f"stackctl: {broken}:3: invalid YAML: expected the node content, but found '<stream end>'")
    out = cli("lb", "serve", "-c", str(tmp_path / "missing.yaml"))
    assert (out.returncode, out.stderr.strip()) == (
        1, f"stackctl: {tmp_path}/missing.yaml: no such file or directory")


def test_a_port_in_use_is_named(tmp_path: Path, cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "lb.yaml").write_text(f"listeners:\n  web:\n    bind: 127.0.0.1:{port}\n")
        out = cli("lb", "serve", "-c", str(tmp_path / "lb.yaml"), "--admin", str(tmp_path / "a.sock"))
    assert out.returncode == 1
    assert out.stderr.strip() == f"stackctl: listener web: cannot bind 127.0.0.1:{port}/tcp: Address already in use"


def test_serve_stats_metrics_and_a_graceful_sigterm(tmp_path: Path, cli) -> None:
    port, metrics = free_port(), free_port()
    with backend_process("a") as (_, a), backend_process("b") as (_, b):
        config = tmp_path / "lb.yaml"
        config.write_text(f"metrics: 127.0.0.1:{metrics}\nadmin: {tmp_path}/admin.sock\nlisteners:\n"
                          f"  web:\n    bind: 127.0.0.1:{port}\n    backends: [127.0.0.1:{a}, 127.0.0.1:{b}]\n")
        proc = serve_process(config, tmp_path)
        try:
            assert sorted(ask(port) for _ in range(4)) == ["a hi", "a hi", "b hi", "b hi"]
            assert (tmp_path / "admin.sock").stat().st_mode & 0o777 == 0o600
            stats = cli("lb", "stats", "-c", str(config))
            assert stats.returncode == 0, stats.stderr
            rows = [line.split() for line in stats.stdout.splitlines()]
            engine = "native" if native.available() else "asyncio"  # auto prefers native
            assert rows[1][:5] == ["web", f"127.0.0.1:{port}/tcp", engine, "4", "0"]
            assert rows[2][:3] == [f"127.0.0.1:{a}", "up", "2"] and rows[3][:3] == [f"127.0.0.1:{b}", "up", "2"]
            listed = json.loads(cli("lb", "stats", "-c", str(config), "--json").stdout)
            assert listed[0]["engine"] == engine
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5).read().decode()
            assert 'stackctl_lb_listener_connections_total{listener="web",protocol="tcp"} 4' in text

            held = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.sendall(b"before\n")
            reply = held.makefile()
            assert reply.readline().endswith(" before\n")
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            try:  # no longer accepting
                refused = ask(port) == ""
            except OSError:
                refused = True
            assert refused
            held.sendall(b"after\n")  # the established session still works while draining
            assert reply.readline().endswith(" after\n")
            assert proc.poll() is None
            reply.close()  # the file object holds the socket open too
            held.close()
            assert proc.wait(timeout=5) == 0, proc.stderr.read() if proc.stderr else ""
            assert not (tmp_path / "admin.sock").exists()
        finally:
            proc.kill()
            proc.wait()


def test_sighup_reloads_the_file_and_a_bad_file_keeps_the_running_setup(tmp_path: Path) -> None:
    port = free_port()
    with backend_process("a") as (_, a), backend_process("b") as (_, b):
        config = tmp_path / "lb.yaml"
        config.write_text(f"listeners:\n  web:\n    bind: 127.0.0.1:{port}\n    backends: [127.0.0.1:{a}]\n")
        proc = serve_process(config, tmp_path)
        try:
            assert ask(port) == "a hi"
            config.write_text(f"listeners:\n  web:\n    bind: 127.0.0.1:{port}\n    backends: [127.0.0.1:{b}]\n")
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            assert [ask(port) for _ in range(3)] == ["b hi"] * 3
            config.write_text("listeners: [oops]\n")
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            assert ask(port) == "b hi"
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        err = proc.stderr.read().splitlines()
        assert "stackctl lb: reloaded" in err
        assert f"stackctl lb: reload failed: {config}: listeners: expected a mapping of listener names" in err


def test_stats_without_a_running_balancer_says_so(tmp_path: Path, cli) -> None:
    out = cli("lb", "stats", "--admin", str(tmp_path / "nothing.sock"))
    assert out.returncode == 1
    assert out.stderr.strip() == (f"stackctl: no balancer answers at {tmp_path}/nothing.sock "
                                  "(is `stackctl lb serve` running?)")
