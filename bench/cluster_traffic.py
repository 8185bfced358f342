"""The routing mesh on a lab, one run: through a node's published port vs direct to one replica vs HAProxy.

On an existing lab after ``cluster init`` (``--lab NAME``, default ``trf``; root), deploys a stack whose
``web`` service (busybox httpd, 2 replicas kept off node1) publishes 8080, then from this machine with
wrk (-t1 -c32, keep-alive and ``Connection: close``):
- direct: one replica's own host port on its node;
- ours: node1's published port (the node proxy, to the replicas on node2 and node3);
- haproxy: HAProxy 2.6 in node1's network namespace (``balance roundrobin``, ``nbthread 1``) with the
  same two backends, configured by hand as a node proxy would be.
Then: a scale 2 -> 3 (the new replica's start -> every node proxy's config holding it), and node3
stopped under load (last failed request after the stop; the leader's push removing it everywhere).
busybox httpd closes every connection, so the keep-alive figures are new connections toward the backends.
Run: .venv/bin/python bench/cluster_traffic.py [--lab trf] [--duration 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

STACK = "benchtrf"
COMPOSE = """
services:
  web:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo $$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["8080:80"]
    deploy:
      replicas: 2
      placement: {constraints: ["node.hostname != node1"]}
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def sh(cmd: list[str], **kw: object) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw).stdout  # type: ignore[call-overload, no-any-return]


