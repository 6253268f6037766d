#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_app_browser.py), as root, with apt-get.
# The browser is a means to the browser tests, never a reason to stop the test run: when apt-get
# fails (e.g. "dpkg was interrupted" while another install ran), this repairs dpkg
# (dpkg --configure -a) and tries once more. If chromium is still missing, it prints one line on
# stdout that says why and exits 1; scripts/test.sh hands that line to the browser tests
# (KIT_BROWSER_UNAVAILABLE), which skip with it, or fail with it under KIT_REQUIRE_BROWSER=1 (CI).
set -uo pipefail
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_chromium && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed (install it: sudo apt-get install chromium)"
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt_install() {
    # wait for a lock held by another install rather than failing at once
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq >"$log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq chromium >>"$log" 2>&1 &&
        have_chromium
}
why() {  # apt's own error line ("E: ..."), else the last thing it said
    local line
    line=$(grep -m1 '^E:' "$log" || true)
    [ -n "$line" ] || line=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)
    echo "${line:-no message}"
}
echo "==> installing chromium (apt-get) for the browser tests" >&2
apt_install && exit 0
echo "==> apt-get failed ($(why)); repairing dpkg (dpkg --configure -a) and trying once more" >&2
DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null 2>&1 || true
apt_install && exit 0
echo "apt-get could not install chromium: $(why)"
exit 1
