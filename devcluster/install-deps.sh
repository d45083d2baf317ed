#!/usr/bin/env bash
# Installs the node's Debian packages if any is missing: containerd (with its
# CRI plugin), runc, the CNI plugins, iptables, openssl, curl, busybox-static.
set -euo pipefail
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v ip >/dev/null || need+=(iproute2)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v apparmor_parser >/dev/null || need+=(apparmor)
command -v go >/dev/null || { echo "devcluster: Go is required to build the cluster" >&2; exit 1; }
if ((${#need[@]})); then
  echo "devcluster: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi
