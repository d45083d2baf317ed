#!/usr/bin/env bash
# Creates the cluster's CA, component certificates, service-account key pair
# and kubeconfigs under $PKI / $DEVCLUSTER_STATE. Idempotent: existing files
# are kept, except serving certificates, which are re-issued when this
# machine's IP changes.
set -euo pipefail
source "$(dirname "$0")/env.sh"

ip=$(host_ip); [[ -n $ip ]] || die "cannot find this machine's IP"
mkdir -p "$PKI"; chmod 700 "$PKI"; cd "$PKI"

if [[ ! -f ca.crt ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=launchbay-devcluster-ca" 2>/dev/null
fi
if [[ ! -f sa.key ]]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# issue NAME SUBJECT KIND [SANS] ; KIND is client or server
issue() {
  local name=$1 subj=$2 kind=$3 sans=${4:-} ext
  [[ -f $name.crt ]] && return 0
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$([[ $kind == server ]] && echo serverAuth || echo clientAuth)"
  [[ -n $sans ]] && ext+=$'\n'"subjectAltName=$sans"
  openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile <(echo "$ext") -out "$name.crt" 2>/dev/null
  rm -f "$name.csr"
}

# Serving certs carry the IP: re-issue them if it changed.
if [[ $(cat serving-ip 2>/dev/null) != "$ip" ]]; then
  rm -f apiserver.crt kubelet-serving.crt
  echo "$ip" > serving-ip
fi
issue apiserver "/CN=kube-apiserver" server \
  "IP:$ip,IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue kubelet-serving "/CN=$NODE_NAME" server "IP:$ip,IP:127.0.0.1,DNS:$NODE_NAME,DNS:localhost"
issue admin "/O=system:masters/CN=devcluster-admin" client
issue controller-manager "/CN=system:kube-controller-manager" client
issue scheduler "/CN=system:kube-scheduler" client
issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" client
issue apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" client

# kubeconfig FILE CERTNAME
kubeconfig() {
  local file=$1 cert=$2
  cat > "$file" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: devcluster
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 < ca.crt)
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 < "$cert.crt")
    client-key-data: $(base64 -w0 < "$cert.key")
contexts:
- name: devcluster
  context: {cluster: devcluster, user: $cert}
current-context: devcluster
YAML
  chmod 600 "$file"
}
kubeconfig "$KUBECONFIG_PATH" admin
kubeconfig controller-manager.kubeconfig controller-manager
kubeconfig scheduler.kubeconfig scheduler
kubeconfig kubelet.kubeconfig kubelet
