#!/usr/bin/env bash
# restart.sh COMPONENT : stops one running control-plane component (SIGTERM,
# SIGKILL after 5 s: an API server drains its requests for longer) and starts
# it again with the same flags (start.sh), then waits until it is healthy
# again: /readyz for the API server, /healthz for the controller manager and
# the scheduler, and then until the job controller and the scheduler act on
# new objects (see control_plane_acts). etcd keeps the cluster's state, so jobs, pods and their
# resourceVersions survive. A component that exited while the API server was
# away (a controller manager still starting up exits then) is started again,
# as its supervisor would. For the tests that show runs surviving the control
# plane (tests/infrastructure/test_kubernetes_restarts.py).
set -euo pipefail
source "$(dirname "$0")/env.sh"
lib=$DEVCLUSTER_DIR/lib

case ${1:-} in
apiserver | kube-apiserver) component=kube-apiserver ;;
controller-manager | kube-controller-manager) component=kube-controller-manager ;;
scheduler | kube-scheduler) component=kube-scheduler ;;
*) die "usage: devcluster restart apiserver|controller-manager|scheduler" ;;
esac

healthy() {
  case ${1:-$component} in
  kube-apiserver) kubectl_admin get --raw /readyz ;;
  kube-controller-manager) curl -ksf https://127.0.0.1:10257/healthz ;;
  kube-scheduler) curl -ksf https://127.0.0.1:10259/healthz ;;
  esac
}

pid_of "$component" >/dev/null || die "$component is not running (devcluster up first)"
start=$SECONDS
stop_component "$component" 5
"$lib/start.sh" "$component"
wait_for 120 "$component to be healthy again" healthy ||
  { tail -n 40 "$LOGS/$component.log" >&2; die "$component did not come back"; }
# The controller manager's and the scheduler's watches fail while a new API
# server syncs its RBAC caches, and their informers back off (up to a minute):
# /readyz is not enough, so a suspended Job (the job controller marks it
# Suspended) and a pod for no node (the scheduler marks it Unschedulable) show
# that both act again. Neither runs a container.
probe=devcluster-restart-probe-$$
probes_seen() {
  [[ $(kubectl_admin -n default get job "$probe" \
    -o jsonpath='{.status.conditions[?(@.type=="Suspended")].status}') == True ]] &&
    [[ $(kubectl_admin -n default get pod "$probe" \
      -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}') == Unschedulable ]]
}
control_plane_acts() {
  kubectl_admin -n default apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: $probe}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: probe, image: $PAUSE_IMAGE}]
---
apiVersion: v1
kind: Pod
metadata: {name: $probe}
spec:
  nodeSelector: {devcluster.launchbay.io/probe: none}
  containers: [{name: probe, image: $PAUSE_IMAGE}]
YAML
  local ok=0
  wait_for 120 "the job controller and the scheduler to act again" probes_seen || ok=1
  kubectl_admin -n default delete job "$probe" --wait=false >/dev/null 2>&1 || true
  kubectl_admin -n default delete pod "$probe" --grace-period=0 --wait=false >/dev/null 2>&1 || true
  return $ok
}

if [[ $component == kube-apiserver ]]; then
  for other in kube-controller-manager kube-scheduler; do
    if ! pid_of "$other" >/dev/null; then
      log "$other exited while the API server was away; starting it again"
      "$lib/start.sh" "$other"
      wait_for 60 "$other to be healthy" healthy "$other"
    fi
  done
fi
control_plane_acts || die "the control plane does not act after restarting $component"
log "$component restarted and healthy in $((SECONDS - start))s"
