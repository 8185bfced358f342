#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run). Expects scripts/bootstrap.sh and
# scripts/start-dockerd.sh to have run (make test does both).
set -euo pipefail
cd "$(dirname "$0")/.."
# The shared conformance corpus is read from $STACKCTL_SHARED, else ../shared (tests/support/env.py): a plain
# clone has neither and skips those cases in one summary line; under CI=true they must run.
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
