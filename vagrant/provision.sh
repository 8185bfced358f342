#!/usr/bin/env bash
# Provision one stackctl node (Debian bookworm) so that `stackctl cluster init` accepts it:
# sshd, Docker, python3 on every node, and the etcd binary on managers. Arguments: NAME IP ROLE.
# Safe to run again. Nothing is configured for etcd here: `cluster init` writes its own
# /etc/stackctl/etcd.sh and the stackctl-etcd.service unit (TLS peers, clients on 127.0.0.1 only).
set -euo pipefail
NAME=$1 IP=$2 ROLE=$3

export DEBIAN_FRONTEND=noninteractive
packages=(docker.io openssh-server python3 busybox-static sudo)
[ "$ROLE" = manager ] && packages+=(etcd-server)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# The SSH user of the inventory drives the engine through /run/docker.sock; cluster init runs its
# root steps with `sudo -n` (Vagrant boxes give the vagrant user passwordless sudo).
usermod -aG docker vagrant
sed -i 's/^#\?AllowStreamLocalForwarding.*/AllowStreamLocalForwarding yes/' /etc/ssh/sshd_config
grep -q '^AllowStreamLocalForwarding' /etc/ssh/sshd_config || echo 'AllowStreamLocalForwarding yes' >> /etc/ssh/sshd_config
grep -q '^MaxSessions 100' /etc/ssh/sshd_config || echo 'MaxSessions 100' >> /etc/ssh/sshd_config
systemctl restart ssh
systemctl enable --now docker

# Debian's etcd-server starts its own member on 127.0.0.1:2379 with its own data: stop it, so that the
# member `cluster init` sets up (stackctl-etcd.service) is the only one.
if [ "$ROLE" = manager ]; then
  systemctl disable --now etcd 2>/dev/null || true
  command -v etcd >/dev/null
fi
echo "provisioned $NAME ($ROLE) at $IP"
