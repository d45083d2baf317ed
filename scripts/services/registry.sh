#!/usr/bin/env bash
# Run a local container registry with password auth for the pull/registry tests,
# idempotently: Debian's docker-registry on 127.0.0.1:$PORT (plain HTTP: Docker
# treats 127.0.0.0/8 registries as insecure by default), htpasswd (bcrypt) auth,
# as a background process. The password is generated once and kept in $STATE.
# Prints only `export KEY=VALUE` lines on stdout; progress goes to stderr.
set -euo pipefail

PORT=${LAUNCHBAY_TEST_REGISTRY_PORT:-5055}
STATE=${LAUNCHBAY_TEST_REGISTRY_STATE:-/var/lib/launchbay-test/registry}
USERNAME=launchbay
LOG=$STATE/registry.log
log() { echo "[registry] $*" >&2; }

source "$(dirname "$0")/lib.sh"  # apt_install

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

mkdir -p "$STATE/data"
chmod 700 "$STATE"
if [ ! -s "$STATE/password" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/password")
fi
PASSWORD=$(cat "$STATE/password")
if [ ! -s "$STATE/htpasswd" ] || ! htpasswd -vbB "$STATE/htpasswd" "$USERNAME" "$PASSWORD" >/dev/null 2>&1; then
  (umask 077; htpasswd -Bbn "$USERNAME" "$PASSWORD" >"$STATE/htpasswd")
fi
[ -s "$STATE/secret" ] || (umask 077; head -c 24 /dev/urandom | base64 >"$STATE/secret")

cat >"$STATE/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  secret: $(cat "$STATE/secret")
auth:
  htpasswd:
    realm: launchbay-test
    path: $STATE/htpasswd
EOF

# The API root answers 401 (auth required) once the registry is up.
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/v2/" || true; }

if [ "$(status)" != 401 ]; then
  log "starting docker-registry on 127.0.0.1:$PORT (log: $LOG)"
  setsid nohup docker-registry serve "$STATE/config.yml" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  for _ in $(seq 1 30); do
    [ "$(status)" = 401 ] && break
    sleep 0.5
  done
  if [ "$(status)" != 401 ]; then
    log "the registry did not come up; last lines of $LOG:"
    tail -n 30 "$LOG" >&2
    exit 1
  fi
fi
# The credentials must work (a registry from an earlier run with another
# password file would not accept them).
auth_status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -u "$USERNAME:$PASSWORD" "http://127.0.0.1:$PORT/v2/" || true)
if [ "$auth_status" != 200 ]; then
  log "the registry on 127.0.0.1:$PORT rejects the test credentials (HTTP $auth_status)"
  exit 1
fi
log "ready on 127.0.0.1:$PORT"
echo "export LAUNCHBAY_TEST_REGISTRY=127.0.0.1:$PORT"
echo "export LAUNCHBAY_TEST_REGISTRY_USERNAME=$USERNAME"
echo "export LAUNCHBAY_TEST_REGISTRY_PASSWORD=$PASSWORD"
