#!/usr/bin/env bash
# Install everything stackctl, its demo and its tests need on a fresh Debian machine (as root):
# Debian packages, then a virtualenv at .venv with stackctl and its dev extra. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(docker.io busybox-static openssh-server etcd-server haproxy nginx-light wrk iproute2 iptables make ruby gcc libc6-dev python3-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.stackctl-installed
# Reinstall when the build inputs changed: the project metadata or the balancer's C sources.
if [ ! -f "$stamp" ] || [ -n "$(find pyproject.toml setup.py stackctl/lb -maxdepth 1 -newer "$stamp" \
      \( -name pyproject.toml -o -name setup.py -o -name '*.c' -o -name '*.h' \) 2>/dev/null)" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,fast]'
  touch "$stamp"
fi
echo "bootstrap: ready (.venv/bin/stackctl)"