def wrk(url: str, *, duration: int, close: bool) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms)."""
    cmd = ["wrk", "-t1", "-c32", f"-d{duration}s", "--latency", url]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=duration + 30)
    out = proc.stdout + proc.stderr
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if not (rps and p50 and p99):
        raise SystemExit(f"cannot read wrk output ({url}):\n{out}")
    return float(rps.group(1)), float(p50.group(1)) * UNITS[p50.group(2)], float(p99.group(1)) * UNITS[p99.group(2)]


class Lab:
    def __init__(self, name: str, root: pathlib.Path) -> None:
        self.name, self.dir = name, root / name
        self.doc = json.loads((self.dir / "inventory.json").read_text())
        self.nodes = {n["name"]: n["address"] for n in self.doc["nodes"]}
        self.env = {**os.environ, "STACKCTL_CLUSTER": name}

    def cli(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "stackctl", *args], capture_output=True, text=True,
                             env=self.env, check=False, timeout=300)
        if out.returncode != 0:
            raise SystemExit(f"stackctl {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def docker(self, node: str, *args: str) -> str:
        return sh(["docker", "-H", f"unix://{self.dir}/nodes/{node}/run/docker.sock", *args])

    def proxy_doc(self, node: str) -> dict[str, object]:
        return dict(json.loads((self.dir / "nodes" / node / "stackctl" / "proxy.json").read_text()))

    def backends(self, node: str) -> list[str]:
        lst = dict(self.proxy_doc(node)["listeners"]).get(f"ingress.{STACK}_web.8080") or {}  # type: ignore[call-overload]
        return [str(b if isinstance(b, str) else b["address"]) for b in lst.get("backends", [])]

    def replicas(self) -> dict[str, tuple[str, int]]:
        """container id -> (node, host port of its port 80)."""
        out = {}
        for node in self.nodes:
            for cid in self.docker(node, "ps", "-q", "--filter", f"label=io.stackctl.stack={STACK}").split():
                port = self.docker(node, "port", cid, "80/tcp").split(":")[-1].strip()
                out[cid] = (node, int(port))
        return out


def wait(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def haproxy(lab: Lab, backends: list[str], port: int) -> subprocess.Popen[bytes]:
    cfg = pathlib.Path(tempfile.mkdtemp()) / "haproxy.cfg"
    servers = "\n".join(f"  server b{i} {b} check inter 500 fall 1 rise 1" for i, b in enumerate(backends))
    cfg.write_text(f"global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 1s\n"
                   f"  timeout client 300s\n  timeout server 300s\nlisten web\n  bind {lab.nodes['node1']}:{port}\n"
                   f"  balance roundrobin\n{servers}\n")
    proc = subprocess.Popen(["ip", "netns", "exec", f"stackctl-{lab.name}-node1", "haproxy", "-f", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc


def get(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return bool(s.recv(4096))
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab", default="trf")
    ap.add_argument("--root", default=os.environ.get("STACKCTL_LAB_ROOT", "/var/lib/stackctl-lab"))
    ap.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()
    lab = Lab(args.lab, pathlib.Path(args.root))
    f = pathlib.Path(tempfile.mkdtemp()) / "compose.yaml"
    f.write_text(COMPOSE)
    lab.cli("stack", "deploy", "-c", str(f), STACK)
    wait("2 replicas in node1's proxy", lambda: len(lab.backends("node1")) == 2, 60)
    reps = lab.replicas()
    (first_node, first_port) = next(iter(reps.values()))
    backends = [f"{lab.nodes[n]}:{p}" for n, p in reps.values()]
    hp = haproxy(lab, backends, 8081)
    urls = {"direct (one replica)": f"http://{lab.nodes[first_node]}:{first_port}/",
            "stackctl node proxy": f"http://{lab.nodes['node1']}:8080/",
            "haproxy 2.6 (by hand)": f"http://{lab.nodes['node1']}:8081/"}
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    try:
        for close in (False, True):
            mode = "new-connection" if close else "keep-alive"
            for name, url in urls.items():
                wrk(url, duration=1, close=close)
                results.setdefault(mode, {})[name] = wrk(url, duration=args.duration, close=close)
    finally:
        hp.terminate()
    for mode, rows in results.items():
        d = rows["direct (one replica)"]
        print(f"\n{mode} (wrk -t1 -c32 -d{args.duration}s)        req/s     p50 ms   p99 ms   vs direct  p99 added")
        for name, (rps, p50, p99) in rows.items():
            print(f"  {name:34} {rps:9.0f} {p50:9.2f} {p99:8.2f} {rps / d[0]:9.2f}x {p99 - d[2]:+8.2f}")
        ours, theirs = rows["stackctl node proxy"][0], rows["haproxy 2.6 (by hand)"][0]
        print(f"  stackctl / haproxy: {ours / theirs:.2f}x")

    # a task-set change: the new replica's start -> every proxy's config holding it
    lab.cli("service", "scale", f"{STACK}_web=3")
    wait("3 replicas in every proxy", lambda: all(len(lab.backends(n)) == 3 for n in lab.nodes), 60)
    new = next(cid for cid in lab.replicas() if cid not in reps)
    node = next(n for n, _ in [lab.replicas()[new]])
    started = lab.docker(node, "inspect", "-f", "{{.State.StartedAt}}", new).strip()
    t0 = datetime.datetime.fromisoformat(started[:26]).replace(tzinfo=datetime.UTC).timestamp()
    lag = max((lab.dir / "nodes" / n / "stackctl" / "proxy.json").stat().st_mtime for n in lab.nodes) - t0
    print(f"\ntask-set change: new replica started -> every node proxy updated: {lag:.2f} s (goal <= 1 s; "
          "includes the leader's next observation, at most one 1 s tick)")

    # node3 stopped under load through node1
    failures: list[float] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            if not get(lab.nodes["node1"], 8080):
                failures.append(time.monotonic())
            time.sleep(0.005)
    th = threading.Thread(target=load, daemon=True)
    th.start()
    time.sleep(1)
    t_stop = time.monotonic()
    lab.cli("lab", "stop", "node3", "--name", lab.name)
    gone = lab.nodes["node3"]
    wait("node3 out of node1's and node2's proxies",
         lambda: all(not any(b.startswith(gone + ":") for b in lab.backends(n)) for n in ("node1", "node2")), 30)
    pushed = time.monotonic() - t_stop
    time.sleep(2)
    stop.set()
    th.join()
    last = max((t - t_stop for t in failures), default=0.0)
    print(f"node3 stopped under load: {len(failures)} failed requests, last {last:.2f} s after the stop; the "
          f"leader's push removed it from the other proxies after {pushed:.2f} s (goal: ejected <= 2 s)")
    lab.cli("lab", "start", "node3", "--name", lab.name)
    lab.cli("stack", "rm", STACK)


if __name__ == "__main__":
    main()
