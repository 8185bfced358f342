"""The cluster, side by side: docker swarm mode at its best, the engine floor, and stackctl's swarm.

On one 3-node lab (3 managers), in one run:
- swarm: image loaded on every node, `--resolve-image never`, lookups that fail at once; then it leaves;
- the floor: docker-py creating and starting the same 30 containers over the 3 engines (each round);
- stackctl: `cluster init`, `stack deploy`, `service scale`, the leader agent killed, a node stopped
  (skipped with "stackctl: not available yet (<reason>)" while those verbs do not exist).
Measures: `service scale` 1 -> 30 until 30 run; the webapp-like stack deployed from nothing until
converged; the leader killed -> a new leader; a node stopped -> all its tasks running elsewhere.
Run (root, Linux): .venv/bin/python bench/cluster.py [--rounds N] [--name swb --subnet 10.213.240.0/24]
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _cluster_lab import FAILURES, Lab, scale_stack
from _cluster_stackctl import Stackctl, missing, stackctl_service_of
from _cluster_swarm import Swarm, floor_once, swarm_service_of
from _common import stackctl_cmd

Results = defaultdict[str, list[float]]
SCALE = "sc"  # the stack whose `sl` service is scaled, killed under and moved


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def rounds(n: int, what: str, results: Results, key: str, measure: Callable[[int], float]) -> None:
    for r in range(1, n + 1):
        value = measure(r)
        results[key].append(value)
        log(f"{what}, round {r}: {value:.2f} s")


def swarm_phase(lab: Lab, work: pathlib.Path, n: int, results: Results) -> None:
    swarm = Swarm(lab, work)
    swarm.init()
    log("swarm: 3 managers")
    try:
        swarm_measures(swarm, lab, n, results)
    finally:
        swarm.leave()  # stackctl then runs on engines without a swarm


def swarm_measures(swarm: Swarm, lab: Lab, n: int, results: Results) -> None:
    swarm.deploy(SCALE, scale_stack(1))
    lab.wait_converged(SCALE, swarm_service_of(SCALE), {"sl": 1}, timeout=180)

    def scale(r: int) -> float:
        value = swarm.scale_once(SCALE)
        results["floor"].append(floor_once(lab))
        log(f"floor, round {r}: {results['floor'][-1]:.2f} s")
        return value

    rounds(n, "swarm scale 1->30", results, "swarm scale", scale)
    rounds(n, "swarm stack deploy", results, "swarm deploy", lambda r: swarm.deploy_once(f"wa{r}"))
    lab.docker(swarm.manager, "service", "scale", "--detach", f"{SCALE}_sl=30")
    lab.wait_converged(SCALE, swarm_service_of(SCALE), {"sl": 30}, timeout=300)
    rounds(n, "swarm leader SIGKILL", results, "swarm leader", lambda r: swarm.leader_kill_once(SCALE, 30))
    rounds(n, "swarm node stopped", results, "swarm node", lambda r: swarm.node_loss_once(SCALE, 30))
    results["swarm tasks moved"] = [float(m) for m in swarm.moved]
    swarm.rm(SCALE)


def stackctl_phase(lab: Lab, work: pathlib.Path, n: int, results: Results) -> None:
    ours = Stackctl(lab, work)
    ours.init()
    log(f"stackctl: cluster init done, leader {ours.leader()}")
    ours.deploy(SCALE, scale_stack(1))
    lab.wait_converged(SCALE, stackctl_service_of(SCALE), {"sl": 1}, timeout=180)

    def scale(r: int) -> float:
        value = ours.scale_once(SCALE)
        results["floor (stackctl phase)"].append(floor_once(lab))
        log(f"floor, round {r}: {results['floor (stackctl phase)'][-1]:.2f} s")
        return value

    def deploy(r: int) -> float:
        fresh, again = ours.deploy_once(f"wa{r}")
        results["ours deploy again"].append(again)
        return fresh

    def leader(sig: signal.Signals) -> Callable[[int], float]:
        def measure(r: int) -> float:
            elected, write = ours.leader_stop_once(sig)
            if write is not None:
                results[f"ours {sig.name} write"].append(write)
            lab.wait_converged(SCALE, stackctl_service_of(SCALE), {"sl": 30}, timeout=180)
            time.sleep(3)  # the restarted agent is a standby again before the next kill
            return elected
        return measure

    rounds(n, "stackctl scale 1->30", results, "ours scale", scale)
    rounds(n, "stackctl stack deploy", results, "ours deploy", deploy)
    lab.stackctl("service", "scale", f"{SCALE}_sl=30", timeout=300)
    lab.wait_converged(SCALE, stackctl_service_of(SCALE), {"sl": 30}, timeout=300)
    rounds(n, "stackctl leader SIGKILL", results, "ours SIGKILL", leader(signal.SIGKILL))
    rounds(n, "stackctl leader SIGTERM", results, "ours SIGTERM", leader(signal.SIGTERM))
    rounds(n, "stackctl node stopped", results, "ours node", lambda r: ours.node_loss_once(SCALE, 30))
    results["ours tasks moved"] = [float(m) for m in ours.moved]
    for note in sorted(ours.notes):
        log(f"stackctl: {note}")
    ours.rm(SCALE)


# --- the table -------------------------------------------------------------------------------------

ROWS = [  # what, swarm key, stackctl key, goal
    ("service scale 1 -> 30, until 30 running", "swarm scale", "ours scale",
     "<= 1.0x swarm, <= 1.2x floor"),
    ("stack deploy (webapp-like), converged", "swarm deploy", "ours deploy", "<= 1.0x swarm"),
    ("stack deploy again, nothing changed", None, "ours deploy again", "<= 1 s"),
    ("leader SIGKILL -> new leader", "swarm leader", "ours SIGKILL", "<= 3 s"),
    ("leader SIGKILL -> its first fenced write", None, "ours SIGKILL write", "<= 3 s"),
    ("leader graceful stop -> new leader", None, "ours SIGTERM", "<= 0.5 s"),
    ("leader graceful stop -> its first fenced write", None, "ours SIGTERM write", "-"),
    ("node stopped -> its tasks running elsewhere", "swarm node", "ours node", "<= 8 s"),
]


def med(results: Results, key: str | None) -> float | None:
    return statistics.median(results[key]) if key and results.get(key) else None


def cell(value: float | None) -> str:
    return f"{value:8.2f}s" if value is not None else "        -"


def ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:9.2f}x" if ours is not None and theirs else "         -"


def table(results: Results, ours_note: str | None) -> None:
    floor = med(results, "floor (stackctl phase)") or med(results, "floor")
    print(f"\n{'what':46} {'swarm':>9} {'floor':>9} {'stackctl':>9} {'ours/swarm':>10} {'ours/floor':>10}  goal")
    for what, theirs_key, ours_key, goal in ROWS:
        theirs, ours = med(results, theirs_key), med(results, ours_key)
        row_floor = floor if ours_key == "ours scale" else None
        print(f"{what:46} {cell(theirs)} {cell(row_floor)} {cell(ours)} {ratio(ours, theirs)} "
              f"{ratio(ours, row_floor)}  {goal}")
    print("(medians over the rounds; the floor: docker-py, 30 containers over 3 engines, "
          f"{len(results.get('floor', []))} + {len(results.get('floor (stackctl phase)', []))} runs)")
    if ours_note:
        print(f"stackctl: {ours_note}")
    for key, values in sorted(results.items()):
        print(f"  {key:28} " + " ".join(f"{v:.2f}" for v in values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="benchc", help="lab name (default benchc)")
    parser.add_argument("--subnet", help="lab subnet (default: derived from the name by `lab up`)")
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path("/var/tmp/stackctl-bench"))
    parser.add_argument("--keep-lab", action="store_true", help="leave the lab up at the end")
    parser.add_argument("--skip-swarm", action="store_true")
    args = parser.parse_args()
    lab = Lab(name=args.name, subnet=args.subnet, root=args.root, cli=stackctl_cmd())
    results: Results = defaultdict(list)
    note: str | None = None
    failed = False
    with tempfile.TemporaryDirectory(prefix="stackctl-bench-cluster-") as tmp:
        try:
            lab.up()
            log(f"lab {lab.name}: 3 nodes, image loaded, resolver fails at once")
            if not args.skip_swarm:
                try:
                    swarm_phase(lab, pathlib.Path(tmp), args.rounds, results)
                except FAILURES as e:
                    print(f"bench/cluster.py: swarm: {e}", file=sys.stderr)
                    failed = True
            reason = missing(lab)
            if reason:
                note = f"not available yet ({reason})"
            else:
                try:
                    stackctl_phase(lab, pathlib.Path(tmp), args.rounds, results)
                except FAILURES as e:
                    note, failed = f"failed ({e})", True
        except FAILURES as e:
            print(f"bench/cluster.py: {e}", file=sys.stderr)
            failed = True
        finally:
            if not args.keep_lab:
                lab.down()
    table(results, note)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
