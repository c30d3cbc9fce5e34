#!/usr/bin/env bash
# Run every test with the real parts: installs the Debian packages the tests need, starts a
# PostgreSQL server, and runs pytest with CI=true (a missing binary fails, it never skips).
source "$(dirname "$0")/common.sh"
# chromium and its driver for the browser tests, with the fonts chromium only recommends
install_debian_packages "${STACK_PACKAGES[@]}" python3-venv postgresql restic borgbackup openssl \
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
  as_postgres psql -qtAc "SELECT 1 FROM pg_database WHERE datname='owl_test'" \
    | grep -q 1 || as_postgres psql -qc "CREATE DATABASE owl_test OWNER owl_test"
  # the tests drop and recreate the public schema: the role must own the database and schema
  as_postgres psql -qc "ALTER DATABASE owl_test OWNER TO owl_test"
  as_postgres psql -q -d owl_test -c "CREATE SCHEMA IF NOT EXISTS public" \
    -c "ALTER SCHEMA public OWNER TO owl_test"
  export OWL_TEST_POSTGRES_URL="postgresql://owl_test:owl_test@127.0.0.1:5432/owl_test"
}

start_postgres
cd "$ROOT"
export CI=true
exec "$VENV/bin/pytest" -q "$@"
