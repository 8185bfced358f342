"""`lb serve` and its admin socket on hostile input (issue 10): bounded reads, numbers, nesting, reloads,
oversized and malformed admin traffic, a default socket directory someone else prepared."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.conftest import ROOT, _limit_memory, assert_no_control, assert_refused, run

LISTENER = "listeners:\n  web:\n    bind: 127.0.0.1:{port}\n    backends: [127.0.0.1:9]\n    health: false\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lb_yaml(tmp: Path, extra: str = "", *, port: int | None = None) -> Path:
    path = tmp / "lb.yaml"
    path.write_text(LISTENER.format(port=port or free_port()) + extra)
    return path


def serve(tmp: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    result = run("lb", "serve", "-c", str(config), "--admin", str(tmp / "admin.sock"), *args, cwd=tmp)
    return result  # type: ignore[return-value]


# --- 3 and 6: what lb serve reads -------------------------------------------------------------------------

@pytest.mark.parametrize("source, needle", [("/dev/zero", "character device"), ("FIFO", "FIFO")])
def test_config_that_is_not_a_regular_file_is_refused(tmp_path: Path, fifo: Path, source: str, needle: str) -> None:
    path = str(fifo) if source == "FIFO" else source
    assert_refused(run("lb", "serve", "-c", path, "--admin", str(tmp_path / "a.sock"), cwd=tmp_path), needle)


def test_oversized_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lb.yaml"
    path.write_text("# " + "x" * (1024 * 1024) + "\n")
    assert_refused(run("lb", "serve", "-c", str(path), cwd=tmp_path), "larger than 1 MiB")


def test_invalid_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lb.yaml"
    path.write_bytes(b"listeners:\n  w\xff\x1b: {}\n")
    assert_refused(run("lb", "serve", "-c", str(path), cwd=tmp_path), "not valid UTF-8")


@pytest.mark.parametrize("depth, needle", [(500, "nested deeper than 32 levels"), (10_000, "nested deeper than 32 levels")])
def test_deep_nesting_is_one_line(tmp_path: Path, depth: int, needle: str) -> None:
    path = tmp_path / "lb.yaml"
    path.write_text("listeners: " + "[" * depth + "]" * depth + "\n")
    assert_refused(run("lb", "serve", "-c", str(path), cwd=tmp_path), "lb.yaml:1:", needle)


# --- 1 and 5: numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, needle", [
    ("idle_timeout", "720h", "at most 168h"),
    ("idle_timeout", ".inf", "at most 168h"),
    ("idle_timeout", ".nan", "NaN"),
    ("connect_timeout", "1000h", "at most 168h"),
    ("connect_timeout", "1" + "0" * 400 + "s", "at most 168h"),
    ("max_connections", "100000000000000000000", "from 1 to 1000000"),
    ("drain_timeout", "-1", "negative"),
])
def test_out_of_range_numbers_are_refused_at_parse_time(tmp_path: Path, key: str, value: str, needle: str) -> None:
    config = lb_yaml(tmp_path, f"    {key}: {value}\n")
    assert_refused(run("lb", "serve", "-c", str(config), cwd=tmp_path), f"listeners.web.{key}", needle)


def test_several_problems_give_one_line_each(tmp_path: Path) -> None:
    config = lb_yaml(tmp_path, "    idle_timeout: .inf\n    max_connections: 0\n    connect_timeout: .nan\n")
    assert_refused(run("lb", "serve", "-c", str(config), cwd=tmp_path), lines=3)


def test_an_unresolvable_bind_host_says_why(tmp_path: Path) -> None:
    config = tmp_path / "lb.yaml"
    config.write_text("listeners:\n  web:\n    bind: no-such-host.invalid:8080\n    backends: []\n")
    result = run("lb", "serve", "-c", str(config), "--admin", str(tmp_path / "a.sock"), cwd=tmp_path)
    assert_refused(result, "cannot bind no-such-host.invalid:8080")
    assert "Unknown error" not in result.err


def test_native_relay_clamps_what_reaches_it() -> None:
    relay_module = pytest.importorskip("stackctl.lb._relay")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        relay = relay_module.Relay(listening.fileno(), max_connections=1, connect_timeout=1e300,
                                   idle_timeout=float("inf"), proxy_protocol=0)
        try:
            for timeout in (1e300, float("inf"), 3e6, 2.0**31, 0.0, -5.0):  # clamped, never an overflow
                relay.set_options(max_connections=1, connect_timeout=timeout, idle_timeout=timeout, proxy_protocol=0)
            with pytest.raises(ValueError, match="NaN"):
                relay.set_options(max_connections=1, connect_timeout=float("nan"), idle_timeout=1.0,
                                  proxy_protocol=0)
        finally:
            relay.stop_accepting()
            relay.shutdown()


# --- the admin socket of a running balancer ----------------------------------------------------------------

@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    config = lb_yaml(tmp_path)
    sock = tmp_path / "admin.sock"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "stackctl", "lb", "serve", "-c", str(config), "--admin",
                             str(sock)], cwd=tmp_path, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env, preexec_fn=_limit_memory)  # noqa: PLW1509 - RLIMIT_AS in the child
    deadline = time.monotonic() + 15
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the balancer did not start"
        time.sleep(0.05)
    try:
        yield proc, config, sock
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def _ask(sock: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(sock))
        client.sendall(payload)
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _stderr_of(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    return err.decode("utf-8", "replace")


def test_admin_request_over_the_limit_gets_an_answer(balancer: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    proc, _, sock = balancer
    from stackctl.lb.admin import MAX_REQUEST

    answer = json.loads(_ask(sock, b'{"cmd": "' + b"x" * (MAX_REQUEST + 100_000) + b'"}\n'))
    assert answer == {"ok": False, "error": f"bad request: longer than {MAX_REQUEST // 1024} KiB"}
    assert json.loads(_ask(sock, b'{"cmd": "ping"}\n'))["ok"] is True  # still serving
    err = _stderr_of(proc)
    assert "Traceback" not in err and "Unhandled" not in err, err


@pytest.mark.parametrize("content", [b"listeners:\n  w\xff: {}\n", b"listeners: " + b"[" * 10_000 + b"]" * 10_000])
def test_a_bad_reload_is_reported_in_one_line_and_the_old_config_kept(
        balancer: tuple[subprocess.Popen[bytes], Path, Path], content: bytes) -> None:
    proc, config, sock = balancer
    config.write_bytes(content)
    proc.send_signal(signal.SIGHUP)
    answer = json.loads(_ask(sock, b'{"cmd": "reload"}\n'))  # the same through the admin socket
    assert answer["ok"] is False and "lb.yaml" in answer["error"]
    assert json.loads(_ask(sock, b'{"cmd": "stats"}\n'))["listeners"][0]["name"] == "web"
    err = _stderr_of(proc)
    assert "Traceback" not in err, err
    assert [line for line in err.splitlines() if "reload failed:" in line], err
    assert_no_control(err)


def _fake_balancer(path: Path, answer: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def answer_once() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("answer", [b'{"ok": true}\n', b'{"ok": true, "listeners": [1, "x"]}\n',
                                    b'{"ok": true, "listeners": [{"name": "a"}]}\n', b"[1, 2]\n", b"\xff\n",
                                    b'{"ok": false, "error": "\\u001b]0;owned\\u0007"}\n'])
def test_stats_on_a_malformed_answer_is_one_line(tmp_path: Path, answer: bytes) -> None:
    sock = tmp_path / "fake.sock"
    thread = _fake_balancer(sock, answer)
    assert_refused(run("lb", "stats", "--admin", str(sock), cwd=tmp_path), str(sock) if b"ok\": f" not in answer
                   else "stats failed")
    thread.join(timeout=5)


# --- 2: the default admin socket directory --------------------------------------------------------------

def _default_dir(tmp: Path) -> Path:
    return tmp / f"stackctl-lb-{os.getuid()}"


def _stats_with_default_socket(tmp: Path) -> subprocess.CompletedProcess[str]:
    config = lb_yaml(tmp)
    env = {"TMPDIR": str(tmp), "XDG_RUNTIME_DIR": ""}
    return run("lb", "stats", "-c", str(config), cwd=tmp, env=env)  # type: ignore[return-value]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a directory owned by another user needs root")
def test_a_default_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    directory = _default_dir(tmp_path)
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    assert_refused(_stats_with_default_socket(tmp_path), "owned by uid 65534", "refusing")


def test_a_default_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    directory = _default_dir(tmp_path)
    directory.mkdir()
    directory.chmod(0o777)
    assert_refused(_stats_with_default_socket(tmp_path), "mode 0777", "refusing")


def test_a_default_directory_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    _default_dir(tmp_path).symlink_to(tmp_path / "elsewhere")
    assert_refused(_stats_with_default_socket(tmp_path), "symbolic link", "refusing")


def test_a_missing_default_directory_is_made_private(tmp_path: Path) -> None:
    result = _stats_with_default_socket(tmp_path)
    assert_refused(result, "no balancer answers")  # nothing runs: but the directory is there, ours, 0700
    info = os.lstat(_default_dir(tmp_path))
    assert (info.st_uid, info.st_mode & 0o777) == (os.geteuid(), 0o700)
