#!/usr/bin/env bash
# Start a Docker engine in the background when none answers on /var/run/docker.sock (no systemd here).
# Running it twice is harmless: the second run sees the engine answering and does nothing.
set -euo pipefail
SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
LOG=${DOCKERD_LOG:-/var/log/stackctl-dockerd.log}

answers() { docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answers; then echo "dockerd: already running"; exit 0; fi
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "dockerd: a dockerd process exists but does not answer yet; waiting"
else
  # A stale pid file from a killed engine blocks a new start.
  rm -f /var/run/docker.pid
  nohup dockerd -H "unix://$SOCK" >>"$LOG" 2>&1 &
fi
for _ in $(seq 1 120); do
  if answers; then echo "dockerd: running ($(docker -H "unix://$SOCK" version --format '{{.Server.Version}}'))"; exit 0; fi
  sleep 0.5
done
echo "dockerd: did not answer within 60 s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
