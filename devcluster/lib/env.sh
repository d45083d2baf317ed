# Shared settings and helpers for the devcluster scripts (sourced, not run).
# Everything the cluster writes lives outside the repo:
#   $DEVCLUSTER_CACHE  build outputs (binaries), kept across `down`
#   $DEVCLUSTER_STATE  certs, kubeconfigs, etcd data, kubelet dir, logs
#   $DEVCLUSTER_RUN    sockets, pid files and containerd's runtime state
[[ -x /usr/local/go/bin/go ]] && PATH=$PATH:/usr/local/go/bin
DEVCLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVCLUSTER_CACHE=${DEVCLUSTER_CACHE:-/var/cache/launchbay-devcluster}
DEVCLUSTER_STATE=${DEVCLUSTER_STATE:-/var/lib/launchbay-devcluster}
DEVCLUSTER_RUN=${DEVCLUSTER_RUN:-/run/launchbay-devcluster}
BIN=$DEVCLUSTER_CACHE/bin
PKI=$DEVCLUSTER_STATE/pki
LOGS=$DEVCLUSTER_STATE/logs
KUBECONFIG_PATH=$DEVCLUSTER_STATE/kubeconfig
CONTAINERD_SOCK=$DEVCLUSTER_RUN/containerd.sock
NODE_NAME=${DEVCLUSTER_NODE_NAME:-launchbay-devcluster}
ETCD_PORT=12379
ETCD_PEER_PORT=12380
APISERVER_PORT=6443
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1
POD_SUBNET=10.244.0.0/24
CNI_BRIDGE=devcluster0
PAUSE_IMAGE=launchbay.local/devcluster/pause:1
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)

log() { printf '[devcluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The IP of the interface holding the default route (this machine's address).
host_ip() {
  ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}'
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_dc() { ctr --address "$CONTAINERD_SOCK" "$@"; }
# Debian's docker client matches Debian's engine (another `docker` may be first on PATH).
docker_cli() { if [[ -x /usr/bin/docker ]]; then /usr/bin/docker "$@"; else docker "$@"; fi; }

pid_of() { # prints the pid of a running component, fails if it is not running
  local f=$DEVCLUSTER_RUN/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  # The pid must still be ours (not reused since a reboot).
  tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -q -- "$1 " || return 1
  echo "$pid"
}

# start_component NAME CMD... : runs CMD detached (own session), logs to $LOGS/NAME.log.
start_component() {
  local name=$1; shift
  if pid_of "$name" >/dev/null; then
    log "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  mkdir -p "$LOGS" "$DEVCLUSTER_RUN"
  echo "=== $(date -u +%FT%TZ) starting: $*" >> "$LOGS/$name.log"
  setsid "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$DEVCLUSTER_RUN/$name.pid"
  log "$name started (pid $!)"
}

# stop_component NAME [SECONDS] : SIGTERM, then SIGKILL after SECONDS (15).
stop_component() {
  local name=$1 patience=${2:-15} pid i
  if pid=$(pid_of "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq $((patience * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop on SIGTERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
    log "$name stopped"
  fi
  rm -f "$DEVCLUSTER_RUN/$name.pid"
}

# wait_for SECONDS DESCRIPTION CMD... : polls CMD every second until it succeeds.
wait_for() {
  local timeout=$1 what=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}
