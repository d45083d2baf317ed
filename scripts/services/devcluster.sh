#!/usr/bin/env bash
# Service for the Kubernetes tests: brings the dev cluster up (idempotent; a
# cold first run builds Kubernetes from source, about 7 minutes on 2 cores), loads
# the local test image, and prints `export KUBECONFIG=...` on stdout for
# scripts/test. Exits non-zero, with the component logs, if the cluster fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! kubeconfig=$(devcluster/devcluster up); then
  echo "!!! devcluster up FAILED (component logs above; state in /var/lib/launchbay-devcluster)" >&2
  exit 1
fi
devcluster/devcluster test-image >&2
echo "export KUBECONFIG=$kubeconfig"
