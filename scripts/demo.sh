#!/usr/bin/env bash
# The demo: show the example stack's canonical model and its dependency graph, then deploy it
# when the engine verbs exist. Expects bootstrap + dockerd (make demo does both).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-busybox-image.sh >/dev/null
SC=.venv/bin/stackctl
F=stacks/webapp/compose.yaml
echo "== stackctl compose -f $F config"
$SC compose -f "$F" config
if $SC compose graph --help >/dev/null 2>&1; then
  echo "== stackctl compose -f $F graph"
  $SC compose -f "$F" graph --format text
fi
if $SC compose up --help >/dev/null 2>&1; then
  echo "== stackctl compose -f $F up -d --wait"
  $SC compose -f "$F" up -d --wait
  $SC compose -f "$F" ps
  for i in 1 2 3 4 5 6; do wget -qO- http://127.0.0.1:8080/ 2>/dev/null || curl -fsS http://127.0.0.1:8080/; done
  echo "(stop it with: $SC compose -f $F down)"
else
  echo "nothing to deploy yet: the engine verbs (compose up) are not built yet"
fi
