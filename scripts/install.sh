#!/usr/bin/env bash
# install.sh VENV [WHEEL_DIR]: install owl-monitoring into the virtual environment VENV as a user
# gets it (the locked runtime set, then the wheel without extras). demo.sh installs .venv this
# way, and the tests that run `owl up` install their own copy the same way.
source "$(dirname "$0")/common.sh"
install_runtime "$@"
