#!/usr/bin/env bash
# Run every test with the real parts: installs the Debian packages the tests need, starts a
# PostgreSQL server, and runs pytest with CI=true (a missing binary fails, it never skips), in
# OWL_TEST_WORKERS processes (default 2, CI's cores; 0 runs everything in this one), a test file
# to a worker, each worker on a PostgreSQL database of its own (owl_test_gw0, owl_test_gw1...).
source "$(dirname "$0")/common.sh"
# poppler-utils (pdftotext, pdftoppm) for the report tests; chromium and its driver for the
# browser tests, with the fonts chromium only recommends; MariaDB and the database exporters for
# the database health tests; HAProxy and VictoriaMetrics for the high-availability and sharded
# profiles' live tests
install_debian_packages "${STACK_PACKAGES[@]}" "${REPORT_PACKAGES[@]}" poppler-utils \
  python3-venv postgresql restic borgbackup openssl \
  mariadb-server mariadb-client prometheus-mysqld-exporter prometheus-postgres-exporter \
  haproxy victoria-metrics \
  chromium chromium-driver fonts-liberation
VENV="${OWL_TEST_VENV:-$ROOT/.venv-test}"
install_for_tests "$VENV"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

start_postgres() {
  if [ -n "${OWL_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  local version
  version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
  if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
    as_root pg_createcluster "$version" main
  fi
  as_root pg_ctlcluster "$version" main start 2>/dev/null || true
  as_postgres psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='owl_test'" | grep -q 1 \
    || as_postgres psql -qc "CREATE ROLE owl_test LOGIN PASSWORD 'owl_test'"
  local database worker
  for database in owl_test $(for ((worker = 0; worker < WORKERS; worker++)); do
                               echo "owl_test_gw$worker"; done); do
    as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='$database'" \
      | grep -q 1 || as_postgres psql -qc "CREATE DATABASE $database OWNER owl_test"
    # the tests drop and recreate the public schema: the role must own the database and schema
    as_postgres psql -qc "ALTER DATABASE $database OWNER TO owl_test"
    as_postgres psql -q -d "$database" -c "CREATE SCHEMA IF NOT EXISTS public" \
      -c "ALTER SCHEMA public OWNER TO owl_test"
  done
  export OWL_TEST_POSTGRES_URL="postgresql://owl_test:owl_test@127.0.0.1:5432/owl_test"
}

WORKERS="${OWL_TEST_WORKERS:-2}"

start_postgres
cd "$ROOT"
export CI=true
if [ "$WORKERS" -gt 0 ]; then
  # a file's tests stay together: their module fixtures (a running bridge, a stack) are shared
  exec "$VENV/bin/pytest" -q -n "$WORKERS" --dist loadfile "$@"
fi
exec "$VENV/bin/pytest" -q "$@"
