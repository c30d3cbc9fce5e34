#!/usr/bin/env bash
# The pages' catalogue: extract the texts of sla_bridge/web (Python and templates), merge them
# into each language's messages.po, and compile the .mo files the bridge reads.
#   scripts/catalogue.sh            extract, update and compile
#   scripts/catalogue.sh compile    compile only (after translating messages.po)
# Run with the test venv's pybabel (scripts/test.sh installs it) or any with Babel and Jinja2.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYBABEL="${PYBABEL:-$ROOT/.venv-test/bin/pybabel}"
WEB="$ROOT/sla_bridge/web"
cd "$ROOT"
if [ "${1:-}" != compile ]; then
  "$PYBABEL" -q extract -F "$WEB/babel.cfg" -k _l --no-location --sort-output \
    --project owl-monitoring -o "$WEB/messages.pot" .
  "$PYBABEL" -q update -i "$WEB/messages.pot" -d "$WEB/translations" --no-fuzzy-matching \
    --ignore-obsolete
  rm "$WEB/messages.pot"
fi
"$PYBABEL" -q compile -d "$WEB/translations" --statistics
