"""`compose up -d` / no-change `up -d` / `down -t 0` / scale, side by side with docker compose v2.40.3.

Stack (ANCHORS.md): 20 services in 4 dependency levels of 5, each depending on all 5 of the level
before, `command: sleep`, the local busybox image. Both tools run on the same engine in the same
run, in rounds that alternate which tool goes first (3 s pause before each), each under its own
project name (new for every run of the bench: a network the engine failed to release in an earlier
run cannot break this one); medians are compared as ours/theirs.
Goals (issue 3): up from nothing <= 0.85, down <= 0.9, no-change up <= 3 (and <= 0.25 s).
Run: .venv/bin/python bench/compose_up.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import docker_compose_binary, report, run_timed, stackctl_cmd

IMAGE = "stackctl/busybox:latest"
SETTLE = 3.0


def stack(levels: int = 4, width: int = 5) -> str:
    lines = ["services:"]
    for level in range(levels):
        for i in range(width):
            lines += [f"  s{level}_{i}:", f"    image: {IMAGE}", "    command: [\"sleep\", \"3600\"]"]
            if level:
                lines += ["    depends_on:"] + [f"      - s{level - 1}_{j}" for j in range(width)]
    return "\n".join(lines) + "\n"


def one_round(tool: list[str], project: str, cwd: pathlib.Path, env: dict[str, str]) -> dict[str, float]:
    base = [*tool, "-p", project]
    time.sleep(SETTLE)  # let the engine finish cleaning up after the previous `down`
    return {
        "up": run_timed([*base, "up", "-d"], cwd=cwd, env=env),
        "noop": run_timed([*base, "up", "-d"], cwd=cwd, env=env),
        "scale": run_timed([*base, "up", "-d", "--scale", "s3_0=10", "--no-recreate"], cwd=cwd, env=env),
        "down": run_timed([*base, "down", "-t", "0"], cwd=cwd, env=env),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    ours_cmd, theirs_cmd = [*stackctl_cmd(), "compose"], [docker_compose_binary()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    subprocess.run(["bash", str(pathlib.Path(__file__).resolve().parents[1] / "scripts" / "build-busybox-image.sh"),
                    IMAGE], check=True, capture_output=True)
    results: dict[str, dict[str, list[float]]] = {"ours": {}, "theirs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = pathlib.Path(tmp)
        (cwd / "compose.yaml").write_text(stack())
        tools = [("theirs", theirs_cmd), ("ours", ours_cmd)]
        for index in range(rounds):
            for who, cmd in tools if index % 2 == 0 else tools[::-1]:  # alternate who goes first
                for key, value in one_round(cmd, f"bench{who}{os.getpid()}", cwd, env).items():
                    results[who].setdefault(key, []).append(value)
    med = {who: {k: statistics.median(v) for k, v in r.items()} for who, r in results.items()}
    for key in ("up", "down"):  # the spread: on a busy 2-core machine one round can be 30% off
        print(f"{key} per round, ours/theirs: " + " ".join(
            f"{a / b:.2f}" for a, b in zip(results["ours"][key], results["theirs"][key])))
    print(f"20 services, 4 levels of 5, {rounds} alternating rounds, medians")
    report([
        ("up -d from nothing", med["ours"]["up"], med["theirs"]["up"], 0.85),
        ("up -d with nothing changed", med["ours"]["noop"], med["theirs"]["noop"], 3),
        ("up -d --scale s3_0=10 --no-recreate", med["ours"]["scale"], med["theirs"]["scale"], None),
        ("down -t 0", med["ours"]["down"], med["theirs"]["down"], 0.9),
    ])


if __name__ == "__main__":
    main()
