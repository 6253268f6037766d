#!/usr/bin/env bash
# Create .venv and install the kit with torch pinned to a CPU-friendly version.
# Usage: bash scripts/setup.sh [extra]   (extra = "test" installs the test tools too)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PY" -m venv .venv
fi
spec="."
if [ "${1:-}" != "" ]; then spec=".[$1]"; fi
echo "==> installing kit$( [ "${1:-}" != "" ] && echo " with [$1]") (torch pinned by constraints.txt)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e "$spec"
