"""Progress reporting: a plain callback taking a fraction 0..1.

Library code only ever calls ``progress(fraction)``. Front ends adapt it: a tqdm
bar in a terminal, a widget progress bar in a notebook (see ``kit.ui``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Optional

Progress = Optional[Callable[[float], None]]

__all__ = ["Progress", "report", "scaled", "tqdm_progress"]


def report(progress: Progress, fraction: float) -> None:
    """Call ``progress`` with ``fraction`` clipped to 0..1, if there is a callback."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))))


def scaled(progress: Progress, start: float, stop: float) -> Progress:
    """A callback mapping 0..1 onto ``start..stop`` of ``progress`` (for sub-steps)."""
    if progress is None:
        return None
    return lambda f: report(progress, start + (stop - start) * f)


@contextmanager
def tqdm_progress(desc: str, *, enabled: bool | None = None):
    """Yield a progress callback drawing a tqdm bar on stderr (off when not a terminal)."""
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    bar = tqdm(total=100, desc=desc, unit="%", disable=not enabled, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")

    def update(fraction: float) -> None:
        bar.n = round(100 * fraction, 1)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
