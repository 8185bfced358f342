"""Start-up and `config` speed, side by side with docker compose v2.40.3 in the same run.

Goals (issue "Foundation"): `stackctl --help` and `compose config` on a small file <= 0.25 s;
`config` on a generated 500-service file <= 1 s.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import REPO, docker_compose_binary, report, stackctl_cmd, time_command


def big_compose(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", "    image: stackctl/busybox:latest", "    command: sleep 3600",
                  "    environment:", f"      INDEX: \"{i}\"", "    ports:", f"      - \"{20000 + i}:80\""]
        if i:
            lines += ["    depends_on:", f"      - s{i - 1}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    sc, dc = stackctl_cmd(), docker_compose_binary()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    small = REPO / "stacks" / "webapp" / "compose.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        big = pathlib.Path(tmp) / "compose.yaml"
        big.write_text(big_compose(500))
        rows = [
            ("--help / version (process start)", time_command([*sc, "--help"], env=env),
             time_command([dc, "version"], env=env), 0.25),
            ("config, small file", time_command([*sc, "compose", "-f", str(small), "config"], env=env),
             time_command([dc, "-f", str(small), "config"], env=env), 0.25),
            ("config, 500 services", time_command([*sc, "compose", "-f", str(big), "config"], runs=3, env=env),
             time_command([dc, "-f", str(big), "config"], runs=3, env=env), 1.0),
        ]
    print("goals are absolute seconds for stackctl; ratio = stackctl / docker compose, same run")
    report(rows)


if __name__ == "__main__":
    main()
