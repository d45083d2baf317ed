#!/usr/bin/env bash
# up.sh : brings the one-node cluster up, or reuses the running one, and prints
# the time each phase took. On failure prints the tail of every component log.
set -euo pipefail
source "$(dirname "$0")/env.sh"
lib=$DEVCLUSTER_DIR/lib

on_error() {
  log "up FAILED; component logs follow (full logs in $LOGS)"
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -f $LOGS/$c.log ]] || continue
    echo "----- $c (last 40 lines of $LOGS/$c.log) -----" >&2
    tail -n 40 "$LOGS/$c.log" >&2
  done
}
trap on_error ERR

phase_start=$SECONDS
timings=()
phase_done() {
  timings+=("$(printf '%-22s %4ds' "$1" $((SECONDS - phase_start)))")
  log "phase $1 done in $((SECONDS - phase_start))s"
  phase_start=$SECONDS
}

apiserver_ready() { kubectl_admin get --raw /readyz; }
node_ready() {
  [[ $(kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}
defaults_exist() {
  kubectl_admin -n default get serviceaccount default &&
    kubectl_admin -n default get configmap kube-root-ca.crt
}

# State left by a cluster whose processes are all gone (a crash, a reboot): start clean.
any_running() { local c; for c in "${COMPONENTS[@]}"; do pid_of "$c" >/dev/null && return 0; done; return 1; }
if [[ -d $DEVCLUSTER_STATE ]] && ! any_running; then
  log "no component of the previous cluster is running; removing its stale state"
  "$lib/down.sh"
  phase_done cleanup
fi
"$DEVCLUSTER_DIR/install-deps.sh" >&2;          phase_done deps
"$DEVCLUSTER_DIR/build.sh" >&2;                 phase_done build
"$lib/certs.sh" >&2;                            phase_done certs
"$lib/containerd.sh" >&2;                       phase_done containerd
"$lib/start.sh" etcd >&2
wait_for 60 "etcd health" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
phase_done etcd
"$lib/start.sh" kube-apiserver >&2
wait_for 120 "kube-apiserver /readyz" apiserver_ready
# Let the API server's kubelet client read logs and exec (RBAC for it).
kubectl_admin create clusterrolebinding devcluster:kube-apiserver-kubelet-client \
  --clusterrole system:kubelet-api-admin --user kube-apiserver-kubelet-client \
  --dry-run=client -o yaml | kubectl_admin apply -f - >/dev/null
phase_done kube-apiserver
"$lib/start.sh" kube-controller-manager >&2
"$lib/start.sh" kube-scheduler >&2
"$lib/start.sh" kubelet >&2
wait_for 120 "node $NODE_NAME Ready" node_ready
wait_for 60 "default ServiceAccount and kube-root-ca.crt" defaults_exist
phase_done node-ready

trap - ERR
log "cluster is up; phase times:"
printf '  %s\n' "${timings[@]}" >&2
log "kubeconfig: $KUBECONFIG_PATH   (export KUBECONFIG=\$(devcluster/devcluster kubeconfig))"
echo "$KUBECONFIG_PATH"
