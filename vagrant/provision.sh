#!/usr/bin/env bash
# Provision one stackctl node (Debian bookworm): Docker, sshd, Python, and etcd on managers.
# Arguments: NAME IP ROLE ETCD_INITIAL_CLUSTER. Safe to run again.
set -euo pipefail
NAME=$1 IP=$2 ROLE=$3 ETCD_CLUSTER=$4

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends docker.io openssh-server python3 python3-venv busybox-static \
  etcd-server >/dev/null

# The SSH user of the inventory drives the engine through /run/docker.sock.
usermod -aG docker vagrant
sed -i 's/^#\?AllowStreamLocalForwarding.*/AllowStreamLocalForwarding yes/' /etc/ssh/sshd_config
grep -q '^AllowStreamLocalForwarding' /etc/ssh/sshd_config || echo 'AllowStreamLocalForwarding yes' >> /etc/ssh/sshd_config
grep -q '^MaxSessions 100' /etc/ssh/sshd_config || echo 'MaxSessions 100' >> /etc/ssh/sshd_config
systemctl restart ssh
systemctl enable --now docker

# etcd: a member on each manager, stopped on workers.
if [ "$ROLE" = manager ]; then
  cat >/etc/default/etcd <<CONF
ETCD_NAME=$NAME
ETCD_DATA_DIR=/var/lib/etcd/stackctl
ETCD_LISTEN_PEER_URLS=http://$IP:2380
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://$IP:2380
ETCD_LISTEN_CLIENT_URLS=http://$IP:2379,http://127.0.0.1:2379
ETCD_ADVERTISE_CLIENT_URLS=http://$IP:2379
ETCD_INITIAL_CLUSTER=$ETCD_CLUSTER
ETCD_INITIAL_CLUSTER_TOKEN=stackctl-vagrant
ETCD_INITIAL_CLUSTER_STATE=new
CONF
  systemctl enable etcd
  systemctl restart etcd --no-block
else
  systemctl disable --now etcd || true
fi
echo "provisioned $NAME ($ROLE) at $IP"
