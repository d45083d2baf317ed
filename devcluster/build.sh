#!/usr/bin/env bash
# Builds the multi-call kube binary (apiserver, controller-manager, scheduler,
# kubelet, kubectl, etcd) and the pause binary into $DEVCLUSTER_CACHE/bin.
# Skips the build when the Go sources are unchanged (keyed on their hash).
# GOMODCACHE/GOCACHE stay at Go's defaults so later builds are incremental.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${DEVCLUSTER_CACHE:-/var/cache/launchbay-devcluster}
bin=$cache/bin
key=$(cd "$here" && cat build.sh go.mod go.sum $(find cmd -name '*.go' | sort) | sha256sum | cut -c1-16)
# Stamp the Kubernetes version (as upstream's build does) from go.mod.
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2; exit}' "$here/go.mod")
minor=${k8s_version#v1.}; minor=${minor%%.*}
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
ldflags+=" -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"
if [[ -f $bin/.key && $(cat "$bin/.key") == "$key" && -x $bin/kube && -x $bin/pause ]]; then
  echo "build: up to date ($key)"
  exit 0
fi
mkdir -p "$bin"
rm -f "$bin/.key"
cd "$here"
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--buildvcs=false}
export HOME=${HOME:-/root}  # Go derives its caches from HOME
echo "build: go build ($key) -- a cold build (empty Go caches) takes about 7 minutes on 2 cores"
go build -trimpath -ldflags='-s -w' -o "$bin/pause.new" ./cmd/pause
go build -trimpath -ldflags="$ldflags" -o "$bin/kube.new" ./cmd/kube
mv -f "$bin/pause.new" "$bin/pause"
mv -f "$bin/kube.new" "$bin/kube"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd; do
  ln -sf kube "$bin/$c"
done
echo "$key" > "$bin/.key"
echo "build: done"
