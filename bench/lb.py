"""The embedded balancer side by side with HAProxy 2.6 (mode tcp, 1 thread), same run, same backends.

Three backends (one nginx-light worker listening on three loopback ports, 24-byte answers), then
wrk against: the first backend directly, HAProxy (`balance roundrobin`, `nbthread 1`) and
`stackctl lb serve`. Rounds alternate between the targets and medians are kept, so that the
noise of a shared machine hits every target alike; the balancers' order is reversed every other
round (no balancer always runs right after the same one) and the per-round ratios ours/HAProxy are
printed too (on stderr), so that the spread behind a median ratio is visible.

Prints, per target: keep-alive req/s, new-connection req/s (`Connection: close`), p99 latency
(wrk -c32 and a lone connection -c1) and the p99 added over direct; then the RSS of each balancer
holding 10,000 idle connections; then the ratios ours/HAProxy against the goals of issue 4.
`stackctl` runs the engine `lb serve` picks by default (native when the extension is built; the
engine it reports is printed); `--asyncio` adds the asyncio engine as a fourth target.
Run: .venv/bin/python bench/lb.py [--rounds 3] [--duration 5] [--idle 10000] [--workers 2] [--asyncio]
Needs: haproxy, nginx (nginx-light), wrk (Debian packages; scripts/bootstrap.sh installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import stackctl_cmd

BODY = "stackctl lb bench 24 b.\n"  # 24 bytes
NGINX = """worker_processes 1;
worker_rlimit_nofile 65536;
pid {d}/nginx.pid;
error_log {d}/nginx.err;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_header_timeout 300s;
  server {{
    listen 127.0.0.1:{p0} backlog=4096; listen 127.0.0.1:{p1} backlog=4096; listen 127.0.0.1:{p2} backlog=4096;
    location / {{ return 200 "{body}"; }}
  }}
}}
"""
HAPROXY = """global
  nbthread 1
  maxconn {maxconn}
defaults
  mode tcp
  timeout connect 2s
  timeout client 300s
  timeout server 300s
frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  balance roundrobin
{servers}
"""
LB = """listeners:
  bench:
    bind: 127.0.0.1:{port}
    backends: [{backends}]
    max_connections: {maxconn}
    idle_timeout: 300s
    engine: {engine}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(port: int, *, duration: float, connections: int, close: bool) -> tuple[float, float, int, float]:
    """(requests/s, p99 latency in ms, requests, p50 latency in ms) of one wrk run."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", f"http://127.0.0.1:{port}/"]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if rps is None or p99 is None or count is None or p50 is None:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    if errors and close is False:
        print(f"  note: port {port}: socket errors {errors.group(1)}", file=sys.stderr)
    return (float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], int(count.group(1)),
            float(p50.group(1)) * _UNITS[p50.group(2)])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes used so far."""
    total = 0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def hold_idle(port: int, count: int, pid: int) -> float:
    """Open ``count`` idle connections through the balancer; its RSS (MB) while they are all open."""
    socks = []
    try:
        for i in range(count):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            if i % 500 == 499:
                time.sleep(0.02)  # let the balancer keep up with its backend connects
        time.sleep(1.5)
        probe = socket.create_connection(("127.0.0.1", port), timeout=10)
        probe.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answered = BODY.encode() in probe.recv(4096)
        probe.close()
        if not answered:
            raise SystemExit(f"port {port} stopped answering with {count} idle connections")
        return rss_mb(pid)
    finally:
        for s in socks:
            s.close()
        time.sleep(1.0)


