#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run). Expects scripts/bootstrap.sh and
# scripts/start-dockerd.sh to have run (make test does both).
set -euo pipefail
cd "$(dirname "$0")/.."
export STACKCTL_SHARED=${STACKCTL_SHARED:-$(cd .. && pwd)/shared}
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
