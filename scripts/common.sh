# Shared by scripts/demo.sh and scripts/test.sh: Debian packages and the virtual environment.
# Sourced, not run. Works as root on a fresh Debian 12 machine (or with sudo available).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OWL_VENV:-$ROOT/.venv}"
STACK_PACKAGES=(prometheus prometheus-alertmanager prometheus-blackbox-exporter
                prometheus-node-exporter prometheus-node-exporter-collectors)
# WeasyPrint's libraries and a font for the monthly reports (owl report, the bridge's job)
REPORT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
STACK_SERVICES=(prometheus prometheus-alertmanager prometheus-blackbox-exporter
                prometheus-node-exporter)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${missing[@]}"
  fi
}

# Debian starts the packaged services on the ports owl up uses; owl up runs its own.
stop_packaged_services() {
  command -v systemctl >/dev/null && [ -d /run/systemd/system ] || return 0
  for service in "${STACK_SERVICES[@]}"; do
    if systemctl is-active --quiet "$service" 2>/dev/null; then
      echo "stopping and disabling the packaged $service service (owl up runs its own)"
      as_root systemctl disable --now "$service"
    fi
  done
}

# The apt textfile node_exporter reads (OsUpdatesPending, ServerRebootPending). Debian's timer
# writes it every 15 minutes where systemd runs; on a machine without systemd (a container),
# write it once now, as that timer's service does.
write_apt_textfile() {
  local collector=/usr/share/prometheus-node-exporter-collectors/apt_info.py
  local textfile=/var/lib/prometheus/node-exporter/apt.prom
  [ -e "$textfile" ] || [ ! -x "$collector" ] && return 0
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    as_root systemctl start prometheus-node-exporter-apt.service
  else
    echo "no systemd: writing $textfile once (Debian's timer refreshes it where systemd runs)"
    /usr/bin/python3 "$collector" | as_root sponge "$textfile"
  fi
}

python_ok() {
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# create_venv DIR: a virtual environment with a current pip, made with Python 3.11 or newer
create_venv() {
  local venv="$1" python=python3
  if ! python_ok "$python"; then
    echo "Python 3.11 or newer is needed (python3 is $($python --version 2>&1))" >&2
    exit 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" 2>/dev/null || {
      install_debian_packages python3-venv
      "$python" -m venv "$venv"
    }
  fi
  "$venv/bin/pip" install -q --upgrade pip
}

# install_runtime DIR [WHEEL_DIR]: what a user runs, as the Dockerfile installs it: the locked
# runtime set (hashes checked), then owl-monitoring's own wheel with no extras and no other
# dependency. WHEEL_DIR keeps the wheel (default: a temporary folder).
install_runtime() {
  local venv="$1" wheels="${2:-}"
  create_venv "$venv"
  "$venv/bin/pip" install -q --require-hashes -r "$ROOT/requirements.lock"
  if [ -z "$wheels" ]; then wheels="$(mktemp -d)"; fi
  build_wheel "$venv" "$wheels"
  "$venv/bin/pip" install -q --no-deps --force-reinstall "$wheels"/owl_monitoring-*.whl
}

# build_wheel VENV WHEEL_DIR: the wheel, built from a copy of what the Docker build context holds
# (the `!` lines of .dockerignore), so that nothing else in the checkout, such as a stale build/
# folder, can slip into it
build_wheel() {
  local venv="$1" wheels="$2" context
  context="$(mktemp -d)"
  (cd "$ROOT" && sed -n 's/^!//p' .dockerignore | xargs tar --exclude=__pycache__ -cf -) \
    | tar -xf - -C "$context"
  "$venv/bin/pip" wheel -q --no-deps --wheel-dir "$wheels" "$context"
  rm -rf "$context"
}

# install_for_tests DIR: the locked runtime set, then the checkout in editable mode with the
# test extra on top
install_for_tests() {
  local venv="$1"
  create_venv "$venv"
  "$venv/bin/pip" install -q --require-hashes -r "$ROOT/requirements.lock"
  "$venv/bin/pip" install -q -e "$ROOT[test]"
}
