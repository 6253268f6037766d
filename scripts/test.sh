#!/usr/bin/env bash
# Set up (with the test tools) and run the whole test suite plus the linter.
# The browser tests drive Debian's chromium; as root on a machine without it, this
# installs it with apt-get (no browser download through Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing chromium (apt-get) for the browser tests"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "==> chromium not found: the browser tests will skip (install it: sudo apt-get install chromium)"
    fi
fi
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
.venv/bin/python -m pytest "$@"
