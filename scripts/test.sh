#!/usr/bin/env bash
# Set up (with the test tools) and run the whole test suite plus the linter.
# The browser tests drive Debian's chromium; as root on a machine without it, this
# installs it with apt-get (scripts/install_browser.sh; no browser download through Playwright).
# If that fails, the run goes on and the browser tests are told why (KIT_BROWSER_UNAVAILABLE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test,cluster,onnx   # cluster: Ray, for the kit batch --ray test; onnx: Demucs runtime="onnx"
if ! browser_problem=$(bash scripts/install_browser.sh); then
    echo "==> $browser_problem: the browser tests will skip (with KIT_REQUIRE_BROWSER=1 they fail, saying so)"
    export KIT_BROWSER_UNAVAILABLE="$browser_problem"
fi
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
.venv/bin/python -m pytest "$@"