class Fleet:
    """nginx, HAProxy and stackctl's balancer, started in a temporary directory."""

    def __init__(self, workdir: pathlib.Path, *, maxconn: int, workers: int, asyncio: bool = False) -> None:
        self.dir = workdir
        self.maxconn = maxconn
        self.workers = workers
        self.multi_port = free_port()
        self.multi: list[subprocess.Popen[bytes]] = []
        self.backends = [free_port() for _ in range(3)]
        self.haproxy_port, self.lb_port = free_port(), free_port()
        self.asyncio_port = free_port() if asyncio else 0
        self.asyncio_lb: subprocess.Popen[bytes] | None = None
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        d = self.dir
        p0, p1, p2 = self.backends
        (d / "nginx.conf").write_text(NGINX.format(d=d, p0=p0, p1=p1, p2=p2, body=BODY.rstrip("\n") + "\\n"))
        self._spawn(["nginx", "-c", str(d / "nginx.conf"), "-g", "daemon off;"])
        servers = "\n".join(f"  server s{i} 127.0.0.1:{p}" for i, p in enumerate(self.backends))
        (d / "haproxy.cfg").write_text(HAPROXY.format(port=self.haproxy_port, servers=servers,
                                                               maxconn=self.maxconn))
        self.haproxy = self._spawn(["haproxy", "-db", "-f", str(d / "haproxy.cfg")])
        backends = ", ".join(f"127.0.0.1:{p}" for p in self.backends)
        (d / "lb.yaml").write_text(LB.format(port=self.lb_port, backends=backends, maxconn=self.maxconn,
                                             engine="auto"))
        self.lb = self._spawn([*stackctl_cmd(), "lb", "serve", "-c", str(d / "lb.yaml"),
                               "--admin", str(d / "admin.sock")])
        if self.asyncio_port:
            (d / "asyncio.yaml").write_text(LB.format(port=self.asyncio_port, backends=backends,
                                                      maxconn=self.maxconn, engine="asyncio"))
            self.asyncio_lb = self._spawn([*stackctl_cmd(), "lb", "serve", "-c", str(d / "asyncio.yaml"),
                                           "--admin", str(d / "asyncio.sock")])
        if self.workers > 1:  # N processes sharing one port through SO_REUSEPORT
            (d / "multi.yaml").write_text(LB.format(port=self.multi_port, backends=backends, maxconn=self.maxconn,
                                                    engine="auto"))
            self.multi = [self._spawn([*stackctl_cmd(), "lb", "serve", "-c", str(d / "multi.yaml"), "--reuse-port",
                                       "--admin", str(d / f"multi{i}.sock")]) for i in range(self.workers)]
        for port in [*self.backends, self.haproxy_port, self.lb_port] + ([self.multi_port] if self.multi else []) + (
                [self.asyncio_port] if self.asyncio_port else []):
            wait_port(port)

    def engine(self) -> str:
        """The engine `stackctl lb serve` reports for the main target's listener."""
        out = subprocess.run([*stackctl_cmd(), "lb", "stats", "--admin", str(self.dir / "admin.sock"), "--json"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return str(json.loads(out)[0].get("engine", "asyncio"))

    def _spawn(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        with open(self.dir / f"{pathlib.Path(cmd[0]).name}.log", "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(fleet: Fleet, *, rounds: int, duration: float) -> dict[str, dict[str, float]]:
    targets = {"direct": fleet.backends[0], "haproxy": fleet.haproxy_port, "stackctl": fleet.lb_port}
    pids: dict[str, list[int]] = {"direct": [], "haproxy": [fleet.haproxy.pid], "stackctl": [fleet.lb.pid]}
    if fleet.asyncio_lb is not None:
        targets["asyncio"] = fleet.asyncio_port
        pids["asyncio"] = [fleet.asyncio_lb.pid]
    if fleet.multi:
        targets[f"ours x{fleet.workers}"] = fleet.multi_port
        pids[f"ours x{fleet.workers}"] = [p.pid for p in fleet.multi]
    samples: dict[str, dict[str, list[float]]] = {t: {} for t in targets}
    for name, port in targets.items():  # warm-up
        wrk(port, duration=1, connections=32, close=False)
    for index in range(rounds):
        for name in round_order(list(targets), index):
            port = targets[name]
            cpu0 = cpu_seconds(pids[name])
            ka, ka_p99, ka_n, _ = wrk(port, duration=duration, connections=32, close=False)
            cpu1 = cpu_seconds(pids[name])
            nc, _, nc_n, _ = wrk(port, duration=duration, connections=32, close=True)
            cpu2 = cpu_seconds(pids[name])
            _, solo_p99, _, solo_p50 = wrk(port, duration=max(1.0, duration / 2), connections=1, close=False)
            for key, value in (("keepalive", ka), ("newconn", nc), ("p99_c32", ka_p99), ("p99_c1", solo_p99), ("p50_c1", solo_p50),
                               ("cpu_ka", 1e6 * (cpu1 - cpu0) / ka_n), ("cpu_nc", 1e6 * (cpu2 - cpu1) / nc_n)):
                samples[name].setdefault(key, []).append(value)
    for key in ("keepalive", "newconn"):  # paired: both balancers measured in the same round
        pairs = zip(samples["stackctl"][key], samples["haproxy"][key], strict=True)
        print(f"per-round ours/HAProxy {key}: " + " ".join(f"{a / b:.2f}" for a, b in pairs), file=sys.stderr)
    return {t: {k: statistics.median(v) for k, v in s.items()} for t, s in samples.items()}


def round_order(names: list[str], index: int) -> list[str]:
    """Targets in the order of round ``index``: "direct" first, the balancers reversed every other round.

    Each run leaves state behind (a new-connection run leaves ~100k TIME_WAIT sockets and conntrack
    entries for the next target), so no balancer always follows the same one.
    """
    rest = [n for n in names if n != "direct"]
    return ["direct", *(rest[::-1] if index % 2 else rest)]


def print_results(res: dict[str, dict[str, float]], rss: dict[str, float], idle: int) -> None:
    print(f"{'target':10} {'keep-alive req/s':>17} {'new-conn req/s':>15} {'p99 c32 ms':>11} {'p99 c1 ms':>10}")
    for name, r in res.items():
        print(f"{name:10} {r['keepalive']:17,.0f} {r['newconn']:15,.0f} {r['p99_c32']:11.3f} {r['p99_c1']:10.3f}")
    ours, theirs, direct = res["stackctl"], res["haproxy"], res["direct"]
    for name in [n for n in res if n != "direct"]:
        print(f"latency added over direct, {name:8}: p99 c32 {res[name]['p99_c32'] - direct['p99_c32']:+.3f} ms, "
              f"p99 c1 {res[name]['p99_c1'] - direct['p99_c1']:+.3f} ms, "
              f"p50 c1 {res[name]['p50_c1'] - direct['p50_c1']:+.3f} ms")
    for name in [n for n in res if n != "direct"]:
        print(f"CPU per request, {name:8}: keep-alive {res[name]['cpu_ka']:6.1f} us, "
              f"new connection {res[name]['cpu_nc']:6.1f} us")
    for name, mb in rss.items():
        print(f"RSS with {idle:,} idle connections, {name:8}: {mb:7.1f} MB")
    print("\nratios ours/HAProxy (goal):")
    print(f"  keep-alive req/s      {ours['keepalive'] / theirs['keepalive']:5.2f}  (>= 1.0)")
    print(f"  new-connection req/s  {ours['newconn'] / theirs['newconn']:5.2f}  (>= 0.8)")
    print(f"  p99 added over direct (c1) {ours['p99_c1'] - direct['p99_c1']:+.3f} ms  (<= 1 ms; HAProxy "
          f"{theirs['p99_c1'] - direct['p99_c1']:+.3f} ms), p50 added {ours['p50_c1'] - direct['p50_c1']:+.3f} ms")
    print(f"  CPU per request, HAProxy/ours (load-independent, higher is better): keep-alive "
          f"{theirs['cpu_ka'] / ours['cpu_ka']:4.2f}, new connection {theirs['cpu_nc'] / ours['cpu_nc']:4.2f}")
    if "stackctl" in rss:
        print(f"  idle RSS {rss['stackctl']:.1f} MB  (<= 150 MB)")
    if "asyncio" in res:
        print(f"  asyncio engine/HAProxy: keep-alive {res['asyncio']['keepalive'] / theirs['keepalive']:4.2f}, "
              f"new connection {res['asyncio']['newconn'] / theirs['newconn']:4.2f}; native/asyncio: keep-alive "
              f"{ours['keepalive'] / res['asyncio']['keepalive']:4.2f}, new connection "
              f"{ours['newconn'] / res['asyncio']['newconn']:4.2f}")
    multi = next((n for n in res if n.startswith("ours x")), None)
    if multi:
        print(f"  {multi} (SO_REUSEPORT, {multi[6:]} processes vs HAProxy's 1 thread): keep-alive "
              f"{res[multi]['keepalive'] / theirs['keepalive']:4.2f}, new connection "
              f"{res[multi]['newconn'] / theirs['newconn']:4.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections for the RSS test (0: skip)")
    parser.add_argument("--workers", type=int, default=0,
                        help="also measure N `lb serve --reuse-port` processes sharing one port (0: skip)")
    parser.add_argument("--asyncio", action="store_true", help="also measure `lb serve` with `engine: asyncio`")
    args = parser.parse_args()
    for tool in ("wrk", "haproxy", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install {'nginx-light' if tool == 'nginx' else tool}")
    limit = _raise_fd_limit(2 * args.idle + 1024)
    idle = min(args.idle, (limit - 400) // 2)
    if idle < args.idle:
        print(f"note: descriptor limit {limit} (hard): holding {idle:,} idle connections, not {args.idle:,}",
              file=sys.stderr)
    load_before = f"{os.getloadavg()[0]:.2f}"
    with tempfile.TemporaryDirectory(prefix="stackctl-lb-bench-") as tmp:
        fleet = Fleet(pathlib.Path(tmp), maxconn=max(idle + 50, 1000), workers=args.workers, asyncio=args.asyncio)
        try:
            fleet.start()
            engine = fleet.engine()
            res = measure(fleet, rounds=args.rounds, duration=args.duration)
            rss = {}
            if idle > 0:
                rss = {"haproxy": hold_idle(fleet.haproxy_port, idle, fleet.haproxy.pid),
                       "stackctl": hold_idle(fleet.lb_port, idle, fleet.lb.pid)}
                if fleet.asyncio_lb is not None:
                    rss["asyncio"] = hold_idle(fleet.asyncio_port, idle, fleet.asyncio_lb.pid)
        finally:
            fleet.stop()
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs; "
          "other work on the machine skews req/s, the CPU-per-request figures much less)")
    print(f"stackctl engine: {engine}")
    print_results(res, rss, idle)


def _raise_fd_limit(wanted: int) -> int:
    """The descriptor limit children inherit (a balancer holds two per idle connection)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
