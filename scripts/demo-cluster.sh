#!/usr/bin/env bash
# The cluster demo: a 3-node lab, `cluster init`, `stack deploy` of stacks/webapp, a live scale, then a
# node stopped and the stack healed on the others. Expects bootstrap + dockerd (make demo-cluster does both).
# Root (the lab makes namespaces). Leaves the lab up; `stackctl lab down --name demo` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
SC=.venv/bin/stackctl
F=stacks/webapp/compose.yaml
LAB=${DEMO_LAB:-demo}
step() { printf '\n== %s\n' "$*"; }

bash scripts/build-busybox-image.sh >/dev/null
step "stackctl lab up --name $LAB --nodes 3 --managers 3"
$SC lab up --name "$LAB" --nodes 3 --managers 3
step "stackctl cluster init   (etcd with TLS peers on the managers, the agent on each, stackctl installed over SSH)"
$SC cluster init
step "stackctl stack deploy -c $F shop   (images shipped over SSH: no registry)"
$SC stack deploy -c "$F" shop
$SC stack ps shop
step "the published port answers on the nodes that run a web replica"
for addr in $($SC node ls --format json | .venv/bin/python -c 'import json,sys; print(" ".join(n["address"] for n in json.load(sys.stdin)))'); do
  printf '%s:8080 -> ' "$addr"; wget -qO- "http://$addr:8080/" 2>/dev/null || echo "(no replica here)"
done
step "stackctl service scale shop_web=2"
$SC service scale shop_web=2
$SC service ls
step "stackctl lab stop node3   (the leader notices within 3 s and places its tasks elsewhere)"
$SC lab stop node3 --name "$LAB"
for _ in $(seq 1 30); do
  if $SC stack ps shop --format json | .venv/bin/python -c '
import json, sys
tasks = [t for t in json.load(sys.stdin) if t.get("DesiredState") == "Running"]
sys.exit(0 if tasks and all(t.get("Node") != "node3" and t.get("CurrentState", "").startswith("Running") for t in tasks) else 1)'; then
    break
  fi
  sleep 1
done
$SC stack ps shop
$SC cluster status || true
step "stackctl lab start node3"
$SC lab start node3 --name "$LAB"
echo
echo "(the lab stays up: stackctl stack rm shop; stackctl lab down --name $LAB)"
