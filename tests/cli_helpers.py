"""Run `python -m kit ...` as a user would, and read its answer (shared by the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def run_kit(*args, cwd, env=None, env_extra=None):
    """Run kit in a fresh interpreter, offline; ``env`` replaces the environment, ``env_extra`` adds to it."""
    base = dict(os.environ if env is None else env)
    base.setdefault("HF_HUB_OFFLINE", "1")
    return subprocess.run([sys.executable, "-m", "kit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**base, **(env_extra or {})}, timeout=300)


def ok(proc) -> Path:
    """The path a successful command printed last."""
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def one_line_error(proc) -> str:
    """The single `kit: error: ...` line a failed command printed (and no traceback)."""
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kit: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def wait_until(condition, timeout_s: float, what: str) -> float:
    """Seconds until ``condition()`` holds (checked every 0.2 s); fails the test after ``timeout_s``."""
    import pytest

    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.2)
    return time.monotonic() - start
