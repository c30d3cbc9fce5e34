#!/usr/bin/env bash
# Set up and run the stack on the example inventory: Debian packages, a virtual environment,
# then `owl up` (Prometheus, Alertmanager, blackbox_exporter, node_exporter, the owl exporter,
# the SLA bridge on SQLite, and a demo site). Stop it with Ctrl-C.
source "$(dirname "$0")/common.sh"
install_debian_packages "${STACK_PACKAGES[@]}" "${REPORT_PACKAGES[@]}" python3-venv
stop_packaged_services
write_apt_textfile
install_runtime "$VENV"
cd "$ROOT"
exec "$VENV/bin/owl" up --inventory "${OWL_INVENTORY:-examples/inventory.yml}" "$@"
