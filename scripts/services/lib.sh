# Shared by the service scripts (sourced, not run).

# apt_install PACKAGE...: install Debian packages quietly, refreshing the
# package lists once if the first attempt fails (a fresh machine has none).
apt_install() {
  echo "[$(basename "$0" .sh)] installing $* from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$@" >/dev/null; }
}
