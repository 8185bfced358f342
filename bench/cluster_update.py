"""Deploying changes on a cluster: a rolling update, a failing image rolled back, start-first under load.

On the current stackctl cluster (``$STACKCTL_HOME``'s, e.g. a 3-node lab after ``cluster init``), one run:
- 12 replicas, ``parallelism: 3``, no delay, ``monitor: 2s``: a changed spec deployed, until all 12 run it
  (``stack deploy`` returns once converged);
- the same with an image that exits at once and ``failure_action: rollback``: until it is back on the old
  spec with 12 running (``stack deploy`` exits 1), and how long after the deploy the failure was acted on;
- one replica with ``order: start-first`` published on 8080, under steady requests to the first node's
  published port (the routing mesh sends them wherever the replica runs): failed requests.
Swarm is not run here (see the report: the ``swarmb`` bench's set-up is on another branch).
Run: .venv/bin/python bench/cluster_update.py
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

WORKER = """
services:
  worker:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "[ \\"$${VERSION}\\" = bad ] && exit 3; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    environment: {VERSION: "${VERSION}"}
    stop_grace_period: 1s
    deploy:
      replicas: 12
      update_config: {parallelism: 3, delay: 0s, monitor: 2s, failure_action: rollback}
      rollback_config: {parallelism: 3, monitor: 2s}
"""
WEB = """
services:
  web:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo $${VERSION} > /tmp/index.html; trap 'exit 0' TERM; httpd -p 8080 -h /tmp; while :; do sleep 1 & wait; done"]
    environment: {VERSION: "${VERSION}"}
    ports: ["8080:8080"]
    stop_grace_period: 2s
    healthcheck: {test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/"], interval: 1s, timeout: 1s, retries: 2}
    deploy:
      replicas: 1
      update_config: {order: start-first, monitor: 2s}
"""


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackctl", *args], check=False, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def deploy(work: pathlib.Path, text: str, stack: str, version: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    path = work / f"{stack}.yaml"
    path.write_text(text)
    started = time.monotonic()
    out = cli("stack", "deploy", "-c", str(path), "--timeout", "240", stack, env={"VERSION": version})
    return time.monotonic() - started, out


def inspect(service: str) -> dict[str, Any]:
    return json.loads(cli("service", "inspect", service).stdout)[0]  # type: ignore[no-any-return]


def rolling(work: pathlib.Path) -> None:
    took, out = deploy(work, WORKER, "bu", "v1")
    assert out.returncode == 0, out.stderr
    took, out = deploy(work, WORKER, "bu", "v2")
    assert out.returncode == 0, out.stderr
    print(f"rolling update, 12 replicas, parallelism 3: {took:.1f} s until all 12 run the new spec", flush=True)
    wall = time.time()
    took, out = deploy(work, WORKER, "bu", "bad")
    status = inspect("bu_worker")["UpdateStatus"]
    print(f"failing image, failure_action rollback: {took:.1f} s until back on the old spec with 12 running "
          f"(exit {out.returncode}); failure acted on {status['StartedAt'] - wall:.1f} s after the deploy began; "
          f"{status['Message']}", flush=True)
    cli("stack", "rm", "bu")


def start_first(work: pathlib.Path) -> None:
    took, out = deploy(work, WEB, "bw", "v1")
    assert out.returncode == 0, out.stderr
    nodes = json.loads(cli("node", "ls", "--format", "json").stdout)
    address = str(nodes[0]["address"])  # the routing mesh: every node's published port reaches the replica
    ok, failed, stop = [0], [0], threading.Event()

    def one() -> None:
        conn = http.client.HTTPConnection(address, 8080, timeout=3)
        try:
            conn.request("GET", "/")
            if conn.getresponse().status != 200:
                raise OSError("not 200")
        finally:
            conn.close()

    def load() -> None:
        while not stop.is_set():
            try:
                one()
                ok[0] += 1
            except (OSError, http.client.HTTPException):
                failed[0] += 1
            time.sleep(0.01)
    try:
        for _ in range(50):
            try:
                one()
                break
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        took, out = deploy(work, WEB, "bw", "v2")
        time.sleep(3)  # the old task is stopped after the new one is healthy: keep the load through it
        stop.set()
        thread.join(5)
    finally:
        stop.set()
    print(f"start-first, 1 replica behind the published port: update in {took:.1f} s (exit {out.returncode}); "
          f"{ok[0]} requests, {failed[0]} failed", flush=True)
    cli("stack", "rm", "bw")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="stackctl-bench-update-") as tmp:
        work = pathlib.Path(tmp)
        rolling(work)
        start_first(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
