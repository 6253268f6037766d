"""scripts/install_browser.sh: a failing apt-get is repaired once, else named, and never stops the test run.

apt-get, dpkg and id are fakes on a PATH without chromium; the browser tests then fail under CI
(KIT_REQUIRE_BROWSER=1) with the reason the script gave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DPKG_INTERRUPTED = "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."


def _fake_system(tmp_path: Path, *, repair_works: bool) -> Path:
    """A bin folder: real basic tools, fake root, fake apt-get (fails until dpkg is repaired) and dpkg."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mktemp", "rm", "grep", "tail", "cat", "touch"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    scripts = {
        "id": "echo 0",
        "dpkg": f'echo "dpkg $*" >> "{tmp_path}/calls"\n'
                + (f'[ "$1" = "--configure" ] && touch "{tmp_path}/repaired"\n' if repair_works else "")
                + "exit 0",
        "apt-get": f'echo "apt-get $*" >> "{tmp_path}/calls"\n'
                   f'if [ ! -e "{tmp_path}/repaired" ]; then echo "{DPKG_INTERRUPTED}" >&2; exit 100; fi\n'
                   f'case "$*" in *install*) printf "#!/bin/sh\\n" > "{bin_dir}/chromium"; '
                   f'chmod +x "{bin_dir}/chromium";; esac\nexit 0',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!{shutil.which('sh')}\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def _run(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("bash"), str(ROOT / "scripts" / "install_browser.sh")], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(bin_dir), "HOME": str(bin_dir.parent)})


def test_an_interrupted_dpkg_is_repaired_and_chromium_installed(tmp_path):
    res = _run(_fake_system(tmp_path, repair_works=True))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    calls = (tmp_path / "calls").read_text()
    assert "dpkg --configure -a" in calls and calls.count("install -y -qq chromium") == 1
    assert "dpkg was interrupted" in res.stderr and "trying once more" in res.stderr
    assert (tmp_path / "bin" / "chromium").exists()


def test_when_the_repair_fails_too_one_line_says_why_and_the_browser_tests_fail_with_it_under_ci(tmp_path):
    res = _run(_fake_system(tmp_path, repair_works=False))
    assert res.returncode == 1
    assert res.stdout.strip() == f"apt-get could not install chromium: {DPKG_INTERRUPTED}"
    assert (tmp_path / "calls").read_text().count("apt-get") == 2  # tried once more after the repair, not forever
    # scripts/test.sh goes on and hands the line to the browser tests
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "scripts/install_browser.sh" in test_sh and "KIT_BROWSER_UNAVAILABLE" in test_sh
    env = {**os.environ, "PATH": str(tmp_path / "bin"), "KIT_REQUIRE_BROWSER": "1",
           "KIT_BROWSER_UNAVAILABLE": res.stdout.strip()}
    run = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests" / "test_app_browser.py"), "-q",
                          "-p", "no:cacheprovider", "-k", "closed_tab"], capture_output=True, text=True,
                         timeout=300, env=env, cwd=ROOT)
    assert run.returncode == 1, run.stdout[-2000:]
    assert "KIT_REQUIRE_BROWSER=1 but apt-get could not install chromium: E: dpkg was interrupted" in run.stdout
