#!/usr/bin/env bash
# The node's container runtime: a containerd instance of our own (own config,
# root, state and socket, so the system containerd that dockerd uses is left
# alone), its CNI bridge network, and the pod sandbox (pause) image built
# locally -- no registry and no Docker needed. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"

for tool in containerd containerd-shim-runc-v2 runc ctr iptables; do
  command -v "$tool" >/dev/null || die "$tool not found (run devcluster/install-deps.sh)"
done
[[ -x /usr/lib/cni/bridge ]] || die "CNI plugins not found (run devcluster/install-deps.sh)"

root=$DEVCLUSTER_STATE/containerd
cni=$DEVCLUSTER_STATE/cni
mkdir -p "$root" "$DEVCLUSTER_RUN/containerd" "$cni/net.d" "$cni/ipam"

cat > "$root/config.toml" <<TOML
version = 2
root = "$root/root"
state = "$DEVCLUSTER_RUN/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$root/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  netns_mounts_under_state_dir = true
  # This machine's root lacks CAP_SYS_RESOURCE: it cannot lower oom_score_adj
  # (the sandbox asks for -998), so keep scores at or above containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DEVCLUSTER_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$cni/net.d"
TOML

# One bridge, host-local IPs; pods reach this host, nothing is NATed out.
cat > "$cni/net.d/10-devcluster.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "devcluster",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$cni/ipam",
        "ranges": [[{"subnet": "$POD_SUBNET"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

# Docker sets the FORWARD policy to DROP; let traffic on our bridge through.
for dir in -i -o; do
  iptables -C FORWARD "$dir" "$CNI_BRIDGE" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD 1 "$dir" "$CNI_BRIDGE" -j ACCEPT
done

start_component containerd containerd --config "$root/config.toml"
wait_for 30 "containerd socket" ctr_dc version ||
  { tail -n 30 "$LOGS/containerd.log" >&2; die "containerd did not start"; }

# The pod sandbox image, from our own static pause binary.
if ! ctr_dc -n k8s.io images check "name==$PAUSE_IMAGE" 2>/dev/null | grep -q complete; then
  archive=$DEVCLUSTER_RUN/pause-image.tar
  "$DEVCLUSTER_DIR/lib/image-archive.py" "$archive" "$PAUSE_IMAGE" \
    --add "$BIN/pause:/pause" --entrypoint '["/pause"]'
  ctr_dc -n k8s.io images import "$archive" >/dev/null
  rm -f "$archive"
  log "imported $PAUSE_IMAGE"
fi
