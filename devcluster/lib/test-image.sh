#!/usr/bin/env bash
# test-image.sh : makes sure the suite's local test image is in the cluster.
# Taken from the Docker Engine (scripts/services/docker.sh builds it there);
# without Docker it is built here from Debian's busybox-static.
set -euo pipefail
source "$(dirname "$0")/env.sh"
image=${DEVCLUSTER_TEST_IMAGE:-launchbay-test/busybox:1.35}
docker_sh=$DEVCLUSTER_DIR/../scripts/services/docker.sh

if ! docker_cli image inspect "$image" >/dev/null 2>&1 && [[ -f $docker_sh ]]; then
  bash "$docker_sh" >&2
fi
if docker_cli image inspect "$image" >/dev/null 2>&1; then
  exec "$DEVCLUSTER_DIR/lib/load-image.sh" "$image"
fi

log "no Docker image $image; building it from busybox-static"
[[ -x /bin/busybox ]] || die "/bin/busybox missing (apt-get install busybox-static)"
pid_of containerd >/dev/null || die "the cluster is not up (run: devcluster up)"
archive=$DEVCLUSTER_RUN/test-image.tar
links=()
for applet in $(/bin/busybox --list); do links+=(--link "bin/$applet:busybox"); done
"$DEVCLUSTER_DIR/lib/image-archive.py" "$archive" "$image" \
  --add /bin/busybox:/bin/busybox "${links[@]}" --cmd '["sh"]'
ctr_dc -n k8s.io images import "$archive" >/dev/null
rm -f "$archive"
log "loaded $image (built from /bin/busybox)"
