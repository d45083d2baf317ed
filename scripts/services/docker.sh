#!/usr/bin/env bash
# Bring up a Docker Engine for the container tests, idempotently:
#   1. install Debian's docker.io and busybox-static when missing;
#   2. start dockerd in the background when `docker info` fails
#      (log: /var/log/launchbay-dockerd.log);
#   3. build the local test images when missing (nothing is pulled: no registry
#      is reachable). launchbay-test/busybox:1.35 is a contract with the dev
#      cluster scripts, which load it into Kubernetes: keep its name and tag.
# Prints only `export KEY=VALUE` lines on stdout; progress goes to stderr.
set -euo pipefail

IMAGE=${LAUNCHBAY_TEST_DOCKER_IMAGE:-launchbay-test/busybox:1.35}
LOG=${LAUNCHBAY_DOCKERD_LOG:-/var/log/launchbay-dockerd.log}
START_TIMEOUT=${LAUNCHBAY_DOCKERD_START_TIMEOUT:-90}
log() { echo "[docker] $*" >&2; }

source "$(dirname "$0")/lib.sh"  # apt_install

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# Debian's client matches Debian's engine; another `docker` earlier on PATH may
# not speak to a 20.10 engine.
DOCKER=docker
[ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
engine_up() { "$DOCKER" info >/dev/null 2>&1; }

if ! engine_up; then
  case "${DOCKER_HOST:-unix:///var/run/docker.sock}" in
    unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
    *) log "DOCKER_HOST=$DOCKER_HOST does not answer, and this script only starts a local engine"; exit 1 ;;
  esac
  log "starting dockerd (log: $LOG)"
  mkdir -p "$(dirname "$LOG")"
  # setsid + nohup: the engine outlives this script and the test run.
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
  waited=0
  until engine_up; do
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      log "dockerd did not answer within ${START_TIMEOUT}s; last lines of $LOG:"
      tail -n 40 "$LOG" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd is up after ${waited}s"
fi

build_busybox_image() {
  local image=$1 busybox rootfs applet
  busybox=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' RETURN
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
  chmod 1777 "$rootfs/tmp"
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' \
    --message "launchbay test image: Debian busybox-static" \
    - "$image" >/dev/null
}

if ! "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "building $IMAGE from Debian's busybox-static"
  build_busybox_image "$IMAGE"
fi
"$DOCKER" run --rm --network none "$IMAGE" sh -c 'echo ok' | grep -qx ok \
  || { log "the test image $IMAGE does not run"; exit 1; }

log "ready: $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null)"
echo "export LAUNCHBAY_TEST_DOCKER_IMAGE=$IMAGE"
