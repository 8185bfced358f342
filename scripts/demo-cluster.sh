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
step "the published port answers on every node, round-robin over the replicas on all nodes (the node proxy)"
for addr in $($SC node ls --format json | .venv/bin/python -c 'import json,sys; print(" ".join(n["address"] for n in json.load(sys.stdin)))'); do
  for _ in 1 2 3; do printf '%s:8080 -> ' "$addr"; wget -qO- -T 2 "http://$addr:8080/" 2>/dev/null || echo "(no answer)"; done
done
step "one service calling another across nodes: from a web task on node1, http://web:80 and db:5432 by name (service VIPs)"
$SC lab ssh --name "$LAB" node1 'c=$(docker ps -q --filter label=io.stackctl.service=web | head -1)
docker exec "$c" sh -c "grep -E \"[[:space:]](web|db)\$\" /etc/hosts
for i in 1 2 3 4; do printf \"GET / HTTP/1.0\r\n\r\n\" | nc -w 2 web 80 | tail -n 1; done
echo \"db:5432 echoes: \$(echo ping | nc -w 1 db 5432)\""'

step "stackctl service scale shop_web=2"
$SC service scale shop_web=2
$SC service ls
victim=$($SC service ps shop_db --format json | .venv/bin/python -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
print(next(r["Node"] for r in rows if r["DesiredState"] == "Running"))')
step "stackctl lab stop $victim   (the node running shop_db: the leader sees it down and places its tasks elsewhere)"
started=$(date +%s.%N)
$SC lab stop "$victim" --name "$LAB"
healed() {  # every service at its count, every wanted task running, none on the stopped node
  $SC service ls --format json | .venv/bin/python -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
sys.exit(0 if rows and all(r["Replicas"].split("/")[0] == r["Replicas"].split("/")[1] for r in rows) else 1)' &&
  $SC stack ps shop --format json | .venv/bin/python -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
wanted = [r for r in rows if r["DesiredState"] == "Running"]
sys.exit(0 if all(r["Node"] not in ("", sys.argv[1]) and r["CurrentState"].startswith("Running") for r in wanted) else 1)' "$victim"
}
for _ in $(seq 1 60); do healed && break; sleep 0.5; done
echo "healed in $(.venv/bin/python -c "import time; print(round(time.time() - $started, 1))") s"
$SC stack ps shop
$SC cluster status || true
step "stackctl lab start $victim   (its stale containers are removed when it comes back)"
$SC lab start "$victim" --name "$LAB"
echo
echo "(the lab stays up: $SC stack rm shop; $SC lab down --name $LAB)"
