"""Run every side-by-side benchmark in turn (what `make bench` does); each prints its own ratios."""

from __future__ import annotations

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
BENCHES = ["startup.py", "compose_up.py", "lb.py", "cluster_transport.py", "cluster_scheduler.py", "cluster.py"]


def main() -> int:
    failed = []
    for name in BENCHES:
        print(f"\n===== bench/{name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
