#!/usr/bin/env bash
# Refresh requirements.lock: the exact runtime set (install_requires of setup.py, no extras) with
# the hashes of every file of each pinned release. demo.sh, test.sh and the Dockerfile install it
# with --require-hashes; run this after changing install_requires, and commit the result.
# Needs the package index (pip-tools resolves and downloads the releases to hash them).
source "$(dirname "$0")/common.sh"
TOOL_VENV="$ROOT/.venv-tools"
create_venv "$TOOL_VENV"
"$TOOL_VENV/bin/pip" install -q "pip-tools>=7.4,<8"
cd "$ROOT"
# --no-emit-*: the lock names no index, so each machine installs through its own pip settings
exec "$TOOL_VENV/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
  --output-file requirements.lock setup.py "$@"
