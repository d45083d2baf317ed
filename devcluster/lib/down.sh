#!/usr/bin/env bash
# down.sh : stops every component and pod, then removes the cluster's state
# (mounts, cgroups, bridge, iptables rules, $DEVCLUSTER_STATE, $DEVCLUSTER_RUN).
# Build outputs in $DEVCLUSTER_CACHE are kept. Safe to run when nothing is up.
set -uo pipefail
source "$(dirname "$0")/env.sh"

stop_component kubelet
for c in kube-scheduler kube-controller-manager kube-apiserver; do stop_component "$c" & done
wait
stop_component etcd

# Pods: kill their tasks through our containerd, then anything left in the
# kubelet's cgroups, then the shims our containerd started.
if pid_of containerd >/dev/null; then
  for id in $(ctr_dc -n k8s.io tasks ls -q 2>/dev/null); do
    ctr_dc -n k8s.io tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1
  done
  sleep 1
  for id in $(ctr_dc -n k8s.io tasks ls -q 2>/dev/null); do
    ctr_dc -n k8s.io tasks rm -f "$id" >/dev/null 2>&1
  done
fi
for procs in $(find /sys/fs/cgroup/*/kubepods* -name cgroup.procs 2>/dev/null); do
  xargs -r kill -KILL < "$procs" 2>/dev/null
done
stop_component containerd
for cmdline in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' 2>/dev/null < "$cmdline" | grep -q -- "-address $CONTAINERD_SOCK "; then
    pid=${cmdline#/proc/}; pid=${pid%/cmdline}
    log "killing leftover shim $pid"
    kill -KILL "$pid" 2>/dev/null
  fi
done
sleep 0.5

# The kubelet's pod cgroups (deepest first), in every v1 hierarchy.
for hier in /sys/fs/cgroup/*/; do
  find "$hier" -depth -type d -path '*/kubepods*' -exec rmdir {} \; 2>/dev/null
done

# Mounts left by containerd and the kubelet (overlay rootfs, shm, tokens, netns).
for dir in "$DEVCLUSTER_RUN" "$DEVCLUSTER_STATE"; do
  awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
done

ip link del "$CNI_BRIDGE" 2>/dev/null
for dir in -i -o; do
  while iptables -D FORWARD "$dir" "$CNI_BRIDGE" -j ACCEPT 2>/dev/null; do :; done
done

rm -rf "$DEVCLUSTER_RUN" "$DEVCLUSTER_STATE"
if left=$(pgrep -a -f "^$BIN/"); then log "WARNING: still running: $left"; fi
log "cluster is down"
