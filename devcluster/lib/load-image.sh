#!/usr/bin/env bash
# load-image.sh IMAGE : copies IMAGE from the Docker Engine into the cluster's
# containerd (namespace k8s.io), where pods can use it with IfNotPresent/Never.
set -euo pipefail
source "$(dirname "$0")/env.sh"
image=$1
pid_of containerd >/dev/null || die "the cluster is not up (run: devcluster up)"
docker_cli image inspect "$image" >/dev/null || die "image $image not found in the Docker Engine"
docker_cli save "$image" | ctr_dc -n k8s.io images import - >/dev/null
log "loaded $image"
